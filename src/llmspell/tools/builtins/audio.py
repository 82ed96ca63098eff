"""``audio_processor``: detect an audio format, read WAV metadata, convert a WAV file (to mono,
another sample width) or trim it; the standard library's :mod:`wave` only.

Other formats (MP3, FLAC, Ogg, AIFF, M4A) are recognised by their first bytes and reported
with their size; their duration and sample rate need a decoder this tool does not have, so
those fields are None rather than guessed. Files go through the tools' confined helpers (the
allowed roots; 64 MiB at most).
"""

from __future__ import annotations

import array
import io
import sys
import wave
from typing import Any

from llmspell.errors import ValidationError
from llmspell.tools.base import Tool, ToolContext
from llmspell.tools.builtins.support import need, read_confined, write_confined

#: (format, MIME type) by the first bytes of a file.
SIGNATURES = ((b"RIFF", 8, b"WAVE", "wav", "audio/wav"), (b"fLaC", 0, b"", "flac", "audio/flac"),
              (b"OggS", 0, b"", "ogg", "audio/ogg"), (b"ID3", 0, b"", "mp3", "audio/mpeg"),
              (b"FORM", 8, b"AIFF", "aiff", "audio/aiff"))
_TYPECODES = {2: "h", 4: "i"}  # sample width -> array type code (signed little-endian)


def detect(data: bytes) -> tuple[str, str]:
    """``(format, mime_type)`` of audio bytes; ``("unknown", ...)`` when none matches."""
    for head, offset, mark, fmt, mime in SIGNATURES:
        if data.startswith(head) and data[offset:offset + len(mark)] == mark:
            return fmt, mime
    if len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        return "mp3", "audio/mpeg"  # an MPEG audio frame without an ID3 tag
    if data[4:8] == b"ftyp" and data[8:11] in (b"M4A", b"M4B"):
        return "m4a", "audio/mp4"
    return "unknown", "application/octet-stream"


class AudioProcessor(Tool):
    name = "audio_processor"
    description = ("Audio files: detect the format (wav, mp3, flac, ogg, aiff, m4a), read WAV "
                   "metadata (duration, sample rate, channels), convert a WAV file to mono or "
                   "another sample width, trim it")
    category = "media"
    security_level = "safe"
    capabilities = ("files", "audio")
    timeout = 60.0
    parameters = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["detect", "metadata", "convert", "trim"],
                          "default": "metadata"},
            "file_path": {"type": "string", "minLength": 1},
            "source_path": {"type": "string", "minLength": 1},
            "target_path": {"type": "string", "minLength": 1},
            "target_format": {"enum": ["wav"], "default": "wav"},
            "channels": {"enum": [1], "description": "1: mix the channels down to mono"},
            "sample_width": {"enum": [1, 2, 4], "description": "bytes per sample of the result"},
            "start_seconds": {"type": "number", "minimum": 0, "default": 0},
            "end_seconds": {"type": "number", "exclusiveMinimum": 0},
        },
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        operation = params.get("operation", "metadata")
        if operation in ("detect", "metadata"):
            path = need(params, "file_path", operation)
            data = read_confined(ctx, path, tool=self.name, argument="file_path")
            fmt, mime = detect(data)
            if operation == "detect":
                return {"file_path": path, "format": fmt, "mime_type": mime,
                        "supported": fmt == "wav"}
            meta: dict[str, Any] = {"format": fmt, "mime_type": mime, "file_size": len(data),
                                    "duration_seconds": None, "sample_rate": None,
                                    "channels": None, "bit_rate": None}
            if fmt == "wav":
                meta.update(_wav_info(_open(data, "file_path")))
            return {"file_path": path, "metadata": meta}
        source = need(params, "source_path", operation)
        target = need(params, "target_path", operation)
        reader = _open(read_confined(ctx, source, tool=self.name, argument="source_path"),
                       "source_path")
        channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
        frames = reader.readframes(reader.getnframes())
        if operation == "trim":
            frames = _trim(frames, channels * width, rate, params)
        else:
            if "channels" not in params and "sample_width" not in params:
                raise ValidationError("params", "operation 'convert' needs 'channels' (1) or "
                                      "'sample_width'", path="$.channels")
            if params.get("channels") == 1 and channels > 1:
                frames, channels = _to_mono(frames, channels, width), 1
            if "sample_width" in params and params["sample_width"] != width:
                frames = _rewidth(frames, width, params["sample_width"])
                width = params["sample_width"]
        out = io.BytesIO()
        with wave.open(out, "wb") as writer:
            writer.setnchannels(channels)
            writer.setsampwidth(width)
            writer.setframerate(rate)
            writer.writeframes(frames)
        write_confined(ctx, target, out.getvalue(), tool=self.name, argument="target_path")
        written = _wav_info(_open(out.getvalue(), "target_path"))
        return {"operation": operation, "source_path": source, "target_path": target,
                "metadata": {**written, "file_size": len(out.getvalue())}}


