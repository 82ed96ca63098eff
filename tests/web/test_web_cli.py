"""``llmspell web`` as a user runs it: a real process serving the project's store, the URL it
prints, and its refusals (a short token, a host it cannot bind)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cli_runner import Run


def test_help_says_what_it_does(run: Run) -> None:
    result = run("web", "--help")
    assert result.exit_code == 0
    assert "--allow-actions" in result.stdout and "token" in result.stdout


def test_without_the_web_extra_it_names_the_extra(run: Run,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n == "llmspell.web" or n.startswith(
            ("llmspell.web.", "starlette", "uvicorn"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "starlette", None)
    result = run("web", "--port", "0")
    assert result.exit_code == 2
    assert "needs the 'web' extra (starlette is missing)" in result.stderr
    assert "pip install 'llmspell[web]'" in result.stderr


def test_short_token_and_unbindable_host_exit_2(run: Run) -> None:
    short = run("web", "--port", "0", "--token", "abc")
    assert short.exit_code == 2 and "argument 'token'" in short.stderr
    assert "at least 16 characters" in short.stderr and "abc" not in short.stderr
    bad = run("web", "--port", "0", "--host", "bad host")
    assert bad.exit_code == 2 and "argument 'host'" in bad.stderr
    unbindable = run("web", "--port", "0", "--host", "192.0.2.1")  # TEST-NET: not ours
    assert unbindable.exit_code == 2 and "cannot listen on 192.0.2.1:0" in unbindable.stderr


@pytest.mark.slow
def test_serves_the_projects_store_until_interrupted(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    made = subprocess.run(
        [sys.executable, "-m", "llmspell", "exec",
         'local s = Session.create({name = "from-a-script"}); Session.suspend(s.id)'],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    server = subprocess.Popen([sys.executable, "-m", "llmspell", "web", "--port", "0"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith("llmspell web on http://127.0.0.1:"), first
        assert "token" not in first
        assert server.stdout.readline().startswith("read-only")
        url = first.split(" on ", 1)[1].strip()
        deadline = time.monotonic() + 20
        while True:
            try:
                listed = httpx.get(url + "api/sessions").json()["items"]
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.1)
        assert [(s["name"], s["status"]) for s in listed] == [("from-a-script", "suspended")]
        refused = httpx.post(url + f"api/sessions/{listed[0]['id']}/resume")
        assert refused.status_code == 403
    finally:
        server.send_signal(signal.SIGINT)
        _, errors = server.communicate(timeout=20)
    assert server.returncode == 0, errors


@pytest.mark.slow
def test_a_project_without_a_store_is_shown_empty_not_created(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    server = subprocess.Popen([sys.executable, "-m", "llmspell", "web", "--port", "0"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split(" on ", 1)[1].strip()
        assert httpx.get(url + "api/sessions").json()["items"] == []
    finally:
        server.send_signal(signal.SIGINT)
        _, errors = server.communicate(timeout=20)
    assert "no store yet" in errors
    assert not (tmp_path / ".llmspell").exists()
