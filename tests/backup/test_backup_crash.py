"""A restore killed in the middle of its apply leaves the store exactly as it was."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from llmspell import Runtime
from processes import kill_when

WORKER = Path(__file__).with_name("backup_worker.py")


def everything(rt: Runtime) -> dict[str, bytes]:
    return dict(rt.store.scan(""))


def test_a_restore_killed_mid_apply_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    backups = tmp_path / "backups"
    with Runtime.memory(storage__url=url, state__backup_dir=str(backups)) as rt:
        with rt.state.transaction():
            for i in range(3000):
                rt.state.save(f"agent:a{i % 7}", f"k{i:05d}", {"i": i, "v": "before"})
        backup_id = rt.backups.backup().id
        with rt.state.transaction():
            for i in range(0, 3000, 2):
                rt.state.save(f"agent:a{i % 7}", f"k{i:05d}", {"i": i, "v": "after"})
            for i in range(1, 300, 2):
                rt.state.delete(f"agent:a{i % 7}", f"k{i:05d}")
            rt.state.save("workflow:new", "k", "added after the backup")
        expected = everything(rt)
    sync = tmp_path / "sync"
    sync.mkdir()
    child = subprocess.Popen([sys.executable, str(WORKER), url, str(backups), str(sync),
                              backup_id], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    kill_when(child, (sync / "mid").exists, "the restore's apply")
    with Runtime.memory(storage__url=url, state__backup_dir=str(backups)) as rt:
        found = everything(rt)
        assert found.keys() == expected.keys()
        assert found == expected  # every key, record, change-log entry and the sequence
        # The store is whole: the same restore now completes.
        done = rt.backups.restore(backup_id, safety_backup=False)
        assert done["puts"] == 1650 and done["deletes"] == 1
        assert rt.state.load("agent:a1", "k00001") == {"i": 1, "v": "before"}
