"""Serving the app: the listening socket and the uvicorn server (the CLI and the tests use
these two, so both run the app the same way)."""

from __future__ import annotations

import socket
from typing import Any

import uvicorn

from llmspell.errors import ValidationError


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (port 0: any free one) and listening: a client that
    connects as soon as the URL is printed waits in the backlog until the server accepts,
    instead of being refused.

    Raises:
        ValidationError: the address cannot be bound (names host and port, and why).
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValidationError("port", "must be an int in [0, 65535]", got=port)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto named: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose proto is
    # IPPROTO_TCP; with proto 0 every answer on a kept-alive connection waited ~40 ms for
    # the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ValidationError("host", f"cannot listen on {host}:{port}: "
                              f"{exc.strerror or exc}", got=host) from None
    return sock


def build_server(app: Any) -> uvicorn.Server:
    """A uvicorn server for ``app`` (quiet logs; open event streams are closed within a
    second of shutdown)."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=1)
    return uvicorn.Server(config)


def url_of(sock: socket.socket, host: str) -> str:
    """The base URL a bound socket serves."""
    port = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    return f"http://{shown}:{port}"
