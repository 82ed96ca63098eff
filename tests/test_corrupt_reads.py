"""Issue 11 item 5 (remnants): every read of a damaged record raises CorruptRecord naming the
store key, on the less-used paths too (migration status, ledger and rollback, artifact grants,
versions and settings, incremental backups); never a raw decode error, never "no value".

Each test stores real records through the public API on every backend, then writes garbage
bytes under one key with the store API (as a damaged page or a torn write would leave it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from backends import Backend
from cli_runner import Run
from llmspell import Runtime
from llmspell.errors import CorruptRecord
from llmspell.integrity import deep_check
from llmspell.state.records import value_hash

GARBAGE = [b"\xff\x00 not json", b'{"v": 1', b"[1, 2]", b'"text"']

SEED = {"id": "seed", "from_version": 1, "to_version": 2, "transformations": [
    {"field": "old", "transform": "copy", "to": "new"}]}


def damage(rt: Runtime, key: str, garbage: bytes) -> None:
    assert rt.store.get(key) is not None, f"no record under {key!r} to damage"
    rt.store.put(key, garbage)


def first_key(rt: Runtime, prefix: str) -> str:
    key = next(rt.store.keys(prefix), None)
    assert key is not None, f"no record under {prefix!r}"
    return key


def raises_naming(key: str) -> Any:
    return pytest.raises(CorruptRecord, match=f"key {key!r} is damaged")


def migrated(rt: Runtime) -> None:
    for i in range(3):
        rt.state.save("global", f"k{i}", {"old": i})
    rt.migrations.apply(SEED)


@pytest.mark.parametrize("garbage", GARBAGE)
def test_migration_status_names_a_damaged_state_record(rt: Runtime, garbage: bytes) -> None:
    rt.state.save("global", "fine", 1)
    rt.state.save("global", "hurt", 2)
    damage(rt, "state/global/hurt", garbage)
    with raises_naming("state/global/hurt"):
        rt.migrations.status()


@pytest.mark.parametrize("garbage", GARBAGE)
def test_migration_history_names_a_damaged_ledger_entry(rt: Runtime, garbage: bytes) -> None:
    migrated(rt)
    key = first_key(rt, "mig/log/")
    damage(rt, key, garbage)
    with raises_naming(key):
        rt.migrations.history()
    with raises_naming(key):
        rt.migrations.rollback()


def test_a_damaged_applied_marker_is_named(rt: Runtime) -> None:
    migrated(rt)
    damage(rt, "mig/id/seed", b"x1")
    with raises_naming("mig/id/seed"):
        rt.migrations.apply(SEED)


def test_rollback_names_a_damaged_state_record(rt: Runtime) -> None:
    migrated(rt)
    damage(rt, "state/global/k1", b"\xff\xfe")
    with raises_naming("state/global/k1"):
        rt.migrations.rollback(force=True)


@pytest.mark.parametrize("cut", [1, 3, 7])
def test_rollback_refuses_a_truncated_undo_chunk(rt: Runtime, cut: int) -> None:
    migrated(rt)
    key = first_key(rt, "mig/undo/")
    chunk = rt.store.get(key)
    assert chunk is not None
    before = dict(rt.store.scan("state/"))
    damage(rt, key, chunk[:-cut])
    with raises_naming(key):
        rt.migrations.rollback()
    assert dict(rt.store.scan("state/")) == before  # nothing half rolled back


@pytest.mark.parametrize("garbage", [*GARBAGE, b'{"access": "root"}', b"{}"])
def test_damaged_grants_are_named(rt: Runtime, garbage: bytes) -> None:
    owner, other = rt.sessions.create("owner"), rt.sessions.create("other")
    rt.artifacts.store(owner, "notes", "text")
    rt.artifacts.grant(owner, other, "read")
    key = f"artacl/{owner.id}/{other.id}"
    damage(rt, key, garbage)
    with raises_naming(key):
        rt.artifacts.grants(owner)
    with raises_naming(key):
        rt.artifacts.get("notes", session=owner, as_session=other)
    with raises_naming(key):
        rt.artifacts.revoke(owner, other)


@pytest.mark.parametrize("garbage", GARBAGE)
def test_a_new_version_over_a_damaged_one_names_it(rt: Runtime, garbage: bytes) -> None:
    s = rt.sessions.create("work")
    rt.artifacts.store(s, "report", "v1")
    key = first_key(rt, f"art/{s.id}/")
    damage(rt, key, garbage)
    with raises_naming(key):
        rt.artifacts.store(s, "report", "v2")
    with raises_naming(key):
        rt.artifacts.query(session=s, latest=True)


@pytest.mark.parametrize("garbage", GARBAGE)
def test_damaged_artifact_settings_of_an_older_store_are_named(rt: Runtime,
                                                               garbage: bytes) -> None:
    # Older stores kept set_auto_collect under artcfg/<sid>; opening one moves each key into
    # its session's metadata, and a damaged one is named there.
    from llmspell.artifacts import ArtifactManager

    s = rt.sessions.create("work")
    key = f"artcfg/{s.id}"
    rt.store.put(key, b'{"auto_collect": false}')
    damage(rt, key, garbage)
    with raises_naming(key):
        ArtifactManager.from_runtime(rt)


@pytest.mark.parametrize("garbage", [*GARBAGE, b'{"s": 1, "k": "x"}'])
def test_an_incremental_backup_names_a_damaged_change_record(rt: Runtime,
                                                              garbage: bytes) -> None:
    rt.state.save("global", "a", 1)
    rt.backups.backup()
    rt.state.save("global", "b", 2)
    key = list(rt.store.keys("chg/"))[-1]
    damage(rt, key, garbage)
    with raises_naming(key):
        rt.backups.backup(incremental=True)


# -- doctor --deep: journal values and blob reference counts ---------------------------------


def deep_findings(rt: Runtime, check: str) -> list[tuple[str, str]]:
    report = deep_check(rt)
    return [(f.where, f.problem) for f in report.damage if f.check == check]


def journaled_value(rt: Runtime) -> str:
    s = rt.sessions.create("work")
    rt.state.save(f"session:{s.id}", "notes", {"text": "hello", "raw": b"\x00\x01"})
    return first_key(rt, f"jval/{s.id}/")


def test_deep_check_passes_journal_values_and_counted_blobs(rt: Runtime) -> None:
    journaled_value(rt)
    s = rt.sessions.create("other")
    rt.artifacts.store(s, "a", "same text")
    rt.artifacts.store(s, "b", "same text")
    rt.artifacts.store(s, "a", "newer")
    rt.artifacts.delete("b", session=s)
    report = deep_check(rt)
    assert report.ok, report.findings
    assert report.examined["journals"] >= 1 and report.examined["blobs"] == 2


@pytest.mark.parametrize("garbage", [*GARBAGE, b'{"v": "a", "b": [[]]}'])
def test_deep_check_finds_a_journal_value_that_does_not_decode(rt: Runtime,
                                                                garbage: bytes) -> None:
    key = journaled_value(rt)
    damage(rt, key, garbage)
    found = deep_findings(rt, "journals")
    assert [where for where, _ in found] == [key]
    assert "decode" in found[0][1] or "hash" in found[0][1]


def test_deep_check_finds_a_journal_value_that_is_not_the_one_its_name_says(
        rt: Runtime) -> None:
    key = journaled_value(rt)
    damage(rt, key, b'{"v": {"text": "forged"}}')
    assert deep_findings(rt, "journals") == [
        (key, f"holds a value whose hash is {value_hash({'text': 'forged'})}, not its name")]


@pytest.mark.parametrize("refs", [0, 1, 3])
def test_deep_check_finds_a_blob_counted_wrong(rt: Runtime, refs: int) -> None:
    s = rt.sessions.create("work")
    rt.artifacts.store(s, "a", "shared content")
    rt.artifacts.store(s, "b", "shared content")
    key = first_key(rt, "blob/m/")
    meta = orjson.loads(rt.store.get(key) or b"")
    assert meta["refs"] == 2
    damage(rt, key, orjson.dumps({**meta, "refs": refs}))
    blob = key[len("blob/m/"):]
    assert deep_findings(rt, "blobs") == [
        (blob, f"counts {refs} reference(s), but 2 artifact version(s) use it")]


def test_doctor_deep_exits_5_on_a_damaged_journal_value(tmp_path: Path, run: Run) -> None:
    with Runtime.from_config(cwd=tmp_path) as rt:
        key = journaled_value(rt)
        rt.store.put(key, b"\xff")
    result = run("doctor", "--deep", "--json")
    assert result.exit_code == 5, result.output
    deep = orjson.loads(result.stdout)["deep"]
    assert [(f["check"], f["where"]) for f in deep["findings"]] == [("journals", key)]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_applying_a_migration_names_a_damaged_state_record(rt: Runtime,
                                                           garbage: bytes) -> None:
    rt.state.save("global", "fine", {"old": 1})
    rt.state.save("global", "hurt", {"old": 2})
    damage(rt, "state/global/hurt", garbage)
    before = dict(rt.store.scan("state/"))
    with raises_naming("state/global/hurt"):
        rt.migrations.apply(SEED)
    assert dict(rt.store.scan("state/")) == before


@pytest.mark.parametrize("garbage", [b"x", b"-1", b"1.5", b"\xff"])
def test_a_damaged_count_of_active_sessions_is_named(backend: Backend, garbage: bytes) -> None:
    rt = backend.runtime()
    rt.sessions.create("first")
    damage(rt, "sessmeta/active_count", garbage)
    rt.sessions.active.invalidate()  # as another process's write would leave it
    with raises_naming("sessmeta/active_count"):
        rt.sessions.create("second")


def test_an_incremental_backup_names_a_damaged_pruning_mark(rt: Runtime) -> None:
    rt.state.save("global", "a", 1)
    rt.backups.backup()
    rt.store.put("bak/chg_pruned_through", b"twelve")
    with raises_naming("bak/chg_pruned_through"):
        rt.backups.backup(incremental=True)
