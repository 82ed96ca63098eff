"""``record_batches(store)``: the ops of every batch a store writes from now on (tests that
count commits: one operation, one batch)."""

from __future__ import annotations

from typing import Any

from llmspell.storage.base import Op


def record_batches(store: Any) -> list[list[Op]]:
    """Wrap ``store.batch_unchecked`` (what state, sessions and artifacts commit through) so
    each batch's ops are appended to the returned list before the batch is applied."""
    seen: list[list[Op]] = []
    real = store.batch_unchecked

    def batch(ops: list[Op], expect: Any = None) -> bool:
        seen.append(list(ops))
        return bool(real(ops, expect))

    store.batch_unchecked = batch
    return seen
