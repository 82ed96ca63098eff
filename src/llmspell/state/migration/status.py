"""``migration_status()``: which schema versions the stored values are at, which is the
latest, and which registered migrations are still pending.

One pass over the records reads only each record's schema version (from the record's tail).
``current`` is the lowest version any stored value is at (1 for an empty store), ``latest``
the highest version declared, registered, applied or stored. ``pending`` lists the registered
migrations not yet applied, each with how many values it would examine now.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from llmspell.state.migration import ledger
from llmspell.state.migration.plan import MigrationPlan
from llmspell.state.scopes import STATE_PREFIX
from llmspell.state.selection import matcher, record_version
from llmspell.storage.base import Store


def migration_status(store: Store, registered: Sequence[MigrationPlan],
                     declared: Sequence[tuple[str, int]]) -> dict[str, Any]:
    """The status described in the module docstring, as plain data."""
    pending = [p for p in registered if ledger.applied_number(store, p.id) is None]
    checks = [(p, matcher([p.scope]) if p.scope else None, matcher([p.key]) if p.key else None)
              for p in pending]
    schemas = [(pattern, version, matcher([pattern]), Counter[int]())
               for pattern, version in declared]
    waiting = [0] * len(pending)
    versions: Counter[int] = Counter()
    cut = len(STATE_PREFIX)
    for skey, raw in store.scan(STATE_PREFIX):
        version = record_version(raw)
        versions[version] += 1
        if not checks and not schemas:
            continue
        scope, _, key = skey[cut:].partition("/")
        for i, (plan, scope_ok, key_ok) in enumerate(checks):
            if version == plan.from_version and (scope_ok is None or scope_ok(scope)) and (
                    key_ok is None or key_ok(key)):
                waiting[i] += 1
        for _, _, scope_ok, counted in schemas:
            if scope_ok is None or scope_ok(scope):
                counted[version] += 1
    history = ledger.history(store)
    kept = set(ledger.undo_numbers(store))
    standing = [e for e in history if not e.get("rolled_back_at")]
    latest = max([1, *versions, *(p.to_version for p in registered),
                  *(v for _, v in declared), *(e["plan"]["to_version"] for e in standing)])
    last = standing[-1] if standing else None
    return {
        "current": min(versions) if versions else 1,
        "latest": latest,
        "values": sum(versions.values()),
        "versions": {str(v): versions[v] for v in sorted(versions)},
        "pending": [{**p.summary(), "items": waiting[i]} for i, p in enumerate(pending)],
        "applied": [_applied(e, kept) for e in history],
        "schemas": [{"pattern": pattern, "version": version,
                     "versions": {str(v): c[v] for v in sorted(c)}}
                    for pattern, version, _, c in schemas],
        "can_rollback": last is not None and (last["n"] in kept or not last.get("items")),
    }


def _applied(entry: dict[str, Any], kept: set[int]) -> dict[str, Any]:
    plan = entry["plan"]
    return {"n": entry["n"], "id": entry["id"], "from_version": plan["from_version"],
            "to_version": plan["to_version"], "scope": plan.get("scope"),
            "key": plan.get("key"), "applied_at": entry["applied_at"],
            "items": entry["items"], "changed": entry["changed"],
            "rolled_back_at": entry.get("rolled_back_at"), "undo_kept": entry["n"] in kept}
