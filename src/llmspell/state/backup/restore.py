"""Restoring a backup: verify the whole chain, then make the store hold exactly its records.

1. Every file of the chain (the full base, then each incremental up to the one asked for) is
   read and checked (header, trailer, every entry's and the payload's SHA-256) before anything
   is written; the records are collected on the way, later files' puts and deletions applied
   over earlier ones (a whole-store incremental holds the sessions, journals, artifacts and
   blobs in full: they replace the earlier files' ones).
2. The result is compared with what the store holds of the backup's coverage
   (:mod:`.coverage`): the state records of its scopes, and for a whole-store backup every
   key of the data families. What differs is put back byte for byte, what the backup does
   not hold is deleted. Nothing else is touched. A state-only backup's records of a scope
   ``session:<id>`` whose session is not in the store are left out (``orphans_skipped``).
3. All of it is written in one atomic batch (:func:`llmspell.state.bulk.write_bulk`), with a
   change-log entry per changed state key numbered after both the store's sequence and the
   backup's ``seq_to``; a killed process leaves the store as it was. A whole-store restore
   puts the journals back as they were, so it adds no journal entries of its own.

Backups hold records, not backend files, so any backend restores any backup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from llmspell.errors import BackupCorrupt, BackupError, StateError, WriteContention
from llmspell.state.backup.catalog import BackupInfo
from llmspell.state.backup.coverage import (
    FAMILIES,
    SESSION_SCOPE,
    STORE,
    data_records,
    family_of,
    session_of_scope,
    session_record_key,
)
from llmspell.state.backup.fileformat import Damaged, read_entries, read_manifest
from llmspell.state.bulk import BulkPlan, RecordChange, paused_gc, write_bulk
from llmspell.state.scopes import STATE_PREFIX
from llmspell.state.selection import ScopeFilter
from llmspell.storage.base import Delete, Op, Put

if TYPE_CHECKING:
    from llmspell.state.manager import StateManager

Progress = Callable[[str, int, int], None]
SAMPLE = 10


def load_chain(chain: list[BackupInfo], *, verify: bool = True,
               progress: Progress | None = None) -> dict[str, bytes]:
    """The records the chain ends with: store key -> record bytes.

    Raises:
        BackupCorrupt: a file failed a check; the message names the backup and the part
            (header, trailer, payload, or the entry).
    """
    records: dict[str, bytes] = {}
    for info in chain:
        total = info.entries

        def step(done: int, total: int = total) -> None:
            if progress is not None:
                progress("verify", done, total)

        if info.incremental and info.coverage == STORE:
            for key in [k for k in records if not k.startswith(STATE_PREFIX)]:
                del records[key]  # this file holds the data families in full
        for key, _op, raw in verify_file(info, verify=verify, progress=step):
            if raw is None:
                records.pop(key, None)
            else:
                records[key] = raw
        step(total)
    return records


def verify_file(info: BackupInfo, *, verify: bool = True,
                progress: Callable[[int], None] | None = None) -> Any:
    """The entries of one backup file, checked (a generator; the checks of the whole payload
    run after the last entry)."""
    try:
        with open(info.path, "rb") as f:
            yield from _entries(f, info, verify, progress)
    except Damaged as exc:
        raise BackupCorrupt(f"backup {info.id}: {exc.part}: {exc}") from None
    except OSError as exc:
        raise BackupError(f"cannot read backup {info.id} ({info.path}): "
                          f"{exc.strerror or exc}") from exc


def _entries(f: BinaryIO, info: BackupInfo, verify: bool,
             progress: Callable[[int], None] | None) -> Any:
    header, trailer, start, end = read_manifest(f)
    if header.get("id") != info.id:
        raise Damaged("header", f"the file holds backup {header.get('id')!r}, not {info.id!r}")
    entries = read_entries(f, header, trailer, start, end, verify=verify, progress=progress)
    if header.get("version") == 1:  # state only, keyed without the "state/" prefix
        yield from ((STATE_PREFIX + k, op, raw) for k, op, raw in entries)
    else:
        yield from entries


def restore_records(state: StateManager, records: dict[str, bytes], scopes: ScopeFilter, *,
                    coverage: str, seq_to: int, dry_run: bool,
                    progress: Progress | None = None) -> dict[str, Any]:
    """Make what the store holds of ``coverage`` (``store`` or ``state``, over ``scopes``)
    equal ``records``; returns the counts (``puts``, ``deletes``, ``unchanged``, per family
    in ``families``), ``orphans_skipped`` and, for a dry run, samples of the keys.

    Raises:
        BackupError: the store kept changing (other processes) or refused the batch.
    """
    counts: dict[str, Any] = {}
    whole = coverage == STORE

    def build(current_seq: int) -> BulkPlan:
        store = state.store
        families = {name: {"puts": 0, "deletes": 0} for name in ("state", *FAMILIES)}
        deletes: list[RecordChange] = []
        puts: list[RecordChange] = []
        seen: set[str] = set()
        for skey, scope, key, raw in scopes.records(store):
            wanted = records.get(skey)
            seen.add(skey)
            if wanted is None:
                deletes.append(RecordChange(scope, key, skey, None, raw))
            elif wanted != raw:
                puts.append(RecordChange(scope, key, skey, wanted, raw))
        cut = len(STATE_PREFIX)
        orphans: set[str] = set()
        skipped = 0
        known: dict[str, bool] = {}
        data: list[str] = []  # the keys of the other families (whole-store backups)
        for skey, raw in records.items():
            if skey in seen:
                continue
            if not skey.startswith(STATE_PREFIX):
                data.append(skey)
                continue
            scope, _, key = skey[cut:].partition("/")
            sid = session_of_scope(scope) if scope.startswith(SESSION_SCOPE) else None
            if sid is not None:
                found = known.get(sid)
                if found is None:
                    rkey = session_record_key(sid)
                    found = known[sid] = (rkey in records if whole
                                          else store.get(rkey) is not None)
                if not found:
                    orphans.add(scope)
                    skipped += 1
                    continue
            puts.append(RecordChange(scope, key, skey, raw, None))
        families["state"].update(puts=len(puts), deletes=len(deletes))
        extra: list[Op] = []
        if whole:
            extra = _data_ops(store, records, data, families)
        total_puts = sum(f["puts"] for f in families.values())
        total_deletes = sum(f["deletes"] for f in families.values())
        counts.update(puts=total_puts, deletes=total_deletes,
                      unchanged=len(records) - total_puts - skipped,
                      families={k: v for k, v in families.items() if whole or k == "state"},
                      orphans_skipped=sorted(orphans))
        if dry_run:
            counts["sample_puts"] = [c.skey[cut:] for c in puts[:SAMPLE]]
            counts["sample_deletes"] = [c.skey[cut:] for c in deletes[:SAMPLE]]
            raise _DryRun()
        if progress is not None:
            progress("apply", 0, total_puts + total_deletes)
        return BulkPlan([*deletes, *puts], extra=extra,
                        first_seq=max(current_seq, seq_to) + 1, journal=not whole)

    try:
        if dry_run:
            with paused_gc():
                build(0)
        result = write_bulk(state, build)
    except _DryRun:
        return counts
    except (StateError, WriteContention) as exc:
        raise BackupError(f"the restore was not applied: {exc}") from exc
    state.announce_bulk("restore", result.plan.changes, result.first)
    if progress is not None:
        done = counts["puts"] + counts["deletes"]
        progress("apply", done, done)
    counts.update(seq_first=result.first if result.last >= result.first else None,
                  seq_last=result.last if result.last >= result.first else None)
    return counts


def _data_ops(store: Any, records: dict[str, bytes], data: list[str],
              families: dict[str, dict[str, int]]) -> list[Op]:
    """The puts and deletes that make the store's data families equal ``records`` (whose
    keys of those families are ``data``)."""
    ops: list[Op] = []
    seen: set[str] = set()
    for key, raw in data_records(store):
        seen.add(key)
        wanted = records.get(key)
        if wanted is None:
            ops.append(Delete(key))
            families[family_of(key)]["deletes"] += 1
        elif wanted != raw:
            ops.append(Put(key, wanted))
            families[family_of(key)]["puts"] += 1
    for key in data:
        if key not in seen:
            family = family_of(key)
            if family not in families:
                raise BackupCorrupt(f"the backup holds key {key!r}, which is not state, a "
                                    "session, a journal, an artifact or a blob")
            ops.append(Put(key, records[key]))
            families[family]["puts"] += 1
    return ops


class _DryRun(Exception):
    """Stop after planning: a dry run writes nothing."""
