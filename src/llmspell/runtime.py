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
from typing import Any

from llmspell.config import Config, load_config
from llmspell.storage import Store, open_store


class Runtime:
    """Owns the store and the subsystems; later issues add state, sessions, artifacts..."""

    def __init__(self, config: Config, *, store: Store | None = None) -> None:
        self.config = config
        self.store: Store = store if store is not None else open_store(
            config.storage.url, durability=config.storage.durability)
        self._closed = False
        self._lock = threading.Lock()

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

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the store. Calling it again does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.store.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else self.config.storage.url
        return f"<Runtime {state}>"
