"""``Hook``: register Lua functions at hook points and fire points from Lua (DESIGN.md 7).

``Hook.register(point, fn[, priority])`` registers ``fn`` at ``point`` (``"state:before_write"``,
rs-llmspell's ``"BeforeAgentExecution"``, or ``"custom:<name>"``); ``priority`` is
``"highest"``, ``"high"``, ``"normal"`` (default), ``"low"``, ``"lowest"``, an integer, or a
table ``{priority=, name=, required=, time_budget=}``. It returns a handle with
``handle:unregister()``, ``handle:id()``, ``handle:hook_point()`` (the point's name),
``handle:enable()``, ``handle:disable()`` and the fields ``point``, ``name``, ``priority``.
``fn(ctx)`` receives the context as a table (``point``, ``component``, rs-llmspell's
``component_id = {type, name}``, ``correlation_id``, ``session_id``, ``data``,
``metadata``) and returns nil or
``{continue_execution = true}`` (continue), ``{action = "modified", data = ...}``,
``{action = "cancel", reason = "..."}``, ``{action = "retry", delay = s, attempts = n}`` or
``{action = "skip"}``.

``Hook.unregister(handle or id)`` -> true when it was registered; ``Hook.list([point or
{point= (or hook_point=), name=, state=, language=, priority=, tag=}])`` -> the registered
hooks as tables (with ``language``: ``lua`` for this script's, ``native`` for the others;
``tags``: none); ``Hook.fire(point[, data])``
runs the hooks at a point and returns the outcome table (``action``, ``data``, ``reason``...) as
that point honours it (``HookRegistry.decide``: a retry at a before-point is waited out and
fired again, at an after or error point it is returned; outcomes the point does not honour
are reported and come back as continue).
Registering at a point nothing fires yet logs a warning naming it (``Hook.list`` shows the
``notice``).
Hooks a script registers are removed when its engine closes.

The Lua half is ``llmspell/lua/scripts/hook.lua``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmspell.errors import ValidationError
from llmspell.hooks.points import PRIORITIES
from llmspell.intercept import context_changes
from llmspell.lua import checks
from llmspell.validation import check_known_keys

if TYPE_CHECKING:
    from llmspell.hooks import HookContext, HookHandle
    from llmspell.lua.engine import LuaEngine

OPTION_KEYS = ("priority", "name", "required", "time_budget")
FILTER_KEYS = ("point", "hook_point", "name", "state", "language", "priority", "tag")
#: rs-llmspell's component types, by the first part of a hook point's name.
COMPONENT_TYPES = {"agent": "Agent", "tool": "Tool", "workflow": "Workflow"}


def component_id(ctx: HookContext) -> dict[str, str]:
    """rs-llmspell's ``component_id = {type, name}`` of a hook context: the type from the
    point (``agent:...`` -> ``Agent``; ``System`` for the others), the name from the firer."""
    kind = COMPONENT_TYPES.get(ctx.point.partition(":")[0], "System")
    return {"type": kind, "name": ctx.component or "unknown"}

class ScriptHooks:
    """The Python half of ``Hook`` for one engine: remembers what the script registered."""

    def __init__(self, engine: LuaEngine) -> None:
        self.engine = engine
        self.registry = engine.runtime.hooks
        self.mine: dict[str, HookHandle] = {}

    def register(self, point: Any, fn: Any, priority: Any = None) -> dict[str, Any]:
        point = checks.text(point, "point")
        if not callable(fn):
            raise ValidationError("fn", "must be a function", got=fn)
        options: dict[str, Any] = {}
        if isinstance(priority, dict):
            check_known_keys(priority, OPTION_KEYS, "priority")
            options = dict(priority)
        elif priority is not None:
            options["priority"] = priority
        options.setdefault("priority", "normal")
        options.setdefault("name", f"lua:{self.engine.script_name}:{point}")

        def call(ctx: HookContext) -> Any:
            table = ctx.to_dict()
            table["component_id"] = component_id(ctx)
            changes = context_changes()
            if changes is not None:  # a replay with rs-llmspell's context modifications
                changes.apply(table)
            return fn(table)

        handle = self.registry.register(point, call, **options)
        self.mine[handle.id] = handle
        return {"id": handle.id, "point": handle.point, "name": handle.name,
                "priority": handle.priority, "notice": handle.notice}

    def unregister(self, hook_id: Any) -> bool:
        hook_id = checks.text(hook_id, "handle")
        self.mine.pop(hook_id, None)
        return bool(self.registry.unregister(hook_id))

    def enable(self, hook_id: Any) -> None:
        self.registry.enable(checks.text(hook_id, "handle"))

    def disable(self, hook_id: Any) -> None:
        self.registry.disable(checks.text(hook_id, "handle"))

    def list(self, selector: Any = None) -> list[dict[str, Any]]:
        if selector is None:
            handles = self.registry.list()
        elif isinstance(selector, str):
            handles = self.registry.list(selector)
        elif isinstance(selector, dict):
            check_known_keys(selector, FILTER_KEYS, "filter", noun="field")
            if selector.get("point") is not None and selector.get("hook_point") is not None:
                raise ValidationError("filter", "give point or hook_point (rs-llmspell's "
                                      "name for it), not both")
            handles = self.registry.list(selector.get("point", selector.get("hook_point")),
                                         name=selector.get("name"), state=selector.get("state"),
                                         where=self._where(selector))
        else:
            raise ValidationError("filter", "must be nil, a point name or a table", got=selector)
        return [self._entry(h) for h in handles]

    def _language(self, handle: HookHandle) -> str:
        return "lua" if handle.id in self.mine else "native"

    def _entry(self, handle: HookHandle) -> dict[str, Any]:
        return {**handle.to_dict(), "language": self._language(handle), "tags": []}

    def _where(self, selector: dict[str, Any]) -> Any:
        """rs-llmspell's filters: ``language`` (``lua`` for this script's hooks, ``native``
        for the others), ``priority`` (a name or a number), ``tag`` (a hook's tags; ours have
        none, so a tag matches no hook)."""
        language, priority, tag = (selector.get(k) for k in ("language", "priority", "tag"))
        if language is None and priority is None and tag is None:
            return None
        if language is not None:
            language = checks.text(language, "filter.language").lower()
        if isinstance(priority, str):
            if priority.lower() not in PRIORITIES:
                raise ValidationError("filter", f"priority must be one of "
                                      f"{', '.join(PRIORITIES)} or a number", path=".priority",
                                      got=priority)
            priority = PRIORITIES[priority.lower()]
        elif priority is not None:
            priority = checks.number(priority, "filter.priority")
        if tag is not None:
            checks.text(tag, "filter.tag")

        def keep(handle: HookHandle) -> bool:
            return ((language is None or self._language(handle) == language)
                    and (priority is None or handle.priority == priority) and tag is None)
        return keep

    def fire(self, point: Any, data: Any = None) -> dict[str, Any]:
        outcome = self.registry.decide(checks.text(point, "point"), data,
                                       component=f"lua:{self.engine.script_name}")
        return outcome.to_dict()

    def close(self) -> None:
        """Remove every hook this script registered (its functions die with the engine)."""
        for hook_id in list(self.mine):
            self.registry.unregister(hook_id)
        self.mine.clear()


def install(engine: LuaEngine) -> None:
    hooks = ScriptHooks(engine)
    engine.on_close(hooks.close)
    engine.install_global("Hook", {
        "register": hooks.register, "unregister": hooks.unregister, "enable": hooks.enable,
        "disable": hooks.disable, "list": hooks.list, "fire": hooks.fire,
    }, "hook.lua", takes_functions=("register",))
