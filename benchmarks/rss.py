"""Peak memory of one operation, measured in a fresh child process (issue 18: migration of
300k records and restore of a 100 MB store under 150 MB peak RSS).

The child runs ``setup`` (imports, opening the store: not the operation's), then ``work``,
and reports the wall and CPU seconds of ``work`` and its peak RSS (``VmHWM``: a fresh
process starts from zero, so nothing the parent built counts) before and after ``work``.
"""

from __future__ import annotations

import subprocess
import sys
from typing import NamedTuple

#: The budget of issue 18.
BUDGET_MB = 150

_PRELUDE = """
import sys, time

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

args = sys.argv[1:]
"""
_TIMED = """
base = hwm()
started, cpu = time.perf_counter(), time.process_time()
{work}
print(time.perf_counter() - started, time.process_time() - cpu, base, hwm())
"""


class Peak(NamedTuple):
    """What the child measured: seconds (wall, CPU) and peak RSS in MB before and after."""

    seconds: float
    cpu_seconds: float
    base_mb: float
    peak_mb: float

    def note(self) -> str:
        verdict = "within" if self.peak_mb <= BUDGET_MB else "OVER"
        return (f"peak RSS {self.peak_mb:.0f} MB ({verdict} the {BUDGET_MB} MB budget; "
                f"{self.base_mb:.0f} MB before the operation), CPU {self.cpu_seconds:.2f} s")


def in_child(setup: str, work: str, *args: str) -> Peak:
    """Run ``setup`` then ``work`` (Python source; ``args`` is the list of ``args``) in a
    fresh interpreter and return what it measured."""
    code = _PRELUDE + setup + _TIMED.format(work=work)
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the child failed:\n{done.stderr}")
    seconds, cpu, base, peak = done.stdout.split()[-4:]
    return Peak(float(seconds), float(cpu), int(base) / 1024, int(peak) / 1024)
