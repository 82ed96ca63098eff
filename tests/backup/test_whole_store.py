"""Whole-store backups (issue 19 item 3): sessions, journals, artifacts and blobs come back with
their state, restores leave no orphan, and the deep check finds orphans when there are some."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import make_backend, runtime_for
from llmspell import Runtime
from llmspell.integrity import deep_check
from llmspell.state.backup.catalog import atomic_file
from llmspell.state.backup.fileformat import FORMAT, PayloadWriter
from llmspell.state.scopes import SEQ_KEY


def _data(rt: Runtime) -> dict[str, bytes]:
    """Everything but bookkeeping (change log, sequence, backup ids)."""
    return {k: v for k, v in rt.store.scan("")
            if not k.startswith(("chg/", SEQ_KEY, "meta/", "bak/"))}


def _session_with_everything(rt: Runtime, name: str = "report") -> str:
    session = rt.sessions.create(name=name, tags=["[draft]"])
    rt.state.save(f"session:{session.id}", "draft", {"words": 120})
    rt.artifacts.store(session.id, "report [v2].md", b"# Report\n" + b"x" * 30000)
    rt.artifacts.store(session.id, "notes.txt", "short")
    return session.id


def test_backup_delete_restore_brings_the_session_back_whole(rt: Runtime) -> None:
    sid = _session_with_everything(rt)
    rt.state.save("global", "theme", "dark")
    before = _data(rt)
    info = rt.backups.backup(description="[pre-upgrade] x")
    assert info.coverage == "store" and info.description == "[pre-upgrade] x"

    rt.sessions.delete(sid)
    rt.artifacts.gc(grace=0)
    assert not rt.sessions.exists(sid) and not rt.state.exists(f"session:{sid}", "draft")

    done = rt.backups.restore(info.id)
    assert done["orphans_skipped"] == []
    assert done["families"]["sessions"]["puts"] >= 1 and done["families"]["blobs"]["puts"] >= 1
    assert rt.sessions.get(sid).name == "report"
    assert rt.state.load(f"session:{sid}", "draft") == {"words": 120}
    names = sorted(a.name for a in rt.artifacts.list(sid))
    assert names == ["notes.txt", "report [v2].md"]
    assert rt.artifacts.read(rt.artifacts.versions(sid, "report [v2].md")[-1]).startswith(b"# R")
    assert _data(rt) == before
    report = deep_check(rt)
    assert report.ok, report.to_dict()
    assert report.examined["references"] >= 3  # the state record and both artifacts


def test_a_restore_removes_what_came_after_and_stays_consistent(mem: Runtime) -> None:
    first = _session_with_everything(mem, "first")
    info = mem.backups.backup()
    later = _session_with_everything(mem, "later")
    mem.artifacts.store(first, "notes.txt", "second version")

    preview = mem.backups.restore(info.id, dry_run=True)
    assert preview["deletes"] > 0 and mem.sessions.exists(later)  # a dry run changes nothing
    mem.backups.restore(info.id)
    assert not mem.sessions.exists(later)
    assert [a.version for a in mem.artifacts.versions(first, "notes.txt")] == [1]
    assert [s.id for s in mem.sessions.list()] == [first]
    assert deep_check(mem).ok


def test_whole_store_backups_cross_backends(tmp_path: Path) -> None:
    with make_backend("sqlite", tmp_path / "a") as place:
        source = place.runtime(state__backup_dir=str(tmp_path / "shared"))
        sid = _session_with_everything(source)
        info = source.backups.backup()
        expected = _data(source)
    for name in ("memory", "lmdb"):
        target = runtime_for(name, tmp_path / name, state__backup_dir=str(tmp_path / "shared"))
        try:
            target.backups.restore(info.id)
            assert _data(target) == expected
            assert target.sessions.get(sid).tags == ["[draft]"]
            assert deep_check(target).ok
        finally:
            target.close()


def test_incremental_whole_store_backups_restore_their_chain(mem: Runtime) -> None:
    first = _session_with_everything(mem, "first")
    base = mem.backups.backup()
    second = _session_with_everything(mem, "second")
    mem.state.save("global", "after", 1)
    inc = mem.backups.backup(incremental=True)
    assert inc.kind == "incremental" and inc.parent == base.id and inc.coverage == "store"
    expected = _data(mem)

    mem.sessions.delete(first)
    mem.sessions.delete(second)
    mem.backups.restore(inc.id)
    assert _data(mem) == expected
    mem.backups.restore(base.id)  # the base: the second session is gone again
    assert mem.sessions.exists(first) and not mem.sessions.exists(second)
    assert not mem.state.exists("global", "after")
    assert deep_check(mem).ok


def test_a_state_only_backup_skips_the_scopes_of_missing_sessions(mem: Runtime) -> None:
    kept = _session_with_everything(mem, "kept")
    gone = _session_with_everything(mem, "gone")
    mem.state.save("session:notes", "plain", "an ordinary scope named session:notes")
    info = mem.backups.backup(include=["session:*"])
    assert info.coverage == "state"
    mem.state.save(f"session:{kept}", "draft", "changed")
    mem.sessions.delete(gone)

    done = mem.backups.restore(info.id)
    assert done["orphans_skipped"] == [f"session:{gone}"]
    assert mem.state.load(f"session:{kept}", "draft") == {"words": 120}
    assert not mem.state.exists(f"session:{gone}", "draft")
    assert mem.state.load("session:notes", "plain").startswith("an ordinary")
    assert deep_check(mem).ok


def test_the_deep_check_finds_orphans(mem: Runtime) -> None:
    sid = _session_with_everything(mem)
    orphan = "01900000-0000-7000-8000-000000000001"
    mem.state.save(f"session:{orphan}", "left", "behind")
    mem.state.save("session:notes", "plain", 1)  # not a session id: not an orphan
    record = next(k for k, _ in mem.store.scan(f"art/{sid}/"))
    mem.store.put(record.replace(sid, orphan), mem.store.get(record) or b"")
    report = deep_check(mem)
    found = [(f.check, f.where, f.problem) for f in report.findings if f.check == "references"]
    assert [(c, w) for c, w, _ in found] == [("references", f"session {orphan}")] * 2
    assert "1 artifact record(s) of session" in found[0][2]
    assert "1 state record(s) of scope session:" in found[1][2]
    assert "orphan" in found[1][2]


def test_a_restore_that_changes_nothing_takes_no_safety_backup(mem: Runtime) -> None:
    _session_with_everything(mem)
    info = mem.backups.backup()
    done = mem.backups.restore(info.id)
    assert done["safety_backup"] is None and done["puts"] == done["deletes"] == 0
    assert [b.id for b in mem.backups.list_backups()] == [info.id]


def test_version_1_files_still_restore(mem: Runtime) -> None:
    """A file written before whole-store backups: state only, keys without ``state/``."""
    mem.state.save("global", "old", {"v": 1})
    record = mem.store.get("state/global/old")
    assert record is not None
    mem.state.delete("global", "old")
    header = {"format": FORMAT, "version": 1, "id": "20250101T000000000000Z-0001",
              "kind": "full", "parent": None, "base": None, "created_at": 1.0,
              "description": "old", "store": {"id": "x", "backend": "sqlite", "url": "x"},
              "include": None, "exclude": [], "entry_format": "json", "compression": "zstd",
              "seq_from": 0, "seq_to": 1, "safety": False}
    with atomic_file(mem.backups.directory, header["id"] + ".llsb") as f:
        writer = PayloadWriter(f, header, level=3)
        writer.add("global/old", record)
        writer.finish({"consistent": True})
    info = mem.backups.get(header["id"])
    assert info.coverage == "state"
    mem.backups.restore(info.id)
    assert mem.state.load("global", "old") == {"v": 1}


@pytest.mark.parametrize("fmt", ["json", "binary"])
def test_both_entry_formats_hold_the_whole_store(mem: Runtime, fmt: str) -> None:
    sid = _session_with_everything(mem)
    before = _data(mem)
    info = mem.backups.backup(format=fmt)
    mem.sessions.delete(sid)
    mem.backups.restore(info.id)
    assert _data(mem) == before


def test_every_key_of_the_store_is_backed_up_or_listed_as_not(mem: Runtime) -> None:
    """A key family added later must be in a backup or listed as bookkeeping on purpose."""
    from llmspell.lua.engine import LuaEngine
    from llmspell.state.backup.coverage import DATA_PREFIXES, NOT_BACKED_UP

    engine = LuaEngine(mem)
    try:
        engine.run_string("""
            local gone = Session.create({name = "deleted"})
            Artifact.store(gone.id, "g.txt", "gone")
            Session.delete(gone.id)
            local s = Session.create({name = "everything", tags = {"t"}})
            Session.setCurrent(s)
            State.save("global", "a", 1)
            State.save("session:" .. s.id, "k", {v = 2})
            Artifact.store(s.id, "n.txt", string.rep("x", 40000), {tags = {"t"}})
            local child = Session.create({name = "child", parent_session_id = s.id})
            Artifact.grant(s.id, child.id, "read")
            Artifact.setAutoCollect(s.id, false)
            local agent = Agent.create({name = "a", model = "scripted/demo", replies = {"hi"}})
            agent:invoke({text = "hello"})
            local wf = Workflow.sequential({name = "w", steps = {
                {name = "one", type = "function", fn = function() return 1 end}}})
            wf:execute({})
            State.migrate({from_version = 1, to_version = 2, scope = "global",
                           transformations = {{transform = "default", field = "x",
                                               value = 0}}})
        """)
    finally:
        engine.close()
    mem.backups.backup()
    stray = [k for k, _ in mem.store.scan("")
             if not k.startswith(("state/", *DATA_PREFIXES, *NOT_BACKED_UP))]
    assert stray == []
