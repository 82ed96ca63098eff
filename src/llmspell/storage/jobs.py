"""The job queue of ``llmspell worker``: rows of ``<table>_jobs`` on PostgreSQL.

A job is ``{id, queue, kind, payload, status, attempts, max_attempts, worker, lease_until,
result, error}``; ``kind`` is ``script`` (a Lua script's source and arguments),
``workflow`` (a declarative workflow definition, its input and run id) or ``branch`` (one
branch of a distributed parallel workflow: :mod:`llmspell.workflows.distributed`).

It sits with storage because the table is part of the store's database (its migration is in
:mod:`.pg_schema`) and workflows (below the workers) enqueue branches into it.

Life of a job: ``queued`` -> claimed (``running``, with a lease) -> ``done`` (result written)
or, on error, back to ``queued`` after a back-off until ``max_attempts`` runs have failed
(then ``failed``). A claim is ``SELECT ... FOR UPDATE SKIP LOCKED``: workers never wait on
each other's rows and never take the same one. A running job whose lease ran out (its worker
was killed or stopped) is claimable again. Writing the result is conditional on still holding
the claim (same worker, still running): a worker that lost its claim cannot write a result,
so a job is committed done once. Per-queue limits (``[workers] queue_limits``) are counted
over the whole fleet under a per-queue advisory lock while claiming.

The embedded backends have no job queue: workers need PostgreSQL (``docs/postgres.md``).
"""

from __future__ import annotations

import builtins
import hashlib
import threading
from dataclasses import dataclass
from typing import Any

import orjson

from llmspell.config_schema import queue_limits
from llmspell.errors import BackendUnavailable, StorageError, ValidationError
from llmspell.storage.pg_schema import table_names
from llmspell.validation import check_limit, check_queue_name

KINDS = ("script", "workflow", "branch")
STATUSES = ("queued", "running", "done", "failed")
NEED_POSTGRES = ("workers need PostgreSQL: the job queue is a table of the store's database, "
                 "and this store is {url}; set [storage] url = \"postgresql://...\" "
                 "(docs/postgres.md)")


check_queue = check_queue_name
parse_limits = queue_limits


@dataclass(frozen=True)
class Job:
    """A claimed job, as the worker that holds it sees it."""

    id: int
    queue: str
    kind: str
    payload: Any
    attempts: int
    max_attempts: int


def has_job_queue(store: Any) -> bool:
    """Whether ``store`` can hold a job queue (a PostgreSQL store)."""
    return hasattr(store, "connect") and hasattr(store, "table")


