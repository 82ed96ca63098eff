"""Replay: re-run a session's recorded script runs with every recorded input served from its
journal, into a new session linked to the original.

:func:`replay_session` finds the runs (``script.start`` entries), forks the original as it
was just before the first one (:func:`~llmspell.replay.fork.fork_session`; the replay session
is its child, ``metadata.replay_of`` names it) and runs each script again, recorded like the
original (:func:`~llmspell.replay.recording.record_run`), with:

- the input tape serving the run's recorded clock, environment, seed and id reads;
- a :class:`~llmspell.replay.source.JournalSource` answering model and tool calls
  (``exact``: from the journal, nothing is called; ``live``: called and compared).

Then it checks what an exact replay promises: every recorded call was made, each run ended
as the original did (the same return value, or the same error), and the replay session's
state scope, the keys written elsewhere and the artifacts (by name and content hash) are
those of the original at the end of the run. The :class:`ReplayReport` says ``identical``,
``diverged`` (stopped at a call or input the journal does not have: seq, expected, actual),
``different`` (ran through, ended differently), ``stopped`` (step mode) or ``interrupted``
(an exception, re-raised). The replay session is completed when identical and failed
otherwise; ``keep=False`` deletes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llmspell.errors import ReplayDivergence, SessionError, ValidationError
from llmspell.intercept import ContextChanges, changing_contexts
from llmspell.journal import JournalEntry
from llmspell.replay.compare import compare
from llmspell.replay.effects import apply_effects
from llmspell.replay.fork import fork_session
from llmspell.replay.recording import END, START, TAG, config_digest, ending, record_run
from llmspell.replay.source import (
    EXACT,
    MODES,
    NESTED,
    SPAN,
    JournalSource,
    changed,
    view,
)
from llmspell.replay.steps import Breakpoints, OnBreak, Progress, ReplayStopped, Stepper
from llmspell.replay.tape import INPUTS, InputTape
from llmspell.validation import check_callback, check_flag, check_known_keys

CALL_KINDS = ("llm.call", "tool.call")


@dataclass
class Run:
    """One recorded script run of a session: its ``script.start`` entry and where it ends
    (``end``: the ``script.end`` seq, or the journal's last seq when it has none)."""

    seq: int
    end: int
    path: str
    hash: str
    artifact_id: str | None
    args: list[str]
    config_digest: str
    ok: bool | None = None
    error: str | None = None
    error_type: str | None = None
    result: Any = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ReplayReport:
    """What a replay found (module doc)."""

    source_session_id: str
    session_id: str | None
    mode: str
    status: str
    runs: int = 0
    calls_served: int = 0
    calls_made: int = 0
    inputs_served: int = 0
    entries: int = 0
    breaks: int = 0
    divergence: dict[str, Any] | None = None
    differences: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return self.status == "identical"

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "identical": self.identical}


def find_runs(journal: Any, session_id: str) -> list[Run]:
    """The recorded runs of a session, in order (one pass over its journal)."""
    runs: list[Run] = []
    last = journal.last_seq(session_id)
    for entry in journal.iter(session_id, kinds=(START, END)):
        if entry.kind == START:
            if runs and runs[-1].ok is None:
                runs[-1].end = entry.seq - 1
            d = entry.data or {}
            runs.append(Run(entry.seq, last, d.get("path") or "script",
                            d.get("hash") or "", d.get("artifact_id"),
                            list(d.get("args") or ()), d.get("config_digest") or ""))
        elif runs and runs[-1].ok is None:
            d = entry.data or {}
            runs[-1].end = entry.seq
            runs[-1].ok = bool(d.get("ok"))
            runs[-1].error, runs[-1].error_type = d.get("error"), d.get("error_type")
            runs[-1].result = d.get("result")
    return runs


