"""Tables that fit the terminal: columns chosen by priority, ids cut in the middle, and the
shortest unique prefix of an id.

On a terminal, :func:`print_table` keeps the columns that fit its width, dropping the least
important first (never the id); when the ids are still too wide it shows each as its
shortest unique prefix (which every command accepts in place of the id), and when even
that is too wide it cuts them in the middle (``01a2371e-4e0e…c51a10f``). Off a terminal (a
pipe, a file) everything is printed whole. Cells are plain text (see
:func:`llmspell.cli.main.console`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from llmspell.cli.main import console

ELLIPSIS = "…"
_GAP = 2  # spaces between columns
#: Columns at least this important are dropped only after the ids are cut to ID_MIN.
MAJOR = 8
ID_MIN = 12


@dataclass(frozen=True)
class Column:
    """``name``: the header. ``keep``: higher is dropped later (the id column is never
    dropped). ``ident``: an id, cut in the middle when space is short. ``wrap``: may fold
    onto several lines (a description) down to ``minimum`` characters wide, else one line
    cut at the end."""

    name: str
    keep: int = 5
    ident: bool = False
    wrap: bool = False
    minimum: int = 6
    #: For an id column: id -> its shortest unique prefix (used when the ids do not fit).
    short: Mapping[str, str] | None = None


def middle(text: str, width: int) -> str:
    """``text`` cut in the middle to ``width`` characters (unchanged when it fits)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    head = (width - 1 + 1) // 2
    tail = width - 1 - head
    return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")


def fit(columns: Sequence[Column], rows: Sequence[Sequence[str]],
        width: int) -> tuple[list[int], list[list[str]]]:
    """The indexes of the columns that fit in ``width``, and the rows cut to them. In order,
    while the table is too wide: ids become their shortest unique prefixes; minor columns
    (``keep`` below :data:`MAJOR`) are dropped; ids are cut in the middle, down to
    :data:`ID_MIN` characters; the other columns are dropped; ids are cut further."""
    natural = [max([len(c.name), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    kept = list(range(len(columns)))
    cut = [list(r) for r in rows]

    def need() -> int:
        return sum(min(natural[i], max(columns[i].minimum, len(columns[i].name)))
                   if columns[i].wrap else natural[i] for i in kept) + _GAP * (len(kept) - 1)

    def shorten(floor: int) -> None:
        for i in [i for i in kept if columns[i].ident]:
            over = need() - width
            if over <= 0:
                return
            room = max(floor, len(columns[i].name), natural[i] - over)
            for row in cut:
                row[i] = middle(row[i], room)
            natural[i] = max([len(columns[i].name), *(len(r[i]) for r in cut)])

    def drop(allowed: Callable[[Column], bool]) -> None:
        droppable = sorted((i for i in kept if not columns[i].ident and allowed(columns[i])),
                           key=lambda i: (columns[i].keep, -i))
        while need() > width and droppable:
            kept.remove(droppable.pop(0))

    for i in kept:
        short = columns[i].short
        if need() > width and short:
            for row in cut:
                row[i] = short.get(row[i], row[i])
            natural[i] = max([len(columns[i].name), *(len(r[i]) for r in cut)])
    drop(lambda c: c.keep < MAJOR)
    shorten(ID_MIN)
    drop(lambda c: True)
    shorten(1)
    return kept, [[row[i] for i in kept] for row in cut]


def print_table(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` under ``columns`` (see the module docstring)."""
    from rich.table import Table

    out = console()
    kept, shown = fit(columns, rows, out.width)
    table = Table(box=None, pad_edge=False)
    for i in kept:
        column = columns[i]
        table.add_column(column.name, no_wrap=not column.wrap,
                         overflow="fold" if column.wrap else "ellipsis",
                         min_width=column.minimum if column.wrap else None)
    for row in shown:
        table.add_row(*row)
    out.print(table)


def unique_prefixes(ids: Sequence[str], *, minimum: int = 8,
                    others: Callable[[str, str], bool] | None = None) -> dict[str, str]:
    """The shortest prefix of each id (at least ``minimum`` characters) that no other id of
    ``ids`` starts with, nor any id ``others(prefix, id)`` says exists elsewhere (the store
    holds more than this page)."""
    ordered = sorted(set(ids))
    found: dict[str, str] = {}
    for n, value in enumerate(ordered):
        length = minimum
        for neighbour in ordered[max(0, n - 1):n] + ordered[n + 1:n + 2]:
            length = max(length, _common(value, neighbour) + 1)
        length = min(length, len(value))
        while others is not None and length < len(value) and others(value[:length], value):
            length += 1
        found[value] = value[:length]
    return found


def _common(a: str, b: str) -> int:
    size = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        size += 1
    return size


def size_text(n: int) -> str:
    """A size in bytes as people read it, in binary units: ``512 B``, ``19.5 KiB``,
    ``3.2 MiB`` (every table and line of the CLI uses this)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover
