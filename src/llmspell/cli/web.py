"""``llmspell web``: serve the web app (:mod:`llmspell.web`) over this project's store.

Bound to 127.0.0.1 by default. Any other host needs a token: one is made and printed (or
given with ``--token`` / ``LLMSPELL_WEB_TOKEN``); requests without it are refused. Read-only
unless ``--allow-actions``. Needs the ``web`` extra (starlette, uvicorn).
"""

from __future__ import annotations

import os
import socket

import click

from llmspell.cli.main import EXIT_USAGE, Options, echo, fail, handle_errors


@click.command(name="web")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything but loopback requires the printed token.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="Port to bind (0: any free port).")
@click.option("--allow-actions", is_flag=True,
              help="Allow suspend/resume/complete from the browser and the API.")
@click.option("--token", default=None, envvar="LLMSPELL_WEB_TOKEN",
              help="Require this token (default: a random one when the host is not loopback).")
@click.pass_obj
def web(opts: Options, host: str, port: int, allow_actions: bool, token: str | None) -> None:
    """Look at sessions, timelines, state and artifacts in a browser."""
    try:
        import uvicorn

        from llmspell.web import create_app
        from llmspell.web.access import check_host, is_loopback, new_token
    except ImportError as exc:
        fail(f"llmspell web needs the 'web' extra ({exc.name} is missing): "
             "pip install 'llmspell[web]'", EXIT_USAGE)
        return
    with handle_errors(opts.verbose):
        check_host(host)
        loopback = is_loopback(host)
        if not loopback and not token:
            token = new_token()
        if token is not None and len(token) < 16:
            fail("--token must be at least 16 characters", EXIT_USAGE)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_USAGE)
        bound = sock.getsockname()[1]
        with opts.runtime() as rt:
            app = create_app(rt, allow_actions=allow_actions, token=token, loopback=loopback)
            shown_host = f"[{host}]" if ":" in host else host
            url = f"http://{shown_host}:{bound}/"
            # The token is printed on purpose (the user needs it), so not through echo(),
            # which would redact it.
            click.echo(f"llmspell web on {url}" + (f"?token={token}" if token else ""))
            click.echo("read-only" if not allow_actions else "actions allowed "
                       "(suspend, resume, complete)")
            if token:
                click.echo(f"token: {token}")
            config = uvicorn.Config(app, log_level="warning", access_log=False,
                                    lifespan="off")
            server = uvicorn.Server(config)
            os.environ.setdefault("PYTHONUNBUFFERED", "1")
            server.run(sockets=[sock])
    echo("llmspell web stopped")


COMMANDS = [web]
