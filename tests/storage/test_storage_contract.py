"""The storage contract, run against every backend (see conftest.py for the list)."""

from __future__ import annotations

import itertools

import pytest
from storage_model import model_scan

from llmspell.errors import InvalidKey, InvalidValue, StorageError, ValidationError
from llmspell.storage import MAX_KEY_BYTES, Delete, Put, Store
from llmspell.storage._support import PAGE_BYTES, PAGE_ROWS

# Code-point order differs from UTF-16 order for these: U+E000..U+FFFF sort before the astral
# plane by code point (and by UTF-8 bytes), but after it in UTF-16 (surrogates are D800-DFFF).
UNICODE_KEYS = ["a", "a\x00b", "ab", "z", "é", "\u4e2d", "\ue000", "\uffff", "\U00010000",
                "\U0001f600", "\U0001f600x", "\U0010ffff", "\U0010ffff\U0010ffff"]


# -- get / put / delete ----------------------------------------------------------------------

def test_get_of_a_missing_key_is_none(store: Store) -> None:
    assert store.get("nothing") is None


def test_put_then_get_returns_the_same_bytes(store: Store) -> None:
    store.put("k", b'{"a": 1}')
    value = store.get("k")
    assert value == b'{"a": 1}'
    assert type(value) is bytes


def test_put_overwrites(store: Store) -> None:
    store.put("k", b"one")
    store.put("k", b"two")
    assert store.get("k") == b"two"
    assert store.count() == 1


def test_delete_says_whether_the_key_existed(store: Store) -> None:
    store.put("k", b"v")
    assert store.delete("k") is True
    assert store.get("k") is None
    assert store.delete("k") is False
    assert store.count() == 0


def test_empty_value_is_not_absence(store: Store) -> None:
    store.put("empty", b"")
    assert store.get("empty") == b""
    assert store.get_many(["empty"]) == {"empty": b""}
    assert store.batch([Put("x", b"1")], expect={"empty": None}) is False
    assert store.batch([Put("x", b"1")], expect={"empty": b""}) is True
    assert list(store.scan()) == [("empty", b""), ("x", b"1")]


