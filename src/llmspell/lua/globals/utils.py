"""``Utils``: ``uuid()``, ``now([format])``, ``sleep(seconds)``, ``hash(data[, algorithm])``.

- ``Utils.uuid()``: a random UUID (version 4) as a string.
- ``Utils.now()``: seconds since the Unix epoch as a float (sub-second); ``Utils.now("iso")``:
  the same instant as ISO 8601 text in UTC (``2025-01-31T12:00:00.123456+00:00``).
- ``Utils.sleep(seconds)``: waits; never past the script's wall-time limit (it stops the
  script with ScriptLimitExceeded instead).
- ``Utils.hash(data[, algorithm])``: the hex digest of a string's bytes; ``sha256`` (default),
  ``sha512``, ``sha1``, ``md5``, ``blake2b`` or ``blake3``.
"""

from __future__ import annotations

import hashlib
import time
import uuid as uuid_module
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import blake3

from llmspell.errors import ValidationError
from llmspell.lua import checks

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine

ALGORITHMS = ("sha256", "sha512", "sha1", "md5", "blake2b", "blake3")


def uuid() -> str:
    return str(uuid_module.uuid4())


def now(form: Any = None) -> float | str:
    if form is None:
        return time.time()
    if form == "iso":
        return datetime.now(UTC).isoformat()
    raise ValidationError("format", f"must be nil or \"iso\" (got {form!r})")


def hash_data(data: Any, algorithm: Any = "sha256") -> str:
    content = checks.data(data, "data")
    name = checks.text(algorithm if algorithm is not None else "sha256", "algorithm")
    if name == "blake3":
        return str(blake3.blake3(content).hexdigest())
    if name not in ALGORITHMS:
        raise ValidationError("algorithm", f"must be one of {', '.join(ALGORITHMS)} (got "
                              f"{name!r})")
    return hashlib.new(name, content).hexdigest()


def install(engine: LuaEngine) -> None:
    def sleep(seconds: Any) -> None:
        engine.limits.sleep(checks.number(seconds, "seconds", minimum=0))

    engine.install_global("Utils", {"uuid": uuid, "now": now, "sleep": sleep,
                                    "hash": hash_data})
