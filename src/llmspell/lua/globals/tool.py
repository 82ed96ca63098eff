"""``Tool``: list, inspect, call and define tools from Lua (rs-llmspell's ``Tool`` global).

``Tool.list()`` -> ``{ {name, description, category, security_level, version, available}, ...}``;
``Tool.get(name)`` -> that plus ``parameters`` (the JSON Schema), ``schema`` (rs-llmspell's
``{name, description, parameters = { {name, type, description, required, default}, ...}}``) and
``execute``, or nil; ``Tool.invoke(name, params)`` -> ``{text, result, metadata, success}``;
``Tool.exists(name)``; ``Tool.categories()``; ``Tool.discover({category=, capability=,
security_level=, text=, tag=, available=})``; ``Tool.register{name, description, schema (or
parameters), fn, category, security_level}`` defines a tool whose ``fn(params)`` runs in the
script (removed when the script's engine closes); ``Tool.<name>`` is the tool as a table:
``Tool.calculator({input = "1+2"})``, ``Tool.calculator:execute({...})`` and
``Tool.calculator.getSchema()``.

Every call goes through ``rt.tools`` (security, hooks, events, journal, artifacts). The Lua half
is ``llmspell/lua/scripts/tool.lua``.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from llmspell.errors import ValidationError
from llmspell.lua import checks
from llmspell.tools.base import Tool
from llmspell.validation import check_known_keys

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine
    from llmspell.tools import ToolService

REGISTER_KEYS = ("name", "description", "schema", "parameters", "fn", "execute", "category",
                 "security_level", "capabilities")
_TYPES = {"string", "number", "integer", "boolean", "object", "array", "null"}


def rs_schema(item: Tool) -> dict[str, Any]:
    """rs-llmspell's schema shape: a list of parameters with name, type, required."""
    props = item.parameters.get("properties", {}) or {}
    required = set(item.parameters.get("required", ()) or ())
    params = []
    for name, prop in props.items():
        entry: dict[str, Any] = {"name": name, "type": prop.get("type", "any")
                                 if isinstance(prop, dict) else "any",
                                 "description": prop.get("description", "")
                                 if isinstance(prop, dict) else "",
                                 "required": name in required}
        if isinstance(prop, dict) and "default" in prop:
            entry["default"] = prop["default"]
        params.append(entry)
    return {"name": item.name, "description": item.description, "parameters": params}


def schema_from_lua(value: Any, argument: str) -> dict[str, Any]:
    """A JSON Schema from what a script gave: a JSON Schema table, or rs-llmspell's list of
    ``{name, type, description, required}``. Empty Lua tables become ``{}`` / ``[]`` where the
    schema needs them."""
    if value is None:
        return {"type": "object", "properties": {}}
    if isinstance(value, list):
        props: dict[str, Any] = {}
        required = []
        for i, param in enumerate(value, start=1):
            if not isinstance(param, dict) or not isinstance(param.get("name"), str):
                raise ValidationError(argument, "each parameter must be a table with a name",
                                      path=f"[{i}]", got=param)
            prop = {k: param[k] for k in ("type", "description", "default", "enum")
                    if k in param}
            if prop.get("type") not in _TYPES:
                prop.pop("type", None)
            props[param["name"]] = prop
            if param.get("required"):
                required.append(param["name"])
        schema: dict[str, Any] = {"type": "object", "properties": props}
        if required:
            schema["required"] = required
        return schema
    if not isinstance(value, dict):
        raise ValidationError(argument, "must be a JSON Schema table or a list of parameters",
                              got=value)
    schema = dict(value)
    if schema.get("properties") == []:
        schema["properties"] = {}
    if schema.get("required") == {}:
        schema["required"] = []
    schema.setdefault("type", "object")
    return schema


class ScriptTools:
    """The Python half of ``Tool`` for one engine: remembers the tools the script defined."""

    def __init__(self, engine: LuaEngine) -> None:
        self.engine = engine
        self._service: ToolService | None = None
        self.mine: list[str] = []

    @property
    def service(self) -> ToolService:
        if self._service is None:
            self._service = self.engine.runtime.tools
        return self._service

    def list(self) -> list[dict[str, Any]]:
        return [_summary(t) for t in self.service.list()]

    def get(self, name: Any) -> dict[str, Any] | None:
        name = checks.text(name, "name")
        if not self.service.exists(name):
            return None
        item = self.service.get(name)
        return {**_summary(item), "parameters": dict(item.parameters),
                "capabilities": list(item.capabilities), "timeout": item.timeout,
                "schema": rs_schema(item)}

    def invoke(self, name: Any, params: Any = None) -> dict[str, Any]:
        name = checks.text(name, "name")
        params = checks.mapping(params, "params")
        return self.service.invoke(name, params).to_dict()

    def exists(self, name: Any) -> bool:
        return self.service.exists(checks.text(name, "name"))

    def categories(self) -> builtins.list[str]:
        return self.service.categories()

    def discover(self, filters: Any = None) -> builtins.list[dict[str, Any]]:
        chosen = checks.mapping(filters, "filter")
        return [_summary(t) for t in self.service.discover(chosen)]

    def register(self, spec: Any) -> dict[str, Any]:
        spec = checks.mapping(spec, "spec", optional=False)
        check_known_keys(spec, REGISTER_KEYS, "spec", noun="field")
        fn = spec.get("fn") or spec.get("execute")
        if not callable(fn):
            raise ValidationError("spec", "must be a function (the tool's code)", path="$.fn",
                                  got=fn)
        schema = schema_from_lua(spec.get("schema", spec.get("parameters")), "spec")

        def run(params: dict[str, Any], ctx: Any) -> Any:
            return fn(params)

        item = Tool(spec.get("name"), spec.get("description", ""), parameters=schema,
                    category=spec.get("category", "custom"),
                    security_level=spec.get("security_level", "safe"),
                    capabilities=spec.get("capabilities") or (), fn=run, inline=True,
                    timeout=None)
        self.service.register(item, replace=item.name in self.mine)
        if item.name not in self.mine:
            self.mine.append(item.name)
        return _summary(item)

    def unregister(self, name: Any) -> bool:
        name = checks.text(name, "name")
        if name in self.mine:
            self.mine.remove(name)
        return self.service.unregister(name)

    def close(self) -> None:
        """Remove the tools this script defined (their functions die with the engine)."""
        if self._service is not None:
            for name in self.mine:
                self._service.unregister(name)
        self.mine.clear()


def _summary(item: Tool) -> dict[str, Any]:
    missing = item.available()
    return {"name": item.name, "description": item.description, "category": item.category,
            "security_level": item.security_level, "version": item.version,
            "available": missing is None, "unavailable_reason": missing}


def install(engine: LuaEngine) -> None:
    tools = ScriptTools(engine)
    engine.on_close(tools.close)
    engine.install_global("Tool", {
        "list": tools.list, "get": tools.get, "invoke": tools.invoke, "exists": tools.exists,
        "categories": tools.categories, "discover": tools.discover,
        "register": tools.register, "unregister": tools.unregister,
    }, "tool.lua", takes_functions=("register",))
