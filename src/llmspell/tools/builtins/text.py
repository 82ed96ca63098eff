"""``text_manipulator``, ``diff_calculator`` and ``template_engine``: text in, text out.

Regular expressions (``regex_match``, ``regex_replace``) run on the ``regex`` library with a
time budget (``options.timeout``, default 1 s, at most 5 s): a pattern that backtracks for ever
fails with a ValidationError instead of hanging. Inputs are capped at :data:`MAX_TEXT`
characters.
Templates are Jinja2 in a ``SandboxedEnvironment``: attributes starting with ``_`` and the
Python internals behind them (``__class__``, ``__globals__``...) are refused.
"""

from __future__ import annotations

import difflib
import re
import textwrap
from typing import Any

from llmspell.errors import ValidationError
from llmspell.tools.base import Tool, ToolContext
from llmspell.tools.builtins.support import read_confined

MAX_TEXT = 1_000_000
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

TEXT_OPERATIONS = ("uppercase", "lowercase", "reverse", "trim", "replace", "substring",
                   "split", "join", "snake_case", "camel_case", "pascal_case", "sanitize",
                   "truncate", "indent", "dedent", "normalize_whitespace", "word_wrap",
                   "regex_match", "regex_replace")
REGEX_TIMEOUT = 1.0
REGEX_MAX_TIMEOUT = 5.0
MAX_MATCHES = 10_000


