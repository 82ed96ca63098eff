"""Retention: which backups a policy keeps, and why; the rest may be deleted.

A policy combines *keep rules* and *limits*, in this order:

1. Keep rules select backups; a backup is kept if any rule selects it (their union).
   ``keep_last=N``: the N newest. ``keep_daily=N`` / ``keep_weekly=N`` / ``keep_monthly=N``:
   the newest backup of each of the N most recent days / ISO weeks / months (UTC) that have
   backups. With no keep rule at all, every backup is selected.
   **Safety backups** (taken by a restore) are not the user's: keep rules count and select
   only the user's own backups, so a safety backup never pushes one out. Of the safety
   backups, a policy with keep rules keeps only the newest (the way back from the last
   restore).
2. ``max_age`` (seconds, or text such as ``"36h"``, ``"30d"``, ``"2w"``) then drops selected
   backups older than that.
3. The newest of the user's backups (the newest backup, when all are safety backups) is
   always kept, and every kept incremental keeps its whole chain of parents down to its
   full base (a backup is never deleted while a kept one needs it).
4. ``max_total_bytes`` last: while the kept files add up to more, a kept backup is dropped
   together with every incremental built on it: safety backups first, oldest first, then
   the user's, oldest first. The newest backup's chain is never dropped, so the total can
   stay above the limit when that chain alone is larger.

Everything not kept is deleted (or, with ``dry_run``, only reported).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from llmspell.errors import ValidationError
from llmspell.state.backup.catalog import BackupInfo
from llmspell.validation import check_known_keys

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
POLICY_KEYS = ("keep_last", "keep_daily", "keep_weekly", "keep_monthly", "max_age",
               "max_total_bytes")


@dataclass(frozen=True)
class RetentionPolicy:
    """See the module docstring. Zero / None means the rule or limit is not used."""

    keep_last: int = 0
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0
    max_age: float | None = None
    max_total_bytes: int | None = None

    @property
    def empty(self) -> bool:
        return not (self.keep_last or self.keep_daily or self.keep_weekly or self.keep_monthly
                    or self.max_age or self.max_total_bytes)

    @classmethod
    def from_spec(cls, spec: Any) -> RetentionPolicy:
        """A policy from a dict (Lua table) or a policy.

        Raises:
            ValidationError: an unknown key or a bad value, named.
        """
        if isinstance(spec, RetentionPolicy):
            return spec
        if spec is None:
            return cls()
        if not isinstance(spec, Mapping):
            raise ValidationError("policy", "must be a table such as {keep_last = 5, max_age "
                                  "= \"30d\"}", got=spec)
        check_known_keys(spec, POLICY_KEYS, "policy")
        counts = {k: _count(spec.get(k), k) for k in POLICY_KEYS[:4]}
        size = spec.get("max_total_bytes")
        if size is not None:
            size = _count(size, "max_total_bytes") or None
        age = spec.get("max_age")
        return cls(**counts, max_age=None if age in (None, "", 0) else parse_duration(age),
                   max_total_bytes=size)


def parse_duration(value: Any, argument: str = "max_age") -> float:
    """Seconds from a number or text such as ``"90s"``, ``"15m"``, ``"12h"``, ``"30d"``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    if isinstance(value, str):
        found = _DURATION.match(value)
        if found and float(found.group(1)) > 0:
            return float(found.group(1)) * _UNITS[found.group(2) or "s"]
    raise ValidationError(argument, "must be a positive number of seconds or text such as "
                          "'90s', '15m', '12h', '30d', '2w'", got=value)


def _count(value: Any, argument: str) -> int:
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(argument, "must be an integer >= 0", got=value)
    return value


def plan_retention(backups: Iterable[BackupInfo], policy: RetentionPolicy,
                   now: float | None = None) -> tuple[dict[str, list[str]], list[BackupInfo]]:
    """``(kept: id -> reasons, deleted)`` under ``policy``; see the module docstring."""
    now = time.time() if now is None else now
    newest_first = sorted(backups, key=lambda b: (b.created_at, b.id), reverse=True)
    if not newest_first:
        return {}, []
    by_id = {b.id: b for b in newest_first}
    reasons: dict[str, list[str]] = {}

    def keep(b: BackupInfo, why: str) -> None:
        reasons.setdefault(b.id, []).append(why)

    rules = policy.keep_last or policy.keep_daily or policy.keep_weekly or policy.keep_monthly
    own = [b for b in newest_first if not b.safety]
    if not rules:
        for b in newest_first:
            keep(b, "no keep rule")
    else:
        for b in newest_first:
            if b.safety:
                keep(b, "newest safety backup")
                break
    for b in own[:policy.keep_last]:
        keep(b, "keep_last")
    for name, count, bucket in (("keep_daily", policy.keep_daily, "%Y-%m-%d"),
                                ("keep_weekly", policy.keep_weekly, "%G-W%V"),
                                ("keep_monthly", policy.keep_monthly, "%Y-%m")):
        seen: set[str] = set()
        for b in own:
            if len(seen) >= count:
                break
            period = time.strftime(bucket, time.gmtime(b.created_at))
            if period not in seen:
                seen.add(period)
                keep(b, name)
    if policy.max_age:
        for b in newest_first:
            if now - b.created_at > policy.max_age:
                reasons.pop(b.id, None)
    newest = own[0] if own else newest_first[0]
    keep(newest, "newest")
    _keep_parents(reasons, by_id)
    if policy.max_total_bytes:
        _fit(reasons, by_id, newest, policy.max_total_bytes)
    deleted = [b for b in newest_first if b.id not in reasons]
    return reasons, deleted


def _keep_parents(reasons: dict[str, list[str]], by_id: dict[str, BackupInfo]) -> None:
    for backup_id in list(reasons):
        child = by_id[backup_id]
        while child.parent and child.parent in by_id:
            parent = by_id[child.parent]
            why = f"parent of {child.id}"
            if why not in reasons.setdefault(parent.id, []):
                reasons[parent.id].append(why)
            child = parent


def _fit(reasons: dict[str, list[str]], by_id: dict[str, BackupInfo], newest: BackupInfo,
         limit: int) -> None:
    protected = {newest.id}
    node = newest
    while node.parent and node.parent in by_id:
        node = by_id[node.parent]
        protected.add(node.id)
    while sum(by_id[i].file_bytes for i in reasons) > limit:
        candidates = [by_id[i] for i in reasons if i not in protected]
        if not candidates:
            return
        oldest = min(candidates, key=lambda b: (not b.safety, b.created_at, b.id))
        doomed = {oldest.id}
        grew = True
        while grew:
            more = {i for i in reasons if by_id[i].parent in doomed} - doomed
            grew = bool(more)
            doomed |= more
        for i in doomed - protected:
            reasons.pop(i, None)
