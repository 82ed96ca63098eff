"""The Python blocks of docs/artifacts.md run, in order, as written."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "artifacts.md"


def test_the_artifacts_doc_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    for name in [n for n in os.environ if n.startswith("LLMSPELL_")]:
        monkeypatch.delenv(name)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 8
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    out = capsys.readouterr().out
    assert "'../secrets.txt' resolves to" in out and "it has granted nothing" in out
    assert "1 blob(s) freed" in out
