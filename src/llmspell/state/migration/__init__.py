"""Schema versions and migrations of stored state (DESIGN.md 5, docs/backup-and-migration.md).

A value saved with no declared schema is at version 1. A migration is a declarative plan
(:mod:`.plan`) of transforms (:mod:`.transforms`) with optional validation
(:mod:`.validation`); :class:`Migrator` (``runtime.migrations``) dry-runs it, applies it all
or nothing (:mod:`.engine`), records it (:mod:`.ledger`), reports status and rolls the last
one back to the exact previous bytes (both in :mod:`.migrator`).
"""

from llmspell.state.migration.engine import MigrationReport
from llmspell.state.migration.migrator import Migrator, load_plans
from llmspell.state.migration.plan import CONVERSIONS, TRANSFORMS, MigrationPlan, Transform
from llmspell.state.migration.validation import Validation

__all__ = [
    "CONVERSIONS",
    "TRANSFORMS",
    "MigrationPlan",
    "MigrationReport",
    "Migrator",
    "Transform",
    "Validation",
    "load_plans",
]
