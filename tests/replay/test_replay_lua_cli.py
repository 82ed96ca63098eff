"""The Replay global, the Session replay functions, and the CLI commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli_runner import Run
from llmspell.lua.engine import LuaEngine
from llmspell.runtime import Runtime

RECORD = """
local rec = Replay.record{name = "demo.lua", args = {"x"}, code = [[
  local scope = "session:" .. Session.getCurrent().id
  State.save(scope, "t", os.time())
  State.save(scope, "r", math.random())
  State.save(scope, "u", Utils.uuid())
  State.save(scope, "d", os.date("%Y") .. Utils.now("iso"))
  State.save(scope, "arg", ARGS[1])
  return "done"
]]}
"""


@pytest.fixture
def lua(mem: Runtime) -> Any:
    engine = LuaEngine(mem, script_name="test.lua")
    yield engine
    engine.close()


def test_record_replay_and_inspect_from_lua(lua: Any) -> None:
    out = lua.run_string(RECORD + """
    local id = rec.session.id
    local report = Session.replay(id)
    local at = Session.stateAt(id, 5)
    local changes = Session.diff(id, 4, 9)
    local fork = Session.fork(id, 5, {name = "forked"})
    local meta = Session.getReplayMetadata(id)
    local listed = Session.listReplayable()
    return {rec.ok, rec.value, Session.canReplay(id), report.status, report.inputs_served,
            at.state.r ~= nil, at.state.u == nil, changes.state.u.op, fork.name,
            fork.parent_session_id == id, State.load("session:" .. fork.id, "u") == nil,
            meta.can_replay, #meta.runs, #listed >= 2, rec.session:canReplay()}
    """)
    assert out == [True, "done", True, "identical", 5, True, True, "added", "forked", True,
                   True, True, 1, True, True]


def test_replay_global_matches_rs_llmspell(lua: Any) -> None:
    out = lua.run_string("""
    local cfg = Replay.create_config(Replay.modes.modified)
    local m = cfg:add_modification("7.result.output", "patched")
    m:set_enabled(false)
    local cmp = Replay.create_comparator():compare_json({a = 1, b = {1, 2}}, {a = 1, b = {1, 3}})
    local same = Replay.create_comparator():compare_json({x = "y"}, {x = "y"})
    return {Replay.modes.exact:name(), Replay.modes.debug:name(), Replay.modes.simulate:name(),
            Replay.modes.live:name(), cfg:get_mode():name(), cfg:should_compare_results(),
            cfg:get_timeout_seconds(), cfg:should_stop_on_error(), #cfg:get_modifications(),
            m:get_path(), m:get_value(), m:is_enabled(),
            Replay.schedules.once(1):type_name(), Replay.schedules.interval(0, 1, 2):type_name(),
            Replay.schedules.cron("0 * * * *"):type_name(),
            cmp.identical, cmp.similarity_score, cmp.differences[1].path, same.identical,
            same.summary}
    """)
    assert out == ["exact", "debug", "simulate", "live", "modified", True, 300, True, 1,
                   "7.result.output", "patched", False, "once", "interval", "cron", False,
                   0.6667, "$.b[2]", True, "identical"]


def test_replay_options_from_lua(lua: Any) -> None:
    out = lua.run_string(RECORD + """
    local id = rec.session.id
    local stops = {}
    local cfg = Replay.create_config(Replay.modes.debug)
    cfg.breakpoints = {"state.write"}
    cfg.on_break = function(entry, state) stops[#stops + 1] = entry.kind end
    local stepped = Session.replay(id, cfg)
    local live = Session.replay(id, Replay.modes.live)
    local sim = Session.replay(id, Replay.modes.simulate)
    local twice = Session.replay(id, {schedule = Replay.schedules.interval(0, 0, 2)})
    local once = Session.replay(id, {schedule = Replay.schedules.once(0)})
    return {stepped.status, #stops, live.status, sim.status,
            pcall(Session.get, sim.session_id), #twice, once.status}
    """)
    assert out == ["identical", 5, "identical", "identical", False, 2, "identical"]


def test_rs_llmspell_context_modifications_reach_the_replayed_hooks(lua: Any) -> None:
    # rs-llmspell's form (llmspell-hooks replay/manager.rs): "context.data.KEY" sets a key of
    # a replayed hook's context data, "context.metadata.KEY" (a string) one of its metadata.
    out = lua.run_string("""
    local rec = Replay.record{name = "hooked.lua", code = [[
      seen = {}
      Hook.register("workflow:before_step", function(ctx)
        seen[#seen + 1] = {ctx.data.factor or "none", ctx.metadata.note or "none"}
      end)
      Workflow.sequential({name = "w", steps = {
        {name = "s", type = "function", fn = function() return 1 end}}}):execute()
      local scope = "session:" .. Session.getCurrent().id
      State.save(scope, "seen", seen)
      return "ok"
    ]]}
    local cfg = Replay.create_config(Replay.modes.modified)
    local m = Replay.create_modification("context.data.factor", 42.5, true)
    cfg:add_modification("context.metadata.note", "what-if", true)
    cfg:add_modification("context.data.off", 1, false)
    cfg.modifications[#cfg.modifications + 1] = m
    local report = Session.replay(rec.session.id, cfg)
    local plain = Session.replay(rec.session.id)
    return {m:get_path(), m:get_value(), report.status,
            State.load("session:" .. rec.session.id, "seen")[1][1],
            State.load("session:" .. report.session_id, "seen")[1][1],
            State.load("session:" .. report.session_id, "seen")[1][2],
            report.notes[#report.notes], #plain.notes}
    """)
    assert out[:3] == ["context.data.factor", 42.5, "different"]
    assert out[3:6] == ["none", 42.5, "what-if"]
    assert "context modifications" in out[6] and "1 Lua hook call" in out[6]
    assert out[7] == 0


@pytest.mark.parametrize(("call", "message"), [
    ('Session.replay(rec.session.id, {mode = "fast"})', "argument 'mode'"),
    ('Session.replay(rec.session.id, {speed = 1})', "speed"),
    ('Session.replay(rec.session.id, {step = true})', "on_break"),
    ('Session.replay(rec.session.id, {schedule = Replay.schedules.cron("* * * * *")})',
     "cron"),
    ('Session.replay(rec.session.id, {schedule = Replay.schedules.interval(0, 0, 0)})',
     "max_executions"),
    ('Session.replay(rec.session.id, {modifications = {{path = "x"}}})', "seq"),
    ('Session.stateAt(rec.session.id, 999)', "argument 'seq'"),
    ('Session.diff(rec.session.id, 1, "b")', "to_seq"),
    ('Session.fork(rec.session.id, 2, {color = "red"})', "color"),
    ('Session.replay("no-such-session")', "SessionNotFound"),
    ('Replay.create_modification("result.output", 1)', "argument 'path'"),
    ('Replay.create_modification("context.data", 1)', "argument 'path'"),
    ('Replay.create_modification("context.inputs.x", 1)', "argument 'path'"),
    ('Replay.create_modification("context.metadata.k", 1)', "must be a string"),
    ('Replay.create_config("exact")', "argument 'mode'"),
    ('Replay.record{name = "x.lua"}', "argument 'code'"),
    ('Replay.record{code = "return 1", when = 1}', "when"),
])
def test_lua_errors_name_the_argument(lua: Any, call: str, message: str) -> None:
    ok, err = lua.run_string(RECORD + f"return pcall(function() return {call} end)")
    assert ok is False and message in err


def test_bad_modifications_and_flags_are_the_caller_s_errors(lua: Any) -> None:
    out = lua.run_string(RECORD + """
    local cfg = Replay.create_config(Replay.modes.exact)
    local _, e1 = pcall(function() cfg:add_modification(5, 1) end)
    local _, e2 = pcall(function() Replay.create_modification("x", 1) end)
    local _, e3 = pcall(Session.replay, rec.session.id, {keep = "no"})
    local _, e4 = pcall(Session.replay, rec.session.id, {compare_results = 0})
    return {e1, e2, e3, e4}
    """)
    assert out[0].startswith("test.lua:") and "argument 'path'" in out[0]
    assert out[1].startswith("test.lua:") and "argument 'path'" in out[1]
    assert "argument 'keep'" in out[2] and "argument 'compare_results'" in out[3]


@pytest.mark.slow
def test_the_cli_records_replays_forks_and_diffs(run: Run, tmp_path: Path) -> None:
    script = tmp_path / "calc.lua"
    script.write_text('local scope = "session:" .. Session.getCurrent().id\n'
                      'State.save(scope, "at", os.time())\n'
                      'local out = Tool.invoke("calculator", {input = "2+3"})\n'
                      'State.save(scope, "sum", out.text)\n'
                      'print("sum", out.text)\n')
    result = run("run", "--record", str(script))
    assert result.exit_code == 0, result.stderr
    assert "recorded in session" in result.stderr
    sid = json.loads(run("session", "list", "--json").stdout)[0]["id"]
    timeline = json.loads(run("session", "timeline", sid, "--kind", "state", "--json").stdout)
    assert isinstance(timeline[0]["data"]["value"], int)  # the value written, not `true`
    writes = [e["seq"] for e in timeline]
    shown = json.loads(run("session", "show", sid, "--at", str(writes[0]), "--json").stdout)
    assert list(shown["state"]) == ["at"]
    assert "at" in run("session", "show", sid, "--at", str(writes[0])).stdout
    changed = json.loads(run("session", "diff", sid, str(writes[0]), str(writes[1]),
                             "--json").stdout)
    assert changed["state"]["sum"]["op"] == "added"
    assert "+ session:" in run("session", "diff", sid, str(writes[0]), str(writes[1])).stdout
    replayed = run("session", "replay", sid, "--json")
    assert replayed.exit_code == 0, replayed.stderr
    # The replayed script prints as it did; the report is the JSON document.
    start = replayed.stdout.index("{")
    report = json.JSONDecoder().raw_decode(replayed.stdout[start:])[0]
    assert report["status"] == "identical" and report["calls_served"] == 1
    text = run("session", "replay", sid)
    assert "replay identical" in text.stdout
    other = tmp_path / "calc2.lua"
    other.write_text(script.read_text().replace("2+3", "2+4"))
    diverged = run("session", "replay", sid, "--script", str(other))
    assert diverged.exit_code == 1
    assert "replay diverged at seq" in diverged.stdout
    assert "$.arguments.input: expected '2+3', got '2+4'" in diverged.stdout
    forked = run("session", "fork", sid, "--at", str(writes[0]), "--json")
    fork = json.loads(forked.stdout)
    assert fork["parent_session_id"] == sid
    resumed = run("run", "--session", fork["id"], str(other))
    assert resumed.exit_code == 0 and "sum" in resumed.stdout
    stepped = run("session", "replay", sid, "--break", "state", stdin="\nq\n")
    assert stepped.exit_code == 1 and "replay stopped" in stepped.stdout
    assert "[seq" in stepped.stderr
    missing = run("session", "replay", "nope")
    assert missing.exit_code == 1 and "SessionNotFound" in missing.stderr
    bad = run("session", "show", sid, "--at", "9999")
    assert bad.exit_code != 0 and "seq" in bad.stderr
