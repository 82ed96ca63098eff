"""``Replay``: rs-llmspell's replay surface (modes, ``create_config``, ``create_modification``,
``schedules``, ``create_comparator():compare_json(a, b)``) and ``Replay.record{code=, name=,
args=, session=}``, which runs Lua code recorded in a session so it can be replayed.

The modes, configs, modifications and schedules are Lua tables (``llmspell/lua/scripts/
replay.lua``) whose fields ``Session.replay(id, config)`` reads; see ``docs/replay.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmspell.lua import checks
from llmspell.lua.globals.session import session_table
from llmspell.replay import compare, record_run
from llmspell.validation import check_known_keys

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine

RECORD_KEYS = ("code", "name", "args", "session")


def install(engine: LuaEngine) -> None:
    runtime = engine.runtime

    def compare_json(expected: Any, actual: Any) -> dict[str, Any]:
        return compare(expected, actual).to_dict()

    def record(opts: Any = None) -> dict[str, Any]:
        o = checks.mapping(opts, "options")
        check_known_keys(o, RECORD_KEYS, "options", noun="field")
        code = checks.text(o.get("code"), "code")
        name = checks.text(o.get("name", "script.lua"), "name", empty=False)
        args = [checks.text(a, f"args[{i + 1}]")
                for i, a in enumerate(checks.as_list(o.get("args")) or [])]
        result = record_run(runtime, code, name=name, args=args,
                            session=checks.handle_id(o.get("session")))
        error = result.error
        return {"session": session_table(result.session), "ok": error is None,
                "value": result.value if error is None else None,
                "error": None if error is None else str(error)}

    engine.install_global("Replay", {"compare": compare_json, "record": record}, "replay.lua",
                          unavailable=runtime.unavailable("sessions"))
