"""Progress bars for long commands (migrations, backups, restores): rich bars on stderr when it
is a terminal, nothing otherwise (a pipe, a file, ``--json``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Report = Callable[[str, int, int], None]

_LABELS = {"migrate": "migrating", "backup": "backing up", "backup data": "backing up data",
           "verify": "verifying", "safety backup": "safety backup", "apply": "applying",
           "read": "reading", "write": "writing"}


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Report | None]:
    """A ``report(phase, done, total)`` callback drawing one bar per phase, or None when
    bars are off (``enabled`` False or stderr not a terminal)."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    bars: dict[str, Any] = {}
    with Progress(TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as shown:
        def report(phase: str, done: int, total: int) -> None:
            task = bars.get(phase)
            if task is None:
                task = bars[phase] = shown.add_task(_LABELS.get(phase, phase), total=total)
            shown.update(task, completed=done, total=max(total, done))

        yield report
