"""``llmspell prompt "..." -m MODEL``: ask a model once, the answer streamed to the terminal.

The call is made by an agent (:mod:`llmspell.agents`), so it is journaled as ``llm.call``,
counted and limited like any agent call, and its answer stored as an artifact. It runs in the
session given with ``--session`` (which stays as it was), else in a new session named
``prompt`` whose id is printed on stderr first; that session is completed after the answer
(failed when the call failed), so ``llmspell session timeline ID`` shows the call. With
``[session] enabled = false`` the call is made outside any session.

stdout gets the answer only (as it arrives; with ``--json`` the whole result, once, as JSON);
stderr gets the session id and, at the end, the usage line. Exit codes beyond
:mod:`llmspell.cli.main`'s: 6 the provider refused the key or none is set (the message names
the variable); 7 the provider is unavailable, timed out or rate limited (try again later);
8 another provider error (the request refused, an answer that cannot be used, a dropped
stream); 1 a session limit, a hook or the agent refused the call.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from llmspell.cli.main import EXIT_USAGE, Options, echo_json, fail, handle_errors
from llmspell.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
)

EXIT_PROVIDER_AUTH = 6
EXIT_PROVIDER_UNAVAILABLE = 7
EXIT_PROVIDER = 8


def read_prompt(text: str) -> str:
    """The prompt: ``text``, or standard input when it is ``-``; a usage error when empty."""
    if text == "-":
        text = sys.stdin.read()
    if not text.strip():
        fail("the prompt is empty", EXIT_USAGE)
    return text


def provider_exit(exc: ProviderError) -> int:
    """The exit code of a provider error (see the module docstring)."""
    if isinstance(exc, ProviderAuthError):
        return EXIT_PROVIDER_AUTH
    if isinstance(exc, ProviderUnavailable | ProviderRateLimited):
        return EXIT_PROVIDER_UNAVAILABLE
    return EXIT_PROVIDER


def usage_line(result: Any) -> str:
    usage, meta = result.usage, result.metadata
    line = (f"usage: {usage.get('input_tokens', 0)} input + {usage.get('output_tokens', 0)} "
            f"output = {usage.get('total', 0)} tokens")
    if usage.get("cost"):
        line += f", cost ${usage['cost']:.6f}"
    return line + f", {meta.get('latency_ms', 0.0):.0f} ms"


@click.command()
@click.argument("text", metavar="PROMPT")
@click.option("-m", "--model", default=None,
              help="provider/model, e.g. openai/gpt-4o-mini (default: [providers] default).")
@click.option("-s", "--system", default="", help="The system prompt.")
@click.option("--session", "session_id", default=None, metavar="ID",
              help="Journal the call in this session (default: a new session 'prompt').")
@click.option("--json", "as_json", is_flag=True,
              help="Print the whole result as JSON at the end instead of streaming the text.")
@click.pass_obj
def prompt(opts: Options, text: str, model: str | None, system: str, session_id: str | None,
           as_json: bool) -> None:
    """Send PROMPT ('-' reads it from stdin) to a model and stream the answer to stdout."""
    text = read_prompt(text)
    with handle_errors(opts.verbose), opts.runtime() as rt:
        sessions: Any = rt.sessions if rt.config.session.enabled else None
        try:
            agent = rt.agents.create(None, model, system_prompt=system)
        except ProviderError as exc:  # no key: nothing was sent, no session made
            fail(f"{type(exc).__name__}: {exc}", provider_exit(exc))
        created = None
        try:
            if sessions is None:
                result = _ask(agent, text, as_json)
            else:
                if session_id is None:
                    created = sessions.create("prompt", tags=["prompt"])
                    session_id = created.id
                    click.echo(f"session: {session_id}", err=True)
                with sessions.current(session_id):
                    result = _ask(agent, text, as_json)
        except Exception as exc:
            if created is not None:
                sessions.fail(created.id, str(exc))
            if not isinstance(exc, ProviderError):
                raise
            fail(f"{type(exc).__name__}: {exc}", provider_exit(exc))
        finally:
            rt.agents.remove(agent.name)
        if created is not None:
            sessions.complete(created.id)
        if as_json:
            echo_json(result.to_dict())
        click.echo(usage_line(result), err=True)


def _ask(agent: Any, text: str, as_json: bool) -> Any:
    """Invoke (``--json``) or stream the answer to stdout; the result."""
    if as_json:
        return agent.invoke(text)
    result = None
    out = sys.stdout
    for chunk in agent.stream(text):
        if chunk.kind == "text":
            out.write(chunk.text)
            out.flush()
        elif chunk.kind == "done":
            result = chunk.result
    out.write("\n")
    out.flush()
    return result


COMMANDS = [prompt]