def _option(options: dict[str, Any], key: str, kind: type | tuple[type, ...], operation: str,
            default: Any = ...) -> Any:
    if key not in options:
        if default is ...:
            raise ValidationError("params", f"operation {operation!r} needs options.{key}",
                                  path=f"$.options.{key}")
        return default
    value = options[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ValidationError("params", f"options.{key} has the wrong type for {operation!r}",
                              path=f"$.options.{key}", got=value)
    return value


class TextManipulator(Tool):
    name = "text_manipulator"
    description = ("Transform text: uppercase, lowercase, reverse, trim, replace, substring, "
                   "split, join, snake_case, camel_case, pascal_case, sanitize, truncate, "
                   "indent, dedent, normalize_whitespace, word_wrap, regex_match and "
                   "regex_replace (options.pattern, a time budget)")
    category = "utility"
    security_level = "safe"
    capabilities = ("text",)
    parameters = {
        "type": "object",
        "properties": {
            "operation": {"enum": list(TEXT_OPERATIONS)},
            "input": {"anyOf": [{"type": "string", "maxLength": MAX_TEXT},
                                {"type": "array", "items": {"type": "string"}}]},
            "options": {"type": "object"},
        },
        "required": ["operation", "input"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        op = params["operation"]
        value = params["input"]
        options = params.get("options") or {}
        if op == "join":
            items = value if isinstance(value, list) else [value]
            return {"result": _option(options, "separator", str, op, " ").join(items)}
        if not isinstance(value, str):
            raise ValidationError("params", f"operation {op!r} takes a string input",
                                  path="$.input", got=value)
        return {"result": self._apply(op, value, options)}

    def _apply(self, op: str, text: str, options: dict[str, Any]) -> Any:
        if op == "uppercase":
            return text.upper()
        if op == "lowercase":
            return text.lower()
        if op == "reverse":
            return text[::-1]
        if op == "trim":
            return text.strip()
        if op == "replace":
            return text.replace(_option(options, "from", str, op), _option(options, "to", str, op))
        if op == "substring":
            start = _option(options, "start", int, op, 0)
            end = _option(options, "end", int, op, len(text))
            return text[start:end]
        if op in ("regex_match", "regex_replace"):
            return _regex(op, text, options)
        if op == "split":
            return text.split(_option(options, "delimiter", str, op, None) or None)
        words = [w.lower() for w in _WORDS.findall(text)]
        if op == "snake_case":
            return "_".join(words)
        if op == "camel_case":
            return (words[0] + "".join(w.capitalize() for w in words[1:])) if words else ""
        if op == "pascal_case":
            return "".join(w.capitalize() for w in words)
        if op == "sanitize":
            return "".join(ch for ch in text if ch.isprintable() or ch in "\n\t")
        if op == "truncate":
            length = _option(options, "length", int, op, 100)
            suffix = _option(options, "suffix", str, op, "...")
            return text if len(text) <= length else text[:max(length - len(suffix), 0)] + suffix
        if op == "indent":
            return textwrap.indent(text, " " * _option(options, "spaces", int, op, 4))
        if op == "dedent":
            return textwrap.dedent(text)
        if op == "normalize_whitespace":
            return " ".join(text.split())
        width = _option(options, "width", int, op, 80)
        if width < 1:
            raise ValidationError("params", "options.width must be at least 1",
                                  path="$.options.width", got=width)
        return textwrap.fill(text, width)


def _regex(op: str, text: str, options: dict[str, Any]) -> Any:
    import regex

    pattern = _option(options, "pattern", str, op)
    budget = _option(options, "timeout", (int, float), op, REGEX_TIMEOUT)
    if not 0 < budget <= REGEX_MAX_TIMEOUT:
        raise ValidationError("params", f"options.timeout must be in (0, {REGEX_MAX_TIMEOUT}] "
                              "seconds", path="$.options.timeout", got=budget)
    flags = 0
    for letter in _option(options, "flags", str, op, ""):
        flag = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL}.get(letter)
        if flag is None:
            raise ValidationError("params", "options.flags may hold i, m and s",
                                  path="$.options.flags", got=letter)
        flags |= flag
    try:
        compiled = regex.compile(pattern, flags)
        if op == "regex_replace":
            return compiled.sub(_option(options, "replacement", str, op), text,
                                timeout=budget)
        found = []
        for match in compiled.finditer(text, timeout=budget):
            found.append({"match": match.group(0), "start": match.start(),
                          "groups": list(match.groups())})
            if len(found) >= MAX_MATCHES:
                break
        return found
    except regex.error as exc:
        raise ValidationError("params", f"is not a valid regular expression: {exc}",
                              path="$.options.pattern", got=pattern) from None
    except TimeoutError:
        raise ValidationError("params", f"the regular expression ran past its time budget of "
                              f"{budget} s (it backtracks too much; simplify it or raise "
                              "options.timeout)", path="$.options.pattern",
                              got=pattern) from None


class DiffCalculator(Tool):
    name = "diff_calculator"
    description = ("Compare two texts, files or JSON values: unified, context, inline or "
                   "simple diff of text; a list of changed paths for JSON")
    category = "utility"
    security_level = "safe"
    capabilities = ("text", "diff", "files")
    parameters = {
        "type": "object",
        "properties": {
            "type": {"enum": ["text", "json"], "default": "text"},
            "format": {"enum": ["unified", "context", "inline", "simple"],
                       "default": "unified"},
            "old_text": {"type": "string", "maxLength": MAX_TEXT},
            "new_text": {"type": "string", "maxLength": MAX_TEXT},
            "old_file": {"type": "string"},
            "new_file": {"type": "string"},
            "old_json": {},
            "new_json": {},
        },
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        if params.get("type", "text") == "json":
            if "old_json" not in params or "new_json" not in params:
                raise ValidationError("params", "type 'json' needs old_json and new_json",
                                      path="$.old_json")
            changes: list[dict[str, Any]] = []
            _json_diff(params["old_json"], params["new_json"], "$", changes)
            return {"changes": changes, "identical": not changes}
        old = self._text(params, "old", ctx)
        new = self._text(params, "new", ctx)
        style = params.get("format", "unified")
        a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
        if style == "unified":
            diff = "".join(difflib.unified_diff(a, b, "old", "new"))
        elif style == "context":
            diff = "".join(difflib.context_diff(a, b, "old", "new"))
        elif style == "inline":
            diff = "".join(difflib.ndiff(a, b))
        else:
            diff = "".join(line for line in difflib.ndiff(a, b) if line[:1] in "+-")
        ratio = difflib.SequenceMatcher(None, old, new).ratio() if len(old) + len(
            new) < 20_000 else None
        return {"diff": diff, "identical": old == new, "similarity": ratio}

    def _text(self, params: dict[str, Any], side: str, ctx: ToolContext) -> str:
        if f"{side}_text" in params:
            return str(params[f"{side}_text"])
        if f"{side}_file" in params:
            data = read_confined(ctx, params[f"{side}_file"], tool=self.name,
                                 argument=f"{side}_file", limit=MAX_TEXT)
            return data.decode("utf-8", errors="replace")
        raise ValidationError("params", f"give {side}_text or {side}_file",
                              path=f"$.{side}_text")


def _json_diff(old: Any, new: Any, path: str, out: list[dict[str, Any]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            where = f"{path}.{key}"
            if key not in old:
                out.append({"path": where, "change": "added", "new": new[key]})
            elif key not in new:
                out.append({"path": where, "change": "removed", "old": old[key]})
            else:
                _json_diff(old[key], new[key], where, out)
    elif isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            where = f"{path}[{i}]"
            if i >= len(old):
                out.append({"path": where, "change": "added", "new": new[i]})
            elif i >= len(new):
                out.append({"path": where, "change": "removed", "old": old[i]})
            else:
                _json_diff(old[i], new[i], where, out)
    elif old != new or type(old) is not type(new):
        out.append({"path": path, "change": "changed", "old": old, "new": new})


class TemplateEngine(Tool):
    name = "template_engine"
    description = ("Render a Jinja2 template ({{ name }}, {% for %}, filters) with a context, "
                   "sandboxed: Python internals are out of reach")
    category = "utility"
    security_level = "restricted"
    capabilities = ("text", "templates")
    parameters = {
        "type": "object",
        "properties": {
            "input": {"type": "string", "maxLength": MAX_TEXT},
            "context": {"type": "object"},
            "engine": {"enum": ["jinja2", "tera", "handlebars", "auto"], "default": "auto",
                       "description": "tera/auto templates are Jinja2 syntax; handlebars is "
                       "refused"},
            "auto_detect": {"type": "boolean"},
        },
        "required": ["input"],
        "additionalProperties": False,
    }
    MAX_OUTPUT = 1_000_000

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        from jinja2 import StrictUndefined, TemplateError
        from jinja2.sandbox import SecurityError

        if params.get("engine") == "handlebars":
            raise ValidationError("params", "handlebars templates are not supported; use "
                                  "Jinja2 syntax ({{ name }}, {% if %})", path="$.engine")
        env = _sandbox_class()(undefined=StrictUndefined, autoescape=False)
        try:
            template = env.from_string(params["input"])
            parts = []
            size = 0
            for chunk in template.generate(**(params.get("context") or {})):
                size += len(chunk)
                if size > self.MAX_OUTPUT:
                    raise ValidationError("params", f"the template renders more than "
                                          f"{self.MAX_OUTPUT} characters", path="$.input")
                parts.append(chunk)
        except SecurityError as exc:
            from llmspell.errors import SecurityViolation

            raise SecurityViolation(f"template_engine: the template reaches outside its "
                                    f"sandbox: {exc}") from None
        except (TemplateError, OverflowError, ArithmeticError, TypeError) as exc:
            raise ValidationError("params", f"template error: {exc}", path="$.input") from None
        return {"output": "".join(parts), "engine": "jinja2"}


def _sandbox_class() -> Any:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Sandbox(ImmutableSandboxedEnvironment):
        """The sandbox, with ``**`` and repetition bounded (a huge power or ``"a" * 10**9``
        would run for ever or fill the memory)."""

        intercepted_binops = frozenset({"**", "*"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(right, int) and isinstance(left, int) and (
                    abs(right) > 1000 or abs(left) > 10**6):
                raise OverflowError(f"{left} ** {right} is too large for a template")
            if operator == "*" and any(isinstance(a, str | list | tuple) for a in (left, right)):
                count = right if isinstance(right, int) else left
                if isinstance(count, int) and count > TemplateEngine.MAX_OUTPUT:
                    raise OverflowError(f"repeating {count} times is too large for a template")
            return super().call_binop(context, operator, left, right)

    return Sandbox

