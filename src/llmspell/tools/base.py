"""The tool contract: what a tool is, how its parameters are checked, what a call gives back.

A :class:`Tool` has a name, a description, a category, a JSON Schema of its parameters, a
security level (``safe`` < ``restricted`` < ``privileged``), a timeout and ``execute(params,
ctx)``. Parameters are checked against the schema (the ``jsonschema`` library) before
``execute`` runs; a bad one raises :class:`~llmspell.errors.ValidationError` naming the
parameter's path and the rule it broke.

Tools run through :class:`~llmspell.tools.service.ToolService` (``rt.tools``), which adds
security, hooks, events, the journal and artifacts; :meth:`Tool.call` is the shape agents use
(``name``, ``description``, ``parameters``, ``call(dict)``, ``spec()``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from llmspell.errors import ValidationError
from llmspell.providers.base import ToolSpec
from llmspell.tools.quickcheck import compile_check

if TYPE_CHECKING:
    from llmspell.paths import Confinement
    from llmspell.redact import Redactor

#: Security levels, lowest first. ``[runtime.security] max_security_level`` caps them.
LEVELS = ("safe", "restricted", "privileged")
#: Tool categories (rs-llmspell's ``ToolCategory``); a user tool may name any other one.
CATEGORIES = ("utility", "data", "filesystem", "system", "web", "api", "media", "custom")
EMPTY_SCHEMA: Mapping[str, Any] = {"type": "object", "properties": {}}
NAME_RULE = "must be 1-64 characters from A-Z a-z 0-9 _ - (what model APIs accept)"


def check_level(level: Any, argument: str = "security_level") -> str:
    """``level`` if it is one of :data:`LEVELS`, else ValidationError."""
    if level in LEVELS:
        return str(level)
    raise ValidationError(argument, f"must be one of {', '.join(LEVELS)}", got=level)


def check_tool_name(name: Any, argument: str = "name") -> str:
    import re

    if isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        return name
    raise ValidationError(argument, NAME_RULE, got=name)


@dataclass
class ToolContext:
    """What a running tool may use besides its parameters.

    ``confinement`` decides which files it may touch (file tools resolve every path through
    it); ``redactor`` hides secrets; ``session_id`` and ``correlation_id`` say where the call
    belongs; ``security`` (a :class:`~llmspell.tools.security.ToolSecurity`) answers the
    other ``[runtime.security]`` questions (may it start this program?).
    """

    confinement: Confinement
    redactor: Redactor
    session_id: str | None = None
    correlation_id: str | None = None
    security: Any = None

    def resolve(self, path: Any, *, tool: str, argument: str, write: bool = False) -> str:
        """The real path of the parameter ``argument`` if the tool may use it
        (:meth:`llmspell.paths.Confinement.resolve`)."""
        return self.confinement.resolve(path, what=tool, write=write, argument=argument)


@dataclass(frozen=True)
class ToolOutput:
    """A call's result: ``text`` (the result as text, what a model sees), the structured
    ``result`` and ``metadata`` (tool, latency, fingerprint, correlation id)."""

    text: str
    result: Any
    metadata: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "result": self.result, "metadata": self.metadata,
                "success": True}


def result_text(value: Any) -> str:
    """A result as text: a string as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()


