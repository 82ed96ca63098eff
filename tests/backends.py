"""Where a test's store lives: one fresh place per test on each backend, and what suites build
on it (a store, a StateManager, a SessionManager, a Runtime).

The root conftest's ``backend`` fixture runs a test once per name in
:data:`llmspell.testing.BACKENDS`, skipped with the reason where a backend cannot run here, so
adding a backend there adds it to every suite. A test that needs fewer backends narrows the
fixture: ``@pytest.mark.parametrize("backend", EMBEDDED, indirect=True)`` on a test, or
``backend = backend_fixture([...])`` for a whole module. (A module, not conftest.py, so tests
can import ``Backend`` and ``make_backend``; tests/ is on sys.path.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from llmspell import Runtime
from llmspell.lua import LuaEngine
from llmspell.sessions import ManualClock, SessionManager, SessionSettings
from llmspell.state import StateManager
from llmspell.testing import (
    BACKENDS,
    EMBEDDED_BACKENDS,
    StoreLocation,
    backend_unavailable,
    fresh_store_url,
)

__all__ = ["BACKENDS", "EMBEDDED", "MULTI_PROCESS", "ON_DISK", "Backend", "backend_fixture",
           "make_backend", "runtime_for", "slow_on", "snapshot"]

#: The backends that run inside the process (for ``parametrize(..., indirect=True)``).
EMBEDDED = list(EMBEDDED_BACKENDS)
#: The embedded backends that keep their data in files (a process can be killed mid-write).
ON_DISK = [name for name in EMBEDDED if name != "memory"]
#: The backends several processes may open at once.
MULTI_PROCESS = [name for name in BACKENDS if name in ("sqlite", "lmdb", "postgres")]
#: The backends that allow one open handle per store (a second ``open()`` is refused).
ONE_HANDLE = ("rocksdb",)


def slow_on(names: list[str], *slow: str) -> list[Any]:
    """``names`` for ``parametrize``, with those in ``slow`` marked ``slow`` (over ~2 s there,
    e.g. a server round trip per step): ``parametrize("backend", slow_on(MULTI_PROCESS,
    "postgres"), indirect=True)``."""
    return [pytest.param(name, marks=pytest.mark.slow) if name in slow else name
            for name in names]


@dataclass
class Backend(StoreLocation):
    """One test's store place (see StoreLocation) and the managers built on it.

    Everything built here is closed by ``close()`` before the place is discarded.
    """

    directory: Path = Path()
    runtimes: list[Runtime] = field(default_factory=list)

    @property
    def multi_process(self) -> bool:
        return self.name in MULTI_PROCESS

    def state_manager(self, **options: Any) -> StateManager:
        """A StateManager on a new handle of the store."""
        return StateManager(self.open(), **options)

    def reopen_state(self, manager: StateManager, **options: Any) -> StateManager:
        """Close ``manager``'s store and open a new manager on the same place."""
        manager.store.close()
        return self.state_manager(**options)

    def session_manager(self, *, clock: ManualClock | None = None,
                        **settings: Any) -> SessionManager:
        """A SessionManager (manual clock unless given) on a new handle of the store, as
        another process would have; on rocksdb (one handle per directory) on the open one."""
        store = self.opened[-1] if self.name in ONE_HANDLE and self.opened else self.open()
        return SessionManager(store, settings=SessionSettings(**settings),
                              clock=clock or ManualClock())

    def runtime(self, **overrides: Any) -> Runtime:
        """A Runtime on this store with its files under the test's directory (data in
        ``data/``, backups in ``backups/``); ``overrides`` as in ``Config.defaults``."""
        overrides.setdefault("storage__url", self.url)
        overrides.setdefault("runtime__data_dir", str(self.directory / "data"))
        overrides.setdefault("state__backup_dir", str(self.directory / "backups"))
        runtime = Runtime.memory(base_dir=self.directory, **overrides)
        self.runtimes.append(runtime)
        return runtime

    def close(self) -> None:
        for runtime in self.runtimes:
            runtime.close()
        super().close()


def make_backend(name: str, directory: Path, *, label: str = "test") -> Backend:
    """A fresh place on backend ``name`` under ``directory``; a pytest skip naming the reason
    when ``name`` cannot run here."""
    if reason := backend_unavailable(name):
        pytest.skip(f"backend {name}: {reason}")
    return Backend(name, fresh_store_url(name, directory, label=label), directory=directory)


def backend_fixture(names: list[str] | tuple[str, ...] = BACKENDS) -> Callable[..., Any]:
    """The ``backend`` fixture over ``names``: the root conftest's is ``backend_fixture()``;
    a module that runs on fewer backends assigns ``backend = backend_fixture([...])``."""

    @pytest.fixture(params=list(names))
    def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
        """A fresh store place on each backend (narrow with ``parametrize(indirect=True)``)."""
        with make_backend(request.param, tmp_path) as place:
            yield place

    return backend


def runtime_for(name: str, directory: Path, **overrides: Any) -> Runtime:
    """A Runtime on a fresh ``name`` store under ``directory`` (see Backend.runtime); the
    caller closes it. A pytest skip when ``name`` cannot run here."""
    return make_backend(name, directory, label="runtime").runtime(**overrides)


def snapshot(rt: Runtime) -> dict[str, bytes]:
    """Every state record, as bytes."""
    return dict(rt.store.scan("state/"))


#: The ``make_engine`` fixture of tests/lua/conftest.py: builds a Lua engine on a memory
#: runtime. (Here, not in that conftest, because ``from conftest import`` finds whichever
#: conftest pytest loaded last when several directories are collected together.)
MakeEngine = Callable[..., LuaEngine]
