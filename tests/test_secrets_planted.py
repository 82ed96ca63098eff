"""Planted secrets: secrets of every shape the redactor knows go into session names, tags,
metadata and fail reasons, artifact metadata, state values, the store URL (a PostgreSQL
password), environment variables, Logger text and a Lua error; then every CLI command's output
(plain and ``--json``), the logs (DEBUG), the events, stderr and the journal are searched for
them: none may show. ``state export``, ``state get --reveal`` and ``artifact cat`` are data
copies and are left out on purpose (docs/security.md, "Redaction")."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import orjson
import pytest
from click.testing import Result

from cli_runner import Run
from llmspell.events import capture_events
from llmspell.runtime import Runtime
from llmspell.testing import POSTGRES_URL, discard_store, postgres_unreachable

# Each secret, and the part of it that must never show (a shape's prefix may stay visible,
# e.g. "Bearer" or a URL's user name).
OPENAI = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
STRIPE = "sk_live_51HxYzAbCdEfGh12345678"
GOOGLE = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
HUGGING = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567"
GITLAB = "glpat-Zx9Yw8Vu7Ts6Rq5Po4Nm"
PEM = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCPLANTED\n"
       "-----END PRIVATE KEY-----")
BEARER = "Qm9vbXRva2VuOTg3NjU0MzIx"
AWS_ID = "AKIAPLANTED7EXAMPLE1"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPLANTEDKEY"
PASSWORD = "hunter2-planted"
PG_PASSWORD = "Pg5ecretPa55"
TOKEN = "tok3n-planted-value"

NEEDLES = {
    "openai": "Ab3dEf6hIj9kLm2n", "stripe": "51HxYzAbCdEfGh", "google": "SyA1b2C3d4E5f6",
    "hf": "AbCdEfGhIjKlMnOpQrSt", "gitlab": "Zx9Yw8Vu7Ts6", "pem": "MIIEvQIBADANBgkq",
    "bearer": BEARER, "aws id": AWS_ID, "aws secret": "bPxRfiCYPLANTEDKEY",
    "password": PASSWORD, "pg password": PG_PASSWORD, "token": TOKEN,
}

ALL = (f"{OPENAI} {STRIPE} {GOOGLE} {HUGGING} {GITLAB} Authorization: Bearer {BEARER} "
       f"{AWS_ID} {AWS_SECRET} password={PASSWORD}")

CREATE = f"""
local s = Session.create{{
  name = "deploy {OPENAI}",
  description = "keys {STRIPE} {GOOGLE}",
  tags = {{"{HUGGING}", "{GITLAB}"}},
  metadata = {{password = "{PASSWORD}", token = "{TOKEN}", pem = [[{PEM}]],
              note = "Authorization: Bearer {BEARER}", aws = {{id = "{AWS_ID}",
              key = "{AWS_SECRET}"}}}},
}}
Artifact.store(s.id, "notes.txt", "plain content", {{
  tags = {{"{HUGGING}"}}, description = "made with {OPENAI}",
  custom = {{api_key = "{GOOGLE}", dsn = "postgresql://app:{PG_PASSWORD}@db/llm"}},
}})
State.save("session:" .. s.id, "creds", {{api_key = "{STRIPE}", note = "{ALL}"}})
Logger.warn("connecting with {ALL}", {{password = "{PASSWORD}"}})
Logger.debug("debug line " .. tostring(os.getenv("DATABASE_URL")))
print(s.id)
print(os.getenv("DATABASE_URL"))
"""

FAILING = f"""
error("could not log in: password={PASSWORD} key {OPENAI} url postgresql://u:{PG_PASSWORD}@h/db")
"""


def hits(text: str) -> list[str]:
    """The names of the planted secrets ``text`` shows."""
    return [name for name, needle in NEEDLES.items() if needle in text]


@pytest.fixture
def project(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The ``run`` fixture's directory (the command runs there), with the two scripts and
    ``DATABASE_URL`` holding a password."""
    monkeypatch.setenv("DATABASE_URL", f"postgresql://app:{PG_PASSWORD}@db.example/llm")
    (tmp_path / "create.lua").write_text(CREATE)
    (tmp_path / "failing.lua").write_text(FAILING)
    return tmp_path


