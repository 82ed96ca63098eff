"""Writing a backup: every matching state record (full), or what changed since a parent
backup (incremental), streamed into one file; a whole-store backup (no include/exclude, see
:mod:`.coverage`) also holds every session, journal, artifact and blob key, in full in an
incremental too (those families have no change log).

A full backup reads the records of the included scopes in store order. An incremental reads
the change log (``chg/<seq>``) after its parent's ``seq_to`` and writes, for each key that
changed in an included scope, its current record, or a deletion when it is gone. Both hold the
store's sequence lock while they read (no state write of this process interleaves) and note the
change sequence (``chg~seq``) before and after: if another process wrote meanwhile the backup
is taken again (up to 3 times), and after that kept, marked ``consistent: false``; every value
in it is then at least as new as its ``seq_to``, and the next incremental holds anything newer.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from llmspell import __version__
from llmspell.codec import stored_int, stored_object
from llmspell.errors import BackupError, CorruptRecord
from llmspell.state.backup.catalog import SUFFIX, BackupInfo, atomic_file, info_from
from llmspell.state.backup.coverage import (
    BACKUP_PREFIX,
    STORE,
    count_data,
    coverage_of,
    data_records,
)
from llmspell.state.backup.fileformat import FORMAT, VERSION, PayloadWriter
from llmspell.state.bulk import paused_gc
from llmspell.state.commit import sequence_for
from llmspell.state.scopes import CHANGE_PREFIX, SEQ_KEY, STATE_PREFIX, change_key
from llmspell.state.selection import ScopeFilter
from llmspell.storage.base import Put, Store

if TYPE_CHECKING:
    from llmspell.state.manager import StateManager

STORE_ID_KEY = BACKUP_PREFIX + "store_id"
#: The highest change-log number removed by retention (``prune``), as decimal text.
PRUNED_KEY = BACKUP_PREFIX + "chg_pruned_through"
ATTEMPTS = 3
_MANY = 1000

Progress = Callable[[str, int, int], None]


def store_identity(store: Store) -> dict[str, Any]:
    """``{"id", "backend", "url"}``: the id is made on first use and kept in the store (under
    ``bak/store_id``); the URL is shown without its password."""
    raw = store.get(STORE_ID_KEY)
    if raw is None:
        store.batch([Put(STORE_ID_KEY, uuid.uuid4().hex.encode())], expect={STORE_ID_KEY: None})
        raw = store.get(STORE_ID_KEY)
    assert raw is not None
    parts = urlsplit(store.url)
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(f":{parts.password}@", ":***@")
    url = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    backend = {"postgresql": "postgres"}.get(parts.scheme, parts.scheme)
    return {"id": raw.decode(), "backend": backend, "url": url}


def write_backup(state: StateManager, directory: Path, *, backup_id: str, description: str,
                 scopes: ScopeFilter, parent: BackupInfo | None, entry_format: str,
                 compression: str, level: int, safety: bool = False,
                 progress: Progress | None = None) -> BackupInfo:
    """Write backup ``backup_id`` (full, or incremental on ``parent``) into ``directory``.

    Raises:
        BackupError: the change log no longer reaches back to ``parent`` (take a full
            backup), or the file cannot be written.
    """
    store = state.store
    identity = store_identity(store)
    sequence = sequence_for(store)
    if parent is not None:
        pruned = stored_int(store.get(PRUNED_KEY), PRUNED_KEY)
        if parent.seq_to < pruned:
            raise BackupError(f"cannot take an incremental backup on {parent.id}: the change "
                              f"log was pruned through change {pruned}, past the parent's "
                              f"seq_to {parent.seq_to}; take a full backup")
    name = backup_id + SUFFIX
    for attempt in range(ATTEMPTS):
        with sequence.lock, paused_gc():
            sequence.reload(store)
            seq_to, seen = sequence.value, sequence.raw
            if parent is not None and seq_to < parent.seq_to:
                raise BackupError(f"cannot take an incremental backup on {parent.id}: it was "
                                  f"taken at change {parent.seq_to}, after this store's "
                                  f"{seq_to} (was the store restored from elsewhere?)")
            header = {
                "format": FORMAT, "version": VERSION, "id": backup_id,
                "kind": "full" if parent is None else "incremental",
                "parent": None if parent is None else parent.id,
                "base": None if parent is None else (parent.base or parent.id),
                "created_at": time.time(), "description": description, "store": identity,
                "include": scopes.include, "exclude": scopes.exclude,
                "entry_format": entry_format, "compression": compression,
                "seq_from": 0 if parent is None else parent.seq_to, "seq_to": seq_to,
                "safety": safety, "tool": f"llmspell {__version__}",
                "coverage": coverage_of(scopes),
            }
            try:
                with atomic_file(directory, name) as f:
                    writer = PayloadWriter(f, header, level=level)
                    if parent is None:
                        _full(store, scopes, writer, progress)
                    else:
                        _incremental(store, scopes, parent.seq_to, seq_to, writer, progress)
                    if header["coverage"] == STORE:
                        _data(store, writer, progress)
                    consistent = store.get(SEQ_KEY) == seen
                    if not consistent and attempt < ATTEMPTS - 1:
                        raise _Moved()
                    trailer = writer.finish({"consistent": consistent})
                    size = f.tell()
            except _Moved:
                continue
            except OSError as exc:
                raise BackupError(f"cannot write backup {backup_id} in {directory}: "
                                  f"{exc.strerror or exc}") from exc
        return info_from(directory / name, header, trailer, size)
    raise AssertionError("unreachable")  # pragma: no cover - the last attempt always returns


class _Moved(Exception):
    """Another process wrote state during the backup: take it again."""


def _full(store: Store, scopes: ScopeFilter, writer: PayloadWriter,
          progress: Progress | None) -> None:
    total = store.count(scopes.prefix) if progress is not None else 0
    add = writer.add
    done = 0
    for skey, _, _, raw in scopes.records(store):
        add(skey, raw)
        done += 1
        if progress is not None and done % 10000 == 0:
            progress("backup", done, total)
    if progress is not None:
        progress("backup", done, max(done, total))


def _incremental(store: Store, scopes: ScopeFilter, since: int, until: int,
                 writer: PayloadWriter, progress: Progress | None) -> None:
    changed: set[str] = set()
    for ckey, raw in store.scan(CHANGE_PREFIX, start_after=change_key(since)):
        if int(ckey[len(CHANGE_PREFIX):]) > until:
            break
        change = stored_object(raw, ckey)
        scope, key = change.get("s"), change.get("k")
        if not isinstance(scope, str) or not isinstance(key, str):
            raise CorruptRecord(ckey, "it does not name a scope and key")
        if scopes.everything or scopes(scope):
            changed.add(f"{STATE_PREFIX}{scope}/{key}")
    keys = sorted(changed)
    for i in range(0, len(keys), _MANY):
        chunk = keys[i:i + _MANY]
        found = store.get_many(chunk)
        for skey in chunk:
            writer.add(skey, found.get(skey))
        if progress is not None:
            progress("backup", min(i + _MANY, len(keys)), len(keys))


def _data(store: Store, writer: PayloadWriter, progress: Progress | None) -> None:
    """Every key of the sessions, journals, artifacts and blobs families."""
    total = count_data(store) if progress is not None else 0
    done = 0
    for key, raw in data_records(store):
        writer.add(key, raw)
        done += 1
        if progress is not None and done % 10000 == 0:
            progress("backup data", done, total)
    if progress is not None:
        progress("backup data", done, max(done, total))
