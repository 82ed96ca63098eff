"""The ``[session]`` keys sessions use, read from llmspell.toml, the environment and the
rs-llmspell ``[runtime.sessions]`` aliases, and the runtime's lazily built manager."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmspell.config import load_config
from llmspell.errors import ConfigError
from llmspell.runtime import Runtime
from llmspell.sessions import SessionSettings

TOML = """
[session]
enabled = true
storage_path = "./sessions"
max_active_sessions = 100
artifact_compression = true
idle_timeout_seconds = 120
max_duration_seconds = 3600
max_operations = 50
max_tokens = 10000
max_cost = 2.5
max_artifact_bytes = 1000000
rate_limits = ["global=100/s", "agent.execute=5/s burst 10"]
rate_limit_mode = "fail"
rate_limit_max_wait_seconds = 5
policy_composition = "voting"
journal_state_values = false
journal_hooks = false
journal_events = false
"""


def test_every_session_key_is_read(tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text(TOML)
    settings = SessionSettings.from_config(load_config(cwd=tmp_path, env={}))
    assert settings == SessionSettings(
        enabled=True, max_active_sessions=100, idle_timeout_seconds=120.0,
        max_duration_seconds=3600.0, max_operations=50, max_tokens=10000, max_cost=2.5,
        max_artifacts=10000, max_artifact_bytes=1_000_000,
        rate_limits=("global=100/s", "agent.execute=5/s burst 10"), rate_limit_mode="fail",
        rate_limit_max_wait_seconds=5.0, policy_composition="voting",
        journal_state_values=False, journal_hooks=False, journal_events=False)
    limits = settings.default_limits()
    assert (limits.operations, limits.tokens, limits.cost, limits.artifacts,
            limits.artifact_bytes) == (50, 10000, 2.5, 10000, 1_000_000)


def test_rs_llmspell_aliases_and_environment(tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text(
        "[runtime.sessions]\nmax_sessions = 7\nsession_timeout_seconds = 30\n")
    config = load_config(cwd=tmp_path, env={"LLMSPELL_SESSION_MAX_TOKENS": "99",
                                            "LLMSPELL_SESSION_RATE_LIMITS": "session=1/s"})
    settings = SessionSettings.from_config(config)
    assert (settings.max_active_sessions, settings.idle_timeout_seconds) == (7, 30.0)
    assert settings.max_tokens == 99 and settings.rate_limits == ("session=1/s",)


@pytest.mark.parametrize(("text", "key"), [
    ('[session]\npolicy_composition = "majority"\n', "policy_composition"),
    ('[session]\nrate_limit_mode = "queue"\n', "rate_limit_mode"),
    ("[session]\nmax_tokens = -1\n", "max_tokens"),
    ('[session]\nrate_limits = "global=1/s"\n', "rate_limits"),
    ("[session]\nmax_duration = 5\n", "max_duration"),
])
def test_bad_session_keys_are_named(tmp_path: Path, text: str, key: str) -> None:
    (tmp_path / "llmspell.toml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(cwd=tmp_path, env={})
    assert caught.value.key == key


def test_a_bad_rate_rule_is_reported_when_sessions_are_built() -> None:
    with (Runtime.memory(session__rate_limits=["global=fast"]) as runtime,
          pytest.raises(ValueError, match="rate_limits")):
        runtime.sessions  # noqa: B018 - building it is the point


def test_the_runtime_builds_one_manager_that_journals_state() -> None:
    with Runtime.memory() as runtime:
        assert runtime.sessions is runtime.sessions
        made = runtime.sessions.create("x")
        runtime.state.save(f"session:{made.id}", "k", 1)
        assert [e.kind for e in runtime.sessions.journal.read(made.id)] == [
            "session.created", "state.write"]
        runtime.sessions.delete(made)
        assert runtime.state.list_keys(f"session:{made.id}") == []


def test_without_state_sessions_still_work() -> None:
    with Runtime.memory(state__enabled=False) as runtime:
        made = runtime.sessions.create("x")
        assert runtime.sessions.delete(made) is True
