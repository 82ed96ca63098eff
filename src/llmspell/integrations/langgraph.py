"""A LangGraph checkpointer on llmspell's store (extra ``[langgraph]``).

::

    from llmspell import Runtime
    from llmspell.integrations.langgraph import LLMSpellSaver

    runtime = Runtime.from_config()            # sqlite under .llmspell/, or any backend
    graph = builder.compile(checkpointer=LLMSpellSaver(runtime))

Each LangGraph thread is a llmspell session (tag ``langgraph``, named ``langgraph:<thread>``;
see :mod:`~.threads`). Its data lives in that session's state scope, so ``llmspell session
timeline``, backups and session deletion cover it. Keys in the scope (segments percent-encoded):

- ``cp/<ns>/<checkpoint id>``: one record per checkpoint: the checkpoint without its channel
  values, its metadata (each as the serializer's ``(type, bytes)``), its parent's id, the
  values of the channels this checkpoint changed (``blobs``: only those, as LangGraph's own
  savers write only new versions), each channel's version, and for every channel the id of
  the checkpoint whose record holds its value at that version (``where``);
- ``write/<ns>/<checkpoint id>/<task id>/<index>``: a pending write.

A ``put`` writes one key (reading its parent's record to carry ``where`` on); a ``put_writes``
commits its writes in one state transaction. Pruning or deleting checkpoints first copies
into each kept record the values it borrows from a record that goes. The async methods run the same
work on a worker thread (``asyncio.to_thread``), so the event loop is never blocked by the store.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from llmspell.errors import ValidationError
from llmspell.integrations import require
from llmspell.integrations.threads import (
    ForeignSessions,
    check_foreign_id,
    encode_segment,
)
from llmspell.state.scopes import scope_prefix

require("langgraph.checkpoint.base", "langgraph")

from langchain_core.runnables import RunnableConfig  # noqa: E402
from langgraph.checkpoint.base import (  # noqa: E402
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    SerializerProtocol,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)

if TYPE_CHECKING:
    from llmspell.runtime import Runtime

__all__ = ["LLMSpellSaver"]

FRAMEWORK = "langgraph"
_PRUNE_STRATEGIES = ("keep_latest", "delete")


class LLMSpellSaver(BaseCheckpointSaver[int]):
    """LangGraph's ``BaseCheckpointSaver``, sync and async, on a llmspell Runtime.

    Args:
        runtime: the Runtime whose store keeps the checkpoints (any backend). It must have
            state and sessions enabled.
        serde: LangGraph's serializer (its default when None).
    """

    def __init__(self, runtime: Runtime, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        if not runtime.config.state.enabled or not runtime.config.session.enabled:
            raise ValidationError("runtime", "must have [state] and [session] enabled: "
                                  "threads are sessions and checkpoints are their state")
        self.runtime = runtime
        self.threads = ForeignSessions(runtime, FRAMEWORK)

    # -- reads ----------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint ``config`` names (its ``checkpoint_id``), or the thread's latest in
        its namespace; None when there is none."""
        thread_id, ns = _thread_and_ns(config)
        sid = self.threads.find(thread_id)
        if sid is None:
            return None
        scope = self.threads.scope(sid)
        state = self.runtime.state
        checkpoint_id = get_checkpoint_id(config)
        if checkpoint_id:
            check_foreign_id(checkpoint_id, "config['configurable']['checkpoint_id']")
            record = state.load(scope, _checkpoint_key(ns, checkpoint_id))
        else:
            record = next(self._newest_first(scope, _checkpoint_prefix(ns), 1), None)
        if record is None:
            return None
        return self._tuple(thread_id, scope, record)

    def list(self, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
             before: RunnableConfig | None = None,
             limit: int | None = None) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first: of ``config``'s thread (and namespace, and checkpoint id,
        when given) or of every thread, whose metadata holds every ``filter`` item, older
        than ``before``'s checkpoint, at most ``limit``."""
        if filter is not None and not isinstance(filter, dict):
            raise ValidationError("filter", "must be a dict of metadata values or None",
                                  got=filter)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise ValidationError("limit", "must be an int or None", got=limit)
        before_id = get_checkpoint_id(before) if before else None
        if config is not None:
            thread_id, _ = _thread_and_ns(config)
            sid = self.threads.find(thread_id)
            threads = [] if sid is None else [(thread_id, sid)]
            wanted_ns = config["configurable"].get("checkpoint_ns")
            wanted_id = get_checkpoint_id(config)
        else:
            threads = list(self.threads.ids())
            wanted_ns = wanted_id = None
        left = limit
        for thread_id, sid in threads:
            scope = self.threads.scope(sid)
            prefix = "cp/" if wanted_ns is None else _checkpoint_prefix(wanted_ns)
            for record in self._newest_first(scope, prefix):
                if wanted_id and record["id"] != wanted_id:
                    continue
                if before_id and record["id"] >= before_id:
                    continue
                metadata = self.serde.loads_typed(_typed(record["metadata"]))
                if filter and not all(metadata.get(k) == v for k, v in filter.items()):
                    continue
                if left is not None:
                    if left <= 0:
                        return
                    left -= 1
                yield self._tuple(thread_id, scope, record, metadata)

    # -- writes ---------------------------------------------------------------------------

    def put(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
            new_versions: ChannelVersions) -> RunnableConfig:
        """Store ``checkpoint`` (child of ``config``'s checkpoint id) and the values of the
        channels in ``new_versions``, in one transaction; returns the config naming it."""
        thread_id, ns = _thread_and_ns(config)
        if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("id"), str):
            raise ValidationError("checkpoint", "must be a Checkpoint dict with a str 'id'",
                                  got=checkpoint)
        if not isinstance(new_versions, dict):
            raise ValidationError("new_versions", "must be a dict of channel -> version",
                                  got=new_versions)
        scope = self.threads.scope(self.threads.ensure(thread_id))
        stored: dict[str, Any] = dict(checkpoint)
        values: dict[str, Any] = stored.pop("channel_values", None) or {}
        dumps = self.serde.dumps_typed
        own, parent_id = checkpoint["id"], config["configurable"].get("checkpoint_id")
        blobs = {channel: list(dumps(values[channel]) if channel in values
                               else ("empty", b"")) for channel in new_versions}
        versions = {c: str(v) for c, v in (stored.get("channel_versions") or {}).items()}
        where: dict[str, str | None] = {}
        parent: dict[str, Any] | None = None
        for channel, version in versions.items():
            if channel in new_versions and str(new_versions[channel]) == version:
                where[channel] = own
                continue
            if parent is None and parent_id:
                parent = self.runtime.state.load(scope, _checkpoint_key(ns, parent_id)) or {}
            if parent and parent.get("versions", {}).get(channel) == version:
                where[channel] = parent["where"].get(channel)
            else:  # not from the parent (a fork, a replayed put): any record with it
                where[channel] = self._holder(scope, ns, channel, version)
        record = {
            "ns": ns,
            "id": own,
            "parent": parent_id,
            "checkpoint": list(dumps(stored)),
            "metadata": list(dumps(get_checkpoint_metadata(config, metadata))),
            "blobs": blobs,
            "versions": versions,
            "where": where,
        }
        self.runtime.state.save(scope, _checkpoint_key(ns, own), record)
        return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns,
                                 "checkpoint_id": checkpoint["id"]}}

    def put_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]],
                   task_id: str, task_path: str = "") -> None:
        """Store a task's pending writes for ``config``'s checkpoint, in one transaction.
        A regular write already stored (same task and index) is kept; a special one (error,
        interrupt, ...) is replaced, as LangGraph's own savers do."""
        thread_id, ns = _thread_and_ns(config)
        checkpoint_id = check_foreign_id(get_checkpoint_id(config),
                                         "config['configurable']['checkpoint_id']")
        check_foreign_id(task_id, "task_id")
        if not isinstance(task_path, str):
            raise ValidationError("task_path", "must be a str", got=task_path)
        scope = self.threads.scope(self.threads.ensure(thread_id))
        state = self.runtime.state
        with state.transaction() as tx:
            for index, (channel, value) in enumerate(writes):
                idx = WRITES_IDX_MAP.get(channel, index)
                key = _write_key(ns, checkpoint_id, task_id, idx)
                if idx >= 0 and tx.exists(scope, key):
                    continue
                tx.save(scope, key, {"task_id": task_id, "channel": channel, "idx": idx,
                                     "task_path": task_path,
                                     "value": list(self.serde.dumps_typed(value))})

    def delete_thread(self, thread_id: str) -> None:
        """Delete a thread: its session, with every checkpoint and write."""
        self.threads.forget(check_foreign_id(thread_id, "thread_id"))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints (with their writes) whose metadata ``run_id`` is one of
        ``run_ids``, in every thread; the values remaining checkpoints need are kept. One
        transaction per thread."""
        if isinstance(run_ids, str) or not isinstance(run_ids, Sequence):
            raise ValidationError("run_ids", "must be a list of run ids", got=run_ids)
        for position, run_id in enumerate(run_ids):
            check_foreign_id(run_id, f"run_ids[{position}]")
        doomed = set(run_ids)
        if not doomed:
            return
        loads = self.serde.loads_typed
        for _, sid in list(self.threads.ids()):
            scope = self.threads.scope(sid)
            records = list(self._newest_first(scope, "cp/"))
            gone = [r for r in records
                    if loads(_typed(r["metadata"])).get("run_id") in doomed]
            if gone:
                self._drop(scope, [r for r in records if r not in gone])

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint and write of one thread into another (created when
        new), in one transaction."""
        source = check_foreign_id(source_thread_id, "source_thread_id")
        target = check_foreign_id(target_thread_id, "target_thread_id")
        sid = self.threads.find(source)
        if sid is None:
            return
        from_scope = self.threads.scope(sid)
        to_scope = self.threads.scope(self.threads.ensure(target))
        state = self.runtime.state
        state.save_many((to_scope, key, state.load(from_scope, key))
                        for key in state.list_keys(from_scope)
                        if key.startswith(("cp/", "write/")))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``keep_latest``: keep each namespace's newest checkpoint (with the values it
        refers to) and its writes; ``delete``: delete the threads."""
        if strategy not in _PRUNE_STRATEGIES:
            raise ValidationError("strategy", f"must be one of {', '.join(_PRUNE_STRATEGIES)}",
                                  got=strategy)
        for position, thread_id in enumerate(thread_ids):
            check_foreign_id(thread_id, f"thread_ids[{position}]")
        for thread_id in thread_ids:
            if strategy == "delete":
                self.threads.forget(thread_id)
            else:
                self._keep_latest(thread_id)

    # -- async: the same work, off the event loop -------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(self, config: RunnableConfig | None, *,
                    filter: dict[str, Any] | None = None, before: RunnableConfig | None = None,
                    limit: int | None = None) -> AsyncIterator[CheckpointTuple]:
        found = await asyncio.to_thread(
            lambda: [*self.list(config, filter=filter, before=before, limit=limit)])
        for item in found:
            yield item

    async def aput(self, config: RunnableConfig, checkpoint: Checkpoint,
                   metadata: CheckpointMetadata,
                   new_versions: ChannelVersions) -> RunnableConfig:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]],
                          task_id: str, task_path: str = "") -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *,
                     strategy: str = "keep_latest") -> None:
        await asyncio.to_thread(self.prune, thread_ids, strategy=strategy)

    # -- internals ------------------------------------------------------------------------

    def _tuple(self, thread_id: str, scope: str, record: dict[str, Any],
               metadata: Any = None) -> CheckpointTuple:
        ns, checkpoint_id, parent = record["ns"], record["id"], record["parent"]
        state = self.runtime.state
        loads = self.serde.loads_typed
        checkpoint: Checkpoint = loads(_typed(record["checkpoint"]))
        values: dict[str, Any] = {}
        holders: dict[str, dict[str, Any] | None] = {checkpoint_id: record}
        for channel, source in record["where"].items():
            if source is None:
                continue
            if source not in holders:
                holders[source] = state.load(scope, _checkpoint_key(ns, source))
            holder = holders[source]
            blob = None if holder is None else holder["blobs"].get(channel)
            if blob is not None and blob[0] != "empty":
                values[channel] = loads(_typed(blob))
        writes = [state.load(scope, key)
                  for key in state.list_keys(scope, _writes_prefix(ns, checkpoint_id))]
        writes.sort(key=lambda w: writes_sort_key(w["task_path"], w["task_id"], w["idx"]))

        def address(cid: str) -> RunnableConfig:
            return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns,
                                     "checkpoint_id": cid}}

        return CheckpointTuple(
            config=address(checkpoint_id),
            checkpoint={**checkpoint, "channel_values": values},
            metadata=loads(_typed(record["metadata"])) if metadata is None else metadata,
            parent_config=address(parent) if parent else None,
            pending_writes=[(w["task_id"], w["channel"], loads(_typed(w["value"])))
                            for w in writes],
        )

    def _newest_first(self, scope: str, prefix: str,
                      limit: int | None = None) -> Iterator[dict[str, Any]]:
        """The checkpoint records under ``prefix`` of ``scope``, in descending key order
        (namespace, then checkpoint id: LangGraph's ids sort by time), read one by one."""
        start = len(scope_prefix(scope))
        for full, _ in self.runtime.store.scan(scope_prefix(scope) + prefix, reverse=True,
                                               limit=limit):
            record = self.runtime.state.load(scope, full[start:])
            if record is not None:
                yield record

    def _keep_latest(self, thread_id: str) -> None:
        sid = self.threads.find(thread_id)
        if sid is None:
            return
        scope = self.threads.scope(sid)
        latest: dict[str, dict[str, Any]] = {}
        for record in self._newest_first(scope, "cp/"):
            latest.setdefault(record["ns"], record)  # newest first: the first of each ns
        self._drop(scope, list(latest.values()))

    def _drop(self, scope: str, kept: builtins.list[dict[str, Any]]) -> None:
        """Keep only the checkpoints ``kept`` in ``scope`` and their writes; a kept record
        that borrows a value from a record that goes gets its own copy first. One
        transaction."""
        state = self.runtime.state
        kept_ids = {(r["ns"], r["id"]) for r in kept}
        keep: set[str] = set()
        rewritten: builtins.list[dict[str, Any]] = []
        for record in kept:
            ns = record["ns"]
            keep.add(_checkpoint_key(ns, record["id"]))
            keep.update(state.list_keys(scope, _writes_prefix(ns, record["id"])))
            borrowed = {c: src for c, src in record["where"].items()
                        if src is not None and (ns, src) not in kept_ids}
            if borrowed:
                for channel, source in borrowed.items():
                    holder = state.load(scope, _checkpoint_key(ns, source))
                    blob = None if holder is None else holder["blobs"].get(channel)
                    if blob is None:
                        record["where"][channel] = None
                    else:
                        record["blobs"][channel] = blob
                        record["where"][channel] = record["id"]
                rewritten.append(record)
        with state.transaction() as tx:
            for record in rewritten:
                tx.save(scope, _checkpoint_key(record["ns"], record["id"]), record)
            for key in state.list_keys(scope):
                if key.startswith(("cp/", "write/")) and key not in keep:
                    tx.delete(scope, key)

    def _holder(self, scope: str, ns: str, channel: str, version: str) -> str | None:
        """The id of the checkpoint whose record holds ``channel`` at ``version`` (newest
        first), or None when none does."""
        for record in self._newest_first(scope, _checkpoint_prefix(ns)):
            if record.get("versions", {}).get(channel) == version:
                source: str | None = record["where"].get(channel)
                return source
        return None


def _thread_and_ns(config: object) -> tuple[str, str]:
    configurable = config.get("configurable") if isinstance(config, dict) else None
    if not isinstance(configurable, dict):
        raise ValidationError("config", "must be a dict with a 'configurable' dict",
                              got=config)
    thread_id = check_foreign_id(configurable.get("thread_id"),
                                 "config['configurable']['thread_id']")
    ns = configurable.get("checkpoint_ns", "")
    if not isinstance(ns, str):
        raise ValidationError("config['configurable']['checkpoint_ns']", "must be a str",
                              got=ns)
    return thread_id, ns


def _typed(stored: list[Any]) -> tuple[str, bytes]:
    return stored[0], stored[1]


def _checkpoint_prefix(ns: str) -> str:
    return f"cp/{encode_segment(ns)}/"


def _checkpoint_key(ns: str, checkpoint_id: str) -> str:
    return _checkpoint_prefix(ns) + encode_segment(checkpoint_id)


def _writes_prefix(ns: str, checkpoint_id: str) -> str:
    return f"write/{encode_segment(ns)}/{encode_segment(checkpoint_id)}/"


def _write_key(ns: str, checkpoint_id: str, task_id: str, idx: int) -> str:
    return _writes_prefix(ns, checkpoint_id) + f"{encode_segment(task_id)}/{idx}"
