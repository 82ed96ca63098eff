"""API keys kept outside the project, as simonw/llm users expect.

Keys live in one JSON object ``{"NAME": "key", ...}`` in a file readable by its owner only
(0600, its directory 0700), under the user's config directory (``$XDG_CONFIG_HOME/llmspell``
or ``~/.config/llmspell``; ``%APPDATA%\\llmspell`` on Windows, ``~/Library/Application
Support/llmspell`` on macOS); ``LLMSPELL_KEYS_PATH`` names another file. A provider's
environment variable wins over the file (:func:`lookup`). Keys never appear in reprs, logs or
error messages: only names do.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import orjson

from llmspell.errors import ConfigError, ValidationError

LOG = logging.getLogger("llmspell.keys")
PATH_ENV = "LLMSPELL_KEYS_PATH"
NOTE_KEY = "// Note"
NOTE = "This file stores secret API keys. Do not share it."
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def default_keys_path(env: Mapping[str, str] | None = None) -> Path:
    """Where keys are kept: ``$LLMSPELL_KEYS_PATH``, else ``keys.json`` in the user's config
    directory for llmspell."""
    env = os.environ if env is None else env
    if env.get(PATH_ENV):
        return Path(env[PATH_ENV]).expanduser()
    if sys.platform == "win32" and env.get("APPDATA"):
        base = Path(env["APPDATA"])
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "llmspell" / "keys.json"


def check_name(name: object) -> str:
    """``name`` if it is a valid key name (1-64 letters, digits, ``_ . -``), else
    ValidationError."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError("name", "must be 1-64 letters, digits, '_', '-' or '.'",
                              got=name)
    return name


class KeyStore:
    """The keys file. Reads it on each call (another process may have set a key)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_keys_path()

    def _read(self) -> dict[str, str]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(f"cannot read the keys file ({exc.strerror})",
                              source=str(self.path)) from None
        mode = self.path.stat().st_mode
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            LOG.warning("the keys file %s can be read by other users (mode %o); run: chmod 600 %s",
                        self.path, stat.S_IMODE(mode), self.path)
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            # The error text would quote the file, which holds secrets: say only where.
            raise ConfigError("the keys file is not valid JSON; fix or remove it",
                              source=str(self.path)) from None
        if not isinstance(data, dict):
            raise ConfigError("the keys file must hold a JSON object of NAME: key",
                              source=str(self.path))
        return {k: v for k, v in data.items()
                if isinstance(v, str) and k != NOTE_KEY}

    def names(self) -> list[str]:
        """The names that have a key, sorted."""
        return sorted(self._read())

    def get(self, name: str) -> str | None:
        """The key stored under ``name``, or None."""
        return self._read().get(check_name(name))

    def set(self, name: str, key: str) -> None:
        """Store ``key`` under ``name`` (replacing any), writing the file atomically as 0600."""
        check_name(name)
        if not isinstance(key, str) or not key.strip():
            raise ValidationError("key", "must be a non-empty string", got="(hidden)")
        keys = self._read()
        keys[name] = key.strip()
        self._write(keys)

    def remove(self, name: str) -> bool:
        """Forget the key under ``name``; whether there was one."""
        keys = self._read()
        if keys.pop(check_name(name), None) is None:
            return False
        self._write(keys)
        return True

    def _write(self, keys: dict[str, str]) -> None:
        directory = self.path.parent
        if not directory.exists():
            directory.mkdir(mode=0o700, parents=True)
        data = orjson.dumps({NOTE_KEY: NOTE, **dict(sorted(keys.items()))},
                            option=orjson.OPT_INDENT_2)
        fd, temp = tempfile.mkstemp(prefix=".keys-", dir=directory)  # created 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o600)
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def __repr__(self) -> str:
        return f"KeyStore({str(self.path)!r})"


def lookup(name: str, env_var: str | None, *, store: KeyStore | None = None,
           env: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """The key for provider ``name`` and where it came from: the environment variable
    ``env_var`` when set (it wins), else the keys file entry ``name``.

    Returns ``(key, source)``; source is ``env VAR``, ``keys file`` or ``missing``.
    """
    env = os.environ if env is None else env
    if env_var and env.get(env_var):
        return env[env_var], f"env {env_var}"
    found = (store or KeyStore()).get(name)
    if found:
        return found, "keys file"
    return None, "missing"
