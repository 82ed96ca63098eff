"""Issue 11 item 5: damage is found, never passed over. ``llmspell doctor --deep`` reports
corrupted storage, records that do not decode, index entries that point nowhere, blobs that do
not verify and journals with gaps (exit 5), and removes temp files of killed backups; reading a
damaged record raises CorruptRecord naming the key instead of returning "no value".

Each embedded backend gets real damage: bytes flipped in its files, and records truncated or
removed through the storage contract."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmspell.errors import CorruptRecord, LLMSpellError, StorageError
from llmspell.runtime import Runtime
from llmspell.testing import backend_unavailable

pytestmark = pytest.mark.slow  # each test damages and re-checks real store files (~1 s)

EMBEDDED = ["sqlite", "lmdb", "rocksdb"]
STORE = {"sqlite": "sqlite:///data/store.db", "lmdb": "lmdb:///data/lmdb",
         "rocksdb": "rocksdb:///data/rocks"}


def make_project(root: Path, backend: str) -> Path:
    if reason := backend_unavailable(backend):
        pytest.skip(reason)
    root.mkdir(parents=True, exist_ok=True)
    (root / "llmspell.toml").write_text(f'[storage]\nurl = "{STORE[backend]}"\n'
                                        '[state]\nbackup_dir = "backups"\n')
    return root


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("LLMSPELL_")]:
        monkeypatch.delenv(name)


@pytest.fixture(params=EMBEDDED)
def project(request: pytest.FixtureRequest, tmp_path: Path, clean_env: None,
            monkeypatch: pytest.MonkeyPatch) -> Path:
    root = make_project(tmp_path / "project", request.param)
    monkeypatch.chdir(root)
    return root


def populate(root: Path, marker: str) -> dict[str, Any]:
    """A store with state, sessions (tags, a parent), an artifact and journals; returns the
    ids and keys the tests damage."""
    with Runtime.from_config(cwd=root) as rt:
        for i in range(50):
            rt.state.save("global", f"k{i:02}", {"i": i, "text": "x" * 100})
        rt.state.save("global", "victim", {"note": marker})
        parent = rt.sessions.create("parent", tags=["alpha", "beta"])
        child = rt.sessions.create("child", parent_session_id=parent.id, tags=["alpha"])
        rt.artifacts.store(parent, "notes.txt", b"artifact content " * 64)
        rt.sessions.complete(child)
        return {"parent": parent.id, "child": child.id,
                "blob": next(iter(rt.store.keys("blob/m/")))[len("blob/m/"):]}


def doctor(*args: str) -> tuple[int, dict[str, Any]]:
    """``llmspell doctor --deep --json`` in a fresh process (a store is opened as a real
    user would, after the damage)."""
    done = subprocess.run([sys.executable, "-m", "llmspell", "doctor", "--deep", "--json",
                           *args], capture_output=True, text=True, timeout=300)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def findings(report: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [f for f in report["deep"]["findings"] if f["check"] == check]


# -- a healthy store ------------------------------------------------------------------------


def test_a_healthy_store_passes_and_every_check_examines_something(project: Path) -> None:
    populate(project, "fine")
    code, report = doctor()
    assert code == 0, report
    deep = report["deep"]
    assert deep["ok"] and deep["findings"] == []
    examined = deep["examined"]
    assert examined["storage"] == 1 and examined["records"] >= 54
    assert examined["indexes"] >= 6 and examined["blobs"] == 1 and examined["journals"] >= 4


def test_without_deep_the_report_is_unchanged(project: Path) -> None:
    populate(project, "fine")
    done = subprocess.run([sys.executable, "-m", "llmspell", "doctor", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "deep" not in json.loads(done.stdout)


# -- bytes flipped in the store's own files ---------------------------------------------------


def damage_files(root: Path, marker: str) -> int:
    """Overwrite every copy of ``marker`` in the store's files with bytes that break the
    record's JSON; where no file holds it verbatim (RocksDB compresses its tables), flip 64
    bytes of each table file's first data block instead. Returns how many places changed."""
    needle = marker.encode()
    broken = b'"\x00\xff' + needle[3:]
    files = [path for path in (root / "data").rglob("*") if path.is_file()]
    changed = 0
    for path in files:
        data = path.read_bytes()
        if needle in data:
            changed += data.count(needle)
            path.write_bytes(data.replace(needle, broken))
    if changed:
        return changed
    for path in files:
        if path.suffix == ".sst":
            data = bytearray(path.read_bytes())
            for offset in range(100, 164):
                data[offset] ^= 0x5A
            path.write_bytes(bytes(data))
            changed += 1
    return changed


