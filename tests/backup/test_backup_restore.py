"""Restore: dry run, safety backup, scopes, incremental chains, other backends, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from backup_helpers import fill

from backends import runtime_for, snapshot
from llmspell import Runtime
from llmspell.errors import BackupError, BackupNotFound, ValidationError
from llmspell.events.capture import capture_events
from llmspell.state.scopes import SEQ_KEY
from llmspell.storage import Delete, Put, open_store
from llmspell.testing import discard_store


def test_restore_puts_back_changed_and_deleted_values_and_removes_new_ones(rt: Runtime) -> None:
    fill(rt)
    before = snapshot(rt)
    info = rt.backups.backup(description="before")
    rt.state.save("agent:a0", "k000", "changed")
    rt.state.delete("agent:a1", "k001")
    rt.state.save("agent:new", "k", 1)
    preview = rt.backups.restore(info.id, dry_run=True)
    assert (preview["puts"], preview["deletes"], preview["unchanged"]) == (2, 1, 31)
    assert preview["sample_deletes"] == ["agent:new/k"]
    assert preview["safety_backup"] is None and len(rt.backups.list_backups()) == 1
    changed = snapshot(rt)
    done = rt.backups.restore(info.id)
    assert snapshot(rt) == before
    assert (done["puts"], done["deletes"]) == (2, 1)
    # The safety backup holds the data as it was just before the restore.
    safety = rt.backups.get(done["safety_backup"])
    assert safety.safety and "before restoring" in safety.description
    rt.backups.restore(safety.id, safety_backup=False)
    assert snapshot(rt) == changed
    # Restores are changes like any other: the sequence moves on, the state manager with it.
    seq = rt.state.save("global", "next", 1)
    assert seq == rt.state.seq and seq is not None and seq > done["seq_last"]


def test_include_and_exclude_choose_the_scopes(mem: Runtime) -> None:
    fill(mem)
    info = mem.backups.backup(include=["agent:*", "workflow:*"], exclude=["agent:a2"])
    assert info.entries == 21  # agent:a0 and a1 (10 each) + workflow:w1
    assert info.include == ["agent:*", "workflow:*"] and info.exclude == ["agent:a2"]
    for scope in ("agent:a0", "agent:a2", "global"):
        mem.state.clear_scope(scope)
    mem.state.save("workflow:w1", "extra", 1)
    mem.backups.restore(info.id)
    assert len(mem.state.list_keys("agent:a0")) == 10  # restored
    assert mem.state.list_keys("agent:a2") == []  # excluded: left as it is
    assert mem.state.list_keys("global") == []  # not included: left as it is
    assert mem.state.list_keys("workflow:w1") == ["step"]  # included: exactly the backup


def test_incremental_backups_hold_only_changes_and_deletions(rt: Runtime) -> None:
    fill(rt)
    full = rt.backups.backup()
    rt.state.save("agent:a0", "k000", "changed")
    rt.state.delete("agent:a1", "k001")
    rt.state.save("agent:a1", "gone-again", 1)
    rt.state.delete("agent:a1", "gone-again")
    first = rt.backups.backup(incremental=True)
    assert (first.kind, first.parent, first.base) == ("incremental", full.id, full.id)
    assert (first.puts, first.deletions) == (1, 2)
    assert first.seq_from == full.seq_to < first.seq_to
    rt.migrations.apply({"from_version": 1, "to_version": 2, "scope": "global",
                         "transformations": [{"field": "theme", "transform": "remove"}]})
    second = rt.backups.backup(incremental=True)
    assert (second.parent, second.base, second.entries) == (first.id, full.id, 1)
    final = snapshot(rt)
    for scope in rt.state.scopes():
        rt.state.clear_scope(scope)
    assert rt.backups.verify_backup(second.id)["chain"] == [full.id, first.id, second.id]
    rt.backups.restore(second.id, safety_backup=False)
    assert snapshot(rt) == final


def test_an_incremental_with_no_parent_is_a_full_backup(mem: Runtime) -> None:
    fill(mem)
    info = mem.backups.backup(incremental=True)
    assert info.kind == "full" and info.parent is None
    other_scopes = mem.backups.backup(incremental=True, include=["agent:*"])
    assert other_scopes.kind == "full"  # no earlier backup covers the same scopes
    with pytest.raises(BackupError, match="must cover the same"):
        mem.backups.backup(parent=info.id, include=["agent:*"])


def test_a_missing_parent_is_named(mem: Runtime) -> None:
    fill(mem)
    full = mem.backups.backup()
    mem.state.save("global", "x", 1)
    inc = mem.backups.backup(incremental=True)
    with pytest.raises(BackupError, match=f"is the parent of incremental backup.*{inc.id}"):
        mem.backups.delete_backup(full.id)
    full.path.unlink()
    with pytest.raises(BackupNotFound, match=f"needs backup {full.id}, which is missing"):
        mem.backups.restore(inc.id)
    assert mem.backups.delete_backup(inc.id) == [inc.id]


def test_delete_cascades_to_incrementals_when_asked(mem: Runtime) -> None:
    fill(mem)
    full = mem.backups.backup()
    mem.state.save("global", "x", 1)
    inc = mem.backups.backup(incremental=True)
    with capture_events(mem.events, "backup.*") as events:
        assert mem.backups.delete_backup(full.id, cascade=True) == [full.id, inc.id]
    assert mem.backups.list_backups() == []
    assert events.types == ["backup.deleted"]


@pytest.mark.parametrize("target", ["lmdb", "postgres"])
def test_restore_into_a_different_backend(tmp_path: Path, target: str) -> None:
    backups = tmp_path / "shared-backups"
    with runtime_for("sqlite", tmp_path, state__backup_dir=str(backups)) as source:
        fill(source)
        full = source.backups.backup(format="binary")
        source.state.save("agent:a0", "k000", "changed")
        source.state.delete("global", "config")
        inc = source.backups.backup(incremental=True)
        expected = snapshot(source)
    other = runtime_for(target, tmp_path, state__backup_dir=str(backups))
    try:
        other.state.save("agent:a0", "only-here", 1)
        other.backups.restore(inc.id)
        assert snapshot(other) == expected
        assert other.state.load("agent:a0", "k000") == "changed"
        # An incremental on a backup of another store is refused.
        with pytest.raises(BackupError, match="of another store"):
            other.backups.backup(parent=full.id)
        mine = other.backups.backup(incremental=True)  # on the target's own safety backup
        assert other.backups.get(mine.parent).safety  # type: ignore[arg-type]
    finally:
        other.close()
        discard_store(other.config.storage.url)


def test_an_incremental_needs_the_change_log_back_to_its_parent(mem: Runtime) -> None:
    fill(mem)
    old = mem.backups.backup()
    mem.state.save("global", "x", 1)
    new = mem.backups.backup()
    result = mem.backups.prune({"keep_last": 1})
    assert result["deleted"] == [old.id] and result["changes_pruned_through"] == new.seq_to
    assert result["changes_pruned"] == new.seq_to
    assert mem.store.count("chg/") == 0
    mem.state.save("global", "y", 2)
    assert mem.backups.backup(incremental=True).parent == new.id  # still reachable


def test_a_backup_during_writes_by_another_process_is_retaken(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    rt = Runtime.memory(storage__url=url, state__backup_dir=str(tmp_path / "b"))
    fill(rt)
    other = open_store(url)  # another handle: its writes are another "process"'s
    writes = []

    def meddle(phase: str, done: int, total: int) -> None:
        if phase != "backup":  # once per attempt: after the state records
            return
        writes.append(done)
        n = len(writes)
        seq = int(other.get(SEQ_KEY) or b"0") + 1
        other.batch([Put(f"state/global/w{n}", b'{"v":1,"s":1,"c":1.0,"u":1.0,"q":%d}' % seq),
                     Put(f"chg/{seq:020d}", b'{"s":"global","k":"w%d","o":"put"}' % n),
                     Put(SEQ_KEY, b"%d" % seq)])

    info = rt.backups.backup(progress=meddle)
    assert len(writes) == 3 and not info.consistent
    assert rt.backups.backup(incremental=True).puts >= 1  # the next one holds what it missed
    other.batch([Delete("state/global/w1")])
    other.close()
    rt.close()


def test_events_and_disabled_backups(tmp_path: Path) -> None:
    with runtime_for("memory", tmp_path) as rt:
        fill(rt)
        with capture_events(rt.events, "**") as events:
            info = rt.backups.backup()
            rt.backups.restore(info.id, safety_backup=False)
        types = [t for t in events.types if t.startswith(("backup.", "restore."))]
        assert types[0] == "backup.created" and types[1] == "restore.started"
        assert types[-1] == "restore.completed" and "restore.progress" in types
    with runtime_for("memory", tmp_path, state__backup_enabled=False) as rt:
        with pytest.raises(BackupError, match="backup_enabled = false"):
            rt.backups.backup()
        with pytest.raises(BackupError, match="backup_enabled = false"):
            rt.backups.restore(info.id)
        assert rt.backups.restore(info.id, dry_run=True)["dry_run"]


def test_bad_arguments_are_named(mem: Runtime) -> None:
    with pytest.raises(ValidationError, match="argument 'include'"):
        mem.backups.backup(include=[1])
    with pytest.raises(ValidationError, match="argument 'format'"):
        mem.backups.backup(format="xml")
    with pytest.raises(ValidationError, match="argument 'compression'"):
        mem.backups.backup(compression="gzip")
    with pytest.raises(ValidationError, match="argument 'id'"):
        mem.backups.restore("../../etc/passwd")
