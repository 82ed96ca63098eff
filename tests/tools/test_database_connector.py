"""database-connector: SQLite under the allowed roots and PostgreSQL through the network rule,
read-only unless ``[runtime.security] allow_database_writes``; parameters always bound."""

from __future__ import annotations

import socket
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llmspell import Runtime
from llmspell.errors import SecurityViolation, ToolError, ValidationError

MakeRuntime = Callable[..., Runtime]
TOOL = "database-connector"
PG = "postgresql://127.0.0.1:5432/test"


def call(rt: Runtime, **params: Any) -> Any:
    return rt.tools.invoke(TOOL, params).result


@pytest.fixture
def db(root: Path) -> Path:
    path = root / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL, "
                     "raw BLOB)")
        conn.executemany("INSERT INTO items (name, price, raw) VALUES (?, ?, ?)",
                         [("apple", 1.5, b"\x00\x01"), ("pear", 2.0, None),
                          ("plum", 0.5, None)])
    conn.close()
    return path


def test_sqlite_select_with_bound_params(rt: Runtime, db: Path) -> None:
    out = call(rt, database=str(db), query="SELECT id, name, raw FROM items WHERE price > ? "
               "ORDER BY id", params=[1.0])
    assert out == {"engine": "sqlite", "columns": ["id", "name", "raw"],
                   "rows": [{"id": 1, "name": "apple", "raw": "AAE="},
                            {"id": 2, "name": "pear", "raw": None}],
                   "row_count": 2, "truncated": False, "rows_affected": None}
    named = call(rt, database=str(db), query="SELECT name FROM items WHERE name = :n",
                 params={"n": "plum' OR '1'='1"})
    assert named["rows"] == []  # bound, never formatted into the text
    capped = call(rt, database=str(db), query="SELECT name FROM items ORDER BY id", max_rows=2)
    assert capped["row_count"] == 2 and capped["truncated"] is True


def test_sqlite_write_is_refused_when_read_only(rt: Runtime, db: Path) -> None:
    with pytest.raises(SecurityViolation, match=r"allow_database_writes = false"):
        call(rt, database=str(db), query="DELETE FROM items")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (3,)
    conn.close()


def test_sqlite_write_when_allowed(make_rt: MakeRuntime, db: Path) -> None:
    rt = make_rt(runtime__security__allow_database_writes=True)
    out = call(rt, database=str(db), query="DELETE FROM items WHERE price < ?", params=[1])
    assert out["rows_affected"] == 1 and out["columns"] == []
    assert call(rt, database=str(db), query="SELECT count(*) AS n FROM items")["rows"] == [
        {"n": 2}]


def test_sqlite_refusals(rt: Runtime, db: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.db"
    sqlite3.connect(outside).close()
    with pytest.raises(SecurityViolation, match=r"argument 'database'.*outside the allowed"):
        call(rt, database=str(outside), query="SELECT 1")
    with pytest.raises(SecurityViolation, match="ATTACH"):
        call(rt, database=str(db), query=f"ATTACH DATABASE '{outside}' AS other")
    copy = tmp_path / "copy.db"
    with pytest.raises(SecurityViolation, match="VACUUM INTO"):
        call(rt, database=str(db), query=f"VACUUM INTO '{copy}'")
    assert not copy.exists()
    with pytest.raises(ValidationError, match=r"\$\.params"):
        call(rt, database=str(db), query="SELECT ? + ?", params=[1])
    with pytest.raises(ToolError, match="cannot open SQLite database"):
        call(rt, database=str(db.parent / "missing.db"), query="SELECT 1")
    with pytest.raises(ValidationError, match=r"\$\.max_rows"):
        call(rt, database=str(db), query="SELECT 1", max_rows=0)


def _postgres_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
    except OSError:
        return False
    return True


postgres = pytest.mark.skipif(not _postgres_up(),
                              reason="no PostgreSQL at 127.0.0.1:5432")


@pytest.fixture
def pg_table() -> Any:
    psycopg = pytest.importorskip("psycopg")
    name = f"dbc_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {name} (id int, label text, amount numeric)")
        conn.execute(f"INSERT INTO {name} VALUES (1, 'one', 1.5), (2, 'two', 2)")
    yield name
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.mark.postgres
@postgres
def test_postgres_select_write_refused_and_allowed(make_rt: MakeRuntime, pg_table: str) -> None:
    rt = make_rt(runtime__security__allow_network_access=True,
                 runtime__security__allowed_hosts=["127.0.0.1"])
    out = call(rt, database=PG, query=f"SELECT id, label, amount FROM {pg_table} "
               "WHERE id >= %s ORDER BY id", params=[1])
    assert out["engine"] == "postgresql" and out["columns"] == ["id", "label", "amount"]
    assert out["rows"] == [{"id": 1, "label": "one", "amount": "1.5"},
                           {"id": 2, "label": "two", "amount": "2"}]
    with pytest.raises(SecurityViolation, match="allow_database_writes = false"):
        call(rt, database=PG, query=f"DELETE FROM {pg_table}")
    with pytest.raises(ToolError, match="multiple commands"):
        call(rt, database=PG, query=f"COMMIT; DELETE FROM {pg_table}")
    assert call(rt, database=PG, query=f"SELECT count(*) AS n FROM {pg_table}")["rows"] == [
        {"n": 2}]
    writer = make_rt(runtime__security__allow_network_access=True,
                     runtime__security__allow_database_writes=True)
    done = call(writer, database=PG, query=f"DELETE FROM {pg_table} WHERE id = %(id)s",
                params={"id": 1})
    assert done["rows_affected"] == 1
    assert call(rt, database=PG, query=f"SELECT id FROM {pg_table}")["rows"] == [{"id": 2}]


