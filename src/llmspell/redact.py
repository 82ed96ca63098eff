"""Redaction of secrets in values and text that leave the process (CLI output, logs, events,
the journal, Lua error text). The one owner of what counts as a secret; docs/security.md
("Redaction") states these rules for users.

A secret is found three ways, and each finding is replaced by ``[REDACTED]``:

- **by field name**, for string values only: a dict key (or ``name = value`` / ``name: value``
  in text) whose name, split into words (``apiKey``, ``API-KEY`` and ``api_key`` are the same),
  is one of :data:`SECRET_NAMES`, or ends with one of :data:`SECRET_ENDINGS` with no word of
  :data:`NOT_SECRET_WORDS` before it (``openai_api_key`` and ``github_token`` are secrets,
  ``max_token`` and ``next_page_token`` are not). Numbers, booleans and None are never changed.
- **by the shape of the value** anywhere in a string (:data:`SHAPES`): provider keys
  (``sk-``, ``sk_live_``, ``AIza``, ``hf_``, ``glpat-``, ``ghp_``, ``xox?-``), AWS key ids and
  (next to one) AWS secret keys, JWTs, PEM private keys, ``Bearer`` credentials and the
  password of a URL (``scheme://user:[REDACTED]@host``).
- **extra patterns** from ``[state] redact_patterns`` (regular expressions for values).

Redaction returns a copy; the original is never changed. Redacting twice changes nothing more.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from llmspell.errors import ValidationError
from llmspell.validation import check_texts

REDACTED = "[REDACTED]"

#: Field names that hold a secret when their value is a string (compared after normalising:
#: words split at ``_``, ``-``, ``.``, spaces and camelCase, lower case, joined by ``_``).
SECRET_NAMES = frozenset({
    "token", "secret", "password", "passwd", "passphrase", "authorization",
    "proxy_authorization", "bearer", "credential", "credentials", "apikey", "api_key",
    "private_key", "client_secret", "secret_key", "access_token", "refresh_token", "id_token",
    "auth_token", "session_token", "api_token", "bearer_token", "secret_access_key",
    "x_api_key", "cookie", "set_cookie",
})
#: A longer name ending with one of these words is a secret too (``db_password``).
SECRET_ENDINGS = ("api_key", "apikey", "password", "passwd", "passphrase", "secret",
                  "secret_key", "private_key", "token", "access_key_secret",
                  "secret_access_key")
#: ...unless one of these words comes before the ending: they name a count, a page cursor or
#: a flag, not a credential (``max_token``, ``next_page_token``, ``has_password``).
NOT_SECRET_WORDS = frozenset({
    "max", "min", "num", "count", "total", "limit", "page", "next", "prev", "previous",
    "continuation", "cursor", "sync", "cancel", "cancellation", "is", "has", "use", "uses",
    "require", "requires", "needs", "show", "input", "output", "prompt", "completion",
})

#: Environment variables a ``safe`` sandbox script may not read at all: names containing one
#: of these words (``OPENAI_API_KEY``, ``GITHUB_TOKEN``, ``AWS_SESSION_TOKEN``, ``PGPASSWORD``).
SECRET_ENV_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|PRIVATE|SESSION|COOKIE",
                             re.IGNORECASE)

_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|[^A-Za-z0-9]+")
_LITERALS = frozenset({"true", "false", "null", "none", "nil", "yes", "no", "on", "off"})
_NUMBER = re.compile(r"[-+]?(?:\d[\d_]*)?\.?\d+(?:[eE][-+]?\d+)?")

# Lower-case substrings one of which every finding of the built-in rules contains; text with
# none of them is returned at once (most text), see Redactor.might_hold_secret.
HINTS = ("key", "secret", "passw", "passphrase", "token", "bearer", "authorization",
         "credential", "cookie", "sk-", "sk_", "rk_", "aiza", "hf_", "glpat-", "akia", "asia",
         "eyj", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox", "private key",
         "://")
# "token" as the end of the word "tokens" (``max_tokens``, ``input_tokens``: usage counts in
# every LLM call) never leads to a finding: a name is a secret only when its last word is
# itself one of the hint words (``token``, ``key``, ``secret``...), and ``tokens`` is not, so
# the words that make a name a secret hold a hint of their own. Text whose only hint is such
# a "tokens" takes the fast path too. Case as in field_words: "TOKENS" is one word, "tokenS"
# two (then "token" may be a last word and counts).
# HINTS by a substring they share, so one scan of the text rules out a whole group: "k" is
# in 8 hints (key, token, cookie, sk-, ...) and absent from most field names and prose.
_GATES = ("k", "gh", "pass")


def _hint_groups() -> tuple[tuple[str, tuple[str, ...]], ...]:
    groups: list[tuple[str, tuple[str, ...]]] = []
    taken: set[str] = set()
    for gate in _GATES:
        hints = tuple(h for h in HINTS if gate in h and h not in taken)
        taken.update(hints)
        groups.append((gate, hints))
    return (*groups, *((h, (h,)) for h in HINTS if h not in taken))


_HINT_GROUPS = _hint_groups()
_LIVE_TOKEN = re.compile(r"(?i:token)(?!(?:s|(?<=N)S)(?![A-Za-z0-9]))")


def _live_token(text: str, low: str) -> bool:
    """Whether ``text`` (lower case: ``low``) holds a "token" that is not a dead "tokens"."""
    if not text.isascii():  # lower() may change lengths: positions differ
        return _LIVE_TOKEN.search(text) is not None
    at = low.find("token")
    while at >= 0:
        if _LIVE_TOKEN.match(text, at):
            return True
        at = low.find("token", at + 5)
    return False


def field_words(name: str) -> list[str]:
    """``name`` split into lower-case words: ``apiKey`` / ``API-KEY`` -> ``["api", "key"]``."""
    return [word.lower() for word in _WORD_BREAK.split(name) if word]


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a field called ``name`` holds a secret (when its value is a string)."""
    words = field_words(name)
    joined = "_".join(words)
    if joined in SECRET_NAMES:
        return True
    for ending in SECRET_ENDINGS:
        size = ending.count("_") + 1
        if len(words) > size and "_".join(words[-size:]) == ending:
            return not NOT_SECRET_WORDS.intersection(words[:-size])
    return False


