"""The PostgreSQL backend's own schema: named migrations, applied in order and recorded.

Like simonw/llm's ``migrations.py``: an ordered list of small functions named ``mNNN_what``.
Opening a store applies the ones its database lacks, under an advisory lock (two processes
opening at once take turns), in one transaction together with their rows in
``<table>_migrations`` (``name``, ``applied_at``): all or none. The schema version is the number of
migrations applied; ``llmspell doctor`` reports it. A store made before migrations were
recorded gets them recorded on its next open (every step is idempotent).

Tables, for a store in ``[schema.]<table>``:

- ``<table>``: the key/value store (``key bytea PRIMARY KEY, value bytea``).
- ``<table>_migrations``: this list, as applied.
- ``<table>_jobs``: the work queue of ``llmspell worker`` (:mod:`llmspell.workers`).

A schema-qualified table's schema is created when missing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

#: Where the cross-process event relay keeps a large event's body for 60 s (store keys, not
#: data: no backup holds them).
EVENT_BODY_PREFIX = "evtbody/"

#: ``fn(conn, names)``: ``names`` maps "kv", "migrations", "jobs" to quoted table names.
Migration = Callable[[Any, dict[str, str]], None]


def m001_kv_table(conn: Any, names: dict[str, str]) -> None:
    conn.execute(f"CREATE TABLE IF NOT EXISTS {names['kv']} "
                 "(key bytea PRIMARY KEY, value bytea NOT NULL)")


def m002_jobs_table(conn: Any, names: dict[str, str]) -> None:
    jobs = names["jobs"]
    conn.execute(f"""CREATE TABLE IF NOT EXISTS {jobs} (
        id bigserial PRIMARY KEY,
        queue text NOT NULL,
        kind text NOT NULL,
        payload jsonb NOT NULL,
        status text NOT NULL DEFAULT 'queued',
        attempts int NOT NULL DEFAULT 0,
        max_attempts int NOT NULL DEFAULT 3,
        run_after timestamptz NOT NULL DEFAULT now(),
        lease_until timestamptz,
        worker text,
        result jsonb,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz)""")
    index = names["jobs_index"]
    conn.execute(f"CREATE INDEX IF NOT EXISTS {index} ON {jobs} (queue, status, run_after, id)")


MIGRATIONS: list[tuple[str, Migration]] = [
    ("m001_kv_table", m001_kv_table),
    ("m002_jobs_table", m002_jobs_table),
]


def _quote(name: str) -> str:
    return ".".join(f'"{part}"' for part in name.split("."))


def sibling(table: str, suffix: str) -> str:
    """The name of the table ``table + suffix`` in the same schema, within PostgreSQL's 63
    characters (a long name is shortened and given a hash, so it stays unique)."""
    schema, _, name = table.rpartition(".")
    full = name + suffix
    if len(full) > 63:
        digest = hashlib.blake2b(name.encode(), digest_size=4).hexdigest()
        full = f"{name[:63 - len(suffix) - 9]}_{digest}{suffix}"
    return f"{schema}.{full}" if schema else full


def table_names(table: str) -> dict[str, str]:
    """Quoted names of the store's tables (see the module docstring)."""
    index = sibling(table, "_jobs_ready").rpartition(".")[2]
    return {"kv": _quote(table), "migrations": _quote(sibling(table, "_migrations")),
            "jobs": _quote(sibling(table, "_jobs")), "jobs_index": f'"{index}"'}


def migrate(conn: Any, table: str) -> list[str]:
    """Apply the migrations ``table``'s database lacks (the caller holds the creation lock);
    returns the names applied now."""
    names = table_names(table)
    schema = table.rpartition(".")[0]
    if schema:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    conn.execute(f"CREATE TABLE IF NOT EXISTS {names['migrations']} "
                 "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
    done = {row[0] for row in conn.execute(f"SELECT name FROM {names['migrations']}")}
    applied = []
    for name, step in MIGRATIONS:
        if name in done:
            continue
        step(conn, names)
        conn.execute(f"INSERT INTO {names['migrations']} (name) VALUES (%s)", [name])
        applied.append(name)
    return applied


def applied(conn: Any, table: str) -> list[tuple[str, Any]]:
    """``(name, applied_at)`` of every recorded migration, in order."""
    rows = conn.execute(f"SELECT name, applied_at FROM {table_names(table)['migrations']} "
                        "ORDER BY name").fetchall()
    return [(name, at) for name, at in rows]
