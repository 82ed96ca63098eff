"""``llmspell prompt``: the answer streamed to stdout, the call journaled in a session, usage on
stderr, provider errors as messages with their own exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_runner import Process, Run
from llmspell.testing import FakeOpenAIServer

PLANTED = "sk-plantedPROMPTkey0123456789abcdef"


def scripted_config(tmp_path: Path, replies: list[object]) -> None:
    (tmp_path / "replies.json").write_text(json.dumps(replies), encoding="utf-8")
    (tmp_path / "llmspell.toml").write_text(
        '[providers.demo]\nkind = "scripted"\nreplies = "replies.json"\n', encoding="utf-8")


def session_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("session: ")]
    assert len(lines) == 1, stderr
    return lines[0].removeprefix("session: ")


def timeline(run: Run, sid: str) -> list[dict[str, object]]:
    result = run("session", "timeline", sid, "--json")
    assert result.exit_code == 0, result.stderr
    entries: list[dict[str, object]] = json.loads(result.stdout)
    return entries


def show(run: Run, sid: str) -> dict[str, object]:
    result = run("session", "show", sid, "--json")
    assert result.exit_code == 0, result.stderr
    found: dict[str, object] = json.loads(result.stdout)
    return found


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def openai_env(server: FakeOpenAIServer, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> FakeOpenAIServer:
    """OPENAI_BASE_URL at the loopback server, a planted key, no retries."""
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", PLANTED)
    (tmp_path / "llmspell.toml").write_text("[providers.openai]\nmax_retries = 0\n",
                                            encoding="utf-8")
    return server


def test_the_answer_goes_to_stdout_and_the_call_into_a_new_completed_session(
        run: Run, tmp_path: Path) -> None:
    scripted_config(tmp_path, ["Hello from the script"])
    result = run("prompt", "Say hello", "-m", "demo/any", "-s", "Be brief.")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Hello from the script\n"
    sid = session_line(result.stderr)
    assert "usage: 4 input + 4 output = 8 tokens" in result.stderr
    assert show(run, sid)["status"] == "completed"
    calls = [e for e in timeline(run, sid) if e["kind"] == "llm.call"]
    assert len(calls) == 1
    data = calls[0]["data"]
    assert isinstance(data, dict)
    assert data["request"]["messages"] == [{"role": "system", "content": "Be brief."},
                                           {"role": "user", "content": "Say hello"}]
    assert data["response"]["text"] == "Hello from the script"
    assert data["stream"] is True


def test_a_given_session_gets_the_call_and_stays_active(run: Run, tmp_path: Path) -> None:
    scripted_config(tmp_path, ["Noted"])
    made = run("exec", 'print(Session.create{name = "work"}.id)')
    assert made.exit_code == 0, made.stderr
    sid = made.stdout.strip()
    result = run("prompt", "remember this", "-m", "demo/x", "--session", sid)
    assert result.exit_code == 0, result.stderr
    assert "session: " not in result.stderr
    assert show(run, sid)["status"] == "active"
    assert [e["kind"] for e in timeline(run, sid)].count("llm.call") == 1


def test_an_unknown_session_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    scripted_config(tmp_path, ["never sent"])
    result = run("prompt", "hi", "-m", "demo/x", "--session", "no-such-session")
    assert result.exit_code != 0
    assert "no-such-session" in result.stderr


def test_the_prompt_is_read_from_stdin_with_a_dash(run: Run, tmp_path: Path) -> None:
    scripted_config(tmp_path, ["got it"])
    result = run("prompt", "-", "-m", "demo/x", stdin="a long question\nover two lines\n")
    assert result.exit_code == 0, result.stderr
    sid = session_line(result.stderr)
    call = next(e for e in timeline(run, sid) if e["kind"] == "llm.call")
    assert call["data"]["request"]["messages"][-1]["content"] == (  # type: ignore[index]
        "a long question\nover two lines\n")


def test_an_empty_prompt_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    scripted_config(tmp_path, ["never sent"])
    result = run("prompt", "-", "-m", "demo/x", stdin="  \n")
    assert result.exit_code == 2
    assert "the prompt is empty" in result.stderr


def test_json_prints_the_whole_result(run: Run, tmp_path: Path) -> None:
    scripted_config(tmp_path, [{"text": "forty-two", "usage": {"input_tokens": 7,
                                                               "output_tokens": 1}}])
    result = run("prompt", "the answer?", "-m", "demo/x", "--json")
    assert result.exit_code == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["text"] == "forty-two"
    assert found["usage"] == {"input_tokens": 7, "output_tokens": 1, "total": 8, "cost": 0.0}
    assert found["metadata"]["session_id"] == session_line(result.stderr)


def test_an_unknown_provider_is_a_usage_error_and_makes_no_session(
        run: Run, tmp_path: Path) -> None:
    scripted_config(tmp_path, [])
    result = run("prompt", "hi", "-m", "nowhere/model")
    assert result.exit_code == 2
    assert "unknown provider 'nowhere'" in result.stderr
    listed = run("session", "list", "--json")
    assert json.loads(listed.stdout) == []


def test_streams_from_an_openai_compatible_server(run: Run,
                                                   openai_env: FakeOpenAIServer) -> None:
    openai_env.reply("Streamed over real HTTP", usage=(9, 4))
    result = run("prompt", "hi", "-m", "openai/gpt-4o-mini", "-s", "Be brief.")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Streamed over real HTTP\n"
    assert "usage: 9 input + 4 output = 13 tokens" in result.stderr
    sent = openai_env.requests[0]
    assert sent.json["stream"] is True and sent.json["model"] == "gpt-4o-mini"
    assert sent.json["messages"][0] == {"role": "system", "content": "Be brief."}
    assert PLANTED not in result.output


def test_a_refused_key_exits_6_naming_the_variable(run: Run,
                                                   openai_env: FakeOpenAIServer) -> None:
    openai_env.error(401, "invalid api key")
    result = run("prompt", "hi", "-m", "openai/gpt-4o-mini")
    assert result.exit_code == 6
    assert "ProviderAuthError" in result.stderr and "OPENAI_API_KEY" in result.stderr
    assert PLANTED not in result.output
    sid = session_line(result.stderr)
    assert show(run, sid)["status"] == "failed"
    call = next(e for e in timeline(run, sid) if e["kind"] == "llm.call")
    assert call["data"]["error_type"] == "ProviderAuthError"  # type: ignore[index]


def test_a_missing_key_exits_6_before_any_session(run: Run, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("LLMSPELL_KEYS_PATH", str(tmp_path / "no-keys.toml"))
    result = run("prompt", "hi", "-m", "openai/gpt-4o-mini")
    assert result.exit_code == 6
    assert "OPENAI_API_KEY" in result.stderr
    assert json.loads(run("session", "list", "--json").stdout) == []


def test_an_unavailable_provider_exits_7(run: Run, openai_env: FakeOpenAIServer) -> None:
    openai_env.error(503, "overloaded")
    result = run("prompt", "hi", "-m", "openai/gpt-4o-mini")
    assert result.exit_code == 7
    assert "ProviderUnavailable" in result.stderr


def test_a_refused_request_exits_8_with_the_providers_message(
        run: Run, openai_env: FakeOpenAIServer) -> None:
    openai_env.error(400, "max_tokens is too large")
    result = run("prompt", "hi", "-m", "openai/gpt-4o-mini")
    assert result.exit_code == 8
    assert "ProviderBadRequest" in result.stderr and "max_tokens is too large" in result.stderr


def test_a_dropped_stream_exits_8_after_the_text_it_got(run: Run,
                                                        openai_env: FakeOpenAIServer) -> None:
    openai_env.drop_stream(after_text="Hel")
    result = run("prompt", "hi", "-m", "openai/gpt-4o-mini")
    assert result.exit_code == 8
    assert result.stdout.startswith("Hel")
    assert "ProviderStreamDropped" in result.stderr


def test_a_session_limit_refuses_the_call(run: Run, tmp_path: Path) -> None:
    scripted_config(tmp_path, ["never sent"])
    with (tmp_path / "llmspell.toml").open("a", encoding="utf-8") as f:
        f.write("[session]\nmax_tokens = 2\n")
    result = run("prompt", "a question longer than two tokens", "-m", "demo/x")
    assert result.exit_code == 1
    assert "ResourceLimitExceeded" in result.stderr


def test_prompt_as_a_real_process(process: Process, tmp_path: Path) -> None:
    scripted_config(tmp_path, ["Hello, process"])
    done = process("prompt", "-", "-m", "demo/x", stdin=b"hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"Hello, process\n"
    assert b"session: " in done.stderr and b"usage: " in done.stderr


def test_a_planted_key_is_nowhere_after_calls(openai_env: FakeOpenAIServer, run: Run,
                                             tmp_path: Path) -> None:
    """Issue 12's acceptance: after real HTTP calls (one answered, one refused), the key is
    in no CLI output (plain and --json), no file of the store and no backup."""
    openai_env.reply("All good", usage=(3, 2))
    answered = run("prompt", "hello", "-m", "openai/gpt-4o-mini")
    assert answered.exit_code == 0, answered.stderr
    assert openai_env.requests[0].headers["authorization"] == f"Bearer {PLANTED}"  # it was used
    sid = session_line(answered.stderr)
    openai_env.error(401, "bad key")
    refused = run("prompt", "again", "-m", "openai/gpt-4o-mini")
    assert refused.exit_code == 6
    outputs = [answered.stdout, answered.stderr, refused.stdout, refused.stderr]
    for args in (("session", "list"), ("session", "list", "--json"), ("session", "show", sid),
                 ("session", "show", sid, "--json"), ("session", "timeline", sid),
                 ("session", "timeline", sid, "--json"), ("artifact", "list", sid),
                 ("artifact", "list", sid, "--json"), ("state", "list"), ("info",),
                 ("info", "--json"), ("doctor",), ("models",), ("backup", "create")):
        result = run(*args)
        outputs += [result.stdout, result.stderr]
    assert all(PLANTED not in text for text in outputs)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".llsb" for p in files)  # the backup was written
    assert any(p.suffix == ".db" for p in files)  # and the store is a file here
    assert all(PLANTED.encode() not in p.read_bytes() for p in files)
