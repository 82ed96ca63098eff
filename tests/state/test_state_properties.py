"""Property test: random saves, deletes and transactions behave like a dict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmspell.state import StateManager
from llmspell.storage import open_store
from strategies import examples, scalars, text, values

SCOPES = st.sampled_from(["global", "agent:a", "agent:b", "step:w:1", "custom:é"])
KEYS = st.sampled_from(["k", "k/1", "k/2", "ключ", "z"])
VALUES = values(scalars(max_size=8), keys=text(4), max_items=3, max_leaves=8)

SAVE = st.tuples(st.just("save"), SCOPES, KEYS, VALUES)
DELETE = st.tuples(st.just("delete"), SCOPES, KEYS)
CLEAR = st.tuples(st.just("clear"), SCOPES)
CAS = st.tuples(st.just("cas"), SCOPES, KEYS, VALUES)
SIMPLE = SAVE | DELETE | CLEAR | CAS
TRANSACTION = st.tuples(st.just("tx"), st.lists(SIMPLE, max_size=5), st.booleans())
OPS = st.lists(SIMPLE | TRANSACTION, max_size=12)

Model = dict[tuple[str, str], Any]


class Abort(Exception):
    pass


def apply(state: StateManager, model: Model, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "save":
        _, scope, key, value = op
        state.save(scope, key, value)
        model[(scope, key)] = value
    elif kind == "delete":
        _, scope, key = op
        assert state.delete(scope, key) == ((scope, key) in model)
        model.pop((scope, key), None)
    elif kind == "clear":
        _, scope = op
        gone = [k for k in model if k[0] == scope]
        assert state.clear_scope(scope) == len(gone)
        for k in gone:
            del model[k]
    elif kind == "cas":
        _, scope, key, value = op
        if (scope, key) in model and model[(scope, key)] is None:
            # None as `expected` means absent, so a stored None can never be compared.
            assert not state.compare_and_set(scope, key, None, value)
            return
        assert state.compare_and_set(scope, key, model.get((scope, key)), value)
        model[(scope, key)] = value
    else:
        _, ops, fail = op
        inner = dict(model)
        try:
            with state.transaction():
                for sub in ops:
                    apply(state, inner, sub)
                    check(state, inner)  # reads inside see the block's writes
                if fail:
                    raise Abort
        except Abort:
            return
        model.clear()
        model.update(inner)


def check(state: StateManager, model: Model) -> None:
    for scope in {s for s, _ in model} | {"global"}:
        keys = sorted((k for s, k in model if s == scope), key=lambda k: k.encode())
        assert state.list_keys(scope) == keys
    for (scope, key), value in model.items():
        assert state.load(scope, key, default=KeyError) == value


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(ops=OPS)
def test_state_behaves_like_a_dict(ops: list[tuple[Any, ...]]) -> None:
    store = open_store("memory://")
    try:
        state = StateManager(store)
        model: Model = {}
        for op in ops:
            apply(state, model, op)
        check(state, model)
        assert state.scopes() == sorted({s for s, _ in model}, key=lambda s: s.encode())
    finally:
        store.close()


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_state_behaves_like_a_dict_after_reopening_sqlite(tmp_path: Path,
                                                         ops: list[tuple[Any, ...]]) -> None:
    import uuid

    path = tmp_path / f"{uuid.uuid4().hex}.db"
    store = open_store(f"sqlite:///{path}")
    model: Model = {}
    try:
        state = StateManager(store)
        for op in ops:
            apply(state, model, op)
    finally:
        store.close()
    with open_store(f"sqlite:///{path}") as store:
        state = StateManager(store)
        check(state, model)
        log = [k for k, _ in store.scan("chg/")]
        assert len(log) == state.seq
