"""Properties of migrations over random stores: apply changes exactly the matching values,
applying again changes nothing, and rollback gives every record its exact bytes back."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmspell import Runtime
from strategies import examples, scalars, values

VALUES = values(scalars(integers=st.integers(-(2**40), 2**40),
                        floats=st.floats(allow_nan=False, allow_infinity=False, width=32),
                        max_size=8, binary=False),
                keys=st.sampled_from(["a", "b", "c", "x"]), max_items=4, max_leaves=8)
stores = st.dictionaries(
    st.tuples(st.sampled_from(["global", "agent:a", "agent:b", "workflow:w"]),
              st.text(alphabet="abcxyz", min_size=1, max_size=4)),
    VALUES, max_size=25)

PLAN = {"from_version": 1, "to_version": 2, "transformations": [
    {"field": "a", "transform": "copy", "to": "b"},
    {"field": "c", "transform": "remove"},
    {"field": "x", "transform": "default", "value": [1]}]}


def expected(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    out = dict(value)
    if "a" in out:
        out["b"] = out["a"]
    out.pop("c", None)
    out.setdefault("x", [1])
    return out


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stores)
def test_apply_reapply_and_rollback(contents: dict[tuple[str, str], Any]) -> None:
    with Runtime.memory() as rt:
        with rt.state.transaction():
            for (scope, key), value in contents.items():
                rt.state.save(scope, key, value)
        before = dict(rt.store.scan("state/"))
        report = rt.migrations.apply(PLAN)
        assert report.examined == len(contents)
        for (scope, key), value in contents.items():
            assert rt.state.load(scope, key) == expected(value)
            assert rt.state.get_record(scope, key).schema_version == 2  # type: ignore[union-attr]
        migrated = dict(rt.store.scan("state/"))
        assert rt.migrations.apply(PLAN).already_applied
        assert rt.migrations.apply({**PLAN, "name": "again"}).examined == 0  # none left at v1
        assert dict(rt.store.scan("state/")) == migrated
        rt.migrations.rollback()  # the "again" run changed nothing; roll it back...
        rt.migrations.rollback()  # ... then the real one
        assert dict(rt.store.scan("state/")) == before
