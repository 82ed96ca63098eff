"""Commands users look for (issue 19 item 8): ``session create``, ``artifact list SESSION``,
``run -`` and ``run script.lua --json``."""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import Run


def test_session_create_and_artifact_list_by_session(run: Run, tmp_path: Path) -> None:
    made = json.loads(run("session", "create", "notes", "-d", "d", "--tag", "a", "--tag", "b",
                          "--json").stdout)
    assert made["name"] == "notes" and made["tags"] == ["a", "b"]
    child = run("session", "create", "child", "--parent", made["id"][:13])
    assert child.exit_code == 0, child.output
    other = run("session", "create").stdout.strip()
    (tmp_path / "a.txt").write_text("hello")
    assert run("artifact", "store", made["id"], "a.txt").exit_code == 0
    assert run("artifact", "store", other, "a.txt").exit_code == 0
    mine = json.loads(run("artifact", "list", made["id"][:13], "--json").stdout)
    assert [a["session_id"] for a in mine] == [made["id"]]
    assert len(json.loads(run("artifact", "list", "--json").stdout)) == 2
    both = run("artifact", "list", made["id"], "--session", other)
    assert both.exit_code == 2 and "two sessions given" in both.stderr
    bad = run("session", "create", "x", "--parent", "nope")
    assert bad.exit_code == 1 and "no session has an id starting with 'nope'" in bad.stderr


def test_run_reads_a_script_from_stdin_and_takes_json_after_the_script(run: Run,
                                                                        tmp_path: Path) -> None:
    piped = run("run", "-", "--json", "x", stdin="local n = 41\nreturn {ARGS[1], n + 1}\n")
    assert piped.exit_code == 0, piped.output
    assert json.loads(piped.stdout) == ["x", 42]
    (tmp_path / "s.lua").write_text("return {n = #ARGS, first = ARGS[1]}\n")
    after = run("run", "s.lua", "--json")
    assert json.loads(after.stdout) == {"n": 0}
    passed = run("run", "s.lua", "--", "--json")
    assert passed.stdout == "" and passed.exit_code == 0  # --json after -- is the script's
    both = run("run", "s.lua", "a", "--json", "--", "--json")
    assert json.loads(both.stdout) == {"n": 2, "first": "a"}
