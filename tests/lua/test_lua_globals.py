"""The globals of this stage: JSON, Logger, Config, Utils, ARGS (and their error paths)."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from datetime import datetime

import blake3
import pytest

from backends import MakeEngine
from llmspell.errors import ScriptError
from llmspell.lua import LuaEngine


def error_of(engine: LuaEngine, code: str) -> str:
    """The message pcall gives for ``code`` (an expression that must fail)."""
    ok, message = engine.run_string(f"return pcall(function() return {code} end)")
    assert ok is False
    assert isinstance(message, str)
    return message


# -- JSON ---------------------------------------------------------------------------------


def test_json_stringify_is_compact_with_sorted_keys(engine: LuaEngine) -> None:
    assert engine.run_string("return JSON.stringify({a = 1})") == '{"a":1}'
    assert engine.run_string(
        "return JSON.stringify({b = {1, 2.5, 'x', true, JSON.null}, a = {}, c = JSON.array()})"
    ) == '{"a":{},"b":[1,2.5,"x",true,null],"c":[]}'
    assert engine.run_string("return JSON.stringify(nil), JSON.stringify('é')") == (
        "null", '"é"')


def test_json_stringify_indent(engine: LuaEngine) -> None:
    assert engine.run_string("return JSON.stringify({a = {1}}, {indent = 2})") == (
        '{\n  "a": [\n    1\n  ]\n}')
    assert engine.run_string("return JSON.stringify({a = 1}, {indent = 4})") == (
        '{\n    "a": 1\n}')
    assert "indent must be an integer from 0 to 16 (got 'x')" in error_of(
        engine, "JSON.stringify({}, {indent = 'x'})")
    assert "unknown option 'indnt' (did you mean 'indent'?); known: indent" in error_of(
        engine, "JSON.stringify({}, {indnt = 2})")


def test_json_stringify_refuses_what_json_cannot_hold(engine: LuaEngine) -> None:
    assert error_of(engine, "JSON.stringify({a = {1, 0/0}})") == (
        "InvalidValue: argument 'value' at $.a[2]: JSON has no nan")
    assert error_of(engine, "JSON.stringify({x = '\\xff'})") == (
        "InvalidValue: argument 'value' at $.x: a string that is not valid UTF-8 cannot be "
        "JSON text")
    assert "a function cannot be converted" in error_of(engine, "JSON.stringify({f = print})")


def test_json_parse(engine: LuaEngine) -> None:
    assert engine.run_string("""
        local v = JSON.parse('{"a": [1, 2.5, null, {"b": "x"}], "e": [], "o": {}, "t": true}')
        return v.a[1], v.a[2], v.a[3] == nil, v.a[4].b, #v.e, next(v.o), v.t,
            JSON.stringify(v.e), JSON.stringify(v.o), math.type(v.a[1])
    """) == (1, 2.5, True, "x", 0, None, True, "[]", "{}", "integer")
    assert engine.run_string("return JSON.parse('null')") is None
    assert engine.run_string("return JSON.parse(' 5 ')") == 5


def test_json_parse_errors(engine: LuaEngine) -> None:
    assert error_of(engine, "JSON.parse('{bad')").startswith(
        "ValidationError: argument 'text': is not valid JSON: ")
    assert error_of(engine, "JSON.parse()") == (
        "ValidationError: argument 'text': must be a string (got nil)")
    assert error_of(engine, "JSON.parse({})") == (
        "ValidationError: argument 'text': must be a string (got table)")
    assert "is not valid JSON: number is infinity" in error_of(engine, "JSON.parse('1e999')")
    assert error_of(engine, "JSON.parse('[18446744073709551615]')") == (
        "InvalidValue: argument 'result' at $[0]: integers must fit in 64 bits for Lua "
        "(got int 18446744073709551615)")


def test_json_round_trip_keeps_arrays_and_nulls(engine: LuaEngine) -> None:
    text = '{"a":[],"b":{},"c":[null,1],"d":null}'
    assert engine.run_string(f"return JSON.stringify(JSON.parse('{text}', "
                             "{keep_nulls = true}))") == text
    # By default a null is nil: an object loses the key, an array keeps the hole as null.
    assert engine.run_string(f"return JSON.stringify(JSON.parse('{text}'))") == (
        '{"a":[],"b":{},"c":[null,1]}')


def test_json_array(engine: LuaEngine) -> None:
    assert engine.run_string("""
        local t = {1, 2}
        local same = JSON.array(t) == t
        local again = JSON.array(t) == t
        return same, again, JSON.stringify(JSON.array()), JSON.stringify(JSON.array({})),
            tostring(JSON.null), getmetatable(t)
    """) == (True, True, "[]", "[]", "null", "JSON.array")
    assert error_of(engine, "JSON.array({x = 1})") == (
        "ValidationError: argument 't': a JSON.array may only have keys 1..n; it has key \"x\"")
    assert error_of(engine, "JSON.array({[2] = 1})") == (
        "ValidationError: argument 't': a JSON.array needs every index 1..n; index 1 is missing")
    assert error_of(engine, "JSON.array(5)") == (
        "ValidationError: argument 't': JSON.array takes a table or nothing (got number)")
    assert "already has a metatable" in error_of(
        engine, "JSON.array(setmetatable({}, {}))")
    assert "JSON.null cannot be modified" in error_of(engine, "(function() JSON.null.x = 1 end)()")


# -- Logger -------------------------------------------------------------------------------


def test_logger_levels_and_fields(engine: LuaEngine, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="llmspell.script")
    engine.run_string("""
        Logger.debug("d")
        Logger.info("started", {step = 1, tags = {"a", "b"}})
        Logger.warn("careful")
        Logger.warning(42)
        Logger.error("failed", {})
    """)
    records = [r for r in caplog.records if r.name == "llmspell.script"]
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("DEBUG", "d"), ("INFO", "started"), ("WARNING", "careful"), ("WARNING", "42"),
        ("ERROR", "failed")]
    assert records[1].fields == {"step": 1, "tags": ["a", "b"]}  # type: ignore[attr-defined]
    assert records[0].fields == {}  # type: ignore[attr-defined]
    assert records[0].script == "test.lua"  # type: ignore[attr-defined]


def test_logger_argument_errors(engine: LuaEngine) -> None:
    assert error_of(engine, "Logger.info()") == (
        "ValidationError: argument 'message': must be a string (got nil)")
    assert error_of(engine, "Logger.info('x', 'y')") == (
        "ValidationError: argument 'fields': must be a table with string keys or nil "
        "(got string 'y')")
    assert error_of(engine, "Logger.info('x', {1, 2})") == (
        "ValidationError: argument 'fields': must be a table with string keys or nil "
        "(got a list)")


# -- Config -------------------------------------------------------------------------------


def test_config_get(make_engine: MakeEngine) -> None:
    engine = make_engine(engines__lua__max_instructions=12345)
    assert engine.run_string("""
        return Config.get("engines.lua.max_instructions"), Config.get("engines.lua.sandbox"),
            Config.get("nope.nothing"), Config.get("nope", "fallback"),
            type(Config.get("runtime")), type(Config.get("runtime.allowed_paths")[1])
    """) == (12345, "safe", None, "fallback", "table", "string")
    assert engine.run_string("local d = {} return Config.get('x.y', d) == d") is True
    assert error_of(engine, "Config.get()") == (
        "ValidationError: argument 'path': must be a string (got nil)")
    assert error_of(engine, "Config.get('')") == (
        "ValidationError: argument 'path': must not be empty")


# -- Utils --------------------------------------------------------------------------------


def test_utils_uuid_and_now(engine: LuaEngine) -> None:
    first, second, now, iso = engine.run_string(
        "return Utils.uuid(), Utils.uuid(), Utils.now(), Utils.now('iso')")
    assert uuid.UUID(first).version == 4 and first != second
    assert abs(now - time.time()) < 60
    assert datetime.fromisoformat(iso).utcoffset() is not None
    assert engine.run_string("return math.type(Utils.now())") == "float"
    assert error_of(engine, "Utils.now('unix')") == (
        "ValidationError: argument 'format': must be nil or \"iso\" (got 'unix')")


def test_utils_hash(engine: LuaEngine) -> None:
    assert engine.run_string("return Utils.hash('abc')") == hashlib.sha256(b"abc").hexdigest()
    assert engine.run_string("return Utils.hash('abc', 'blake3')") == (
        blake3.blake3(b"abc").hexdigest())
    assert engine.run_string("return Utils.hash('\\xff', 'md5')") == (
        hashlib.md5(b"\xff").hexdigest())
    assert error_of(engine, "Utils.hash('x', 'crc')").startswith(
        "ValidationError: argument 'algorithm': must be one of sha256, sha512, sha1, md5, "
        "blake2b, blake3")
    assert error_of(engine, "Utils.hash(5)") == (
        "ValidationError: argument 'data': must be a string (got number 5)")


def test_utils_sleep(engine: LuaEngine) -> None:
    start = time.monotonic()
    engine.run_string("Utils.sleep(0.05) Utils.sleep(0)")
    assert time.monotonic() - start >= 0.05
    assert error_of(engine, "Utils.sleep(-1)") == (
        "ValidationError: argument 'seconds': must be at least 0 (got number -1)")
    assert error_of(engine, "Utils.sleep('1')") == (
        "ValidationError: argument 'seconds': must be a finite number (got string '1')")
    assert error_of(engine, "Utils.sleep(1/0)") == (
        "ValidationError: argument 'seconds': must be a finite number (got number inf)")


# -- ARGS ---------------------------------------------------------------------------------


def test_args(make_engine: MakeEngine) -> None:
    engine = make_engine(args=("input.txt", "--topic=rust", "--verbose", "--empty=", "--", "x"),
                         script_name="main.lua")
    assert engine.run_string("""
        return ARGS[0], ARGS[1], ARGS[2], #ARGS, ARGS.topic, ARGS.verbose, ARGS.empty,
            arg == ARGS
    """) == ("main.lua", "input.txt", "--topic=rust", 6, "rust", True, "", True)
    assert make_engine().run_string("return #ARGS, ARGS[0]") == (0, "test.lua")


def test_args_table_mixes_names_and_indices(make_engine: MakeEngine) -> None:
    engine = make_engine(args=("a", "--k=v"))
    with pytest.raises(ScriptError, match="mixed table"):
        engine.run_string("local s = JSON.stringify(ARGS)")
    assert engine.run_string("return JSON.stringify({k = ARGS.k})") == '{"k":"v"}'


def test_config_get_hides_secrets_in_the_safe_sandbox() -> None:
    from llmspell import Runtime
    from llmspell.config import Config
    from llmspell.storage import open_store

    url = "postgresql://app:hunter2@db.example/llm"
    code = "return Config.get('storage.url')"
    for sandbox, expected in (("safe", "postgresql://app:[REDACTED]@db.example/llm"),
                              ("full", url)):
        config = Config.defaults(storage__url=url, engines__lua__sandbox=sandbox)
        with Runtime(config, store=open_store("memory://")) as runtime, LuaEngine(
                runtime) as engine:
            assert engine.run_string(code) == expected
