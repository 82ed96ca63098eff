"""``llmspell state ...`` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import Run

SECRET = "sk-abcdefghijklmnopqrstuvwxyz012345"


def test_set_get_list_delete(run: Run) -> None:
    result = run("state", "set", "agent:gpt-4", "history", '[{"role": "user"}]')
    assert result.exit_code == 0, result.output
    assert "saved agent:gpt-4 / history (change 1)" in result.output
    assert run("state", "set", "global", "n", "42").exit_code == 0
    result = run("state", "get", "agent:gpt-4", "history")
    assert json.loads(result.output) == [{"role": "user"}]
    assert run("state", "list").output == "agent:gpt-4\thistory\nglobal\tn\n"
    assert run("state", "list", "global").output == "n\n"
    assert json.loads(run("state", "list", "--json").output) == [
        {"scope": "agent:gpt-4", "key": "history"}, {"scope": "global", "key": "n"}]
    assert run("state", "delete", "global", "n").output == "deleted global / n\n"
    assert run("state", "delete", "global", "n").output == "no value at global / n\n"
    result = run("state", "get", "global", "n")
    assert result.exit_code == 1
    assert "no value at global / n" in result.output
    assert Path(".llmspell/llmspell.db").is_file()


def test_set_reads_the_value_from_stdin(run: Run) -> None:
    result = run("state", "set", "workflow:w", "cfg", "-", stdin='{"retries": 3}\n')
    assert result.exit_code == 0, result.output
    assert json.loads(run("state", "get", "workflow:w", "cfg").output) == {"retries": 3}


def test_get_json_has_the_metadata(run: Run) -> None:
    run("state", "set", "global", "n", "42")
    data = json.loads(run("state", "get", "--json", "global", "n").output)
    assert data["value"] == 42 and data["seq"] == 1 and data["schema_version"] == 1
    assert data["created_at"] == data["updated_at"]
    assert data["created_at"].endswith("Z")  # ISO 8601 UTC, as every --json time
    assert json.loads(run("state", "set", "--json", "global", "n", "7").output) == {
        "scope": "global", "key": "n", "seq": 2}
    assert json.loads(run("state", "delete", "--json", "global", "n").output) == {
        "scope": "global", "key": "n", "deleted": True}


def test_secrets_are_redacted_in_output_but_not_in_export(run: Run) -> None:
    run("state", "set", "global", "creds", json.dumps({"api_key": SECRET, "user": "me"}))
    shown = run("state", "get", "global", "creds").output
    assert SECRET not in shown and '"[REDACTED]"' in shown and '"me"' in shown
    assert SECRET in run("state", "get", "--reveal", "global", "creds").output
    assert SECRET in run("state", "export").output


def test_export_import_round_trip_and_include(run: Run, tmp_path: Path) -> None:
    run("state", "set", "agent:a", "k", '{"x": [1, 2]}')
    run("state", "set", "workflow:w", "k", '"v"')
    everything = run("state", "export").output
    assert len(everything.splitlines()) == 2
    agents = run("state", "export", "--include", "agent:*").output
    assert [json.loads(x)["scope"] for x in agents.splitlines()] == ["agent:a"]
    dump = tmp_path / "dump.jsonl"
    dump.write_text(everything)
    run("state", "delete", "agent:a", "k")
    run("state", "delete", "workflow:w", "k")
    result = run("state", "import", str(dump))
    assert result.output == "imported 2 values\n"
    assert run("state", "export").output == everything
    assert json.loads(run("state", "import", "--json", "-", stdin=everything).output) == {
        "imported": 2}


def test_a_bad_import_line_is_named_and_nothing_is_written(run: Run, tmp_path: Path) -> None:
    dump = tmp_path / "bad.jsonl"
    dump.write_text('{"scope": "global", "key": "a", "value": 1}\n'
                    '{"scope": "global", "key": "b", "value": 1}\n'
                    '{"scope": "planet:x", "key": "c", "value": 1}\n')
    result = run("state", "import", str(dump))
    assert result.exit_code == 2
    assert "line 3" in result.output and "unknown scope kind 'planet'" in result.output
    assert run("state", "list").output == ""


@pytest.mark.parametrize(("args", "words"), [
    (("state", "set", "global", "k", "{not json"), "must be a JSON value"),
    (("state", "get", "Global", "k"), "lower-case"),
    (("state", "set", "global", "..", "1"), "'..'"),
    (("state", "list", "nope"), "unknown scope 'nope'"),
])
def test_bad_arguments_exit_2_with_the_rule(run: Run, args: tuple[str, ...], words: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert words in result.output
