"""``llmspell init``, ``info`` and ``doctor``: set up a project and see what it runs with."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import time
from pathlib import Path
from typing import Any

import click

from llmspell import __version__
from llmspell.cli.main import (
    EXIT_CHECK,
    EXIT_STORAGE,
    EXIT_USAGE,
    Options,
    console,
    echo_json,
    fail,
    handle_errors,
    missing_store,
    relative,
    shown,
    styled,
)
from llmspell.project import CONFIG_FILE

EXTRAS = {"lmdb": "lmdb", "rocksdb": "rocksdict", "postgres": "psycopg"}

TEMPLATE = """\
# llmspell configuration. Every key is optional; the values shown are the defaults.
# Override any key with an environment variable LLMSPELL_<TABLE>_<KEY>
# (e.g. LLMSPELL_ENGINES_LUA_SANDBOX=full) or with `llmspell --set table.key=value`.

[storage]
# Where everything is kept, as a URL: memory://, sqlite:///path.db, lmdb:///dir,
# rocksdb:///dir (one process at a time), postgresql://user@host/db.
# Empty: chosen from [state] backend and path below.
# url = "sqlite:///.llmspell/llmspell.db"
durability = "normal"          # "full" syncs every commit to disk (slower, power-loss safe)

[state]
enabled = true
backend = "sqlite"             # memory | sqlite | lmdb | rocksdb | postgres ("sled" -> sqlite)
# path = "./data/state"        # default: .llmspell/llmspell.db
redact_on_write = false        # true: redact secrets (api keys, tokens) before storing
max_value_bytes = 10485760     # largest value one key may hold

[session]
enabled = true
max_active_sessions = 1000
artifact_compression = true    # compress artifacts above compression_threshold bytes
compression_threshold = 10240

[runtime]
data_dir = ".llmspell"         # embedded data lives here (relative to this file)
allowed_paths = ["."]          # the only roots scripts may read or write files under
log_level = "warning"
script_timeout_seconds = 0     # wall-time limit per script, 0 = none

