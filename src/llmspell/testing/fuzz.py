"""Fuzz targets: random input at three boundaries, where only a typed error may come out.

Run one with::

    python -m llmspell.testing.fuzz converter --examples 2000
    python -m llmspell.testing.fuzz config --examples 2000
    python -m llmspell.testing.fuzz backup --examples 500

- ``converter``: random nested Python values go into Lua and back (directly, and through a
  Lua function); each comes back equal (as Lua sees it: UTF-8 bytes become text) or is
  refused with a :class:`~llmspell.errors.ValidationError`.
- ``config``: random ``llmspell.toml`` files (random bytes, random text, and TOML built from
  the schema's own tables and keys with values of random types) load into a config or raise
  :class:`~llmspell.errors.ConfigError`.
- ``backup``: a real backup file with random byte flips, truncations and insertions either
  fails to restore with a :class:`~llmspell.errors.BackupError`, or restores exactly the
  backed-up data.

Any other exception, or a wrong result, is a finding: Hypothesis shrinks it and the command
prints the smallest input and exits 1. The targets are built on Hypothesis (a test
dependency: ``pip install 'llmspell[dev]'``); :data:`TARGETS` gives each as a function of the
example count, for the test suite.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from llmspell.errors import BackupError, ConfigError, ValidationError

__all__ = ["TARGETS", "main"]

LUA_INT = (-(2**63), 2**63 - 1)


def _settings(examples: int, seed: int | None) -> Any:
    from hypothesis import HealthCheck, settings

    return settings(max_examples=examples, deadline=None, database=None, derandomize=seed is None,
                    suppress_health_check=list(HealthCheck))


def _run(test: Callable[[], None], examples: int, seed: int | None) -> None:
    from hypothesis import seed as with_seed

    runner = _settings(examples, seed)(test)
    if seed is not None:
        runner = with_seed(seed)(runner)
    runner()


# -- the converter -----------------------------------------------------------------------------


def converter_values() -> Any:
    """Nested values, including ones the converter must refuse (big ints, odd keys, sets)."""
    from hypothesis import strategies as st

    text = st.text(max_size=12)
    scalars = (st.none() | st.booleans() | st.integers(*LUA_INT) | st.integers()
               | st.floats() | text | st.binary(max_size=12))
    def nest(value: Any, depth: int) -> Any:
        for _ in range(depth):
            value = [value]
        return value

    return st.recursive(
        scalars,
        lambda inner: (st.lists(inner, max_size=4) | st.tuples(inner, inner)
                       | st.dictionaries(text, inner, max_size=4)
                       | st.dictionaries(st.integers(-3, 3) | st.booleans(), inner, max_size=2)
                       | st.frozensets(st.integers(0, 3), max_size=2)
                       | st.builds(nest, inner, st.integers(200, 300))),
        max_leaves=25)


def as_lua_sees_it(value: Any) -> Any:
    """``value`` after a trip through Lua: UTF-8 bytes are text, tuples are lists."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    if isinstance(value, list | tuple):
        return [as_lua_sees_it(item) for item in value]
    if isinstance(value, dict):
        return {key: as_lua_sees_it(item) for key, item in value.items()}
    return value


def same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down; NaN equals NaN, -0.0 is not 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b))
    return bool(a == b)


def fuzz_converter(examples: int, seed: int | None = None) -> None:
    """Round-trip random values through Lua; raise AssertionError (or the stray exception)."""
    from hypothesis import given

    from llmspell.lua import LuaEngine
    from llmspell.runtime import Runtime

    with Runtime.memory() as runtime:
        engine = LuaEngine(runtime)
        try:
            identity = engine.run_string("return function(...) return ... end")

            @given(converter_values())
            def round_trip(value: Any) -> None:
                expected = as_lua_sees_it(value)
                for trip in (lambda v: engine.to_python(engine.to_lua(v)), identity):
                    try:
                        back = trip(value)
                    except ValidationError:
                        continue  # a typed refusal (naming the path) is an allowed outcome
                    assert same(back, expected), f"{value!r} came back as {back!r}"

            _run(round_trip, examples, seed)
        finally:
            engine.close()


# -- the config loader -------------------------------------------------------------------------


def _toml_value(st: Any) -> Any:
    scalar = (st.integers().map(str)
              | st.floats(allow_nan=False).filter(math.isfinite).map(repr)
              | st.sampled_from(["inf", "-inf", "true", "false", '""', "'x'", "1979-05-27",
                                 '"sqlite:///x.db"', '"memory://"', '"normal"', '"full"', "0",
                                 "-1", "1e400", "nan", '"\\u0000"'])
              | st.text(max_size=10).map(lambda t: '"' + "".join(
                  c if c.isalnum() else f"\\u{ord(c):04x}" for c in t if ord(c) < 0x10000)
                  + '"'))
    return st.recursive(scalar, lambda inner: (
        st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]")
        | st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), inner, max_size=3)
        .map(lambda d: "{" + ", ".join(f"{k} = {v}" for k, v in d.items()) + "}")),
        max_leaves=6)


