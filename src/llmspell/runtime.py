"""The Runtime: the one object that owns the storage and the subsystems built on it.

The Python API, the Lua globals and the CLI all work through a Runtime. Build one from the
configuration (``Runtime.from_config()``), or on the memory backend for tests and experiments
(``Runtime.memory()``); close it (or use ``with``) to release the store.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmspell.config import Config, load_config
from llmspell.events import EventBus
from llmspell.hooks import BreakerPolicy, HookRegistry
from llmspell.storage import Store, open_store

if TYPE_CHECKING:
    from llmspell.artifacts import ArtifactCollector, ArtifactManager
    from llmspell.sessions import SessionManager
    from llmspell.state import StateManager
    from llmspell.state.backup import BackupManager
    from llmspell.state.migration import Migrator


class Runtime:
    """Owns the store and the subsystems; later issues add state, sessions, artifacts..."""

    def __init__(self, config: Config, *, store: Store | None = None) -> None:
        self.config = config
        self.store: Store = store if store is not None else open_store(
            config.storage.url, durability=config.storage.durability)
        self._closed = False
        self._lock = threading.Lock()
        self.events, self.hooks = build_hooks_and_events(config)
        self._state: StateManager | None = None
        self._sessions: SessionManager | None = None
        self._artifacts: ArtifactManager | None = None
        self.collector: ArtifactCollector | None = None
        if config.session.enabled and config.get("session.artifact_auto_collect", True):
            from llmspell.artifacts.collectors import install_collectors

            self.collector = install_collectors(self)
        self._migrations: Migrator | None = None
        self._backups: BackupManager | None = None
        if config.state.enabled and config.get("state.migrate_on_open", False):
            try:
                self.migrations.apply_pending()  # [state] migrations, registered in code
            except BaseException:
                self.close()
                raise

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None, *,
                    overrides: Mapping[str, Any] | None = None, cwd: Path | None = None) -> Runtime:
        """Load ``llmspell.toml`` (see :func:`llmspell.config.load_config`) and open the store."""
        return cls(load_config(path, overrides=overrides, cwd=cwd))

    @classmethod
    def memory(cls, **overrides: Any) -> Runtime:
        """A runtime that keeps everything in memory. ``overrides`` as in Config.defaults."""
        overrides.setdefault("storage__url", "memory://")
        return cls(Config.defaults(**overrides))

    # -- state (issue 4) ---------------------------------------------------------------------

    @property
    def state(self) -> StateManager:
        """The StateManager on this runtime's store, built on first use from ``[state]``.

        Raises:
            StateError: ``[state] enabled = false``.
        """
        manager = self._state
        if manager is None:
            if not self.config.state.enabled:
                from llmspell.errors import StateError

                raise StateError("state is disabled ([state] enabled = false in the "
                                 "configuration)")
            from llmspell.state import StateManager

            with self._lock:
                if self._state is None:
                    self._state = StateManager.from_config(
                        self.store, self.config.state, hooks=self.hooks, events=self.events)
                manager = self._state
        return manager

    # -- sessions (issue 6) ------------------------------------------------------------------

    @property
    def sessions(self) -> SessionManager:
        """The SessionManager on this runtime's store, built on first use from ``[session]``.

        It journals state writes (when state is enabled), hook executions and events of
        sessions. Raises SessionError on use when ``[session] enabled = false``.
        """
        manager = self._sessions
        if manager is None:
            from llmspell.sessions import SessionManager

            built = SessionManager.from_runtime(self)  # outside the lock: it reads .state
            with self._lock:
                if self._sessions is None:
                    self._sessions = built
                    built.on_delete(self._drop_session_artifacts)
                else:
                    built.close()
                manager = self._sessions
        return manager

    # -- artifacts (issue 7) -----------------------------------------------------------------

    @property
    def artifacts(self) -> ArtifactManager:
        """The ArtifactManager on this runtime's store, built on first use from ``[session]``
        (blob files under ``[session] storage_path``, default ``<data_dir>/blobs``).

        Raises:
            SessionError: ``[session] enabled = false``.
        """
        manager = self._artifacts
        if manager is None:
            if not self.config.session.enabled:
                from llmspell.errors import SessionError

                raise SessionError("artifacts belong to sessions, and sessions are disabled "
                                   "([session] enabled = false in the configuration)")
            from llmspell.artifacts import ArtifactManager

            built = ArtifactManager.from_runtime(self)  # outside the lock: it reads .sessions
            with self._lock:
                if self._artifacts is None:
                    self._artifacts = built
                manager = self._artifacts
        return manager

    def _drop_session_artifacts(self, session_id: str) -> None:
        """A deleted session's artifact references go with it (SessionManager.on_delete)."""
        self.artifacts.delete_session(session_id)

    # -- migrations and backups (issue 5) ----------------------------------------------------

    @property
    def migrations(self) -> Migrator:
        """Schema versions and migrations of this runtime's state (``[state] migrations`` are
        registered). Raises StateError on use when state is disabled."""
        migrator = self._migrations
        if migrator is None:
            from llmspell.state.migration import Migrator

            built = Migrator.from_runtime(self)  # outside the lock: it reads .state
            with self._lock:
                if self._migrations is None:
                    self._migrations = built
                migrator = self._migrations
        return migrator

    @property
    def backups(self) -> BackupManager:
        """Backups of this runtime's state in ``[state] backup_dir``. Raises StateError on use
        when state is disabled."""
        manager = self._backups
        if manager is None:
            from llmspell.state.backup import BackupManager

            built = BackupManager.from_runtime(self)  # outside the lock: it reads .state
            with self._lock:
                if self._backups is None:
                    self._backups = built
                manager = self._backups
        return manager

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the store. Calling it again does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._sessions is not None:
            self._sessions.close()
        self.store.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else self.config.storage.url
        return f"<Runtime {state}>"


def build_hooks_and_events(config: Config) -> tuple[EventBus, HookRegistry]:
    """The event bus and hook registry from ``[runtime.events]`` and ``[runtime.hooks]``."""
    events_cfg, hooks_cfg = config.values["runtime.events"], config.values["runtime.hooks"]
    events = EventBus(max_queue=events_cfg["event_buffer_size"],
                      max_subscriptions=events_cfg["max_subscribers"],
                      overflow=events_cfg["overflow"])
    hooks = HookRegistry(
        publish=events.publish,
        breaker=BreakerPolicy(failure_threshold=hooks_cfg["failure_threshold"],
                              cooldown=float(hooks_cfg["cooldown_seconds"])),
        default_time_budget=float(hooks_cfg["default_time_budget_seconds"]) or None,
        max_hooks=hooks_cfg["max_hooks"],
    )
    for name in hooks_cfg["builtin"]:
        hooks.enable_builtin(name)
    events.hooks = hooks  # so event:before_emit / event:after_emit fire
    return events, hooks