[engines.lua]
sandbox = "safe"               # "safe": no os.execute/io.popen/debug...; "full": everything
max_instructions = 1000000000  # VM instructions per script; 0 = no limit
max_memory_bytes = 536870912   # Lua heap; 0 = no limit
"""


@click.command()
@click.option("--force", is_flag=True, help="Overwrite an existing llmspell.toml.")
@click.argument("directory", default=".", type=click.Path(file_okay=False))
def init(force: bool, directory: str) -> None:
    """Write a commented llmspell.toml into DIRECTORY (default: here)."""
    target = Path(directory) / CONFIG_FILE
    if target.exists() and not force:
        fail(f"{relative(target)} exists; use --force to overwrite it", EXIT_USAGE)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(TEMPLATE, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {relative(target)}: {exc.strerror or exc}; run init in a "
             "directory you can write to, or give one: llmspell init DIRECTORY",
             EXIT_STORAGE)
    click.echo(f"wrote {relative(target)}")


def gather_info(opts: Options) -> dict[str, Any]:
    """Versions, the config file used, the store and the optional extras."""
    import lupa

    config = opts.load_config()
    return {
        "llmspell": __version__,
        "python": platform.python_version(),
        "lua": f"Lua 5.4 (lupa {lupa.__version__})",
        "config_file": str(config.source) if config.source else None,
        "project": _project(config),
        "notices": list(config.notices),
        "storage": {"url": config.storage.url, "backend": config.storage.url.split(":", 1)[0],
                    "durability": config.storage.durability,
                    "exists": missing_store(config) is None},
        "data_dir": str(config.runtime.data_dir),
        "lua_engine": {"sandbox": config.lua.sandbox,
                       "max_instructions": config.lua.max_instructions,
                       "max_memory_bytes": config.lua.max_memory_bytes,
                       "timeout_seconds": config.lua.timeout_seconds},
        "allowed_paths": [str(p) for p in config.runtime.allowed_paths],
        "extras": {extra: _version_of(module) for extra, module in EXTRAS.items()},
    }


def _version_of(module: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return None
    try:
        return importlib.metadata.version(module)
    except importlib.metadata.PackageNotFoundError:
        return "installed"


def _project(config: Any) -> dict[str, Any]:
    """Which project, and why: what was found where, or where the search looked."""
    project = config.project
    if config.source is not None and (project is None or project.marker != CONFIG_FILE
                                      or project.root != config.source.parent):
        return {"root": str(config.source.parent), "found_by": "config file",
                "description": f"{config.source.parent} (the config file given)"}
    if project is None:
        return {"root": None, "found_by": None, "description": "none"}
    return {"root": str(project.root), "found_by": project.marker or None,
            "looked_in": [str(p) for p in project.looked],
            "description": project.describe()}


def print_info(info: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("llmspell", info["llmspell"])
    table.add_row("python", info["python"])
    table.add_row("lua", info["lua"])
    table.add_row("project", info["project"]["description"])
    table.add_row("config file", info["config_file"] or "none (built-in defaults)")
    made = "" if info["storage"]["exists"] else ", not created yet"
    table.add_row("storage", f"{info['storage']['url']} (durability "
                  f"{info['storage']['durability']}{made})")
    table.add_row("data dir", info["data_dir"])
    lua = info["lua_engine"]
    table.add_row("lua sandbox", f"{lua['sandbox']}, max_instructions "
                  f"{lua['max_instructions'] or 'none'}, memory {lua['max_memory_bytes'] or 'none'}"
                  f", timeout {lua['timeout_seconds'] or 'none'}")
    table.add_row("allowed paths", ", ".join(info["allowed_paths"]))
    table.add_row("extras", ", ".join(f"{name} {ver or 'not installed'}"
                                      for name, ver in info["extras"].items()))
    for notice in info["notices"]:
        table.add_row("notice", notice)
    console().print(table)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_obj
def info(opts: Options, as_json: bool) -> None:
    """Show versions, the config file in use, the store and which extras are installed."""
    with handle_errors(opts.verbose):
        data = shown(gather_info(opts))
    if as_json:
        echo_json(data)
    else:
        print_info(data)


def _store_check(config: Any) -> tuple[dict[str, Any], dict[str, Any] | None, bool | None]:
    """The store opens, and a probe key is written, read and deleted; a store that does
    not exist yet is reported, not created. Also the database server's report (postgres)
    and whether events cross processes (None when the store was not opened)."""
    from llmspell.errors import LLMSpellError
    from llmspell.runtime import Runtime

    missing = missing_store(config)
    if missing is not None:
        blocked = _cannot_create(Path(missing))
        if blocked:
            return ({"name": "store", "ok": False,
                     "detail": f"{config.storage.url}: cannot be created: {blocked}"},
                    None, None)
        project = config.project.describe() if config.project else str(Path.cwd())
        return ({"name": "store", "ok": True,
                 "detail": f"none yet at {missing} (project {project}); a command that "
                           "writes creates it"}, None, None)
    try:
        started = time.perf_counter()
        with Runtime(config) as rt:
            key = "__doctor__/probe"
            rt.store.put(key, b"ok")
            ok = rt.store.get(key) == b"ok" and rt.store.delete(key)
            elapsed = (time.perf_counter() - started) * 1000
            server = rt.store.server_report() if hasattr(rt.store, "server_report") else None
            relay = rt.relay is not None
    except LLMSpellError as exc:
        return ({"name": "store", "ok": False, "detail": f"{config.storage.url}: {exc}"},
                None, None)
    return ({"name": "store", "ok": bool(ok),
             "detail": f"{config.storage.url}: open, write, read, delete in {elapsed:.1f} ms"},
            server, relay)


def _cannot_create(path: Path) -> str:
    """Why a store could not be created at ``path`` ('' when it could): its nearest existing
    ancestor must be a directory this process may write in."""
    import os

    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is not a directory"
            if not os.access(parent, os.W_OK | os.X_OK):
                return f"the directory {parent} is not writable"
            return ""
    return ""


def run_checks(opts: Options) -> list[dict[str, Any]]:
    """Each check as ``{name, ok, detail}``; stops early only when the config is unusable."""
    from llmspell.errors import LLMSpellError
    from llmspell.storage import backend_status

    checks: list[dict[str, Any]] = []
    try:
        config = opts.load_config()
        checks.append({"name": "config", "ok": True,
                       "detail": str(config.source) if config.source else "built-in defaults"})
    except LLMSpellError as exc:
        return [{"name": "config", "ok": False, "detail": str(exc)}]
    store, server, relay = _store_check(config)
    checks.append(store)
    checks.extend(server_checks(server))
    if relay is None:  # the store was not opened: what opening it would do
        relay = config.storage.url.startswith(("postgresql://", "postgres://")) and bool(
            config.setting("runtime.events.cross_process"))
    checks.append({"name": "events", "ok": True,
                   "detail": "cross-process (LISTEN/NOTIFY on the store's database)"
                             if relay else "per process (subscribers see only the events "
                             "of their own process)"})
    for name, status in backend_status().items():
        checks.append({"name": f"backend {name}", "ok": status == "available",
                       "detail": status, "optional": name not in ("memory", "sqlite")})
    try:
        from llmspell.lua.engine import LuaEngine
        from llmspell.runtime import Runtime

        with Runtime.memory() as rt:
            engine = LuaEngine(rt, script_name="<doctor>")
            try:
                value = engine.run_string("return JSON.stringify({ok = true})", "<doctor>")
            finally:
                engine.close()
        checks.append({"name": "lua", "ok": value == '{"ok":true}', "detail": "Lua 5.4 runs"})
    except LLMSpellError as exc:
        checks.append({"name": "lua", "ok": False, "detail": str(exc)})
    checks.extend(tool_checks(config))
    return checks


def server_checks(report: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The database server's checks (postgres): version, latency, pool, schema version."""
    if report is None:
        return []
    pool = report["pool"]
    pending = report["pending"]
    return [
        {"name": "server", "ok": True, "detail": f"PostgreSQL {report['server_version']}"},
        {"name": "latency", "ok": True,
         "detail": f"{report['latency_ms']:.2f} ms per round trip (median of 5)"},
        {"name": "pool", "ok": True,
         "detail": f"{pool['size']} open of {pool['max']}, {pool['idle']} idle, "
                   f"{pool['waiting']} waiting"},
        {"name": "schema", "ok": not pending,
         "detail": f"version {report['schema_version']} ({', '.join(report['migrations'])})"
                   + (f"; not applied: {', '.join(pending)}" if pending else "")},
    ]