def test_no_planted_secret_shows_in_any_cli_output_log_or_journal(
        project: Path, run: Run, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    outputs: dict[str, str] = {}

    def checked(*args: str, code: int = 0) -> Result:
        result = run(*args)
        assert result.exit_code == code, (args, result.output)
        outputs[" ".join(args)] = result.stdout + result.stderr
        return result

    created = checked("-vv", "run", "create.lua")
    session_id, database_url = created.stdout.splitlines()[:2]
    assert database_url == "postgresql://app:[REDACTED]@db.example/llm"  # os.getenv
    checked("-vv", "run", "failing.lua", code=1)
    assert "could not log in: password=[REDACTED]" in outputs["-vv run failing.lua"]

    artifacts = json.loads(checked("artifact", "list", "--json").stdout)
    artifact_id = artifacts[0]["id"]
    for json_flag in ((), ("--json",)):
        checked("session", "list", *json_flag)
        checked("session", "show", session_id, *json_flag)
        checked("session", "timeline", session_id, *json_flag)
        checked("artifact", "list", *json_flag)
        checked("artifact", "show", artifact_id, *json_flag)
        checked("artifact", "versions", session_id, "notes.txt", *json_flag)
        checked("state", "get", f"session:{session_id}", "creds", *json_flag)
        checked("state", "list", *json_flag)
        checked("info", *json_flag)
        checked("doctor", *json_flag)
        checked("-v", "session", "suspend", session_id, *json_flag)
        checked("session", "resume", session_id, *json_flag)
        checked("backup", "create", "-d", f"nightly {OPENAI} password={PASSWORD}", *json_flag)
        checked("backup", "list", *json_flag)
        checked("migrate", "status", *json_flag)
        checked("exec", f"error('token: {TOKEN}')", *json_flag, code=1)
    checked("session", "fail", session_id, "--reason", f"leaked {OPENAI} password={PASSWORD}")
    checked("session", "show", session_id)
    checked("session", "show", session_id, "--json")
    checked("session", "list", "--status", "failed", "--json")

    leaks = {command: found for command, text in outputs.items() if (found := hits(text))}
    assert leaks == {}
    assert hits(caplog.text) == []
    assert hits(" ".join(str(r.__dict__) for r in caplog.records)) == []  # fields too

    with Runtime.from_config() as rt:
        raw = b"".join(value for _, value in rt.store.scan(f"journal/{session_id}/"))
        entries = rt.sessions.journal.read(session_id)
    assert len(entries) > 3 and raw
    assert hits(raw.decode("utf-8", "replace")) == []
    # The data copy keeps the secrets: redaction changed output, not what is stored.
    exported = run("state", "export").stdout
    assert STRIPE in exported


def test_a_postgres_password_in_the_store_url_never_shows(
        project: Path, run: Run, caplog: pytest.LogCaptureFixture) -> None:
    if reason := postgres_unreachable():
        pytest.skip(reason)
    caplog.set_level(logging.DEBUG)
    scheme, rest = POSTGRES_URL.split("://", 1)
    host = rest.rpartition("@")[2]
    url = f"{scheme}://postgres:{PG_PASSWORD}@{host}"  # the test server trusts any password
    sep = "&" if "?" in url else "?"
    url += f"{sep}table=llmspell_planted_{os.urandom(6).hex()}"
    (project / "llmspell.toml").write_text(f'[storage]\nurl = "{url}"\n')
    try:
        texts = []
        for args in (("info",), ("info", "--json"), ("doctor",), ("doctor", "--json"),
                     ("-vv", "session", "list"), ("session", "list", "--json")):
            result = run(*args)
            texts.append(result.stdout + result.stderr)
        assert [hits(text) for text in texts] == [[]] * len(texts)
        assert "postgres:[REDACTED]@" in texts[0]
        assert hits(caplog.text) == []
    finally:
        discard_store(url)


def test_no_planted_secret_reaches_a_subscriber_of_llmspell_events(mem: Runtime) -> None:
    rt = mem
    with capture_events(rt.events) as events:

        def leaky_hook(ctx: object) -> None:
            raise RuntimeError(f"upstream refused {OPENAI} with password={PASSWORD}")

        rt.hooks.register("custom:leak", leaky_hook)
        rt.hooks.fire("custom:leak", {"x": 1})
        session = rt.sessions.create(f"deploy {OPENAI}", tags=[HUGGING], description=ALL,
                                     metadata={"password": PASSWORD, "pem": PEM})
        rt.artifacts.store(session.id, "notes.txt", b"content", tags=[GITLAB],
                           description=f"with {GOOGLE}", custom={"token": TOKEN, "all": ALL},
                           as_session=None)
        rt.state.save(f"session:{session.id}", "creds", {"api_key": STRIPE, "note": ALL})
        rt.sessions.fail(session.id, f"leaked {OPENAI} and Bearer {BEARER}")
    types = [event.type for event in events]
    for expected in ("hook.error", "session.created", "artifact.stored", "state.changed",
                     "session.failed"):
        assert expected in types
    text = orjson.dumps([event.as_dict() for event in events], default=str).decode()
    assert hits(text) == []
