"""Artifacts: content kept once per store, versioned and queryable.

So far this holds the content-addressed blob layer (:mod:`.blobs`): deduplicated,
compressed, hash-verified content with reference counts and a safe garbage collector.
"""

from llmspell.artifacts.blob_gc import GcReport
from llmspell.artifacts.blob_reader import BlobReader
from llmspell.artifacts.blob_records import BlobRef, RefOps, content_hash
from llmspell.artifacts.blob_writer import StagedBlob
from llmspell.artifacts.blobs import BlobStats, BlobStore

__all__ = [
    "BlobReader",
    "BlobRef",
    "BlobStats",
    "BlobStore",
    "GcReport",
    "RefOps",
    "StagedBlob",
    "content_hash",
]
