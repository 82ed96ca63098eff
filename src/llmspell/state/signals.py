"""The state hook points and events: what a StateManager tells hooks, subscribers and logs.

Hook points (each fired only when a hook is registered there; callers check with ``has``;
what each outcome means is decided by ``HookRegistry.before``/``after`` from the points
table): ``state:before_write`` ``{scope, key, value}`` (modify the value, skip, retry or
cancel), ``state:after_write`` ``{scope, key, value, seq, schema_version}`` (cancel only),
``state:before_read`` ``{scope, key}`` (skip with a result, retry or cancel),
``state:after_read`` ``{scope, key, value, found}`` (modify the value, or cancel),
``state:delete`` ``{scope, key}`` (skip, retry or cancel). A hook may change the value only,
never the scope or the key.

Events (source ``state``): ``state.changed`` ``{scope, key, seq, schema_version, value}`` with
the value's secrets redacted, ``state.deleted`` ``{scope, key, seq}``. Debug log lines name the
key (redacted text) and never show a value.

Bulk rewrites (a migration, its rollback, a restore: :mod:`llmspell.state.bulk`) are decided
and written as one batch, so no before-point can act on one of their keys; once the batch is
written, :meth:`Signals.bulk_written` tells about every key it changed: ``state:after_write``
for each put and the ``state.changed`` / ``state.deleted`` events, each with ``operation``
(``"migration"``, ``"rollback"``, ``"restore"``) added to the data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from llmspell.errors import ValidationError
from llmspell.protocols import EventPublisher, HookPoints
from llmspell.redact import Redactor
from llmspell.state.commit import Committed, Write
from llmspell.state.records import decode_record

if TYPE_CHECKING:
    from llmspell.state.bulk import RecordChange

logger = logging.getLogger("llmspell.state")

BEFORE_WRITE = "state:before_write"
AFTER_WRITE = "state:after_write"
BEFORE_READ = "state:before_read"
AFTER_READ = "state:after_read"
DELETE = "state:delete"
CHANGED = "state.changed"
DELETED = "state.deleted"
SOURCE = "state"  # the source of the events published here

#: What a before-point returns when a hook asked to skip the operation.
SKIPPED: Any = object()


class Signals:
    """Fires the state hook points and publishes the state events of one manager.

    ``hooks``: a ``HookRegistry`` or None; ``events``: an ``EventBus`` or None. When the bus
    can say whether anyone listens (``has_subscribers(type)``), events nobody listens to are
    not built at all.
    """

    def __init__(self, hooks: HookPoints | None, events: EventPublisher | None,
                 redactor: Redactor) -> None:
        self.hooks = hooks
        self.events = events
        self.redactor = redactor
        has = getattr(events, "has_subscribers", None)
        # Asked with the source the events carry, so subscriptions that leave out state
        # events (the session recorder) do not make every write build one.
        self._wants: Callable[[str], bool] | None = (
            None if has is None else lambda type: bool(has(type, SOURCE)))

    def has(self, point: str) -> bool:
        """Whether a hook is registered at ``point``."""
        return self.hooks is not None and bool(self.hooks.has(point))

    def before_write(self, scope: str, key: str, value: Any) -> Any:
        """The value to write, as the hooks left it, or SKIPPED (a cancel raises)."""
        data = self._before(BEFORE_WRITE, {"scope": scope, "key": key, "value": value})
        if data is SKIPPED:
            return SKIPPED
        return hook_value(BEFORE_WRITE, data, scope, key)

    def allow_delete(self, scope: str, key: str) -> bool:
        """Fire ``state:delete`` if hooked: False if a hook skipped the delete."""
        if not self.has(DELETE):
            return True
        return self._before(DELETE, {"scope": scope, "key": key}) is not SKIPPED

    def before_read(self, scope: str, key: str) -> Any:
        """Fire ``state:before_read``: a ``Skipped`` (its ``result`` stands in for the
        value) when a hook skipped the read, else None."""
        hooks = self.hooks
        assert hooks is not None  # callers ask has() first
        data = hooks.before(BEFORE_READ, {"scope": scope, "key": key}, component="state")
        return data if data.__class__ is hooks.Skipped else None

    def after_read(self, scope: str, key: str, value: Any, found: bool) -> Any:
        """The value to return, as the ``state:after_read`` hooks left it."""
        hooks = self.hooks
        assert hooks is not None  # callers ask has() first
        data = hooks.after(AFTER_READ, {"scope": scope, "key": key, "value": value,
                                        "found": found}, component="state")
        return hook_value(AFTER_READ, data, scope, key)

    def wants_put(self) -> bool:
        """Whether :meth:`committed` would do anything for a put: an after-write hook, a
        ``state.changed`` subscriber, or the debug log."""
        hooks = self.hooks
        if hooks is not None and hooks.has(AFTER_WRITE):
            return True
        events = self.events
        if events is not None:
            wants = self._wants
            if wants is None or wants(CHANGED):
                return True
        return logger.isEnabledFor(logging.DEBUG)

    def committed(self, done: list[Committed]) -> None:
        """After a commit: the after-write hooks, the events and a debug log line each."""
        hooks = self.hooks
        if hooks is not None and not hooks.has(AFTER_WRITE):
            hooks = None
        events = self.events
        wants = self._wants
        changed = deleted = False
        if events is not None:
            # Only the event types the batch holds are asked about (each ask has a cost).
            puts = deletes = False
            for item in done:
                if item.write.encoded is None:
                    deletes = True
                else:
                    puts = True
            changed = puts and (wants is None or wants(CHANGED))
            deleted = deletes and (wants is None or wants(DELETED))
        debug = logger.isEnabledFor(logging.DEBUG)
        if hooks is None and not changed and not deleted and not debug:
            return
        for item in done:
            write = item.write
            if write.encoded is None:
                if deleted and events is not None:
                    events.publish(DELETED, {"scope": write.scope, "key": write.key,
                                             "seq": item.seq}, source=SOURCE)
                if debug:
                    logger.debug("deleted %s (seq %d)", self._name(write), item.seq)
                continue
            if hooks is not None:
                hooks.after(AFTER_WRITE, {"scope": write.scope, "key": write.key,
                                          "value": write.value, "seq": item.seq,
                                          "schema_version": write.schema_version},
                            component="state")
            if changed and events is not None:
                events.publish(CHANGED, {"scope": write.scope, "key": write.key,
                                         "seq": item.seq, "schema_version": write.schema_version,
                                         "value": self.redactor.redact(write.value)},
                               source=SOURCE)
            if debug:
                logger.debug("saved %s (seq %d, %d bytes)", self._name(write), item.seq,
                             len(write.encoded.data))

    def bulk_written(self, operation: str, changes: Iterable[RecordChange], first_seq: int) -> None:
        """After a bulk batch (see the module docstring): ``changes`` took the sequence
        numbers from ``first_seq`` on, in order."""
        hooks = self.hooks
        if hooks is not None and not hooks.has(AFTER_WRITE):
            hooks = None
        events = self.events
        wants = self._wants
        changed = events is not None and (wants is None or wants(CHANGED))
        deleted = events is not None and (wants is None or wants(DELETED))
        if hooks is None and not changed and not deleted:
            return
        for seq, ch in enumerate(changes, first_seq):
            if ch.data is None:
                if deleted and events is not None:
                    events.publish(DELETED, {"scope": ch.scope, "key": ch.key, "seq": seq,
                                             "operation": operation}, source=SOURCE)
                continue
            if hooks is None and not changed:
                continue
            record = decode_record(ch.data, ch.skey)
            if hooks is not None:
                hooks.after(AFTER_WRITE, {"scope": ch.scope, "key": ch.key,
                                          "value": record.value, "seq": seq,
                                          "schema_version": record.schema_version,
                                          "operation": operation}, component="state")
            if changed and events is not None:
                events.publish(CHANGED, {"scope": ch.scope, "key": ch.key, "seq": seq,
                                         "schema_version": record.schema_version,
                                         "value": self.redactor.redact(record.value),
                                         "operation": operation}, source=SOURCE)

    def _name(self, write: Write) -> str:
        return self.redactor.redact_text(f"{write.scope}/{write.key}")

    def _before(self, point: str, data: dict[str, Any]) -> Any:
        """Fire a before-point: the (possibly modified) data, or SKIPPED."""
        hooks = self.hooks
        assert hooks is not None  # callers ask has() first
        data = hooks.before(point, data, component="state")
        return SKIPPED if data.__class__ is hooks.Skipped else data


def hook_value(point: str, data: Any, scope: str, key: str) -> Any:
    """The value a hook left in its data (a hook may change the value, nothing else).

    Raises:
        ValidationError: the data has no ``value``, or a changed scope or key.
    """
    if type(data) is dict and "value" in data and data.get("scope") == scope \
            and data.get("key") == key:
        return data["value"]
    if not isinstance(data, Mapping) or "value" not in data:
        raise ValidationError("hook result", f"a '{point}' hook that modifies must return "
                              "data with a 'value' (the data it was given, changed)", got=data)
    if data.get("scope", scope) != scope or data.get("key", key) != key:
        raise ValidationError("hook result", f"a '{point}' hook may change the value only, "
                              "not the scope or the key", got=data)
    return data["value"]
