"""Artifacts: every output and file of a session, stored once, versioned and queryable.

``runtime.artifacts`` is an :class:`ArtifactManager` (:mod:`.manager`). Underneath, the
content-addressed blob layer (:mod:`.blobs`) keeps each distinct content once (deduplicated,
compressed, hash-verified, reference counted, garbage-collected). Modules: :mod:`.model`
(the record and its id), :mod:`.keys` (store layout and indexes), :mod:`.writer` (the one
atomic batch per write; the session's counters join it through the SessionManager's
``artifact_counters``), :mod:`.query`, :mod:`.permissions`, :mod:`.collectors` (automatic
collection), :mod:`.sources` (what content may be; values, streams and the files storeFile
opens where :mod:`llmspell.paths` allows), :mod:`.mime`, :mod:`.validate` (checks and the
``[session]`` artifact settings). ``docs/artifacts.md`` is the user guide.

Names are imported on first use, so registering the collectors (which the Runtime does on
start) does not load the blob layer's compression and hashing libraries.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmspell.artifacts.blobs import (
        BlobReader,
        BlobRef,
        BlobStats,
        BlobStore,
        GcReport,
        RefOps,
        StagedBlob,
        content_hash,
    )
    from llmspell.artifacts.collectors import ArtifactCollector
    from llmspell.artifacts.manager import ArtifactGcReport, ArtifactManager
    from llmspell.artifacts.model import Artifact, ArtifactId
    from llmspell.artifacts.validate import ArtifactSettings

_WHERE = {
    "GcReport": "blobs", "BlobReader": "blobs", "BlobRef": "blobs", "RefOps": "blobs",
    "content_hash": "blobs", "StagedBlob": "blobs", "BlobStats": "blobs", "BlobStore": "blobs",
    "ArtifactCollector": "collectors",
    "ArtifactManager": "manager", "Artifact": "model", "ArtifactId": "model",
    "ArtifactSettings": "validate", "ArtifactGcReport": "manager",
}

__all__ = [
    "Artifact",
    "ArtifactCollector",
    "ArtifactGcReport",
    "ArtifactId",
    "ArtifactManager",
    "ArtifactSettings",
    "BlobReader",
    "BlobRef",
    "BlobStats",
    "BlobStore",
    "GcReport",
    "RefOps",
    "StagedBlob",
    "content_hash",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'llmspell.artifacts' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"llmspell.artifacts.{module}"), name)
    globals()[name] = value
    return value
