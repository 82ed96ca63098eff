"""``llmspell worker``: take queued jobs from the PostgreSQL store and run them (llmspell.workers).

``llmspell run --queue SCRIPT`` (cli/scripts.py) and ``Workflow.enqueue`` put the jobs there.
"""

from __future__ import annotations

import signal
from typing import Any

import click

from llmspell.cli.main import EXIT_USAGE, Options, echo, echo_json, fail, handle_errors


@click.command()
@click.option("--queue", "queues", multiple=True, metavar="NAME",
              help="A queue to take jobs from (repeatable; default [workers] queue).")
@click.option("--concurrency", type=int, default=None,
              help="Jobs run at once (default [workers] concurrency).")
@click.option("--lease-seconds", type=float, default=None,
              help="A claim's lease, renewed every third (default [workers] lease_seconds).")
@click.option("--max-jobs", type=int, default=None, help="Stop after taking this many jobs.")
@click.option("--idle-exit", type=float, default=None, metavar="SECONDS",
              help="Stop once there was no work for this long.")
@click.option("--json", "as_json", is_flag=True, help="Print the totals as JSON at the end.")
@click.pass_obj
def worker(opts: Options, queues: tuple[str, ...], concurrency: int | None,
           lease_seconds: float | None, max_jobs: int | None, idle_exit: float | None,
           as_json: bool) -> None:
    """Run queued jobs (scripts and workflow runs) until stopped (Ctrl-C or SIGTERM finish
    the jobs running and exit). Needs a PostgreSQL store; any number of workers on any
    machines may share it."""
    from llmspell.config_schema import queue_limits
    from llmspell.workers import Worker

    with handle_errors(opts.verbose), opts.runtime() as rt:
        setting = rt.config.setting
        if max_jobs is not None and max_jobs < 1:
            from llmspell.errors import ValidationError

            raise ValidationError("--max-jobs", "must be at least 1", got=max_jobs)
        work = Worker(
            rt, queues=list(queues) or [setting("workers.queue")],
            concurrency=setting("workers.concurrency") if concurrency is None else concurrency,
            lease_seconds=(setting("workers.lease_seconds") if lease_seconds is None
                           else lease_seconds),
            poll_seconds=setting("workers.poll_seconds"),
            limits=queue_limits(setting("workers.queue_limits")),
            report=lambda line: echo(line, err=True))
        stop = _on_signals(work)
        try:
            echo(f"worker {work.name} taking jobs of {', '.join(work.queues)}", err=True)
            taken = work.run(max_jobs=max_jobs, idle_exit=idle_exit)
        finally:
            stop()
    totals = {"worker": work.name, "taken": taken, "done": work.done, "failed": work.failed,
              "lost": work.lost}
    if as_json:
        echo_json(totals)
    else:
        echo(f"{taken} job(s) taken: {work.done} done, {work.failed} failed, {work.lost} lost")


@click.group()
def jobs() -> None:
    """Inspect the job queue of `llmspell worker` (PostgreSQL store)."""


@jobs.command(name="list")
@click.option("--queue", default=None, metavar="NAME", help="Only this queue.")
@click.option("--status", type=click.Choice(["queued", "running", "done", "failed"]),
              default=None, help="Only jobs in this state.")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              help="At most this many (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_obj
def jobs_list(opts: Options, queue: str | None, status: str | None, limit: int,
              as_json: bool) -> None:
    """Jobs, newest first."""
    from llmspell.storage.jobs import JobQueue

    with handle_errors(opts.verbose), opts.runtime() as rt:
        found = JobQueue(rt.store)
        try:
            rows = found.list(queue=queue, status=status, limit=limit)
        finally:
            found.close()
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        echo(f"{row['id']:>8}  {row['queue']:<12} {row['kind']:<8} {row['status']:<8} "
             f"attempt {row['attempts']}/{row['max_attempts']}"
             + (f"  {row['error']}" if row["error"] else ""))


@jobs.command(name="show")
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_obj
def jobs_show(opts: Options, job_id: int, as_json: bool) -> None:
    """One job with its result or error."""
    from llmspell.storage.jobs import JobQueue

    with handle_errors(opts.verbose), opts.runtime() as rt:
        found = JobQueue(rt.store)
        try:
            job = found.get(job_id)
        finally:
            found.close()
    if job is None:
        fail(f"no job {job_id}", EXIT_USAGE)
        return
    if as_json:
        echo_json(job, redact=False)
        return
    for key, value in job.items():
        echo(f"{key:<13} {value}")


def _on_signals(work: Any) -> Any:
    """SIGTERM and SIGINT stop taking jobs; returns what puts the old handlers back."""
    old = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def stop(signum: int, frame: Any) -> None:
        work.stop()

    try:
        for sig in old:
            signal.signal(sig, stop)
    except ValueError:  # not the main thread (an embedding caller): no handlers
        return lambda: None

    def restore() -> None:
        for sig, handler in old.items():
            signal.signal(sig, handler)

    return restore


COMMANDS = [worker, jobs]
