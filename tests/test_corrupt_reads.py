"""Issue 11 item 5 (remnants): every read of a damaged record raises CorruptRecord naming the
store key, on the less-used paths too (migration status, ledger and rollback, artifact grants,
versions and settings, incremental backups); never a raw decode error, never "no value".

Each test stores real records through the public API on every backend, then writes garbage
bytes under one key with the store API (as a damaged page or a torn write would leave it)."""

from __future__ import annotations

from typing import Any

import pytest

from llmspell import Runtime
from llmspell.errors import CorruptRecord

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
def test_damaged_artifact_settings_are_named(rt: Runtime, garbage: bytes) -> None:
    s = rt.sessions.create("work")
    rt.artifacts.set_auto_collect(s, False)
    key = f"artcfg/{s.id}"
    damage(rt, key, garbage)
    with raises_naming(key):
        rt.artifacts.auto_collect(s)


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
