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
    from llmspell.sessions import SessionManager
    from llmspell.state import StateManager


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
                else:
                    built.close()
                manager = self._sessions
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
