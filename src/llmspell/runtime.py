"""The Runtime: the one object that owns the storage and the subsystems built on it.

The Python API, the Lua globals and the CLI all work through a Runtime. Build one from the
configuration (``Runtime.from_config()``), or on the memory backend for tests and experiments
(``Runtime.memory()``); close it (or use ``with``) to release the store.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from llmspell.config import Config, load_config
from llmspell.errors import LLMSpellError
from llmspell.events import EventBus
from llmspell.hooks import BreakerPolicy, HookRegistry
from llmspell.redact import Redactor, install_log_redaction
from llmspell.storage import Store, open_store

if TYPE_CHECKING:
    from llmspell.agents import AgentRegistry
    from llmspell.artifacts import ArtifactCollector, ArtifactManager
    from llmspell.providers import ProviderRegistry
    from llmspell.sessions import SessionManager
    from llmspell.sessions.enforcement import CountInBatch
    from llmspell.state import StateManager
    from llmspell.state.backup import BackupManager
    from llmspell.state.migration import Migrator
    from llmspell.tools import ToolService
    from llmspell.workflows import WorkflowService

T = TypeVar("T")


class Runtime:
    """Owns the store and the subsystems; later issues add state, sessions, artifacts..."""

    def __init__(self, config: Config, *, store: Store | None = None) -> None:
        self.config = config
        install_log_redaction(config.state.redact_patterns)  # llmspell log records, from now on
        self.store: Store = store if store is not None else open_store(
            config.storage.url, durability=config.storage.durability)
        self._closed = False
        self._lock = threading.Lock()
        self.events, self.hooks = build_hooks_and_events(config)
        #: The relay carrying events to and from other processes (postgres only), or None.
        self.relay: Any = None
        if config.setting("runtime.events.cross_process") and hasattr(self.store, "connect"):
            from llmspell.events.pgrelay import PgRelay

            self.relay = PgRelay(self.events, self.store)
        self._state: StateManager | None = None
        self._sessions: SessionManager | None = None
        self._artifacts: ArtifactManager | None = None
        self._providers: ProviderRegistry | None = None
        self._agents: AgentRegistry | None = None
        self.collector: ArtifactCollector | None = None
        if config.session.enabled and config.setting("session.artifact_auto_collect"):
            from llmspell.artifacts.collectors import install_collectors

            self.collector = install_collectors(self)
        self._migrations: Migrator | None = None
        self._backups: BackupManager | None = None
        self._tools: ToolService | None = None
        self._workflows: WorkflowService | None = None
        if config.state.enabled and config.setting("state.migrate_on_open"):
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

    # -- subsystems, each built on first use ------------------------------------------------

    def _built(self, attribute: str, build: Callable[[], T],
               on_built: Callable[[T], None] | None = None) -> T:
        """The subsystem kept in ``attribute``, built by ``build()`` the first time.

        ``build`` runs outside the lock (builders read other subsystems, which take it); if
        another thread built one meanwhile, that one is kept and ours is closed.
        """
        current: T = getattr(self, attribute)
        if current is not None:
            return current
        built = build()
        with self._lock:
            current = getattr(self, attribute)
            if current is None:
                setattr(self, attribute, built)
                if on_built is not None:
                    on_built(built)
                return built
        close = getattr(built, "close", None)
        if close is not None:
            close()
        return current

    def unavailable(self, subsystem: str) -> LLMSpellError | None:
        """Why ``subsystem`` ("state", "sessions" or "artifacts") is off in this runtime's
        configuration, as the error its use raises; None when it is on. Builds nothing."""
        from llmspell.errors import SessionError, StateError, ValidationError

        if subsystem == "state":
            if self.config.state.enabled:
                return None
            return StateError("state is disabled ([state] enabled = false in the configuration)")
        if subsystem in ("sessions", "artifacts"):
            if self.config.session.enabled:
                return None
            if subsystem == "sessions":
                from llmspell.sessions.manager import DISABLED

                return SessionError(DISABLED)
            return SessionError("artifacts belong to sessions, and sessions are disabled "
                                "([session] enabled = false in the configuration)")
        raise ValidationError("subsystem", "must be state, sessions or artifacts", got=subsystem)

    @property
    def state(self) -> StateManager:
        """The StateManager on this runtime's store, built on first use from ``[state]``.

        Raises:
            StateError: ``[state] enabled = false``.
        """
        if self._state is None and (off := self.unavailable("state")) is not None:
            raise off

        def build() -> StateManager:
            from llmspell.state import StateManager

            return StateManager.from_config(self.store, self.config.state, hooks=self.hooks,
                                            events=self.events)

        def wire(built: StateManager) -> None:
            if self.config.session.enabled:
                # Writes to a session's scope are journaled and fenced (sessions.lease) by the
                # session manager: a runtime that writes one before touching rt.sessions
                # builds it then, from inside that first write's commit.
                built.add_contributor(self._first_session_write,
                                      wants=lambda scope: scope.startswith("session:"))

        return self._built("_state", build, wire)

    def _first_session_write(self, changes: list[Any]) -> Any:
        """The stand-in contributor until the session manager exists (see ``state``)."""
        state = self._state
        assert state is not None
        state.remove_contributor(self._first_session_write)
        sessions = self.sessions  # attaches its recorder, the real contributor
        recorder = sessions.recorder
        return None if recorder is None else recorder.contribute(changes)

    @property
    def sessions(self) -> SessionManager:
        """The SessionManager on this runtime's store, built on first use from ``[session]``.

        It journals state writes (when state is enabled), hook executions and events of
        sessions. Raises SessionError on use when ``[session] enabled = false``.
        """
        if self._sessions is not None:  # built: no closures made (read on every agent call)
            return self._sessions

        def build() -> SessionManager:
            from llmspell.sessions import SessionManager

            return SessionManager.from_runtime(self)

        def wire(built: SessionManager) -> None:
            built.on_delete(self._drop_session_artifacts)
            if self._state is not None:  # its recorder journals session writes from now on
                self._state.remove_contributor(self._first_session_write)
            if self.config.state.enabled:
                self.state.set_session_check(built.current_var, self._session_rules(built))

        return self._built("_sessions", build, wire)

    def _session_rules(self, sessions: SessionManager) -> Callable[
            [str, str, tuple[tuple[str, str, int], ...]], CountInBatch | None]:
        """What a session's state operations obey (docs/sessions.md), while it is current:

        - isolation: the ``session:<A>`` scope of another session A may be read or written
          only as far as A granted this one (``Artifact.grant``: one grant covers A's
          artifacts and its state scope);
        - every write (save, delete, clear, compare_and_set; a transaction's writes together
          when it commits) is an operation of the session: admitted by its policies
          (operation limit, rate limits of kind ``state.write``, the composition) and
          counted; writes to its own scope are also checked against its ``memory`` limit
          (the scope's bytes with the new values in place, plus its artifact bytes).
        """
        state = self.state

        def check(sid: str, access: str,
                  items: tuple[tuple[str, str, int], ...]) -> CountInBatch | None:
            own = f"session:{sid}"
            asking = "read" if access == "read" else "write"
            for scope, _key, _size in items:
                if scope != own and scope.startswith("session:"):
                    self.artifacts.permissions.check(
                        scope[len("session:"):], sid, asking, f"{asking} {scope}",
                        subject="the state scope of", component="state")
            if access != "write":
                return None
            memory = 0
            mine = [(key, size) for scope, key, size in items if scope == own]
            if any(size for _, size in mine):  # only deletes: the footprint only shrinks
                limit = sessions.limits_of(sid).memory
                if limit is not None:
                    memory = (state.scope_bytes(own, [key for key, _ in mine if key])
                              + sum(size for _, size in mine)
                              + sessions.get(sid).counters.artifact_bytes)
            # Counted in the write's own batch (one commit; its limits checked again there).
            return sessions.admission(sid, "state.write", operations=len(items),
                                      memory=memory)
        return check

    @property
    def artifacts(self) -> ArtifactManager:
        """The ArtifactManager on this runtime's store, built on first use from ``[session]``
        (content lives in the store; an older store's blob files are read from ``[session]
        storage_path``, default ``<data_dir>/blobs``).

        Raises:
            SessionError: ``[session] enabled = false``.
        """
        if self._artifacts is not None:  # built: no closure made (read on every collection)
            return self._artifacts
        if (off := self.unavailable("artifacts")) is not None:
            raise off

        def build() -> ArtifactManager:
            from llmspell.artifacts import ArtifactManager

            return ArtifactManager.from_runtime(self)

        return self._built("_artifacts", build)

    @property
    def providers(self) -> ProviderRegistry:
        """The LLM providers of ``[providers]`` and the built-ins, built on first use."""
        def build() -> ProviderRegistry:
            from llmspell.providers import ProviderRegistry

            return ProviderRegistry.from_config(self.config)

        return self._built("_providers", build)

    @property
    def agents(self) -> AgentRegistry:
        """The agents of this runtime (``create``, ``get``, ``list``...), built on first use.
        Their calls are journaled in, counted by and limited by the current session when
        sessions are on; their state is saved to scope ``agent:<name>`` when state is on."""
        if self._agents is not None:  # built: no closure made (read on every Lua agent call)
            return self._agents

        def build() -> AgentRegistry:
            from llmspell.agents import AgentRegistry

            return AgentRegistry(
                providers=self.providers, hooks=self.hooks, events=self.events,
                sessions=lambda: self.sessions if self.config.session.enabled else None,
                state=lambda: self.state, state_available=lambda: self.config.state.enabled)

        return self._built("_agents", build)

    def _drop_session_artifacts(self, session_id: str) -> None:
        """A deleted session's artifact references go with it (SessionManager.on_delete)."""
        self.artifacts.delete_session(session_id)

    @property
    def migrations(self) -> Migrator:
        """Schema versions and migrations of this runtime's state (``[state] migrations`` are
        registered). Raises StateError on use when state is disabled."""
        def build() -> Migrator:
            from llmspell.state.migration import Migrator

            return Migrator.from_runtime(self)

        return self._built("_migrations", build)

    @property
    def backups(self) -> BackupManager:
        """Backups of this runtime's state in ``[state] backup_dir``. Raises StateError on use
        when state is disabled."""
        def build() -> BackupManager:
            from llmspell.state.backup import BackupManager

            manager = BackupManager.from_runtime(self)
            manager.after_restore.append(self._forget_cached)
            return manager

        return self._built("_backups", build)

    def _forget_cached(self) -> None:
        """After a restore: the managers' caches of what it replaced are dropped."""
        if self._sessions is not None:
            self._sessions.forget_cached()

    @property
    def tools(self) -> ToolService:
        """The tools of this runtime (the built-ins and those registered), and the one way to
        call them (``rt.tools.invoke(name, params)``), built on first use."""
        def build() -> ToolService:
            from llmspell.tools import ToolService

            return ToolService.from_runtime(self)

        return self._built("_tools", build)

    @property
    def workflows(self) -> WorkflowService:
        """The workflows of this runtime (``sequential``/``parallel``/``conditional``/``loop``,
        ``resume``, ``cancel``, ``runs``), built on first use; runs are recorded in state
        (scope ``workflow:<run id>``), so running one needs ``[state] enabled``."""
        def build() -> WorkflowService:
            from llmspell.workflows import WorkflowService

            return WorkflowService.from_runtime(self)

        return self._built("_workflows", build)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the store. Calling it again does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._agents is not None:
            self._agents.close()
        if self._providers is not None:
            self._providers.close()
        if self._sessions is not None:
            self._sessions.close()
        if self.relay is not None:
            self.relay.close()
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
                      overflow=events_cfg["overflow"],
                      redactor=Redactor(config.state.redact_patterns))
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
