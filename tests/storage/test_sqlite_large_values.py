"""SQLite: values over LARGE_VALUE live in ``kv_large``, out of the WITHOUT ROWID table.

Artifact content over 64 KB is chunk keys of 512 KB in the store (bug 10). Kept in ``kv``
they made every lookup read whole rows while searching the B-tree (a 100-byte get took 3.3 ms
with 400 MB of chunks); these tests check the values come back exactly through every read
path and that no ``kv_large`` row outlives its key.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmspell.storage import Delete, Put, open_store
from llmspell.storage.sqlite import LARGE_VALUE, SqliteStore

BIG = bytes(range(256)) * (LARGE_VALUE // 256 + 1)
BIG2 = BIG[::-1]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def store(path: Path) -> Iterator[SqliteStore]:
    opened = open_store(f"sqlite:///{path}")
    assert isinstance(opened, SqliteStore)
    yield opened
    opened.close()


def raw_rows(path: Path) -> tuple[dict[str, str], set[str]]:
    """``kv`` key -> typeof(value), and the keys in ``kv_large``, read with plain sqlite3."""
    with sqlite3.connect(path) as db:
        kinds = dict(db.execute("SELECT key, typeof(value) FROM kv").fetchall())
        large = {key for (key,) in db.execute("SELECT key FROM kv_large")}
    return kinds, large


def test_large_values_read_back_through_every_path(store: SqliteStore, path: Path) -> None:
    store.put("a", BIG)
    assert store.batch([Put("b", BIG2), Put("c", b"small")])
    assert store.get("a") == BIG and store.get("b") == BIG2
    assert store.get_many(["a", "b", "c", "x"]) == {"a": BIG, "b": BIG2, "c": b"small"}
    assert list(store.scan("")) == [("a", BIG), ("b", BIG2), ("c", b"small")]
    assert list(store.scan("", reverse=True, limit=2)) == [("c", b"small"), ("b", BIG2)]
    assert store.count("") == 3
    kinds, large = raw_rows(path)
    assert kinds == {"a": "integer", "b": "integer", "c": "blob"} and large == {"a", "b"}


def test_no_large_row_outlives_its_key(store: SqliteStore, path: Path) -> None:
    store.put("a", BIG)
    store.put("a", BIG2)  # large over large
    assert store.get("a") == BIG2 and raw_rows(path)[1] == {"a"}
    store.put("a", b"small now")  # small over large: the kv_large row goes
    assert store.get("a") == b"small now" and raw_rows(path) == ({"a": "blob"}, set())
    store.put("b", BIG)
    assert store.delete("b") and store.get("b") is None
    assert store.batch([Put("c", BIG), Put("c", b"then small"), Put("d", b"x"), Put("d", BIG)])
    assert (store.get("c"), store.get("d")) == (b"then small", BIG)
    assert store.batch([Delete("d")])
    assert raw_rows(path) == ({"a": "blob", "c": "blob"}, set())


def test_expect_compares_large_values(store: SqliteStore) -> None:
    store.put("a", BIG)
    assert not store.batch([Put("a", b"x")], expect={"a": BIG2})
    assert store.batch([Put("a", BIG2)], expect={"a": BIG})
    assert store.get("a") == BIG2


def test_a_store_reopened_and_an_older_file_read_alike(path: Path) -> None:
    with sqlite3.connect(path) as db:  # a file written before kv_large: large values in kv
        db.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID")
        db.execute("INSERT INTO kv VALUES ('old', ?)", (BIG,))
    with open_store(f"sqlite:///{path}") as store:
        assert store.get("old") == BIG
        store.put("new", BIG2)
    with open_store(f"sqlite:///{path}") as store:
        assert dict(store.scan("")) == {"new": BIG2, "old": BIG}


def test_a_missing_large_row_is_a_storage_error(store: SqliteStore, path: Path) -> None:
    from llmspell.errors import StorageError

    store.put("a", BIG)
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM kv_large")
    with pytest.raises(StorageError, match="'a': its value is missing from kv_large"):
        store.get("a")


def test_a_scan_over_a_missing_large_row_is_a_storage_error(store: SqliteStore,
                                                            path: Path) -> None:
    from llmspell.errors import StorageError

    store.put("a", BIG)
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM kv_large")
    with pytest.raises(StorageError, match="missing from kv_large"):
        list(store.scan(""))


def test_the_split_is_measured_not_16_kb(path: Path) -> None:
    """Values over 900 bytes leave the WITHOUT ROWID table (docs/storage.md, "Table layout"),
    and the view kv_values shows every value resolved, for the sqlite3 shell."""
    assert LARGE_VALUE == 900
    with open_store(f"sqlite:///{path}") as opened:
        opened.batch([Put("small", b"s" * LARGE_VALUE), Put("mid", b"m" * (LARGE_VALUE + 1))])
    kinds, large = raw_rows(path)
    assert kinds == {"small": "blob", "mid": "integer"} and large == {"mid"}
    with sqlite3.connect(path) as db:
        shown = dict(db.execute("SELECT key, value FROM kv_values").fetchall())
    assert shown == {"small": b"s" * LARGE_VALUE, "mid": b"m" * (LARGE_VALUE + 1)}
