"""Fixtures: ``rt`` a runtime on memory, sqlite, lmdb and postgres (skipped with the reason
when no server answers); ``mem`` on memory only. Shared with tests/backup: see
tests/runtime_backends.py."""

from runtime_backends import mem, rt

__all__ = ["mem", "rt"]
