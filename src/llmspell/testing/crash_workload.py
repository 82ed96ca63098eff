"""The child side of the crash test: a mixed workload that reports every write it finishes.

:mod:`llmspell.testing.crash` starts ``python -m llmspell.testing.crash --child ...`` and kills
it with SIGKILL at a random moment. The child writes through the public APIs (state saves,
transactions, compare-and-set, sessions, artifacts, backups, restores, migrations) and logs to
an append-only file one JSON line *before* each write (``"t": "intent"``, with everything the
parent needs to check it) and one *after* the call returned (``"t": "ack"``). Each line goes
out in one ``os.write``, so it is in the operating system's hands before the next write starts:
a killed process cannot lose an ack it wrote, and a line cut short is ignored by the reader.

Every write of the state belongs to a *group* of keys that no other group touches; an intent
lists the whole content of its group's keys once the write is done (``None``: absent), so the
parent can tell what the store must hold after any kill (see :mod:`.crash_checks`).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Callable
from typing import Any

from llmspell.runtime import Runtime

#: The scope of the compare-and-set counter that every round increments.
CAS_SCOPE, CAS_KEY = "custom:crash-cas", "counter"
#: Artifacts over this size are chunked by the blob store; one in five is bigger.
BIG_ARTIFACT = 64 * 1024


def open_runtime(url: str, backup_dir: str, durability: str) -> Runtime:
    """The runtime both sides use: the store at ``url``, backups in ``backup_dir``."""
    return Runtime.memory(storage__url=url, storage__durability=durability,
                          state__backup_dir=backup_dir)


class AckLog:
    """The append-only log of intents and acks (one JSON object per line)."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._next = 0

    def intent(self, kind: str, **details: Any) -> int:
        """Log that write number N (returned) of ``kind`` is about to start."""
        number = self._next
        self._next += 1
        self._line({"t": "intent", "n": number, "kind": kind, **details})
        return number

    def ack(self, number: int, **details: Any) -> None:
        """Log that write ``number`` returned (with what only the call could tell)."""
        self._line({"t": "ack", "n": number, **details})

    def _line(self, record: dict[str, Any]) -> None:
        os.write(self._fd, json.dumps(record, separators=(",", ":")).encode() + b"\n")


