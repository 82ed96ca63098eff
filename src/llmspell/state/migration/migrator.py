"""Migrator: the schema registry and the migrations of one store (``runtime.migrations``).

::

    migrations = runtime.migrations
    migrations.declare("agent:*", 2)                 # new agent values are saved at v2
    migrations.register({"name": "m002_profile", "from_version": 1, "to_version": 2,
                         "scope": "agent:*", "transformations": [...]})
    migrations.status()                              # current, latest, pending, applied
    migrations.apply(plan, dry_run=True)             # a report; nothing changes
    migrations.apply_pending()                       # the registered ones, in order
    migrations.rollback()                            # the last one's values get their bytes back

Applying is :mod:`.engine` (all or nothing), the record of what was applied :mod:`.ledger`;
status and rollback are here. A plan recorded as applied is not applied again (``force=True``
does); the ``state:migration`` hook runs before each apply (cancel refuses it, skip skips it,
retry fires it again; ``HookRegistry.before``);
events ``migration.started``, ``migration.progress``, ``migration.completed``,
``migration.failed`` and ``migration.rolled_back`` are published.

Status (:func:`migration_status`): which schema versions the stored values are at, which is the
latest, and which registered migrations are still pending. One pass over the records reads only
each record's schema version (from the record's tail). ``current`` is the lowest version any
stored value is at (1 for an empty store), ``latest`` the highest version declared, registered,
applied or stored. ``pending`` lists the registered migrations not yet applied, each with how
many values it would examine now.

Rollback (:func:`rollback_last`): the last applied migration's values get back the exact bytes
it replaced. The bytes come from the migration's undo chunks (:mod:`.ledger`). A value changed
since the migration wrote it (its change sequence is outside the migration's range, or it was
deleted) is a conflict: the rollback is refused, naming one, unless ``force`` (then those
values get their pre-migration bytes too). The writes (read and written chunk by chunk), the
log entry marked rolled back and the dropped undo data go in one transaction, with change-log
entries like any state change; a conflict found in a late chunk rolls it all back.
"""

from __future__ import annotations

import importlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from llmspell.config_schema import default
from llmspell.errors import MigrationError, StateError, ValidationError, WriteContention
from llmspell.protocols import EventPublisher, HookPoints
from llmspell.state import schemas
from llmspell.state.bulk import BulkPlan, RecordChange, chunked, paused_gc, write_bulk
from llmspell.state.manager import StateManager
from llmspell.state.migration import ledger
from llmspell.state.migration.engine import MigrationReport, Progress, new_report, transform_all
from llmspell.state.migration.plan import MigrationPlan
from llmspell.state.scopes import STATE_PREFIX, split_store_key
from llmspell.state.selection import matcher, record_seq, record_version
from llmspell.state.versions import (
    Version,
    check_version,
    highest,
    label,
    lowest,
    parts,
    same,
    spellings,
)
from llmspell.storage.base import Delete, Op, Put, Store

HOOK_POINT = "state:migration"