def _keylike(body: str) -> bool:
    """Random enough to be a key: a run of 20 letters/digits, or 32+ characters mixing upper
    case, lower case and digits (a git branch ``sk-refactor-session-2`` is neither)."""
    if re.search(r"[A-Za-z0-9]{20}", body):
        return True
    return (len(body) >= 32 and any(c.isupper() for c in body)
            and any(c.islower() for c in body) and any(c.isdigit() for c in body))


def _mixed(text: str) -> bool:
    """Has a digit, or upper case after lower case (``Bearer abc123``, ``Bearer aBcD``)."""
    return any(c.isdigit() for c in text) or bool(re.search(r"[a-z][A-Z]", text))


Replace = Callable[["re.Match[str]"], str]


def _whole(match: re.Match[str]) -> str:
    return REDACTED


def _keylike_after(prefix_group: int) -> Replace:
    def replace(match: re.Match[str]) -> str:
        return REDACTED if _keylike(match.group(prefix_group)) else match.group(0)
    return replace


def _keep_group(keep: int, secret: int, check: Callable[[str], bool] | None = None) -> Replace:
    """Keep group ``keep`` (a name, a scheme), hide group ``secret`` (when ``check`` says so)."""
    def replace(match: re.Match[str]) -> str:
        value = match.group(secret)
        if value == REDACTED or (check is not None and not check(value)):
            return match.group(0)
        return match.group(keep) + REDACTED
    return replace


#: Secret-shaped values: (pattern, replacement), applied in this order.
SHAPES: list[tuple[re.Pattern[str], Replace]] = [
    # PEM private keys, to their END line (or to the end of the text when it is cut off).
    (re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----"
                r"|.*)", re.DOTALL), _whole),
    # The password of a URL: scheme://user:[REDACTED]@host; up to the last "@" before the
    # host, so an unescaped "@" in the password does not leave its end visible.
    (re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@\[\]]*:)([^\s/?#]+)"
                r"(?=@[^\s@/?#]*(?:[/?#\s]|$))"), _keep_group(1, 2)),
    # Authorization headers: keep the scheme, hide the credential.
    (re.compile(r"(?i)(\b(?:proxy[-_])?authorization[\"']?\s*[:=]\s*[\"']?"
                r"(?:(?:bearer|basic|token|digest|negotiate|apikey)\s+)?)([^\s\"',;]+)"),
     _keep_group(1, 2)),
    (re.compile(r"(?i)(\bbearer\s+)([A-Za-z0-9\-._~+/]{8,}=*)"), _keep_group(1, 2, _mixed)),
    # OpenAI / Anthropic keys; a git branch such as sk-refactor-x is not random enough.
    (re.compile(r"\bsk-(?:ant-|proj-|svcacct-|admin-)?([A-Za-z0-9_\-]{20,})"),
     _keylike_after(1)),
    (re.compile(r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"), _whole),  # Stripe
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"), _whole),  # Google API keys
    (re.compile(r"\bhf_[A-Za-z0-9]{30,}"), _whole),  # Hugging Face
    (re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}"), _whole),  # GitLab
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), _whole),  # AWS access key ids
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
     _whole),  # JWT
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), _whole),  # GitHub
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), _whole),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"), _whole),  # Slack
]