class Workload:
    """One child's writes: round ``round_no``, random choices from ``seed``."""

    def __init__(self, rt: Runtime, log: AckLog, round_no: int, seed: int) -> None:
        self.rt = rt
        self.log = log
        self.round = round_no
        self.rng = random.Random(seed)
        self.step = 0
        self.artifacts = 0

    def run(self, steps: int | None = None) -> None:
        """Do ``steps`` operations (forever when None: the parent kills the process)."""
        ops: list[tuple[int, Callable[[], None]]] = [
            (30, self.save), (12, self.transaction), (15, self.compare_and_set),
            (12, self.session_with_artifacts), (5, self.backup), (6, self.restore),
            (6, self.migration)]
        weights = [w for w, _ in ops]
        while steps is None or self.step < steps:
            self.rng.choices([op for _, op in ops], weights)[0]()
            self.step += 1

    def _group(self, prefix: str) -> tuple[str, str]:
        """A fresh group id and a scope of its own."""
        group = f"r{self.round}_{self.step}"
        return group, f"custom:crash-{prefix}{group}"

    def _value(self) -> dict[str, Any]:
        return {"r": self.round, "i": self.step, "pad": "x" * self.rng.randrange(0, 400),
                "n": self.rng.randrange(1 << 40)}

    def _state(self, group: str, phase: str, scope: str, values: dict[str, Any],
               write: Callable[[], Any]) -> None:
        n = self.log.intent("state", group=group, phase=phase, scope=scope, values=values)
        write()
        self.log.ack(n)

    def save(self) -> None:
        group = f"r{self.round}_{self.step}"
        scope = f"custom:crash-s{self.round % 16}"
        value = self._value()
        self._state(group, "save", scope, {group: value},
                    lambda: self.rt.state.save(scope, group, value))

    def transaction(self) -> None:
        group, scope = self._group("t")
        values = {f"k{j}": self._value() for j in range(self.rng.randrange(2, 6))}

        def write() -> None:
            with self.rt.state.transaction() as tx:
                for key, value in values.items():
                    tx.save(scope, key, value)

        self._state(group, "tx", scope, values, write)

    def compare_and_set(self) -> None:
        state = self.rt.state
        while True:
            current = state.load(CAS_SCOPE, CAS_KEY)
            new = (current or 0) + 1
            n = self.log.intent("cas", new=new)
            if state.compare_and_set(CAS_SCOPE, CAS_KEY, current, new):
                self.log.ack(n)
                return

    def session_with_artifacts(self) -> None:
        group = f"r{self.round}_{self.step}"
        n = self.log.intent("session", group=group, phase="create")
        session = self.rt.sessions.create(f"crash-{group}")
        self.log.ack(n, sid=session.id)
        for j in range(self.rng.randrange(1, 4)):
            self.artifacts += 1
            size = (self.rng.randrange(BIG_ARTIFACT + 1, 4 * BIG_ARTIFACT)
                    if self.artifacts % 5 == 0 else self.rng.randrange(0, 4000))
            content = self.rng.randbytes(size)
            name = f"a{j}.bin"
            n = self.log.intent("artifact", sid=session.id, name=name, size=size,
                                sha256=hashlib.sha256(content).hexdigest())
            artifact = self.rt.artifacts.store(session.id, name, content)
            self.log.ack(n, id=artifact.id)
        n = self.log.intent("session", group=group, phase="complete", sid=session.id)
        self.rt.sessions.complete(session.id)
        self.log.ack(n)

    def backup(self) -> None:
        incremental = self.rng.random() < 0.8
        n = self.log.intent("backup", incremental=incremental)
        info = self.rt.backups.backup(include=["custom:crash-s*"], incremental=incremental,
                                      description=f"crash round {self.round}")
        self.log.ack(n, id=info.id)

    def restore(self) -> None:
        """Write a group, back it up, change it, restore it: four phases of one group."""
        group, scope = self._group("x")
        before = {f"k{j}": self._value() for j in range(3)}
        after = {**{k: self._value() for k in before}, "k3": self._value()}
        state = self.rt.state

        def write(values: dict[str, Any]) -> Callable[[], None]:
            def run() -> None:
                with state.transaction() as tx:
                    for key, value in values.items():
                        tx.save(scope, key, value)
            return run

        as_before = {**before, "k3": None}
        self._state(group, "before", scope, as_before, write(before))
        n = self.log.intent("backup", incremental=False)
        backup_id = self.rt.backups.backup(include=[scope]).id
        self.log.ack(n, id=backup_id)
        self._state(group, "after", scope, after, write(after))
        self._state(group, "restore", scope, as_before,
                    lambda: self.rt.backups.restore(backup_id))

    def migration(self) -> None:
        """Write a group at schema version 1, then migrate it (rename a field) to 2."""
        group, scope = self._group("m")
        seeded = {f"k{j}": {"a": self.rng.randrange(1000), "i": j} for j in range(3)}

        def seed() -> None:
            with self.rt.state.transaction() as tx:
                for key, value in seeded.items():
                    tx.save(scope, key, value)

        self._state(group, "seed", scope, seeded, seed)
        migrated = {k: {"b": v["a"], "i": v["i"]} for k, v in seeded.items()}
        plan = {"name": f"crash_{group}", "from_version": 1, "to_version": 2, "scope": scope,
                "transformations": [{"field": "a", "transform": "rename", "to": "b"}]}
        self._state(group, "migrate", scope, migrated,
                    lambda: self.rt.migrations.apply(plan))


def run_child(url: str, backup_dir: str, durability: str, log_path: str, round_no: int,
              seed: int, steps: int | None) -> None:
    """The child's whole life: open the store, say ready, write until killed (or ``steps``)."""
    log = AckLog(log_path)
    with open_runtime(url, backup_dir, durability) as rt:
        log.intent("ready")
        Workload(rt, log, round_no, seed).run(steps)
