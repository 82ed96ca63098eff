"""The replay half of ``Session``: ``canReplay(s)``, ``replay(s, opts)``,
``getReplayMetadata(s)``, ``listReplayable()`` (rs-llmspell's names), ``stateAt(s, seq)``,
``diff(s, a, b)`` and ``fork(s, seq, {name=})``. ``session.py`` adds them to the global.

``Session.replay(s, opts)`` takes a plain table, a ``Replay.create_config(...)`` config or a
``Replay.modes.X`` mode: ``mode`` ("exact" or "live"), ``script`` (Lua text to run instead),
``breakpoints`` (kinds and seqs), ``on_break`` (``function(entry, state)``; return "stop" to
end), ``step`` (pause everywhere: needs ``on_break``), ``modifications`` (a list of
``Replay.create_modification``: changed results, or rs-llmspell's hook context changes),
``compare_results``, ``stop_on_error``, ``timeout_seconds``, ``keep`` (false deletes the replay
session), ``schedule`` (``Replay.schedules.once`` / ``interval``), ``name``. It returns the
report (a table).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmspell.errors import ValidationError
from llmspell.lua import checks
from llmspell.lua.convert import LuaFunction
from llmspell.replay import (
    fork_session,
    replay_metadata,
    replay_session,
    replayable_sessions,
)
from llmspell.validation import check_known_keys

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine

REPLAY_KEYS = ("mode", "mode_name", "name_", "script", "breakpoints", "on_break", "step",
               "modifications", "compare_results", "stop_on_error", "timeout_seconds", "keep",
               "schedule", "name")
FORK_KEYS = ("name",)
MAX_EXECUTIONS = 100


def functions(engine: LuaEngine, manager: Any, table: Any) -> dict[str, Any]:
    """The replay functions of ``Session`` (``table`` turns a Session into its handle)."""
    runtime = engine.runtime

    def can_replay(session: Any) -> bool:
        return bool(replay_metadata(runtime, session)["can_replay"])

    def metadata(session: Any) -> dict[str, Any]:
        return replay_metadata(runtime, session)

    def list_replayable() -> list[str]:
        return replayable_sessions(runtime)

    def state_at(session: Any, seq: Any = None) -> dict[str, Any]:
        return dict(manager().state_at(session, seq).to_dict())

    def diff(session: Any, a: Any, b: Any) -> dict[str, Any]:
        return dict(manager().diff(session, a, b))

    def fork(session: Any, seq: Any = None, opts: Any = None) -> Any:
        o = checks.mapping(opts, "options")
        check_known_keys(o, FORK_KEYS, "options", noun="field")
        name = None if o.get("name") is None else checks.text(o["name"], "name")
        return table(fork_session(runtime, session, seq, name=name))

    def replay(session: Any, opts: Any = None) -> Any:
        o = checks.mapping(opts, "options")
        check_known_keys(o, REPLAY_KEYS, "options", noun="field")
        kwargs = _replay_options(engine, o)
        schedule = o.get("schedule")
        if schedule is None:
            return replay_session(runtime, session, **kwargs).to_dict()
        runs = _schedule(schedule)
        reports = []
        for i, delay in enumerate(runs):
            engine.limits.sleep(delay)
            reports.append(replay_session(runtime, session, **kwargs).to_dict())
            if i == 0 and len(runs) == 1:
                return reports[0]
        return reports

    return {"canReplay": can_replay, "replay": replay, "getReplayMetadata": metadata,
            "listReplayable": list_replayable, "stateAt": state_at, "diff": diff,
            "fork": fork}


def _replay_options(engine: LuaEngine, o: dict[str, Any]) -> dict[str, Any]:
    mode = o.get("mode", "exact")
    if isinstance(mode, dict):  # a Replay.modes value given as the mode
        mode = mode.get("mode")
    on_break = o.get("on_break")
    if on_break is not None and not isinstance(on_break, LuaFunction):
        raise ValidationError("on_break", "must be a function(entry, state)", got=on_break)
    if o.get("step") and on_break is None:
        raise ValidationError("on_break", "step mode needs a function(entry, state) to call "
                              "at each entry (the command line asks on the terminal)")
    timeout = o.get("timeout_seconds")
    modifications, context = _modifications(o.get("modifications"))
    kwargs: dict[str, Any] = {
        "mode": mode, "breakpoints": o.get("breakpoints"),
        "modifications": modifications, "context_changes": context,
        "compare_results": o.get("compare_results", True),
        "stop_on_error": o.get("stop_on_error", False),
        "timeout": None if timeout is None else checks.number(timeout, "timeout_seconds"),
        "keep": o.get("keep", True), "name": o.get("name")}
    if o.get("script") is not None:
        kwargs["script"] = checks.text(o["script"], "script")
    if on_break is not None:
        def pause(entry: dict[str, Any], state: dict[str, Any]) -> Any:
            return engine.call(on_break, entry, state)

        kwargs["on_break"] = pause
    return kwargs


def _modifications(value: Any) -> tuple[dict[int, dict[str, Any]] | None,
                                         dict[str, dict[str, Any]] | None]:
    """A list of ``Replay.create_modification`` values: the changed recorded results
    (``<seq>.<path>``) and rs-llmspell's hook context changes (``context.data.KEY``,
    ``context.metadata.KEY``)."""
    if value is None:
        return None, None
    items = checks.as_list(value)
    if not isinstance(items, list):
        raise ValidationError("modifications", "must be a list of Replay.create_modification "
                              "values", got=value)
    out: dict[int, dict[str, Any]] = {}
    changes: dict[str, dict[str, Any]] = {"data": {}, "metadata": {}}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise ValidationError("modifications", "must be {path = '<seq>.<path>', value = "
                                  "...}", path=f"[{i + 1}]", got=item)
        if item.get("enabled") is False:
            continue
        parts = item["path"].split(".")
        if len(parts) == 3 and parts[0] == "context" and parts[1] in ("data", "metadata"):
            changes[parts[1]][parts[2]] = item.get("value")
            continue
        seq, _, path = item["path"].partition(".")
        if not seq.isdigit() or not path:
            raise ValidationError("modifications", "a path is '<seq>.<path in the entry>' "
                                  "such as '12.result.output', or 'context.data.KEY' / "
                                  "'context.metadata.KEY'", path=f"[{i + 1}].path",
                                  got=item["path"])
        out.setdefault(int(seq), {})[path] = item.get("value")
    return out, (changes if changes["data"] or changes["metadata"] else None)


def _schedule(schedule: Any) -> list[float]:
    """The delays before each replay a schedule asks for."""
    if not isinstance(schedule, dict) or schedule.get("kind") not in ("once", "interval",
                                                                     "cron"):
        raise ValidationError("schedule", "must be a Replay.schedules value", got=schedule)
    kind = schedule["kind"]
    if kind == "once":
        return [checks.number(schedule.get("delay", 0), "schedule.delay", minimum=0)]
    if kind == "interval":
        first = checks.number(schedule.get("initial_delay", 0), "schedule.initial_delay",
                              minimum=0)
        every = checks.number(schedule.get("interval"), "schedule.interval", minimum=0)
        count = schedule.get("max_executions")
        if isinstance(count, bool) or not isinstance(count, int) or not (
                1 <= count <= MAX_EXECUTIONS):
            raise ValidationError("schedule.max_executions", f"must be an int from 1 to "
                                  f"{MAX_EXECUTIONS}: a script runs an interval schedule "
                                  "to its end", got=count)
        return [first] + [every] * (count - 1)
    raise ValidationError("schedule", "a cron schedule needs a process that stays up to run "
                          "it, which a script is not: run `llmspell session replay ID` from "
                          "the system's cron instead", got=schedule.get("expression"))