def replay_session(runtime: Any, session: Any, *, mode: str = EXACT,
                   script: str | bytes | None = None,
                   breakpoints: Any = None, on_break: OnBreak | None = None,
                   progress: Progress | None = None,
                   modifications: Mapping[int, Mapping[str, Any]] | None = None,
                   context_changes: Mapping[str, Mapping[str, Any]] | None = None,
                   stop_on_error: bool = False, compare_results: bool = True,
                   timeout: float | None = None, keep: bool = True,
                   name: str | None = None) -> ReplayReport:
    """Replay ``session`` (module doc) and report.

    Args:
        mode: ``exact`` (serve every call from the journal) or ``live`` (call and compare).
        script: Lua text to run instead of the recorded one (a session with one run only):
            to see where a change makes the run diverge.
        breakpoints, on_break: step mode (:mod:`llmspell.replay.steps`).
        progress: ``progress("replay", done, total)``.
        modifications: ``{seq: {"result.output": value}}``: serve a changed result.
        context_changes: ``{"data": {key: value}, "metadata": {key: text}}``:
            rs-llmspell's ``context.data.KEY`` / ``context.metadata.KEY`` modifications, set
            in the context of every Lua hook the replayed script runs (the report's notes say
            how many hook calls they changed).
        stop_on_error: live mode stops at its first difference.
        compare_results: live mode compares each call's result with the recorded one
            (False: only that the same calls are made).
        timeout: each run's wall-time limit in seconds (default: ``[engines.lua]``).
        keep: False deletes the replay session afterwards (the report stays).

    Raises:
        SessionNotFound: no such session.
        SessionError: the session has no recorded script run.
        ValidationError: a bad mode, script, breakpoint or modification.
    """
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(
            timeout, int | float) or timeout <= 0):
        raise ValidationError("timeout", "must be a number of seconds > 0", got=timeout)
    if mode not in MODES:
        raise ValidationError("mode", f"must be one of {', '.join(MODES)}", got=mode)
    for argument, flag in (("keep", keep), ("compare_results", compare_results),
                           ("stop_on_error", stop_on_error)):
        check_flag(flag, argument)
    check_callback(on_break, "on_break")
    check_callback(progress, "progress")
    points = Breakpoints.parse(breakpoints)
    changes = _modifications(modifications)
    contexts = _context_changes(context_changes)
    sessions = runtime.sessions
    journal = sessions.journal
    original = sessions.get(session)
    runs = find_runs(journal, original.id)
    if not runs:
        raise SessionError(f"session {original.id} has no recorded script run to replay "
                           "(record one with `llmspell run --record SCRIPT`, "
                           "`Replay.record` or llmspell.replay.record_run)")
    if script is not None and len(runs) != 1:
        raise ValidationError("script", f"replaces the recorded script of a session with one "
                              f"run; session {original.id} has {len(runs)}", got=script)
    if script is not None and not isinstance(script, str | bytes):
        raise ValidationError("script", "must be Lua source text", got=script)
    first, last = runs[0].seq, runs[-1].end
    if changes:
        _check_modifications(journal, original.id, first, last, changes, mode)
    if breakpoints is not None:
        if on_break is None:
            raise ValidationError("breakpoints", "pause only with an on_break function to call "
                                  "at them (on_break(entry, state))", got=breakpoints)
        points.check(journal.iter(original.id, after_seq=first - 1, before_seq=last + 1),
                     first, last)
    report = ReplayReport(original.id, None, mode, "identical", runs=len(runs),
                          entries=last - first + 1)
    replica = fork_session(runtime, original.id, first - 1, name=name or
                           f"replay of {original.name or original.id}",
                           metadata={"replay_of": original.id, "replay_mode": mode})
    report.session_id = replica.id
    stepper = Stepper(journal.iter(original.id, after_seq=first - 1, before_seq=last + 1),
                      first=first - 1, last=last, progress=progress, on_break=on_break,
                      breakpoints=points if on_break is not None else None,
                      state=lambda: sessions.state_at(replica.id).state)
    hooked = None if contexts is None else ContextChanges(contexts["data"], contexts["metadata"])
    try:
        with changing_contexts(hooked):
            _replay_runs(runtime, journal, original.id, replica.id, runs, report, stepper,
                         mode, script, changes, {"stop_on_error": stop_on_error,
                                                 "compare_results": compare_results}, timeout)
    except ReplayStopped as stopped:  # step mode stopped between calls (after the last)
        report.status = "stopped"
        report.notes.append(str(stopped))
    except BaseException as exc:  # Ctrl-C, a storage failure: the replica must not pass
        report.status = "interrupted"
        report.notes.append(f"the replay was interrupted: {type(exc).__name__}: {exc}")
        raise
    finally:
        report.breaks = stepper.breaks
        if hooked is not None:
            report.notes.append(_context_note(hooked))
        _finish(runtime, report, keep)
    return report


def _replay_runs(runtime: Any, journal: Any, source_id: str, replica_id: str, runs: list[Run],
                 report: ReplayReport, stepper: Stepper, mode: str, script: Any,
                 changes: dict[int, dict[str, Any]], checks: dict[str, bool],
                 timeout: float | None) -> None:
    digest = config_digest(runtime.config)
    for run in runs:
        if run.config_digest and run.config_digest != digest:
            report.notes.append(f"run at seq {run.seq}: the configuration differs from "
                                "the recorded one (its digest changed)")
        outcome = _replay_run(runtime, journal, source_id, replica_id, run, report, stepper,
                              mode, script, changes, checks, timeout)
        if outcome is not None:
            return
    _check_end(runtime, report, source_id, replica_id, runs, stepper,
               ignore=f"script/{runs[0].path}" if script is not None else None)


