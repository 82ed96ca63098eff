"""Backups of state: one verified file per backup, full or incremental, restorable into any
backend, with retention (DESIGN.md section 6, docs/backup-and-migration.md).

:class:`BackupManager` (``runtime.backups``) creates (:mod:`.create`), lists
(:mod:`.catalog`), verifies and restores (:mod:`.restore`) and prunes (:mod:`.retention`)
backups; the file layout is :mod:`.fileformat`, compression :mod:`llmspell.compression`.
"""

from llmspell.compression import CODECS as COMPRESSIONS
from llmspell.state.backup.catalog import BackupInfo
from llmspell.state.backup.fileformat import ENTRY_FORMATS
from llmspell.state.backup.manager import BackupManager
from llmspell.state.backup.retention import RetentionPolicy, parse_duration, plan_retention

__all__ = [
    "COMPRESSIONS",
    "ENTRY_FORMATS",
    "BackupInfo",
    "BackupManager",
    "RetentionPolicy",
    "parse_duration",
    "plan_retention",
]
