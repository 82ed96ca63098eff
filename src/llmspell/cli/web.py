"""``llmspell web``: serve the web app (:mod:`llmspell.web`) over this project's store.

Bound to 127.0.0.1 by default. Any other host needs a token: one is made and printed (or
given with ``--token`` / ``LLMSPELL_WEB_TOKEN``); requests without it are refused. Read-only
unless ``--allow-actions``. Needs the ``web`` extra (starlette, uvicorn).
"""

from __future__ import annotations

import contextlib

import click

from llmspell.cli.main import EXIT_USAGE, Options, echo, fail, handle_errors


@click.command(name="web")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything but loopback requires the printed token.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="Port to bind (0: any free port).")
@click.option("--allow-actions", is_flag=True,
              help="Allow suspend, resume, complete, replay and fork from the browser and "
                   "the API.")
@click.option("--token", default=None, envvar="LLMSPELL_WEB_TOKEN",
              help="Require this token (default: a random one when the host is not loopback).")
@click.pass_obj
def web(opts: Options, host: str, port: int, allow_actions: bool, token: str | None) -> None:
    """Look at sessions, timelines, state and artifacts in a browser."""
    try:
        from llmspell.web import create_app
        from llmspell.web.access import check_host, check_token, is_loopback, new_token
        from llmspell.web.server import build_server, listen, url_of
    except ImportError as exc:
        missing = (exc.name or "starlette").split(".")[0]
        fail(f"llmspell web needs the 'web' extra ({missing} is missing): "
             "pip install 'llmspell[web]'", EXIT_USAGE)
        return
    with handle_errors(opts.verbose):
        check_token(token)
        loopback = is_loopback(check_host(host))
        if not loopback and not token:
            token = new_token()
        sock = listen(host, port)
        # Read-only on the store: a project without one yet is shown empty (with the
        # notice saying where it would be), not created.
        with sock, opts.runtime(read_only=True) as rt:
            server = build_server(create_app(rt, allow_actions=allow_actions, token=token,
                                             loopback=loopback))
            # The token is printed on purpose (the user needs it), so not through echo(),
            # which would redact it.
            url = url_of(sock, host) + "/"
            click.echo(f"llmspell web on {url}" + (f"?token={token}" if token else ""),
                       err=False)
            click.echo("actions allowed (suspend, resume, complete, replay, fork)"
                       if allow_actions else "read-only (--allow-actions for suspend, resume, "
                       "complete, replay and fork)")
            if token:
                click.echo(f"token: {token}")
            # Ctrl-C is how a server is stopped: not an error.
            with contextlib.suppress(KeyboardInterrupt):
                server.run(sockets=[sock])
    echo("llmspell web stopped")


COMMANDS = [web]
