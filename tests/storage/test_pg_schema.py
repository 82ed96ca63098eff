"""The postgres backend's own migrations (storage.pg_schema) and what `llmspell doctor`
reports of the server."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from backends import Backend, backend_fixture
from cli_runner import Run
from llmspell.storage.pg_schema import MIGRATIONS, sibling, table_names
from llmspell.storage.postgres import split_url

backend = backend_fixture(["postgres"])


def recorded(url: str) -> list[str]:
    conninfo, table = split_url(url)
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(f"SELECT name FROM {table_names(table)['migrations']} "
                            "ORDER BY name").fetchall()
    return [name for (name,) in rows]


def test_migrations_are_named_recorded_and_applied_once(backend: Backend) -> None:
    store = backend.open()
    report = store.server_report()  # type: ignore[attr-defined]
    names = [name for name, _ in MIGRATIONS]
    assert recorded(backend.url) == names
    assert report["schema_version"] == len(names) and report["pending"] == []
    assert report["server_version"] and report["latency_ms"] > 0
    assert report["pool"]["max"] >= 1
    backend.open().close()  # opening again applies nothing
    assert recorded(backend.url) == names


def test_a_store_made_before_migrations_were_recorded_gets_them(backend: Backend) -> None:
    conninfo, table = split_url(backend.url)
    schema = table.rpartition(".")[0]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f"CREATE TABLE {table_names(table)['kv']} "
                     "(key bytea PRIMARY KEY, value bytea NOT NULL)")
        conn.execute(f"INSERT INTO {table_names(table)['kv']} VALUES ('k'::bytea, 'v'::bytea)")
    store = backend.open()
    assert store.get("k") == b"v"
    assert recorded(backend.url) == [name for name, _ in MIGRATIONS]


def test_sibling_names_stay_within_63_characters() -> None:
    long = "s." + "t" * 63
    name = sibling(long, "_migrations")
    assert name.startswith("s.") and len(name.partition(".")[2]) == 63
    assert sibling(long, "_jobs") != sibling("s." + "t" * 62 + "u", "_jobs")
    assert sibling("kv", "_jobs") == "kv_jobs"


def test_doctor_reports_server_latency_pool_and_schema(backend: Backend, run: Run,
                                                       tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text(f'[storage]\nurl = "{backend.url}"\n')
    result = run("doctor", "--json")
    assert result.exit_code == 0, result.output
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["server"]["detail"].startswith("PostgreSQL ")
    assert "ms per round trip" in checks["latency"]["detail"]
    assert " open of 4" in checks["pool"]["detail"]
    assert checks["schema"]["detail"].startswith(f"version {len(MIGRATIONS)} (m001_kv_table")
    assert checks["events"]["detail"].startswith("cross-process")


def test_doctor_on_an_embedded_store_says_events_are_per_process(run: Run) -> None:
    result = run("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["events"]["detail"].startswith("per process")
    assert "server" not in checks
