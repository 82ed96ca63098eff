"""``llmspell migrate ...``, ``llmspell backup ...`` and the examples, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import Result

from cli_runner import Run
from llmspell.cli.progress import progress_bar

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def data(result: Result) -> object:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_migration_example_runs(run: Run) -> None:
    result = run("run", str(EXAMPLES / "migration.lua"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "dry run: would change 2 of 3 values",
        "profile.new_field:\tgpt-4 settings\tdeprecated:\tnil",
        "current version:\t2\tlatest:\t2\tapplied:\t1",
        "m003 changed:\t1\t->\tGPT-4 SETTINGS",
        "again:\ttrue",
        "failed as expected:\ttrue\ttrue",
        "after rollback:\tgpt-4 settings",
    ]
    status = data(run("migrate", "status", "--json"))
    assert status["versions"] == {"2": 3}  # type: ignore[index]


def test_the_backup_example_runs(run: Run, tmp_path: Path) -> None:
    result = run("run", str(EXAMPLES / "backup.lua"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "backups:\t1\t(nothing changed, so that restore took no safety backup)",
        "a restore would put back\t2\tand delete\t1",
        "history:\t1\tmessage(s)",
        "step:\t1\thalf_done:\tnil",
        "incremental valid:\ttrue\tchain length:\t2",
        "prune would delete:\t1",
    ]
    # The backup, one safety backup (only the second restore changed something) and the
    # incremental.
    assert len(list((tmp_path / ".llmspell" / "backups").glob("*.llsb"))) == 3


def test_the_backup_hook_example_runs(run: Run) -> None:
    result = run("run", str(EXAMPLES / "backup_hook.lua"))
    assert result.exit_code == 0, result.output
    assert result.stdout == "backups:\t1\tWorkflow completed\n"
    # Workflows fire workflow:complete: the registration has nothing to warn about.
    assert "not fired yet" not in result.stderr


def test_migrate_commands(run: Run, tmp_path: Path) -> None:
    run("state", "set", "agent:a", "profile", '{"old_field": 1, "deprecated": true}')
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"name": "m002", "from_version": 1, "to_version": 2,
                                "transformations": [
                                    {"field": "old_field", "transform": "rename",
                                     "to": "new_field"},
                                    {"field": "deprecated", "transform": "remove"}]}))
    (report,) = data(run("migrate", "plan", str(plan), "--json"))  # type: ignore[misc]
    assert report["dry_run"] and report["changed"] == 1
    assert json.loads(run("state", "get", "agent:a", "profile").output)["old_field"] == 1
    text = run("migrate", "plan", str(plan)).output
    assert "m002: v1 -> v2: 1 values examined, would change 1" in text
    assert 'agent:a/profile: {"old_field":1,"deprecated":true} -> {"new_field":1}' in text
    (report,) = data(run("migrate", "apply", str(plan), "--json"))  # type: ignore[misc]
    assert report["applied"]
    assert json.loads(run("state", "get", "agent:a", "profile").output) == {"new_field": 1}
    assert "already applied" in run("migrate", "apply", str(plan)).output
    status = run("migrate", "status").output
    assert "current version  2" in status and "#1 m002: v1 -> v2" in status
    assert "rolled back #1 m002: 1 values restored to v1" in run("migrate", "rollback").output
    assert json.loads(run("state", "get", "agent:a", "profile").output)["old_field"] == 1
    failed = run("migrate", "rollback")
    assert failed.exit_code == 1 and "no applied migration" in failed.output
    assert run("migrate", "apply").output == "nothing to do: no pending migration\n"
    bad = tmp_path / "bad.json"
    bad.write_text('{"from_version": 1}')
    result = run("migrate", "apply", str(bad))
    assert result.exit_code == 2 and "argument 'to_version'" in result.output


def test_backup_commands(run: Run, tmp_path: Path) -> None:
    run("state", "set", "agent:a", "k", '{"v": 1}')
    run("state", "set", "global", "g", "1")
    made = data(run("backup", "create", "-d", "first", "--include", "agent:*", "--json"))
    assert made["entries"] == 1 and made["kind"] == "full"  # type: ignore[index]
    backup_id = made["id"]  # type: ignore[index]
    run("state", "set", "agent:a", "k", '{"v": 2}')
    inc = data(run("backup", "create", "--incremental", "--include", "agent:*", "--json"))
    assert inc["parent"] == backup_id  # type: ignore[index]
    listing = run("backup", "list").output
    assert backup_id in listing and "first" in listing and "incremental" in listing
    assert [b["id"] for b in data(run("backup", "list", "--json"))] == [  # type: ignore[union-attr]
        backup_id, inc["id"]]  # type: ignore[index]
    assert "ok (2 entries in 2 file(s))" in run("backup", "verify", inc["id"]).output  # type: ignore[index]
    preview = data(run("backup", "restore", backup_id, "--dry-run", "--json"))
    assert preview["puts"] == 1 and preview["dry_run"]  # type: ignore[index]
    text = run("backup", "restore", backup_id).output
    assert "put 1, deleted 0, 0 unchanged" in text and "safety backup" in text
    assert json.loads(run("state", "get", "agent:a", "k").output) == {"v": 1}
    refused = run("backup", "delete", backup_id)
    assert refused.exit_code == 1 and "is the parent of incremental" in refused.output
    pruned = data(run("backup", "prune", "--keep-last", "1", "--dry-run", "--json"))
    # The user's newest is the incremental, which needs its base; the restore's safety
    # backup is the newest safety backup. None counts against the other.
    assert pruned["deleted"] == []  # type: ignore[index]
    kept = {k["id"]: k["reasons"] for k in pruned["kept"]}  # type: ignore[index]
    assert kept[inc["id"]] == ["keep_last", "newest"]  # type: ignore[index]
    assert kept[backup_id] == [f"parent of {inc['id']}"]  # type: ignore[index]
    assert next(iter(kept.values())) == ["newest safety backup"]
    result = run("backup", "prune")
    assert result.exit_code == 2 and "names no rule" in result.output
    deleted = data(run("backup", "delete", backup_id, "--cascade", "--json"))
    assert deleted == {"deleted": [backup_id, inc["id"]]}  # type: ignore[index]


def test_verify_and_restore_refuse_a_damaged_file(run: Run, tmp_path: Path) -> None:
    run("state", "set", "global", "g", '"value"')
    backup_id = data(run("backup", "create", "--compression", "none", "--json"))["id"]  # type: ignore[index]
    path = tmp_path / ".llmspell" / "backups" / f"{backup_id}.llsb"
    raw = bytearray(path.read_bytes())
    raw[raw.index(b'"value"') + 2] ^= 1
    path.write_bytes(bytes(raw))
    for command in ("verify", "restore"):
        result = run("backup", command, backup_id)
        assert result.exit_code == 1
        assert (f"BackupCorrupt: backup {backup_id}: entry: entry #1 (state/global/g): its SHA-256 "
                "does not match") in result.output


def test_prune_uses_the_configured_policy(run: Run, tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text("[state]\nbackup_keep_last = 1\n")
    run("state", "set", "global", "g", "1")
    first = data(run("backup", "create", "--json"))["id"]  # type: ignore[index]
    # The configured policy already ran after this backup (automatic retention) ...
    data(run("backup", "create", "--json"))
    assert first not in run("backup", "list").output
    # ... so `prune` with no options, which applies the same policy, has nothing left to do.
    result = data(run("backup", "prune", "--json"))
    assert result["deleted"] == [] and len(result["kept"]) == 1  # type: ignore[index]


def test_progress_bars_only_on_a_terminal() -> None:
    with progress_bar(True) as report:
        assert report is None  # pytest's stderr is not a terminal
    with progress_bar(False) as report:
        assert report is None
