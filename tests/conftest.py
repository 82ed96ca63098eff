"""Marks every test parametrized with ``postgres`` (a backend fixture's param or any other)
with the ``postgres`` marker, so ``-m postgres`` / ``-m "not postgres"`` select them."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every postgres-parametrized test with the ``postgres`` marker (for ``-m``)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "postgres" in callspec.params.values():
            item.add_marker(pytest.mark.postgres)
