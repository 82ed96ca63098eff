"""Finding the project a command runs in, as git finds its repository.

From the working directory upward, the first directory holding ``llmspell.toml`` (a file)
or ``.llmspell/`` (a directory) is the project: its config file is used and relative paths
(the store, ``data_dir``) are anchored there, so ``cd sub && llmspell session list`` shows
the project's sessions. The search stops at the filesystem root, or below any directory
listed in ``LLMSPELL_CEILING_DIRECTORIES`` (``os.pathsep``-separated, like git's
``GIT_CEILING_DIRECTORIES``). When nothing is found, the working directory is the project
and its ``.llmspell/`` is where a store would be created.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CONFIG_FILE = "llmspell.toml"
DATA_DIR = ".llmspell"
CEILING_ENV = "LLMSPELL_CEILING_DIRECTORIES"


@dataclass(frozen=True)
class Project:
    """Where a command's project is and why: ``root`` (the directory), ``marker`` (what was
    found there: ``llmspell.toml``, ``.llmspell/``, or ``""`` when nothing was and the
    working directory is used), and ``looked`` (the directories searched, nearest first)."""

    root: Path
    marker: str
    looked: tuple[Path, ...]

    @property
    def found(self) -> bool:
        return bool(self.marker)

    def describe(self) -> str:
        """One line for ``info`` and notices: which project and why."""
        if self.found:
            return f"{self.root} ({self.marker} found there)"
        return (f"{self.root} (no llmspell.toml or .llmspell/ found in "
                f"{_span(self.looked)})")


def find_project(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Project:
    """The project of ``cwd`` (default: the working directory); see the module docstring."""
    env = os.environ if env is None else env
    start = (cwd or Path.cwd()).resolve()
    ceilings = {Path(p).resolve() for p in env.get(CEILING_ENV, "").split(os.pathsep) if p}
    looked: list[Path] = []
    for directory in (start, *start.parents):
        if directory in ceilings:
            break
        looked.append(directory)
        if (directory / CONFIG_FILE).is_file():
            return Project(directory, CONFIG_FILE, tuple(looked))
        if (directory / DATA_DIR).is_dir():
            return Project(directory, DATA_DIR + "/", tuple(looked))
    return Project(start, "", tuple(looked))


def _span(looked: tuple[Path, ...]) -> str:
    if not looked:
        return "no directory (a ceiling directory stopped the search)"
    if len(looked) == 1:
        return str(looked[0])
    return f"{looked[0]} and its {len(looked) - 1} parent(s) up to {looked[-1]}"