class Migrator:
    """Schema versions and migrations on ``state``'s store. Thread-safe (writes are serialized
    by the store's sequence lock).

    Args:
        state: the StateManager whose values are migrated.
        hooks, events: the runtime's HookRegistry and EventBus (or None).
        enabled: ``[state] migration_enabled``; when False, ``apply`` and ``rollback`` raise.
        undo_keep: how many applied migrations keep their undo data (0: none can be rolled
            back).
    """

    def __init__(self, state: StateManager, *, hooks: HookPoints | None = None,
                 events: EventPublisher | None = None,
                 enabled: bool = default("state.migration_enabled"),
                 undo_keep: int = default("state.migration_undo_keep")) -> None:
        self.state = state
        self.store = state.store
        self.hooks = hooks
        self.events = events
        self.enabled = enabled
        self.undo_keep = undo_keep
        self._registered: list[MigrationPlan] = []
        self._declared: list[tuple[str, Version]] = []
        state.set_migration_hint(self._pending_for)

    @classmethod
    def from_runtime(cls, runtime: Any) -> Migrator:
        """The runtime's migrator, with the plans named by ``[state] migrations`` registered."""
        config = runtime.config
        migrator = cls(runtime.state, hooks=runtime.hooks, events=runtime.events,
                       enabled=config.setting("state.migration_enabled"),
                       undo_keep=config.setting("state.migration_undo_keep"))
        for path in config.setting("state.migrations"):
            migrator.register(*load_plans(path))
        return migrator

    # -- the registry -----------------------------------------------------------------------

    def declare(self, scope_pattern: str, version: Version) -> None:
        """New values of scopes matching ``scope_pattern`` are saved at ``version`` (see
        :meth:`StateManager.declare_schema_version`); ``status()`` counts them per pattern."""
        self.state.declare_schema_version(scope_pattern, version)
        self._declared.append((scope_pattern, check_version(version)))

    def register(self, *plans: Any) -> list[MigrationPlan]:
        """Add plans (dicts or MigrationPlans) to apply with :meth:`apply_pending`, in order.

        Raises:
            ValidationError: a bad plan, or an id registered twice.
        """
        added = [MigrationPlan.from_spec(p) for p in plans]
        known = {p.id for p in self._registered}
        for plan in added:
            if plan.id in known:
                raise ValidationError("plan", f"a migration with id {plan.id!r} is already "
                                      "registered")
            known.add(plan.id)
        self._registered.extend(added)
        return added

    def _pending_for(self, scope: str, key: str, stored: Version,
                     current: Version) -> str | None:
        """The registered, unapplied migration that moves ``scope``/``key`` from ``stored``
        (named for an IncompatibleSchema error), or None."""
        for plan in self._registered:
            scope_ok = matcher([plan.scope]) if plan.scope else None
            key_ok = matcher([plan.key]) if plan.key else None
            if stored in spellings(plan.from_version) and (
                    scope_ok is None or scope_ok(scope)) and (
                    key_ok is None or key_ok(key)) and \
                    ledger.applied_number(self.store, plan.id) is None:
                return f"{plan.id!r} (v{plan.from_version} -> v{plan.to_version})"
        return None

    @property
    def registered(self) -> list[MigrationPlan]:
        return list(self._registered)

    def status(self) -> dict[str, Any]:
        """current, latest, pending, applied, versions: see :func:`migration_status`."""
        return migration_status(self.store, self._registered, self._declared,
                                self.state.schema_version)

    def history(self) -> list[dict[str, Any]]:
        """The applied (and rolled back) migrations, oldest first."""
        return self.status()["applied"]

    # -- applying ---------------------------------------------------------------------------

    def plan(self, plan: Any, **options: Any) -> MigrationReport:
        """A dry run of ``plan``: the report of what :meth:`apply` would do."""
        return self.apply(plan, dry_run=True, **options)

    def apply(self, plan: Any, *, dry_run: bool = False, force: bool = False,
              batch_size: int = 1000, progress: Progress | None = None) -> MigrationReport:
        """Migrate every matching value at ``plan``'s from_version, all or nothing.

        Args:
            plan: a MigrationPlan or a dict (see :mod:`.plan`).
            dry_run: report what would change; change nothing.
            force: apply even if this plan's id is recorded as applied.
            batch_size: values between progress reports.
            progress: ``progress(done, total)`` called as the values are read.

        Raises:
            ValidationError: a bad plan or option.
            MigrationError: migrations are disabled, or a value failed (the message names the
                value and the transform); nothing was changed.
            HookCancelled: a ``state:migration`` hook refused it.
        """
        plan = MigrationPlan.from_spec(plan)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValidationError("batch_size", "must be an integer >= 1", got=batch_size)
        if not dry_run and not self.enabled:
            raise MigrationError("migrations are disabled ([state] migration_enabled = false)")
        started = time.perf_counter()
        applied = ledger.applied_number(self.store, plan.id)
        if applied is not None and not force:
            report = new_report(plan, dry_run=dry_run)
            report.already_applied = True
            report.note = f"already applied (migration #{applied}); nothing to do"
            return report
        report_progress = self._progress(plan, progress)
        limit = self.state.max_value_bytes
        if dry_run:
            report = new_report(plan, dry_run=True)
            with paused_gc():
                for _ in transform_all(self.store, plan, report, 1, max_value_bytes=limit,
                                       batch_size=batch_size, progress=report_progress,
                                       redact=self.state.redactor.redact):
                    pass  # a dry run yields nothing: it fills the report
            report.elapsed_seconds = time.perf_counter() - started
            return report
        if self._hook_skips(plan):
            report = new_report(plan, dry_run=False)
            report.note = "skipped by a state:migration hook"
            return report
        self._publish("migration.started", plan.summary())
        done: dict[str, MigrationReport] = {}

        def build(current: int) -> BulkPlan:
            if not force and ledger.applied_number(self.store, plan.id) is not None:
                raise _AppliedMeanwhile()
            report = done["report"] = new_report(plan, dry_run=False)
            n = ledger.next_number(self.store)
            undo_chunks = [0]

            def chunks() -> Iterator[tuple[list[RecordChange], list[Op]]]:
                changes = transform_all(self.store, plan, report, current + 1,
                                        max_value_bytes=limit, batch_size=batch_size,
                                        progress=report_progress)
                for part in chunked(changes):
                    undo: list[Op] = []
                    if self.undo_keep > 0:
                        undo, count = ledger.undo_ops(n, ((c.skey, c.old) for c in part
                                                          if c.old is not None),
                                                      undo_chunks[0])
                        undo_chunks[0] += count
                    yield part, undo

            def finish(first: int, last: int) -> list[Op]:
                return self._record_ops(plan, report, n, first, last, undo_chunks[0])

            return BulkPlan(chunks(), finish, expect={ledger.log_key(n): None})

        try:
            result = write_bulk(self.state, build)
        except _AppliedMeanwhile:
            report = new_report(plan, dry_run=False)
            report.already_applied = True
            report.note = "applied by another process meanwhile; nothing to do"
            return report
        except (MigrationError, StateError, WriteContention) as exc:
            self._publish("migration.failed", {**plan.summary(), "error": str(exc)})
            if isinstance(exc, MigrationError):
                raise
            raise MigrationError(f"migration {plan.id!r} was not applied: {exc}") from exc
        self.state.reload_schemas()
        self.state.announce_bulk("migration", result.changes(self.store), result.first)
        report = done["report"]
        report.applied = True
        if report.examined:
            report.seq_first, report.seq_last = result.first, result.last
        report.elapsed_seconds = time.perf_counter() - started
        self._publish("migration.completed", {
            **plan.summary(), "examined": report.examined, "changed": report.changed,
            "skipped": report.skipped, "elapsed_seconds": report.elapsed_seconds})
        return report

    def apply_pending(self, *, to_version: Version | None = None, dry_run: bool = False,
                      progress: Progress | None = None) -> list[MigrationReport]:
        """Apply the registered migrations not yet applied, in registration order (only those
        whose to_version is at most ``to_version``, when given). Stops at the first failure."""
        reports = []
        limit = None if to_version is None else parts(check_version(to_version, "to_version"))
        for plan in self._registered:
            if limit is not None and parts(plan.to_version) > limit:
                continue
            if ledger.applied_number(self.store, plan.id) is not None:
                continue
            reports.append(self.apply(plan, dry_run=dry_run, progress=progress))
        return reports

    def migrate_to_version(self, version: Version, *, dry_run: bool = False,
                           progress: Progress | None = None) -> list[MigrationReport]:
        """Apply the pending registered migrations that lead up to ``version``.

        Raises:
            MigrationError: no registered migration leads to ``version`` while values are
                below it.
        """
        version = check_version(version, "version")
        reports = self.apply_pending(to_version=version, dry_run=dry_run, progress=progress)
        if not reports and not any(same(p.to_version, version) for p in self._registered):
            status = self.status()
            if parts(status["current"]) < parts(version):
                raise MigrationError(
                    f"no registered migration leads to version {version} (values are at "
                    f"version {status['current']}); register one with "
                    "State.register_migration{...} or [state] migrations")
        return reports

    def rollback(self, *, force: bool = False) -> dict[str, Any]:
        """Give the values of the last applied migration their exact pre-migration bytes.

        Raises:
            MigrationError: see :func:`.rollback.rollback_last`.
        """
        if not self.enabled:
            raise MigrationError("migrations are disabled ([state] migration_enabled = false)")
        done = rollback_last(self.state, force=force)
        self.state.reload_schemas()
        self._publish("migration.rolled_back", done)
        return done

    # -- internals --------------------------------------------------------------------------

    def _record_ops(self, plan: MigrationPlan, report: MigrationReport, n: int, first: int,
                    last: int, chunks: int) -> list[Op]:
        """The last chunk of migration ``n``: its log entry (its changes took ``first..last``;
        ``chunks`` undo chunks were written), the undo data it no longer keeps, the id and the
        schema version recorded."""
        store = self.store
        items = max(0, last - first + 1)
        # The undo data kept before this migration (on SQLite the stream's own chunks of n are
        # already visible here); nothing new kept: drop nothing.
        kept = [k for k in ledger.undo_numbers(store) if k != n] if items else []
        drop = kept[:max(0, len(kept) - self.undo_keep + 1)] if self.undo_keep > 0 else kept
        entry = {"n": n, "id": plan.id, "plan": plan.spec(), "applied_at": time.time(),
                 "seq_first": first if items else None, "seq_last": last if items else None,
                 "items": items, "changed": report.changed,
                 "undo_chunks": chunks, "rolled_back_at": None}
        return [*ledger.drop_undo_ops(store, drop),
                ledger.entry_op(entry), Put(ledger.id_key(plan.id), b"%d" % n),
                schemas.recorded_op(store, n, plan.scope, plan.key, plan.to_version)]

    def _hook_skips(self, plan: MigrationPlan) -> bool:
        hooks = self.hooks
        if hooks is None or not hooks.has(HOOK_POINT):
            return False
        decided = hooks.before(HOOK_POINT, {**plan.summary(), "dry_run": False},
                               component="state")
        return decided.__class__ is hooks.Skipped

    def _progress(self, plan: MigrationPlan, callback: Progress | None) -> Progress | None:
        events = self.events
        if callback is None and events is None:
            return None

        def report(done: int, total: int) -> None:
            if events is not None:
                events.publish("migration.progress", {"id": plan.id, "done": done,
                                                      "total": total}, source="migration")
            if callback is not None:
                callback(done, total)
        return report

    def _publish(self, kind: str, data: dict[str, Any]) -> None:
        if self.events is not None:
            self.events.publish(kind, data, source="migration", redact=True)


