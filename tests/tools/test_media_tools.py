"""image_processor (Pillow), audio_processor (wave) and video_processor (ffprobe) on files the
tests make under the allowed root; their refusals (paths outside the roots, bombs, bad
parameters, ffprobe absent or not allowed)."""

from __future__ import annotations

import array
import io
import math
import shutil
import struct
import subprocess
import wave
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from llmspell.errors import SecurityViolation, ToolError, ValidationError
from llmspell.tools.builtins.image import MAX_PIXELS


def _png(path: Path, size: tuple[int, int] = (400, 200), mode: str = "RGBA") -> Path:
    Image.new(mode, size, (200, 10, 10, 255) if mode == "RGBA" else 128).save(path, dpi=(72, 72))
    return path


def _wav(path: Path, *, channels: int = 2, width: int = 2, rate: int = 8000,
         seconds: float = 1.0) -> Path:
    count = int(rate * seconds)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        samples = array.array("h")
        for i in range(count):
            value = int(1000 * math.sin(i / 10))
            samples.extend([value, -value + 200][:channels])
        out.writeframes(samples.tobytes())
    return path


def _image(path: Path) -> tuple[tuple[int, int], str, str]:
    """Size, format and mode of an image file (closed again)."""
    with Image.open(path) as image:
        return image.size, image.format, image.mode


# -- image_processor ------------------------------------------------------------------------

def test_image_detect_metadata_resize_convert_crop_rotate_thumbnail(rt: Any, root: Path) -> None:
    _png(root / "a.png")
    call = rt.tools.invoke
    assert call("image_processor", {"operation": "detect", "file_path": str(root / "a.png")}
                ).result == {"file_path": str(root / "a.png"), "format": "png",
                             "mime_type": "image/png", "supported": True}
    meta = call("image_processor", {"file_path": str(root / "a.png")}).result["metadata"]
    assert meta["dimensions"] == {"width": 400, "height": 200}
    assert (meta["orientation"], meta["color_mode"], meta["format"]) == ("landscape", "RGBA",
                                                                         "png")
    assert meta["file_size"] == (root / "a.png").stat().st_size and meta["dpi"] == [72, 72]
    out = call("image_processor", {"operation": "resize", "source_path": str(root / "a.png"),
                                   "target_path": str(root / "r.png"), "width": 100}).result
    assert (out["width"], out["height"]) == (100, 50)
    assert _image(root / "r.png")[0] == (100, 50)
    call("image_processor", {"operation": "resize", "source_path": str(root / "a.png"),
                             "target_path": str(root / "s.png"), "width": 30, "height": 30,
                             "maintain_aspect_ratio": False})
    assert _image(root / "s.png")[0] == (30, 30)
    out = call("image_processor", {"operation": "convert", "source_path": str(root / "a.png"),
                                   "target_path": str(root / "c.out"),
                                   "target_format": "jpeg", "quality": 50}).result
    assert out["format"] == "jpeg" and _image(root / "c.out")[1:] == ("JPEG", "RGB")
    call("image_processor", {"operation": "crop", "source_path": str(root / "a.png"),
                             "target_path": str(root / "k.png"), "x": 10, "y": 20, "width": 50,
                             "height": 40})
    assert _image(root / "k.png")[0] == (50, 40)
    call("image_processor", {"operation": "rotate", "source_path": str(root / "a.png"),
                             "target_path": str(root / "t.png")})
    assert _image(root / "t.png")[0] == (200, 400)
    out = call("image_processor", {"operation": "thumbnail", "source_path": str(root / "a.png"),
                                   "target_path": str(root / "th.webp"), "max_width": 64,
                                   "max_height": 64}).result
    assert (out["width"], out["height"], out["format"]) == (64, 32, "webp")
    assert _image(root / "th.webp")[1] == "WEBP"


