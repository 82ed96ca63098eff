"""The utility built-ins: each one's main use and its refusals."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import pytest

from llmspell import Runtime
from llmspell.errors import SecurityViolation, ValidationError


def call(rt: Runtime, tool: str, **params: Any) -> Any:
    return rt.tools.invoke(tool, params).result


@pytest.mark.parametrize(("expression", "value"), [
    ("2 + 3 * 4", 14), ("(2 + 3) * 4", 20), ("2 ^ 3 ^ 2", 512), ("-2 ** 2", -4),
    ("7 // 2 + 7 % 2", 4), ("sqrt(16) + abs(-1)", 5.0), ("max(1, 5, 3)", 5),
    ("x * y", 12), ("2 > 1", True), ("round(pi, 2)", 3.14), ("1e3 + .5", 1000.5),
])
def test_calculator_evaluates(rt: Runtime, expression: str, value: Any) -> None:
    assert call(rt, "calculator", input=expression, variables={"x": 3, "y": 4})["result"] == value


@pytest.mark.parametrize(("expression", "rule"), [
    ("__import__('os')", "unexpected character"),
    ("__import__(os)", "unknown function '__import__'"),
    ("().__class__", "unexpected character '.'"), ("x.y", "unexpected character '.'"),
    ("open", "unknown name 'open'"), ("1 / 0", "division by zero"),
    ("9 ^ 9 ^ 9", "too large"), ("factorial(5000)", "factorial takes"),
    ("(" * 200 + "1" + ")" * 200, "nests deeper"), ("2 +", "ends too early"), ("", "is empty"),
])
def test_calculator_refuses_what_is_not_arithmetic(rt: Runtime, expression: str,
                                                   rule: str) -> None:
    with pytest.raises(ValidationError, match=rule) as caught:
        call(rt, "calculator", input=expression)
    assert caught.value.argument == "params" and caught.value.path == "$.input"


def test_calculator_validate_and_functions(rt: Runtime) -> None:
    assert call(rt, "calculator", operation="validate", input="1 +")["valid"] is False
    assert "sqrt" in call(rt, "calculator", operation="functions")["functions"]


def test_base64_round_trip_and_refusal(rt: Runtime) -> None:
    encoded = call(rt, "base64_encoder", operation="encode", input="héllo")["output"]
    assert encoded == base64.b64encode("héllo".encode()).decode()
    assert call(rt, "base64_encoder", operation="decode", input=encoded)["output"] == "héllo"
    url = call(rt, "base64_encoder", operation="encode", input="\xff\xfe?", variant="url_safe")
    assert "+" not in url["output"] and "/" not in url["output"]
    with pytest.raises(ValidationError, match=r"not valid base64"):
        call(rt, "base64_encoder", operation="decode", input="***")
    with pytest.raises(ValidationError, match=r"\$.operation"):
        call(rt, "base64_encoder", operation="rot13", input="x")


def test_hash_and_verify(rt: Runtime) -> None:
    digest = hashlib.sha256(b"abc").hexdigest()
    assert call(rt, "hash_calculator", input="abc")["hash"] == digest
    assert call(rt, "hash_calculator", input="abc", algorithm="md5")["hash"] == hashlib.md5(
        b"abc").hexdigest()
    assert call(rt, "hash_calculator", operation="verify", input="abc",
                expected_hash=digest.upper())["valid"] is True
    assert call(rt, "hash_calculator", operation="verify", input="abd",
                expected_hash=digest)["valid"] is False
    with pytest.raises(ValidationError, match=r"\$.algorithm"):
        call(rt, "hash_calculator", input="abc", algorithm="crc1")


def test_uuid_generate_v5_and_validate(rt: Runtime) -> None:
    made = call(rt, "uuid_generator")
    assert uuid.UUID(made["uuid"]).version == 4
    v5 = call(rt, "uuid_generator", version="v5", namespace="dns", name="example.com")
    assert v5["uuid"] == str(uuid.uuid5(uuid.NAMESPACE_DNS, "example.com"))
    assert call(rt, "uuid_generator", operation="validate", uuid=made["uuid"])["valid"]
    assert not call(rt, "uuid_generator", operation="validate", uuid="nope")["valid"]
    assert call(rt, "uuid_generator", format="simple")["uuid"].isalnum()
    with pytest.raises(ValidationError, match="dns, url, oid, x500 or a UUID"):
        call(rt, "uuid_generator", version="v5", namespace="planet", name="x")


def test_date_time_handler(rt: Runtime) -> None:
    paris = call(rt, "date_time_handler", operation="convert_timezone",
                 input="2025-08-01T12:00:00Z", target_timezone="Europe/Paris")
    assert paris["result"] == "2025-08-01T14:00:00+02:00"
    added = call(rt, "date_time_handler", operation="add", input="2025-02-28T00:00:00Z",
                 amount=1, unit="days", format="date")
    assert added["result"] == "2025-03-01"
    diff = call(rt, "date_time_handler", operation="difference", start="2025-08-01",
                end="2025-08-03T12:00:00")
    assert diff["days"] == 2.5
    info = call(rt, "date_time_handler", operation="info", input="2024-02-29")
    assert info["is_leap_year"] and info["weekday"] == "Thursday"
    with pytest.raises(ValidationError, match=r"\$.target_timezone.*IANA"):
        call(rt, "date_time_handler", operation="convert_timezone", input="2025-01-01",
             target_timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match=r"\$.input.*cannot read|\$.input.*can read"):
        call(rt, "date_time_handler", operation="parse", input="next tuesday-ish")


@pytest.mark.parametrize(("operation", "text", "options", "expected"), [
    ("uppercase", "abc", {}, "ABC"), ("reverse", "abc", {}, "cba"),
    ("replace", "a-b-c", {"from": "-", "to": "+"}, "a+b+c"),
    ("substring", "abcdef", {"start": 1, "end": 3}, "bc"),
    ("split", "a,b", {"delimiter": ","}, ["a", "b"]),
    ("snake_case", "HelloWorld fooBar", {}, "hello_world_foo_bar"),
    ("camel_case", "hello world", {}, "helloWorld"),
    ("pascal_case", "hello_world", {}, "HelloWorld"),
    ("truncate", "abcdefgh", {"length": 5}, "ab..."),
    ("normalize_whitespace", " a \n b  ", {}, "a b"),
])
def test_text_manipulator(rt: Runtime, operation: str, text: str, options: dict[str, Any],
                          expected: Any) -> None:
    assert call(rt, "text_manipulator", operation=operation, input=text,
                options=options)["result"] == expected


def test_text_manipulator_refusals_name_the_option(rt: Runtime) -> None:
    with pytest.raises(ValidationError, match=r"\$.options.from"):
        call(rt, "text_manipulator", operation="replace", input="x", options={"to": "y"})
    with pytest.raises(ValidationError, match=r"\$.options.start"):
        call(rt, "text_manipulator", operation="substring", input="x", options={"start": "1"})
    with pytest.raises(ValidationError, match=r"\$.operation"):
        call(rt, "text_manipulator", operation="eval", input="x")


def test_text_manipulator_regex_within_a_time_budget(rt: Runtime) -> None:
    found = call(rt, "text_manipulator", operation="regex_match", input="a1 b22 c333",
                 options={"pattern": r"([a-z])(\d+)"})["result"]
    assert [(m["match"], m["groups"]) for m in found] == [
        ("a1", ["a", "1"]), ("b22", ["b", "22"]), ("c333", ["c", "333"])]
    assert call(rt, "text_manipulator", operation="regex_replace", input="Hello World",
                options={"pattern": "o", "replacement": "0", "flags": "i"})["result"] == (
        "Hell0 W0rld")
    with pytest.raises(ValidationError, match=r"\$.options.pattern.*time budget of 0.1 s"):
        call(rt, "text_manipulator", operation="regex_match", input="x" * 5000,
             options={"pattern": "(x+x+)+y", "timeout": 0.1})
    with pytest.raises(ValidationError, match=r"\$.options.pattern.*not a valid regular"):
        call(rt, "text_manipulator", operation="regex_match", input="x",
             options={"pattern": "(unclosed"})


def test_diff_calculator_text_and_json(rt: Runtime) -> None:
    out = call(rt, "diff_calculator", old_text="a\nb\n", new_text="a\nc\n")
    assert "-b\n+c\n" in out["diff"] and out["identical"] is False
    changes = call(rt, "diff_calculator", type="json", old_json={"a": 1, "b": [1, 2]},
                   new_json={"a": 2, "b": [1], "c": True})["changes"]
    assert changes == [{"path": "$.a", "change": "changed", "old": 1, "new": 2},
                       {"path": "$.b[1]", "change": "removed", "old": 2},
                       {"path": "$.c", "change": "added", "new": True}]
    with pytest.raises(ValidationError, match="give old_text or old_file"):
        call(rt, "diff_calculator", new_text="x")


def test_template_engine_renders(rt: Runtime) -> None:
    out = call(rt, "template_engine", input="{% for p in people %}{{ p.name|upper }} "
               "{% endfor %}", context={"people": [{"name": "ann"}, {"name": "bob"}]})
    assert out["output"] == "ANN BOB "
    with pytest.raises(ValidationError, match="'missing' is undefined"):
        call(rt, "template_engine", input="{{ missing }}")


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ self.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ x.__class__ }}",
])
def test_template_engine_refuses_python_internals(rt: Runtime, template: str) -> None:
    seen: list[Any] = []
    rt.hooks.register("security:violation", lambda ctx: seen.append(ctx.data))
    with pytest.raises((SecurityViolation, ValidationError)) as caught:
        call(rt, "template_engine", input=template, context={"x": "s"})
    assert "unsafe" in str(caught.value) or "undefined" in str(caught.value)
    if isinstance(caught.value, SecurityViolation):
        assert seen and seen[0]["tool"] == "template_engine"


def test_template_engine_refuses_runaway_output(rt: Runtime) -> None:
    with pytest.raises(ValidationError, match="too large"):
        call(rt, "template_engine", input="{{ 'a' * 10**9 }}")
    with pytest.raises(ValidationError, match="too large"):
        call(rt, "template_engine", input="{{ 10 ** 100000 }}")