#: An AWS secret access key: 40 base64 characters mixing cases. Hidden only in text (or a
#: dict) that also holds an AWS key id or names ``aws_secret_access_key``, since 40 such
#: characters alone are too common to call a secret.
AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]*[a-z])(?=[A-Za-z0-9/+]*[A-Z])"
                        r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_AWS_CONTEXT = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|(?i:aws_secret_access_key)")

# `name = value`, `name: value`, `"name": "value"` in free text; the name decides (as for
# fields), then the value: literals and numbers are kept, and after `:` an unquoted plain word
# followed by more words is prose ("the token: it expires"), not a value. Only names holding
# a secret word are candidates, and an unquoted value stops at `=` (base64 padding aside), so
# "in: password=x" is read as the assignment to `password`.
ASSIGNMENT = re.compile(
    r"(?<![\w\-.])([\"']?)([A-Za-z0-9_.\-]*(?i:key|secret|passw|passphrase|token|bearer|"
    r"authorization|credential|cookie)[A-Za-z0-9_.\-]*)\1(\s*([:=])\s*)"
    r"(\"[^\"\n]*\"|'[^'\n]*'|(?!\[REDACTED\])[^\s,;&\"'}\]\[)=]+"
    r"(?:=+(?=[\s,;&\"'}\])]|$))?)"
)
_CLAUSE_END = re.compile(r"\s*(?:$|[\n,;}\])&])")


def _assignment(match: re.Match[str]) -> str | None:
    """The assignment with its value hidden, or None when it holds no secret."""
    name, value = match.group(2), match.group(5)
    if not is_secret_name(name) or field_words(name)[-1] == "authorization":
        return None
    quoted = value[:1] in ("'", '"')
    inner = value[1:-1] if quoted else value
    if not inner or inner == REDACTED or inner.lower() in _LITERALS or _NUMBER.fullmatch(inner):
        return None
    if match.group(4) == ":" and not quoted and inner.isalpha() \
            and not _CLAUSE_END.match(match.string, match.end()):
        return None
    hidden = f"{value[0]}{REDACTED}{value[0]}" if quoted else REDACTED
    return f"{match.group(1)}{name}{match.group(1)}{match.group(3)}{hidden}"


def _hide_assignments(text: str) -> str:
    """``text`` with the secret assignments hidden. A candidate that is no secret is searched
    again from its value on ("next_page_token: password=x" still hides x)."""
    parts: list[str] = []
    pos = done = 0
    while (match := ASSIGNMENT.search(text, pos)) is not None:
        hidden = _assignment(match)
        if hidden is None:
            pos = match.start(5)
            continue
        parts += (text[done:match.start()], hidden)
        pos = done = match.end()
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


