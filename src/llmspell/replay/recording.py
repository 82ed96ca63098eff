"""Recording a script run into a session's journal, so it can be replayed.

:func:`record_run` runs Lua source in a session (a new one, or an active one given) with the
session current, and journals around it:

- ``script.start`` ``{"path", "hash", "artifact_id", "args", "config_digest"}``: the script's
  name or path, the SHA-256 of its text, the artifact holding the text (``script/<name>``,
  stored in the session, content-addressed: a second run of the same text adds no bytes), its
  arguments and the SHA-256 of the effective configuration.
- ``script.inputs``: the clock, environment, random-seed and id reads, in batches
  (:mod:`llmspell.replay.tape`).
- ``llm.call`` / ``tool.call``: written by agents and tools as always.
- ``script.end`` ``{"ok", "result"}`` (the return value, when it is small plain data) or
  ``{"ok": false, "error", "error_type"}``.

A session created for the run is completed when the script succeeds (``os.exit(0)``
included) and failed when it raises or exits with another code; a session given is left as
it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from llmspell import intercept
from llmspell.codec import to_jsonable
from llmspell.errors import ScriptError, SessionError, ValidationError
from llmspell.journal import Draft
from llmspell.replay.source import RecordingSource
from llmspell.replay.tape import INPUTS, InputTape, install
from llmspell.validation import check_texts

START = "script.start"
MAX_RESULT_BYTES = 65536
END = "script.end"
SCRIPT_PREFIX = "script/"
TAG = "recorded"


@dataclass
class RunResult:
    """What a recorded (or replayed) run gave: the session, the script's return value, and
    its error (None when it succeeded)."""

    session: Any
    value: Any
    error: BaseException | None


def config_digest(config: Any) -> str:
    """SHA-256 of the effective configuration (canonical JSON)."""
    body = orjson.dumps(config.as_dict(), option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(body).hexdigest()


def record_run(runtime: Any, source: str | bytes, *, name: str, args: Sequence[str] = (),
               session: Any = None, tape: InputTape | None = None,
               calls: intercept.CallSource | None = None,
               metadata: dict[str, Any] | None = None,
               timeout: float | None = None) -> RunResult:
    """Run ``source`` (Lua) named ``name`` with ``args``, recorded (module doc).

    ``tape`` and ``calls`` replace the recording ones (a replay passes serving ones).
    ``timeout``: the run's wall-time limit in seconds (default: ``[engines.lua]``).
    Errors of the script are returned in the result, not raised; a limit or ``os.exit``
    is reported as that error too.

    Raises:
        ValidationError: a bad name, source or args.
        SessionNotFound / SessionError: the session given does not exist or is not active.
    """
    from llmspell.lua.engine import LuaEngine

    if not isinstance(name, str) or not name.strip():
        raise ValidationError("name", "must be the script's name or path, a non-empty string",
                              got=name)
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("source", "must be UTF-8 Lua text", got=source) from None
    if not isinstance(source, str):
        raise ValidationError("source", "must be Lua source text", got=source)
    args = check_texts(args, "args", "script arguments", ordered=True)
    sessions = runtime.sessions
    created = session is None
    if created:
        target = sessions.create(f"run {name}", tags=[TAG],
                                 metadata={"script": name, **(metadata or {})})
    else:
        target = sessions.get(session)
        if target.status != "active":
            raise SessionError(f"cannot record a run in session {target.id}: it is "
                               f"{target.status} (only an active session takes a run)")
    sid = target.id
    text = source.encode("utf-8")
    stored = runtime.artifacts.store(sid, SCRIPT_PREFIX + name, text,
                                     mime_type="text/x-lua", artifact_type="user_input",
                                     as_session=None)
    sessions.append_entries(sid, [Draft(START, {
        "path": name, "hash": hashlib.sha256(text).hexdigest(),
        "artifact_id": None if stored is None else stored.id, "args": list(args),
        "config_digest": config_digest(runtime.config)})])

    def sink(batch: list[list[Any]]) -> None:
        sessions.append_entries(sid, [Draft(INPUTS, {"inputs": batch})])

    if tape is None:
        tape = InputTape(sink)
    else:
        tape.sink = sink
    value: Any = None
    error: BaseException | None = None
    recording = calls or RecordingSource(tape, lambda: sessions.journal.last_seq(sid))
    with sessions.current(sid), intercept.installed(recording):
        engine = LuaEngine(runtime, args=list(args), script_name=name)
        if timeout is not None:
            engine.limits.timeout_seconds = timeout
        try:
            install(engine, tape)
            value = engine.run_string(source, name)
        except (ScriptError, Exception) as exc:  # ScriptExit, limits and Lua errors alike
            error = exc
        finally:
            engine.close()
            tape.flush()
    end = ending(error, value)
    sessions.append_entries(sid, [Draft(END, end)])
    if created:
        target = (sessions.complete(sid) if end["ok"]
                  else sessions.fail(sid, _clip(f"the script failed: {error}")))
    else:
        target = sessions.get(sid)
    return RunResult(target, value, error)


def ending(error: BaseException | None, value: Any = None) -> dict[str, Any]:
    """How a run ended, as ``script.end`` records it: ``ok``, the script's return value when
    it is plain data of at most :data:`MAX_RESULT_BYTES` (else ``result_kept: false``), and
    the error when it failed. ``os.exit(0)`` is a success that ends the script early."""
    from llmspell.lua.engine import ScriptExit

    if error is None or (isinstance(error, ScriptExit) and error.code == 0):
        try:
            plain, binary = to_jsonable(value, argument="result", max_bytes=MAX_RESULT_BYTES)
        except ValidationError:  # functions, or too big: the ending says it was not kept
            return {"ok": True, "result_kept": False}
        if binary:
            return {"ok": True, "result_kept": False}
        return {"ok": True, "result": plain}
    return {"ok": False, "error": str(error), "error_type": type(error).__name__}


def _clip(text: str) -> str:
    return text if len(text) <= 4000 else text[:3997] + "..."
