"""The Python examples of docs/integrations.md and docs/async.md run as written, and print
what the guides say they print."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCKS = [(guide, code) for guide in ("integrations.md", "async.md")
          for code in re.findall(r"```python\n(.*?)```", (DOCS / guide).read_text(), re.S)]


@pytest.mark.slow
@pytest.mark.parametrize(("guide", "code"), BLOCKS)
def test_guide_examples_run(tmp_path: Path, guide: str, code: str) -> None:
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"{guide}: {done.stderr}"
    for promised in re.findall(r"# (\[.*?\]|\{.*?\})$", code, re.M):
        assert promised in done.stdout, f"{guide}: {promised} not in {done.stdout!r}"
