"""The parent side of the crash test: what the store must hold after a kill, and the tally.

:func:`read_log` turns a child's log (see :mod:`.crash_workload`) into its intents, each marked
acknowledged or not; :class:`Checker` reopens the store and holds it to them:

- an acknowledged write is present (else it counts as **lost**);
- the one write under way at the kill (the last intent, unacknowledged) either happened
  whole or not at all, and nothing else changed (else an **integrity failure**: a torn
  transaction, restore or migration, a counter ahead of every write, a wrong status);
- everything stored still decodes: state records, artifact content against its SHA-256,
  every backup file against its checksums, and for SQLite ``PRAGMA quick_check``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from llmspell.errors import (
    ArtifactNotFound,
    BackupNotFound,
    LLMSpellError,
    SessionNotFound,
)
from llmspell.runtime import Runtime
from llmspell.testing.crash_workload import CAS_KEY, CAS_SCOPE


@dataclass
class Intent:
    """One write the child started; ``ack`` holds what it logged once the write returned."""

    n: int
    kind: str
    details: dict[str, Any]
    ack: dict[str, Any] | None = None
    in_flight: bool = False


def read_log(path: Path) -> list[Intent]:
    """The intents logged in ``path`` in order; a last line cut short by the kill is ignored.

    The last intent without an ack is marked ``in_flight`` (the write the kill interrupted).
    """
    intents: dict[int, Intent] = {}
    data = path.read_bytes() if path.exists() else b""
    for line in data.split(b"\n")[:-1]:  # the part after the last newline is incomplete
        record = json.loads(line)
        if record.pop("t") == "intent":
            n = record.pop("n")
            intents[n] = Intent(n, record.pop("kind"), record)
        else:
            intents[record.pop("n")].ack = record
    ordered = [i for i in intents.values() if i.kind != "ready"]
    if ordered and ordered[-1].ack is None:
        ordered[-1].in_flight = True
    return ordered


@dataclass
class Tally:
    """What the runs found: counts, and one line per loss or failure (keyed, so a write
    found missing twice counts once)."""

    kills: int = 0
    acknowledged: int = 0
    lost: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    cas_acked: int = 0
    child_errors: list[str] = field(default_factory=list)
    #: Temporary files of killed backups left in the backup directory (not damage: no
    #: backup lists them, and a later backup removes those over an hour old).
    stray_temps: int = 0
    #: What the kills interrupted ("state/tx", "artifact", "before the first write", ...)
    #: -> how many kills.
    interrupted: dict[str, int] = field(default_factory=dict)

    def count_interrupted(self, intents: list[Intent]) -> None:
        """Note which write (if any) the kill of a round with log ``intents`` landed in."""
        flying = [i for i in intents if i.in_flight]
        what = "between writes"
        if flying:
            phase = flying[0].details.get("phase")
            what = flying[0].kind + (f"/{phase}" if phase else "")
        elif not intents:
            what = "before the first write"
        self.interrupted[what] = self.interrupted.get(what, 0) + 1

    def summary(self) -> dict[str, Any]:
        return {"kills": self.kills, "acknowledged_writes": self.acknowledged,
                "lost": len(self.lost), "integrity_failures": len(self.failures),
                "child_errors": len(self.child_errors)}


class Checker:
    """Checks one reopened runtime against the logs; records findings in ``tally``."""

    def __init__(self, rt: Runtime, tally: Tally) -> None:
        self.rt = rt
        self.tally = tally

    def _lost(self, where: str, what: str) -> None:
        self.tally.lost.setdefault(where, what)

    def _failed(self, where: str, what: str) -> None:
        self.tally.failures.setdefault(where, what)

    def _guard(self, where: str, check: Callable[[], object]) -> None:
        """Run ``check``; an error reading the store is an integrity failure at ``where``."""
        try:
            check()
        except LLMSpellError as exc:
            self._failed(where, f"{type(exc).__name__}: {exc}")

    def check_round(self, round_no: int, intents: list[Intent], *, latest: bool) -> None:
        """Hold the store to round ``round_no``'s log. ``latest``: this round's child was the
        last to run (the compare-and-set counter is only checked then)."""
        groups: dict[str, list[Intent]] = {}
        for intent in intents:
            where = f"round {round_no} write {intent.n} ({intent.kind})"
            if intent.kind == "state":
                groups.setdefault(intent.details["group"], []).append(intent)
            elif intent.kind == "session" and intent.details["phase"] == "create":
                self._guard(where, partial(self._session, intent, intents))
            elif intent.kind == "artifact":
                self._guard(where, partial(self._artifact, intent, where))
            elif intent.kind == "backup" and intent.ack is not None:
                self._guard(where, partial(self._backup, intent, where))
        for group, phases in groups.items():
            where = f"round {round_no} group {group}"
            self._guard(where, partial(self._state_group, phases, where))
        if latest:
            where = f"round {round_no} counter"
            self._guard(where, partial(self._counter, intents, where))

    def _state_group(self, phases: list[Intent], where: str) -> None:
        scope = phases[0].details["scope"]
        keys = sorted({k for p in phases for k in p.details["values"]})
        acked = [p for p in phases if p.ack is not None]
        nothing: dict[str, Any] = dict.fromkeys(keys)
        done = {**nothing, **acked[-1].details["values"]} if acked else nothing
        allowed = [done]
        flying = [p for p in phases if p.in_flight]
        if flying:
            allowed.append({**nothing, **flying[0].details["values"]})
        state = self.rt.state
        found = {k: state.load(scope, k) for k in keys}
        if found not in allowed:
            if acked and any(found[k] != done[k] and all(found[k] != a[k] for a in allowed)
                             for k in keys):
                self._lost(where, f"{acked[-1].details['phase']} of {scope} is not there: "
                                  f"found {_short(found)}, acknowledged {_short(done)}")
            else:
                self._failed(where, f"{scope} is neither before nor after the write under "
                                    f"way: found {_short(found)}")
            return
        if acked and acked[-1].details["phase"] == "migrate" and found == done:
            for key in keys:
                record = state.get_record(scope, key)
                if record is not None and record.schema_version != 2:
                    self._failed(where, f"{scope}/{key} migrated but at schema version "
                                        f"{record.schema_version}")

    def _counter(self, intents: list[Intent], where: str) -> None:
        acked = [i.details["new"] for i in intents if i.kind == "cas" and i.ack is not None]
        self.tally.cas_acked = max([self.tally.cas_acked, *acked])
        flying = [i.details["new"] for i in intents if i.kind == "cas" and i.in_flight]
        found = self.rt.state.load(CAS_SCOPE, CAS_KEY) or 0
        if found < self.tally.cas_acked:
            self._lost(where, f"counter is {found}, {self.tally.cas_acked} was acknowledged")
        elif found > max([self.tally.cas_acked, *flying]):
            self._failed(where, f"counter is {found}, no write set more than "
                         f"{max([self.tally.cas_acked, *flying])}")
        self.tally.cas_acked = max(self.tally.cas_acked, found)

    def _session(self, create: Intent, intents: list[Intent]) -> None:
        if create.ack is None:
            return  # its id was never reported: nothing to hold it to
        sid = create.ack["sid"]
        where = f"session {sid}"
        complete = [i for i in intents if i.kind == "session" and i.details.get("sid") == sid]
        if complete and complete[0].ack is not None:
            allowed = {"completed"}
        elif complete and complete[0].in_flight:
            allowed = {"active", "completed"}
        else:
            allowed = {"active"}
        try:
            status = self.rt.sessions.get(sid).status
        except SessionNotFound:
            self._lost(where, "an acknowledged session is gone")
            return
        if status not in allowed:
            what = f"status {status!r}, expected one of {sorted(allowed)}"
            if "completed" in allowed and status == "active" and len(allowed) == 1:
                self._lost(where, what)
            else:
                self._failed(where, what)

    def _artifact(self, intent: Intent, where: str) -> None:
        details = intent.details
        artifacts = self.rt.artifacts
        if intent.ack is None:
            try:
                versions = artifacts.versions(details["sid"], details["name"])
            except SessionNotFound:
                return  # the session itself was under way
            for artifact in versions:
                self._content(artifact.id, details, where)
            return
        try:
            artifacts.get(intent.ack["id"])
        except ArtifactNotFound:
            self._lost(where, f"artifact {intent.ack['id']} is gone")
            return
        self._content(intent.ack["id"], details, where)

    def _content(self, artifact_id: str, details: dict[str, Any], where: str) -> None:
        content = self.rt.artifacts.read(artifact_id)  # checks the stored SHA-256
        if hashlib.sha256(content).hexdigest() != details["sha256"]:
            self._failed(where, f"artifact {artifact_id} reads {len(content)} bytes that are "
                                f"not the {details['size']} bytes stored")

    def _backup(self, intent: Intent, where: str) -> None:
        assert intent.ack is not None
        try:
            self.rt.backups.verify_backup(intent.ack["id"])
        except BackupNotFound as exc:
            self._lost(where, str(exc))

    def scan_everything(self) -> None:
        """Decode every state record, read every artifact (hash checked) and check every
        backup file's header, trailer and checksums."""
        state = self.rt.state
        for scope in state.scopes():
            for key in state.list_keys(scope):
                self._guard(f"record {scope}/{key}", partial(state.load, scope, key))
        for artifact in self.rt.artifacts.query():
            self._guard(f"artifact {artifact.id}", partial(self.rt.artifacts.read, artifact.id))
        self.check_backup_files()

    def check_backup_files(self) -> None:
        """No backup file in the directory is damaged (a killed backup leaves none behind)."""
        for info in self.rt.backups.list_backups():
            if info.problem is not None:
                self._failed(f"backup {info.id}", f"damaged backup file: {info.problem}")


def sqlite_quick_check(path: str) -> str | None:
    """``PRAGMA quick_check`` of the SQLite file at ``path``: None when it says ok."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = [row[0] for row in conn.execute("PRAGMA quick_check")]
    finally:
        conn.close()
    return None if rows == ["ok"] else "; ".join(map(str, rows[:5]))


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:200] + "..."
