"""Several threads, handles and processes on one store: nothing lost, exclusivity enforced."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from backends import MULTI_PROCESS, Backend, slow_on
from llmspell.errors import StorageError, StoreLocked, ValidationError
from llmspell.storage import Put, Store, open_store
from llmspell.storage.memory import forget

WORKER = Path(__file__).with_name("storage_worker.py")


def run_threads(n: int, target: Callable[[int], None]) -> None:
    """Run ``target(i)`` on ``n`` threads at once; re-raise the first failure."""
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def wrapped(i: int) -> None:
        try:
            start.wait()
            target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if errors:
        raise errors[0]


def cas_increment(store: Store, key: str = "counter") -> int:
    """Add one to the decimal counter at ``key`` with compare-and-set; return the new value."""
    while True:
        current = store.get(key)
        new = int(current or b"0") + 1
        if store.batch([Put(key, str(new).encode())], expect={key: current}):
            return new


def test_threads_writing_distinct_keys_lose_nothing(store: Store) -> None:
    def writer(t: int) -> None:
        for i in range(200):
            store.put(f"t{t}/{i:03}", f"{t}:{i}".encode())
            if i % 50 == 0:
                assert len(list(store.scan(f"t{t}/"))) == i + 1

    run_threads(8, writer)
    assert store.count() == 1600
    for t in range(8):
        assert store.get_many([f"t{t}/{i:03}" for i in range(200)]) == {
            f"t{t}/{i:03}": f"{t}:{i}".encode() for i in range(200)}


def test_compare_and_set_counter_across_threads_is_exact(store: Store) -> None:
    seen: list[int] = []

    def incrementer(_: int) -> None:
        for _ in range(25):
            seen.append(cas_increment(store))

    run_threads(8, incrementer)
    assert store.get("counter") == b"200"
    assert sorted(seen) == list(range(1, 201))  # every increment got its own value


def test_two_handles_in_one_process(backend: Backend) -> None:
    first = backend.open()
    if backend.name == "rocksdb":
        with pytest.raises(StoreLocked, match="allows one process"):
            backend.open()
        return
    second = backend.open()
    first.put("k", b"1")
    assert second.get("k") == b"1"
    assert second.batch([Put("k", b"2")], expect={"k": b"1"})
    assert first.get("k") == b"2"
    first.close()
    assert second.get("k") == b"2"  # closing one handle leaves the other working
    second.put("j", b"3")
    third = backend.open()
    assert dict(third.scan()) == {"j": b"3", "k": b"2"}


@pytest.mark.parametrize("backend", slow_on(MULTI_PROCESS, "postgres"), indirect=True)
def test_two_processes_compare_and_set_without_losing_a_write(backend: Backend,
                                                              tmp_path: Path) -> None:
    n = 300
    store = backend.open()  # creates the store before the children race for it
    sync = tmp_path / "sync"
    sync.mkdir()
    children = [subprocess.Popen([sys.executable, str(WORKER), "cas", backend.url, tag, str(n),
                                  str(sync)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for tag in ("p1", "p2")]
    try:
        deadline = time.monotonic() + 60
        while not all((sync / f"ready-{tag}").exists() for tag in ("p1", "p2")):
            assert all(c.poll() is None for c in children), children[0].communicate()
            assert time.monotonic() < deadline, "children did not open the store"
            time.sleep(0.005)
        (sync / "go").touch()
        outputs = [c.communicate(timeout=120) for c in children]
    finally:
        for c in children:
            if c.poll() is None:
                c.kill()
                c.communicate()
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
        assert out.startswith("done"), (out, err)
    assert store.get("counter") == str(2 * n).encode()
    assert store.count("w/") == 2 * n
    values = sorted(int(v) for _, v in store.scan("w/"))
    assert values == list(range(1, 2 * n + 1))  # no value was handed out twice


def test_rocksdb_refuses_a_second_process(tmp_path: Path) -> None:
    pytest.importorskip("rocksdict", reason="rocksdb extra not installed")
    url = f"rocksdb:///{tmp_path}/db"
    with open_store(url) as store:
        store.put("k", b"v")
        result = subprocess.run([sys.executable, str(WORKER), "open", url],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        line = result.stdout.strip()
        assert line.startswith("StoreLocked: rocksdb store"), line
        assert "allows one process" in line
        assert "sqlite, lmdb or postgres" in line
    result = subprocess.run([sys.executable, str(WORKER), "open", url],
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "opened"


def test_rocksdb_refuses_a_second_handle_until_the_first_closes(tmp_path: Path) -> None:
    pytest.importorskip("rocksdict", reason="rocksdb extra not installed")
    url = f"rocksdb:///{tmp_path}/db"
    first = open_store(url)
    with pytest.raises(StoreLocked, match=r"already open in this process; RocksDB allows one "
                                          r"process \(and one handle\) per directory"):
        open_store(url)
    first.put("k", b"v")
    first.close()
    with open_store(url) as again:
        assert again.get("k") == b"v"


def test_lmdb_handles_in_one_process_must_agree_on_durability(tmp_path: Path) -> None:
    pytest.importorskip("lmdb", reason="lmdb extra not installed")
    url = f"lmdb:///{tmp_path}/env"
    with open_store(url) as store:
        with pytest.raises(StorageError, match="already open in this process with durability "
                                               "'normal'; cannot open it again with 'full'"):
            open_store(url, durability="full")
        store.put("k", b"v")


def test_named_memory_stores_share_and_keep_contents() -> None:
    a = open_store("memory://shared-test")
    b = open_store("memory://shared-test")
    private = open_store("memory://")
    try:
        a.put("k", b"v")
        assert b.get("k") == b"v"
        assert private.get("k") is None
        a.close()
        b.close()
        with open_store("memory://shared-test") as c:
            assert c.get("k") == b"v"
            assert forget("shared-test") is True
            assert c.get("k") == b"v"  # an open handle keeps what it had
        with open_store("memory://shared-test") as d:
            assert d.get("k") is None
        assert forget("shared-test") is True
        assert forget("shared-test") is False
        with pytest.raises(ValidationError, match="argument 'name': must be a non-empty str"):
            forget("")
    finally:
        private.close()
