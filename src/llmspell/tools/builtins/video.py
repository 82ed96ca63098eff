"""``video_processor``: detect a video container and read its metadata through ``ffprobe``.

Without ``ffprobe`` on PATH the tool is unavailable (``llmspell doctor`` and ``Tool.list`` say
so, naming ffprobe). ffprobe is a program, so it runs like every program a tool starts
(:func:`~llmspell.tools.builtins.process.run_program`): only with ``[runtime.security]
allow_process_spawn = true`` and ``ffprobe`` listed in ``allowed_executables``, no shell, a
timeout. The file is resolved through the allowed roots first. rs-llmspell's ``thumbnail``
and ``extract_frame`` (which need ffmpeg) are not offered.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from llmspell.errors import ToolError, ValidationError
from llmspell.tools.base import Tool, ToolContext
from llmspell.tools.builtins.process import run_program

PROBE = "ffprobe"
#: (format, MIME type) by the first bytes of a file.
_BRANDS = {b"qt  ": ("mov", "video/quicktime")}


def detect(head: bytes) -> tuple[str, str]:
    """``(format, mime_type)`` of a video file's first bytes; ``unknown`` when none matches."""
    if head[4:8] == b"ftyp":
        return _BRANDS.get(head[8:12], ("mp4", "video/mp4"))
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        kind = "webm" if b"webm" in head[:64] else "mkv"
        return kind, "video/webm" if kind == "webm" else "video/x-matroska"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi", "video/x-msvideo"
    if head.startswith(b"FLV"):
        return "flv", "video/x-flv"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "mpeg", "video/mpeg"
    return "unknown", "application/octet-stream"


class VideoProcessor(Tool):
    name = "video_processor"
    description = ("Video files: detect the container (mp4, mov, webm, mkv, avi) and read "
                   "duration, size, frame rate, codecs and streams through ffprobe")
    category = "media"
    security_level = "safe"
    capabilities = ("files", "video", "process")
    timeout = 65.0
    parameters = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["detect", "metadata"], "default": "metadata"},
            "file_path": {"type": "string", "minLength": 1},
            "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 60, "default": 30},
        },
        "required": ["file_path"],
        "additionalProperties": False,
    }

    def available(self) -> str | None:
        if shutil.which(PROBE) is None:
            return (f"{PROBE} is not installed (video_processor reads video through it; "
                    "install FFmpeg)")
        return None

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        path = params["file_path"]
        real = ctx.resolve(path, tool=self.name, argument="file_path")
        if not os.path.isfile(real):
            raise ValidationError("params", "must be a file", path="$.file_path", got=path)
        with open(real, "rb") as handle:
            fmt, mime = detect(handle.read(64))
        size = os.path.getsize(real)
        if params.get("operation", "metadata") == "detect":
            return {"file_path": path, "format": fmt, "mime_type": mime,
                    "supported": fmt != "unknown"}
        code, out, err = run_program(
            ctx, self.name, PROBE, ["-v", "error", "-print_format", "json", "-show_format",
                                    "-show_streams", real],
            cwd=os.path.dirname(real), limit=float(params.get("timeout", 30)))
        if code != 0:
            raise ToolError(f"video_processor: {PROBE} could not read {path!r}: "
                            f"{err.strip()[:300] or f'exit code {code}'}")
        try:
            probe = json.loads(out)
        except ValueError:
            raise ToolError(f"video_processor: {PROBE} did not print JSON") from None
        return {"file_path": path, "metadata": _metadata(probe, fmt, mime, size)}


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _rate(text: Any) -> float | None:
    """``"30000/1001"`` -> 29.97."""
    if not isinstance(text, str) or "/" not in text:
        return _number(text)
    top, _, bottom = text.partition("/")
    num, den = _number(top), _number(bottom)
    return round(num / den, 3) if num is not None and den else None


def _metadata(probe: dict[str, Any], fmt: str, mime: str, size: int) -> dict[str, Any]:
    container = probe.get("format") or {}
    streams = probe.get("streams") or []
    video: dict[str, Any] = next((s for s in streams if s.get("codec_type") == "video"), {})
    audio: dict[str, Any] = next((s for s in streams if s.get("codec_type") == "audio"), {})
    duration = _number(container.get("duration")) or _number(video.get("duration"))
    width, height = video.get("width"), video.get("height")
    return {
        "format": fmt, "mime_type": mime, "container": container.get("format_name"),
        "file_size": size, "duration_seconds": duration,
        "dimensions": {"width": width, "height": height} if width and height else None,
        "frame_rate": _rate(video.get("avg_frame_rate") or video.get("r_frame_rate")),
        "video_codec": video.get("codec_name"), "audio_codec": audio.get("codec_name"),
        "has_audio": bool(audio), "bit_rate": _number(container.get("bit_rate")),
        "streams": [{"index": s.get("index"), "type": s.get("codec_type"),
                     "codec": s.get("codec_name")} for s in streams],
    }


__all__ = ["VideoProcessor", "detect"]
