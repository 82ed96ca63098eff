"""Restoring a backup: verify the whole chain, then make the store hold exactly its records.

1. Every file of the chain (the full base, then each incremental up to the one asked for) is
   read and checked (header, trailer, every entry's and the payload's SHA-256) before anything
   is written; the records are staged on the way in a temporary file (:mod:`.staging`, not in
   memory), later files' puts and deletions applied over earlier ones (a whole-store
   incremental holds the sessions, journals, artifacts and blobs in full: they replace the
   earlier files' ones).
2. The result is compared with what the store holds of the backup's coverage
   (:mod:`.coverage`): the state records of its scopes, and for a whole-store backup every
   key of the data families. What differs is put back byte for byte, what the backup does
   not hold is deleted. Nothing else is touched. A state-only backup's records of a scope
   ``session:<id>`` whose session is not in the store are left out (``orphans_skipped``).
   The store and the staged records are walked together in key order, a page at a time.
3. What differs is written in chunks inside ONE transaction
   (:func:`llmspell.state.bulk.write_bulk`), with a change-log entry per changed state key
   numbered after both the store's sequence and the backup's ``seq_to``; a failure or a
   killed process leaves the store as it was. Memory is that of a page and a chunk, whatever
   the backup's size (on the backends that stream,
   :meth:`~llmspell.storage.base.Store.batch_stream`). A whole-store restore
   puts the journals back as they were, so it adds no journal entries of its own.

Backups hold records, not backend files, so any backend restores any backup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from llmspell.errors import BackupCorrupt, BackupError, StateError, WriteContention
from llmspell.state import bulk
from llmspell.state.backup.catalog import BackupInfo
from llmspell.state.backup.coverage import (
    DATA_PREFIXES,
    FAMILIES,
    SESSION_SCOPE,
    STORE,
    family_of,
    session_of_scope,
    session_record_key,
)
from llmspell.state.backup.fileformat import Damaged, read_entries, read_manifest
from llmspell.state.backup.staging import Staged
from llmspell.state.bulk import (
    BulkPlan,
    RecordChange,
    paused_gc,
    write_bulk,
)
from llmspell.state.scopes import STATE_PREFIX
from llmspell.state.selection import ScopeFilter
from llmspell.storage.base import Delete, Op, Put

if TYPE_CHECKING:
    from llmspell.state.manager import StateManager

Progress = Callable[[str, int, int], None]
SAMPLE = 10


def load_chain(chain: list[BackupInfo], staged: Staged, *, verify: bool = True,
               progress: Progress | None = None) -> int:
    """Stage the records the chain ends with (store key -> record bytes) in ``staged``, file
    by file, later files' puts and deletions over earlier ones; returns how many there are.

    Raises:
        BackupCorrupt: a file failed a check; the message names the backup and the part
            (header, trailer, payload, or the entry), or a key of no family the backup may
            hold.
    """
    for info in chain:
        total = info.entries

        def step(done: int, total: int = total) -> None:
            if progress is not None:
                progress("verify", done, total)

        if info.incremental and info.coverage == STORE:
            staged.drop_data()  # this file holds the data families in full
        for key, _op, raw in verify_file(info, verify=verify, progress=step):
            if raw is None:
                staged.delete(key)
                continue
            if not key.startswith(STATE_PREFIX) and family_of(key) not in FAMILIES:
                raise BackupCorrupt(f"backup {info.id} holds key {key!r}, which is not state, "
                                    "a session, a journal, an artifact or a blob")
            staged.put(key, raw)
        step(total)
    return len(staged)


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


def restore_records(state: StateManager, staged: Staged, scopes: ScopeFilter, *,
                    coverage: str, seq_to: int, dry_run: bool,
                    progress: Progress | None = None, expected: int = 0) -> dict[str, Any]:
    """Make what the store holds of ``coverage`` (``store`` or ``state``, over ``scopes``)
    equal the ``staged`` records; returns the counts (``puts``, ``deletes``, ``unchanged``,
    per family in ``families``), ``orphans_skipped`` and, for a dry run, samples of the keys.

    The store and the staged records are walked together in key order, a page at a time, and
    what differs is written chunk by chunk in one transaction (:func:`write_bulk`);
    ``progress("apply", done, total)`` after each chunk (``total``: ``expected``, the changes
    a dry run counted, when known).

    Raises:
        BackupError: the store kept changing (other processes) or refused the batch.
    """
    whole = coverage == STORE
    counts: dict[str, Any] = {}

    def walk(tally: _Tally) -> Iterator[RecordChange | Op]:
        store = state.store
        cut = len(STATE_PREFIX)
        known: dict[str, bool] = {}
        have = ((skey, raw) for skey, _, _, raw in scopes.records(store))
        for skey, old, wanted in _merge(have, staged.scan(STATE_PREFIX)):
            scope, _, key = skey[cut:].partition("/")
            if wanted is None:
                tally.change("state", skey, put=False)
                yield RecordChange(scope, key, skey, None, old)
                continue
            tally.backed += 1
            if old is None:
                sid = session_of_scope(scope) if scope.startswith(SESSION_SCOPE) else None
                if sid is not None:
                    found = known.get(sid)
                    if found is None:
                        rkey = session_record_key(sid)
                        found = known[sid] = (rkey in staged if whole
                                              else store.get(rkey) is not None)
                    if not found:
                        tally.orphans.add(scope)
                        tally.skipped += 1
                        continue
            if wanted != old:
                tally.change("state", skey, put=True)
                yield RecordChange(scope, key, skey, wanted, old)
        if not whole:
            return
        for prefix in DATA_PREFIXES:
            for key, old, wanted in _merge(store.scan(prefix), staged.scan(prefix)):
                if wanted is not None:
                    tally.backed += 1
                if wanted == old:
                    continue
                tally.change(family_of(key), key, put=wanted is not None)
                yield Delete(key) if wanted is None else Put(key, wanted)

    def finish(tally: _Tally) -> None:
        families = tally.families
        total_puts = sum(f["puts"] for f in families.values())
        total_deletes = sum(f["deletes"] for f in families.values())
        counts.update(puts=total_puts, deletes=total_deletes,
                      unchanged=tally.backed - total_puts - tally.skipped,
                      families={k: v for k, v in families.items() if whole or k == "state"},
                      orphans_skipped=sorted(tally.orphans))

    if dry_run:
        tally = _Tally()
        with paused_gc():
            for _ in walk(tally):
                pass
        finish(tally)
        counts["sample_puts"], counts["sample_deletes"] = tally.samples
        return counts

    def build(current_seq: int) -> BulkPlan:
        tally = _Tally()

        def chunks() -> Iterator[tuple[list[RecordChange], list[Op]]]:
            done = 0
            for changes, ops in _chunks(walk(tally)):
                done += len(changes) + len(ops)
                yield changes, ops
                if progress is not None:
                    progress("apply", done, max(done, expected))
            finish(tally)

        return BulkPlan(chunks(), first_seq=max(current_seq, seq_to) + 1, journal=not whole)

    if progress is not None:
        progress("apply", 0, expected)
    try:
        result = write_bulk(state, build)
    except (StateError, WriteContention) as exc:
        raise BackupError(f"the restore was not applied: {exc}") from exc
    state.announce_bulk("restore", result.changes(state.store), result.first)
    if progress is not None:
        done = counts["puts"] + counts["deletes"]
        progress("apply", done, done)
    counts.update(seq_first=result.first if result.last >= result.first else None,
                  seq_last=result.last if result.last >= result.first else None)
    return counts


class _Tally:
    """What a walk of a restore found: per family the puts and deletes, the backup's records
    seen, the orphans skipped, and the first keys put and deleted (a dry run's samples)."""

    def __init__(self) -> None:
        self.families = {name: {"puts": 0, "deletes": 0} for name in ("state", *FAMILIES)}
        self.backed = 0
        self.skipped = 0
        self.orphans: set[str] = set()
        self.samples: tuple[list[str], list[str]] = ([], [])

    def change(self, family: str, key: str, *, put: bool) -> None:
        self.families[family]["puts" if put else "deletes"] += 1
        if family == "state":
            sample = self.samples[0 if put else 1]
            if len(sample) < SAMPLE:
                sample.append(key[len(STATE_PREFIX):])


def _merge(have: Iterable[tuple[str, bytes]], want: Iterable[tuple[str, bytes]]
           ) -> Iterator[tuple[str, bytes | None, bytes | None]]:
    """``(key, what the store has, what the backup wants)`` for every key of either, in key
    order (None: absent on that side); both inputs in key order."""
    missing = ("", b"")
    a, b = iter(have), iter(want)
    x, y = next(a, missing), next(b, missing)
    while x is not missing or y is not missing:
        if y is missing or (x is not missing and x[0] < y[0]):
            yield x[0], x[1], None
            x = next(a, missing)
        elif x is missing or y[0] < x[0]:
            yield y[0], None, y[1]
            y = next(b, missing)
        else:
            yield x[0], x[1], y[1]
            x, y = next(a, missing), next(b, missing)


def _chunks(items: Iterable[RecordChange | Op]) -> Iterator[tuple[list[RecordChange], list[Op]]]:
    """The walk's changes and ops in chunks of at most CHUNK_RECORDS items or CHUNK_BYTES
    of values (a 1 MB blob chunk and 2,000 state records do not go in one)."""
    changes: list[RecordChange] = []
    ops: list[Op] = []
    size = 0
    for item in items:
        if isinstance(item, RecordChange):
            changes.append(item)
            size += len(item.data or b"") + len(item.old or b"")
        else:
            ops.append(item)
            size += len(item.value) if isinstance(item, Put) else 0
        if len(changes) + len(ops) >= bulk.CHUNK_RECORDS or size >= bulk.CHUNK_BYTES:
            yield changes, ops
            changes, ops, size = [], [], 0
    if changes or ops:
        yield changes, ops


