"""Restoring a backup: verify the whole chain, then make the store hold exactly its records.

1. Every file of the chain (the full base, then each incremental up to the one asked for) is
   read and checked (header, trailer, every entry's and the payload's SHA-256) before anything
   is written; the records are collected on the way, later files' puts and deletions applied
   over earlier ones.
2. The result is compared with the store's current records of the same scopes (the backup's
   include/exclude): what differs is put back byte for byte, what the backup does not hold is
   deleted. Other scopes are not touched.
3. All of it is written in one atomic batch (:func:`llmspell.state.bulk.write_bulk`), with a
   change-log entry per changed key numbered after both the store's sequence and the backup's
   ``seq_to``; a killed process leaves the store as it was.

Backups hold records, not backend files, so any backend restores any backup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from llmspell.errors import BackupCorrupt, BackupError, StateError, WriteContention
from llmspell.state.backup.catalog import BackupInfo
from llmspell.state.backup.fileformat import Damaged, read_entries, read_manifest
from llmspell.state.bulk import BulkPlan, RecordChange, paused_gc, write_bulk
from llmspell.state.scopes import STATE_PREFIX
from llmspell.state.selection import ScopeFilter

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

        for k, _op, raw in verify_file(info, verify=verify, progress=step):
            skey = STATE_PREFIX + k
            if raw is None:
                records.pop(skey, None)
            else:
                records[skey] = raw
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
    yield from read_entries(f, header, trailer, start, end, verify=verify, progress=progress)


def restore_records(state: StateManager, records: dict[str, bytes], scopes: ScopeFilter, *,
                    seq_to: int, dry_run: bool,
                    progress: Progress | None = None) -> dict[str, Any]:
    """Make the records of ``scopes`` in the store equal ``records``; returns the counts
    (``puts``, ``deletes``, ``unchanged``) and, for a dry run, samples of the keys.

    Raises:
        BackupError: the store kept changing (other processes) or refused the batch.
    """
    counts: dict[str, Any] = {}

    def build(current_seq: int) -> BulkPlan:
        changes: list[RecordChange] = []
        current: dict[str, bytes] = {}
        for skey, scope, key, raw in scopes.records(state.store):
            current[skey] = raw
            if skey not in records:
                changes.append(RecordChange(scope, key, skey, None, raw))
        deletes = len(changes)
        cut = len(STATE_PREFIX)
        for skey, raw in records.items():
            old = current.get(skey)
            if old != raw:
                scope, _, key = skey[cut:].partition("/")
                changes.append(RecordChange(scope, key, skey, raw, old))
        counts.update(puts=len(changes) - deletes, deletes=deletes,
                      unchanged=len(records) - (len(changes) - deletes))
        if dry_run:
            counts["sample_puts"] = [c.skey[cut:] for c in changes[deletes:][:SAMPLE]]
            counts["sample_deletes"] = [c.skey[cut:] for c in changes[:deletes][:SAMPLE]]
            raise _DryRun()
        if progress is not None:
            progress("apply", 0, len(changes))
        return BulkPlan(changes, first_seq=max(current_seq, seq_to) + 1)

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
        progress("apply", result.last - result.first + 1, result.last - result.first + 1)
    counts.update(seq_first=result.first if result.last >= result.first else None,
                  seq_last=result.last if result.last >= result.first else None)
    return counts


class _DryRun(Exception):
    """Stop after planning: a dry run writes nothing."""
