"""Agents: the per-call overhead of ``agent.invoke`` over a raw httpx request.

Every HTTP figure is one chat-completions call to the same loopback FakeOpenAIServer (run in
a child process, so that it neither competes with the calls for the GIL nor adds its CPU time
to theirs), in CPU time of this process, the calls interleaved so they share the
machine's load; the "overhead" figures are an agent's median minus the raw httpx median, i.e.
llmspell's own time per call (provider layer, hooks, limits, journal, artifact, events). The
raw reference is what a user writes: ``httpx.Client.post``. Our providers hand their request
straight to an httpx transport instead (docs/providers.md, "How a request is sent"), which
costs less than the reference's trip through a client: the row "raw httpx through a
transport, no client" shows that saving (its "overhead" is negative), so an agent's overhead
minus it is our own time over the same transport.
Goal (issue 12): under 300 us, journaling included. The official ``openai`` client's
overhead over the same raw request is measured in the same run when ``openai`` is installed
(the ``bench`` extra). The Lua HTTP figures call the Lua function once per
``agent:invoke``, so they include entering the engine (instruction limits, the SIGINT
handler), which a script pays once per run: the scripted section also times
``agent:invoke`` inside one run (10 calls per run) and an empty Lua run.

The same calls are measured without HTTP too, on the ``scripted`` provider, which isolates the
per-call cost of the session path (memory and sqlite stores) from the server's noise. The
other rows answer the same text on every call (as the loopback server does), so each
collected answer is a new reference to one stored blob. Real answers differ: the row "a new
answer each call" stores a new blob per call (its meta record and its data, two keys at
random places in the store), which is what a real session pays. One figure with the
journal's secret check off shows what redaction costs (the ``llm.call`` entry and the
``agent.execution_completed`` event hold ``*_tokens`` field names, which send them through
the careful redaction path).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from harness import Bench
from llmspell.lua.engine import LuaEngine
from llmspell.providers.scripted import ScriptedProvider
from llmspell.runtime import Runtime
from paired import paired

GOAL_US = 300.0
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]


def _agent(rt: Runtime, base_url: str) -> Any:
    return rt.agents.create("bench", "openai/gpt-4o-mini", base_url=base_url, api_key="k",
                            system_prompt="Be brief.", max_conversation_length=2)


def _lua_call(engine: LuaEngine) -> Callable[[], Any]:
    """One ``agent:invoke`` from Lua, handing Python the answer's text, as the raw reference
    hands back the message content: a script keeps its result in Lua, and converting the
    whole result table back to Python (~300k instructions) is no cost a script pays."""
    engine.run_string('bench_agent = Agent.get("bench")', "setup.lua")
    call: Callable[[], Any] = engine.run_string(
        'return function() return bench_agent:invoke{text = "hi"}.text end', "bench.lua")
    return call


def _in(rt: Runtime, session: Any, fn: Callable[[], Any]) -> Callable[[], Any]:
    def call() -> Any:
        with rt.sessions.current(session):
            return fn()
    return call


#: The loopback server in a process of its own: in this one it would take the GIL from the
#: calls it answers (its handler threads run while a call waits, and when it sends, which
#: delays the caller's next step) and its CPU time would be counted with theirs.
_SERVER = """
import sys
from llmspell.testing import FakeOpenAIServer
with FakeOpenAIServer() as server:
    for _ in range(int(sys.argv[1])):
        server.reply("Hello there", usage=(5, 2))
    print(server.base_url, flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def _server(replies: int) -> Iterator[str]:
    """The base URL of a FakeOpenAIServer answering ``replies`` calls, in a child process."""
    child = subprocess.Popen([sys.executable, "-c", _SERVER, str(replies)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"the loopback server did not start (it said {url!r})")
        yield url
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)


def _http(bench: Bench, n: int, rounds: int) -> None:
    import httpx

    raw_name = "raw httpx POST (reference)"
    calls_made = 8 * (n * rounds + 1)  # every call below, warm-ups included
    with _server(calls_made) as url, tempfile.TemporaryDirectory() as tmp:
        client = httpx.Client(base_url=url, headers={"authorization": "Bearer k"})

        def raw() -> Any:
            response = client.post("/chat/completions",
                                   json={"model": "gpt-4o-mini", "messages": MESSAGES})
            return response.json()["choices"][0]["message"]["content"]

        mem = Runtime.memory()
        lite = Runtime.memory(storage__url=f"sqlite:///{tmp}/b.db")
        engine = LuaEngine(mem, script_name="bench.lua")
        calls: dict[str, Callable[[], Any]] = {raw_name: raw}
        # What our providers do (providers/http.py, _send): one transport, the URL and the
        # headers made once, a Request per call handed to the transport.
        transport = httpx.HTTPTransport()
        timeouts = httpx.Timeout(60).as_dict()
        endpoint = httpx.URL(f"{url}/chat/completions")
        headers = httpx.Headers({"accept": "*/*", "accept-encoding": "gzip, deflate",
                                 "content-type": "application/json",
                                 "user-agent": "bench", "authorization": "Bearer k"})

        def raw_transport() -> Any:
            request = httpx.Request("POST", endpoint,
                                    content=orjson.dumps({"model": "gpt-4o-mini",
                                                          "messages": MESSAGES}),
                                    headers=headers, extensions={"timeout": timeouts})
            response = transport.handle_request(request)
            try:
                response.read()
            finally:
                response.close()
            return orjson.loads(response.content)["choices"][0]["message"]["content"]

        through = "raw httpx through a transport, no client"
        calls[through] = raw_transport
        agent, lite_agent = _agent(mem, url), _agent(lite, url)
        lua = _lua_call(engine)
        in_mem, in_lite = mem.sessions.create("bench"), lite.sessions.create("bench")
        calls["python agent.invoke, no session"] = lambda: agent.invoke("hi")
        calls["lua agent:invoke, no session"] = lua
        calls["python agent.invoke, in session (memory)"] = _in(mem, in_mem,
                                                                 lambda: agent.invoke("hi"))
        calls["lua agent:invoke, in session (memory)"] = _in(mem, in_mem, lua)
        calls["python agent.invoke, in session (sqlite)"] = _in(lite, in_lite,
                                                                 lambda: lite_agent.invoke("hi"))
        budgets: dict[str, float | None] = {through: None}
        official = None
        try:
            import openai
        except ImportError:
            print("bench_agents: the official openai client is not installed (pip install "
                  "'llmspell[bench]'); its overhead is not measured")
        else:
            official = openai.OpenAI(base_url=url, api_key="k", max_retries=0)
            peer = "openai client chat.completions.create (peer)"
            calls[peer] = lambda: official.chat.completions.create(  # type: ignore[union-attr]
                model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
            budgets[peer] = None
        assert len(calls) <= 8, "the server is told to answer 8 calls per timed round"
        try:
            paired(bench, calls, raw_name, n, rounds, budgets=budgets, default_budget=GOAL_US)
        finally:
            engine.close()
            mem.close()
            lite.close()
            client.close()
            transport.close()
            if official is not None:
                official.close()


def _cpu(fn: Callable[[], Any], n: int, rounds: int) -> list[float]:
    """Per-call CPU time of this process, per round (the machine may be shared: CPU time is
    what our own code costs, whatever else runs)."""
    fn()
    out = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(n):
            fn()
        out.append((time.process_time() - start) / n * 1e6)
    return out


def _scripted(bench: Bench, n: int, rounds: int) -> None:
    """The same calls without HTTP: llmspell's own time alone, less noisy."""
    with tempfile.TemporaryDirectory() as tmp:
        for store, overrides in (("memory", {}),
                                 ("sqlite", {"storage__url": f"sqlite:///{Path(tmp)}/s.db"}),
                                 ("sqlite, a new answer each call",
                                  {"storage__url": f"sqlite:///{Path(tmp)}/n.db"}),
                                 ("memory, no artifact collection",
                                  {"session__artifact_auto_collect": False}),
                                 ("memory, journal redaction off", {})):
            undo = _redaction_off() if "redaction off" in store else None
            with Runtime.memory(**overrides) as rt:
                provider = ScriptedProvider("scripted", ["Hello there"] * (n * rounds + n + 2))
                rt.providers.add("scripted", provider)
                agent = rt.agents.create("bench", "scripted/demo", system_prompt="Be brief.",
                                         max_conversation_length=2)
                if store == "memory":
                    bench.record("scripted agent.invoke, no session (CPU)",
                                 _cpu(partial(agent.invoke, "hi"), n, rounds),
                                 budget_us=GOAL_US)
                session = rt.sessions.create("bench")
                provider.add_replies(
                    [f"Hello there, {i}" for i in range(n * rounds + n + 2)]
                    if "new answer" in store else ["Hello there"] * (n * rounds + n + 2))
                with rt.sessions.current(session):
                    bench.record(f"scripted agent.invoke, in session ({store}) (CPU)",
                                 _cpu(partial(agent.invoke, "hi"), n, rounds),
                                 budget_us=GOAL_US)
                if store == "memory":
                    _lua_in_a_run(bench, rt, provider, session, n, rounds)
            if undo is not None:
                undo()


#: Calls per run of the Lua function below: a script calls agent:invoke inside its run.
LUA_LOOP = 10


def _lua_in_a_run(bench: Bench, rt: Runtime, provider: ScriptedProvider, session: Any,
                  n: int, rounds: int) -> None:
    """``agent:invoke`` inside one script run (10 calls per run, per call), and entering the
    engine (an empty run), which a script pays once per run, not per call."""
    runs = max(1, n // LUA_LOOP)
    provider.add_replies(["Hello there"] * (2 * LUA_LOOP * (runs * rounds + runs + 2)))
    with LuaEngine(rt, script_name="bench.lua") as engine:
        engine.run_string('bench_agent = Agent.get("bench")', "setup.lua")
        loop = engine.run_string(
            f'return function() local r for _ = 1, {LUA_LOOP} do '
            'r = bench_agent:invoke{text = "hi"} end return r end', "loop.lua")
        bench.record("scripted lua agent:invoke in a script run, no session (CPU)",
                     [x / LUA_LOOP for x in _cpu(loop, runs, rounds)], budget_us=GOAL_US)
        with rt.sessions.current(session):
            bench.record("scripted lua agent:invoke in a script run, in session (memory) "
                         "(CPU)", [x / LUA_LOOP for x in _cpu(loop, runs, rounds)],
                         budget_us=GOAL_US)
        empty = engine.run_string("return function() return 1 end", "empty.lua")
        bench.record("empty Lua run, once per script run (CPU)", _cpu(empty, n, rounds))


def _redaction_off() -> Callable[[], None]:
    """Turn the journal's secret check off (for a figure only); returns the undo."""
    from llmspell import journal, redact

    owner: Any = journal.Journal if hasattr(journal.Journal, "_suspect") else redact.Redactor
    name = "_suspect" if owner is journal.Journal else "might_hold_secret"
    original = getattr(owner, name)
    setattr(owner, name, lambda self, text: False)
    return lambda: setattr(owner, name, original)


def run(bench: Bench) -> None:
    n = 30 if bench.quick else 300
    rounds = 3 if bench.quick else 5
    _scripted(bench, n, rounds)
    _http(bench, n // 3 or 1, rounds)
