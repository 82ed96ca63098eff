"""Which schema version each scope is at: what new saves are labelled, what loads accept.

Two sources, in this order (a later match wins):

- declarations made in this process (``Migrator.declare("agent:*", "2.0.0")``);
- migrations standing applied in the store: applying a plan records ``(scope glob, key glob,
  to_version)`` under ``mig/schemas`` in the migration's own atomic batch, and rolling it back
  removes the entry in the rollback's batch. So after ``1 -> 2`` over ``agent:*`` a new
  ``agent:x`` value is saved at 2, in this process and in any process started later.

The manager reads ``mig/schemas`` once when it is built and again on ``invalidate()``; the
label of a save is then one cached dict lookup per scope. A process already running when
another process migrates keeps its labels until it calls ``invalidate()`` or restarts.

A scope covered by a declaration or a migration refuses, on load, a value whose major version
differs from the scope's (:func:`.versions.compatible`), naming the migration to run. Values of
scopes nothing covers load whatever their label (version 1 is only the default label).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from llmspell.codec import stored_object
from llmspell.errors import IncompatibleSchema
from llmspell.state.versions import DEFAULT_VERSION, Version, compatible, label
from llmspell.storage.base import Put, Store

SCHEMAS_KEY = "mig/schemas"

#: (scope glob, key glob or None, version)
Entry = tuple[str, str | None, Version]


class Schemas:
    """The current schema version of each scope (and key), cached per scope."""

    def __init__(self) -> None:
        self.declared: list[Entry] = []
        self.migrated: list[Entry] = []
        self.active = False
        #: ``hint(scope, key, stored, current)``: the registered migration to run, named
        #: (the Migrator sets it), or None.
        self.hint: Callable[[str, str, Version, Version], str | None] | None = None
        self._of: dict[str, Any] = {}
        self._covered: dict[str, bool] = {}

    def declare(self, scope_pattern: str, version: Version) -> None:
        self.declared.append((scope_pattern, None, version))
        self._reset()

    def load(self, store: Store) -> None:
        """Read the entries migrations recorded in ``store`` (replacing those read before)."""
        self.migrated = [(e["scope"] or "*", e.get("key"), e["version"])
                         for e in stored_entries(store)]
        self._reset()

    def version_for(self, scope: str, key: str) -> Version:
        """The version a new value of ``scope``/``key`` is saved at."""
        found = self._of.get(scope)
        if found is None:
            found = self._resolve(scope)
        if found.__class__ is tuple:
            for pattern, version in found[0]:
                if fnmatch.fnmatchcase(key, pattern):
                    return version
            return found[1]
        return found

    def covers(self, scope: str) -> bool:
        """Whether a declaration or a migration names ``scope`` (then loads are checked)."""
        if scope not in self._covered:
            self._resolve(scope)
        return self._covered[scope]

    def check_load(self, scope: str, key: str, stored: Version) -> None:
        """Refuse a value at ``stored`` whose major differs from the scope's current version.

        Raises:
            IncompatibleSchema: naming the value, both versions and the migration to run.
        """
        if not self.covers(scope):
            return
        current = self.version_for(scope, key)
        if not compatible(stored, current):
            named = self.hint(scope, key, stored, current) if self.hint is not None else None
            how = (f"apply the registered migration {named} (`llmspell migrate apply`, or "
                   "State.migrate_to_version)" if named else
                   f"migrate it first, e.g. State.migrate{{from_version = {_lua(stored)}, "
                   f"to_version = {_lua(current)}, scope = {scope!r}, transformations = "
                   "{...}} or `llmspell migrate apply PLAN`")
            raise IncompatibleSchema(
                f"{scope}/{key} is stored at schema version {label(stored)} but the scope's "
                f"current schema is {label(current)} (the major versions differ): {how}")

    def _reset(self) -> None:
        self._of = {}
        self._covered = {}
        self.active = bool(self.declared or self.migrated)

    def _resolve(self, scope: str) -> Any:
        version: Version = DEFAULT_VERSION
        keyed: list[tuple[str, Version]] = []
        covered = False
        for scope_glob, key_glob, declared in (*self.declared, *self.migrated):
            if not fnmatch.fnmatchcase(scope, scope_glob):
                continue
            covered = True
            if key_glob is None:
                version, keyed = declared, []
            else:
                keyed.insert(0, (key_glob, declared))
        found: Any = (tuple(keyed), version) if keyed else version
        self._of[scope] = found
        self._covered[scope] = covered
        return found


def _lua(version: Version) -> str:
    return str(version) if isinstance(version, int) else f'"{version}"'


def stored_entries(store: Store) -> list[dict[str, Any]]:
    """The entries migrations recorded: ``{"n", "scope", "key", "version"}``, oldest first."""
    raw = store.get(SCHEMAS_KEY)
    if raw is None:
        return []
    found = stored_object(raw, SCHEMAS_KEY)
    entries = found.get("entries", [])
    return entries if isinstance(entries, list) else []


def recorded_op(store: Store, n: int, scope: str | None, key: str | None,
                version: Version) -> Put:
    """The write recording that migration ``n`` moved ``scope``/``key`` to ``version``."""
    entries = [e for e in stored_entries(store) if e.get("n") != n]
    entries.append({"n": n, "scope": scope, "key": key, "version": version})
    return Put(SCHEMAS_KEY, orjson.dumps({"entries": entries}))


def forgotten_op(store: Store, numbers: Sequence[int]) -> Put:
    """The write removing the entries of migrations ``numbers`` (rolled back)."""
    entries = [e for e in stored_entries(store) if e.get("n") not in numbers]
    return Put(SCHEMAS_KEY, orjson.dumps({"entries": entries}))
