"""Properties over random stores: backup -> wipe -> restore gives the same records, byte for
byte; a full backup plus incrementals restores the final state, deletions included; and each
backup of a chain restores the state it was taken at."""

from __future__ import annotations

import tempfile
from fnmatch import fnmatchcase
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmspell import Runtime
from strategies import INT64, examples, scalars, text, values

SCOPES = ["global", "agent:a", "agent:b", "workflow:w", "session:s", "custom:c"]
VALUES = values(scalars(integers=INT64, max_size=12), keys=text(4), max_items=3, max_leaves=10)
keys = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"
                                      "\n\r."), min_size=1, max_size=6).filter(
    lambda k: not k.startswith("__"))
stores = st.dictionaries(st.tuples(st.sampled_from(SCOPES), keys), VALUES, max_size=20)
formats = st.sampled_from([("json", "zstd"), ("binary", "zstd"), ("json", "lz4"),
                           ("binary", "none"), ("json", "none")])
#: ("save", scope, key, value) or ("delete", scope, key, None), then "backup" marks
ops = st.lists(st.one_of(
    st.tuples(st.just("save"), st.sampled_from(SCOPES), keys, VALUES),
    st.tuples(st.just("delete"), st.sampled_from(SCOPES), keys, st.none()),
    st.tuples(st.just("backup"), st.none(), st.none(), st.none())), max_size=30)


def records(rt: Runtime) -> dict[str, bytes]:
    return dict(rt.store.scan("state/"))


def wipe(rt: Runtime) -> None:
    for scope in rt.state.scopes():
        rt.state.clear_scope(scope)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stores, formats)
def test_backup_wipe_restore_gives_identical_records(contents: dict[tuple[str, str], Any],
                                                     fmt: tuple[str, str]) -> None:
    with tempfile.TemporaryDirectory() as d, Runtime.memory(state__backup_dir=d) as rt:
        with rt.state.transaction():
            for (scope, key), value in contents.items():
                rt.state.save(scope, key, value)
        before = records(rt)
        info = rt.backups.backup(format=fmt[0], compression=fmt[1])
        assert info.entries == len(contents)
        wipe(rt)
        assert records(rt) == {}
        report = rt.backups.restore(info.id, safety_backup=False)
        assert report["puts"] == len(contents) and report["deletes"] == 0
        assert records(rt) == before


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stores, ops, formats, st.sampled_from([None, ["agent:*"], ["agent:*", "global"]]))
def test_full_and_incrementals_restore_each_state(contents: dict[tuple[str, str], Any],
                                                  script: list[tuple[str, Any, Any, Any]],
                                                  fmt: tuple[str, str],
                                                  include: list[str] | None) -> None:
    with tempfile.TemporaryDirectory() as d, Runtime.memory(state__backup_dir=d) as rt:
        state = rt.state

        def covered() -> dict[str, bytes]:
            found = records(rt)
            if include is None:
                return found
            return {k: v for k, v in found.items()
                    if any(fnmatchcase(k[6:].partition("/")[0], p) for p in include)}

        for (scope, key), value in contents.items():
            state.save(scope, key, value)
        taken = [(rt.backups.backup(include=include, format=fmt[0],
                                    compression=fmt[1]).id, covered())]
        for op, scope, key, value in [*script, ("backup", None, None, None)]:
            if op == "save":
                state.save(scope, key, value)
            elif op == "delete":
                state.delete(scope, key)
            else:
                info = rt.backups.backup(include=include, incremental=True,
                                         format=fmt[0], compression=fmt[1])
                assert info.kind == "incremental" and info.parent == taken[-1][0]
                taken.append((info.id, covered()))
        final = records(rt)
        outside = {k: v for k, v in final.items() if k not in covered()}
        for backup_id, expected in [taken[-1], taken[0], *taken[1:-1]]:
            rt.backups.restore(backup_id, safety_backup=False)
            assert covered() == expected
            assert {k: v for k, v in records(rt).items() if k not in covered()} == outside
