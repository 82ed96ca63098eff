"""Applying migrations: what changes, what does not, and that a failure changes nothing."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from backends import runtime_for, snapshot
from llmspell import Runtime
from llmspell.errors import HookCancelled, MigrationError, ValueTooLarge
from llmspell.events.capture import capture_events

SEED = {"from_version": 1, "to_version": 2, "transformations": [
    {"field": "old_field", "transform": "copy", "to": "new_field"},
    {"field": "deprecated", "transform": "remove"}]}


def fill(rt: Runtime, n: int = 10) -> None:
    with rt.state.transaction():
        for i in range(n):
            rt.state.save(f"agent:a{i % 3}", f"k{i:04d}", {"old_field": i, "deprecated": "x"})
        rt.state.save("global", "motd", "not a table")
        rt.state.save("workflow:w", "partial", {"old_field": "only this"})


def test_the_seed_plan_migrates_every_value_at_version_1(rt: Runtime) -> None:
    fill(rt)
    created = rt.state.get_record("agent:a0", "k0000")
    changes_before = rt.store.count("chg/")
    report = rt.migrations.apply(SEED)
    assert report.applied and not report.dry_run
    assert (report.examined, report.changed, report.unchanged) == (12, 11, 1)
    # "motd" is not a table (skipped by both), "partial" lacks "deprecated" (skipped once).
    assert report.skipped == 3
    assert [t["skipped"] for t in report.transforms] == [1, 2]
    assert rt.state.load("agent:a0", "k0000") == {"old_field": 0, "new_field": 0}
    assert rt.state.load("global", "motd") == "not a table"
    record = rt.state.get_record("agent:a0", "k0000")
    assert record is not None and created is not None
    assert record.schema_version == 2 and record.created_at == created.created_at
    assert rt.state.get_record("global", "motd").schema_version == 2  # type: ignore[union-attr]
    # Each change has its change-log entry (incremental backups see migrations).
    assert rt.store.count("chg/") == changes_before + 12
    assert report.seq_first <= record.seq <= report.seq_last == rt.state.seq  # type: ignore[operator]
    rt.state.save("global", "after", 1)  # the state manager goes on numbering correctly
    assert rt.state.get_record("global", "after").seq == report.seq_last + 1  # type: ignore[union-attr]


def test_a_dry_run_reports_and_changes_nothing(mem: Runtime) -> None:
    fill(mem)
    mem.state.save("agent:S", "secret", {"old_field": 1, "api_key": "sk-abcdefghijklmnopqrstuv"})
    before = snapshot(mem)
    report = mem.migrations.plan(SEED)
    assert report.dry_run and not report.applied and report.changed == 12
    assert snapshot(mem) == before
    assert mem.store.count("mig/") == 0
    assert report.samples[0]["after"]["new_field"] == report.samples[0]["before"]["old_field"]
    secret = next(s for s in report.samples if s["key"] == "secret")
    assert secret["before"]["api_key"] == "[REDACTED]"


def test_applying_an_applied_migration_is_a_no_op(rt: Runtime) -> None:
    fill(rt)
    rt.migrations.apply(SEED)
    after = snapshot(rt)
    # new saves take the migrated version; an explicit label still writes an old one
    rt.state.save("agent:late", "k", {"old_field": 1}, schema_version=1)
    again = rt.migrations.apply(SEED)
    assert again.already_applied and not again.applied and again.examined == 0
    assert "already applied" in again.note
    assert {k: v for k, v in snapshot(rt).items() if "late" not in k} == after
    forced = rt.migrations.apply(SEED, force=True)
    assert forced.applied and forced.examined == 1
    assert rt.state.load("agent:late", "k") == {"old_field": 1, "new_field": 1}


def test_a_transform_failing_at_item_700_of_1000_leaves_every_byte(rt: Runtime) -> None:
    with rt.state.transaction():
        for i in range(1000):
            rt.state.save("agent:bulk", f"item{i:04d}", {"n": i, "old_field": str(i)})
    before = snapshot(rt)
    log_before = rt.store.count("")
    calls = []

    def explode_at_700(value: Any, ctx: dict[str, Any]) -> Any:
        calls.append(ctx["key"])
        if value == 699:
            raise RuntimeError("cannot handle 699")
        return value + 1

    plan = {**SEED, "transformations": [
        {"field": "old_field", "transform": "rename", "to": "label"},
        {"field": "n", "transform": "custom", "fn": explode_at_700, "name": "bump"}]}
    with pytest.raises(MigrationError) as info:
        rt.migrations.apply(plan)
    message = str(info.value)
    assert "agent:bulk/item0699" in message and "#700" in message
    assert "#2 custom 'bump' 'n'" in message and "cannot handle 699" in message
    assert "nothing was changed" in message
    assert len(calls) == 700
    assert snapshot(rt) == before  # every record byte-identical
    assert rt.store.count("") == log_before  # no change-log entry, no migration record
    assert rt.migrations.status()["applied"] == []


@pytest.mark.parametrize(("rules", "words"), [
    ({"validate_before": {"required": ["old_field"]}}, "validate_before: required field "
     "'old_field' is missing"),
    ({"validate_after": {"types": {"new_field": "string"}}}, "validate_after: field "
     "'new_field' must be string (got int"),
    ({"validate_after": {"check": lambda v: "too small" if v.get("new_field", 9) < 5
                         else True}}, "validate_after: the custom check refused it: too small"),
])
def test_validation_failures_name_the_item_and_change_nothing(mem: Runtime,
                                                              rules: dict[str, Any],
                                                              words: str) -> None:
    mem.state.save("agent:a", "ok", {"old_field": 7, "deprecated": 1})
    mem.state.save("agent:b", "bad", {"old_field": 1} if "check" in str(rules) else {"x": 1})
    if "types" in str(rules):
        mem.state.delete("agent:b", "bad")
    before = snapshot(mem)
    with pytest.raises(MigrationError, match=re.escape(words)):
        mem.migrations.apply({**SEED, **rules})
    assert snapshot(mem) == before


def test_a_value_grown_past_the_limit_is_refused(tmp_path: Path) -> None:
    rt = runtime_for("memory", tmp_path, state__max_value_bytes=100)
    rt.state.save("global", "big", {"old_field": "x" * 60})
    with pytest.raises(MigrationError, match=r"item global/big .*encode") as info:
        rt.migrations.apply(SEED)
    assert isinstance(info.value.__cause__, ValueTooLarge)
    rt.close()


def test_scope_and_key_globs_choose_the_values(mem: Runtime) -> None:
    fill(mem)
    report = mem.migrations.apply({**SEED, "scope": "agent:a1", "key": "k000*"})
    assert report.examined == 3  # k0001, k0004, k0007 (k0010+ do not exist)
    assert mem.state.get_record("agent:a1", "k0001").schema_version == 2  # type: ignore[union-attr]
    assert mem.state.get_record("agent:a0", "k0000").schema_version == 1  # type: ignore[union-attr]


def test_values_holding_bytes_keep_them(mem: Runtime) -> None:
    mem.state.save("global", "blob", {"old_field": b"\x00\xff", "deprecated": 1})
    mem.migrations.apply(SEED)
    assert mem.state.load("global", "blob") == {"old_field": b"\x00\xff", "new_field": b"\x00\xff"}


def test_progress_callback_and_events(mem: Runtime) -> None:
    fill(mem, 25)
    seen: list[tuple[int, int]] = []
    with capture_events(mem.events, "migration.*") as events:
        mem.migrations.apply(SEED, batch_size=10, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(10, 27), (20, 27), (27, 27)]
    assert events.types == ["migration.started", "migration.progress", "migration.progress",
                            "migration.progress", "migration.completed"]
    assert events.of_type("migration.completed")[0].data["examined"] == 27
    with capture_events(mem.events, "migration.*") as events, pytest.raises(MigrationError):
        mem.migrations.apply({"from_version": 2, "to_version": 3, "transformations": [
            {"transform": "custom", "fn": lambda v, c: 1 / 0}]})
    assert events.types[-1] == "migration.failed"


def test_the_state_migration_hook_can_cancel_or_skip(mem: Runtime) -> None:
    fill(mem)
    before = snapshot(mem)
    handle = mem.hooks.register("state:migration",
                                lambda ctx: {"action": "cancel", "reason": "freeze"})
    with pytest.raises(HookCancelled, match="freeze"):
        mem.migrations.apply(SEED)
    handle.unregister()
    mem.hooks.register("state:migration", lambda ctx: "skip")
    report = mem.migrations.apply(SEED)
    assert not report.applied and "skipped" in report.note
    assert snapshot(mem) == before


def test_disabled_migrations_refuse_to_apply_but_dry_run(tmp_path: Path) -> None:
    rt = runtime_for("memory", tmp_path, state__migration_enabled=False)
    rt.state.save("global", "v", {"old_field": 1})
    assert rt.migrations.plan(SEED).changed == 1
    with pytest.raises(MigrationError, match="migration_enabled = false"):
        rt.migrations.apply(SEED)
    rt.close()


def test_rollback_restores_the_exact_previous_bytes(rt: Runtime) -> None:
    fill(rt)
    before = snapshot(rt)
    rt.migrations.apply(SEED)
    assert snapshot(rt) != before
    done = rt.migrations.rollback()
    assert done["restored"] == 12 and done["conflicts"] == 0
    assert snapshot(rt) == before
    status = rt.migrations.status()
    assert status["applied"][0]["rolled_back_at"] and not status["can_rollback"]
    assert rt.migrations.apply(SEED).applied  # no longer recorded: it applies again
    with pytest.raises(MigrationError, match="no applied migration"):
        runtime_for("memory", Path("unused")).migrations.rollback()


def test_rollback_refuses_values_changed_since_unless_forced(mem: Runtime) -> None:
    fill(mem)
    before = snapshot(mem)
    mem.migrations.apply(SEED)
    mem.state.save("agent:a1", "k0001", "edited after the migration")
    with pytest.raises(MigrationError, match=r"1 value\(s\) changed .* agent:a1/k0001"):
        mem.migrations.rollback()
    assert mem.state.load("agent:a1", "k0001") == "edited after the migration"
    assert mem.migrations.rollback(force=True)["conflicts"] == 1
    assert snapshot(mem) == before


def test_only_the_configured_number_of_migrations_can_be_rolled_back(tmp_path: Path) -> None:
    rt = runtime_for("memory", tmp_path)
    fill(rt)
    rt.migrations.apply(SEED)
    second = {"from_version": 2, "to_version": 3, "transformations": [
        {"field": "new_field", "transform": "convert", "to": "str"}]}
    rt.migrations.apply(second)
    assert rt.migrations.rollback()["to_version"] == 3
    with pytest.raises(MigrationError, match="undo data was dropped"):
        rt.migrations.rollback()
    rt.close()
    rt = runtime_for("memory", tmp_path, state__migration_undo_keep=0)
    rt.state.save("global", "v", {"old_field": 1})
    rt.migrations.apply(SEED)
    assert rt.store.count("mig/undo/") == 0
    with pytest.raises(MigrationError, match="migration_undo_keep = 0"):
        rt.migrations.rollback()
    rt.close()


def test_status_registry_and_migrate_to_version(mem: Runtime) -> None:
    fill(mem)
    migrations = mem.migrations
    assert migrations.status()["current"] == migrations.status()["latest"] == 1
    migrations.register({**SEED, "name": "m002"},
                        {"name": "m003", "from_version": 2, "to_version": 3,
                         "transformations": [{"field": "flag", "transform": "default",
                                              "value": False}]})
    status = migrations.status()
    assert status["latest"] == 3 and status["versions"] == {"1": 12}
    assert [(p["id"], p["items"]) for p in status["pending"]] == [("m002", 12), ("m003", 0)]
    reports = migrations.migrate_to_version(2)
    assert [r.id for r in reports] == ["m002"]
    assert migrations.status()["current"] == 2
    assert [r.id for r in migrations.apply_pending()] == ["m003"]
    status = migrations.status()
    assert status["current"] == status["latest"] == 3 and status["pending"] == []
    with pytest.raises(MigrationError, match="no registered migration leads to version 4"):
        migrations.migrate_to_version(4)
    migrations.declare("agent:*", 3)
    mem.state.save("agent:new", "k", {"flag": True})
    assert mem.state.get_record("agent:new", "k").schema_version == 3  # type: ignore[union-attr]
    assert migrations.status()["schemas"] == [{"pattern": "agent:*", "version": 3,
                                               "versions": {"3": 11}}]


def test_migrations_registered_in_code_apply_on_open(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mymigrations.py").write_text(
        "MIGRATIONS = [\n"
        "    {'name': 'm002_copy', 'from_version': 1, 'to_version': 2, 'transformations': [\n"
        "        {'field': 'old_field', 'transform': 'copy', 'to': 'new_field'}]},\n"
        "]\n")
    monkeypatch.syspath_prepend(str(package))
    url = f"sqlite:///{tmp_path}/store.db"
    with Runtime.memory(storage__url=url) as rt:
        rt.state.save("global", "v", {"old_field": 1})
    with Runtime.memory(storage__url=url, state__migrations=["mymigrations"]) as rt:
        assert rt.state.load("global", "v") == {"old_field": 1}  # registered, not applied
        assert [p["id"] for p in rt.migrations.status()["pending"]] == ["m002_copy"]
    with Runtime.memory(storage__url=url, state__migrations=["mymigrations:MIGRATIONS"],
                        state__migrate_on_open=True) as rt:
        assert rt.state.load("global", "v") == {"old_field": 1, "new_field": 1}
    with Runtime.memory(storage__url=url, state__migrations=["mymigrations"],
                        state__migrate_on_open=True) as rt:
        assert rt.migrations.status()["applied"][0]["id"] == "m002_copy"  # once only
        assert len(rt.migrations.status()["applied"]) == 1
    with pytest.raises(MigrationError, match="cannot load 'nosuchmodule'"):
        Runtime.memory(storage__url=url, state__migrations=["nosuchmodule"],
                       state__migrate_on_open=True)
    sys.modules.pop("mymigrations", None)


def test_the_log_entry_is_plain_json(mem: Runtime) -> None:
    mem.state.save("global", "v", {"old_field": 1})
    mem.migrations.apply(SEED)
    (raw,) = [v for _, v in mem.store.scan("mig/log/")]
    entry = orjson.loads(raw)
    assert entry["plan"]["transformations"][0] == {"transform": "copy", "field": "old_field",
                                                   "to": "new_field"}
    assert entry["items"] == 1 and entry["undo_chunks"] == 1


def test_migrations_and_rollbacks_of_session_values_are_journaled(mem: Runtime) -> None:
    session = mem.sessions.create("research")
    mem.state.save(f"session:{session.id}", "notes", {"old_field": "x"})
    journal = mem.sessions.journal
    writes = len(list(journal.read(session.id, kinds="state.write")))
    mem.migrations.apply(SEED)
    mem.migrations.rollback()
    entries = list(journal.read(session.id, kinds="state.write"))
    assert len(entries) == writes + 2  # the migration's write and the rollback's
    assert entries[-2].data["key"] == "notes" and entries[-2].data["old"] != entries[-2].data["new"]
    assert entries[-1].data["new"] == entries[-2].data["old"]