class Tool:
    """One tool. Subclass and override :meth:`execute`, or give ``fn`` (``fn(params, ctx)``).

    Args:
        name: 1-64 characters from ``A-Z a-z 0-9 _ -``.
        description: what it does (models read it).
        parameters: a JSON Schema of an object (checked when the tool is made).
        category: one of :data:`CATEGORIES` or a name of your own.
        security_level: ``safe``, ``restricted`` or ``privileged``.
        timeout: seconds a call may take (None: no limit; see ToolService).
        capabilities: words discovery can filter on (``"files"``, ``"regex"``...).
        inline: run in the caller's thread (Lua functions must); timeouts are then not enforced.

    ``secret_fields`` (class attribute): dotted argument paths (``"auth.key"``) that hold
    credentials; the journal shows them as ``[REDACTED]`` whatever their names.
    """

    name: str = ""
    description: str = ""
    category: str = "custom"
    security_level: str = "safe"
    timeout: float | None = 30.0
    parameters: Mapping[str, Any] = EMPTY_SCHEMA
    capabilities: tuple[str, ...] = ()
    inline: bool = False
    version: str = "1.0.0"
    secret_fields: tuple[str, ...] = ()

    def __init__(self, name: str | None = None, description: str | None = None, *,
                 parameters: Mapping[str, Any] | None = None, category: str | None = None,
                 security_level: str | None = None, timeout: float | Any | None = ...,
                 capabilities: tuple[str, ...] | list[str] | None = None,
                 fn: Callable[[dict[str, Any], ToolContext], Any] | None = None,
                 inline: bool | None = None) -> None:
        self.name = check_tool_name(name if name is not None else self.name)
        if description is not None:
            self.description = description
        if not isinstance(self.description, str):
            raise ValidationError("description", "must be a string", got=self.description)
        if category is not None:
            self.category = category
        if not isinstance(self.category, str) or not self.category:
            raise ValidationError("category", "must be a non-empty string", got=self.category)
        self.security_level = check_level(security_level if security_level is not None
                                          else self.security_level)
        if timeout is not ...:
            self.timeout = timeout
        if self.timeout is not None and (isinstance(self.timeout, bool) or not isinstance(
                self.timeout, int | float) or self.timeout <= 0):
            raise ValidationError("timeout", "must be a positive number of seconds or None",
                                  got=self.timeout)
        if capabilities is not None:
            self.capabilities = tuple(capabilities)
        if inline is not None:
            self.inline = inline
        if fn is None and type(self).execute is Tool.execute:
            raise ValidationError("fn", f"tool {self.name!r} needs fn(params, ctx) or an "
                                  "execute method", got=fn)
        self._fn = fn
        self.parameters = dict(parameters if parameters is not None else self.parameters)
        self._validator = make_validator(self.parameters)
        self._accepts = compile_check(self.parameters)
        self._invoker: Callable[..., ToolOutput] | None = None

    @classmethod
    def from_config(cls, config: Any) -> Tool:
        """A new instance for a runtime with ``config``; tools with settings of their own
        (``[tools.*]``) override this to read them."""
        return cls()

    # -- what a subclass provides ---------------------------------------------------------

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        """Do the work; ``params`` are already checked against :attr:`parameters`."""
        assert self._fn is not None  # __init__ refuses a tool with neither
        return self._fn(params, ctx)

    def available(self) -> str | None:
        """Why this tool cannot work on this machine (a missing program), or None."""
        return None

    # -- the contract ---------------------------------------------------------------------

    def validate(self, params: Any) -> dict[str, Any]:
        """``params`` if they satisfy the schema.

        Raises:
            ValidationError: argument ``params``, the path of the first bad parameter
                (``$.variables.x``) and the rule (``is not of type 'number'``).
        """
        if not isinstance(params, dict):
            raise ValidationError("params", f"tool {self.name!r} takes a table of parameters",
                                  got=params)
        accepts = self._accepts
        if accepts is not None and accepts(params):
            return params  # surely valid: the full check would find nothing (quickcheck)
        errors = sorted(self._validator.iter_errors(params), key=_error_order)
        if errors:
            first = errors[0]
            path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                                 for p in first.absolute_path)
            more = f" ({len(errors) - 1} more)" if len(errors) > 1 else ""
            raise ValidationError("params", f"tool {self.name!r}: {first.message}{more}",
                                  path=path)
        return params

    def spec(self) -> ToolSpec:
        """The definition providers send to a model (their tool-call formats build on it)."""
        return ToolSpec(self.name, self.description, dict(self.parameters))

    to_spec = spec

    def info(self) -> dict[str, Any]:
        """Everything ``Tool.get`` and ``llmspell tool show`` show."""
        missing = self.available()
        return {"name": self.name, "description": self.description, "category": self.category,
                "security_level": self.security_level, "timeout": self.timeout,
                "version": self.version, "capabilities": list(self.capabilities),
                "parameters": dict(self.parameters), "available": missing is None,
                "unavailable_reason": missing}

    def metadata(self) -> dict[str, Any]:
        """rs-llmspell's tool metadata shape (what agents list)."""
        return self.info()

    def as_agent_tool(self) -> dict[str, Any]:
        """The tool as an agent takes it (``rt.agents.create(..., tools=[...])``): name,
        description, parameters and ``fn``. Calls go through the tool service (security,
        hooks, artifacts); the agent journals each one, so the service does not."""
        def fn(arguments: dict[str, Any]) -> Any:
            if self._invoker is None:
                return self.call(arguments)
            return self._invoker(self.name, arguments, record=False).result

        return {"name": self.name, "description": self.description,
                "parameters": dict(self.parameters), "fn": fn,
                "secret_fields": self.secret_fields}

    def bind(self, invoker: Callable[..., ToolOutput]) -> Tool:
        """Route :meth:`call` through ``invoker`` (the ToolService the tool is registered on)."""
        self._invoker = invoker
        return self

    def call(self, arguments: dict[str, Any]) -> Any:
        """Run the tool with ``arguments`` and return its result: through the ToolService it
        is registered on (security, hooks, journal), else validated and run directly."""
        if self._invoker is not None:
            return self._invoker(self.name, arguments).result
        from llmspell.paths import Confinement
        from llmspell.redact import DEFAULT

        return self.execute(self.validate(arguments), ToolContext(Confinement(["."]), DEFAULT))

    def __repr__(self) -> str:
        return f"<Tool {self.name} {self.category}/{self.security_level}>"


def make_validator(schema: Any) -> Any:
    """A jsonschema validator for ``schema``; ValidationError if it is not a valid schema of
    an object."""
    validator = schema_validator(schema, "parameters")
    if schema.get("type", "object") != "object":
        raise ValidationError("parameters", "must describe an object (type = 'object')",
                              path="$.type", got=schema.get("type"))
    return validator


def schema_validator(schema: Any, argument: str, path: str = "$") -> Any:
    """A jsonschema validator for any JSON Schema (draft 2020-12 unless ``$schema`` says);
    ValidationError naming ``argument`` and the bad part of the schema otherwise."""
    import jsonschema

    if not isinstance(schema, Mapping):
        raise ValidationError(argument, "must be a JSON Schema (a table)", path=path,
                              got=schema)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        seen = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        seen = None  # not plain JSON: checked every time
    if seen is None or seen not in _CHECKED:
        try:
            cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = path + "".join(f".{p}" for p in exc.absolute_path)
            raise ValidationError(argument, f"is not a valid JSON Schema: {exc.message}",
                                  path=where) from None
        if seen is not None and len(_CHECKED) < _CHECKED_MAX:
            _CHECKED.add(seen)
    return cls(schema)


#: Schemas (canonical JSON) already found valid in this process: checking one costs about
#: 16 ms, and every runtime builds the same thirty built-in tools.
_CHECKED: set[bytes] = set()
_CHECKED_MAX = 4096


def _error_order(error: Any) -> tuple[int, str]:
    return (len(error.absolute_path), str(list(error.absolute_path)))


__all__ = ["CATEGORIES", "LEVELS", "Tool", "ToolContext", "ToolOutput", "check_level",
           "make_validator", "result_text"]
