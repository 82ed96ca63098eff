"""The ``[session]`` settings that shape artifacts, read from a Config into one typed object.

The keys live in ``[session]`` (the seeds put ``artifact_compression`` there) and are declared
in :mod:`llmspell.config_schema`; ``ArtifactSettings()`` gives the defaults, so an
:class:`~llmspell.artifacts.manager.ArtifactManager` can also be built without a Config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

GB = 1024 * 1024 * 1024


@dataclass(frozen=True)
class ArtifactSettings:
    """Artifact behaviour. A zero size limit means none.

    Args:
        max_artifact_size: largest content, in bytes, one artifact may hold.
        max_name_length: longest artifact name, in characters.
        max_tag_length: longest tag, in characters.
        max_tags: most tags on one artifact.
        auto_collect: store tool results and agent outputs in the current session.
        compression: ``zstd``, ``lz4`` or ``none`` for content above ``compression_threshold``.
        compression_threshold: content larger than this many bytes is compressed when that
            saves space.
        gc_grace_seconds: how long unreferenced content is kept before ``gc`` may remove it.
    """

    max_artifact_size: int = GB
    max_name_length: int = 255
    max_tag_length: int = 128
    max_tags: int = 64
    auto_collect: bool = True
    compression: str = "zstd"
    compression_threshold: int = 10 * 1024
    gc_grace_seconds: float = 900.0

    @classmethod
    def from_config(cls, config: Any) -> ArtifactSettings:
        """Read ``[session]`` from a :class:`~llmspell.config.Config`."""
        values = config.values.get("session", {})
        session = config.session
        return cls(
            max_artifact_size=int(values.get("max_artifact_size", GB)),
            max_name_length=int(values.get("artifact_max_name_length", 255)),
            max_tag_length=int(values.get("artifact_max_tag_length", 128)),
            max_tags=int(values.get("artifact_max_tags", 64)),
            auto_collect=bool(values.get("artifact_auto_collect", True)),
            compression=(values.get("artifact_compression_algorithm", "zstd")
                         if session.artifact_compression else "none"),
            compression_threshold=session.compression_threshold,
            gc_grace_seconds=float(values.get("artifact_gc_grace_seconds", 900.0)),
        )


def blob_dir(config: Any) -> Path:
    """Where artifact blob files live: ``[session] storage_path``, else ``<data_dir>/blobs``."""
    return Path(config.session.blob_dir)
