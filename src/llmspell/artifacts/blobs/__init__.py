"""The content-addressed blob layer under artifacts: each distinct content kept once.

:mod:`.store` is the API (:class:`BlobStore`); :mod:`.records` the key layout and the meta
record; :mod:`.writer` staging and writing content (inline, or in chunk keys);
:mod:`.reader` verified streaming reads; :mod:`.gc` garbage collection; :mod:`.files` the
blob files of stores written before blobs moved into chunk keys (read, collected and
migrated, never written).
"""

from llmspell.artifacts.blobs.gc import GcReport
from llmspell.artifacts.blobs.reader import BlobReader
from llmspell.artifacts.blobs.records import BlobRef, RefOps, content_hash
from llmspell.artifacts.blobs.store import BlobStats, BlobStore
from llmspell.artifacts.blobs.writer import StagedBlob

__all__ = ["BlobReader", "BlobRef", "BlobStats", "BlobStore", "GcReport", "RefOps",
           "StagedBlob", "content_hash"]