class _AppliedMeanwhile(Exception):
    """Another process applied the same plan while this one was planning it."""


def load_plans(path: str) -> list[MigrationPlan]:
    """The plans at ``module:attribute`` (or ``module``, attribute ``MIGRATIONS``): a plan, a
    dict, a list of them, or a callable returning them.

    Raises:
        MigrationError: the module or attribute cannot be loaded, or holds no plans.
    """
    module_name, _, attribute = path.partition(":")
    attribute = attribute or "MIGRATIONS"
    try:
        module = importlib.import_module(module_name)
        found: Any = getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise MigrationError(f"[state] migrations: cannot load {path!r}: {exc}") from exc
    if callable(found) and not isinstance(found, MigrationPlan):
        found = found()
    items: Iterable[Any] = found if isinstance(found, list | tuple) else [found]
    try:
        return [MigrationPlan.from_spec(item) for item in items]
    except ValidationError as exc:
        raise MigrationError(f"[state] migrations: {path!r} holds a bad plan: {exc}") from exc


def migration_status(store: Store, registered: Sequence[MigrationPlan],
                     declared: Sequence[tuple[str, Version]],
                     current_of: Callable[[str], Version] | None = None) -> dict[str, Any]:
    """The status described in the module docstring, as plain data. ``current_of(scope)``:
    the version new values of a scope are saved at (for the per-scope lines)."""
    pending = [p for p in registered if ledger.applied_number(store, p.id) is None]
    checks = [(p, spellings(p.from_version), matcher([p.scope]) if p.scope else None,
               matcher([p.key]) if p.key else None) for p in pending]
    patterns = [(pattern, version, matcher([pattern]), Counter[Version]())
                for pattern, version in declared]
    waiting = [0] * len(pending)
    versions: Counter[Version] = Counter()
    per_scope: dict[str, Counter[Version]] = {}
    cut = len(STATE_PREFIX)
    for skey, raw in store.scan(STATE_PREFIX):
        version = record_version(raw, skey)
        versions[version] += 1
        scope, _, key = skey[cut:].partition("/")
        counted_here = per_scope.get(scope)
        if counted_here is None:
            counted_here = per_scope[scope] = Counter()
        counted_here[version] += 1
        for i, (_plan, matches, scope_ok, key_ok) in enumerate(checks):
            if version in matches and (scope_ok is None or scope_ok(scope)) and (
                    key_ok is None or key_ok(key)):
                waiting[i] += 1
        for _, _, scope_ok, counted in patterns:
            if scope_ok is None or scope_ok(scope):
                counted[version] += 1
    history = ledger.history(store)
    kept = set(ledger.undo_numbers(store))
    standing = [e for e in history if not e.get("rolled_back_at")]
    latest = highest([1, *versions, *(p.to_version for p in registered),
                      *(v for _, v in declared), *(e["plan"]["to_version"] for e in standing)])
    last = standing[-1] if standing else None
    return {
        "current": lowest(list(versions)) if versions else 1,
        "latest": latest,
        "values": sum(versions.values()),
        "versions": _counts(versions),
        "scopes": {scope: {"current": current_of(scope) if current_of else None,
                           "versions": _counts(c)}
                   for scope, c in sorted(per_scope.items())},
        "pending": [{**p.summary(), "items": waiting[i]} for i, p in enumerate(pending)],
        "applied": [_applied(e, kept) for e in history],
        "schemas": [{"pattern": pattern, "version": version, "versions": _counts(c)}
                    for pattern, version, _, c in patterns],
        "can_rollback": last is not None and (last["n"] in kept or not last.get("items")),
    }