class Redactor:
    """Finds and hides secrets. ``patterns`` adds regular expressions for secret values (a
    list of them, or one).

    Raises:
        ValidationError: a pattern is not a valid regular expression (named by its index).
    """

    def __init__(self, patterns: Iterable[str] | str = ()) -> None:
        extra = check_texts(patterns, "patterns", "regular expressions", one=True)
        for i, pattern in enumerate(extra):
            try:
                re.compile(pattern)
            except (re.error, RecursionError, OverflowError) as exc:
                raise ValidationError("patterns", f"must be valid regular expressions ({exc})",
                                      path=f"[{i}]", got=pattern) from None
        self._extra = re.compile("|".join(f"(?:{p})" for p in extra)) if extra else None
        #: The extra patterns: two redactors with the same rules hide the same things.
        self.rules: tuple[str, ...] = tuple(extra)
        #: Short strings :meth:`might_hold_secret` found plain (see ``_plain_copy``); none
        #: of them holds a secret.
        self._plain: set[str] = set()

    def is_secret_field(self, name: str) -> bool:
        """Whether a field called ``name`` holds a secret (see :func:`is_secret_name`)."""
        return is_secret_name(name)

    def might_hold_secret(self, text: str) -> bool:
        """A cheap test: False means :meth:`redact_text` would surely return ``text``."""
        low = text.lower()
        for gate, hints in _HINT_GROUPS:
            if gate in low:
                for hint in hints:
                    if hint in low and (hint != "token" or _live_token(text, low)):
                        return True
        return self._extra is not None and self._extra.search(text) is not None

    def might_hold_secret_json(self, text: str) -> bool:
        """:meth:`might_hold_secret` for the JSON text of a value (``orjson.dumps`` of it):
        False means :meth:`redact` would give the value back unchanged. Every key and string
        of the value is in the text as it is (JSON escapes no character of a hint); extra
        patterns, though, may match a string but not its escaped, quoted form (``^...$``, a
        newline), so with extra patterns this is always True."""
        return self._extra is not None or self.might_hold_secret(text)

    def redact_text(self, text: str, *, aws: bool = False) -> str:
        """``text`` with secret-shaped substrings and ``name=value`` secrets hidden.

        ``aws``: the text is next to an AWS key id, so 40-character AWS secret keys go too.
        """
        if not aws and not self.might_hold_secret(text):
            return text
        aws = aws or _AWS_CONTEXT.search(text) is not None
        for pattern, replace in SHAPES:
            text = pattern.sub(replace, text)
        if self._extra is not None:
            text = self._extra.sub(REDACTED, text)
        if aws:
            text = AWS_SECRET.sub(REDACTED, text)
        return _hide_assignments(text)

    def redact(self, value: Any, *, aws: bool = False) -> Any:
        """A copy of ``value`` with secrets hidden: strings under secret field names become
        ``[REDACTED]`` (whole), other strings lose secret-shaped parts; numbers, booleans,
        None and bytes are returned as they are. Tuples come back as lists."""
        if isinstance(value, str):
            return self.redact_text(value, aws=aws)
        if not aws and isinstance(value, _CONTAINERS):
            fresh: list[str] = []
            copy = self._plain_copy(value, fresh, 0)
            if copy is not None and (not fresh or self._plain_texts_judged(fresh)):
                return copy
        if isinstance(value, dict):
            aws = aws or any(isinstance(item, str) and ("AKIA" in item or "ASIA" in item)
                             for item in value.values())
            return {key: self._field(key, item, aws) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact(item, aws=aws) for item in value]
        return value

    def _plain_copy(self, value: Any, fresh: list[str], depth: int) -> Any:
        """The copy :meth:`redact` gives of ``value`` (containers copied, tuples as lists,
        everything else shared) when nothing in it is to hide, else None. Nothing is to hide
        when no non-empty string sits under a secret field name and every string is plain:
        known plain to this redactor, or added to ``fresh`` for the caller to judge. Keys
        and numbers are never changed, so they need no look: event data is mostly numbers
        and a few short names seen on every call (an agent's name, its model), which then
        cost a set lookup each instead of a scan of the data's JSON text."""
        if depth > _WALK_DEPTH:
            return None  # deeper than event data goes: the general walk decides
        plain = self._plain
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                # By class first: isinstance is several times dearer, most of all when false.
                cls = item.__class__
                if cls in _LEAVES:
                    pass
                elif cls is str or isinstance(item, str):
                    if item and isinstance(key, str) and is_secret_name(key):
                        return None
                    if cls is not str or item not in plain:
                        fresh.append(item)
                elif isinstance(item, _CONTAINERS):
                    if not isinstance(item, dict) and isinstance(key, str) \
                            and is_secret_name(key):
                        return None
                    item = self._plain_copy(item, fresh, depth + 1)
                    if item is None:
                        return None
                out[key] = item
            return out
        items = []
        for item in value:
            if isinstance(item, str):
                if item.__class__ is not str or item not in plain:
                    fresh.append(item)
            elif isinstance(item, _CONTAINERS):
                item = self._plain_copy(item, fresh, depth + 1)
                if item is None:
                    return None
            items.append(item)
        return items

    def plain_texts(self, texts: list[str]) -> bool:
        """Whether :meth:`redact` leaves each text of ``texts`` as it is where it stands under
        a field name that is no secret: the judgement it makes of a value's strings (no
        shape, assignment or extra pattern can be in them), remembered for short texts, so
        texts seen before (a session's name and tags) cost a set lookup each."""
        plain = self._plain
        for text in texts:
            if text.__class__ is not str or text not in plain:
                return self._plain_texts_judged(texts)
        return True

    def _plain_texts_judged(self, texts: list[str]) -> bool:
        """Whether no text of ``texts`` might hold a secret; if so, the short ones are kept
        as plain. Without extra patterns the texts are judged in one scan, joined by a
        character no hint holds (and ``tokens`` before it ends a word, as at the end of a
        text); extra patterns are searched in each text apart (``^...$``)."""
        if self._extra is None:
            if self.might_hold_secret(texts[0] if len(texts) == 1 else "\x00".join(texts)):
                return False
        elif any(self.might_hold_secret(text) for text in texts):
            return False
        plain = self._plain
        if len(plain) >= _PLAIN_MAX:
            plain.clear()
        plain.update(text for text in texts if len(text) <= _PLAIN_LEN and text.__class__ is str)
        return True

    def _field(self, key: Any, item: Any, aws: bool) -> Any:
        if isinstance(key, str) and is_secret_name(key):
            if isinstance(item, str):
                return REDACTED if item else item
            if isinstance(item, list | tuple):
                return [REDACTED if isinstance(x, str) and x else self.redact(x, aws=aws)
                        for x in item]
        return self.redact(item, aws=aws)

    def contains_secret(self, value: Any) -> bool:
        """Whether :meth:`redact` would change ``value``."""
        return self.redact(value) != value