def _context_note(hooked: ContextChanges) -> str:
    keys = [f"context.data.{k}" for k in hooked.data]
    keys += [f"context.metadata.{k}" for k in hooked.metadata]
    text = (f"context modifications ({', '.join(keys)}) changed {hooked.applied} Lua hook "
            f"call(s)")
    if hooked.skipped:
        text += (f"; {hooked.skipped} hook call(s) left unchanged: their data is not a table "
                 "to set a key in")
    return text


def _replay_run(runtime: Any, journal: Any, source_id: str, replica_id: str, run: Run,
                report: ReplayReport, stepper: Stepper, mode: str, script: Any,
                changes: dict[int, dict[str, Any]], checks: dict[str, bool],
                timeout: float | None) -> str | None:
    """Replay one run; the report's status when it ended the replay, else None."""
    window = {"after_seq": run.seq, "before_seq": run.end + 1}
    text = script if script is not None else _recorded_text(runtime, run)

    def reached(entry: JournalEntry) -> None:
        try:
            stepper.reach(entry)
        except ReplayStopped as exc:
            calls.stop(exc)
            tape.failure = exc
            raise

    stepper.advance(run.seq)
    tape = InputTape(lambda batch: None,
                     recorded=journal.iter(source_id, kinds=INPUTS, **window))
    notes: dict[str, list[Any]] = {NESTED: [], SPAN: []}
    for entry in journal.iter(source_id, kinds=INPUTS, **window):
        for kind, value in entry.data.get("inputs") or ():
            if kind in notes:
                notes[kind].append(value)
    calls = JournalSource(journal.iter(source_id, kinds=CALL_KINDS, **window),
                          mode=mode, tape=tape, reached=reached, modifications=changes,
                          nested=notes[NESTED], spans=notes[SPAN], **checks,
                          effects=lambda after, before: apply_effects(
                              runtime, source_id, replica_id, after, before),
                          position=lambda: journal.last_seq(replica_id))
    result = record_run(runtime, text, name=run.path, args=run.args, session=replica_id,
                        tape=tape, calls=calls, timeout=timeout)
    report.calls_served += calls.served
    report.calls_made += calls.made
    report.inputs_served += tape.served
    report.differences.extend(calls.differences)
    failure = calls.failure or tape.failure
    if isinstance(failure, ReplayStopped):
        report.status = "stopped"
        report.notes.append(str(failure))
        return report.status
    if isinstance(failure, ReplayDivergence):
        report.status = "diverged"
        report.divergence = {"seq": failure.seq, "message": str(failure),
                             "expected": failure.expected, "actual": failure.actual,
                             "differences": getattr(failure, "differences", [])}
        return report.status
    if mode == EXACT:
        missing = calls.leftover()
        if missing is not None:
            report.status = "diverged"
            report.divergence = {
                "seq": missing.seq, "expected": view(missing), "actual": None,
                "differences": [],
                "message": f"replay diverged at seq {missing.seq}: the script ended without "
                           f"making the {missing.kind} recorded there"}
            return report.status
    end = ending(result.error, result.value)
    ended = {"ok": end["ok"], "error": end.get("error"), "result": end.get("result")}
    recorded = {"ok": bool(run.ok), "error": run.error, "result": run.result}
    if run.ok is not None and ended != recorded:
        report.status = "different"
        report.differences.append({"seq": run.end, "kind": "end",
                                   "expected": recorded, "actual": ended})
    stepper.advance(run.end)
    return None


