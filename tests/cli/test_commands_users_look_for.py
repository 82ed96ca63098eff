"""Commands users look for (issue 19 item 8): ``session create``, ``artifact list SESSION``,
``run -`` and ``run script.lua --json``."""

from __future__ import annotations

import json
import re
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


def test_set_keys_get_a_did_you_mean_as_file_keys_do(run: Run) -> None:
    result = run("--set", "state.bakend=x", "info")
    assert result.exit_code == 3
    assert ("key 'state.bakend': unknown configuration key (did you mean 'state.backend'?)"
            in result.stderr)
    nested = run("--set", "engines.lua.sandbx=full", "info")
    assert "(did you mean 'engines.lua.sandbox'?)" in nested.stderr
    assert "did you mean" not in run("--set", "nothing.like.it=1", "info").stderr


def test_json_times_are_iso_8601(run: Run) -> None:
    sid = run("session", "create", "t").stdout.strip()
    made = json.loads(run("backup", "create", "--json").stdout)
    listed = json.loads(run("backup", "list", "--json").stdout)
    session = json.loads(run("session", "show", sid, "--json").stdout)
    for when in (made["created_at"], listed[0]["created_at"], session["created_at"]):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", when), when
