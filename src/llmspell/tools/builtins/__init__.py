"""The built-in tools, with rs-llmspell's names; one module per family.

:func:`builtin_tools` makes a fresh instance of each (the Runtime's ToolService registers them).
"""

from __future__ import annotations

from llmspell.tools.base import Tool
from llmspell.tools.builtins.calculator import Calculator
from llmspell.tools.builtins.encoding import Base64Encoder, HashCalculator, UuidGenerator

BUILTINS: tuple[type[Tool], ...] = (
    Calculator, Base64Encoder, HashCalculator, UuidGenerator,
)


def builtin_tools() -> list[Tool]:
    """One new instance of every built-in tool."""
    return [cls() for cls in BUILTINS]
