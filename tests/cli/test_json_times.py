"""Issue 19 item 8: every time in every command's ``--json`` output is ISO 8601 in UTC, in the
one format ``llmspell.journal.iso`` writes; a script's own values are left as they are."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cli_runner import Run
from llmspell.cli.main import USER_VALUE_FIELDS

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
TIME_NAME = re.compile(r"(_at|^timestamp|^time|^started|^finished|^created|^updated|^when)$")

WORKFLOW = """
local flow = Workflow.sequential({name = "p", steps = {
  {name = "a", type = "function", fn = function() return {created_at = 7} end},
  {name = "b", type = "function", fn = function() error("boom") end},
}})
return flow:execute().status
"""


def bad_times(value: Any, path: str = "$") -> list[str]:
    """Where ``value`` (outside user values) has a time-named field not in ISO 8601 UTC, or a
    number that looks like seconds since the epoch under any name."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in USER_VALUE_FIELDS:
                continue
            if TIME_NAME.search(key) and item is not None and not (
                    isinstance(item, str) and ISO.fullmatch(item)):
                found.append(f"{path}.{key} = {item!r}")
            else:
                found += bad_times(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += bad_times(item, f"{path}[{i}]")
    elif isinstance(value, int | float) and not isinstance(value, bool) and 1e9 < value < 4e9:
        found.append(f"{path} = {value!r} (an epoch time?)")
    return found


def test_every_json_output_gives_its_times_in_iso_8601(run: Run, tmp_path: Path) -> None:
    def out(*args: str) -> Any:
        result = run(*args, "--json")
        assert result.exit_code in (0, 1), (args, result.output)
        return json.loads(result.stdout)

    made = out("session", "create", "s", "--tag", "t")
    sid = made["id"]
    (tmp_path / "a.txt").write_text("hello")
    (tmp_path / "wf.lua").write_text(WORKFLOW)
    (tmp_path / "plan.json").write_text(json.dumps({
        "name": "m1", "from_version": 1, "to_version": 2,
        "transformations": [{"field": "x", "transform": "remove"}]}))
    assert run("run", "wf.lua").exit_code == 0
    assert run("run", "--session", sid, "wf.lua").exit_code == 0
    outputs: dict[str, Any] = {"session create": made}
    outputs["artifact store"] = out("artifact", "store", sid, "a.txt")
    outputs["state set"] = out("state", "set", "global", "k", '{"created_at": 5}')
    runs = out("workflow", "list")
    assert len(runs) == 2
    commands = [
        ("session", "list"), ("session", "show", sid), ("session", "timeline", sid),
        ("session", "suspend", sid), ("session", "resume", sid),
        ("artifact", "list"), ("artifact", "list", sid),
        ("artifact", "show", "a.txt", "--session", sid), ("artifact", "versions", sid, "a.txt"),
        ("state", "get", "global", "k"), ("state", "list"),
        ("workflow", "list"), *[("workflow", "show", r["run_id"]) for r in runs],
        ("backup", "create"), ("backup", "list"),
        ("migrate", "apply", "plan.json"), ("migrate", "status"),
        ("tool", "list"), ("tool", "show", "uuid_generator"),
        ("tool", "invoke", "uuid_generator", "--session", sid),
        ("info",), ("doctor",), ("models",),
        ("session", "fork", sid), ("session", "complete", sid),
    ]
    for command in commands:
        outputs[" ".join(command)] = out(*command)
    # A recorded session: replayed, diffed, looked at as of an entry.
    assert run("run", "--record", "wf.lua").exit_code == 0
    recorded = out("session", "list")[0]["id"]
    seqs = [e["seq"] for e in out("session", "timeline", recorded)]
    more = [("session", "replay", recorded), ("session", "diff", recorded, "1", str(seqs[-1])),
            ("session", "show", recorded, "--at", "2"), ("migrate", "plan", "plan.json"),
            ("artifact", "gc"), ("backup", "prune", "--keep-last", "5")]
    for command in more:
        outputs[" ".join(command)] = out(*command)
    backup_id = outputs["backup list"][0]["id"]
    outputs["backup verify"] = out("backup", "verify", backup_id)
    outputs["backup restore"] = out("backup", "restore", backup_id)
    problems = {name: bad_times(value) for name, value in outputs.items()}
    assert {name: p for name, p in problems.items() if p} == {}
    # The field names the check relies on are really there, as ISO times.
    assert ISO.fullmatch(outputs["session show " + sid]["created_at"])
    assert all(ISO.fullmatch(e["timestamp"]) for e in outputs["session timeline " + sid])
    shown = outputs[f"workflow show {runs[0]['run_id']}"]
    assert ISO.fullmatch(shown["started_at"]) and ISO.fullmatch(shown["steps"][0]["finished"])
    assert ISO.fullmatch(outputs["state get global k"]["updated_at"])
    assert ISO.fullmatch(outputs["migrate status"]["applied"][0]["applied_at"])
    # User values keep what the user stored; a script's own return value is its own.
    assert outputs["state get global k"]["value"] == {"created_at": 5}
    assert json.loads(run("exec", "return {created_at = 5}", "--json").stdout) == {
        "created_at": 5}
