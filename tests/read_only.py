"""A store made really read-only for a test: ``chattr +i`` on its file and directory (tests
run as root, which file permissions do not stop). Where the filesystem or the container does
not allow it, the test is skipped and says why."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """``paths`` immutable (chattr +i) for the block; put back even when the block fails."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed: cannot make a store read-only as root")
    done: list[Path] = []
    try:
        for path in paths:
            made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
            if made.returncode != 0:
                pytest.skip(f"chattr +i {path} is not permitted here: {made.stderr.strip()}")
            done.append(path)
        probe = paths[0] / "probe" if paths[0].is_dir() else paths[0]
        try:
            probe.open("ab").close()
        except OSError:
            pass
        else:
            pytest.skip("chattr +i did not stop a write here")
        yield
    finally:
        for path in reversed(done):
            subprocess.run(["chattr", "-i", str(path)], check=True)
