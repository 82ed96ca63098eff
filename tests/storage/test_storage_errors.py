"""Backend-specific failures: each becomes a StorageError naming the store and what was done."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from llmspell.errors import StorageError, ValidationError
from llmspell.storage import Put, open_store
from llmspell.storage.sqlite import SqliteStore
from llmspell.testing import POSTGRES_URL, discard_store, postgres_unreachable, postgres_url


@pytest.mark.parametrize("scheme", ["sqlite", "lmdb", "rocksdb"])
def test_a_file_where_a_directory_must_be(scheme: str, tmp_path: Path) -> None:
    if scheme != "sqlite":
        pytest.importorskip({"lmdb": "lmdb", "rocksdb": "rocksdict"}[scheme])
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    target = blocker / "store.db" if scheme == "sqlite" else blocker
    with pytest.raises(StorageError, match=rf"^{scheme} store {re.escape(str(target))}: cannot "
                                           rf"create directory {re.escape(str(blocker))}: a "
                                           r"file of that name is in the way$"):
        open_store(f"{scheme}:///{target}")


def test_sqlite_on_a_directory(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=rf"sqlite store {re.escape(str(tmp_path))}: cannot "
                                           r"open: it is a directory; name a file in it"):
        open_store(f"sqlite:///{tmp_path}")


def test_sqlite_wraps_failures_with_the_operation(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with open_store(f"sqlite:///{path}") as store:
        raw = sqlite3.connect(path)
        raw.execute("DROP TABLE kv")
        raw.close()
        with pytest.raises(StorageError, match=rf"sqlite store {re.escape(str(path))}: could "
                                               r"not get 'k': no such table: kv"):
            store.get("k")
        with pytest.raises(StorageError, match=r"could not apply a batch of 1 ops: no such table"):
            store.batch([Put("k", b"v")])
        with pytest.raises(StorageError, match=r"could not scan: no such table"):
            list(store.scan("a"))
        with pytest.raises(StorageError, match=r"could not count 'a': no such table"):
            store.count("a")


@pytest.mark.parametrize("name", ["lmdb", "rocksdb"])
def test_directory_backends_check_their_path(name: str) -> None:
    if name == "lmdb":
        pytest.importorskip("lmdb")
        from llmspell.storage.lmdb_store import LmdbStore as cls
    else:
        pytest.importorskip("rocksdict")
        from llmspell.storage.rocksdb import RocksStore as cls  # type: ignore[assignment]
    with pytest.raises(ValidationError, match="argument 'path': must be a non-empty directory"):
        cls("")
    with pytest.raises(ValidationError, match="argument 'path': must be a non-empty directory"):
        cls(None)  # type: ignore[arg-type]


def test_sqlite_path_type_is_checked() -> None:
    with pytest.raises(ValidationError, match="argument 'path': must be a non-empty file path "
                                              r"\(got int 3\)"):
        SqliteStore(3)  # type: ignore[arg-type]


def test_postgres_constructor_checks_its_arguments() -> None:
    pytest.importorskip("psycopg")
    from llmspell.storage.postgres import PostgresStore

    with pytest.raises(ValidationError, match="argument 'url': must start with postgresql:// or "
                                              "postgres://"):
        PostgresStore("mysql://localhost/db")
    with pytest.raises(ValidationError, match="argument 'pool_size': must be an int of at least 1"):
        PostgresStore("postgresql://127.0.0.1:1/x", pool_size=0)
    with pytest.raises(ValidationError, match="argument 'connect_timeout': must be a positive "):
        PostgresStore("postgresql://127.0.0.1:1/x", connect_timeout=0)


@pytest.mark.postgres
def test_postgres_failures_name_the_table_and_operation() -> None:
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    # a missing schema is created; one PostgreSQL refuses to create names the table
    with pytest.raises(StorageError, match=r"table pg_llmspell_nope\.t: cannot create the "
                                           r"table: unacceptable schema name"):
        open_store(postgres_url("pg_llmspell_nope.t"))
    import psycopg

    open_store(postgres_url("llmspell_test_new_schema.t")).close()
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('llmspell_test_new_schema.t')").fetchone()[0]
        conn.execute("DROP SCHEMA llmspell_test_new_schema CASCADE")

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS llmspell_test_other (id int, key text)")
    try:
        with pytest.raises(StorageError, match=r"table llmspell_test_other: the table exists but "
                                               r"is not an llmspell store \(columns: id integer, "
                                               r"key text; expected key bytea, value bytea\)"):
            open_store(postgres_url("llmspell_test_other"))
    finally:
        discard_store(postgres_url("llmspell_test_other"))
    store = open_store(postgres_url("llmspell_test_dropped"))
    try:
        discard_store(postgres_url("llmspell_test_dropped"))
        with pytest.raises(StorageError, match=r"table llmspell_test_dropped: could not get 'k': "
                                               r"relation \"llmspell_test_dropped\" does not "
                                               r"exist"):
            store.get("k")
    finally:
        store.close()
