"""``llmspell tool list|show|invoke``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from llmspell import Runtime
from llmspell.cli.main import cli


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [n for n in __import__("os").environ if n.startswith("LLMSPELL_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_table_prints_bracketed_text_as_written(here: Path) -> None:
    # "[tools.email]" looks like rich markup; a table of data must print it, not swallow it
    code, out, _ = invoke("tool", "list")
    assert code == 0
    assert "set [tools.email] smtp_host" in out
    assert "[runtime.security] allow_network_access" in " ".join(out.split())


def test_list_and_show_as_json(here: Path) -> None:
    code, out, _ = invoke("tool", "list", "--json")
    rows = json.loads(out)
    assert code == 0 and {"calculator", "uuid_generator"} <= {r["name"] for r in rows}
    missing = {r["name"]: r["unavailable_reason"] for r in rows if not r["available"]}
    assert "web_search" in missing and "[tools.web_search]" in missing["web_search"]
    assert all(missing.values()) and "calculator" not in missing
    code, out, _ = invoke("tool", "show", "calculator", "--json")
    assert code == 0 and json.loads(out)["parameters"]["properties"]["input"]["type"] == "string"


def test_invoke_prints_the_result_and_journals_in_a_session(here: Path) -> None:
    code, out, _ = invoke("tool", "invoke", "calculator", "--params", '{"input": "2^10"}')
    assert (code, out) == (0, '{"result":1024,"expression":"2^10"}\n')
    code, out, _ = invoke("tool", "invoke", "calculator", "--params", '{"input": "1+1"}',
                          "--json")
    assert json.loads(out)["metadata"]["tool"] == "calculator"
    with Runtime.from_config() as rt:
        sid = rt.sessions.create("cli").id
    code, out, _ = invoke("tool", "invoke", "calculator", "--params", '{"input": "6*7"}',
                          "--session", sid)
    with Runtime.from_config() as rt:
        calls = rt.sessions.journal.read(sid, kinds="tool.call")
    assert [c.data["result"]["output"]["result"] for c in calls] == [42]


def test_invoke_refusals_exit_2_naming_the_problem(here: Path) -> None:
    code, _, err = invoke("tool", "invoke", "calculator", "--params", "{nope")
    assert code == 2 and "--params is not valid JSON" in err
    code, _, err = invoke("tool", "invoke", "calculator", "--params", '{"input": 3}')
    assert code == 2 and "argument 'params' at $.input" in err
    code, _, err = invoke("tool", "show", "calculatr")
    assert code == 1 and "did you mean 'calculator'" in err


def test_doctor_counts_the_tools_and_names_one_that_cannot_work(
        here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = invoke("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert code == 0 and checks["tools"]["ok"] and "built-in tools work here" in checks[
        "tools"]["detail"]
    from llmspell.tools.builtins.monitor import SystemMonitor

    monkeypatch.setattr(SystemMonitor, "available",
                        lambda self: "the program 'sensors' is not installed")
    code, out, _ = invoke("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert code == 0  # an unavailable tool warns; it does not fail the doctor
    assert checks["tool system_monitor"] == {"name": "tool system_monitor", "ok": False,
                                             "detail": "the program 'sensors' is not installed",
                                             "optional": True}
    code, out, _ = invoke("tool", "list", "--json")
    row = next(r for r in json.loads(out) if r["name"] == "system_monitor")
    assert row["available"] is False and "sensors" in row["unavailable_reason"]
