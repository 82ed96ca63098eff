"""Every error llmspell raises, under one root.

Each message says what was expected and what was got, and names the argument, the path inside
the value and the rule that was broken. In Lua the same message becomes a Lua error whose text
starts with the class name, so ``pcall`` can catch it and scripts can match on it.

    LLMSpellError
    ├── ValidationError (also ValueError)   bad argument: names argument, path and rule
    │   ├── InvalidScope
    │   ├── InvalidKey
    │   └── InvalidValue
    │       ├── CyclicValue
    │       └── ValueTooLarge
    ├── ConfigError                          a bad llmspell.toml or LLMSPELL_* variable
    ├── StorageError                         the store could not do what was asked
    │   ├── BackendUnavailable               missing extra, unreachable server, bad URL
    │   ├── StoreLocked                      another process holds an exclusive store
    │   ├── WriteContention                  an optimistic write kept losing races
    │   └── CorruptRecord                    a stored record does not decode: names the key
    ├── StateError
    ├── MigrationError
    │   └── IncompatibleSchema               a value's schema major differs from its scope's
    ├── BackupError
    │   ├── BackupCorrupt
    │   └── BackupNotFound
    ├── SessionError
    │   ├── SessionNotFound
    │   ├── InvalidTransition
    │   ├── SessionExpired
    │   ├── SessionLeased                   another process holds the session's lease
    │   └── LeaseLost                        this process's lease expired or was taken over
    ├── ResourceLimitExceeded
    │   └── RateLimitExceeded
    ├── HookCancelled                        a hook refused the operation (carries the reason)
    ├── HookError                            a hook registered as required raised
    ├── ArtifactError
    │   ├── ArtifactNotFound
    │   │   └── BlobNotFound                 no blob has that content hash
    │   ├── ArtifactTooLarge
    │   └── IntegrityError
    ├── ProviderError                        an LLM call failed (never shows the API key)
    │   ├── ProviderAuthError                no key, or the key was refused: names the env var
    │   ├── ProviderRateLimited              429 after the retries: carries retry_after
    │   ├── ProviderBadRequest               4xx: carries the provider's own message
    │   ├── ProviderUnavailable              5xx or no connection, after the retries
    │   │   └── ProviderTimeout              no answer within the timeout
    │   ├── ProviderResponseError            an answer that cannot be used (bad JSON, bad
    │   │   │                                tool call, unknown shape)
    │   │   └── ProviderStreamDropped        the stream ended before its end marker
    │   └── ProviderScriptExhausted          the scripted test double has no reply left
    ├── AgentError                           an agent cannot do what was asked (its state,
    │                                        its tool loop's step limit)
    ├── ToolError
    ├── WorkflowError
    ├── ReplayDivergence                     a replay met a call or input the journal does
    │                                        not have there: carries seq, expected, actual
    ├── ScriptError                          a Lua error: script name and line when known
    │   └── ScriptLimitExceeded              instruction, time or memory limit reached
    └── SecurityViolation                    sandbox or path confinement refused an access
"""

from __future__ import annotations

from typing import Any


class LLMSpellError(Exception):
    """The root of every llmspell error."""


class ValidationError(LLMSpellError, ValueError):
    """An argument broke a rule.

    The message reads ``argument 'key' at $.a[2]: must be a string (got int 3)``; the parts are
    kept as attributes so callers can inspect them.
    """

    def __init__(self, argument: str, rule: str, *, path: str = "", got: Any = ...) -> None:
        self.argument = argument
        self.rule = rule
        self.path = path
        self.got = got
        where = f"argument '{argument}'" + (f" at {path}" if path else "")
        text = f"{where}: {rule}"
        if got is not ...:
            text += f" (got {describe(got)})"
        super().__init__(text)


class InvalidScope(ValidationError):
    """A state scope string is not one of the known forms."""


class InvalidKey(ValidationError):
    """A key is empty, too long, not UTF-8 or uses a reserved form."""


class InvalidValue(ValidationError):
    """A value cannot be stored (wrong type, cycle, too large)."""


class CyclicValue(InvalidValue):
    """A value refers to itself; the path names where the cycle closes."""


class ValueTooLarge(InvalidValue):
    """A value's encoded size is over the configured limit."""


