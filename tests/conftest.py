"""The one backend fixture every suite runs on, and the ``postgres`` marker.

``backend`` gives each test a fresh store place (tests/backends.py) on every backend of
:data:`llmspell.testing.BACKENDS`; a backend that cannot run here is skipped with the reason.
Fixtures of the suites (``store``, ``state``, ``manager``, the artifacts' ``rt``) are built on
it; ``rt`` here is a Runtime on each backend (data and backups under ``tmp_path``), ``mem`` one
on memory only (tests/sessions overrides ``mem`` with a SessionManager).

``run(*args, stdin=None)`` runs the ``llmspell`` command in-process (CliRunner) and
``process(*args, stdin=None, env=None)`` as a real process, both in an empty project directory
(``tmp_path``, default sqlite store) without ``LLMSPELL_*`` variables (tests/cli_runner.py).

Every test parametrized with ``postgres`` (this fixture's param or any other) gets the
``postgres`` marker, so ``-m postgres`` / ``-m "not postgres"`` select them. A run that leaves
a new ``.llmspell/`` in the repository (a test wrote under the current directory) fails.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from backends import BACKENDS, Backend, backend_fixture, make_backend
from cli_runner import Process, Run, invoke, spawn
from llmspell import Runtime

# Hypothesis: the full suite runs "full" (no deadline: CI machines stall); the README's quick
# check passes --hypothesis-profile=quick, a fifth of the examples (see strategies.examples).
settings.register_profile("full", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("quick", parent=settings.get_profile("full"), max_examples=20)
settings.load_profile("full")


backend = backend_fixture(BACKENDS)


@pytest.fixture
def rt(backend: Backend) -> Runtime:
    """A Runtime on each backend (see Backend.runtime)."""
    return backend.runtime()


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Runtime]:
    """A Runtime on a memory store of its own."""
    with make_backend("memory", tmp_path) as place:
        yield place.runtime()


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """The ``llmspell`` command, in-process, in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("LLMSPELL_"):
            monkeypatch.delenv(name)
    # The project search stops at the test's directory: a stray .llmspell/ above it (in
    # /tmp) is never the test's project.
    monkeypatch.setenv("LLMSPELL_CEILING_DIRECTORIES", str(tmp_path.parent))
    return invoke


@pytest.fixture
def process(tmp_path: Path) -> Process:
    """The ``llmspell`` command as a real process, in ``tmp_path``."""
    return functools.partial(spawn, tmp_path)


#: Where a Runtime built without a base_dir keeps its files when tests run from the repository.
LEAKED = Path(__file__).resolve().parents[1] / ".llmspell"
_leaked_before = LEAKED.exists()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail the run when a test left files under the repository's ``.llmspell/``."""
    if not _leaked_before and LEAKED.exists():
        found = sorted(str(p.relative_to(LEAKED.parent)) for p in LEAKED.rglob("*"))[:5]
        writer = session.config.get_terminal_writer()
        writer.line()
        writer.line(
            f"a test wrote under the current directory (give it tmp_path): {found}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every postgres-parametrized test with the ``postgres`` marker (for ``-m``)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "postgres" in callspec.params.values():
            item.add_marker(pytest.mark.postgres)
