"""Persistent state: scoped values that survive restarts, on every storage backend.

:class:`StateManager` (usually ``runtime.state``) saves, loads, deletes and lists values in
scopes (``global``, ``agent:<id>``, ``workflow:<id>``, ...); writes are atomic, alone or in a
transaction, and compare-and-set works across processes. Modules: :mod:`~.scopes` (scope and
key rules, the store layout), :mod:`~.records` (the stored form of a value), :mod:`~.commit`
(atomic batches and the change sequence), :mod:`~.transaction`, :mod:`~.signals` (the
``state:*`` hooks and ``state.*`` events), :mod:`~.manager` and :mod:`~.transfer` (JSON-lines
export and import). What backups and migrations build on: :mod:`~.selection` (choosing
records by scope and key globs) and :mod:`~.bulk` (many records rewritten in one batch).
Subpackages: :mod:`~.backup` (backup files, restore, retention) and :mod:`~.migration`
(schema versions, plans, apply, status, rollback). ``docs/state.md`` is the user guide.
"""

from llmspell.state.commit import Change, Committed, Contributor
from llmspell.state.manager import StateManager
from llmspell.state.records import Record, value_hash
from llmspell.state.scopes import GLOBAL, KINDS, SCOPE_FORMS, check_key, check_scope, store_key
from llmspell.state.transaction import Transaction

__all__ = [
    "GLOBAL",
    "KINDS",
    "SCOPE_FORMS",
    "Change",
    "Committed",
    "Contributor",
    "Record",
    "StateManager",
    "Transaction",
    "check_key",
    "check_scope",
    "store_key",
    "value_hash",
]
