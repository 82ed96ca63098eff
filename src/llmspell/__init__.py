"""llmspell: a scriptable runtime for LLM work with durable state, sessions and artifacts.

Start with :class:`llmspell.Runtime`; ``Runtime.from_config()`` reads ``llmspell.toml``, and
``Runtime.memory()`` gives one that keeps nothing on disk (for tests and experiments).
:class:`llmspell.AsyncRuntime` is the same for asyncio programs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmspell.errors import LLMSpellError

if TYPE_CHECKING:
    from llmspell.aio import AsyncRuntime
    from llmspell.runtime import Runtime

__version__ = "0.1.0"
__all__ = ["AsyncRuntime", "LLMSpellError", "Runtime", "__version__"]


def __getattr__(name: str) -> Any:
    # Imported on first use so `import llmspell.errors` (or the CLI's --help) stays cheap.
    if name == "Runtime":
        from llmspell.runtime import Runtime

        return Runtime
    if name == "AsyncRuntime":
        from llmspell.aio import AsyncRuntime

        return AsyncRuntime
    raise AttributeError(f"module 'llmspell' has no attribute {name!r}")
