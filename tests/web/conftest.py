"""Fixtures of the web app's tests: ``serve(rt, **options)`` runs ``llmspell web``'s app
over ``rt`` with uvicorn on 127.0.0.1, port 0, in a thread, and returns its base URL; every
server is stopped when the test ends. Requests go over real HTTP (httpx)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from llmspell.web import create_app
from llmspell.web.server import build_server, listen, url_of

Serve = Callable[..., str]


@pytest.fixture
def serve() -> Iterator[Serve]:
    running: list[tuple[Any, threading.Thread]] = []

    def start(rt: Any, *, host: str = "127.0.0.1", loopback: bool = True,
              **options: Any) -> str:
        sock = listen(host, 0)
        server = build_server(create_app(rt, loopback=loopback, **options))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        running.append((server, thread))
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return url_of(sock, host)

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(10)
