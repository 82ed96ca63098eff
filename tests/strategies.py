"""Hypothesis strategies shared by the property tests: the values llmspell stores, encodes and
converts, and how many examples a run tries.

``values()`` is the one recursive strategy (scalars nested in lists and string-keyed dicts);
suites narrow it with arguments instead of writing their own: Lua has signed 64-bit integers
only, a small store wants small values. ``examples(n)`` is ``n`` in the full suite and a fifth
of it under the quick check's ``--hypothesis-profile=quick`` (see tests/conftest.py).
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

__all__ = ["FINITE_FLOATS", "INT64", "INTEGERS", "examples", "scalars", "text", "values"]

#: Integers the codec keeps exactly: signed and unsigned 64-bit.
INTEGERS = st.integers(-(2**63), 2**64 - 1)
#: Integers Lua keeps exactly: signed 64-bit.
INT64 = st.integers(-(2**63), 2**63 - 1)
#: Floats JSON can hold (no NaN, no infinity).
FINITE_FLOATS = st.floats(allow_nan=False, allow_infinity=False)


def text(max_size: int | None = None) -> st.SearchStrategy[str]:
    """Any text without lone surrogates (which no UTF-8 store can hold)."""
    return st.text(st.characters(exclude_categories=("Cs",)), max_size=max_size)


def scalars(*, integers: st.SearchStrategy[int] = INTEGERS,
            floats: st.SearchStrategy[float] = FINITE_FLOATS, max_size: int | None = None,
            binary: bool = True) -> st.SearchStrategy[Any]:
    """None, booleans, ``integers``, ``floats``, text and (unless ``binary=False``) bytes of
    at most ``max_size``."""
    found = st.none() | st.booleans() | integers | floats | text(max_size)
    return found | st.binary(max_size=max_size) if binary else found


def values(leaves: st.SearchStrategy[Any] | None = None, *,
           keys: st.SearchStrategy[str] | None = None, max_items: int = 5,
           max_leaves: int = 30) -> st.SearchStrategy[Any]:
    """``leaves`` (default :func:`scalars`) nested in lists and dicts keyed by ``keys``
    (default text of up to 8 characters), at most ``max_items`` per container and
    ``max_leaves`` in all."""
    keys = text(8) if keys is None else keys
    return st.recursive(
        scalars() if leaves is None else leaves,
        lambda inner: st.lists(inner, max_size=max_items)
        | st.dictionaries(keys, inner, max_size=max_items),
        max_leaves=max_leaves,
    )


def examples(full: int) -> int:
    """``full`` examples in the full suite; fewer (at least 5) when the loaded profile runs
    fewer than Hypothesis's default 100, in the same proportion."""
    return max(5, full * settings.default.max_examples // 100)
