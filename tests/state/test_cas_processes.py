"""4 processes x 1,000 compare_and_set increments on one key end at exactly 4,000 (every
multi-process backend)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from backends import MULTI_PROCESS, Backend
from processes import finish, start_together

pytestmark = pytest.mark.slow

CHILD = textwrap.dedent("""
    import sys
    from llmspell import Runtime
    from llmspell.config import Config
    url, base, count = sys.argv[1:4]
    rt = Runtime(Config.defaults(storage__url=url, runtime__data_dir=base))
    sys.stdin.readline()
    lost = 0
    for _ in range(int(count)):
        while True:
            n = rt.state.load("global", "counter")
            if rt.state.compare_and_set("global", "counter", n, (n or 0) + 1):
                break
            lost += 1
    rt.close()
    print(lost)
""")


@pytest.mark.parametrize("backend", MULTI_PROCESS, indirect=True)
def test_four_processes_of_1000_increments_end_at_4000(backend: Backend) -> None:
    rt = backend.runtime()
    rt.state.save("global", "counter", 0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, backend.url,
                               str(backend.directory / "data"), "1000"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(4)]
    start_together(procs)  # all opened their stores: go at once
    finish(procs)
    assert rt.state.load("global", "counter") == 4000
