"""The deep integrity check behind ``llmspell doctor --deep``: find damage before a read does.

:func:`deep_check` reads the whole store once and reports each problem as a
:class:`Finding` (the check, the key or file, what is wrong). The checks:

- **storage**: the backend's own check (:meth:`~llmspell.storage.base.Store.check_integrity`:
  SQLite's ``PRAGMA integrity_check``), and a full scan that must read to the end;
- **records**: every record of the layers above decodes: state values, session records,
  journal entries, artifact records, the state change log;
- **indexes**: every session index entry (status, tag, parent) and artifact index entry
  (type, tag) points at a record that lists it, and every record has all its entries;
- **blobs**: every blob an artifact refers to is stored, its reference count equals the
  number of artifact versions that use it (a count too high keeps it from gc forever, too low
  lets gc delete content still in use), and every stored blob's content hashes to its name
  (read and verified to the last byte);
- **references** (orphans): every state scope ``session:<id>`` and every artifact record
  belongs to a session that is stored (a restore of a state-only backup, or a session
  deleted by hand, could leave them behind);
- **journals**: each session's entry numbers run 1, 2, 3, ... with no gap, each entry holds
  its own number, each state value kept for the journal (``jval/``) decodes and hashes to
  its name, and no journal outlives its session (but for a deletion in progress);
- **temp files**: temporary files left in the backup directory by a backup that was killed
  (:func:`~llmspell.state.backup.catalog.stray_temps`). These are not damage: they are
  removed (``clean=True``, the default of ``doctor --deep``) and reported as removed.

Nothing else is changed: damage is reported, never repaired here (restore a backup, or save
the damaged state keys again). The check reads every value once; on a large store it takes as
long as a full backup.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from llmspell.artifacts import keys as artifact_keys
from llmspell.artifacts.blobs.records import META_PREFIX, Meta
from llmspell.artifacts.model import decode_record as decode_artifact
from llmspell.codec import DECODE_ERRORS, decode
from llmspell.errors import CorruptRecord, LLMSpellError
from llmspell.journal import ENTRY_PREFIX, VALUE_PREFIX, Journal
from llmspell.sessions.integrity import SessionScan
from llmspell.sessions.model import GENERATED_ID
from llmspell.state.backup.catalog import remove_stale_temps, stray_temps
from llmspell.state.records import decode_record as decode_state
from llmspell.state.records import value_hash
from llmspell.state.scopes import CHANGE_PREFIX, STATE_PREFIX

#: The checks, in the order they are reported.
_SESSION_STATE = STATE_PREFIX + "session:"
CHECKS = ("storage", "records", "indexes", "references", "blobs", "journals", "temp files")


@dataclass(frozen=True)
class Finding:
    """One problem: which check found it, where (a store key, a blob hash or a file) and
    what is wrong. ``fixed`` is True for what the check removed (stray temp files)."""

    check: str
    where: str
    problem: str
    fixed: bool = False


@dataclass
class DeepReport:
    """What :func:`deep_check` examined (per check, how many items) and found."""

    examined: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECKS, 0))
    findings: list[Finding] = field(default_factory=list)

    @property
    def damage(self) -> list[Finding]:
        """The findings that are damage (everything but the temp files removed)."""
        return [found for found in self.findings if not found.fixed]

    @property
    def ok(self) -> bool:
        return not self.damage

    def add(self, check: str, where: str, problem: str, *, fixed: bool = False) -> None:
        self.findings.append(Finding(check, where, problem, fixed))

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "examined": self.examined,
                "findings": [asdict(found) for found in self.findings]}


def deep_check(runtime: Any, *, clean: bool = True) -> DeepReport:
    """Check the whole store of ``runtime`` (see the module docstring).

    Args:
        runtime: a :class:`~llmspell.runtime.Runtime`.
        clean: remove the stray temp files found (else only report them).
    """
    report = DeepReport()
    store = runtime.store
    report.examined["storage"] = 1
    try:
        for problem in store.check_integrity():
            report.add("storage", store.url, problem)
    except LLMSpellError as exc:
        report.add("storage", store.url, f"the backend's check could not run: {exc}")
    walk = _Walk(report)
    try:
        for key, raw in store.scan(""):
            walk.record(key, raw)
    except LLMSpellError as exc:
        report.add("storage", store.url, f"a full scan stopped after {walk.scanned} records: "
                   f"{exc}")
    walk.check_indexes()
    walk.check_references()
    walk.check_journals()
    walk.check_blobs(runtime.artifacts.blobs)
    _check_temps(report, runtime.config.state.backup_dir, clean)
    return report


def check_config_store(config: Any, *, clean: bool = True) -> DeepReport:
    """:func:`deep_check` of the store ``config`` names, on a runtime of its own; a store too
    damaged to open (or to start the runtime on) is a storage finding, not an error."""
    from llmspell.runtime import Runtime

    try:
        with Runtime(config) as runtime:
            return deep_check(runtime, clean=clean)
    except LLMSpellError as exc:
        report = DeepReport()
        report.examined["storage"] = 1
        report.add("storage", config.storage.url, f"the check cannot start: {exc}")
        return report


class _Walk:
    """What one pass over every record collects for the checks that compare records."""

    def __init__(self, report: DeepReport) -> None:
        self.report = report
        self.scanned = 0
        self.sessions = SessionScan()
        self.artifact_entries: set[str] = set()
        self.artifact_expected: set[str] = set()
        self.referenced: dict[str, str] = {}  # blob hash -> an artifact record naming it
        self.uses: Counter[str] = Counter()  # blob hash -> artifact records naming it
        self.blobs: list[str] = []
        self.refs: dict[str, int] = {}  # blob hash -> its stored reference count
        self.journals: dict[str, list[int]] = defaultdict(list)
        self.owners: dict[str, dict[str, int]] = defaultdict(Counter)  # session -> kind -> n

    def damaged(self, key: str, exc: BaseException) -> None:
        self.report.add("records", key, f"does not decode: {exc}")

    def record(self, key: str, raw: bytes) -> None:
        self.scanned += 1
        prefix = key[:key.find("/") + 1]
        try:
            if prefix == STATE_PREFIX:
                self.report.examined["records"] += 1
                if key.startswith(_SESSION_STATE):
                    sid = key[len(_SESSION_STATE):].partition("/")[0]
                    if GENERATED_ID.fullmatch(sid):  # else an ordinary scope named session:x
                        self.owners[sid]["state"] += 1
                decode_state(raw, key)
            elif self.sessions.feed(key, raw):
                pass
            elif prefix == ENTRY_PREFIX:
                self.journal_entry(key, raw)
            elif prefix == artifact_keys.RECORD_PREFIX:
                self.report.examined["records"] += 1
                sid = key[len(artifact_keys.RECORD_PREFIX):].partition("/")[0]
                self.owners[sid]["artifacts"] += 1
                artifact = decode_artifact(key, raw)
                if artifact is not None:
                    self.artifact_expected.update(artifact_keys.index_keys(artifact))
                    self.referenced.setdefault(artifact.content_hash, key)
                    self.uses[artifact.content_hash] += 1
            elif prefix in artifact_keys.INDEX_PREFIXES:
                self.artifact_entries.add(key)
            elif key.startswith(META_PREFIX):
                blob_hash = key[len(META_PREFIX):]
                self.blobs.append(blob_hash)
                with suppress(LLMSpellError):  # else check_blobs reports it (cannot open it)
                    self.refs[blob_hash] = Meta.decode(blob_hash, raw).refs
            elif prefix == VALUE_PREFIX:
                self.journal_value(key, raw)
            elif prefix == CHANGE_PREFIX:
                self.report.examined["records"] += 1
                change = orjson.loads(raw)
                if not isinstance(change, dict) or not {"s", "k", "o"} <= change.keys():
                    self.report.add("records", key, "is not a state change record (needs "
                                    "s, k and o)")
        except CorruptRecord as exc:
            self.report.add("records", key, exc.problem)
        except DECODE_ERRORS as exc:
            self.damaged(key, exc)

    def journal_entry(self, key: str, raw: bytes) -> None:
        self.report.examined["journals"] += 1
        sid, _, number = key[len(ENTRY_PREFIX):].rpartition("/")
        if not number.isdigit():
            self.report.add("journals", key, "is not an entry key (journal/<session>/<seq>)")
            return
        seq = int(number)
        self.journals[sid].append(seq)
        entry = Journal.decode(sid, raw, seq)
        if entry.seq != seq:
            self.report.add("journals", key, f"holds entry number {entry.seq!r}, not {seq}")

    def journal_value(self, key: str, raw: bytes) -> None:
        """A state value kept for a session's journal: it decodes, and its name is its hash
        (:func:`~llmspell.state.records.value_hash`), which the entries refer to."""
        self.report.examined["journals"] += 1
        name = key.rpartition("/")[2]
        try:
            found = value_hash(decode(raw))
        except DECODE_ERRORS as exc:
            self.report.add("journals", key, f"does not decode: {exc}")
            return
        except LLMSpellError as exc:
            self.report.add("journals", key, f"holds a value that is not a state value: {exc}")
            return
        if found != name:
            self.report.add("journals", key, f"holds a value whose hash is {found}, not its "
                            "name")

    def check_indexes(self) -> None:
        report = self.report
        report.examined["records"] += self.sessions.records
        report.examined["indexes"] = len(self.sessions.entries) + len(self.artifact_entries)
        for entry, problem in self.sessions.index_problems():
            report.add("indexes", entry, problem)
        for entry in sorted(self.artifact_entries - self.artifact_expected):
            report.add("indexes", entry, f"points at artifact record "
                       f"{artifact_keys.record_key_of_index(entry)}, which is not stored or "
                       "does not list it")
        for entry in sorted(self.artifact_expected - self.artifact_entries):
            report.add("indexes", entry, f"is missing: artifact record "
                       f"{artifact_keys.record_key_of_index(entry)} is not listed by this "
                       "index")

    def check_references(self) -> None:
        """Records that belong to a session which is not stored: orphans."""
        names = {"state": "state record(s) of scope session:{sid}",
                 "artifacts": "artifact record(s) of session {sid}"}
        for sid, kinds in sorted(self.owners.items()):
            self.report.examined["references"] += sum(kinds.values())
            if self.sessions.known(sid):
                continue
            for kind, count in sorted(kinds.items()):
                self.report.add("references", f"session {sid}",
                                f"{count} {names[kind].format(sid=sid)}, but the session is "
                                "not stored (an orphan)")

    def check_journals(self) -> None:
        for sid, seqs in sorted(self.journals.items()):
            seqs.sort()
            gaps = [(low + 1, high - 1) for low, high in zip([0, *seqs], seqs, strict=False)
                    if high - low > 1]
            for first, last in gaps:
                span = f"entry {first} is" if first == last else f"entries {first} to {last} are"
                self.report.add("journals", f"{ENTRY_PREFIX}{sid}/",
                                f"{span} missing (the entries run 1 to {seqs[-1]} with no gap)")
            if not self.sessions.known(sid):
                self.report.add("journals", f"{ENTRY_PREFIX}{sid}/",
                                f"{len(seqs)} entries of session {sid}, which is not stored")

    def check_blobs(self, blobs: Any) -> None:
        stored = set(self.blobs)
        for blob_hash, record in sorted(self.referenced.items()):
            if blob_hash not in stored:
                self.report.add("blobs", blob_hash, f"is missing: artifact record {record} "
                                "refers to it")
        for blob_hash, refs in sorted(self.refs.items()):
            uses = self.uses[blob_hash]
            if refs != uses:
                self.report.add("blobs", blob_hash, f"counts {refs} reference(s), but "
                                f"{uses} artifact version(s) use it")
        for blob_hash in self.blobs:
            self.report.examined["blobs"] += 1
            try:
                with blobs.open(blob_hash) as reader:
                    for _ in reader:  # the hash is checked before the last piece
                        pass
            except LLMSpellError as exc:
                self.report.add("blobs", blob_hash, str(exc))


def _check_temps(report: DeepReport, directory: Any, clean: bool) -> None:
    strays = stray_temps(directory)
    report.examined["temp files"] = len(strays)
    removed = set(remove_stale_temps(directory)) if clean and strays else set()
    for temp in strays:
        gone = temp in removed
        report.add("temp files", str(temp), "left by a backup that was killed"
                   + (": removed" if gone else ""), fixed=gone)
