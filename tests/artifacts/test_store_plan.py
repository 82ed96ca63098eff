"""The artifact writer's shortcuts must give exactly what the general forms give:
``StagedBlob.plan`` (no RefOps, no BlobRef) the ops and conditions of ``ref_ops``, and the
record and index keys (zfill) the digits of the format specs they replace."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmspell.artifacts import BlobStore, keys
from llmspell.artifacts.model import VERSION_DIGITS, Artifact
from llmspell.errors import ValidationError
from llmspell.runtime import Runtime
from llmspell.sessions import Session
from llmspell.storage import open_store
from strategies import examples


@settings(max_examples=examples(100))
@given(version=st.integers(-10**12, 10**12), created=st.floats(-1e9, 1e10))
def test_record_and_index_keys_have_the_format_specs_digits(version: int,
                                                            created: float) -> None:
    assert keys.record_key("s", "0123456789abcdef", version) == \
        f"art/s/0123456789abcdef/{version:0{VERSION_DIGITS}d}"
    artifact = Artifact("s", "n", version, "h" * 64, "user_input", "text/plain", 1, 1,
                        "none", created, ["t/1"])
    tail = (f"{keys.micros(created):016d}/s/{artifact.name_key}/"
            f"{version:0{VERSION_DIGITS}d}")
    assert keys.index_keys(artifact) == [f"artt/user_input/{tail}", f"arts/s/{tail}",
                                         f"artg/t%2F1/{tail}"]
    assert keys.session_time_key(artifact) == f"arts/s/{tail}"


@pytest.mark.parametrize("content", [b"", b"small", b"x" * 5000, bytes(range(256)) * 400])
@pytest.mark.parametrize("present", [None, 0, 2])  # not stored; stored with 0 / 2 refs
@pytest.mark.parametrize("delta", [0, 1, 3])
def test_plan_is_ref_ops_without_its_wrappers(content: bytes, present: int | None,
                                              delta: int) -> None:
    outcomes = []
    for way in ("ref_ops", "plan"):
        blobs = BlobStore(open_store("memory://"), inline_max=4096)
        if present is not None:
            blobs.put(content, ref=False)
            for _ in range(present):
                blobs.incref(blobs.stage(content).hash)
        with blobs.stage(content) as staged:
            if way == "ref_ops":
                change = staged.ref_ops(delta)
                ops, expect = list(change.ops), dict(change.expect)
                counted = change.refcounts[staged.hash], change.blobs[staged.hash]
            else:
                ops, expect, meta = staged.plan(delta)
                counted = meta.refs, meta.ref(staged.hash)
            assert blobs.store.batch(ops, expect=expect)
        # times and chunk generations differ from one run to the other: compare the rest
        shown = [(op[0] if not op[0].startswith("blob/c/") else "chunk",
                  type(op).__name__, len(op) > 1 and op[0].startswith("blob/m/")) for op in ops]
        outcomes.append((shown, sorted(k for k in expect if not k.startswith("blob/p/")),
                         counted, blobs.get(staged.hash) == content,
                         blobs.refcount(staged.hash)))
    assert outcomes[0] == outcomes[1]


def test_plan_refuses_a_closed_staged_blob_as_ref_ops_does() -> None:
    blobs = BlobStore(open_store("memory://"))
    staged = blobs.stage(b"x")
    staged.close()
    for call in (lambda: staged.ref_ops(1), lambda: staged.plan(1)):
        with pytest.raises(ValidationError, match="is closed"):
            call()


def test_a_view_gone_stale_after_the_policies_only_makes_the_first_attempt_fail(
        rt: Runtime, session: Session) -> None:
    """The store's first attempt builds on the view its policies ran on; a policy (or another
    writer) that changes the session record meanwhile makes that batch fail, and the retry
    builds on the record as it is: nothing it wrote is lost."""
    changed: list[str] = []

    def policy(found: Session, usage: Any) -> None:
        if usage.kind == "artifact.store" and not changed:
            changed.append(found.id)
            rt.sessions.add_usage(found, tokens=7)  # rewrites the record after the read

    rt.sessions.policies.add(policy)
    writer = rt.artifacts.writer
    lost: list[str] = []
    real_lost = writer._lost
    writer._lost = lambda sid: (lost.append(sid), real_lost(sid))  # type: ignore[method-assign]
    stored = rt.artifacts.store(session, "a.txt", b"one")
    assert changed == lost == [session.id]  # the first attempt built on the stale view
    counters = rt.sessions.get(session).counters
    assert (counters.tokens, counters.artifacts, counters.artifact_bytes) == (7, 1, 3)
    assert rt.artifacts.read(stored.id) == b"one"
    assert "artifact.stored" in [e.kind for e in rt.sessions.journal.read(session.id)]
