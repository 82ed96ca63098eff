"""Structural comparison of two JSON-like values: what a replay reports as a difference, and
``Replay.create_comparator():compare_json(a, b)``.

:func:`compare` walks both values and lists each difference with its path (``$.a[2].b``)
and a description; the similarity score is the share of leaves that are equal.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Comparison:
    """``identical``; ``similarity_score`` from 0 to 1; ``summary`` (one line);
    ``differences``: ``[{"path", "description", "expected", "actual"}]``."""

    identical: bool
    similarity_score: float
    summary: str
    differences: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"identical": self.identical, "similarity_score": self.similarity_score,
                "summary": self.summary, "differences": self.differences}


def plain(value: Any) -> Any:
    """``value`` as JSON-like data: dataclasses as dicts, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def compare(expected: Any, actual: Any, *, limit: int = 50) -> Comparison:
    """Compare ``expected`` with ``actual`` (module doc); at most ``limit`` differences
    are listed (all are counted)."""
    differences: list[dict[str, Any]] = []
    counts = [0, 0]  # leaves, differing leaves
    _walk(plain(expected), plain(actual), "$", differences, counts, limit)
    leaves, differing = counts
    score = 1.0 if leaves == 0 else round((leaves - differing) / leaves, 4)
    if not differing:
        return Comparison(True, 1.0, "identical")
    first = differences[0]
    more = f" and {differing - 1} more" if differing > 1 else ""
    return Comparison(False, score, f"{first['path']}: {first['description']}{more}",
                      differences)


def _walk(a: Any, b: Any, path: str, out: list[dict[str, Any]], counts: list[int],
          limit: int) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            where = f"{path}.{key}"
            if key not in b:
                _note(out, counts, limit, where, "missing in the actual value", a[key], None)
            elif key not in a:
                _note(out, counts, limit, where, "not in the expected value", None, b[key])
            else:
                _walk(a[key], b[key], where, out, counts, limit)
        return
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            where = f"{path}[{i + 1}]"
            if i >= len(b):
                _note(out, counts, limit, where, "missing in the actual value", a[i], None)
            elif i >= len(a):
                _note(out, counts, limit, where, "not in the expected value", None, b[i])
            else:
                _walk(a[i], b[i], where, out, counts, limit)
        return
    counts[0] += 1
    if (a == b and type(a) is type(b)) or (_number(a) and _number(b) and a == b):
        return
    if type(a) is not type(b) and not (_number(a) and _number(b)):
        text = f"expected {type(a).__name__} {a!r}, got {type(b).__name__} {b!r}"
    else:
        text = f"expected {a!r}, got {b!r}"
    counts[1] += 1
    if len(out) < limit:
        out.append({"path": path, "description": _clip(text), "expected": a, "actual": b})


def _note(out: list[dict[str, Any]], counts: list[int], limit: int, path: str, text: str,
          expected: Any, actual: Any) -> None:
    counts[0] += 1
    counts[1] += 1
    if len(out) < limit:
        out.append({"path": path, "description": text, "expected": expected,
                    "actual": actual})


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _clip(text: str) -> str:
    return text if len(text) <= 300 else text[:297] + "..."
