"""Call sources (:mod:`llmspell.intercept`) for recorded and replayed runs.

:class:`RecordingSource` makes the calls and writes the input tape's waiting values first, so
the journal holds a run's inputs in the order they were taken relative to its calls.

:class:`JournalSource` answers the calls of a replay from the recorded run's ``llm.call`` and
``tool.call`` entries, in order. ``exact``: the next recorded call must have the same kind
and fingerprint (what decides its result: the provider and request, or the tool and
arguments); its recorded result is returned and nothing is called. Anything else stops the
replay with a :class:`~llmspell.errors.ReplayDivergence` carrying the seq, the expected and
the actual call and their differences. ``live``: every call is made; a different call or a
different result is noted in ``differences`` (and stops the replay when ``stop_on_error``).

A recorded failure is served as the same error (same class when it is one of llmspell's,
same message). ``modifications`` (``{seq: {dotted path: value}}``) change what a recorded
entry serves: "what if that tool had answered X". The source also tells a
:class:`~llmspell.replay.steps.Stepper` about every recorded entry it reaches.
"""

from __future__ import annotations

import copy
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from llmspell import errors
from llmspell.errors import LLMSpellError, ReplayDivergence, ToolError
from llmspell.intercept import Call
from llmspell.replay.compare import compare, plain

if TYPE_CHECKING:
    from llmspell.journal import JournalEntry
    from llmspell.replay.tape import InputTape

EXACT, LIVE = "exact", "live"
MODES = (EXACT, LIVE)


NESTED = "call.nested"
SPAN = "call.span"


class RecordingSource:
    """Makes every call; writes the tape's waiting inputs before it (module doc).

    A call made while another runs (a tool whose code calls a journaled tool) is noted on
    the tape as ``call.nested`` with its fingerprint: its entry is written before the outer
    call's, and an exact replay, which serves the outer call without running it, skips it.
    A streamed model call keeps streaming and does not pass here (no span is noted for it).
    """

    serves = False

    def __init__(self, tape: InputTape, position: Callable[[], int]) -> None:
        self.tape = tape
        self.position = position
        self.depth = 0

    def serve(self, call: Call, perform: Callable[[], Any]) -> Any:
        if self.depth:
            self.tape.note(NESTED, call.fingerprint)
            return perform()
        self.tape.flush()
        start = self.position()
        self.depth += 1
        try:
            return perform()
        finally:
            self.depth -= 1
            self.tape.note(SPAN, [start, call.fingerprint])


