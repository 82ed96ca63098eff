"""The one backend fixture (tests/conftest.py, tests/backends.py): every backend, a skip that
names the reason, and a place cleaned up with everything built on it."""

from __future__ import annotations

from pathlib import Path

import pytest

import backends
from backends import Backend, make_backend
from llmspell.errors import StorageError
from llmspell.storage import open_store
from llmspell.testing import BACKENDS


def test_the_fixture_runs_on_every_backend(request: pytest.FixtureRequest) -> None:
    fixture = request._fixturemanager.getfixturedefs("backend", request.node)[-1]
    assert list(fixture.params) == list(BACKENDS)


def test_a_backend_that_cannot_run_is_skipped_with_the_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "backend_unavailable",
                        lambda name: "package 'lmdb' is not installed")
    with pytest.raises(pytest.skip.Exception, match="backend lmdb: package 'lmdb' is not"):
        make_backend("lmdb", tmp_path)


def test_closing_the_place_closes_what_was_built_on_it(tmp_path: Path) -> None:
    place = make_backend("memory", tmp_path)
    rt = place.runtime()
    rt.state.save("global", "k", 1)
    place.session_manager().create("s")
    with open_store(place.url) as other:  # a named memory store: another handle sees it
        assert other.count("state/") == 1
    place.close()
    with pytest.raises(StorageError):
        rt.state.save("global", "k", 2)
    with open_store(place.url) as again:  # the named store was forgotten
        assert again.count("") == 0


def test_rocksdb_session_managers_share_the_one_handle(backend: Backend) -> None:
    first, second = backend.session_manager(), backend.session_manager()
    made = first.create("shared")
    assert second.get(made.id).name == "shared"
    assert (first.store is second.store) == (backend.name == "rocksdb")