def _check_end(runtime: Any, report: ReplayReport, source_id: str, replica_id: str,
               runs: list[Run], stepper: Stepper, *, ignore: str | None) -> None:
    """State and artifacts of the replay against the original at the end of the last run
    (``ignore``: the script artifact, when the replay ran another text on purpose)."""
    sessions = runtime.sessions
    want = sessions.state_at(source_id, runs[-1].end)
    got = sessions.state_at(replica_id)

    def listed(artifacts: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return sorted((a["name"], a["content_hash"]) for a in artifacts if a["name"] != ignore)

    expected = {"state": want.state, "scopes": want.scopes,
                "artifacts": listed(want.artifacts)}
    actual = {"state": got.state, "scopes": got.scopes, "artifacts": listed(got.artifacts)}
    found = compare(expected, actual)
    if not found.identical:
        report.differences.append({"seq": runs[-1].end, "kind": "state",
                                   "differences": found.differences})
    if report.differences and report.status == "identical":
        report.status = "different"
    stepper.advance(runs[-1].end)


def _finish(runtime: Any, report: ReplayReport, keep: bool) -> None:
    sessions = runtime.sessions
    sid = report.session_id
    if sid is None:
        return
    if not keep:
        sessions.delete(sid)
        return
    current = sessions.get(sid)
    if current.status not in ("active", "suspended"):
        return
    if report.identical:
        sessions.complete(sid)
    else:
        reason = (report.divergence or {}).get("message") or f"replay {report.status}"
        sessions.fail(sid, reason[:4000])


def _recorded_text(runtime: Any, run: Run) -> bytes:
    if not run.artifact_id:
        raise SessionError(f"the run at seq {run.seq} has no stored script text to replay")
    return bytes(runtime.artifacts.read(run.artifact_id, as_session=None))


def _modifications(value: Any) -> dict[int, dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError("modifications", "must map sequence numbers to {path: value} "
                              "tables", got=value)
    out: dict[int, dict[str, Any]] = {}
    for seq, changes in value.items():
        key = int(seq) if isinstance(seq, str) and seq.isdigit() else seq
        if isinstance(key, bool) or not isinstance(key, int) or key <= 0:
            raise ValidationError("modifications", "keys must be sequence numbers > 0",
                                  path=f"[{seq!r}]", got=seq)
        if not isinstance(changes, Mapping) or not all(
                isinstance(p, str) and p for p in changes):
            raise ValidationError("modifications", "each must be a table of dotted paths "
                                  "('result.output') to values", path=f"[{seq}]", got=changes)
        out[key] = dict(changes)
    return out


def _check_modifications(journal: Any, session_id: str, first: int, last: int,
                         changes: dict[int, dict[str, Any]], mode: str) -> None:
    """Refuse modifications that could not act: in a live replay (nothing is served), at a
    seq that is not a recorded call of the replayed runs, or at a path the entry lacks."""
    if mode != EXACT:
        raise ValidationError("modifications", "serve changed recorded results; a live replay "
                              "makes its calls, so they would not act (use mode exact)",
                              got=changes)
    calls = {entry.seq: entry for entry in journal.iter(
        session_id, kinds=CALL_KINDS, after_seq=first - 1, before_seq=last + 1)}
    for seq, paths in changes.items():
        entry = calls.get(seq)
        if entry is None:
            raise ValidationError("modifications", f"seq {seq} is not a recorded model or tool "
                                  f"call of the replayed runs (seq {first} to {last})",
                                  path=f"[{seq}]", got=seq)
        changed(entry.data, paths)


def _context_changes(value: Any) -> dict[str, dict[str, Any]] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError("context_changes", "must be a table {data = {...}, metadata = "
                              "{...}}", got=value)
    check_known_keys(value, ("data", "metadata"), "context_changes", noun="field")
    out: dict[str, dict[str, Any]] = {}
    for part in ("data", "metadata"):
        given = value.get(part) or {}
        if not isinstance(given, Mapping) or not all(isinstance(k, str) and k for k in given):
            raise ValidationError("context_changes", "must map keys to values", path=f"$.{part}",
                                  got=given)
        for key, item in given.items():
            if part == "metadata" and not isinstance(item, str):
                raise ValidationError("context_changes", "a metadata value must be a string "
                                      "(as in rs-llmspell)", path=f"$.metadata.{key}", got=item)
        out[part] = dict(given)
    return out if out["data"] or out["metadata"] else None




def replay_metadata(runtime: Any, session: Any) -> dict[str, Any]:
    """What a replay of ``session`` would work from: its runs, how many entries, model calls,
    tool calls and input batches it holds, and whether it can be replayed (and why not)."""
    sessions = runtime.sessions
    found = sessions.get(session)
    counts = {"llm.call": 0, "tool.call": 0, INPUTS: 0}
    for entry in sessions.journal.iter(found.id, kinds=tuple(counts)):
        counts[entry.kind] += 1
    runs = find_runs(sessions.journal, found.id)
    reason = None
    if not runs:
        reason = "no recorded script run"
    elif any(not r.artifact_id for r in runs):
        reason = "a run has no stored script text"
    return {"session_id": found.id, "name": found.name, "status": found.status,
            "can_replay": reason is None, "reason": reason,
            "runs": [r.to_dict() for r in runs],
            "entries": sessions.journal.last_seq(found.id), "llm_calls": counts["llm.call"],
            "tool_calls": counts["tool.call"], "input_batches": counts[INPUTS],
            "parent_session_id": found.parent_session_id,
            "replay_of": (found.metadata or {}).get("replay_of"),
            "forked_from": (found.metadata or {}).get("forked_from")}


def replayable_sessions(runtime: Any) -> list[str]:
    """Ids of the sessions tagged ``recorded`` (those recording created, and their forks and
    replays) that hold a recorded run."""
    sessions = runtime.sessions
    found = []
    for session in sessions.list(tags=[TAG]):
        if next(sessions.journal.iter(session.id, kinds=START, limit=1), None) is not None:
            found.append(session.id)
    return found
