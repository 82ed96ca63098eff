"""Progress for every phase (issue 19 item 7): a restore reports verify to the end, the
safety backup and the apply; a state import reports reading and writing."""

from __future__ import annotations

import io

from llmspell import Runtime
from llmspell.state.transfer import export_lines, import_lines


def test_a_restore_reports_each_phase_to_its_end(mem: Runtime) -> None:
    for i in range(30):
        mem.state.save("global", f"k{i}", i)
    info = mem.backups.backup()
    mem.state.save("global", "k0", "changed")
    seen: list[tuple[str, int, int]] = []
    mem.backups.restore(info.id, progress=lambda phase, done, total: seen.append(
        (phase, done, total)))
    phases = list(dict.fromkeys(phase for phase, _, _ in seen))
    assert phases == ["verify", "safety backup", "apply"]
    last = {phase: (done, total) for phase, done, total in seen}
    assert last["verify"] == (info.entries, info.entries)  # no stall before the end
    assert last["safety backup"] == (1, 1)
    assert last["apply"] == (1, 1)


def test_a_state_import_reports_reading_and_writing(mem: Runtime) -> None:
    for i in range(2500):
        mem.state.save("agent:a", f"k{i}", {"i": i})
    lines = b"\n".join(export_lines(mem.state))
    seen: list[tuple[str, int, int]] = []
    count = import_lines(mem.state, io.BytesIO(lines),
                         progress=lambda phase, done, total: seen.append((phase, done, total)))
    assert count == 2500
    assert seen == [("read", 1000, 1000), ("read", 2000, 2000), ("read", 2500, 2500),
                    ("write", 0, 2500), ("write", 2500, 2500)]
