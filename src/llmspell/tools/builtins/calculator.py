"""``calculator``: arithmetic expressions, parsed and evaluated here (no ``eval``).

Grammar (precedence low to high)::

    expr    := compare
    compare := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
    sum     := product (("+" | "-") product)*
    product := unary (("*" | "/" | "//" | "%") unary)*
    unary   := ("-" | "+") unary | power
    power   := atom (("^" | "**") unary)?          right-associative
    atom    := number | name | name "(" args ")" | "(" expr ")"

Names are variables (the ``variables`` parameter) or the constants ``pi``, ``e``, ``tau``;
functions are listed by the ``functions`` operation. Anything else (``__import__``, strings,
attribute access) is a ValidationError naming the position.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from llmspell.errors import ValidationError
from llmspell.tools.base import Tool, ToolContext
from llmspell.tools.builtins.support import need

MAX_LENGTH = 10_000
MAX_DEPTH = 100
MAX_EXPONENT_BITS = 4096  # an integer power's result may have at most this many bits

FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs, "sqrt": math.sqrt, "cbrt": lambda x: math.copysign(abs(x) ** (1 / 3), x),
    "exp": math.exp, "ln": math.log, "log": lambda x, base=10: math.log(x, base),
    "log2": math.log2, "log10": math.log10, "sin": math.sin, "cos": math.cos,
    "tan": math.tan, "asin": math.asin, "acos": math.acos, "atan": math.atan,
    "atan2": math.atan2, "sinh": math.sinh, "cosh": math.cosh, "tanh": math.tanh,
    "floor": math.floor, "ceil": math.ceil, "round": round, "trunc": math.trunc,
    "min": min, "max": max, "hypot": math.hypot, "factorial": math.factorial,
    "degrees": math.degrees, "radians": math.radians,
}
CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}
_SPACE = re.compile(r"\s*")
_TOKEN = re.compile(r"(?:(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|"
                    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)|"
                    r"(?P<op>\*\*|//|<=|>=|==|!=|[-+*/%^(),<>]))")


def _fail(rule: str, position: int | None = None) -> ValidationError:
    where = f" at character {position + 1}" if position is not None else ""
    return ValidationError("params", rule + where, path="$.input")


def tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = _SPACE.match(text).end()  # type: ignore[union-attr]
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _fail(f"unexpected character {text[pos]!r}", pos)
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind), match.start(kind)))
        pos = _SPACE.match(text, match.end()).end()  # type: ignore[union-attr]
    return tokens


class _Parser:
    def __init__(self, text: str, variables: dict[str, Any]) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.variables = variables
        self.depth = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise _fail("the expression ends too early" + (f": expected {value!r}"
                                                           if value else ""))
        if value is not None and token[1] != value:
            raise _fail(f"expected {value!r}, found {token[1]!r}", token[2])
        self.i += 1
        return token

    def parse(self) -> Any:
        if not self.tokens:
            raise _fail("is empty: give an expression such as '2 + 3 * 4'")
        value = self.compare()
        extra = self.peek()
        if extra is not None:
            raise _fail(f"unexpected {extra[1]!r}", extra[2])
        return value

    def compare(self) -> Any:
        left = self.sum()
        token = self.peek()
        if token and token[1] in ("<", "<=", ">", ">=", "==", "!="):
            self.i += 1
            right = self.sum()
            return {"<": left < right, "<=": left <= right, ">": left > right,
                    ">=": left >= right, "==": left == right, "!=": left != right}[token[1]]
        return left

    def sum(self) -> Any:
        value = self.product()
        while (token := self.peek()) and token[1] in ("+", "-"):
            self.i += 1
            right = self.product()
            value = value + right if token[1] == "+" else value - right
        return value

    def product(self) -> Any:
        value = self.unary()
        while (token := self.peek()) and token[1] in ("*", "/", "//", "%"):
            self.i += 1
            right = self.unary()
            if right == 0 and token[1] != "*":
                raise _fail("division by zero", token[2])
            if token[1] == "*":
                value = value * right
            elif token[1] == "/":
                value = value / right
            elif token[1] == "//":
                value = value // right
            else:
                value = value % right
        return value

    def unary(self) -> Any:
        token = self.peek()
        if token and token[1] in ("-", "+"):
            self.i += 1
            self._descend(token[2])
            value = self.unary()
            self.depth -= 1
            return -value if token[1] == "-" else value
        return self.power()

    def power(self) -> Any:
        base = self.atom()
        token = self.peek()
        if token and token[1] in ("^", "**"):
            self.i += 1
            self._descend(token[2])
            exponent = self.unary()
            self.depth -= 1
            return _power(base, exponent, token[2])
        return base

    def atom(self) -> Any:
        kind, text, pos = self.take()
        if kind == "num":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if text == "(":
            self._descend(pos)
            value = self.compare()
            self.depth -= 1
            self.take(")")
            return value
        if kind == "name":
            nxt = self.peek()
            if nxt and nxt[1] == "(":
                return self.call(text, pos)
            if text in self.variables:
                return self.variables[text]
            if text in CONSTANTS:
                return CONSTANTS[text]
            raise _fail(f"unknown name {text!r} (variables: "
                        f"{', '.join(sorted(self.variables)) or 'none'}; constants: "
                        f"{', '.join(CONSTANTS)})", pos)
        raise _fail(f"unexpected {text!r}", pos)

    def call(self, name: str, pos: int) -> Any:
        fn = FUNCTIONS.get(name)
        if fn is None:
            raise _fail(f"unknown function {name!r} (the 'functions' operation lists them)",
                        pos)
        self.take("(")
        self._descend(pos)
        args = []
        if (token := self.peek()) and token[1] != ")":
            args.append(self.compare())
            while (token := self.peek()) and token[1] == ",":
                self.i += 1
                args.append(self.compare())
        self.depth -= 1
        self.take(")")
        if name == "factorial" and (not isinstance(args[0] if args else None, int)
                                    or not 0 <= args[0] <= 1000):
            raise _fail("factorial takes an integer from 0 to 1000", pos)
        try:
            return fn(*args)
        except (TypeError, ValueError, OverflowError) as exc:
            raise _fail(f"{name}({', '.join(map(repr, args))}): {exc}", pos) from None

    def _descend(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _fail(f"nests deeper than {MAX_DEPTH} levels", pos)


def _power(base: Any, exponent: Any, pos: int) -> Any:
    if isinstance(base, int) and isinstance(exponent, int) and exponent >= 0:
        if abs(base) > 1 and exponent * max(abs(base).bit_length(), 1) > MAX_EXPONENT_BITS:
            raise _fail(f"{base} ^ {exponent} is too large (over {MAX_EXPONENT_BITS} bits)",
                        pos)
        return base ** exponent
    try:
        result = float(base) ** float(exponent)
    except (OverflowError, ZeroDivisionError) as exc:
        raise _fail(f"{base} ^ {exponent}: {exc}", pos) from None
    if isinstance(result, complex):
        raise _fail(f"{base} ^ {exponent} has no real value", pos)
    return result


def evaluate(expression: str, variables: dict[str, Any] | None = None) -> Any:
    """The value of ``expression``; ValidationError naming the position otherwise."""
    if len(expression) > MAX_LENGTH:
        raise _fail(f"is longer than {MAX_LENGTH} characters")
    try:
        return _Parser(expression, dict(variables or {})).parse()
    except OverflowError:
        raise _fail("the result is too large") from None
    except RecursionError:
        raise _fail(f"nests deeper than {MAX_DEPTH} levels") from None


class Calculator(Tool):
    name = "calculator"
    description = ("Evaluate arithmetic expressions (+ - * / // % ^, comparisons, functions "
                   "such as sqrt and sin, constants pi and e, variables); operations: "
                   "evaluate, validate, functions")
    category = "utility"
    security_level = "safe"
    capabilities = ("math",)
    parameters = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["evaluate", "validate", "functions"],
                          "default": "evaluate"},
            "input": {"type": "string", "description": "the expression, e.g. '2 + 3 * x'"},
            "variables": {"type": "object", "additionalProperties": {"type": "number"}},
        },
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        operation = params.get("operation", "evaluate")
        if operation == "functions":
            return {"functions": sorted(FUNCTIONS), "constants": sorted(CONSTANTS),
                    "operators": ["+", "-", "*", "/", "//", "%", "^", "**", "<", "<=", ">",
                                  ">=", "==", "!="]}
        expression = need(params, "input", operation)
        variables = params.get("variables") or {}
        for key in variables:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise ValidationError("params", "a variable name must be an identifier",
                                      path=f"$.variables.{key}")
        if operation == "validate":
            try:
                evaluate(expression, variables)
            except ValidationError as exc:
                return {"valid": False, "expression": expression, "error": exc.rule}
            return {"valid": True, "expression": expression}
        result = evaluate(expression, variables)
        if isinstance(result, float) and not math.isfinite(result):
            result = "NaN" if math.isnan(result) else ("Infinity" if result > 0
                                                        else "-Infinity")
        return {"result": result, "expression": expression}
