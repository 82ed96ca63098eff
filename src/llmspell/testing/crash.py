"""The crash test: a mixed workload killed with SIGKILL, again and again, then checked.

Run it as a command::

    python -m llmspell.testing.crash --backend sqlite --kills 200
    python -m llmspell.testing.crash --backend postgres --kills 50 --durability full

Each round starts a child process (:mod:`.crash_workload`) that writes state, transactions,
compare-and-set increments, sessions and their artifacts (one in five over 64 KB), backups,
restores and migrations, logging every write it finished; the parent kills it at a random
moment (one round in ten while it is still starting), reopens the store and checks it
(:mod:`.crash_checks`). Every ``--scan-every`` rounds and at the end everything stored is
read back and verified, and every round's acknowledged writes are checked again. It prints
kills, acknowledged writes, lost writes and integrity failures, and exits 1 when anything
was lost or damaged (or a child failed on its own), 0 otherwise.

:func:`run_crash_test` is the same from Python (the test suite runs a few kills per backend).
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from llmspell.testing import BACKENDS, backend_unavailable, discard_store, fresh_store_url
from llmspell.testing.crash_checks import Checker, Intent, Tally, read_log, sqlite_quick_check
from llmspell.testing.crash_workload import open_runtime, run_child

__all__ = ["main", "run_crash_test"]

#: The longest a child may take to open the store before the round counts as failed.
STARTUP_TIMEOUT = 120.0


def run_crash_test(backend: str, kills: int, directory: Path, *, seed: int = 0,
                   durability: str = "normal", max_delay: float = 1.0, scan_every: int = 25,
                   report: Callable[[str], None] | None = None) -> Tally:
    """Kill the workload ``kills`` times on ``backend``, with files under ``directory``.

    ``max_delay``: the longest a child runs (after opening the store) before its kill.
    ``report`` gets one progress line every ten kills. Returns the :class:`Tally`; the
    store (a postgres table) is discarded at the end, the files in ``directory`` are left.

    Raises ValidationError for an unknown backend, BackendUnavailable when it cannot run here.
    """
    from llmspell.errors import BackendUnavailable

    if reason := backend_unavailable(backend):
        raise BackendUnavailable(reason)
    if backend == "memory":
        raise BackendUnavailable("the memory backend keeps nothing across a kill: crash-test "
                                 "sqlite, lmdb, rocksdb or postgres")
    directory.mkdir(parents=True, exist_ok=True)
    url = fresh_store_url(backend, directory, label="crash")
    backups = str(directory / "backups")
    rng = random.Random(seed)
    tally = Tally()
    rounds: list[list[Intent]] = []
    try:
        for round_no in range(kills):
            log = directory / f"round-{round_no:04}.log"
            _kill_one_child(url, backups, durability, log, round_no, rng, max_delay, tally)
            intents = read_log(log)
            rounds.append(intents)
            tally.count_interrupted(intents)
            tally.acknowledged += sum(1 for i in intents if i.ack is not None)
            with open_runtime(url, backups, durability) as rt:
                checker = Checker(rt, tally)
                checker.check_round(round_no, intents, latest=True)
                checker.check_backup_files()
                if scan_every and (round_no + 1) % scan_every == 0:
                    checker.scan_everything()
            if backend == "sqlite" and (problem := sqlite_quick_check(_sqlite_path(url))):
                tally.failures.setdefault(f"sqlite file after kill {tally.kills}", problem)
            if report is not None and (round_no + 1) % 10 == 0:
                report(_line(backend, durability, tally))
        with open_runtime(url, backups, durability) as rt:
            checker = Checker(rt, tally)
            for round_no, intents in enumerate(rounds):
                checker.check_round(round_no, intents, latest=False)
            checker.scan_everything()
        tally.stray_temps = len(list(Path(backups).glob(".*.tmp")))
    finally:
        discard_store(url)
    return tally


def _kill_one_child(url: str, backups: str, durability: str, log: Path, round_no: int,
                    rng: random.Random, max_delay: float, tally: Tally) -> None:
    """Start a child, kill it at a random moment, and count the kill (or its failure)."""
    errors = log.with_suffix(".err")
    early = rng.random() < 0.1  # killed while importing or opening the store
    delay = rng.uniform(0, max_delay)
    with errors.open("wb") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "llmspell.testing.crash", "--child", url, backups,
             durability, str(log), str(round_no), str(rng.randrange(1 << 30))],
            stdout=subprocess.DEVNULL, stderr=err)
    try:
        if not early:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while b'"kind":"ready"' not in _head(log) and child.poll() is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
        time.sleep(delay if not early else delay / 4)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    if child.returncode == -signal.SIGKILL:
        tally.kills += 1
    else:
        what = errors.read_text(errors="replace").strip().splitlines()
        tally.child_errors.append(f"round {round_no}: the child exited with "
                                  f"{child.returncode} before its kill: "
                                  f"{what[-1] if what else 'no output'}")


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(200)
    except FileNotFoundError:
        return b""


def _sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def _line(backend: str, durability: str, tally: Tally) -> str:
    s = tally.summary()
    return (f"{backend} (durability {durability}): {s['kills']} kills, "
            f"{s['acknowledged_writes']} acknowledged writes, {s['lost']} lost, "
            f"{s['integrity_failures']} integrity failures")


def main(argv: list[str] | None = None) -> int:
    """The command: parse ``argv``, run, print the figures; the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--child"]:
        url, backups, durability, log, round_no, child_seed = args[1:7]
        run_child(url, backups, durability, log, int(round_no), int(child_seed), None)
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m llmspell.testing.crash",
        description="Kill a mixed llmspell workload with SIGKILL and check that no "
                    "acknowledged write was lost and the store is whole.")
    parser.add_argument("--backend", required=True, choices=[b for b in BACKENDS
                                                             if b != "memory"])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--durability", choices=("normal", "full"), default="normal")
    parser.add_argument("--seed", type=int, default=None,
                        help="random seed (default: random; printed)")
    parser.add_argument("--max-delay", type=float, default=1.0,
                        help="longest run of a child before its kill, in seconds")
    parser.add_argument("--scan-every", type=int, default=25,
                        help="read back everything stored every N kills (0: only at the end)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the store, backups and logs go (default: a temporary "
                             "directory, removed when nothing was found)")
    parser.add_argument("--keep", action="store_true", help="keep the directory")
    options = parser.parse_args(args)
    if options.kills < 1:
        parser.error("--kills must be at least 1")
    seed = options.seed if options.seed is not None else random.randrange(1 << 30)
    directory = options.dir or Path(tempfile.mkdtemp(prefix="llmspell-crash-"))
    print(f"crash test: {options.backend}, {options.kills} kills, durability "
          f"{options.durability}, seed {seed}, files in {directory}", flush=True)
    from llmspell.errors import LLMSpellError

    try:
        tally = run_crash_test(options.backend, options.kills, directory, seed=seed,
                               durability=options.durability, max_delay=options.max_delay,
                               scan_every=options.scan_every,
                               report=lambda line: print(line, flush=True))
    except LLMSpellError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(_line(options.backend, options.durability, tally))
    print(f"temporary files of killed backups left behind: {tally.stray_temps}")
    print("kills landed in: " + ", ".join(f"{what} {n}" for what, n in
                                          sorted(tally.interrupted.items())))
    for where, what in [*tally.lost.items(), *tally.failures.items()]:
        print(f"  {where}: {what}")
    for error in tally.child_errors:
        print(f"  {error}")
    bad = bool(tally.lost or tally.failures or tally.child_errors)
    if bad or options.keep or options.dir is not None:
        print(f"files kept in {directory}")
    else:
        shutil.rmtree(directory, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
