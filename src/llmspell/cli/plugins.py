"""``llmspell plugins``: the providers and tools installed packages add (entry points
``llmspell.providers`` and ``llmspell.tools``, see :mod:`llmspell.plugins`), each loaded to
show whether it works."""

from __future__ import annotations

from typing import Any

import click

from llmspell import plugins
from llmspell.cli.main import echo_json, handle_errors
from llmspell.providers.base import Provider
from llmspell.tools.base import Tool


def _status(plugin: plugins.Plugin, point: Any) -> tuple[str, list[str]]:
    """("ok" or the error, the names it gives)."""
    try:
        if plugin.group == plugins.PROVIDERS:
            plugins.build_provider(plugin, point, lambda p: isinstance(p, Provider))
            return "ok", [plugin.name]
        items = plugins.tools_of(plugin, point, lambda t: isinstance(t, Tool))
        return "ok", [item.name for item in items]
    except Exception as exc:
        return f"error: {exc}", []


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def plugins_command(as_json: bool) -> None:
    """List installed plugins: providers and tools other packages add (loaded to check)."""
    with handle_errors():
        rows = []
        for group in plugins.GROUPS:
            for plugin, point in plugins.discover(group):
                status, names = _status(plugin, point)
                rows.append({**plugin.as_dict(), "status": status, "gives": names})
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no plugins installed (packages add them through the entry point groups "
                   f"{' and '.join(plugins.GROUPS)})")
        return
    for row in rows:
        kind = "provider" if row["group"] == plugins.PROVIDERS else "tool"
        gives = f" gives {', '.join(row['gives'])}" if row["gives"] else ""
        click.echo(f"{kind:<8} {row['name']:<20} {row['package']} {row['version']}  "
                   f"{row['target']}{gives}  [{row['status']}]")


COMMANDS = [plugins_command]
