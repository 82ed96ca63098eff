"""Workers: ``llmspell worker`` processes on any number of machines sharing a PostgreSQL store
take queued work (``llmspell run --queue``, ``Workflow.enqueue``) and write results back.

:mod:`.queue` is the job table and its claims (FOR UPDATE SKIP LOCKED, leases, retries,
per-queue limits); :mod:`.worker` runs claimed jobs; :mod:`.submit` builds jobs. The embedded
backends have no job queue (docs/postgres.md).
"""

from llmspell.storage.jobs import Job, JobQueue
from llmspell.workers.worker import Worker

__all__ = ["Job", "JobQueue", "Worker"]
