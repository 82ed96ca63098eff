"""A restore staged on disk and written in chunks inside one transaction (issue 18): the
result equals the backup on every backend, a failure in a late chunk (after earlier chunks
were written) leaves the store as it was, progress comes per chunk, and the staging file is
gone afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmspell import Runtime
from llmspell.errors import BackupError
from llmspell.state import bulk
from llmspell.state.backup.staging import Staged
from llmspell.state.scopes import SEQ_KEY


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK_RECORDS", 50)


def everything(rt: Runtime) -> dict[str, bytes]:
    return dict(rt.store.scan(""))


def staging_files(rt: Runtime) -> list[Path]:
    return list(Path(rt.backups.directory).glob(".restore-*"))


def workload(rt: Runtime) -> None:
    with rt.state.transaction():
        for i in range(400):
            rt.state.save(f"agent:a{i % 4}", f"k{i:04d}", {"i": i})
    session = rt.sessions.create(name="s")
    rt.state.save(f"session:{session.id}", "notes", "kept")
    rt.artifacts.store(session.id, "big.bin", bytes(range(256)) * 4000)  # ~1 MB


def test_a_chunked_whole_store_restore_puts_back_exactly_the_backup(rt: Runtime) -> None:
    workload(rt)
    info = rt.backups.backup()
    expected = {k: v for k, v in everything(rt).items()
                if not k.startswith(("chg/", SEQ_KEY, "meta/"))}
    with rt.state.transaction():
        for i in range(0, 400, 3):
            rt.state.save(f"agent:a{i % 4}", f"k{i:04d}", "changed")
        for i in range(1, 400, 7):
            rt.state.delete(f"agent:a{i % 4}", f"k{i:04d}")
        rt.state.save("agent:new", "k", "added")
    rt.sessions.delete(rt.sessions.list()[0].id)
    seen: list[tuple[str, int, int]] = []
    done = rt.backups.restore(info.id, safety_backup=False,
                              progress=lambda phase, n, total: seen.append((phase, n, total)))
    applied = [(n, total) for phase, n, total in seen if phase == "apply"]
    assert len(applied) > 5  # reported chunk by chunk, not only at the start and the end
    assert [n for n, _ in applied] == sorted(n for n, _ in applied)
    assert applied[-1] == (done["puts"] + done["deletes"],) * 2
    found = everything(rt)
    assert {k: v for k, v in found.items() if k in expected} == expected
    assert not [k for k in found if k not in expected
                and not k.startswith(("chg/", SEQ_KEY, "meta/", "bak/"))]
    assert staging_files(rt) == []
    assert rt.sessions.list()[0].name == "s"


def test_a_failure_in_a_late_chunk_leaves_the_store_as_it_was(rt: Runtime) -> None:
    workload(rt)
    info = rt.backups.backup()
    with rt.state.transaction():
        for i in range(400):
            rt.state.save(f"agent:a{i % 4}", f"k{i:04d}", "changed")
    before = everything(rt)
    chunks = [0]

    def fail_late(phase: str, done: int, total: int) -> None:
        if phase == "apply" and done:
            chunks[0] += 1
            if chunks[0] == 6:  # five chunks written (inside the transaction) by now
                raise BackupError("the disk is full (a test made chunk 6 fail)")

    with pytest.raises(BackupError, match="chunk 6"):
        rt.backups.restore(info.id, safety_backup=False, progress=fail_late)
    assert everything(rt) == before
    assert staging_files(rt) == []
    assert rt.backups.restore(info.id, safety_backup=False)["puts"] == 400


def test_a_state_restore_journals_a_sessions_values_once(mem: Runtime) -> None:
    session = mem.sessions.create(name="s")
    scope = f"session:{session.id}"
    with mem.state.transaction():
        for i in range(120):
            mem.state.save(scope, f"k{i:03d}", i)
    info = mem.backups.backup(include=[scope])
    with mem.state.transaction():
        for i in range(120):
            mem.state.save(scope, f"k{i:03d}", "changed")
    journal = mem.sessions.journal
    writes = len(list(journal.read(session.id, kinds="state.write")))
    mem.backups.restore(info.id, safety_backup=False)  # 120 changes in three chunks
    entries = list(journal.read(session.id, kinds="state.write"))
    assert len(entries) == writes + 120
    assert [e.seq for e in entries] == sorted({e.seq for e in entries})  # numbered on, no gap
    assert mem.state.load(scope, "k119") == 119


def test_staged_records_come_back_in_key_order_and_the_file_goes(tmp_path: Path) -> None:
    with Staged(tmp_path) as staged:
        for key in ("state/b", "state/a", "sessions/x", "state/\U0001f600", "state/\uffff"):
            staged.put(key, key.encode())
        staged.delete("state/b")
        assert [k for k, _ in staged.scan("state/")] == ["state/a", "state/\uffff",
                                                         "state/\U0001f600"]
        assert "sessions/x" in staged and staged.get("sessions/x") == b"sessions/x"
        staged.drop_data()
        assert len(staged) == 3 and staged.get("sessions/x") is None
        path = Path(staged.path)
        assert path.exists()
    assert not path.exists()


def test_staging_falls_back_to_the_temporary_directory(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with Staged(blocked / "backups") as staged:
        staged.put("state/a", b"1")
        assert not staged.path.startswith(str(tmp_path))


def test_a_killed_restores_staging_file_is_deleted_by_the_next_restore(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal
    import subprocess
    import sys

    from llmspell.state.backup import staging

    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom llmspell.state.backup.staging import Staged\n"
         f"s = Staged({str(tmp_path)!r})\ns.put('state/a', b'1')\n"
         "print(s.path, flush=True)\ntime.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    left = Path(child.stdout.readline().strip())
    monkeypatch.setattr(staging, "STALE_AFTER", 0.0)
    with Staged(tmp_path) as live:  # its restore runs: its file is locked, not swept
        assert left.exists() and Path(live.path).exists()
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        assert left.exists()  # the kill freed its lock; the next staging sweeps it
        with Staged(tmp_path) as later:
            assert not left.exists()
            assert Path(live.path).exists() and Path(later.path).exists()
    assert list(tmp_path.glob(".restore-*")) == []


def test_a_fresh_staging_file_is_not_swept(tmp_path: Path) -> None:
    # Made a moment ago (not yet locked, say): left alone whatever its lock.
    fresh = tmp_path / ".restore-x.staging"
    fresh.write_bytes(b"")
    with Staged(tmp_path):
        assert fresh.exists()