class ConfigError(LLMSpellError):
    """A configuration file or environment override is wrong.

    ``source`` is the file (or ``env``), ``table`` the TOML table and ``key`` the key.
    """

    def __init__(self, message: str, *, source: str = "", table: str = "", key: str = "") -> None:
        self.source = source
        self.table = table
        self.key = key
        where = config_location(source, table, key)
        super().__init__(f"{where}: {message}" if where else message)


def config_location(source: str, table: str, key: str) -> str:
    """Where a config key was set, as messages name it: ``file, table [t], key 'k'``."""
    return ", ".join(part for part in (source, f"table [{table}]" if table else "",
                                       f"key '{key}'" if key else "") if part)


class StorageError(LLMSpellError):
    """The store failed to do what was asked."""


class BackendUnavailable(StorageError):
    """A backend cannot be used: unknown URL scheme, missing extra or unreachable server."""


class StoreReadOnly(StorageError):
    """The store can be read but not written (its file or directory is not writable)."""


class StoreLocked(StorageError):
    """The store is held exclusively by another process or handle."""


class WriteContention(StorageError):
    """An optimistic write (:func:`llmspell.storage.retry.retry_batch`) lost its race to other
    writers on every attempt; nothing was written. ``what`` says what was being written and
    ``attempts`` how many times it was tried."""

    def __init__(self, what: str, attempts: int) -> None:
        self.what = what
        self.attempts = attempts
        super().__init__(f"could not {what}: {attempts} attempts lost to other writers; "
                         "nothing was written")


class CorruptRecord(StorageError):
    """A record read from the store does not decode (damaged bytes, a truncated value): the
    read fails rather than pass for "no value". ``key`` is the store key;
    ``llmspell doctor --deep`` lists every damaged record."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"the record under key {key!r} is damaged: {problem} (run "
                         "`llmspell doctor --deep` to check the whole store; restore a backup "
                         "to repair it)")


class StateError(LLMSpellError):
    """A state operation failed."""


class MigrationError(LLMSpellError):
    """A schema migration failed; nothing was changed."""


class IncompatibleSchema(MigrationError):
    """A stored value's schema version has another major version than its scope's current
    schema: it is refused on load until a migration moves it (the message names it)."""


class BackupError(LLMSpellError):
    """A backup or restore failed."""


class BackupCorrupt(BackupError):
    """A backup file failed verification (checksum, truncation, tampering)."""


class BackupNotFound(BackupError):
    """No backup has the given id."""


class SessionError(LLMSpellError):
    """A session operation failed."""


class SessionNotFound(SessionError):
    """No session has the given id."""


class InvalidTransition(SessionError):
    """A lifecycle operation is not allowed from the session's current status."""


class SessionExpired(SessionError):
    """A session ran past its max_duration."""


class SessionLeased(SessionError):
    """Another holder has a live lease on the session: the message names the holder, its
    fencing token and when the lease expires."""


class LeaseLost(SessionError):
    """This holder's lease on a session expired or another holder took it over; nothing was
    written. Acquire the lease again to go on."""


class ResourceLimitExceeded(LLMSpellError):
    """A configured limit (operations, tokens, cost, bytes, sessions) was reached."""


class RateLimitExceeded(ResourceLimitExceeded):
    """A rate limit refused the operation."""


class HookCancelled(LLMSpellError):
    """A hook cancelled the operation; ``reason`` says why, ``hook`` names the hook if known."""

    def __init__(self, point: str, reason: str, *, hook: str | None = None) -> None:
        self.point = point
        self.reason = reason
        self.hook = hook
        who = f"hook '{hook}'" if hook else "hook"
        super().__init__(f"{who} at '{point}' cancelled the operation: {reason}")


class HookError(LLMSpellError):
    """A hook registered as ``required`` failed, so the operation fails with it.

    ``point`` and ``hook`` name where; the hook's own exception is the ``__cause__``.
    """

    def __init__(self, point: str, hook: str, message: str) -> None:
        self.point = point
        self.hook = hook
        super().__init__(f"required hook '{hook}' at '{point}' failed: {message}")


class ArtifactError(LLMSpellError):
    """An artifact operation failed."""