def verbatim_marker() -> str:
    """A marker a compressed file (RocksDB's tables) keeps verbatim: its letters (upper case
    G-Z) occur nowhere else in the store, and no four of them come twice, so no compressor
    can refer back to a copy (a random hex marker could share four bytes with an id or a
    hash in the same block; then no file held it verbatim, the bytes flipped instead could
    miss the victim's block, and its read did not raise)."""
    while True:
        text = "".join(secrets.choice("GHJKLMNPQRSTVWXYZ") for _ in range(40))
        grams = [text[i:i + 4] for i in range(len(text) - 3)]
        if len(set(grams)) == len(grams):
            return "marker-" + text


def test_flipped_bytes_in_the_files_are_found_and_reads_raise(project: Path) -> None:
    marker = verbatim_marker()
    populate(project, marker)
    assert damage_files(project, marker) >= 1
    code, report = doctor()
    assert code == 5 and report["ok"] is False
    damage = findings(report, "records") + findings(report, "storage")
    assert damage, report
    records = findings(report, "records")
    if records:  # the backend handed the bytes back: the record is named
        assert [f["where"] for f in records] == ["state/global/victim"]
        assert "does not decode" in records[0]["problem"]
    try:
        with Runtime.from_config(cwd=project) as rt:
            with pytest.raises(LLMSpellError) as caught:
                rt.state.load("global", "victim")
            assert rt.state.load("global", "k07") == {"i": 7, "text": "x" * 100}
    except StorageError:  # the backend refuses to open the damaged files at all
        return
    assert isinstance(caught.value, StorageError)
    if isinstance(caught.value, CorruptRecord):
        assert caught.value.key == "state/global/victim"


