"""Stores for the migration tests: memory, sqlite and lmdb (the embedded backends whose
contracts differ most), each fresh per test. (Not conftest.py, so test modules can import it
by a name no other test directory uses.)"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from llmspell import Runtime
from llmspell.storage import backend_status

POSTGRES_URL = os.environ.get("LLMSPELL_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
_postgres: list[str | None] = []


def postgres_unreachable() -> str | None:
    """Why the test server cannot be used, or None when it can (asked once per run)."""
    if not _postgres:
        status = backend_status()["postgres"]
        if status != "available":
            _postgres.append(status)
        else:
            import psycopg

            try:
                psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
                _postgres.append(None)
            except psycopg.Error as exc:
                _postgres.append(f"no PostgreSQL at {POSTGRES_URL} (set "
                                 f"LLMSPELL_TEST_POSTGRES): {' '.join(str(exc).split())}")
    return _postgres[0]


def drop_postgres_table(url: str) -> None:
    """Drop the table a postgres test URL names (``...?table=NAME``)."""
    if "table=" not in url:
        return
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{url.rsplit("table=", 1)[1]}"')

BACKENDS = ["memory", "sqlite", "lmdb"]


def url_for(name: str, tmp_path: Path) -> str:
    if name == "postgres":
        reason = postgres_unreachable()
        if reason:
            pytest.skip(reason)
        sep = "&" if "?" in POSTGRES_URL else "?"
        return f"{POSTGRES_URL}{sep}table=llmspell_migration_{uuid.uuid4().hex[:16]}"
    if name != "memory" and backend_status()[name] != "available":
        pytest.skip(backend_status()[name])
    if name == "memory":
        return f"memory://migration-{uuid.uuid4().hex}"
    if name == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    return f"{name}:///{tmp_path}/{name}"


def runtime_for(name: str, tmp_path: Path, **overrides: object) -> Runtime:
    overrides.setdefault("state__backup_dir", str(tmp_path / "backups"))
    return Runtime.memory(storage__url=url_for(name, tmp_path), **overrides)


def snapshot(rt: Runtime) -> dict[str, bytes]:
    """Every state record, as bytes."""
    return dict(rt.store.scan("state/"))
