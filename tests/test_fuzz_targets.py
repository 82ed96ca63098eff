"""The fuzz targets: a short run of each, and proof that each reports what it is there to find."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmspell.config import load_config
from llmspell.errors import ConfigError
from llmspell.state.backup import BackupManager
from llmspell.testing import fuzz


@pytest.mark.slow
@pytest.mark.parametrize(("target", "examples"), [("converter", 50), ("config", 100),
                                                  ("backup", 40)])
def test_a_short_run_of_each_target_finds_nothing(target: str, examples: int,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert fuzz.main([target, "--examples", str(examples)]) == 0
    assert capsys.readouterr().out == f"{target}: {examples} examples, nothing found\n"


@pytest.mark.slow
def test_the_backup_target_reports_a_restore_of_wrong_data(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(BackupManager, "restore", lambda self, *a, **kw: {})  # "succeeds"
    assert fuzz.main(["backup", "--examples", "5"]) == 1
    assert "restored other data than was backed up" in capsys.readouterr().err


@pytest.mark.slow
def test_the_config_target_reports_an_untyped_error(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("storage")

    monkeypatch.setattr("llmspell.config.load_config", broken)
    assert fuzz.main(["config", "--examples", "5"]) == 1
    assert "FOUND (config): KeyError" in capsys.readouterr().err


@pytest.mark.slow
def test_the_converter_target_reports_a_value_that_comes_back_changed(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(fuzz, "as_lua_sees_it", lambda value: ["not", value])
    assert fuzz.main(["converter", "--examples", "5"]) == 1
    assert "came back as" in capsys.readouterr().err


def test_damage_flips_cuts_and_inserts_in_order() -> None:
    data = bytes(range(10))
    assert fuzz.damage(data, [("flip", 0, 0xFF)]) == b"\xff" + data[1:]
    assert fuzz.damage(data, [("cut", 4, 0), ("insert", 99, 7)]) == data[:4] + b"\x07"
    assert fuzz.damage(data, [("cut", 0, 0), ("flip", 3, 1)]) == b""


def test_same_tells_types_and_signed_zeros_apart_and_nan_from_nothing() -> None:
    nan = float("nan")
    assert fuzz.same([nan, {"a": 1}], [nan, {"a": 1}])
    assert not fuzz.same(1, 1.0)
    assert not fuzz.same(0.0, -0.0)
    assert not fuzz.same({"a": [1]}, {"a": [1, 2]})


def test_a_deeply_nested_config_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "llmspell.toml"
    path.write_bytes(b"[lua]\nx = " + b"[" * 2000 + b"]" * 2000)
    with pytest.raises(ConfigError):
        load_config(path, env={}, cwd=tmp_path)