def _counts(counter: Counter[Version]) -> dict[str, int]:
    """``{label: count}`` in version order."""
    return {label(v): counter[v] for v in sorted(counter, key=parts)}


def _applied(entry: dict[str, Any], kept: set[int]) -> dict[str, Any]:
    plan = entry["plan"]
    return {"n": entry["n"], "id": entry["id"], "from_version": plan["from_version"],
            "to_version": plan["to_version"], "scope": plan.get("scope"),
            "key": plan.get("key"), "applied_at": entry["applied_at"],
            "items": entry["items"], "changed": entry["changed"],
            "rolled_back_at": entry.get("rolled_back_at"), "undo_kept": entry["n"] in kept}


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
        conflicts: list[str] = []  # the first one, and how many
        counts.update(restored=0, conflicts=0)

        def chunks() -> Iterator[tuple[list[RecordChange], list[Op]]]:
            for items in chunked(ledger.read_undo(store, n)):
                now = store.get_many([skey for skey, _ in items])
                changes: list[RecordChange] = []
                for skey, old in items:
                    raw = now.get(skey)
                    if raw is None or not first <= record_seq(raw, skey) <= last:
                        counts["conflicts"] += 1
                        if not conflicts:
                            conflicts.append(skey)
                        if not force:
                            continue  # refused in finish, once every conflict is counted
                    if raw == old:
                        continue
                    scope, key = split_store_key(skey)
                    changes.append(RecordChange(scope, key, skey, old, raw))
                counts["restored"] += len(changes)
                yield changes, []

        def finish(first_seq: int, last_seq: int) -> list[Op]:
            if conflicts and not force:
                scope, key = split_store_key(conflicts[0])
                raise MigrationError(
                    f"cannot roll back migration {plan_id!r} (#{n}): {counts['conflicts']} "
                    f"value(s) changed since it was applied, such as {scope}/{key}; nothing "
                    "was changed (force overwrites them with their pre-migration bytes)")
            marked = {**entry, "rolled_back_at": time.time()}
            extra = [ledger.entry_op(marked), *ledger.drop_undo_ops(store, [n]),
                     schemas.forgotten_op(store, [n])]
            if ledger.applied_number(store, plan_id) == n:
                extra.append(Delete(ledger.id_key(plan_id)))
            return extra

        return BulkPlan(chunks(), finish)

    try:
        result = write_bulk(state, build)
    except (StateError, WriteContention) as exc:
        raise MigrationError(f"cannot roll back migration {plan_id!r}: {exc}") from exc
    state.announce_bulk("rollback", result.changes(store), result.first)
    return {"id": plan_id, "n": n, "from_version": entry["plan"]["from_version"],
            "to_version": entry["plan"]["to_version"], **counts,
            "seq_first": result.first if counts.get("restored") else None,
            "seq_last": result.last if counts.get("restored") else None}
