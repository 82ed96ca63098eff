"""Running one migration plan over the stored values: dry run, validation, apply.

Every value at the plan's ``from_version`` whose scope and key match is decoded, checked
(``validate_before``), transformed, checked again (``validate_after``) and re-encoded at
``to_version``, in store order, read page by page; progress is reported every ``batch_size``
values. The transformed records are written in chunks as they come, inside ONE transaction
(:func:`llmspell.state.bulk.write_bulk`), together with the exact bytes they replace (kept for
``rollback``) and, in the last chunk, the migration's log entry. So a failure at any item, a
refused batch or a killed process leaves every value exactly as it was: the transaction is
not committed, there is nothing to undo. Memory is that of a chunk (on the backends that
stream, see :meth:`~llmspell.storage.base.Store.batch_stream`), whatever the store's size.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from llmspell.codec import DECODE_ERRORS, damaged, from_jsonable
from llmspell.errors import MigrationError
from llmspell.state.bulk import RecordChange
from llmspell.state.migration.plan import MigrationPlan
from llmspell.state.migration.transforms import CHANGED, SKIPPED, UNCHANGED, compile_steps
from llmspell.state.records import (
    DEFAULT_SCHEMA_VERSION,
    Encoded,
    check_size,
    encode_record,
    encode_value,
)
from llmspell.state.scopes import STATE_PREFIX
from llmspell.state.selection import literal_prefix, matcher
from llmspell.state.versions import Version, spellings
from llmspell.storage.base import Store

#: How many changed values a dry run shows (before and after, secrets redacted).
SAMPLE = 10

Progress = Callable[[int, int], None]


@dataclass
class MigrationReport:
    """What a migration did (or, for a dry run, would do).

    ``examined``: values at ``from_version`` that matched. ``changed``: of those, values a
    transform changed; ``unchanged``: the others (their version still moves to
    ``to_version``). ``transforms``: per transform, how many values it changed, left
    unchanged and skipped (a value without the field, or not a table). ``samples``: for a dry
    run, the first changed values before and after (secrets redacted).
    """

    id: str
    from_version: Version
    to_version: Version
    scope: str | None
    key: str | None
    dry_run: bool
    applied: bool = False
    already_applied: bool = False
    examined: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0
    transforms: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    seq_first: int | None = None
    seq_last: int | None = None
    elapsed_seconds: float = 0.0
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def new_report(plan: MigrationPlan, *, dry_run: bool) -> MigrationReport:
    return MigrationReport(plan.id, plan.from_version, plan.to_version, plan.scope, plan.key,
                           dry_run,
                           transforms=[{"transform": t.describe(), "changed": 0,
                                        "unchanged": 0, "skipped": 0}
                                       for t in plan.transformations])


def transform_all(store: Store, plan: MigrationPlan, report: MigrationReport, first_seq: int,
                  *, max_value_bytes: int, batch_size: int = 1000,
                  progress: Progress | None = None,
                  redact: Callable[[Any], Any] | None = None) -> Iterator[RecordChange]:
    """Transform every matching value (see the module docstring), reading the store by
    pages; yield each record to write (numbered from ``first_seq``), none for a dry run
    (``report.dry_run``). ``report`` is filled in once the last value was read. Writes
    nothing.

    Raises:
        MigrationError: a value failed validation, a transform or encoding; the message names
            the item (scope/key, its number) and the transform.
    """
    dry_run = report.dry_run
    steps = compile_steps(plan.transformations)
    tally = [0] * (3 * len(steps))  # per transform: changed, unchanged, skipped
    prefix = STATE_PREFIX + literal_prefix([plan.scope] if plan.scope else None)
    scope_ok = matcher([plan.scope]) if plan.scope else None
    key_ok = matcher([plan.key]) if plan.key else None
    before, after = plan.validate_before, plan.validate_after
    wants_ctx = plan.has_custom
    from_version, to_version = plan.from_version, plan.to_version
    matches = spellings(from_version)
    version_json = orjson.dumps(to_version)
    total = store.count(prefix) if progress is not None else 0
    now = time.time()
    now_json = orjson.dumps(now)
    cut = len(STATE_PREFIX)
    loads, dumps = orjson.loads, orjson.dumps
    seq = first_seq
    scanned = examined = changed = 0
    ctx: dict[str, Any] = {}
    # Values that only built-in transforms touched hold nothing orjson cannot encode exactly
    # (no NaN, no non-str keys; bytes make it fail): encode them directly. Custom functions'
    # results get the full check.
    plain = not wants_ctx
    unchanged = 0
    for skey, raw in store.scan(prefix):
        scanned += 1
        if progress is not None and scanned % batch_size == 0:
            progress(scanned, total)
        scope, _, key = skey[cut:].partition("/")
        if (scope_ok is not None and not scope_ok(scope)) or (
                key_ok is not None and not key_ok(key)):
            continue
        try:
            record = loads(raw)
            if record.get("s", DEFAULT_SCHEMA_VERSION) not in matches:
                continue
            binary = record.get("b")
            value = from_jsonable(record["v"], binary) if binary else record["v"]
        except DECODE_ERRORS as exc:
            raise damaged(skey, exc) from None
        examined += 1
        shown = dumps(record["v"]) if dry_run and len(report.samples) < SAMPLE else None
        if wants_ctx:
            ctx = {"scope": scope, "key": key, "version": from_version}
        stage, index, touched = "validate_before", -1, False
        try:
            if before is not None:
                _validate(before, value)
            stage = "transform"
            for index, step in enumerate(steps):
                value, outcome = step(value, ctx)
                tally[index * 3 + outcome] += 1
                if outcome == CHANGED:
                    touched = True
            stage = "validate_after"
            if after is not None:
                _validate(after, value)
            stage = "encode"
            paths = None
            if plain:
                try:
                    encoded = dumps(value)
                except orjson.JSONEncodeError:  # bytes inside, or something not storable
                    encoded, paths = _checked(value)
            else:
                encoded, paths = _checked(value)
            if len(encoded) > max_value_bytes:
                check_size(Encoded(encoded, paths), max_value_bytes, scope, key)
            if dry_run:
                data = b""
            elif paths:  # values holding bytes: the state module's own encoder
                data = encode_record(Encoded(encoded, paths), to_version, record.get("c", now),
                                     now, seq)
            else:
                data = splice(encoded, version_json, dumps(record.get("c", now)), now_json,
                              seq)
        except Exception as exc:
            what = plan.transformations[index].describe() if stage == "transform" else stage
            raise MigrationError(
                f"migration {plan.id!r}: item {scope}/{key} (#{examined}, store order), "
                f"{what}: {_reason(exc)}; nothing was changed") from exc
        if touched:
            changed += 1
            if shown is not None:
                redacted = redact or (lambda v: v)
                report.samples.append({"scope": scope, "key": key,
                                       "before": redacted(loads(shown)),
                                       "after": redacted(loads(encoded))})
        else:
            unchanged += 1
        if not dry_run:
            yield RecordChange(scope, key, skey, data, raw)
            seq += 1
    if progress is not None:
        progress(scanned, max(total, scanned))
    report.examined, report.changed, report.unchanged = examined, changed, unchanged
    for i, summary in enumerate(report.transforms):
        summary.update(changed=tally[i * 3 + CHANGED], unchanged=tally[i * 3 + UNCHANGED],
                       skipped=tally[i * 3 + SKIPPED])
    report.skipped = sum(tally[i * 3 + SKIPPED] for i in range(len(steps)))


def _checked(value: Any) -> tuple[bytes, list[list[str | int]] | None]:
    """The value encoded by the state module's checked encoder, which raises an error naming
    the path of anything that cannot be stored."""
    encoded = encode_value(value)
    return encoded.data, encoded.binary


def _splice(data: bytes, version: bytes, created: bytes, updated: bytes, seq: int) -> bytes:
    """:func:`~llmspell.state.records.encode_record` for a value without bytes, from JSON
    already encoded, the version too (checked to agree at import; a hot path of every
    migration)."""
    return b'{"v":%b,"s":%b,"c":%b,"u":%b,"q":%d}' % (data, version, created, updated, seq)


splice = _splice
if any(_splice(b'{"a":1}', orjson.dumps(v), b"1.5", b"2.25", 7) != encode_record(
        Encoded(b'{"a":1}', None), v, 1.5, 2.25, 7)
        for v in (2, "2.1.0")):  # pragma: no cover - the layout changed
    def splice(data: bytes, version: bytes, created: bytes, updated: bytes, seq: int) -> bytes:
        return encode_record(Encoded(data, None), orjson.loads(version), orjson.loads(created),
                             orjson.loads(updated), seq)


def _validate(rules: Any, value: Any) -> None:
    problem = rules.problem(value)
    if problem is not None:
        raise _Invalid(problem)


class _Invalid(Exception):
    """A value failed validation (turned into the MigrationError)."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, _Invalid):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