class JobQueue:
    """The jobs of one store (see the module docstring).

    Args:
        store: a PostgresStore (anything else: BackendUnavailable naming the store).

    Raises:
        BackendUnavailable: ``store`` is not on PostgreSQL.
    """

    def __init__(self, store: Any) -> None:
        if not has_job_queue(store):
            raise BackendUnavailable(NEED_POSTGRES.format(url=getattr(store, "url", store)))
        self.store = store
        self.table = table_names(store.table)["jobs"]
        self._conn = store.connect()
        self._lock = threading.RLock()  # one connection: one statement or transaction at once

    def close(self) -> None:
        self._conn.close()

    def _run(self, sql: str, params: list[Any], doing: str) -> list[Any]:
        import psycopg

        try:
            with self._lock:
                cursor = self._conn.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        except psycopg.Error as exc:
            raise StorageError(f"job queue {self.table}: could not {doing}: "
                               f"{' '.join(str(exc).split())}") from exc

    # -- producers --------------------------------------------------------------------------

    def enqueue(self, kind: str, payload: Any, *, queue: str = "default",
                max_attempts: int = 3) -> int:
        """Add a job; returns its id.

        Raises:
            ValidationError: unknown ``kind``, bad ``queue`` or ``max_attempts``, or a
                payload that is not JSON.
        """
        if kind not in KINDS:
            raise ValidationError("kind", f"must be one of {', '.join(KINDS)}", got=kind)
        check_queue(queue)
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) \
                or max_attempts < 1:
            raise ValidationError("max_attempts", "must be an int >= 1", got=max_attempts)
        try:
            body = orjson.dumps(payload).decode()
        except TypeError as exc:
            raise ValidationError("payload", f"must be JSON-compatible ({exc})") from None
        rows = self._run(f"INSERT INTO {self.table} (queue, kind, payload, max_attempts) "
                         "VALUES (%s, %s, %s::jsonb, %s) RETURNING id",
                         [queue, kind, body, max_attempts], "enqueue a job")
        return int(rows[0][0])

    def find(self, kind: str, token: str) -> int | None:
        """The newest job of ``kind`` whose payload has this ``token`` (a producer's own id
        for it, written before the job was enqueued), or None."""
        rows = self._run(f"SELECT id FROM {self.table} WHERE kind = %s AND "
                         "payload->>'token' = %s ORDER BY id DESC LIMIT 1", [kind, token],
                         f"find a {kind} job")
        return int(rows[0][0]) if rows else None

    def get(self, job_id: int) -> dict[str, Any] | None:
        """The job as a dict (``id, queue, kind, status, attempts, max_attempts, worker,
        result, error``), or None."""
        rows = self._run(f"SELECT id, queue, kind, status, attempts, max_attempts, worker, "
                         f"result, error FROM {self.table} WHERE id = %s", [job_id],
                         f"read job {job_id}")
        if not rows:
            return None
        keys = ("id", "queue", "kind", "status", "attempts", "max_attempts", "worker",
                "result", "error")
        return dict(zip(keys, rows[0], strict=True))

    def list(self, *, queue: str | None = None, status: str | None = None,
             limit: int | None = 50) -> builtins.list[dict[str, Any]]:
        """Jobs, newest first, as :meth:`get` gives them (without results), filtered by
        ``queue`` and ``status``; at most ``limit`` (0 or None: all of them).

        Raises:
            ValidationError: a bad queue name, an unknown status or a limit that is not an
                integer >= 0.
        """
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        if queue is not None:
            where.append("queue = %s")
            params.append(check_queue(queue))
        if status is not None:
            if status not in STATUSES:
                raise ValidationError("status", f"must be one of {', '.join(STATUSES)}",
                                      got=status)
            where.append("status = %s")
            params.append(status)
        limit = check_limit(limit)  # None: LIMIT NULL, no limit
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._run(f"SELECT id, queue, kind, status, attempts, max_attempts, worker, "
                         f"error FROM {self.table}{clause} ORDER BY id DESC LIMIT %s",
                         [*params, limit], "list jobs")
        keys = ("id", "queue", "kind", "status", "attempts", "max_attempts", "worker", "error")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def counts(self) -> dict[str, dict[str, int]]:
        """``{queue: {status: count}}``."""
        rows = self._run(f"SELECT queue, status, count(*) FROM {self.table} "
                         "GROUP BY queue, status", [], "count jobs")
        found: dict[str, dict[str, int]] = {}
        for queue, status, count in rows:
            found.setdefault(queue, {})[status] = int(count)
        return found

    # -- workers ----------------------------------------------------------------------------

    def claim(self, queues: builtins.list[str], worker: str, lease_seconds: float,
              limits: dict[str, int] | None = None) -> Job | None:
        """Take the oldest claimable job of ``queues`` for ``worker`` (module docstring)."""
        for queue in queues:
            job = self._claim_one(queue, worker, lease_seconds, (limits or {}).get(queue))
            if job is not None:
                return job
        return None

    def _claim_one(self, queue: str, worker: str, lease_seconds: float,
                   limit: int | None) -> Job | None:
        pick = (f"SELECT id FROM {self.table} WHERE queue = %s AND ("
                "(status = 'queued' AND run_after <= now()) OR "
                "(status = 'running' AND lease_until < now())) "
                "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED")
        claim = (f"WITH picked AS ({pick}) UPDATE {self.table} j SET status = 'running', "
                 "attempts = j.attempts + 1, worker = %s, "
                 "lease_until = now() + %s * interval '1 second' FROM picked "
                 "WHERE j.id = picked.id "
                 "RETURNING j.id, j.queue, j.kind, j.payload, j.attempts, j.max_attempts")
        params = [queue, worker, lease_seconds]
        with self._lock, self._conn.transaction():
            if limit is not None:
                self._run("SELECT pg_advisory_xact_lock(%s::bigint)",
                          [_lock_id(self.table, queue)], "lock a queue")
                running = self._run(f"SELECT count(*) FROM {self.table} WHERE queue = %s "
                                    "AND status = 'running' AND lease_until >= now()",
                                    [queue], "count running jobs")[0][0]
                if running >= limit:
                    return None
            rows = self._run(claim, params, f"claim a job of queue {queue!r}")
        if not rows:
            return None
        job = Job(*rows[0])
        if job.attempts > job.max_attempts:  # its lease ran out on the last allowed run
            self.finish(job.id, worker, error=f"gave up after {job.max_attempts} runs (the "
                        "last worker's lease ran out)", retry=False)
            return self._claim_one(queue, worker, lease_seconds, limit)
        return job

    def heartbeat(self, job_id: int, worker: str, lease_seconds: float) -> bool:
        """Extend ``worker``'s lease on ``job_id``; False when it no longer holds it."""
        rows = self._run(f"UPDATE {self.table} SET lease_until = now() + %s * interval "
                         "'1 second' WHERE id = %s AND worker = %s AND status = 'running' "
                         "RETURNING id", [lease_seconds, job_id, worker],
                         f"renew the lease of job {job_id}")
        return bool(rows)

    def finish(self, job_id: int, worker: str, *, result: Any = None, error: str | None = None,
               retry: bool = True, backoff: float = 1.0) -> bool:
        """Write the outcome if ``worker`` still holds the job: ``done`` with ``result``, or
        with ``error`` back to ``queued`` (after ``backoff`` x attempts seconds) while
        attempts remain and ``retry``, else ``failed``. False when the claim was lost (the
        lease ran out and another worker took it): nothing is written."""
        owner = "id = %s AND worker = %s AND status = 'running'"
        if error is None:
            rows = self._run(f"UPDATE {self.table} SET status = 'done', result = %s::jsonb, "
                             f"error = NULL, lease_until = NULL, finished_at = now() "
                             f"WHERE {owner} RETURNING id",
                             [orjson.dumps(result).decode(), job_id, worker],
                             f"finish job {job_id}")
        else:
            again = "attempts < max_attempts" if retry else "false"
            rows = self._run(
                f"UPDATE {self.table} SET status = CASE WHEN {again} THEN 'queued' "
                "ELSE 'failed' END, error = %s, lease_until = NULL, "
                "run_after = now() + attempts * %s * interval '1 second', "
                f"finished_at = CASE WHEN {again} THEN NULL ELSE now() END "
                f"WHERE {owner} RETURNING id", [error, backoff, job_id, worker],
                f"record the failure of job {job_id}")
        return bool(rows)


def _lock_id(table: str, queue: str) -> int:
    digest = hashlib.blake2b(f"{table}\0queue\0{queue}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
