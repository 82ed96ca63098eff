"""BackupManager: backups of state in ``[state] backup_dir`` (``runtime.backups``).

::

    backups = runtime.backups
    info = backups.backup(description="before the upgrade", include=["agent:*"])
    later = backups.backup(incremental=True)          # only what changed since, deletions too
    backups.verify_backup(later.id)                   # every checksum of the chain
    backups.restore(later.id, dry_run=True)           # what would change
    backups.restore(later.id)                         # safety backup first, then all at once
    backups.prune({"keep_last": 5, "max_age": "30d"}, dry_run=True)

Creation is :mod:`.create`, the file :mod:`.fileformat`, restore :mod:`.restore`, retention
:mod:`.retention`. Events ``backup.created``, ``backup.deleted``, ``backup.pruned``,
``restore.started``, ``restore.progress``, ``restore.completed``, ``restore.failed``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from llmspell.codec import stored_int
from llmspell.compression import check_codec_name
from llmspell.config_schema import default
from llmspell.errors import BackupError, BackupNotFound, LLMSpellError, ValidationError
from llmspell.protocols import EventPublisher
from llmspell.state.backup import catalog
from llmspell.state.backup.catalog import BackupInfo, chain_of, check_id, new_id
from llmspell.state.backup.create import PRUNED_KEY, store_identity, write_backup
from llmspell.state.backup.fileformat import ENTRY_FORMATS
from llmspell.state.backup.restore import load_chain, restore_records, verify_file
from llmspell.state.backup.retention import RetentionPolicy, plan_retention
from llmspell.state.backup.staging import Staged
from llmspell.state.manager import StateManager
from llmspell.state.scopes import CHANGE_PREFIX, change_key
from llmspell.state.selection import ScopeFilter
from llmspell.storage.base import Delete, Put
from llmspell.validation import check_callback, check_flag

Progress = Callable[[str, int, int], None]
_PRUNE_BATCH = 10000


class BackupManager:
    """Backups of ``state``'s records as files in ``directory``.

    Args:
        state: the StateManager whose records are backed up and restored.
        directory: where backup files live (``[state] backup_dir``).
        enabled: ``[state] backup_enabled``; when False, creating and restoring raise.
        entry_format, compression, level: defaults for new backups.
        safety: take a safety backup before each restore (default for ``restore``).
        events: the runtime's EventBus, or None.
    """

    def __init__(self, state: StateManager, directory: str | Path, *,
                 enabled: bool = default("state.backup_enabled"),
                 entry_format: str = default("state.backup_format"),
                 compression: str = default("state.backup_compression"),
                 level: int = default("state.backup_compression_level"),
                 safety: bool = default("state.backup_safety"),
                 retention: Any = None,
                 events: EventPublisher | None = None) -> None:
        self.state = state
        self.store = state.store
        self.directory = Path(directory)
        self.enabled = enabled
        self.entry_format = _format(entry_format)
        self.compression = check_codec_name(compression)
        self.level = level
        self.safety = safety
        self.retention = RetentionPolicy.from_spec(retention)
        #: What the automatic retention after the last backup deleted (``prune``'s report),
        #: or None when no retention is configured or no backup was taken yet.
        self.last_retention: dict[str, Any] | None = None
        self.events = events
        #: Called after a restore wrote: the runtime's caches of what it replaced forget it.
        self.after_restore: list[Callable[[], None]] = []

    @classmethod
    def from_runtime(cls, runtime: Any) -> BackupManager:
        setting = runtime.config.setting
        return cls(runtime.state, runtime.config.state.backup_dir,
                   enabled=setting("state.backup_enabled"),
                   entry_format=setting("state.backup_format"),
                   compression=setting("state.backup_compression"),
                   level=setting("state.backup_compression_level"),
                   safety=setting("state.backup_safety"),
                   retention=configured_retention(setting), events=runtime.events)

    # -- creating ---------------------------------------------------------------------------

    def backup(self, *, description: str = "", include: Any = None, exclude: Any = None,
               incremental: bool = False, parent: str | None = None,
               format: str | None = None, compression: str | None = None,
               progress: Progress | None = None, safety: bool = False) -> BackupInfo:
        """Write a backup file of the scopes matching ``include`` (globs; all when None) and
        no ``exclude`` glob; returns its manifest. ``format``: ``json`` or ``binary`` entries;
        ``compression``: ``zstd``, ``lz4`` or ``none`` (defaults from ``[state]``).

        ``incremental``: hold only what changed (and what was deleted) since ``parent`` (by
        default the newest backup of this store with the same include/exclude); when there is
        none, a full backup is taken and its ``kind`` says so.

        Raises:
            ValidationError: a bad argument. BackupError: backups are disabled, the parent is
                unusable (another store, other scopes, change log pruned), or the file cannot
                be written. BackupNotFound: ``parent`` does not exist.
        """
        self._check_enabled("back up")
        if not isinstance(description, str):
            raise ValidationError("description", "must be a string", got=description)
        check_flag(incremental, "incremental")
        check_flag(safety, "safety")
        check_callback(progress, "progress")
        scopes = ScopeFilter(include, exclude)
        chosen = self._parent(parent, scopes) if incremental or parent else None
        catalog.remove_stale_temps(self.directory)
        info = write_backup(self.state, self.directory, backup_id=self._fresh_id(),
                            description=description, scopes=scopes, parent=chosen,
                            entry_format=_format(format or self.entry_format),
                            compression=check_codec_name(compression or self.compression),
                            level=self.level, safety=safety, progress=progress)
        self._publish("backup.created", _summary(info))
        if not safety and not self.retention.empty:
            self.last_retention = self.prune(self.retention, automatic=True)
        return info

    def _parent(self, parent: str | None, scopes: ScopeFilter) -> BackupInfo | None:
        mine = store_identity(self.store)["id"]
        if parent is not None:
            found = self.get(parent)
            if found.store.get("id") != mine:
                other = found.store.get("url")
                raise BackupError(f"backup {parent} is of another store ({other}); an "
                                  "incremental needs a parent of this store")
            if (found.include, found.exclude) != (scopes.include, scopes.exclude):
                raise BackupError(f"backup {parent} covers include={found.include} exclude="
                                  f"{found.exclude}; an incremental on it must cover the same")
            return found
        same = [b for b in self.list_backups() if b.store.get("id") == mine and b.problem is None
                and (b.include, b.exclude) == (scopes.include, scopes.exclude)]
        return same[-1] if same else None

    def _fresh_id(self) -> str:
        while True:
            backup_id = new_id()
            if not (self.directory / (backup_id + catalog.SUFFIX)).exists():
                return backup_id

    # -- reading ----------------------------------------------------------------------------

    def list_backups(self) -> list[BackupInfo]:
        """Every backup in the directory, oldest first (damaged ones with ``problem`` set)."""
        return sorted(catalog.scan_dir(self.directory), key=lambda b: (b.created_at, b.id))

    def get(self, backup_id: str) -> BackupInfo:
        """The manifest of one backup, named by its id or a unique prefix of it.

        Raises:
            BackupNotFound: no such backup, or the prefix starts several ids.
            BackupCorrupt: its header or trailer is damaged.
        """
        return catalog.read_info(self._path(self.resolve(backup_id)))

    def resolve(self, ref: str) -> str:
        """The id ``ref`` names: an exact id, or the one id starting with ``ref`` (as
        session ids: ``llmspell backup restore 20250729T1200``).

        Raises:
            ValidationError: ``ref`` is not (the start of) a backup id.
            BackupNotFound: no backup id starts with it, or several do (named).
        """
        check_id(ref)
        if self._path(ref).is_file():
            return ref
        found = sorted(p.name[:-len(catalog.SUFFIX)]
                       for p in self.directory.glob(f"{ref}*{catalog.SUFFIX}")
                       if p.is_file())
        if len(found) == 1:
            return found[0]
        if found:
            shown = ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")
            raise BackupNotFound(f"{ref!r} is the start of {len(found)} backup ids ({shown}); "
                                 "give more of it")
        raise BackupNotFound(f"no backup with id {ref!r} (or starting with it) in "
                             f"{self.directory}")

    def verify_backup(self, backup_id: str, *, chain: bool = True,
                      progress: Progress | None = None) -> dict[str, Any]:
        """Read the backup (and, with ``chain``, its parents) checking every SHA-256.

        Returns ``{"id", "valid": True, "chain": [...ids], "entries": N}``.

        Raises:
            BackupCorrupt: naming the backup and what is wrong (header, trailer, payload, or
                the entry). BackupNotFound: it, or a parent, is missing.
        """
        check_flag(chain, "chain")
        check_callback(progress, "progress")
        info = self.get(backup_id)
        files = chain_of(info, self.get) if chain else [info]
        entries = 0
        for item in files:
            def step(done: int, total: int = item.entries) -> None:
                if progress is not None:
                    progress("verify", done, total)

            for _ in verify_file(item, progress=step):
                entries += 1
        return {"id": info.id, "valid": True, "chain": [b.id for b in files],
                "entries": entries}

    # -- restoring --------------------------------------------------------------------------

    def restore(self, backup_id: str, *, verify: bool = True, dry_run: bool = False,
                safety_backup: bool | None = None,
                progress: Progress | None = None) -> dict[str, Any]:
        """Make the backed-up scopes hold exactly what backup ``backup_id`` holds.

        The chain is read and verified first; then, when the restore would change something
        (and unless ``dry_run`` or ``safety_backup`` is False), a safety backup of what it
        covers is taken; then one transaction, written in chunks, puts back every differing
        record and deletes the ones the backup lacks. A backup with no include/exclude covers
        the whole store (state, sessions, journals, artifacts, blobs; see :mod:`.coverage`).

        Returns ``{"id", "chain", "puts", "deletes", "unchanged", "safety_backup",
        "dry_run", ...}``.

        Raises:
            BackupNotFound, BackupCorrupt: as :meth:`verify_backup`; nothing was changed.
            BackupError: backups are disabled or the store refused the batch.
        """
        for argument, flag in (("verify", verify), ("dry_run", dry_run)):
            check_flag(flag, argument)
        if safety_backup is not None:
            check_flag(safety_backup, "safety_backup")
        check_callback(progress, "progress")
        if not dry_run:
            self._check_enabled("restore")
        started = time.perf_counter()
        info = self.get(backup_id)
        chain = chain_of(info, self.get)
        self._publish("restore.started", {"id": info.id, "chain": [b.id for b in chain],
                                          "dry_run": dry_run})
        report = self._progress(progress)
        try:
            with Staged(self.directory) as staged:
                counts, entries, safety, safety_bytes = self._restore(
                    info, chain, staged, verify=verify, dry_run=dry_run,
                    safety_backup=safety_backup, report=report)
        except LLMSpellError as exc:
            self._publish("restore.failed", {"id": info.id, "error": str(exc)})
            raise
        done = {"id": info.id, "chain": [b.id for b in chain], "entries": entries,
                "dry_run": dry_run, "safety_backup": None if dry_run else safety,
                "safety_backup_bytes": safety_bytes, **counts,
                "elapsed_seconds": time.perf_counter() - started}
        self._publish("restore.completed", {k: v for k, v in done.items()
                                            if not k.startswith("sample")})
        return done

    def _restore(self, info: BackupInfo, chain: list[BackupInfo], staged: Staged, *,
                 verify: bool, dry_run: bool, safety_backup: bool | None,
                 report: Progress | None) -> tuple[dict[str, Any], int, str | None, int]:
        """The steps of :meth:`restore` with the chain staged in ``staged``: the counts, the
        backup's entries, and the safety backup taken (id and bytes, or None and 0)."""
        entries = load_chain(chain, staged, verify=verify, progress=report)
        scopes = ScopeFilter(info.include, info.exclude)
        safety: str | None = None
        safety_bytes = 0

        def plan(dry: bool, expected: int = 0) -> dict[str, Any]:
            return restore_records(self.state, staged, scopes, coverage=info.coverage,
                                   seq_to=info.seq_to, dry_run=dry,
                                   progress=None if dry else report, expected=expected)

        guard = not dry_run and (self.safety if safety_backup is None else safety_backup)
        # Planned first only when it decides something: whether a safety backup is due.
        counts = plan(True) if dry_run or guard else {}
        if guard and not counts["puts"] + counts["deletes"]:
            for key in ("sample_puts", "sample_deletes"):
                counts.pop(key, None)  # nothing to change: no safety backup, no write
        elif not dry_run:
            if guard:
                if report is not None:
                    report("safety backup", 0, 1)
                taken = self.backup(
                    description=f"safety backup before restoring {info.id}",
                    include=info.include, exclude=info.exclude, safety=True)
                safety, safety_bytes = taken.id, taken.file_bytes
                if report is not None:
                    report("safety backup", 1, 1)
            counts = plan(False, counts.get("puts", 0) + counts.get("deletes", 0))
            for forget in self.after_restore:
                forget()
        return counts, entries, safety, safety_bytes

    # -- deleting and retention -------------------------------------------------------------

    def delete_backup(self, backup_id: str, *, cascade: bool = False) -> list[str]:
        """Delete a backup file; returns the ids deleted.

        Raises:
            BackupNotFound: no such backup. BackupError: incrementals are built on it (they
                are named) and ``cascade`` is False; with ``cascade`` they are deleted too.
        """
        backup_id = self.resolve(backup_id)
        every = self.list_backups()
        doomed = [backup_id]
        for b in every:  # oldest first, so a child's parent is seen before it
            if b.parent in doomed and b.id not in doomed:
                doomed.append(b.id)
        if len(doomed) > 1 and not cascade:
            raise BackupError(f"backup {backup_id} is the parent of incremental backup(s) "
                              f"{', '.join(doomed[1:])}; delete those first, or cascade")
        for found in reversed(doomed):
            self._path(found).unlink(missing_ok=True)
        catalog.sync_dir(self.directory)
        self._publish("backup.deleted", {"ids": doomed})
        return doomed

    def prune(self, policy: Any = None, *, dry_run: bool = False,
              prune_changes: bool = True, now: float | None = None,
              automatic: bool = False) -> dict[str, Any]:
        """Delete the backups ``policy`` does not keep (see :mod:`.retention`), and the
        change-log entries no kept backup of this store needs. :meth:`backup` calls it with
        the configured policy (``automatic``) after every backup but a restore's safety one.

        Returns ``{"kept": [{id, reasons}], "deleted": [ids], "freed_bytes", "dry_run",
        "automatic", "changes_pruned", "changes_pruned_through"}``.
        """
        rules = RetentionPolicy.from_spec(policy)
        if rules.empty:
            raise ValidationError("policy", "names no rule: give keep_last, keep_daily, "
                                  "keep_weekly, keep_monthly, max_age or max_total_bytes")
        backups = [b for b in self.list_backups() if b.problem is None]
        reasons, deleted = plan_retention(backups, rules, now)
        if not dry_run:
            for b in deleted:
                b.path.unlink(missing_ok=True)
            catalog.sync_dir(self.directory)
        kept = [b for b in backups if b.id in reasons]
        through, removed = self._prune_changes(kept, dry_run=dry_run or not prune_changes)
        result = {"dry_run": dry_run, "automatic": automatic,
                  "kept": [{"id": b.id, "reasons": reasons[b.id]} for b in reversed(kept)],
                  "deleted": [b.id for b in deleted],
                  "freed_bytes": sum(b.file_bytes for b in deleted),
                  "changes_pruned": removed if prune_changes else 0,
                  "changes_pruned_through": through if prune_changes else None}
        if not dry_run:
            self._publish("backup.pruned", {k: v for k, v in result.items() if k != "kept"})
        return result

    def _prune_changes(self, kept: list[BackupInfo], *, dry_run: bool) -> tuple[int | None, int]:
        """Remove ``chg/`` entries up to the oldest ``seq_to`` of this store's kept backups
        (an incremental on any kept backup reads only entries after its ``seq_to``)."""
        mine = store_identity(self.store)["id"]
        needed = [b.seq_to for b in kept if b.store.get("id") == mine]
        if not needed:
            return None, 0
        through = min(needed)
        end = change_key(through)
        store = self.store
        if dry_run:
            return through, sum(1 for _ in _through(store.keys(CHANGE_PREFIX), end))
        pruned = max(through, stored_int(store.get(PRUNED_KEY), PRUNED_KEY))
        removed = 0
        while True:
            keys = list(_through(store.keys(CHANGE_PREFIX, limit=_PRUNE_BATCH), end))
            if not keys:
                break
            store.batch([*(Delete(k) for k in keys), Put(PRUNED_KEY, str(pruned).encode())])
            removed += len(keys)
            if len(keys) < _PRUNE_BATCH:
                break
        return through, removed

    # -- internals --------------------------------------------------------------------------

    def _path(self, backup_id: str) -> Path:
        return self.directory / (check_id(backup_id) + catalog.SUFFIX)

    def _check_enabled(self, doing: str) -> None:
        if not self.enabled:
            raise BackupError(f"cannot {doing}: backups are disabled ([state] backup_enabled = "
                              "false)")

    def _progress(self, callback: Progress | None) -> Progress | None:
        events = self.events
        if callback is None and events is None:
            return None

        def report(phase: str, done: int, total: int) -> None:
            if events is not None:
                events.publish("restore.progress", {"phase": phase, "done": done,
                                                    "total": total}, source="backup")
            if callback is not None:
                callback(phase, done, total)
        return report

    def _publish(self, kind: str, data: dict[str, Any]) -> None:
        if self.events is not None:
            self.events.publish(kind, data, source="backup", redact=True)


def configured_retention(setting: Callable[[str], Any]) -> dict[str, Any]:
    """The retention policy ``[state] backup_keep_* / backup_max_*`` configure (``setting``:
    ``config.setting``); an empty policy when none is set."""
    return {"keep_last": setting("state.backup_keep_last"),
            "keep_daily": setting("state.backup_keep_daily"),
            "keep_weekly": setting("state.backup_keep_weekly"),
            "keep_monthly": setting("state.backup_keep_monthly"),
            "max_age": setting("state.backup_max_age") or None,
            "max_total_bytes": setting("state.backup_max_total_bytes") or None}


def _through(keys: Iterator[str], end: str) -> Iterator[str]:
    for key in keys:
        if key > end:
            return
        yield key


def _format(name: Any) -> str:
    if name not in ENTRY_FORMATS:
        raise ValidationError("format", f"must be one of {', '.join(ENTRY_FORMATS)}", got=name)
    return str(name)


def _summary(info: BackupInfo) -> dict[str, Any]:
    return {"id": info.id, "kind": info.kind, "parent": info.parent, "entries": info.entries,
            "file_bytes": info.file_bytes, "description": info.description}