def mask_fields(value: Any, paths: Iterable[str]) -> Any:
    """A copy of ``value`` with what each dotted ``path`` (``"auth.key"``) names replaced by
    ``[REDACTED]``: fields a tool declares secret whatever their name (a tool's
    ``secret_fields``). Paths that are absent are skipped; ``value`` is not changed."""
    paths = tuple(paths)
    if not paths or not isinstance(value, dict):
        return value
    out = dict(value)
    for path in paths:
        head, _, rest = path.partition(".")
        if head not in out:
            continue
        if rest:
            out[head] = mask_fields(out[head], (rest,))
        elif out[head] not in (None, ""):
            out[head] = REDACTED
    return out


_CONTAINERS = (dict, list, tuple)
#: Classes of values redaction returns as they are (numbers, booleans, None).
_LEAVES = frozenset({int, float, bool, type(None)})
#: How deep :meth:`Redactor._plain_copy` looks (event data is a few levels deep).
_WALK_DEPTH = 32
#: Strings up to this length found plain are remembered (names, models, statuses), up to
#: ``_PLAIN_MAX`` of them per redactor; then it starts afresh.
_PLAIN_LEN = 128
_PLAIN_MAX = 4096


DEFAULT = Redactor()


# -- log records ------------------------------------------------------------------------------

_log_lock = threading.Lock()
_log_redactor: Redactor | None = None
_log_patterns: list[str] = []


class LogRedaction(logging.Filter):
    """Hides secrets in ``llmspell`` log records: the message (with its arguments merged in),
    the formatted exception and the ``fields`` of Lua ``Logger`` records. Changes the record
    in place and never drops it."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redactor = self.redactor
        try:
            message = record.getMessage()
        except Exception:  # a bad format: logging reports it when the record is emitted
            return True
        record.msg, record.args = redactor.redact_text(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redactor.redact_text(
                logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redactor.redact_text(record.stack_info)
        fields = getattr(record, "fields", None)
        if fields:
            record.fields = redactor.redact(fields)
        return True


def install_log_redaction(patterns: Iterable[str] = ()) -> LogRedaction:
    """Redact every record of the ``llmspell`` logger and the loggers below it from now on,
    whatever handler shows it (ours, the root logger's, pytest's ``caplog``).

    A filter on the ``llmspell`` logger would not see records of ``llmspell.script`` and the
    other children, so the filter runs from the log record factory (wrapping the one in place,
    for records of ``llmspell*`` loggers only). Installing again adds ``patterns`` to the ones
    in use; it never removes any. Returns the filter in use.

    Raises:
        ValidationError: a pattern is not a valid regular expression.
    """
    global _log_redactor
    patterns = list(patterns)
    Redactor(patterns)  # a bad pattern is named by its index in ``patterns``
    with _log_lock:
        extra = [p for p in patterns if p not in _log_patterns]
        redactor = Redactor([*_log_patterns, *extra])
        _log_patterns.extend(extra)
        installed = _log_redactor is not None
        _log_redactor = redactor
        if installed:
            _LOG_FILTER.redactor = redactor
            return _LOG_FILTER
        _LOG_FILTER.redactor = redactor
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            name = record.name
            if name == "llmspell" or name.startswith("llmspell."):
                _LOG_FILTER.filter(record)
            return record

        logging.setLogRecordFactory(factory)
        return _LOG_FILTER


_LOG_FILTER = LogRedaction(DEFAULT)