def test_postgres_network_rule(make_rt: MakeRuntime) -> None:
    rt = make_rt()
    with pytest.raises(SecurityViolation, match="allow_network_access = false"):
        call(rt, database=PG, query="SELECT 1")
    rt = make_rt(runtime__security__allow_network_access=True,
                 runtime__security__allowed_hosts=["db.example.com"])
    with pytest.raises(SecurityViolation, match=r"argument 'database': host '127.0.0.1'"):
        call(rt, database=PG, query="SELECT 1")
    with pytest.raises(SecurityViolation, match="URL option 'host'"):
        call(rt, database="postgresql://db.example.com/test?host=127.0.0.1", query="SELECT 1")
    with pytest.raises(ValidationError, match="one host"):
        call(rt, database="postgresql://db.example.com,127.0.0.1/test", query="SELECT 1")


def test_missing_psycopg_names_the_extra(make_rt: MakeRuntime,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)
    rt = make_rt(runtime__security__allow_network_access=True)
    with pytest.raises(ToolError, match=r"llmspell\[postgres\]"):
        call(rt, database=PG, query="SELECT 1")


# -- rs-llmspell's operation and query_type -------------------------------------------------

def test_sqlite_schema_operation(rt: Runtime, db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE VIEW cheap AS SELECT name FROM items WHERE price < 1")
    conn.close()
    out = call(rt, database=str(db), operation="schema")
    assert out["engine"] == "sqlite" and not out["truncated"]
    assert [(t["name"], t["type"]) for t in out["tables"]] == [("cheap", "view"),
                                                                ("items", "table")]
    items = out["tables"][1]["columns"]
    assert items[0] == {"name": "id", "type": "INTEGER", "not_null": False,
                        "primary_key": True}
    assert [c["name"] for c in items] == ["id", "name", "price", "raw"]
    with pytest.raises(ValidationError, match="operation 'schema' takes no 'query'"):
        call(rt, database=str(db), operation="schema", query="SELECT 1")


def test_query_type_must_match_the_statement(make_rt: MakeRuntime, db: Path) -> None:
    writer = make_rt(runtime__security__allow_database_writes=True)
    out = call(writer, database=str(db), operation="query", query_type="SELECT",
               query="/* list */ SELECT name FROM items ORDER BY id LIMIT 1")
    assert out["rows"] == [{"name": "apple"}]
    done = call(writer, database=str(db), query_type="UPDATE",
                query="UPDATE items SET price = 3 WHERE name = ?", params=["pear"])
    assert done["rows_affected"] == 1
    for query, wanted in (("DELETE FROM items", "SELECT"),
                          ("WITH gone AS (DELETE FROM items RETURNING id) SELECT * FROM gone",
                           "SELECT"),
                          ("SELECT 1", "INSERT")):
        with pytest.raises(ValidationError, match=r"not the \w+ query_type says") as info:
            call(writer, database=str(db), query=query, query_type=wanted)
        assert info.value.path == "$.query_type"
    assert call(writer, database=str(db), query="SELECT count(*) AS n FROM items")["rows"] == [
        {"n": 3}]
    with pytest.raises(ValidationError, match=r"operation 'query' needs 'query'"):
        call(writer, database=str(db))
    with pytest.raises(ValidationError, match=r"\$\.query_type"):
        call(writer, database=str(db), query="SELECT 1", query_type="MERGE")


@pytest.mark.postgres
@postgres
def test_postgres_schema_operation(make_rt: MakeRuntime, pg_table: str) -> None:
    rt = make_rt(runtime__security__allow_network_access=True,
                 runtime__security__allowed_hosts=["127.0.0.1"])
    tables = {t["name"]: t for t in call(rt, database=PG, operation="schema")["tables"]}
    mine = tables[f"public.{pg_table}"]
    assert mine["type"] == "table"
    assert [(c["name"], c["type"]) for c in mine["columns"]] == [
        ("id", "integer"), ("label", "text"), ("amount", "numeric")]
