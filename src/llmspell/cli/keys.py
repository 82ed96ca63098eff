"""``llmspell keys set|list|path|remove`` and ``llmspell models``: API keys and providers.

Keys are typed at a hidden prompt (or piped in with ``--value -``) and stored in the keys file
(:mod:`llmspell.keys`); no command ever prints a key. ``models`` lists the providers that can
be named in a model string, where their key comes from, and the models they are known to serve.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from llmspell.cli.main import EXIT_USAGE, Options, console, echo_json, fail, handle_errors
from llmspell.keys import KeyStore, check_name


@click.group()
def keys() -> None:
    """Store API keys outside the project (a 0600 file; environment variables win)."""


@keys.command("set")
@click.argument("name")
@click.option("--value", default=None, metavar="KEY",
              help="The key ('-' reads it from stdin). Without it you are prompted, hidden. "
              "A key given on the command line is visible to other users in `ps`.")
def keys_set(name: str, value: str | None) -> None:
    """Store the key for provider NAME (e.g. openai, anthropic, or a [providers.NAME] table)."""
    with handle_errors():
        check_name(name)
        if value == "-":
            value = sys.stdin.readline()
        elif value is None:
            value = click.prompt(f"Enter the key for {name}", hide_input=True,
                                 show_default=False, err=True)
        if not value or not value.strip():
            fail("no key given; nothing stored", EXIT_USAGE)
        store = KeyStore()
        store.set(name, value)
        click.echo(f"stored the key for {name} in {store.path}", err=True)


@keys.command("list")
def keys_list() -> None:
    """The names that have a key stored (never the keys)."""
    with handle_errors():
        for name in KeyStore().names():
            click.echo(name)


@keys.command("path")
def keys_path() -> None:
    """Where the keys file is ($LLMSPELL_KEYS_PATH overrides)."""
    click.echo(str(KeyStore().path))


@keys.command("remove")
@click.argument("name")
def keys_remove(name: str) -> None:
    """Forget the key stored for NAME."""
    with handle_errors():
        if not KeyStore().remove(name):
            fail(f"no key is stored for {name}", EXIT_USAGE)
        click.echo(f"removed the key for {name}", err=True)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def models(opts: Options, as_json: bool) -> None:
    """The providers a model string can name ('provider/model'), and their models."""
    from llmspell.providers.registry import ProviderRegistry

    with handle_errors(opts.verbose):
        registry = ProviderRegistry.from_config(opts.load_config())
        rows: list[dict[str, Any]] = []
        for name in registry.names():
            settings = registry.settings(name)
            rows.append({"provider": name, "kind": settings.kind,
                         "base_url": settings.base_url, "api_key_env": settings.api_key_env,
                         "key": registry.key_source(settings),
                         "configured": settings.configured, "enabled": settings.enabled,
                         "default_model": settings.default_model,
                         "models": settings.all_models(),
                         "prices": {m: {"input": p.input, "output": p.output}
                                    for m, p in settings.prices.items()}})
        if as_json:
            echo_json({"default": registry.default, "providers": rows})
            return
        from rich.table import Table

        table = Table("provider", "kind", "base url", "key", "models")
        for row in rows:
            listed = ", ".join(f"{m} (default)" if m == row["default_model"] else m
                               for m in row["models"]) or "-"
            table.add_row(row["provider"], row["kind"], row["base_url"] or "-", row["key"],
                          listed)
        out = console()
        out.print(table)
        if registry.default:
            out.print(f"default model: {registry.default}")


COMMANDS = [keys, models]
