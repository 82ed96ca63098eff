"""The shipped test helpers: a fresh store URL per backend, its discard, and skip reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmspell import testing
from llmspell.errors import StorageError, ValidationError
from llmspell.storage import backend_status, open_store
from llmspell.testing import (
    BACKENDS,
    POSTGRES_URL,
    StoreLocation,
    backend_unavailable,
    discard_store,
    fresh_store_url,
    postgres_unreachable,
    postgres_url,
)


def test_each_backend_gets_a_place_of_its_own(tmp_path: Path) -> None:
    assert fresh_store_url("sqlite", tmp_path) == f"sqlite:///{tmp_path}/store.db"
    assert fresh_store_url("lmdb", tmp_path) == f"lmdb:///{tmp_path}/lmdb"
    assert fresh_store_url("rocksdb", tmp_path) == f"rocksdb:///{tmp_path}/rocksdb"
    one, two = (fresh_store_url("memory", tmp_path, label="state") for _ in range(2))
    assert one.startswith("memory://state-") and one != two
    # postgres: a schema of its own per test (dropped whole afterwards), the usual table in it
    table = fresh_store_url("postgres", tmp_path, label="state").rpartition("table=")[2]
    schema, _, name = table.partition(".")
    assert name == "llmspell_kv" and schema.startswith("llmspell_t_state_")
    assert len(schema) == len("llmspell_t_state_") + 16


def test_postgres_url_names_the_table_after_the_servers_own_parameters(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(testing, "POSTGRES_URL", "postgresql://h/db")
    assert postgres_url("t1") == "postgresql://h/db?table=t1"
    monkeypatch.setattr(testing, "POSTGRES_URL", "postgresql://h/db?sslmode=disable")
    assert postgres_url("t1") == "postgresql://h/db?sslmode=disable&table=t1"


@pytest.mark.parametrize(("name", "label"), [("mysql", "test"), ("sqlite", "no-dash"),
                                             ("sqlite", ""), ("memory", "x" * 33)])
def test_an_unknown_backend_or_a_label_unfit_for_a_table_name_is_refused(
        tmp_path: Path, name: str, label: str) -> None:
    with pytest.raises(ValidationError, match=r"argument '(name|label)'"):
        fresh_store_url(name, tmp_path, label=label)


def test_a_discarded_memory_store_opens_empty(tmp_path: Path) -> None:
    url = fresh_store_url("memory", tmp_path)
    with open_store(url) as store:
        store.put("k", b"v")
    with open_store(url) as store:
        assert store.get("k") == b"v"  # a named store outlives its handles...
    discard_store(url)
    with open_store(url) as store:
        assert store.get("k") is None  # ...until it is discarded


def test_a_location_closes_what_it_opened_and_discards_the_store(tmp_path: Path) -> None:
    with StoreLocation("memory", fresh_store_url("memory", tmp_path)) as place:
        first, second = place.open(), place.open(durability="full")
        first.put("k", b"v")
        assert second.get("k") == b"v"
    for handle in (first, second):
        with pytest.raises(StorageError, match="store is closed"):
            handle.get("k")
    with open_store(place.url) as store:
        assert store.get("k") is None


def test_discarding_a_file_store_or_an_unnamed_one_leaves_it_alone(tmp_path: Path) -> None:
    url = fresh_store_url("sqlite", tmp_path)
    with open_store(url) as store:
        store.put("k", b"v")
    discard_store(url)
    discard_store("memory://")
    # No table named: the server's default table is shared, so nothing is dropped (and a
    # server that does not answer is not even asked).
    discard_store("postgresql://127.0.0.1:1/test")
    with open_store(url) as store:
        assert store.get("k") == b"v"


@pytest.mark.postgres
def test_a_discarded_postgres_store_loses_its_table(tmp_path: Path) -> None:
    if reason := postgres_unreachable():
        pytest.skip(reason)
    import psycopg

    url = fresh_store_url("postgres", tmp_path)
    table = url.rpartition("table=")[2]
    with open_store(url) as store:
        store.put("k", b"v")

    def exists() -> bool:
        with psycopg.connect(POSTGRES_URL) as conn:
            row = conn.execute("SELECT to_regclass(%s)", [table]).fetchone()
        return row is not None and row[0] is not None

    assert exists()
    discard_store(url)
    assert not exists()
    discard_store(url)  # twice is fine


def test_embedded_backends_are_unavailable_exactly_when_their_package_is_missing() -> None:
    status = backend_status()
    for name in ("memory", "sqlite", "lmdb", "rocksdb"):
        expected = None if status[name] == "available" else status[name]
        assert backend_unavailable(name) == expected
    assert backend_unavailable("postgres") == postgres_unreachable()
    with pytest.raises(ValidationError, match="must be a backend name: memory, sqlite"):
        backend_unavailable("mysql")
    assert set(BACKENDS) == set(status)


def test_a_missing_package_is_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    why = "the lmdb backend is unavailable (package 'lmdb' is not installed); install it ..."
    monkeypatch.setattr(testing, "backend_status", lambda: {"lmdb": why})
    assert backend_unavailable("lmdb") == why


def test_no_server_is_a_one_line_reason_naming_the_url_and_the_variable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    if backend_status()["postgres"] != "available":
        pytest.skip(backend_status()["postgres"])
    monkeypatch.setattr(testing, "POSTGRES_URL", "postgresql://127.0.0.1:1/test")
    reason = postgres_unreachable.__wrapped__()  # not the answer kept for the real server
    assert reason is not None and "\n" not in reason
    assert reason.startswith("no PostgreSQL at postgresql://127.0.0.1:1/test "
                             "(set LLMSPELL_TEST_POSTGRES): ")


def test_counting_store_counts_scans_fetches_and_can_fail_batches() -> None:
    from llmspell.errors import StorageError
    from llmspell.storage import Put
    from llmspell.testing import CountingStore

    with CountingStore() as store:
        store.batch([Put("a/1", b"x"), Put("a/2", b"y"), Put("b/1", b"z")])
        assert [k for k, _ in store.scan("a/")] == ["a/1", "a/2"]
        assert store.get_many(["a/1", "b/1"]) == {"a/1": b"x", "b/1": b"z"}
        assert (store.scans, store.scanned, store.fetched) == (["a/"], 2, 2)
        store.reset()
        assert (store.scans, store.scanned, store.fetched) == ([], 0, 0)
        store.fail_batches = True
        with pytest.raises(StorageError, match="disk is full"):
            store.batch([Put("c", b"1")])
        assert store.get("c") is None