class JournalSource:
    """Serves or checks a replay's calls against ``recorded`` (module doc).

    Args:
        recorded: the run's call entries (``llm.call``, ``tool.call``) in order.
        mode: ``exact`` or ``live``.
        tape: the replay's input tape (flushed before each call, like a recording).
        reached: told each recorded call entry as the replay reaches it.
        modifications: ``{seq: {path: value}}`` applied to the served entries.
        stop_on_error: in live mode, stop at the first difference.
    """

    serves = True

    def __init__(self, recorded: Iterator[JournalEntry], *, mode: str = EXACT,
                 tape: InputTape | None = None,
                 reached: Callable[[JournalEntry], None] | None = None,
                 modifications: dict[int, dict[str, Any]] | None = None,
                 stop_on_error: bool = False, nested: Iterable[str] = (),
                 spans: Iterable[list[Any]] = (),
                 effects: Callable[[int, int], Any] | None = None,
                 position: Callable[[], int] | None = None,
                 compare_results: bool = True) -> None:
        self.recorded = recorded
        self.nested = Counter(nested)
        self.spans = deque(spans)
        self.effects = effects
        self.position = position
        self.compare_results = compare_results
        self.depth = 0
        self.mode = mode
        self.tape = tape
        self.reached = reached
        self.modifications = modifications or {}
        self.stop_on_error = stop_on_error
        self.failure: BaseException | None = None
        self.served = 0
        self.made = 0
        self.differences: list[dict[str, Any]] = []

    def serve(self, call: Call, perform: Callable[[], Any]) -> Any:
        if self.failure is not None:
            raise self.failure  # the replay is over: a script that caught it cannot go on
        if self.depth:  # inside a live call: its own nested calls run as recorded
            if self.tape is not None:
                self.tape.note(NESTED, call.fingerprint)
            return perform()
        if self.tape is not None:
            self.tape.flush()
        expected = self._next(call)
        if expected is not None and self.reached is not None:
            self.reached(expected)
        if self.failure is not None:  # a step callback asked to stop
            raise self.failure
        same = (expected is not None and expected.kind == call.kind
                and expected.data.get("fingerprint") == call.fingerprint)
        if self.mode == EXACT:
            if not same:
                raise self._diverged(expected, call)
            assert expected is not None
            self.served += 1
            start = self.position() if self.position is not None else 0
            self._apply_effects(expected)
            if self.tape is not None:
                self.tape.note(SPAN, [start, call.fingerprint])
            return self._recorded_result(call, expected)
        self.made += 1
        start = self.position() if self.position is not None else 0
        self.depth += 1
        try:
            if not same:
                self._differ(expected, call, None, None)
                return perform()
            assert expected is not None
            if not self.compare_results:
                return perform()
            try:
                actual = perform()
            except LLMSpellError as exc:
                self._compare(expected, call, None, exc)
                raise
            self._compare(expected, call, actual, None)
            return actual
        finally:
            self.depth -= 1
            if self.tape is not None:  # so this replay can be replayed exactly in turn
                self.tape.note(SPAN, [start, call.fingerprint])

    def _apply_effects(self, entry: JournalEntry) -> None:
        """What ran inside the served call when it was recorded, applied now."""
        fingerprint = entry.data.get("fingerprint")
        if not self.spans or self.spans[0][1] != fingerprint:
            return  # a call recorded without a span (a streamed model call): nothing ran in it
        start, _ = self.spans.popleft()
        if self.effects is not None and start < entry.seq - 1:
            self.effects(start, entry.seq)

    def _next(self, call: Call) -> JournalEntry | None:
        """The next recorded call, past the entries of calls recorded as nested in another
        (unless it is this very call)."""
        while True:
            entry = next(self.recorded, None)
            if entry is None:
                return None
            fp = entry.data.get("fingerprint")
            if self.nested.get(fp) and fp != call.fingerprint:
                self.nested[fp] -= 1
                continue
            return entry

    def stop(self, reason: BaseException) -> None:
        """End the replay: every later call raises ``reason``."""
        if self.failure is None:
            self.failure = reason

    def leftover(self) -> JournalEntry | None:
        """The first recorded call the replay never made, if any."""
        while (entry := next(self.recorded, None)) is not None:
            fp = entry.data.get("fingerprint")
            if self.nested.get(fp):
                self.nested[fp] -= 1
                continue
            return entry
        return None

    # -- serving ----------------------------------------------------------------------------

    def _recorded_result(self, call: Call, entry: JournalEntry) -> Any:
        data = entry.data
        changes = self.modifications.get(entry.seq)
        if changes:
            data = changed(data, changes)
        if data.get("error_type"):
            raise _rebuilt(data)
        return call.restore(data)

    def _diverged(self, expected: JournalEntry | None, call: Call) -> ReplayDivergence:
        actual = {"kind": call.kind, **call.describe()}
        if expected is None:
            text = (f"replay diverged: the script made a {_label(call.kind, actual)} that the "
                    "journal does not have (the recorded run made no more calls)")
            failure = ReplayDivergence(text, seq=None, expected=None, actual=plain(actual))
        else:
            shown = view(expected)
            found = compare(_comparable(shown), _comparable(actual))
            want, got = _label(expected.kind, shown), _label(call.kind, actual)
            made = ("made it with other arguments" if want == got
                    else f"made a {got} instead")
            text = (f"replay diverged at seq {expected.seq}: the journal has a {want} there; "
                    f"the script {made}: {found.summary}")
            failure = ReplayDivergence(text, seq=expected.seq, expected=shown,
                                       actual=plain(actual))
            failure.differences = found.differences  # type: ignore[attr-defined]
        self.failure = failure
        return failure

    # -- live comparison --------------------------------------------------------------------

    def _compare(self, expected: JournalEntry, call: Call, actual: Any,
                 error: BaseException | None) -> None:
        data = expected.data
        if data.get("error_type"):
            want: Any = {"error": data.get("error"), "error_type": data["error_type"]}
        else:
            want = plain(call.restore(data))
        got = ({"error": str(error), "error_type": type(error).__name__} if error is not None
               else plain(actual))
        found = compare(_volatile_free(want), _volatile_free(got))
        if not found.identical:
            self._differ(expected, call, want, got, found.differences)

    def _differ(self, expected: JournalEntry | None, call: Call, want: Any, got: Any,
                differences: list[dict[str, Any]] | None = None) -> None:
        actual = {"kind": call.kind, **call.describe()}
        note = {"seq": None if expected is None else expected.seq,
                "expected": None if expected is None else view(expected),
                "actual": plain(actual)}
        if want is not None or got is not None:
            note.update(kind="result", expected_result=want, actual_result=got,
                        differences=differences or [])
        else:
            note["kind"] = "call"
            if expected is not None:
                note["differences"] = compare(_comparable(view(expected)),
                                              _comparable(actual)).differences
        self.differences.append(note)
        if self.stop_on_error:
            failure = ReplayDivergence(
                f"live replay differed at seq {note['seq']} ({note['kind']})",
                seq=note["seq"], expected=note["expected"], actual=note["actual"])
            self.failure = failure
            raise failure