class ArtifactNotFound(ArtifactError):
    """No artifact has the given id, name or version."""


class BlobNotFound(ArtifactNotFound):
    """No blob has the given content hash: never stored, or removed by gc.

    ``blob_hash`` is the hash that was asked for.
    """

    def __init__(self, blob_hash: str, detail: str = "") -> None:
        self.blob_hash = blob_hash
        super().__init__(f"no blob with hash {blob_hash}" + (f" ({detail})" if detail else ""))


class ArtifactTooLarge(ArtifactError):
    """An artifact is over a size limit."""


class IntegrityError(ArtifactError):
    """Stored content does not match its hash."""


class ProviderError(LLMSpellError):
    """An LLM provider call failed.

    ``provider`` names the provider, ``status`` is the HTTP status when there was one and
    ``retryable`` says whether the retry policy may try the call again. Messages never contain
    the API key (the providers scrub it from any text a server sends back).
    """

    retryable = False

    def __init__(self, message: str, *, provider: str = "", status: int | None = None) -> None:
        self.provider = provider
        self.status = status
        super().__init__(f"provider '{provider}': {message}" if provider else message)


class ProviderAuthError(ProviderError):
    """No API key was found, or the provider refused it; ``env_var`` names the variable."""

    def __init__(self, message: str, *, provider: str = "", status: int | None = None,
                 env_var: str | None = None) -> None:
        self.env_var = env_var
        super().__init__(message, provider=provider, status=status)


class ProviderRateLimited(ProviderError):
    """The provider answered 429 (still, after the retries); ``retry_after`` is in seconds."""

    retryable = True

    def __init__(self, message: str, *, provider: str = "", status: int | None = 429,
                 retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, provider=provider, status=status)


class ProviderBadRequest(ProviderError):
    """The provider refused the request (4xx); ``provider_message`` is its own explanation."""

    def __init__(self, message: str, *, provider: str = "", status: int | None = None,
                 provider_message: str = "") -> None:
        self.provider_message = provider_message
        super().__init__(message, provider=provider, status=status)


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or kept failing (5xx, connection refused, reset)."""

    retryable = True

    def __init__(self, message: str, *, provider: str = "", status: int | None = None,
                 retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, provider=provider, status=status)


class ProviderTimeout(ProviderUnavailable):
    """The provider did not answer within the configured timeout."""


class ProviderResponseError(ProviderError):
    """The provider answered with something that cannot be used: not JSON, an unknown shape,
    a tool call whose arguments are not a JSON object."""


class ProviderStreamDropped(ProviderResponseError):
    """A streamed answer stopped before its end marker (the connection dropped)."""


class ProviderScriptExhausted(ProviderError):
    """The ``scripted`` test double was called after its last canned reply was used."""


class AgentError(LLMSpellError):
    """An agent refused or could not finish a call: a lifecycle state that does not allow it
    (paused, stopped, terminated, error), or a tool loop that reached its step limit."""


class ToolError(LLMSpellError):
    """A tool failed."""


class WorkflowError(LLMSpellError):
    """A workflow step failed under a stop-on-error strategy."""


class ReplayDivergence(LLMSpellError):
    """A replay asked for something the journal does not have at that point.

    ``seq``: the journal entry that was expected (None when the journal had nothing left);
    ``expected`` and ``actual``: what the journal holds there and what the replay asked for.
    """

    def __init__(self, message: str, *, seq: int | None, expected: Any, actual: Any) -> None:
        self.seq = seq
        self.expected = expected
        self.actual = actual
        super().__init__(message)


class ScriptError(LLMSpellError):
    """A script raised an error that it did not catch.

    ``script`` and ``line`` locate it when Lua reported them.
    """

    def __init__(self, message: str, *, script: str = "", line: int | None = None) -> None:
        self.script = script
        self.line = line
        self.lua_message = message
        super().__init__(message)


class ScriptLimitExceeded(ScriptError):
    """A script reached its instruction, wall-time or memory limit."""


class SecurityViolation(LLMSpellError):
    """The sandbox or a path confinement refused an access."""


def describe(value: Any) -> str:
    """A short description of ``value`` for error messages: its type and a clipped repr."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"
