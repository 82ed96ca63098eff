"""Kept so storage tests written before tests/backends.py still import; use ``backends``."""

from backends import Backend, make_backend

__all__ = ["Backend", "make_backend"]
