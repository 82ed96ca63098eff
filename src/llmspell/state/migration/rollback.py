"""Rolling back the last applied migration: its values get back the exact bytes it replaced.

The bytes come from the migration's undo chunks (:mod:`.ledger`). A value changed since the
migration wrote it (its change sequence is outside the migration's range, or it was deleted)
is a conflict: the rollback is refused, naming one, unless ``force`` (then those values get
their pre-migration bytes too). The writes, the log entry marked rolled back and the dropped
undo data go in one atomic batch, with change-log entries like any state change.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from llmspell.errors import MigrationError, StateError, WriteContention
from llmspell.state.bulk import BulkPlan, RecordChange, write_bulk
from llmspell.state.migration import ledger
from llmspell.state.scopes import split_store_key
from llmspell.state.selection import record_seq
from llmspell.storage.base import Delete

if TYPE_CHECKING:
    from llmspell.state.manager import StateManager


def rollback_last(state: StateManager, *, force: bool = False) -> dict[str, Any]:
    """Undo the newest migration that stands applied; returns what was done.

    Raises:
        MigrationError: nothing to roll back, its undo data was not kept, or values changed
            since it was applied (without ``force``); nothing was written.
    """
    store = state.store
    entry = ledger.last_applied(store)
    if entry is None:
        raise MigrationError("there is no applied migration to roll back")
    n, plan_id = entry["n"], entry["id"]
    if not entry.get("undo_chunks") and entry.get("items"):
        raise MigrationError(f"migration {plan_id!r} (#{n}) cannot be rolled back: its undo "
                             "data was not kept ([state] migration_undo_keep = 0 when it ran)")
    if entry.get("items") and n not in ledger.undo_numbers(store):
        raise MigrationError(f"migration {plan_id!r} (#{n}) cannot be rolled back: its undo "
                             "data was dropped when a later migration was applied ([state] "
                             "migration_undo_keep)")
    first, last = entry.get("seq_first") or 0, entry.get("seq_last") or 0
    counts: dict[str, int] = {}

    def build(current: int) -> BulkPlan:
        items = list(ledger.read_undo(store, n))
        now = store.get_many([skey for skey, _ in items]) if items else {}
        changes: list[RecordChange] = []
        conflicts: list[str] = []
        for skey, old in items:
            raw = now.get(skey)
            if raw is None or not first <= record_seq(raw) <= last:
                conflicts.append(skey)
            if raw == old:
                continue
            scope, key = split_store_key(skey)
            changes.append(RecordChange(scope, key, skey, old, raw))
        if conflicts and not force:
            scope, key = split_store_key(conflicts[0])
            raise MigrationError(
                f"cannot roll back migration {plan_id!r} (#{n}): {len(conflicts)} value(s) "
                f"changed since it was applied, such as {scope}/{key}; nothing was changed "
                "(force overwrites them with their pre-migration bytes)")
        counts.update(restored=len(changes), conflicts=len(conflicts))
        marked = {**entry, "rolled_back_at": time.time()}
        extra = [ledger.entry_op(marked), *ledger.drop_undo_ops(store, [n])]
        if ledger.applied_number(store, plan_id) == n:
            extra.append(Delete(ledger.id_key(plan_id)))
        return BulkPlan(changes, extra)

    try:
        result = write_bulk(state, build)
    except (StateError, WriteContention) as exc:
        raise MigrationError(f"cannot roll back migration {plan_id!r}: {exc}") from exc
    return {"id": plan_id, "n": n, "from_version": entry["plan"]["from_version"],
            "to_version": entry["plan"]["to_version"], **counts,
            "seq_first": result.first if counts.get("restored") else None,
            "seq_last": result.last if counts.get("restored") else None}