def test_image_refusals(rt: Any, root: Path, tmp_path: Path) -> None:
    _png(tmp_path / "outside.png")
    with pytest.raises(SecurityViolation, match="allowed"):
        rt.tools.invoke("image_processor", {"file_path": str(tmp_path / "outside.png")})
    _png(root / "a.png")
    with pytest.raises(SecurityViolation):
        rt.tools.invoke("image_processor", {"operation": "resize", "width": 10,
                                            "source_path": str(root / "a.png"),
                                            "target_path": str(tmp_path / "out.png")})
    (root / "text.png").write_text("not an image")
    with pytest.raises(ValidationError, match="not an image") as info:
        rt.tools.invoke("image_processor", {"file_path": str(root / "text.png")})
    assert info.value.path == "$.file_path"
    with pytest.raises(ValidationError, match="needs 'width' or 'height'"):
        rt.tools.invoke("image_processor", {"operation": "resize",
                                            "source_path": str(root / "a.png"),
                                            "target_path": str(root / "b.png")})
    with pytest.raises(ValidationError, match="goes past the image"):
        rt.tools.invoke("image_processor", {"operation": "crop", "x": 390, "y": 0, "width": 50,
                                            "height": 10, "source_path": str(root / "a.png"),
                                            "target_path": str(root / "b.png")})
    with pytest.raises(ValidationError, match=r"over the limit") as info:
        rt.tools.invoke("image_processor", {"operation": "resize", "width": 60000,
                                            "height": 60000, "maintain_aspect_ratio": False,
                                            "source_path": str(root / "a.png"),
                                            "target_path": str(root / "b.png")})
    assert not (root / "b.png").exists()


