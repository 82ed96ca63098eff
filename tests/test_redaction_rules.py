"""The redaction rules (llmspell.redact): every secret shape is found, legitimate values are
kept (no over-redaction), non-string values are never rewritten (also with
``redact_on_write``), and the exits that use the rules: logs, os.getenv, Config.get."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backends import runtime_for
from cli_runner import Run
from llmspell.errors import ScriptError, ValidationError
from llmspell.lua.engine import LuaEngine
from llmspell.redact import REDACTED, Redactor, install_log_redaction, is_secret_name
from llmspell.runtime import Runtime
from strategies import examples, scalars, values

R = Redactor()

# (text holding a secret, the secret part that must go, what must stay)
SECRET_TEXTS = [
    ("key sk_live_4eC39HqLyjWDarjtT1zdp7dc here", "4eC39HqLyjWDarjtT1zdp7dc", "key "),
    ("rk_test_51HxYzAbCdEfGh12345678", "51HxYzAbCdEfGh12345678", ""),
    ("google AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "SyD-9tSrke72Pou", "google "),
    ("HF_TOKEN hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567", "AbCdEfGhIjKlMnOpQrSt", "HF_TOKEN"),
    ("push with glpat-xxXX1234yyYY5678zzZZ", "xxXX1234yyYY5678", "push with "),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\nok",
     "MIIEpAIBAAKCAQEA", "\nok"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA", "b3BlbnNzaC1rZXkt", ""),
    ("Authorization: Bearer abc.def.ghi123", "abc.def.ghi123", "Authorization: Bearer "),
    ("curl -H 'authorization: Basic dXNlcjpwYXNzd29yZA=='", "dXNlcjpwYXNz", "Basic "),
    ('{"Authorization": "Token 9f8e7d6c5b4a"}', "9f8e7d6c5b4a", "Token "),
    ("sent Bearer eyZ0b2tlbjEyMzQ1Njc4OTA", "eyZ0b2tlbjEyMzQ1Njc4OTA", "sent Bearer "),
    ("postgresql://app:hunter2@db.example:5432/llm", "hunter2", "postgresql://app:"),
    ("redis://:s3cr3t@cache:6379/0", "s3cr3t", "@cache:6379/0"),
    ("postgresql://u:p@ss@db:5432/x?password=zz9", "ss@db", "@db:5432/x?password="),
    ("postgresql://u@db/x?sslmode=require&password=zz9&table=t", "zz9", "&table=t"),
    ("https://user:p%40ss@example.com/x", "p%40ss", "https://user:"),
    ("AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "wJalrXUtnFEMI/K7MDENG", ""),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI",
     "aws_secret_access_key = "),
    ("OPENAI_API_KEY=sk-proj-abcDEF123ghiJKL456mnoPQR789", "abcDEF123ghi", "OPENAI_API_KEY="),
    ("sk-ant-api03-AbCdEf-GhIjKl_MnOpQr-StUvWx_YzAbCd-EfGh12", "AbCdEf-GhIjKl", ""),
    ("login password=hunter2 ok", "hunter2", " ok"),
    ("password: hunter", "hunter", "password: "),
    ('{"client_secret": "abc def"}', "abc def", '"client_secret": '),
    ("in: next_page_token: password=hunter2", "hunter2", "next_page_token: password="),
]

# Legitimate values that must come out unchanged.
KEPT_TEXTS = [
    "max_token = 4096",
    "secret = false",
    'pwd = "/home/ana/project"',
    "next_page_token = abc123def",
    "git checkout sk-refactor-session-manager-cleanup-2024",
    "the token: it expires daily",
    "Use a Bearer token in the header",
    "token_count: 512, max_tokens: 1024",
    "password: null",
    "https://example.com/path?user=a@b.c",
    "see http://host:8080/p?e=a@b",
    "commit 3f2a9c1e5b7d8f0a1c2e3b4d5f6a7b8c9d0e1f2a",  # 40 hex: no AWS key id nearby
    "hf_hub_download and sk-learn",
]

KEPT_VALUES = {
    "max_token": 4096, "secret": False, "pwd": "/home/ana/project",
    "next_page_token": "CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA0", "token": None,
    "password_hint": "your pet", "has_password": "yes", "max_tokens": 1024,
    "tokens": ["a", "b"], "api_key_env": "OPENAI_API_KEY", "branch": "sk-refactor-x",
    "nested": {"secret": 0, "password": 1.5, "token": True, "api_key": ""},
}


@pytest.mark.parametrize(("text", "secret", "kept"), SECRET_TEXTS,
                         ids=[t[0][:24] for t in SECRET_TEXTS])
def test_every_secret_shape_is_hidden(text: str, secret: str, kept: str) -> None:
    out = R.redact_text(text)
    assert secret not in out and REDACTED in out
    assert kept in out
    assert R.redact_text(out) == out  # redacting again changes nothing


@pytest.mark.parametrize("text", KEPT_TEXTS)
def test_legitimate_text_is_kept(text: str) -> None:
    assert R.redact_text(text) == text


def test_legitimate_values_are_kept() -> None:
    assert R.redact(KEPT_VALUES) == KEPT_VALUES
    assert not R.contains_secret(KEPT_VALUES)


@pytest.mark.parametrize(("name", "secret"), [
    ("token", True), ("api_key", True), ("apiKey", True), ("API-KEY", True),
    ("access_token", True), ("password", True), ("secret", True), ("client_secret", True),
    ("authorization", True), ("OPENAI_API_KEY", True), ("db_password", True),
    ("github_token", True), ("webhookSecret", True), ("aws_secret_access_key", True),
    ("max_token", False), ("next_page_token", False), ("pwd", False), ("tokens", False),
    ("max_tokens", False), ("token_count", False), ("secretary", False), ("keyboard", False),
    ("password_hint", False), ("is_secret", False), ("session_key", False),
])
def test_secret_field_names_are_matched_exactly(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_string_values_under_secret_names_are_hidden_whole() -> None:
    data = {"password": "hunter2", "apiKey": "abc", "creds": {"client_secret": "x y"},
            "keys": {"token": ["a", "b", 3]}, "aws": {"id": "AKIAIOSFODNN7EXAMPLE",
                                                      "other": "wJalrXUtnFEMI/K7MDENG/bPxRf"
                                                               "iCYEXAMPLEKEY"}}
    assert R.redact(data) == {"password": REDACTED, "apiKey": REDACTED,
                              "creds": {"client_secret": REDACTED},
                              "keys": {"token": [REDACTED, REDACTED, 3]},
                              "aws": {"id": REDACTED, "other": REDACTED}}
    assert data["password"] == "hunter2"  # a copy


# Stored values, keyed by secret and non-secret names, with secret-shaped text among the leaves.
json_values = values(
    scalars() | st.sampled_from(["sk-abcdefghijklmnopqrstuvwx", "password=hunter2", "[REDACTED]",
                                 "postgresql://u:p@h/db", "AKIAIOSFODNN7EXAMPLE"]),
    keys=st.sampled_from(["password", "token", "secret", "max_token", "apiKey", "n"]))


def _non_strings(value: object) -> object:
    """``value`` with every string replaced by one marker: what redaction may not change."""
    if isinstance(value, str):
        return "<s>"
    if isinstance(value, dict):
        return {k: _non_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_non_strings(v) for v in value]
    return value


@settings(max_examples=examples(200))
@given(json_values)
def test_redaction_never_rewrites_a_non_string_and_is_idempotent(value: object) -> None:
    out = R.redact(value)
    assert _non_strings(out) == _non_strings(value)
    assert R.redact(out) == out


def test_redact_on_write_keeps_numbers_and_booleans(tmp_path: Path) -> None:
    with runtime_for("memory", tmp_path, state__redact_on_write=True) as rt:
        rt.state.save("global", "settings", {
            "max_token": 4096, "secret": False, "password": "hunter2", "token": 12,
            "ratio": 0.5, "flags": [True, None, 3], "pwd": "/home/ana/project",
            "note": "key sk-abcdefghijklmnopqrstuvwx here"})
        assert rt.state.load("global", "settings") == {
            "max_token": 4096, "secret": False, "password": REDACTED, "token": 12,
            "ratio": 0.5, "flags": [True, None, 3], "pwd": "/home/ana/project",
            "note": f"key {REDACTED} here"}


def test_extra_patterns_and_bad_ones() -> None:
    assert Redactor([r"ACME-\d{6}"]).redact_text("id ACME-123456 ok") == f"id {REDACTED} ok"
    with pytest.raises(ValidationError, match=r"patterns.*\[1\].*regular expressions"):
        Redactor(["ok", "("])


def test_llmspell_log_records_are_redacted_whatever_logger_or_handler(
        caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    caplog.set_level(logging.DEBUG)
    child = logging.getLogger("llmspell.some.module.created.late")
    child.warning("connecting with password=%s to %s", "hunter2",
                  "postgresql://app:s3cr3t@db/llm")
    try:
        raise RuntimeError("refused key sk-abcdefghijklmnopqrstuvwx")
    except RuntimeError:
        child.exception("failed")
    logging.getLogger("other.library").warning("password=%s", "kept-elsewhere")
    assert "hunter2" not in caplog.text and "s3cr3t" not in caplog.text
    assert "sk-abcdefghij" not in caplog.text
    assert "password=[REDACTED] to postgresql://app:[REDACTED]@db/llm" in caplog.text
    assert "password=kept-elsewhere" in caplog.text  # not ours: left alone


def test_lua_logger_and_os_getenv_hide_secrets(mem: Runtime, caplog: pytest.LogCaptureFixture,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG, logger="llmspell.script")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:hunter2@db.example/llm")
    monkeypatch.setenv("PLAIN_SETTING", "max_token = 4096")
    engine = LuaEngine(mem, script_name="t.lua")
    try:
        got = engine.run_string("""
            Logger.warn("using sk-abcdefghijklmnopqrstuvwx", {password = "hunter2", n = 3})
            return os.getenv("DATABASE_URL"), os.getenv("PLAIN_SETTING")
        """, "t.lua")
        with pytest.raises(ScriptError, match=r"SecurityViolation: os.getenv.'OPENAI_API_KEY"):
            engine.run_string("return os.getenv('OPENAI_API_KEY')", "t.lua")
    finally:
        engine.close()
    assert got == ("postgresql://app:[REDACTED]@db.example/llm", "max_token = 4096")
    record = caplog.records[-1]
    assert record.getMessage() == f"using {REDACTED}"
    assert record.fields == {"password": REDACTED, "n": 3}  # type: ignore[attr-defined]


def test_the_redaction_section_of_docs_security_runs() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "security.md").read_text()
    section = text.split("## Redaction", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/security.md", "exec"), {})


def test_forty_character_tokens_are_kept_without_an_aws_key_id_nearby() -> None:
    text = "Asiaticpopulation247 wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert R.redact_text(text) == text
    assert R.redact_text(f"AKIAIOSFODNN7EXAMPLE {text}") == \
        f"{REDACTED} Asiaticpopulation247 {REDACTED}"


def test_a_bad_redact_pattern_is_reported_not_a_crash(run: Run) -> None:
    bad = ("--set", 'state.redact_patterns=["("]')
    listed = run(*bad, "state", "list")
    assert listed.exit_code == 2 and "'patterns' at [0]" in listed.stderr
    assert run(*bad, "info").exit_code == 0


def test_log_redaction_patterns_add_up_and_a_bad_one_is_named_by_its_own_index(
        caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction([r"\bACME-\d{6}\b"])
    install_log_redaction([r"\bZETA-\d{4}\b"])
    with pytest.raises(ValidationError, match=r"at \[1\]"):
        install_log_redaction(["fine", "("])
    caplog.set_level(logging.INFO)
    logging.getLogger("llmspell.test").info("ids ACME-123456 ZETA-1234 fine")
    assert caplog.records[-1].getMessage() == f"ids {REDACTED} {REDACTED} fine"
