"""Fixtures for the tool tests: a memory runtime whose allowed root is a fresh directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llmspell import Runtime

MakeRuntime = Callable[..., Runtime]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def make_rt(root: Path) -> Iterator[MakeRuntime]:
    made: list[Runtime] = []

    def make(**overrides: Any) -> Runtime:
        overrides.setdefault("runtime__allowed_paths", [str(root)])
        rt = Runtime.memory(**overrides)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.close()


@pytest.fixture
def rt(make_rt: MakeRuntime) -> Runtime:
    return make_rt()


@pytest.fixture
def loopback() -> Iterator[Callable[[type], str]]:
    """``loopback(HandlerClass)`` serves HTTP on 127.0.0.1 (a free port, a thread) until the
    test ends and returns its base URL (``http://127.0.0.1:PORT``)."""
    import threading
    from http.server import ThreadingHTTPServer

    servers: list[ThreadingHTTPServer] = []

    def start(handler: type) -> str:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        servers.append(httpd)
        # polled every 20 ms: shutdown() waits up to one poll (the default is 0.5 s)
        threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True).start()
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def net(make_rt: MakeRuntime) -> Runtime:
    """A runtime whose network tools may reach 127.0.0.1 only."""
    return make_rt(runtime__security__allow_network_access=True,
                   runtime__security__allowed_hosts=["127.0.0.1"])
