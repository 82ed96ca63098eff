"""Redaction of secrets in values and text that leave the process (logs, events, CLI output).

A secret is found two ways: by the name of the field that holds it (``api_key``, ``password``,
``token``...) and by the shape of the value (OpenAI/Anthropic ``sk-...`` keys, AWS ``AKIA...``
access keys, JWTs, GitHub ``ghp_...`` tokens, Slack ``xox?-`` tokens, ``password=...`` in
text). Extra patterns come from ``[state] redact_patterns``. Redaction returns a copy; the
original is never changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from llmspell.errors import ValidationError

REDACTED = "[REDACTED]"

SECRET_FIELD = re.compile(
    r"(?i)^(?:.*[_-])?(?:api[_-]?key|apikey|secret|secret[_-]?key|client[_-]?secret|password|"
    r"passwd|pwd|token|access[_-]?token|refresh[_-]?token|auth[_-]?token|bearer|authorization|"
    r"private[_-]?key|access[_-]?key|session[_-]?key|credentials?)$"
)

SECRET_SHAPES = [
    r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}",  # OpenAI / Anthropic keys
    r"\bAKIA[0-9A-Z]{16}\b",  # AWS access key id
    r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",  # JWT
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",  # GitHub tokens
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",  # Slack tokens
]
# `password=hunter2`, `api_key: abc` inside free text: keep the name, hide the value.
ASSIGNMENT = re.compile(
    r"(?i)\b((?:password|passwd|pwd|secret|api[_-]?key|token|access[_-]?key)\s*[=:]\s*)"
    r"(\"[^\"]*\"|'[^']*'|[^\s,;&]+)"
)


class Redactor:
    """Finds and hides secrets. ``patterns`` adds regular expressions for secret values."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        extra = list(patterns)
        for i, pattern in enumerate(extra):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValidationError("patterns", f"must be valid regular expressions ({exc})",
                                      path=f"[{i}]", got=pattern) from None
        self._shapes = re.compile("|".join(f"(?:{p})" for p in [*SECRET_SHAPES, *extra]))

    def is_secret_field(self, name: str) -> bool:
        """Whether a field called ``name`` holds a secret."""
        return bool(SECRET_FIELD.match(name))

    def redact_text(self, text: str) -> str:
        """``text`` with secret-shaped substrings and ``name=value`` secrets hidden."""
        text = self._shapes.sub(REDACTED, text)
        return ASSIGNMENT.sub(lambda m: m.group(1) + REDACTED, text)

    def redact(self, value: Any) -> Any:
        """A copy of ``value`` with secret fields and secret-shaped strings hidden."""
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, dict):
            return {
                key: REDACTED if isinstance(key, str) and self.is_secret_field(key)
                and value_is_present(item) else self.redact(item)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.redact(item) for item in value]
        return value

    def contains_secret(self, value: Any) -> bool:
        """Whether :meth:`redact` would change ``value``."""
        return self.redact(value) != value


def value_is_present(value: Any) -> bool:
    """A field's value worth hiding: not None and not empty."""
    return value not in (None, "", b"")


DEFAULT = Redactor()
