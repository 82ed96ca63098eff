"""Step mode, breakpoints and progress: what a replay does each time it reaches a recorded
entry.

A replay moves through the recorded journal as the script makes its model and tool calls.
When it reaches a recorded call (and when a run ends), every recorded entry up to it (state
writes, hooks, events, artifacts, inputs and the call) is handed, in order, to the
:class:`Stepper`: the progress callback sees how far the replay got; the break callback (step
mode) is called for each entry that matches a breakpoint (by kind, ``state`` matching
``state.write``, or by seq) or for every entry when no breakpoint is given, with the entry
and the replay session's state at that moment: what the replay has done up to that call, so
the writes recorded just before it are in. It returns ``"stop"`` to end the replay there,
anything else to go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmspell.errors import LLMSpellError, ValidationError

if TYPE_CHECKING:
    from llmspell.journal import JournalEntry

Progress = Callable[[str, int, int], None]
OnBreak = Callable[[dict[str, Any], dict[str, Any]], Any]


class ReplayStopped(LLMSpellError):
    """Step mode was told to stop at an entry (``seq``)."""

    def __init__(self, seq: int) -> None:
        self.seq = seq
        super().__init__(f"replay stopped at seq {seq} (step mode)")


@dataclass(frozen=True)
class Breakpoints:
    """Where step mode pauses: entries of these ``kinds`` or at these ``seqs``; everywhere
    when both are empty."""

    kinds: tuple[str, ...] = ()
    seqs: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, value: Any) -> Breakpoints:
        """From a list of kinds (strings) and seqs (ints), or ``{kinds=, seqs=}``."""
        if value is None:
            return cls()
        if isinstance(value, Breakpoints):
            return value
        if isinstance(value, dict):
            unknown = sorted(set(value) - {"kinds", "seqs"})
            if unknown:
                raise ValidationError("breakpoints", "takes kinds and seqs only",
                                      path=f"$.{unknown[0]}", got=value[unknown[0]])
            items = [*(value.get("kinds") or ()), *(value.get("seqs") or ())]
        elif isinstance(value, list | tuple):
            items = list(value)
        else:
            raise ValidationError("breakpoints", "must be a list of entry kinds and sequence "
                                  "numbers", got=value)
        kinds, seqs = [], set()
        for i, item in enumerate(items):
            if isinstance(item, str) and item:
                if item.isdigit():
                    seqs.add(int(item))
                else:
                    kinds.append(item)
            elif isinstance(item, int) and not isinstance(item, bool) and item > 0:
                seqs.add(item)
            else:
                raise ValidationError("breakpoints", "each must be an entry kind such as "
                                      "'tool.call' or a sequence number > 0",
                                      path=f"[{i + 1}]", got=item)
        return cls(tuple(kinds), frozenset(seqs))

    def check(self, entries: Iterable[JournalEntry], first: int, last: int) -> None:
        """Refuse a breakpoint that can never pause: a seq outside ``first..last`` or a kind
        no entry of ``entries`` (the replayed runs' entries) has."""
        for seq in sorted(self.seqs):
            if not first <= seq <= last:
                raise ValidationError("breakpoints", f"not a seq of the replayed runs (they "
                                      f"span seq {first} to {last})", got=seq)
        missing = set(self.kinds)
        if missing:
            for entry in entries:
                missing = {k for k in missing
                           if entry.kind != k and not entry.kind.startswith(k + ".")}
                if not missing:
                    break
        if missing:
            kind = sorted(missing)[0]
            raise ValidationError("breakpoints", "no recorded entry of the replayed runs has "
                                  "this kind (kinds look like 'tool.call', 'llm.call', "
                                  "'state.write', or a prefix such as 'state')", got=kind)

    def matches(self, entry: JournalEntry) -> bool:
        if not self.kinds and not self.seqs:
            return True
        return entry.seq in self.seqs or any(
            entry.kind == k or entry.kind.startswith(k + ".") for k in self.kinds)


class Stepper:
    """Walks the recorded entries up to where the replay has got (module doc)."""

    def __init__(self, entries: Iterator[JournalEntry], *, first: int, last: int,
                 progress: Progress | None = None, on_break: OnBreak | None = None,
                 breakpoints: Breakpoints | None = None,
                 state: Callable[[], dict[str, Any]] | None = None) -> None:
        self.entries = entries
        self.first, self.last = first, last
        self.progress = progress
        self.on_break = on_break
        self.breakpoints = breakpoints or Breakpoints()
        self.state = state
        self.position = first
        self.breaks = 0

    def reach(self, entry: JournalEntry) -> None:
        """The replay has got to ``entry``: step over every entry up to it."""
        self.advance(entry.seq)

    def advance(self, seq: int) -> None:
        if seq <= self.position:
            return
        for passed in _until(self.entries, seq):
            self.position = passed.seq
            if self.on_break is not None and self.breakpoints.matches(passed):
                self.breaks += 1
                state = self.state() if self.state is not None else {}
                if self.on_break(passed.to_dict(), state) == "stop":
                    raise ReplayStopped(passed.seq)
        self.position = max(self.position, seq)
        if self.progress is not None:
            self.progress("replay", self.position - self.first, self.last - self.first)


def _until(entries: Iterator[JournalEntry], seq: int) -> Iterable[JournalEntry]:
    for entry in entries:
        yield entry
        if entry.seq >= seq:
            return
