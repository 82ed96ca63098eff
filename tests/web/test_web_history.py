"""State at any point with its diff, and the replay and fork actions, through the web app,
on a session recorded from a real Lua run (a scripted model calling a Python tool)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from llmspell import Runtime
from llmspell.providers.scripted import ScriptedProvider
from llmspell.replay import record_run
from llmspell.tools import tool

SCRIPT = """
local scope = "session:" .. Session.getCurrent().id
State.save(scope, "step", 1)
local forecast = Tool.invoke("weather", {city = "Paris"})
local helper = Agent.create{name = "helper", model = "scripted/demo"}
local answer = helper:invoke{text = "summarise: " .. tostring(forecast.text)}
State.save(scope, "answer", answer.text)
State.save(scope, "step", 2)
Artifact.store(Session.getCurrent(), "report.txt", "report: " .. answer.text)
return "ok"
"""


def recorded(rt: Runtime) -> str:
    provider = ScriptedProvider("scripted")
    rt.providers.add("scripted", provider)

    @tool
    def weather(city: str) -> str:
        """The weather in a city."""
        return {"Paris": "sunny"}.get(city, "fog")

    rt.tools.register(weather)
    provider.add_replies(["Paris: sunny."])
    done = record_run(rt, SCRIPT, name="weather.lua")
    assert done.error is None, done.error
    return str(done.session.id)


def seq_of(rt: Runtime, sid: str, kind: str, key: str | None = None) -> int:
    for entry in rt.sessions.journal.iter(sid, kinds=kind):
        if key is None or (entry.data or {}).get("key") == key:
            return entry.seq
    raise AssertionError(f"no {kind} entry")


def test_state_at_each_point_with_its_diff(mem: Runtime, serve: Any) -> None:
    sid = recorded(mem)
    answer_at = seq_of(mem, sid, "state.write", "answer")
    base = serve(mem)
    with httpx.Client(base_url=base) as http:
        now = http.get(f"/api/sessions/{sid}/state").json()
        assert now["seq"] == mem.sessions.journal.last_seq(sid)
        assert now["snapshot"]["state"] == {"step": 2, "answer": "Paris: sunny."}
        assert "report.txt" in [a["name"] for a in now["snapshot"]["artifacts"]]
        then = http.get(f"/api/sessions/{sid}/state", params={"seq": answer_at}).json()
        assert then["snapshot"]["state"] == {"step": 1, "answer": "Paris: sunny."}
        assert then["diff"]["state"] == {"answer": {"op": "added", "old": None,
                                                    "new": "Paris: sunny."}}
        assert then["entry"]["kind"] == "state.write"
        wide = http.get(f"/api/sessions/{sid}/state",
                        params={"seq": now["seq"], "from": 0}).json()
        assert set(wide["diff"]["state"]) == {"step", "answer"}
        assert "report.txt" in [a["name"] for a in wide["diff"]["artifacts"]["added"]]
        page = http.get(f"/sessions/{sid}/state", params={"seq": answer_at}).text
        assert 'class="diff-added"' in page and "Paris: sunny." in page
        assert f'value="{answer_at}"' in page
        too_far = http.get(f"/api/sessions/{sid}/state", params={"seq": now["seq"] + 1})
        assert too_far.status_code == 400 and "argument 'seq'" in too_far.json()["error"]
        timeline = http.get(f"/sessions/{sid}/timeline", params={"kind": "llm,tool"}).text
        assert 'class="k-llm"' in timeline and 'class="k-tool"' in timeline
        writes = http.get(f"/api/sessions/{sid}/timeline", params={"kind": "state"}).json()
        assert [e["data"]["value"] for e in writes["items"]] == [1, "Paris: sunny.", 2]


def test_fork_and_replay_need_allow_actions(mem: Runtime, serve: Any) -> None:
    sid = recorded(mem)
    base = serve(mem)
    key = httpx.get(base + "/api/info").json()["form_key"]
    for action in ("replay", "fork"):
        answer = httpx.post(f"{base}/api/sessions/{sid}/{action}",
                            headers={"X-LLMSpell-Form-Key": key})
        assert answer.status_code == 403
    assert [s.id for s in mem.sessions.list()] == [sid]


@pytest.mark.slow
def test_fork_at_a_seq_and_replay_from_the_browser_forms(mem: Runtime, serve: Any) -> None:
    sid = recorded(mem)
    step1 = seq_of(mem, sid, "state.write", "step")
    base = serve(mem, allow_actions=True)
    key = httpx.get(base + "/api/info").json()["form_key"]
    with httpx.Client(base_url=base) as http:
        bad = http.post(f"/sessions/{sid}/fork", data={"csrf": key, "seq": "x"})
        assert bad.status_code == 400 and "argument &#39;seq&#39;" in bad.text
        odd = http.post(f"/api/sessions/{sid}/fork", data={"sqe": "1"},
                        headers={"X-LLMSpell-Form-Key": key})
        assert odd.status_code == 400 and "unknown field 'sqe'" in odd.json()["error"]
        assert len(mem.sessions.list()) == 1
        forked = http.post(f"/sessions/{sid}/fork", data={"csrf": key, "seq": str(step1),
                                                          "name": "what-if"})
        assert forked.status_code == 303
        fork_id = forked.headers["location"].rsplit("/", 1)[1]
        assert mem.state.load(f"session:{fork_id}", "step") == 1
        assert mem.state.load(f"session:{fork_id}", "answer") is None
        shown = http.get(f"/api/sessions/{sid}").json()
        assert [f["id"] for f in shown["forks"]] == [fork_id] and shown["children"] == []
        assert shown["related_truncated"] is False
        report = http.post(f"/api/sessions/{sid}/replay",
                           headers={"X-LLMSpell-Form-Key": key}).json()
        assert report["identical"] and report["calls_made"] == 0
        assert report["calls_served"] == 2  # the model's answer and the tool's
        page = http.post(f"/sessions/{sid}/replay", data={"csrf": key}).text
        assert "identical to the recording" in page
