"""Drop-in backends for other frameworks, built on a llmspell :class:`~llmspell.Runtime`.

- :mod:`~.langgraph`: a LangGraph ``BaseCheckpointSaver`` (extra ``[langgraph]``); each thread
  is a llmspell session, its checkpoints live in that session's state scope.

Each module imports its framework when it is imported, and fails with a message naming the
extra to install when the framework is missing (:func:`require`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from llmspell.errors import ConfigError


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise ConfigError naming ``pip install 'llmspell[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"llmspell.integrations needs {module!r}, which is not installed: "
                          f"pip install 'llmspell[{extra}]'") from exc
