"""Schema versions of state values: integers or semver strings, and when two are compatible.

A schema version is an integer >= 1 (``2``) or a semantic version string ``"MAJOR.MINOR.PATCH"``
(``"1.2.0"``). An integer ``n`` means ``"n.0.0"``: ``1`` and ``"1.0.0"`` are the same version.
Two versions are *compatible* when their majors are equal: a value at ``"1.2.0"`` loads where
the scope's current schema is ``"1.0.0"`` or ``1``; a value at ``1`` does not load where it is
``"2.0.0"`` (a migration has to move it). A value is stored with its version as given (an
integer stays an integer), so records written before semver support read unchanged.

Which version a scope is at (declared, or set by a migration) is :mod:`.schemas`.
"""

from __future__ import annotations

import re
from typing import Any

from llmspell.errors import ValidationError

Version = int | str

DEFAULT_VERSION: Version = 1

_SEMVER = re.compile(r"(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})")
RULE = 'must be an integer >= 1 or a semantic version string "MAJOR.MINOR.PATCH" such as "1.2.0"'


def check_version(version: Any, argument: str = "schema_version") -> Version:
    """``version`` if it is a schema version (an int >= 1, or ``"M.m.p"`` other than
    ``"0.0.0"``); a float with an integer value (a Lua number) becomes that int.

    Raises:
        ValidationError: naming ``argument`` and the rule.
    """
    if isinstance(version, float) and version.is_integer():
        version = int(version)
    if version.__class__ is int and version >= 1:
        return version
    if isinstance(version, str) and _SEMVER.fullmatch(version) and version != "0.0.0":
        return version
    raise ValidationError(argument, RULE, got=version)


def parts(version: Version) -> tuple[int, int, int]:
    """``(major, minor, patch)`` of a checked version."""
    if isinstance(version, int):
        return (version, 0, 0)
    major, minor, patch = version.split(".")
    return (int(major), int(minor), int(patch))


def major(version: Version) -> int:
    return version if isinstance(version, int) else int(version.partition(".")[0])


def compatible(a: Version, b: Version) -> bool:
    """Whether values at ``a`` load where the schema is ``b`` (the majors are equal)."""
    return a == b or major(a) == major(b)


def same(a: Version, b: Version) -> bool:
    """Whether ``a`` and ``b`` are the same version (``2`` and ``"2.0.0"`` are)."""
    return a == b or parts(a) == parts(b)


def spellings(version: Version) -> frozenset[Version]:
    """Every stored form of ``version`` (``2`` and ``"2.0.0"``): what a migration from it
    matches with one set lookup per value."""
    major_, minor, patch = parts(version)
    if minor == 0 and patch == 0:
        return frozenset({major_, f"{major_}.0.0"})
    return frozenset({version})


def label(version: Version) -> str:
    """How reports show a version: ``2`` or ``1.2.0``."""
    return str(version)


def highest(versions: list[Version]) -> Version:
    return max(versions, key=parts)


def lowest(versions: list[Version]) -> Version:
    return min(versions, key=parts)
