"""Where the storage tests' stores live: one fresh place per test, on every backend.

The places, skip reasons and clean-up come from :mod:`llmspell.testing`; this adds what the
storage tests ask of a place. (Not in conftest.py, so test modules can import it by a name
that no other test directory uses.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llmspell.testing import StoreLocation, backend_unavailable, fresh_store_url


class Backend(StoreLocation):
    """One test's store location (see StoreLocation), and whether processes may share it."""

    @property
    def multi_process(self) -> bool:
        return self.name in ("sqlite", "lmdb", "postgres")


def make_backend(name: str, tmp_path: Path) -> Backend:
    """A Backend for ``name`` in ``tmp_path``, or a pytest skip saying why it cannot run."""
    if reason := backend_unavailable(name):
        pytest.skip(reason)
    return Backend(name, fresh_store_url(name, tmp_path))