def config_files() -> Any:
    """Bytes for an ``llmspell.toml``: random bytes, random text, or TOML that uses the
    schema's tables and keys with values of random types."""
    from hypothesis import strategies as st

    from llmspell.config_schema import SCHEMA

    keys = [(table, key) for table, fields in SCHEMA.items() for key in fields]
    tables = sorted({t.split(".")[0] for t in SCHEMA} | {"providers", "tools", "x"})

    @st.composite
    def schema_toml(draw: Any) -> bytes:
        lines = []
        for _ in range(draw(st.integers(0, 6))):
            table, key = draw(st.sampled_from(keys))
            if draw(st.integers(0, 9)) == 0:
                table = draw(st.sampled_from(tables))
            if draw(st.integers(0, 9)) == 0:
                key = draw(st.from_regex(r"[a-z_]{1,10}", fullmatch=True))
            lines.append(f"[{table}]\n{key} = {draw(_toml_value(st))}")
        return "\n".join(lines).encode()

    deep = st.integers(1, 1000).map(
        lambda n: b"[lua]\nx = " + b"[" * n + b"]" * n)
    return (schema_toml() | st.binary(max_size=200) | deep
            | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))


def fuzz_config(examples: int, seed: int | None = None) -> None:
    """Load random config files; raise AssertionError (or the stray exception)."""
    from hypothesis import given

    from llmspell.config import load_config

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "llmspell.toml"

        @given(config_files())
        def load(data: bytes) -> None:
            path.write_bytes(data)
            with suppress(ConfigError):  # a typed refusal is an allowed outcome
                load_config(path, env={}, cwd=Path(tmp), notify=lambda notice: None)

        _run(load, examples, seed)


# -- the backup reader -------------------------------------------------------------------------


@contextmanager
def _backed_up() -> Iterator[tuple[Path, str, dict[str, bytes]]]:
    """A directory holding one real backup: (directory, backup id, the records it holds)."""
    from llmspell.runtime import Runtime

    with tempfile.TemporaryDirectory() as tmp, \
            Runtime.memory(state__backup_dir=tmp) as rt:
        for i in range(40):
            rt.state.save(f"agent:a{i % 3}", f"k{i}", {"i": i, "text": "value " * (i % 7),
                                                       "bytes": bytes([i]) * 3})
        backup_id = rt.backups.backup().id
        yield Path(tmp), backup_id, {k: v for k, v in rt.store.scan("state/")}


def damaged_backups(size: int) -> Any:
    """Edits of a file of ``size`` bytes: byte flips, a truncation, an insertion."""
    from hypothesis import strategies as st

    flip = st.tuples(st.just("flip"), st.integers(0, size - 1), st.integers(1, 255))
    cut = st.tuples(st.just("cut"), st.integers(0, size - 1), st.just(0))
    insert = st.tuples(st.just("insert"), st.integers(0, size), st.integers(0, 255))
    return st.lists(flip | cut | insert, min_size=1, max_size=4)


def damage(data: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    """``data`` with ``edits`` applied in order (positions are clamped to the data)."""
    out = bytearray(data)
    for kind, at, byte in edits:
        at = min(at, len(out))
        if kind == "flip" and at < len(out):
            out[at] ^= byte
        elif kind == "cut":
            del out[at:]
        elif kind == "insert":
            out.insert(at, byte)
    return bytes(out)


def fuzz_backup(examples: int, seed: int | None = None) -> None:
    """Restore randomly damaged copies of a real backup; raise AssertionError (or the stray
    exception) when one restores wrong data or fails with anything but a BackupError."""
    from hypothesis import given

    from llmspell.runtime import Runtime

    with _backed_up() as (directory, backup_id, records):
        file = next(directory.glob(f"{backup_id}*"))
        original = file.read_bytes()

        @given(damaged_backups(len(original)))
        def restore(edits: list[tuple[str, int, int]]) -> None:
            damaged = damage(original, edits)
            with tempfile.TemporaryDirectory() as tmp, \
                    Runtime.memory(state__backup_dir=tmp) as rt:
                (Path(tmp) / file.name).write_bytes(damaged)
                rt.state.save("agent:a0", "k0", "changed after the backup")
                try:
                    rt.backups.restore(backup_id, safety_backup=False)
                except BackupError:
                    return
                restored = {k: v for k, v in rt.store.scan("state/")}
                assert restored == records, (
                    f"a backup damaged by {edits} restored other data than was backed up")

        _run(restore, examples, seed)


TARGETS: dict[str, Callable[..., None]] = {
    "converter": fuzz_converter, "config": fuzz_config, "backup": fuzz_backup}


def main(argv: list[str] | None = None) -> int:
    """The command: run one target; 0 when it found nothing, 1 with the finding."""
    parser = argparse.ArgumentParser(prog="python -m llmspell.testing.fuzz",
                                     description="Feed random input to one boundary.")
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=None,
                        help="random seed (default: a fixed, repeatable sequence)")
    options = parser.parse_args(argv)
    if options.examples < 1:
        parser.error("--examples must be at least 1")
    try:
        TARGETS[options.target](options.examples, options.seed)
    except ImportError as exc:
        print(f"error: {exc}; the fuzz targets need Hypothesis: pip install 'llmspell[dev]'",
              file=sys.stderr)
        return 2
    except Exception as exc:  # any finding: reported, then the exit status
        print(f"FOUND ({options.target}): {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"{options.target}: {options.examples} examples, nothing found")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