def test_a_16_mb_value_round_trips(store: Store) -> None:
    big = bytes(range(256)) * (16 * 1024 * 1024 // 256)
    store.put("big", big)
    assert store.get("big") == big
    store.put("big2", big[::-1])
    store.put("big3", big)
    # Each value is over the scan page's byte budget, so this reads one pair per page.
    assert [k for k, _ in store.scan("big")] == ["big", "big2", "big3"]
    assert sum(len(v) for _, v in store.scan("big", reverse=True)) == 3 * len(big)
    assert len(big) > PAGE_BYTES


def test_bytes_subclass_values_come_back_as_bytes(store: Store) -> None:
    class Tagged(bytes):
        pass

    store.put("k", Tagged(b"v"))
    store.batch([Put("j", Tagged(b"w"))])
    assert type(store.get("k")) is bytes
    assert type(store.get("j")) is bytes


# -- get_many --------------------------------------------------------------------------------

def test_get_many_returns_only_the_present_keys(store: Store) -> None:
    store.batch([Put("a", b"1"), Put("b", b"2"), Put("c", b"")])
    found = store.get_many(["a", "missing", "c", "a"])
    assert found == {"a": b"1", "c": b""}
    assert all(type(v) is bytes for v in found.values())
    assert store.get_many([]) == {}
    assert store.get_many(iter(["b"])) == {"b": b"2"}


def test_get_many_with_many_keys(store: Store) -> None:
    store.batch([Put(f"k{i:04}", str(i).encode()) for i in range(1200)])
    wanted = [f"k{i:04}" for i in range(0, 1300, 3)]
    found = store.get_many(wanted)
    assert found == {k: str(int(k[1:])).encode() for k in wanted if int(k[1:]) < 1200}


def test_get_many_names_the_bad_key_by_index(store: Store) -> None:
    with pytest.raises(InvalidKey, match=r"argument 'keys\[1\]': must be a str"):
        store.get_many(["a", 3])  # type: ignore[list-item]


# -- scan and count --------------------------------------------------------------------------

SCAN_DATA = {k: k.encode() for k in ["a", "a/1", "a/2", "a/3", "a/30", "a0", "b", "b/1",
                                     "ba", "c/\U0001f600", "c/\uffff", "c/\ue000"]}


def test_scan_matches_the_model_for_every_combination(store: Store) -> None:
    store.batch([Put(k, v) for k, v in SCAN_DATA.items()])
    prefixes = ["", "a", "a/", "a/3", "b", "c/", "d", "\U0010ffff"]
    afters = [None, "a", "a/1", "a/25", "a0", "b", "\U0001f600", "0", "zzz"]
    for prefix, after, limit, reverse in itertools.product(prefixes, afters,
                                                           [None, 0, 1, 2, 100],
                                                           [False, True]):
        got = list(store.scan(prefix, start_after=after, limit=limit, reverse=reverse))
        want = model_scan(SCAN_DATA, prefix, after, limit, reverse)
        assert got == want, (prefix, after, limit, reverse)
        keys = list(store.keys(prefix, start_after=after, limit=limit, reverse=reverse))
        assert keys == [k for k, _ in want]


def test_count_by_prefix(store: Store) -> None:
    store.batch([Put(k, v) for k, v in SCAN_DATA.items()])
    for prefix in ["", "a", "a/", "a/3", "b", "c/", "d", "\U0010ffff"]:
        assert store.count(prefix) == len(model_scan(SCAN_DATA, prefix)), prefix


def test_scan_over_many_pages(store: Store) -> None:
    n = PAGE_ROWS * 10 + 7
    store.batch([Put(f"p/{i:05}", b"x") for i in range(n)] + [Put("q", b""), Put("p", b"")])
    keys = list(store.keys("p/"))
    assert keys == [f"p/{i:05}" for i in range(n)]
    assert list(store.keys("p/", reverse=True)) == keys[::-1]
    assert list(store.keys("p/", limit=PAGE_ROWS * 3 + 1)) == keys[:PAGE_ROWS * 3 + 1]
    assert list(store.keys("p/", start_after=keys[100], limit=500)) == keys[101:601]
    assert store.count("p/") == n


def test_scan_pages_by_start_after(store: Store) -> None:
    store.batch([Put(f"k{i:03}", b"") for i in range(25)])
    seen: list[str] = []
    after = None
    while True:
        page = list(store.keys("k", start_after=after, limit=10))
        if not page:
            break
        seen += page
        after = page[-1]
    assert seen == [f"k{i:03}" for i in range(25)]


def test_writes_during_a_scan_do_not_break_it(store: Store) -> None:
    store.batch([Put(f"k{i:04}", b"v") for i in range(500)])
    seen = []
    for key, _ in store.scan("k"):
        seen.append(key)
        store.delete(key)
        store.put("j" + key, b"moved")
    assert seen == [f"k{i:04}" for i in range(500)]
    assert store.count("k") == 0
    assert store.count("j") == 500


def test_unicode_keys_sort_by_code_point_not_utf16(store: Store) -> None:
    store.batch([Put(k, k.encode()) for k in reversed(UNICODE_KEYS)])
    expected = sorted(UNICODE_KEYS)
    assert expected == sorted(UNICODE_KEYS, key=lambda k: k.encode("utf-8"))
    assert expected != sorted(UNICODE_KEYS, key=lambda k: k.encode("utf-16-be"))
    assert list(store.keys()) == expected
    assert list(store.keys(reverse=True)) == expected[::-1]
    assert list(store.keys("\U0001f600")) == ["\U0001f600", "\U0001f600x"]
    assert list(store.keys("\U0010ffff")) == ["\U0010ffff", "\U0010ffff\U0010ffff"]
    assert list(store.keys(start_after="\uffff", limit=2)) == ["\U00010000", "\U0001f600"]
    assert list(store.keys("a")) == ["a", "a\x00b", "ab"]
    assert store.count("\U0001f600") == 2
    for key in UNICODE_KEYS:
        assert store.get(key) == key.encode()


def test_keys_at_the_size_limit(store: Store) -> None:
    for key in ["k" * MAX_KEY_BYTES, "é" * (MAX_KEY_BYTES // 2), "\U0001f600" * 125]:
        assert len(key.encode()) == MAX_KEY_BYTES
        store.put(key, b"v")
        assert store.get(key) == b"v"
        assert store.batch([Delete(key)], expect={key: b"v"})


@pytest.mark.parametrize("key", ["k" * (MAX_KEY_BYTES + 1), "é" * (MAX_KEY_BYTES // 2) + "k",
                                 "\U0001f600" * 126])
def test_keys_over_the_size_limit_are_refused(store: Store, key: str) -> None:
    size = len(key.encode())
    rule = f"argument 'key': must be at most {MAX_KEY_BYTES} bytes in UTF-8, is {size} bytes"
    with pytest.raises(InvalidKey, match=rule):
        store.put(key, b"v")
    with pytest.raises(InvalidKey, match=rule):
        store.get(key)
    with pytest.raises(InvalidKey, match=r"argument 'ops\[0\].key': must be at most"):
        store.batch([Put(key, b"v")])
    assert store.count() == 0


# -- batches ---------------------------------------------------------------------------------

def test_batch_applies_ops_in_order(store: Store) -> None:
    store.put("gone", b"old")
    assert store.batch([Put("a", b"1"), Delete("a"), Delete("b"), Put("b", b"2"),
                        Put("c", b"3"), Put("c", b"4"), Delete("gone")]) is True
    assert dict(store.scan()) == {"b": b"2", "c": b"4"}


def test_empty_batch_is_a_no_op(store: Store) -> None:
    assert store.batch([]) is True
    assert store.count() == 0


def test_a_bad_op_at_the_end_changes_nothing(store: Store) -> None:
    store.put("keep", b"1")
    ops = [Put("new", b"x"), Delete("keep"), Put("also", "not bytes")]  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match=r"argument 'ops\[2\].value': must be bytes "
                                           r"\(got str 'not bytes'\)"):
        store.batch(ops)
    with pytest.raises(ValidationError, match=r"argument 'ops\[1\]': must be a Put or a Delete"):
        store.batch([Put("new", b"x"), ("x", b"y")])  # type: ignore[list-item]
    assert dict(store.scan()) == {"keep": b"1"}


def test_batch_with_expect(store: Store) -> None:
    store.put("n", b"1")
    assert store.batch([Put("n", b"2"), Put("log/1", b"x")], expect={"n": b"1"}) is True
    assert store.batch([Put("n", b"3"), Put("log/2", b"y")], expect={"n": b"1"}) is False
    assert store.get("n") == b"2"
    assert store.get("log/2") is None
    # expect on an absent key: None means "must be absent"
    assert store.batch([Put("fresh", b"f")], expect={"fresh": None}) is True
    assert store.batch([Put("fresh", b"g")], expect={"fresh": None}) is False
    assert store.batch([Put("other", b"o")], expect={"never": b"x"}) is False
    assert store.get("fresh") == b"f"
    assert store.get("other") is None
    # several conditions: all must hold
    assert store.batch([Delete("n")], expect={"n": b"2", "fresh": b"nope"}) is False
    assert store.batch([Delete("n")], expect={"n": b"2", "fresh": b"f", "x": None}) is True
    assert store.get("n") is None


def test_expect_without_ops_only_checks(store: Store) -> None:
    store.put("k", b"v")
    assert store.batch([], expect={"k": b"v"}) is True
    assert store.batch([], expect={"k": b"w"}) is False
    assert store.get("k") == b"v"


def test_batch_accepts_any_iterable_of_ops(store: Store) -> None:
    assert store.batch(Put(f"g{i}", b"") for i in range(3)) is True
    assert list(store.keys()) == ["g0", "g1", "g2"]


def test_batch_of_many_ops(store: Store) -> None:
    assert store.batch([Put(f"m{i:05}", bytes([i % 256]) * 50) for i in range(5000)])
    assert store.count("m") == 5000
    assert store.batch([Delete(f"m{i:05}") for i in range(0, 5000, 2)])
    assert store.count("m") == 2500


# -- argument errors -------------------------------------------------------------------------

BAD_KEYS = [
    (3, "must be a str"),
    (b"k", "must be a str"),
    (None, "must be a str"),
    ("", "must not be empty"),
    ("a\ud800b", "must be valid UTF-8 (position 1 is a lone surrogate)"),
]


@pytest.mark.parametrize(("key", "rule"), BAD_KEYS)
def test_bad_keys_are_refused_by_every_operation(store: Store, key: object, rule: str) -> None:
    def refused(argument: str, call: object) -> None:
        with pytest.raises(InvalidKey) as info:
            call()  # type: ignore[operator]
        assert info.value.argument == argument
        assert str(info.value).startswith(f"argument '{argument}': {rule}")

    refused("key", lambda: store.get(key))  # type: ignore[arg-type]
    refused("key", lambda: store.put(key, b"v"))  # type: ignore[arg-type]
    refused("key", lambda: store.delete(key))  # type: ignore[arg-type]
    refused("keys[0]", lambda: store.get_many([key]))  # type: ignore[list-item]
    if key is not None:  # start_after=None means "from the start"
        refused("start_after", lambda: store.scan("", start_after=key))  # type: ignore[arg-type]
    refused("ops[0].key", lambda: store.batch([Put(key, b"v")]))  # type: ignore[arg-type]
    refused("ops[1].key", lambda: store.batch([Put("ok", b"v"), Delete(key)]))  # type: ignore[arg-type]
    refused("expect", lambda: store.batch([], expect={key: None}))  # type: ignore[dict-item]
    if key != "":
        refused("prefix", lambda: store.scan(key))  # type: ignore[arg-type]
        refused("prefix", lambda: store.count(key))  # type: ignore[arg-type]
    assert store.count() == 0


@pytest.mark.parametrize("value", ["text", bytearray(b"x"), memoryview(b"x"), None, 7])
def test_non_bytes_values_are_refused(store: Store, value: object) -> None:
    kind = type(value).__name__
    with pytest.raises(InvalidValue, match=f"argument 'value': must be bytes \\(got {kind}"):
        store.put("k", value)  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match=r"argument 'ops\[0\].value': must be bytes"):
        store.batch([Put("k", value)])  # type: ignore[arg-type]
    if value is not None:
        with pytest.raises(InvalidValue, match=r"argument 'expect\['k'\]': must be bytes"):
            store.batch([], expect={"k": value})  # type: ignore[dict-item]
    assert store.get("k") is None


@pytest.mark.parametrize("limit", [-1, 1.5, True, "3"])
def test_bad_limit_is_refused(store: Store, limit: object) -> None:
    with pytest.raises(ValidationError, match="argument 'limit': must be a non-negative int"):
        store.scan("", limit=limit)  # type: ignore[arg-type]


def test_ops_must_be_an_iterable_of_ops(store: Store) -> None:
    with pytest.raises(ValidationError, match="argument 'ops': must be an iterable of Put/Delete"):
        store.batch("put k")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="argument 'ops': must be an iterable"):
        store.batch(5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="argument 'ops': must be an iterable"):
        store.batch({"k": b"v"})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="argument 'keys': must be an iterable of keys"):
        store.get_many(5)  # type: ignore[arg-type]


