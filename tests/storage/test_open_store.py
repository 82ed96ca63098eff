"""Choosing a backend by URL, and the errors a user sees when the URL or the setup is wrong."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from llmspell.errors import BackendUnavailable, StorageError, ValidationError
from llmspell.storage import backend_status, open_store
from llmspell.storage.memory import MemoryStore
from llmspell.storage.sqlite import SqliteStore
from llmspell.testing import discard_store, postgres_unreachable, postgres_url


def test_each_scheme_opens_its_backend(tmp_path: Path) -> None:
    expected = {
        "memory://": "MemoryStore",
        f"sqlite:///{tmp_path}/a.db": "SqliteStore",
        f"SQLITE:///{tmp_path}/b.db": "SqliteStore",
    }
    if backend_status()["lmdb"] == "available":
        expected[f"lmdb:///{tmp_path}/l"] = "LmdbStore"
    if backend_status()["rocksdb"] == "available":
        expected[f"rocksdb:///{tmp_path}/r"] = "RocksStore"
    for url, cls in expected.items():
        with open_store(url) as store:
            assert type(store).__name__ == cls
            assert store.url == url


def test_sqlite_paths_relative_and_absolute(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///.llmspell/deep/llmspell.db") as store:
        store.put("k", b"v")
    assert (tmp_path / ".llmspell" / "deep" / "llmspell.db").is_file()
    absolute = tmp_path / "abs" / "x.db"
    with open_store(f"sqlite:///{absolute}") as store:  # sqlite:////abs/x.db
        store.put("k", b"v")
    assert absolute.is_file()


def test_sqlite_values_stay_readable_json(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with open_store(f"sqlite:///{path}") as store:
        store.put("agent/1", b'{"name": "scout", "steps": [1, 2]}')
    with sqlite3.connect(path) as raw:
        row = raw.execute("SELECT key, json_extract(CAST(value AS TEXT), '$.name'), "
                          "json_array_length(CAST(value AS TEXT), '$.steps') FROM kv").fetchone()
        mode = raw.execute("PRAGMA journal_mode").fetchone()[0]
        sql = raw.execute("SELECT sql FROM sqlite_master WHERE name = 'kv'").fetchone()[0]
    raw.close()
    assert row == ("agent/1", "scout", 2)
    assert mode == "wal"
    assert "WITHOUT ROWID" in sql


def test_sqlite_waits_for_another_writer(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = open_store(f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")
        releaser = threading.Timer(0.3, lambda: other.execute("COMMIT"))
        releaser.start()
        started = time.monotonic()
        store.put("k", b"v")  # blocks until the other connection commits
        assert time.monotonic() - started >= 0.2
        releaser.join()
        assert store.get("k") == b"v"
    finally:
        other.close()
        store.close()


def test_sqlite_gives_up_after_its_timeout_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(path, timeout=0.05)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StorageError, match=rf"sqlite store {path}: could not put 'k': "
                                               "database is locked"):
            store.put("k", b"v")
        with pytest.raises(StorageError, match="could not start a batch: database is locked"):
            store.batch([], expect={"k": None})
        other.execute("COMMIT")
        store.put("k", b"v")
    finally:
        other.close()
        store.close()


def test_sqlite_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match=rf"sqlite store {path}: cannot set up: file is not "
                                           "a database"):
        open_store(f"sqlite:///{path}")


def test_unknown_scheme_names_the_known_ones() -> None:
    for url in ["redis://localhost", "just/a/path.db", "file:///x"]:
        with pytest.raises(BackendUnavailable, match="expected one of memory://, sqlite:///, "
                                                     "lmdb:///, rocksdb:///, postgresql://"):
            open_store(url)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite://relative.db", "lmdb://", "rocksdb:///"])
def test_file_urls_need_a_path(url: str) -> None:
    with pytest.raises(BackendUnavailable, match=r"has no path: write \w+:///relative/path or "
                                                  r"\w+:////absolute/path"):
        open_store(url)


@pytest.mark.parametrize("url", [None, "", 3, b"memory://"])
def test_url_must_be_a_non_empty_str(url: object) -> None:
    with pytest.raises(ValidationError, match="argument 'url': must be a non-empty str"):
        open_store(url)  # type: ignore[arg-type]


@pytest.mark.parametrize("durability", ["fast", "FULL", None, 1])
def test_durability_must_be_normal_or_full(durability: object, tmp_path: Path) -> None:
    rule = r"argument 'durability': must be one of 'normal', 'full' \(got"
    with pytest.raises(ValidationError, match=rule):
        open_store("memory://", durability=durability)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=rule):
        SqliteStore(tmp_path / "x.db", durability=durability)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=rule):
        MemoryStore(durability=durability)  # type: ignore[arg-type]
    assert not (tmp_path / "x.db").exists()


def test_unknown_query_parameters_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"argument 'url' at \.mode: unknown query "
                                              r"parameter 'mode'; known: timeout"):
        open_store(f"sqlite:///{tmp_path}/x.db?mode=ro")
    with pytest.raises(ValidationError, match=r"argument 'url' at \.timeout: unknown query "
                                              r"parameter 'timeout'; known: none"):
        open_store(f"rocksdb:///{tmp_path}/r?timeout=3")


def test_sqlite_timeout_parameter(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="argument 'url': query parameter 'timeout' must "
                                              "be a number"):
        open_store(f"sqlite:///{tmp_path}/x.db?timeout=soon")
    with pytest.raises(ValidationError, match="argument 'timeout': must be a non-negative"):
        open_store(f"sqlite:///{tmp_path}/x.db?timeout=-1")
    path = tmp_path / "y.db"
    store = open_store(f"sqlite:///{path}?timeout=0.05")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(StorageError, match="database is locked"):
            store.put("k", b"v")
        assert time.monotonic() - started < 5
        other.execute("ROLLBACK")
    finally:
        other.close()
        store.close()


def test_constructor_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="argument 'path': must be a non-empty file path"):
        SqliteStore("")
    with pytest.raises(ValidationError, match="argument 'timeout': must be a non-negative"):
        SqliteStore(tmp_path / "x.db", timeout=-1)
    with pytest.raises(ValidationError, match="argument 'name': must be a str"):
        MemoryStore(3)  # type: ignore[arg-type]


def test_lmdb_map_size_parameter(tmp_path: Path) -> None:
    pytest.importorskip("lmdb", reason="lmdb extra not installed")
    with pytest.raises(ValidationError, match="argument 'url': query parameter 'map_size' "
                                              "must be an integer"):
        open_store(f"lmdb:///{tmp_path}/a?map_size=big")
    with pytest.raises(ValidationError, match="argument 'map_size': must be an int of at "
                                              "least 1 MiB"):
        open_store(f"lmdb:///{tmp_path}/b?map_size=100")
    with open_store(f"lmdb:///{tmp_path}/c?map_size=1048576") as store:
        with pytest.raises(StorageError, match=r"could not put 'big': the map is full; reopen "
                                               r"with a larger lmdb:///dir\?map_size=BYTES"):
            store.put("big", b"x" * 2_000_000)
        store.put("small", b"x")
        assert store.get("big") is None


def test_postgres_table_parameter_is_checked() -> None:
    pytest.importorskip("psycopg", reason="postgres extra not installed")
    with pytest.raises(ValidationError, match="argument 'url': query parameter 'table' must be "
                                              "an identifier"):
        open_store("postgresql://127.0.0.1:1/test?table=x;drop")


@pytest.mark.postgres
def test_postgres_unreachable_is_backend_unavailable() -> None:
    pytest.importorskip("psycopg", reason="postgres extra not installed")
    with pytest.raises(BackendUnavailable, match=r"postgres store postgresql://u:\*\*\*@"
                                                 r"127\.0\.0\.1:1/test table llmspell_kv: "
                                                 r"cannot connect"):
        open_store("postgresql://u:secret@127.0.0.1:1/test")


@pytest.mark.postgres
def test_postgres_default_table_and_schema_qualified_table() -> None:
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    url = postgres_url("public.llmspell_test_schema_q")
    with open_store(url) as store:
        store.put("k\x00nul", b"v")
        assert store.get("k\x00nul") == b"v"
        assert store.table == "public.llmspell_test_schema_q"  # type: ignore[attr-defined]
    discard_store(url)


@pytest.mark.parametrize(("name", "module", "extra"), [
    ("lmdb", "lmdb", "lmdb"), ("rocksdb", "rocksdict", "rocksdb"),
    ("postgres", "psycopg_pool", "postgres")])
def test_a_missing_extra_is_named(name: str, module: str, extra: str, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    backend_module = {"lmdb": "llmspell.storage.lmdb_store", "rocksdb": "llmspell.storage.rocksdb",
                      "postgres": "llmspell.storage.postgres"}[name]
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    monkeypatch.delitem(sys.modules, backend_module, raising=False)
    message = (f"the {name} backend is unavailable (package '{module}' is not installed); "
               f"install it with: pip install 'llmspell[{extra}]'")
    url = "postgresql://127.0.0.1/test" if name == "postgres" else f"{name}:///{tmp_path}/d"
    with pytest.raises(BackendUnavailable) as info:
        open_store(url)
    assert str(info.value) == message
    assert backend_status()[name] == message
    assert backend_status()["sqlite"] == "available"


def test_importing_llmspell_loads_no_optional_backend() -> None:
    code = ("import sys, llmspell, llmspell.storage; "
            "from llmspell.storage import open_store; open_store('memory://').close(); "
            "print(sorted(m for m in ('lmdb', 'rocksdict', 'psycopg', 'psycopg_pool') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PYTHONWARNINGS": "error"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_backend_status_lists_every_backend() -> None:
    status = backend_status()
    assert set(status) == {"memory", "sqlite", "lmdb", "rocksdb", "postgres"}
    assert status["memory"] == status["sqlite"] == "available"


def test_sqlite_open_waits_while_another_connection_holds_the_lock(tmp_path: Path) -> None:
    """Switching a new file to WAL needs an exclusive lock, for which SQLite does not wait;
    two processes opening a new store at once used to fail with 'database is locked'."""
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE other (x)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO other VALUES (1)")
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        with open_store(f"sqlite:///{path}") as store:
            store.put("k", b"v")
            assert store.get("k") == b"v"
    finally:
        release.join()
        holder.close()


def test_sqlite_open_gives_up_after_its_timeout(tmp_path: Path) -> None:
    path = tmp_path / "held.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE other (x)")
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageError, match="database is locked"):
            open_store(f"sqlite:///{path}?timeout=0.2")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
