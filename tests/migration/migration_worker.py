"""Run as a child process by test_migration_streaming.py; not a test module.

``migration_worker.py URL SYNC_DIR``: migrate the store's values in chunks of 100 with a
transform that, at the 1,500th value, writes to SYNC_DIR/mid the schema version this process
reads back for the first value (the earlier chunks are written, not committed), then sleeps, so
the test can kill the process in the middle of the migration.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import orjson

from llmspell import Runtime
from llmspell.state import bulk


def main(url: str, sync_dir: Path) -> None:
    bulk.CHUNK_RECORDS = 100
    rt = Runtime.memory(storage__url=url)
    seen = [0]

    def bump(value: Any, ctx: dict[str, Any]) -> Any:
        seen[0] += 1
        if seen[0] == 1500:
            first = orjson.loads(rt.store.get("state/agent:a0/k00000") or b"{}")
            (sync_dir / "mid").write_text(str(first.get("s")))
            time.sleep(120)
        return value + 1

    rt.migrations.apply({"name": "killed", "from_version": 1, "to_version": 2,
                         "transformations": [{"field": "i", "transform": "custom",
                                              "fn": bump, "name": "bump"}]})
    print("the migration finished: the test meant to kill it first", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
