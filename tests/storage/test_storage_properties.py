"""Property test: any sequence of writes leaves a store equal to a dict model.

A Hypothesis state machine puts, deletes and batches (with and without ``expect``) on a real
store and on a dict, and after every step compares reads, counts and scans (with prefix,
start_after, limit and reverse). Keys come from a small alphabet chosen to collide, nest as
prefixes and straddle the code-point/UTF-16 order differences (NUL, U+E000, U+FFFF, astral).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from storage_model import model_scan

from backends import EMBEDDED
from llmspell.storage import Delete, Put, Store
from strategies import examples

ALPHABET = st.sampled_from(["a", "b", "\x00", "é", "\ue000", "\uffff", "\U0001f600",
                            "\U0010ffff"])
KEYS = st.text(ALPHABET, min_size=1, max_size=3)
PREFIXES = st.text(ALPHABET, min_size=0, max_size=2)
VALUES = st.binary(max_size=6)
OPS = st.lists(st.one_of(st.builds(Put, KEYS, VALUES), st.builds(Delete, KEYS)), max_size=6)

SETTINGS = settings(max_examples=examples(60), stateful_step_count=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def machine_for(store: Store) -> type[RuleBasedStateMachine]:
    class StoreMatchesModel(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.model: dict[str, bytes] = {}
            leftover = list(store.keys())  # from the previous example: start empty
            if leftover:
                store.batch(Delete(k) for k in leftover)

        @rule(key=KEYS, value=VALUES)
        def put(self, key: str, value: bytes) -> None:
            store.put(key, value)
            self.model[key] = value

        @rule(key=KEYS)
        def delete(self, key: str) -> None:
            assert store.delete(key) is (key in self.model)
            self.model.pop(key, None)

        @rule(ops=OPS, data=st.data())
        def batch(self, ops: list[Put | Delete], data: st.DataObject) -> None:
            expect: dict[str, bytes | None] = {}
            for key in data.draw(st.lists(KEYS, max_size=2), label="expect keys"):
                if data.draw(st.booleans(), label="expect the current value"):
                    expect[key] = self.model.get(key)
                else:
                    expect[key] = data.draw(st.none() | VALUES, label="expect a guess")
            holds = all(self.model.get(k) == v for k, v in expect.items())
            assert store.batch(ops, expect=expect or None) is holds
            if holds:
                for op in ops:
                    if isinstance(op, Put):
                        self.model[op.key] = op.value
                    else:
                        self.model.pop(op.key, None)

        @rule(key=KEYS)
        def get(self, key: str) -> None:
            assert store.get(key) == self.model.get(key)

        @rule(keys=st.lists(KEYS, max_size=4))
        def get_many(self, keys: list[str]) -> None:
            assert store.get_many(keys) == {k: self.model[k] for k in keys if k in self.model}

        @rule(prefix=PREFIXES, start_after=st.none() | KEYS,
              limit=st.none() | st.integers(0, 4), reverse=st.booleans())
        def scan(self, prefix: str, start_after: str | None, limit: int | None,
                 reverse: bool) -> None:
            got = list(store.scan(prefix, start_after=start_after, limit=limit,
                                  reverse=reverse))
            assert got == model_scan(self.model, prefix, start_after, limit, reverse)

        @rule(prefix=PREFIXES)
        def count(self, prefix: str) -> None:
            assert store.count(prefix) == len(model_scan(self.model, prefix))

        @invariant()
        def same_contents(self) -> None:
            assert list(store.scan()) == model_scan(self.model)

    return StoreMatchesModel


@pytest.mark.parametrize("backend", EMBEDDED, indirect=True)
def test_any_sequence_of_writes_matches_a_dict(backend) -> None:  # type: ignore[no-untyped-def]
    store = backend.open()
    run_state_machine_as_test(machine_for(store), settings=SETTINGS)
