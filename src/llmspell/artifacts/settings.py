"""The ``[session]`` settings that shape artifacts, read from a Config into one typed object.

The keys live in ``[session]`` (the seeds put ``artifact_compression`` there) and are declared
in :mod:`llmspell.config_schema`; ``ArtifactSettings()`` gives the defaults, so an
:class:`~llmspell.artifacts.manager.ArtifactManager` can also be built without a Config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmspell.settings import from_config, setting


@dataclass(frozen=True)
class ArtifactSettings:
    """Artifact behaviour. A zero size limit means none. Each field defaults to the schema
    default of the ``[session]`` key it is read from.

    Args:
        max_artifact_size: largest content, in bytes, one artifact may hold.
        max_name_length: longest artifact name, in characters.
        max_tag_length: longest tag, in characters.
        max_tags: most tags on one artifact.
        auto_collect: store tool results and agent outputs in the current session.
        compression: ``zstd``, ``lz4`` or ``none`` for content above ``compression_threshold``
            (``[session] artifact_compression_algorithm``, or ``none`` when
            ``artifact_compression = false``).
        compression_threshold: content larger than this many bytes is compressed when that
            saves space.
        gc_grace_seconds: how long unreferenced content is kept before ``gc`` may remove it.
    """

    max_artifact_size: int = setting("session.max_artifact_size")
    max_name_length: int = setting("session.artifact_max_name_length")
    max_tag_length: int = setting("session.artifact_max_tag_length")
    max_tags: int = setting("session.artifact_max_tags")
    auto_collect: bool = setting("session.artifact_auto_collect")
    compression: str = setting("session.artifact_compression_algorithm")
    compression_threshold: int = setting("session.compression_threshold")
    gc_grace_seconds: float = setting("session.artifact_gc_grace_seconds")

    @classmethod
    def from_config(cls, config: Any) -> ArtifactSettings:
        """Read ``[session]`` from a :class:`~llmspell.config.Config`."""
        if config.setting("session.artifact_compression"):
            return from_config(cls, config)
        return from_config(cls, config, compression="none")


def blob_dir(config: Any) -> Path:
    """Where artifact blob files live: ``[session] storage_path``, else ``<data_dir>/blobs``."""
    return Path(config.session.blob_dir)