def test_sqlite_page_damage_fails_the_integrity_check(tmp_path: Path, clean_env: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(tmp_path / "project", "sqlite")
    monkeypatch.chdir(root)
    populate(root, "fine")
    db = root / "data" / "store.db"
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    for offset in range(2 * page, 2 * page + 64):  # the b-tree header of page 3
        data[offset] ^= 0x5A
    db.write_bytes(bytes(data))
    code, report = doctor()
    assert code == 5
    storage = findings(report, "storage") if "deep" in report else []
    store_check = next(c for c in report["checks"] if c["name"] == "store")
    assert storage or not store_check["ok"], report
    if storage:
        assert any("malformed" in f["problem"] or "Page" in f["problem"]
                   or "corrupt" in f["problem"].lower() for f in storage), storage


# -- records damaged through the storage contract (every embedded backend) -----------------


@pytest.fixture
def damaged(project: Path) -> Iterator[tuple[Runtime, dict[str, Any]]]:
    ids = populate(project, "fine")
    with Runtime.from_config(cwd=project) as rt:
        yield rt, ids


def test_a_truncated_state_value_raises_naming_the_key(damaged) -> None:
    rt, _ = damaged
    raw = rt.store.get("state/global/k03")
    rt.store.put("state/global/k03", raw[: len(raw) // 2])
    for read in (lambda: rt.state.load("global", "k03"),
                 lambda: rt.state.get_record("global", "k03")):
        with pytest.raises(CorruptRecord, match=r"'state/global/k03' is damaged: it does not "
                                                "decode") as caught:
            read()
        assert caught.value.key == "state/global/k03"
    rt.state.save("global", "k03", "repaired")  # saving again repairs the key
    assert rt.state.load("global", "k03") == "repaired"


def test_a_truncated_session_record_raises_naming_the_key(project: Path) -> None:
    ids = populate(project, "fine")
    key = f"session/{ids['parent']}"
    with Runtime.from_config(cwd=project) as rt:
        raw = rt.store.get(key)
        rt.store.put(key, raw[:40])
    with Runtime.from_config(cwd=project) as rt:  # a new process: nothing decoded yet
        with pytest.raises(CorruptRecord, match=f"'{key}' is damaged") as caught:
            rt.sessions.get(ids["parent"])
        assert caught.value.key == key
        with pytest.raises(CorruptRecord, match=f"'{key}' is damaged"):
            rt.sessions.list(tags=["beta"])


def test_a_truncated_journal_entry_raises_naming_the_key(damaged) -> None:
    rt, ids = damaged
    key = f"journal/{ids['parent']}/000000000001"
    raw = rt.store.get(key)
    rt.store.put(key, raw[:-5])
    with pytest.raises(CorruptRecord, match=f"'{key}' is damaged"):
        rt.sessions.journal.read(ids["parent"])


def run_deep(rt: Runtime) -> Any:
    from llmspell.integrity import deep_check

    return deep_check(rt)


def wheres(report: Any, check: str) -> list[str]:
    return [f.where for f in report.findings if f.check == check]


def test_deep_check_finds_each_kind_of_damage(damaged) -> None:
    rt, ids = damaged
    parent, child, blob = ids["parent"], ids["child"], ids["blob"]
    assert run_deep(rt).ok
    # records that no longer decode
    rt.store.put("state/global/k10", b'{"v":')
    rt.store.put("chg/00000000000000000003", b"[1, 2]")
    # a session index entry removed, and one that points at no session
    status_entries = [k for k in rt.store.keys("sessidx/status/") if k.endswith(child)]
    rt.store.delete(status_entries[0])
    rt.store.put("sessidx/tag/ghost/0000000000000001/no-such-session", b"")
    # an artifact index entry that points at no record
    [type_entry] = list(rt.store.keys("artt/"))
    rt.store.put(type_entry.rsplit("/", 1)[0] + "/0000000099", b"")
    # a gap in a journal, and the blob's stored bytes damaged
    rt.store.delete(f"journal/{parent}/000000000001")
    data_key = f"blob/d/{blob}"
    stored = rt.store.get(data_key)
    rt.store.put(data_key, stored[:-8] + bytes(8))

    report = run_deep(rt)
    assert not report.ok
    assert set(wheres(report, "records")) == {"state/global/k10", "chg/00000000000000000003"}
    assert set(wheres(report, "indexes")) == {
        status_entries[0], "sessidx/tag/ghost/0000000000000001/no-such-session",
        type_entry.rsplit("/", 1)[0] + "/0000000099"}
    assert wheres(report, "journals") == [f"journal/{parent}/"]
    [gap] = [f.problem for f in report.findings if f.check == "journals"]
    assert gap.startswith("entry 1 is missing (the entries run 1 to ")
    assert wheres(report, "blobs") == [blob]
    [blob_problem] = [f.problem for f in report.findings if f.check == "blobs"]
    assert blob in blob_problem


def test_an_artifact_whose_blob_is_gone_is_reported(damaged) -> None:
    rt, ids = damaged
    rt.store.delete(f"blob/m/{ids['blob']}")
    report = run_deep(rt)
    [missing] = [f for f in report.findings if f.check == "blobs"]
    assert missing.where == ids["blob"] and "is missing: artifact record art/" in \
        missing.problem


# -- the CLI: exit code, text and JSON --------------------------------------------------------


def test_cli_reports_damage_with_exit_5_in_text_and_json(project: Path) -> None:
    populate(project, "fine")
    with Runtime.from_config(cwd=project) as rt:
        raw = rt.store.get("state/global/k01")
        rt.store.put("state/global/k01", raw[:7])
    code, report = doctor()
    assert code == 5 and not report["ok"] and not report["deep"]["ok"]
    [finding] = report["deep"]["findings"]
    assert finding["where"] == "state/global/k01" and finding["fixed"] is False
    done = subprocess.run([sys.executable, "-m", "llmspell", "doctor", "--deep"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 5
    assert "FAIL deep records" in done.stdout
    assert "state/global/k01: it does not decode" in done.stdout
    got = subprocess.run([sys.executable, "-m", "llmspell", "state", "get", "global", "k01"],
                         capture_output=True, text=True, timeout=300)
    assert got.returncode == 4
    assert "CorruptRecord: the record under key 'state/global/k01' is damaged" in got.stderr


# -- temp files of killed backups ---------------------------------------------------------------


def test_stray_backup_temp_files_are_removed_and_live_ones_kept(project: Path) -> None:
    populate(project, "fine")
    backups = project / "backups"
    backups.mkdir(exist_ok=True)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stray = backups / f".20260101T000000000000Z-dead.llsb.{gone.stdout.strip()}.tmp"
    stray.write_bytes(b"half a backup")
    live = backups / f".20260101T000000000001Z-live.llsb.{os.getpid()}.tmp"
    live.write_bytes(b"a backup being written")
    code, report = doctor()
    assert code == 0, report
    [found] = findings(report, "temp files")
    assert found["where"] == str(stray) and found["fixed"] is True
    assert "killed" in found["problem"] and "removed" in found["problem"]
    assert not stray.exists() and live.exists()


def test_a_damaged_session_record_is_one_finding_not_an_orphaned_journal(damaged) -> None:
    rt, ids = damaged
    key = f"session/{ids['child']}"
    rt.store.put(key, rt.store.get(key)[:30])
    report = run_deep(rt)
    assert wheres(report, "records") == [key]
    assert wheres(report, "journals") == []
    for found in report.findings:
        if found.check == "indexes":
            assert found.problem.endswith("whose record does not list it (stale) or is damaged")