def view(entry: JournalEntry) -> dict[str, Any]:
    """A recorded call as a divergence shows it: its kind and what identifies it."""
    data = entry.data
    if entry.kind == "llm.call":
        shown = {"kind": entry.kind, "agent": data.get("agent"),
                 "provider": data.get("provider"), "model": data.get("model"),
                 "request": data.get("request")}
    else:
        shown = {"kind": entry.kind, "tool": data.get("tool"),
                 "arguments": data.get("arguments")}
        if data.get("agent") is not None:
            shown["agent"] = data["agent"]
    return {"seq": entry.seq, **shown}


def _comparable(shown: dict[str, Any]) -> dict[str, Any]:
    keep = {k: v for k, v in shown.items() if k not in ("seq", "fingerprint", "stream",
                                                          "step")}
    return plain(keep)


def _volatile_free(value: Any) -> Any:
    """A result without what differs between two runs of the same call (latency)."""
    if isinstance(value, dict):
        return {k: _volatile_free(v) for k, v in value.items() if k != "latency_ms"}
    return value


def _label(kind: str, shown: dict[str, Any]) -> str:
    if kind == "tool.call":
        return f"call of tool {shown.get('tool')!r}"
    return f"model call to {shown.get('provider')}/{shown.get('model')}"


def _rebuilt(data: dict[str, Any]) -> BaseException:
    """The error a recorded failed call raised: the same llmspell class, the same message."""
    kind = getattr(errors, str(data.get("error_type")), None)
    message = data.get("error") or (data.get("result") or {}).get("error") or "failed"
    if isinstance(kind, type) and issubclass(kind, LLMSpellError):
        try:
            return kind(message)
        except TypeError:
            pass  # a class whose constructor wants more: the message is what matters
    return ToolError(message)


def changed(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of a recorded entry's ``data`` with ``changes`` (``{dotted path: value}``) made.

    Raises:
        ValidationError: (``modifications``) a path that does not exist in the entry.
    """
    data = copy.deepcopy(data)
    for path, value in changes.items():
        _set_path(data, path, value)
    return data


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        step = int(part) - 1 if isinstance(node, list) else part
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            raise errors.ValidationError(
                "modifications", "the path does not exist in the recorded entry",
                path=".".join(parts[:i + 1]), got=path) from None
    last = parts[-1]
    if isinstance(node, list):
        node[int(last) - 1] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise errors.ValidationError("modifications", "the path does not lead into a table",
                                     got=path)
