"""What a backup covers: the whole store, or the state records of chosen scopes.

A backup with no ``include`` and no ``exclude`` is of the **whole store**: every state record
and every key of the data families the other packages own (their ``STORE_PREFIXES``):
sessions (records, indexes, the active count), journals (entries, kept values), artifacts
(records, indexes, permissions) and blobs (metadata, content, chunks). Restoring it makes all
of them equal to the backup at once, so references between them (a state scope
``session:<id>``, an artifact's session, a blob's reference count) hold as they did.

A backup with ``include``/``exclude`` globs covers only the **state records** of those
scopes. Restoring one into a store that no longer has a session would bring back the state
scope of a session that does not exist; those records are left out and reported
(``orphans_skipped``) instead. (Only a scope whose id has the form of a session id counts:
``session:notes`` is an ordinary custom scope.)

Never in a backup: the change log and sequence (``chg/``, ``chg~seq``, ``meta/state_seq``:
a restore writes its own changes), the migration history and the scopes' current schema
versions (``mig/``: a restore brings values back with their own version labels), the backup
bookkeeping
(``bak/``), a session deletion or a blob upload in progress, a session's lease, a large
event's body in transit between processes (postgres).
"""

from __future__ import annotations

from collections.abc import Iterator

from llmspell import journal
from llmspell.artifacts import keys as artifact_keys
from llmspell.artifacts.blobs import records as blob_records
from llmspell.sessions import backup_ranges, in_progress_ranges, record_key
from llmspell.sessions.model import GENERATED_ID
from llmspell.state.migration.ledger import PREFIXES as LEDGER_PREFIXES
from llmspell.state.schemas import SCHEMAS_KEY
from llmspell.state.scopes import CHANGE_PREFIX, LEGACY_SEQ_KEY, SEQ_KEY, STATE_PREFIX
from llmspell.state.selection import ScopeFilter
from llmspell.storage.base import Store
from llmspell.storage.pg_schema import EVENT_BODY_PREFIX

#: The data families of a whole-store backup besides state: name -> the key ranges.
FAMILIES: dict[str, tuple[str, ...]] = {
    "sessions": backup_ranges(),
    "journals": journal.STORE_PREFIXES,
    "artifacts": artifact_keys.STORE_PREFIXES,
    "blobs": blob_records.STORE_PREFIXES,
}
DATA_PREFIXES: tuple[str, ...] = tuple(p for family in FAMILIES.values() for p in family)
#: Where backups keep their bookkeeping in the store (``bak/store_id``, ...).
BACKUP_PREFIX = "bak/"
#: The key ranges no backup holds (see the module docstring); every key of a store is state,
#: in DATA_PREFIXES or here (a test checks it after a workload touching every package).
NOT_BACKED_UP = (CHANGE_PREFIX, SEQ_KEY, LEGACY_SEQ_KEY, *LEDGER_PREFIXES, SCHEMAS_KEY,
                 BACKUP_PREFIX, *in_progress_ranges(), blob_records.PENDING_PREFIX,
                 EVENT_BODY_PREFIX)
STORE, STATE = "store", "state"
SESSION_SCOPE = "session:"


def coverage_of(scopes: ScopeFilter) -> str:
    """``store`` for a backup with no include/exclude, else ``state``."""
    return STORE if scopes.include is None and not scopes.exclude else STATE


def family_of(key: str) -> str:
    """The family a store key belongs to: ``state``, ``sessions``, ``journals``, ..."""
    if key.startswith(STATE_PREFIX):
        return "state"
    for name, prefixes in FAMILIES.items():
        if key.startswith(prefixes):
            return name
    return "other"


def data_records(store: Store) -> Iterator[tuple[str, bytes]]:
    """Every ``(key, value)`` of the data families besides state, family by family."""
    for prefix in DATA_PREFIXES:
        yield from store.scan(prefix)


def count_data(store: Store) -> int:
    return sum(store.count(prefix) for prefix in DATA_PREFIXES)


def session_of_scope(scope: str) -> str | None:
    """The session id of a ``session:<id>`` scope whose id has the form of a session id
    (``session:notes`` is an ordinary scope), else None."""
    if not scope.startswith(SESSION_SCOPE):
        return None
    sid = scope[len(SESSION_SCOPE):]
    return sid if GENERATED_ID.fullmatch(sid) else None


def session_record_key(session_id: str) -> str:
    """The store key of a session's record (built by the sessions package)."""
    return record_key(session_id)
