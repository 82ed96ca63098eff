"""Workflow definitions: what a script or Python code describes, checked and made plain.

:func:`parse_definition` turns the table given to ``Workflow.sequential/parallel/conditional/
loop`` (rs-llmspell v0.6.0's shapes, plus ours) into a :class:`Definition` of :class:`Step`,
:class:`Branch` and :class:`LoopSpec`, refusing bad input with a ValidationError that names
the argument, the path inside it and the rule. :func:`describe` gives the definition as plain
JSON (a function step shows as ``{"function": name}``): that is what a durable run stores and
what resume compares (the code of a function step is not stored: the script that defines the
workflow must define it again, as DBOS and Temporal require the code).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from llmspell.errors import ValidationError
from llmspell.validation import check_flag, check_known_keys, check_name
from llmspell.workflows.conditions import Condition, parse_condition

KINDS = ("sequential", "parallel", "conditional", "loop")
STEP_TYPES = ("tool", "agent", "function", "workflow")
#: rs-llmspell's and other spellings of a step type.
TYPE_ALIASES = {"lua": "function", "custom": "function", "python": "function",
                "nested": "workflow"}
STRATEGIES = ("fail_fast", "continue", "retry")

STEP_KEYS = ("name", "type", "tool", "agent", "fn", "func", "function", "workflow", "input",
             "parameters", "timeout_ms", "timeout", "retry_count", "retries", "max_retries",
             "backoff_ms", "output_key", "description")
COMMON_KEYS = ("name", "description", "error_strategy", "timeout_ms", "timeout", "shared",
               "max_retries", "backoff_ms")
KIND_KEYS = {
    "sequential": ("steps",),
    "parallel": ("steps", "branches", "max_concurrency", "distributed"),
    "conditional": ("branches", "default", "default_branch", "steps"),
    "loop": ("iterator", "range", "collection", "while", "while_condition", "body", "steps",
             "max_iterations", "break_if", "break_conditions"),
}


@dataclass
class Step:
    """One step: ``kind`` says which of ``tool``/``agent``/``fn``/``workflow`` it calls."""

    name: str
    kind: str
    target: Any  # tool name, agent name, the callable, or the nested Definition
    input: Any = None
    timeout: float | None = None
    retries: int | None = None  # None: the workflow's error strategy decides
    backoff: float | None = None
    output_key: str | None = None
    function_name: str | None = None  # what a function step is known by in the record
    description: str = ""


@dataclass
class Branch:
    """A parallel branch (a sequence of steps) or a conditional branch (with its condition)."""

    name: str
    steps: list[Step]
    condition: Condition | None = None


@dataclass
class LoopSpec:
    """How a loop iterates: over ``values`` (a range or collection), or ``while`` holds."""

    values: list[Any] | None
    while_: Condition | None
    max_iterations: int
    break_if: list[Condition] = field(default_factory=list)


@dataclass
class Definition:
    """A checked workflow definition (see the module docstring)."""

    name: str
    kind: str
    description: str = ""
    steps: list[Step] = field(default_factory=list)
    branches: list[Branch] = field(default_factory=list)
    default: list[Step] = field(default_factory=list)
    loop: LoopSpec | None = None
    error_strategy: str = "fail_fast"
    max_retries: int = 0
    backoff: float = 0.0
    max_concurrency: int = 1
    distributed: bool = False  # a parallel's branches run as worker jobs (distributed.py)
    timeout: float | None = None
    shared: dict[str, Any] = field(default_factory=dict)

    def step_names(self) -> list[str]:
        """Every step name of this definition and its nested workflows."""
        found: list[str] = []
        for step in all_steps(self):
            found.append(step.name)
            if step.kind == "workflow":
                found.extend(step.target.step_names())
        return found


def all_steps(definition: Definition) -> list[Step]:
    """The steps of ``definition`` itself (not of nested workflows), in definition order."""
    steps = list(definition.steps)
    for branch in definition.branches:
        steps.extend(branch.steps)
    steps.extend(definition.default)
    return steps


Resolve = Callable[[Any, str], "Definition"]


def parse_definition(kind: str, spec: Any, *, resolve: Resolve, settings: Mapping[str, Any],
                     argument: str = "config") -> Definition:
    """Check ``spec`` (a table of a ``kind`` workflow) and build its Definition.

    ``resolve(value, path)`` turns the ``workflow`` of a nested step (a handle, a Workflow, an
    id or a name) into its Definition. ``settings``: ``max_concurrency`` and
    ``max_iterations`` defaults (``[workflows]``).

    Raises:
        ValidationError: the kind is unknown, or the spec breaks a rule (names the path).
    """
    if kind not in KINDS:
        raise ValidationError("kind", "must be one of " + ", ".join(KINDS), got=kind)
    if not isinstance(spec, Mapping):
        raise ValidationError(argument, "must be a table of the workflow's fields", got=spec)
    check_known_keys(spec, COMMON_KEYS + KIND_KEYS[kind], argument, noun="field")
    name = check_name(spec.get("name"), argument=argument)
    definition = Definition(name=name, kind=kind,
                            description=_text(spec.get("description", ""), argument,
                                              "$.description"))
    _strategy(definition, spec, argument)
    definition.timeout = _seconds(spec, argument, "$")
    shared = spec.get("shared", {})
    if not isinstance(shared, Mapping):
        raise ValidationError(argument, "must be a table of initial shared data",
                              path="$.shared", got=shared)
    definition.shared = dict(shared)
    steps_of = _StepParser(argument, resolve)
    if kind == "sequential":
        definition.steps = steps_of.many(spec.get("steps"), "$.steps", required=True)
    elif kind == "parallel":
        _parallel(definition, spec, steps_of, settings, argument)
    elif kind == "conditional":
        _conditional(definition, spec, steps_of, argument)
    else:
        _loop(definition, spec, steps_of, settings, argument)
    _unique(definition, argument)
    return definition


def _parallel(definition: Definition, spec: Mapping[str, Any], steps_of: _StepParser,
              settings: Mapping[str, Any], argument: str) -> None:
    key = "branches" if "branches" in spec else "steps"
    items = _list(spec.get(key), argument, f"$.{key}", required=True)
    for i, item in enumerate(items, start=1):
        path = f"$.{key}[{i}]"
        if isinstance(item, Mapping) and "steps" in item and "type" not in item:
            check_known_keys(item, ("name", "steps"), argument, noun="field", path=path)
            label = check_name(item.get("name", f"branch_{i}"), argument=argument)
            definition.branches.append(
                Branch(label, steps_of.many(item.get("steps"), f"{path}.steps", required=True)))
        else:
            step = steps_of.one(item, path)
            definition.branches.append(Branch(step.name, [step]))
    limit = spec.get("max_concurrency", settings["max_concurrency"])
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValidationError(argument, "must be an integer >= 1", path="$.max_concurrency",
                              got=limit)
    definition.max_concurrency = limit
    distributed = spec.get("distributed", settings.get("parallel_on_workers", False))
    check_flag(distributed, argument, path="$.distributed")
    if distributed:
        for i, branch in enumerate(definition.branches, start=1):
            where = code_in([_describe_step(s) for s in branch.steps], f"$.branches[{i}]")
            if where is not None:
                raise ValidationError(
                    argument, "a branch that runs on workers cannot hold a Lua/Python "
                    f"function (at {where}): its code cannot travel to another process; "
                    "use tools, agents and declared conditions, or set distributed = false",
                    path="$.distributed")
    definition.distributed = distributed


def code_in(value: Any, path: str) -> str | None:
    """Where the described steps ``value`` hold code (a function step, a function condition
    or input), or None: what cannot be rebuilt in another process."""
    if value == "<function>":
        return path
    if isinstance(value, Mapping):
        if value.get("type") == "function":
            return f"{path} (function step {value.get('name')!r})"
        for key, item in value.items():
            if (found := code_in(item, f"{path}.{key}")) is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value, start=1):
            if (found := code_in(item, f"{path}[{i}]")) is not None:
                return found
    return None


def _conditional(definition: Definition, spec: Mapping[str, Any], steps_of: _StepParser,
                 argument: str) -> None:
    items = _list(spec.get("branches"), argument, "$.branches", required=True)
    for i, item in enumerate(items, start=1):
        path = f"$.branches[{i}]"
        if not isinstance(item, Mapping):
            raise ValidationError(argument, "must be a table {condition, steps}", path=path,
                                  got=item)
        check_known_keys(item, ("name", "condition", "steps"), argument, noun="field",
                         path=path)
        if "condition" not in item:
            raise ValidationError(argument, "a branch needs a condition", path=path)
        label = check_name(item.get("name", f"branch_{i}"), argument=argument)
        definition.branches.append(Branch(
            label, steps_of.many(item.get("steps"), f"{path}.steps", required=True),
            parse_condition(item["condition"], argument, f"{path}.condition")))
    fallback = spec.get("default", spec.get("default_branch"))
    if isinstance(fallback, Mapping) and "steps" in fallback:
        fallback = fallback["steps"]
    if fallback is not None:
        definition.default = steps_of.many(fallback, "$.default", required=False)


def _loop(definition: Definition, spec: Mapping[str, Any], steps_of: _StepParser,
          settings: Mapping[str, Any], argument: str) -> None:
    source: Mapping[str, Any] = spec
    path = "$"
    if "iterator" in spec:  # rs-llmspell's form: iterator = {range=|collection=|while_condition=}
        source, path = spec["iterator"], "$.iterator"
        if not isinstance(source, Mapping):
            raise ValidationError(argument, "must be a table with range, collection or while",
                                  path=path, got=source)
    limit = source.get("max_iterations", spec.get("max_iterations",
                                                  settings["max_iterations"]))
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValidationError(argument, "must be an integer >= 1", path=f"{path}.max_iterations",
                              got=limit)
    given = [k for k in ("range", "collection", "while", "while_condition") if k in source]
    if len(given) != 1:
        raise ValidationError(argument, "a loop needs exactly one of range, collection or while",
                              path=path, got=sorted(given))
    values: list[Any] | None = None
    condition = None
    if given[0] == "range":
        values = _range(source["range"], argument, f"{path}.range")
    elif given[0] == "collection":
        values = _list(source["collection"], argument, f"{path}.collection", required=False)
    else:
        condition = parse_condition(source[given[0]], argument, f"{path}.{given[0]}")
    if values is not None and len(values) > limit:
        raise ValidationError(argument, f"the loop has {len(values)} iterations, more than "
                              f"max_iterations ({limit})", path=path)
    breaks_given = spec.get("break_if", spec.get("break_conditions"))
    breaks = []
    if breaks_given is not None:
        listed = breaks_given if isinstance(breaks_given, list) else [breaks_given]
        breaks = [parse_condition(c, argument, f"$.break_if[{i}]")
                  for i, c in enumerate(listed, start=1)]
    body_key = "body" if "body" in spec else "steps"
    definition.steps = steps_of.many(spec.get(body_key), f"$.{body_key}", required=True)
    definition.loop = LoopSpec(values, condition, limit, breaks)


def _range(value: Any, argument: str, path: str) -> list[int]:
    """``{start=1, ["end"]=n, step=1}``, inclusive of ``end`` (as Lua's numeric for)."""
    if not isinstance(value, Mapping):
        raise ValidationError(argument, "must be a table {start, end, step}", path=path,
                              got=value)
    check_known_keys(value, ("start", "end", "step"), argument, noun="field", path=path)
    start, stop, step = value.get("start", 1), value.get("end"), value.get("step", 1)
    for label, number in (("start", start), ("end", stop), ("step", step)):
        if not isinstance(number, int) or isinstance(number, bool):
            raise ValidationError(argument, "must be an integer", path=f"{path}.{label}",
                                  got=number)
    assert isinstance(start, int) and isinstance(stop, int) and isinstance(step, int)
    if step == 0:
        raise ValidationError(argument, "must not be 0", path=f"{path}.step", got=step)
    return list(range(start, stop + (1 if step > 0 else -1), step))


class _StepParser:
    def __init__(self, argument: str, resolve: Resolve) -> None:
        self.argument = argument
        self.resolve = resolve

    def many(self, items: Any, path: str, *, required: bool) -> list[Step]:
        listed = _list(items, self.argument, path, required=required)
        return [self.one(item, f"{path}[{i}]") for i, item in enumerate(listed, start=1)]

    def one(self, item: Any, path: str) -> Step:
        argument = self.argument
        if not isinstance(item, Mapping):
            raise ValidationError(argument, "a step must be a table {name, type, ...}",
                                  path=path, got=item)
        check_known_keys(item, STEP_KEYS, argument, noun="field", path=path)
        name = item.get("name")
        if not isinstance(name, str) or not name or "/" in name or "#" in name:
            raise ValidationError(argument, "a step needs a name (a non-empty string without "
                                  "'/' or '#')", path=f"{path}.name", got=name)
        kind = _step_type(item, argument, path)
        step = Step(name, kind, None, item.get("input", item.get("parameters")),
                    description=_text(item.get("description", ""), argument,
                                      f"{path}.description"))
        if kind == "tool":
            step.target = _required_text(item, "tool", argument, path)
        elif kind == "agent":
            agent = item.get("agent")
            if isinstance(agent, Mapping):
                agent = agent.get("name")
            if not isinstance(agent, str) or not agent:
                raise ValidationError(argument, "an agent step names its agent",
                                      path=f"{path}.agent", got=item.get("agent"))
            step.target = agent
        elif kind == "function":
            fn = item.get("fn", item.get("func", item.get("function")))
            if not callable(fn):
                raise ValidationError(argument, "a function step needs fn, a function",
                                      path=f"{path}.fn", got=fn)
            step.target = fn
            step.function_name = name
        else:
            step.target = self.resolve(item.get("workflow"), f"{path}.workflow")
        step.timeout = _seconds(item, argument, path)
        retries = item.get("retries", item.get("retry_count", item.get("max_retries")))
        if retries is not None:
            step.retries = _count(retries, argument, f"{path}.retries")
        if "backoff_ms" in item:
            step.backoff = _count(item["backoff_ms"], argument, f"{path}.backoff_ms") / 1000
        if "output_key" in item:
            step.output_key = _required_text(item, "output_key", argument, path)
        return step


def _step_type(item: Mapping[str, Any], argument: str, path: str) -> str:
    kind = item.get("type")
    if kind is None:  # inferred from the one target field given
        present = [k for k, t in (("tool", "tool"), ("agent", "agent"), ("fn", "function"),
                                  ("func", "function"), ("function", "function"),
                                  ("workflow", "workflow")) if k in item]
        if len(present) != 1:
            raise ValidationError(argument, "a step needs a type (" + ", ".join(STEP_TYPES)
                                  + ")", path=f"{path}.type")
        kind = {"fn": "function", "func": "function"}.get(present[0], present[0])
    if isinstance(kind, str):
        kind = TYPE_ALIASES.get(kind, kind)
    if kind not in STEP_TYPES:
        raise ValidationError(argument, "must be one of " + ", ".join(STEP_TYPES),
                              path=f"{path}.type", got=item.get("type"))
    return str(kind)


def _strategy(definition: Definition, spec: Mapping[str, Any], argument: str) -> None:
    strategy = spec.get("error_strategy", "fail_fast")
    retries = spec.get("max_retries")
    backoff = spec.get("backoff_ms")
    if isinstance(strategy, Mapping):  # {type = "retry", max_attempts = 3, backoff_ms = 100}
        check_known_keys(strategy, ("type", "max_attempts", "backoff_ms"), argument,
                         noun="field", path="$.error_strategy")
        attempts = strategy.get("max_attempts", 3)
        retries = _count(attempts, argument, "$.error_strategy.max_attempts") - 1
        backoff = strategy.get("backoff_ms", backoff)
        strategy = strategy.get("type", "retry")
    if isinstance(strategy, str):
        strategy = {"failfast": "fail_fast", "fail-fast": "fail_fast"}.get(strategy.lower(),
                                                                           strategy.lower())
    if strategy not in STRATEGIES:
        raise ValidationError(argument, "must be one of " + ", ".join(STRATEGIES),
                              path="$.error_strategy", got=spec.get("error_strategy"))
    definition.error_strategy = str(strategy)
    if retries is None:
        retries = 2 if strategy == "retry" else 0  # retry: three attempts in all
    definition.max_retries = _count(retries, argument, "$.max_retries")
    definition.backoff = _count(backoff if backoff is not None else 100, argument,
                                "$.backoff_ms") / 1000


def _unique(definition: Definition, argument: str) -> None:
    seen: set[str] = set()
    for step in all_steps(definition):
        if step.name in seen and definition.kind != "conditional":
            raise ValidationError(argument, f"step names must be unique; {step.name!r} is "
                                  "used twice", path="$.steps")
        seen.add(step.name)


def _seconds(table: Mapping[str, Any], argument: str, path: str) -> float | None:
    if "timeout_ms" in table:
        value = table["timeout_ms"]
        scale, label = 1000.0, "timeout_ms"
    elif "timeout" in table:
        value, scale, label = table["timeout"], 1.0, "timeout"
    else:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise ValidationError(argument, "must be a number > 0", path=f"{path}.{label}",
                              got=value)
    return float(value) / scale


def _count(value: Any, argument: str, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationError(argument, "must be an integer >= 0", path=path, got=value)
    return value


def _list(value: Any, argument: str, path: str, *, required: bool) -> list[Any]:
    if value == {}:
        value = []  # Lua's empty table
    if not isinstance(value, list) or (required and not value):
        rule = "must be a non-empty list of steps" if required else "must be a list"
        raise ValidationError(argument, rule, path=path, got=value)
    return value


def _text(value: Any, argument: str, path: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(argument, "must be a string", path=path, got=value)
    return value


def _required_text(item: Mapping[str, Any], key: str, argument: str, path: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise ValidationError(argument, "must be a non-empty string", path=f"{path}.{key}",
                              got=value)
    return value


def describe(definition: Definition) -> dict[str, Any]:
    """The definition as plain JSON (what a run stores; functions appear by step name)."""
    out: dict[str, Any] = {"name": definition.name, "kind": definition.kind,
                           "description": definition.description,
                           "error_strategy": definition.error_strategy,
                           "max_retries": definition.max_retries,
                           "backoff_ms": round(definition.backoff * 1000),
                           "timeout": definition.timeout}
    if definition.steps:
        out["steps"] = [_describe_step(s) for s in definition.steps]
    if definition.branches:
        out["branches"] = [{"name": b.name, "steps": [_describe_step(s) for s in b.steps],
                            **({"condition": b.condition.describe()} if b.condition else {})}
                           for b in definition.branches]
    if definition.default:
        out["default"] = [_describe_step(s) for s in definition.default]
    if definition.kind == "parallel":
        out["max_concurrency"] = definition.max_concurrency
        if definition.distributed:  # only when set: older runs' definitions keep their hash
            out["distributed"] = True
    if definition.loop is not None:
        loop = definition.loop
        out["loop"] = {"values": loop.values, "max_iterations": loop.max_iterations,
                       "while": loop.while_.describe() if loop.while_ else None,
                       "break_if": [c.describe() for c in loop.break_if]}
    return out


def _describe_step(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {"name": step.name, "type": step.kind}
    if step.description:
        out["description"] = step.description
    if step.kind == "function":
        out["function"] = step.function_name
    elif step.kind == "workflow":
        out["workflow"] = describe(step.target)
    else:
        out[step.kind] = step.target
    if step.input is not None:
        out["input"] = _plain_input(step.input)
    for key in ("timeout", "retries", "backoff", "output_key"):
        value = getattr(step, key)
        if value is not None:
            out[key] = value
    return out


def _plain_input(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain_input(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_input(v) for v in value]
    if callable(value):
        return "<function>"
    return value