# -- lifecycle -------------------------------------------------------------------------------

def test_reopen_reads_back(backend) -> None:  # type: ignore[no-untyped-def]
    first = backend.open()
    first.batch([Put(k, k.encode()) for k in UNICODE_KEYS] + [Put("big", b"b" * 100_000)])
    first.close()
    second = backend.open()
    assert list(second.keys()) == sorted([*UNICODE_KEYS, "big"])
    assert second.get("big") == b"b" * 100_000
    assert second.get("\U0001f600") == "\U0001f600".encode()


def test_full_durability_works_the_same(backend) -> None:  # type: ignore[no-untyped-def]
    store = backend.open(durability="full")
    store.put("k", b"v")
    assert store.batch([Put("k", b"w")], expect={"k": b"v"})
    assert store.get("k") == b"w"


def test_operations_after_close_raise(store: Store) -> None:
    store.put("k", b"v")
    pending = store.scan()  # created before close, read after: the next page fails
    store.close()
    store.close()  # idempotent
    calls = [
        lambda: store.get("k"), lambda: store.get_many(["k"]), lambda: store.put("k", b"v"),
        lambda: store.delete("k"), lambda: list(store.scan()), lambda: store.count(),
        lambda: store.count("k"), lambda: store.batch([Put("k", b"v")]),
        lambda: store.batch([], expect={"k": None}), lambda: list(pending),
    ]
    for call in calls:
        with pytest.raises(StorageError, match=r"^store is closed$"):
            call()


def test_context_manager_closes(backend) -> None:  # type: ignore[no-untyped-def]
    with backend.open() as store:
        store.put("k", b"v")
    with pytest.raises(StorageError, match="store is closed"):
        store.get("k")


def test_store_describes_itself(backend, store: Store) -> None:  # type: ignore[no-untyped-def]
    assert store.url == backend.url
    assert backend.url in repr(store)
    assert store.multi_process is backend.multi_process