@pytest.mark.parametrize("side", [8000, 20000])  # 64 M: our cap; 400 M: Pillow's too
def test_an_image_bomb_is_refused_before_decoding(rt: Any, root: Path, side: int) -> None:
    # A tiny PNG whose header claims side x side pixels: only the header is read.
    buffer = io.BytesIO()
    Image.new("1", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", side, side)
    import zlib

    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    (root / "bomb.png").write_bytes(bytes(data))
    assert side * side > MAX_PIXELS
    for params in ({"file_path": str(root / "bomb.png")},
                   {"operation": "thumbnail", "source_path": str(root / "bomb.png"),
                    "target_path": str(root / "t.png")}):
        with pytest.raises(ValidationError, match=r"bomb"):
            rt.tools.invoke("image_processor", params)


# -- audio_processor ------------------------------------------------------------------------

def test_audio_detect_metadata_convert_trim(rt: Any, root: Path) -> None:
    _wav(root / "a.wav", seconds=2.0)
    call = rt.tools.invoke
    assert call("audio_processor", {"operation": "detect", "file_path": str(root / "a.wav")}
                ).result["format"] == "wav"
    meta = call("audio_processor", {"file_path": str(root / "a.wav")}).result["metadata"]
    assert (meta["duration_seconds"], meta["sample_rate"], meta["channels"],
            meta["sample_width"], meta["bit_rate"]) == (2.0, 8000, 2, 2, 256000)
    out = call("audio_processor", {"operation": "convert", "source_path": str(root / "a.wav"),
                                   "target_path": str(root / "m.wav"), "channels": 1}).result
    assert out["metadata"]["channels"] == 1 and out["metadata"]["duration_seconds"] == 2.0
    with wave.open(str(root / "m.wav")) as mono, wave.open(str(root / "a.wav")) as stereo:
        left_right = array.array("h", stereo.readframes(3))
        assert array.array("h", mono.readframes(3)).tolist() == [
            (left_right[i] + left_right[i + 1]) // 2 for i in (0, 2, 4)]
    call("audio_processor", {"operation": "convert", "source_path": str(root / "a.wav"),
                             "target_path": str(root / "8.wav"), "sample_width": 1})
    with wave.open(str(root / "8.wav")) as eight:
        assert (eight.getsampwidth(), eight.getnchannels()) == (1, 2)
    out = call("audio_processor", {"operation": "trim", "source_path": str(root / "a.wav"),
                                   "target_path": str(root / "t.wav"), "start_seconds": 0.5,
                                   "end_seconds": 1.25}).result
    assert out["metadata"]["duration_seconds"] == 0.75 and out["metadata"]["frames"] == 6000


def test_audio_recognises_other_formats_without_guessing(rt: Any, root: Path) -> None:
    (root / "a.flac").write_bytes(b"fLaC" + b"\0" * 60)
    (root / "a.mp3").write_bytes(b"ID3\x04" + b"\0" * 60)
    flac = rt.tools.invoke("audio_processor", {"file_path": str(root / "a.flac")}).result
    assert flac["metadata"]["format"] == "flac" and flac["metadata"]["duration_seconds"] is None
    assert rt.tools.invoke("audio_processor", {"operation": "detect",
                                               "file_path": str(root / "a.mp3")}
                           ).result["mime_type"] == "audio/mpeg"


def test_audio_refusals(rt: Any, root: Path, tmp_path: Path) -> None:
    _wav(tmp_path / "out.wav")
    with pytest.raises(SecurityViolation):
        rt.tools.invoke("audio_processor", {"file_path": str(tmp_path / "out.wav")})
    _wav(root / "a.wav")
    (root / "bad.wav").write_bytes(b"RIFF\0\0\0\0WAVEjunk")
    with pytest.raises(ValidationError, match="not a PCM WAV") as info:
        rt.tools.invoke("audio_processor", {"operation": "trim", "end_seconds": 1,
                                            "source_path": str(root / "bad.wav"),
                                            "target_path": str(root / "o.wav")})
    assert info.value.path == "$.source_path"
    with pytest.raises(ValidationError, match="after start_seconds"):
        rt.tools.invoke("audio_processor", {"operation": "trim", "start_seconds": 0.5,
                                            "end_seconds": 0.2,
                                            "source_path": str(root / "a.wav"),
                                            "target_path": str(root / "o.wav")})
    with pytest.raises(ValidationError, match="needs 'channels'"):
        rt.tools.invoke("audio_processor", {"operation": "convert",
                                            "source_path": str(root / "a.wav"),
                                            "target_path": str(root / "o.wav")})
    with pytest.raises(ValidationError, match=r"\$\.channels"):
        rt.tools.invoke("audio_processor", {"operation": "convert", "channels": 2,
                                            "source_path": str(root / "a.wav"),
                                            "target_path": str(root / "o.wav")})
    assert not (root / "o.wav").exists()


# -- video_processor ------------------------------------------------------------------------

def test_without_ffprobe_video_processor_is_unavailable_and_names_it(
        make_rt: Any, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = root / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    rt = make_rt()
    info = rt.tools.get("video_processor").info()
    assert not info["available"] and "ffprobe is not installed" in info["unavailable_reason"]
    assert "video_processor" in [t.name for t in rt.tools.discover({"available": False})]
    with pytest.raises(ToolError, match="unavailable on this machine: ffprobe"):
        rt.tools.invoke("video_processor", {"file_path": str(root / "x.mp4")})
    from llmspell.cli.setup import tool_checks

    checks = {c["name"]: c for c in tool_checks()}
    assert "ffprobe" in checks["tool video_processor"]["detail"]
    assert checks["tool video_processor"]["optional"]


@pytest.fixture
def clip(root: Path) -> Path:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.skip("ffmpeg and ffprobe are not installed here")
    path = root / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc=duration=1:size=160x120:rate=10", "-f", "lavfi", "-i",
                    "sine=duration=1", "-shortest", "-pix_fmt", "yuv420p", str(path)],
                   check=True, timeout=60)
    return path


@pytest.mark.slow
def test_video_metadata_through_ffprobe(make_rt: Any, clip: Path) -> None:
    rt = make_rt(runtime__security__allow_process_spawn=True,
                 runtime__security__allowed_executables=["ffprobe"])
    assert rt.tools.invoke("video_processor", {"operation": "detect",
                                               "file_path": str(clip)}).result["format"] == "mp4"
    meta = rt.tools.invoke("video_processor", {"file_path": str(clip)}).result["metadata"]
    assert meta["dimensions"] == {"width": 160, "height": 120} and meta["frame_rate"] == 10
    assert meta["video_codec"] and meta["has_audio"]
    assert meta["duration_seconds"] == pytest.approx(1.0, abs=0.1)


@pytest.mark.slow
def test_video_refusals(make_rt: Any, clip: Path, root: Path, tmp_path: Path) -> None:
    with pytest.raises(SecurityViolation, match="allow_process_spawn"):
        make_rt().tools.invoke("video_processor", {"file_path": str(clip)})
    with pytest.raises(SecurityViolation, match="allowed_executables"):
        make_rt(runtime__security__allow_process_spawn=True).tools.invoke(
            "video_processor", {"file_path": str(clip)})
    rt = make_rt(runtime__security__allow_process_spawn=True,
                 runtime__security__allowed_executables=["ffprobe"])
    outside = tmp_path / "o.mp4"
    shutil.copy(clip, outside)
    with pytest.raises(SecurityViolation):
        rt.tools.invoke("video_processor", {"file_path": str(outside)})
    (root / "junk.mp4").write_bytes(b"not a video at all")
    with pytest.raises(ToolError, match="ffprobe could not read"):
        rt.tools.invoke("video_processor", {"file_path": str(root / "junk.mp4")})