def _open(data: bytes, argument: str) -> wave.Wave_read:
    try:
        return wave.open(io.BytesIO(data), "rb")
    except (wave.Error, EOFError) as exc:
        raise ValidationError("params", f"is not a PCM WAV file the standard library can read "
                              f"({exc})", path=f"$.{argument}") from None


def _wav_info(reader: wave.Wave_read) -> dict[str, Any]:
    rate, channels, width = reader.getframerate(), reader.getnchannels(), reader.getsampwidth()
    return {"format": "wav", "duration_seconds": round(reader.getnframes() / rate, 6),
            "sample_rate": rate, "channels": channels, "sample_width": width,
            "bit_rate": rate * channels * width * 8, "frames": reader.getnframes()}


def _trim(frames: bytes, frame_bytes: int, rate: int, params: dict[str, Any]) -> bytes:
    start = params.get("start_seconds", 0)
    total = len(frames) // frame_bytes
    end = params.get("end_seconds", total / rate)
    if end <= start:
        raise ValidationError("params", "must be after start_seconds", path="$.end_seconds",
                              got=end)
    first = min(total, round(start * rate))
    if first >= total:
        raise ValidationError("params", f"is past the end of the audio ({total / rate:g} s)",
                              path="$.start_seconds", got=start)
    last = min(total, round(end * rate))
    return frames[first * frame_bytes:last * frame_bytes]


def _samples(frames: bytes, width: int) -> list[int]:
    """Signed sample values (8-bit WAV is unsigned: shifted to signed)."""
    if width == 1:
        return [b - 128 for b in frames]
    if width in _TYPECODES:
        values = array.array(_TYPECODES[width], frames)
        if sys.byteorder == "big":
            values.byteswap()
        return values.tolist()
    return [int.from_bytes(frames[i:i + width], "little", signed=True)
            for i in range(0, len(frames), width)]


def _pack(samples: list[int], width: int) -> bytes:
    if width == 1:
        return bytes(s + 128 for s in samples)
    values = array.array(_TYPECODES[width], samples)
    if sys.byteorder == "big":
        values.byteswap()
    return values.tobytes()


def _to_mono(frames: bytes, channels: int, width: int) -> bytes:
    samples = _samples(frames, width)
    mixed = [sum(samples[i:i + channels]) // channels for i in range(0, len(samples), channels)]
    if width == 3:
        return b"".join(s.to_bytes(3, "little", signed=True) for s in mixed)
    return _pack(mixed, width)


def _rewidth(frames: bytes, width: int, new: int) -> bytes:
    shift = 8 * (new - width)
    samples = _samples(frames, width)
    moved = [s << shift for s in samples] if shift > 0 else [s >> -shift for s in samples]
    return _pack(moved, new)


__all__ = ["AudioProcessor", "detect"]