def tool_checks(config: Any = None) -> list[dict[str, Any]]:
    """One check counting the built-in tools, and an optional one per tool that cannot work on
    this machine (naming what it misses)."""
    from llmspell.tools.builtins import builtin_tools

    tools = builtin_tools(config)
    missing = [(t.name, t.available()) for t in tools if t.available() is not None]
    checks: list[dict[str, Any]] = [{"name": "tools", "ok": True,
                                     "detail": f"{len(tools) - len(missing)} of {len(tools)} "
                                               "built-in tools work here"}]
    for name, reason in missing:
        checks.append({"name": f"tool {name}", "ok": False, "detail": reason,
                       "optional": True})
    return checks


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--deep", is_flag=True,
              help="Also read the whole store: storage integrity, every record decodes, "
                   "indexes point at data, artifact hashes verify, journals have no gaps; "
                   "stray backup temp files are removed.")
@click.pass_obj
def doctor(opts: Options, as_json: bool, deep: bool) -> None:
    """Check the config, the store (a real write/read/delete), the backends and Lua.

    Exits 5 when a required check fails (with --deep: when any damage is found); optional
    backends only warn.
    """
    checks = shown(run_checks(opts))
    failed = [c for c in checks if not c["ok"] and not c.get("optional")]
    report = None
    if deep and not failed and missing_store(opts.load_config()) is None:
        report = run_deep(opts)  # (no store yet: the store check says so; nothing to read)
    damaged = report is not None and not report.ok
    if as_json:
        found: dict[str, Any] = {"ok": not failed and not damaged, "checks": checks}
        if report is not None:
            found["deep"] = report.to_dict()
        echo_json(found)
    else:
        out = console()
        for check in checks:
            mark = (("  ok", "green") if check["ok"] else
                    ("  --", "yellow") if check.get("optional") else ("FAIL", "red"))
            out.print(styled(mark, f" {check['name']:<18} {check['detail']}"))
        if report is not None:
            print_deep(report)
    if failed or damaged:
        raise SystemExit(EXIT_CHECK)


def run_deep(opts: Options) -> Any:
    """The :func:`llmspell.integrity.deep_check` report of the configured store."""
    from llmspell.integrity import check_config_store

    return check_config_store(opts.load_config())


def print_deep(report: Any) -> None:
    from llmspell.integrity import CHECKS

    out = console()
    for name in CHECKS:
        mine = [found for found in report.findings if found.check == name]
        bad = [found for found in mine if not found.fixed]
        mark = ("FAIL", "red") if bad else ("  ok", "green")
        detail = f"{report.examined[name]} examined" + (f", {len(bad)} damaged" if bad else "")
        out.print(styled(mark, f" {'deep ' + name:<18} {detail}"))
        for found in mine:
            out.print(f"{'':>4} {'':<18} {found.where}: {found.problem}")


COMMANDS = [init, info, doctor]
