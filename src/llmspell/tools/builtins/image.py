"""``image_processor``: detect, metadata, resize, convert, crop, rotate, thumbnail (Pillow).

Pillow is the optional extra ``media`` (``pip install 'llmspell[media]'``); without it the tool
is unavailable and says so. Files are read and written through the tools' confined helpers
(:func:`~llmspell.tools.builtins.support.read_confined`, ``write_confined``): the allowed roots
and ``allow_file_access`` apply, a file is read up to 64 MiB. Decompression bombs are refused
before any pixel is decoded: an image (or a result) of more than :data:`MAX_PIXELS` pixels is
a ValidationError naming the parameter.
"""

from __future__ import annotations

import io
from typing import Any

from llmspell.errors import ToolError, ValidationError
from llmspell.tools.base import Tool, ToolContext
from llmspell.tools.builtins.support import need, read_confined, write_confined

#: Pixels an image may have (read or produced): 50 megapixels, about 200 MB decoded as RGBA.
MAX_PIXELS = 50_000_000
#: target_format -> Pillow's format name.
FORMATS = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "gif": "GIF", "webp": "WEBP",
           "bmp": "BMP", "tiff": "TIFF", "ico": "ICO"}
MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp",
        "BMP": "image/bmp", "TIFF": "image/tiff", "ICO": "image/x-icon"}
_SIDE = {"type": "integer", "minimum": 1, "maximum": 65535}


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image


class ImageProcessor(Tool):
    name = "image_processor"
    description = ("Image files: detect the format, read metadata (size, mode, DPI, EXIF), "
                   "resize, convert, crop, rotate, make a thumbnail (Pillow)")
    category = "media"
    security_level = "safe"
    capabilities = ("files", "image")
    timeout = 60.0
    parameters = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["detect", "metadata", "resize", "convert", "crop", "rotate",
                                   "thumbnail"], "default": "metadata"},
            "file_path": {"type": "string", "minLength": 1,
                          "description": "the image of detect and metadata"},
            "source_path": {"type": "string", "minLength": 1},
            "target_path": {"type": "string", "minLength": 1},
            "width": _SIDE,
            "height": _SIDE,
            "maintain_aspect_ratio": {"type": "boolean", "default": True},
            "target_format": {"enum": sorted(FORMATS)},
            "x": {"type": "integer", "minimum": 0},
            "y": {"type": "integer", "minimum": 0},
            "degrees": {"type": "integer", "minimum": -360, "maximum": 360, "default": 90},
            "max_width": {**_SIDE, "default": 128},
            "max_height": {**_SIDE, "default": 128},
            "quality": {"type": "integer", "minimum": 1, "maximum": 100, "default": 85},
        },
        "additionalProperties": False,
    }

    def available(self) -> str | None:
        if _pil() is None:
            return "Pillow is not installed (pip install 'llmspell[media]')"
        return None

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        operation = params.get("operation", "metadata")
        if operation in ("detect", "metadata"):
            path = need(params, "file_path", operation)
            data = read_confined(ctx, path, tool=self.name, argument="file_path")
            image = _open(data, "file_path")
            if operation == "detect":
                fmt = image.format or ""
                return {"file_path": path, "format": fmt.lower(),
                        "mime_type": MIME.get(fmt, "application/octet-stream"),
                        "supported": fmt in MIME}
            return {"file_path": path, "metadata": _metadata(image, len(data))}
        source = need(params, "source_path", operation)
        target = need(params, "target_path", operation)
        image = _open(read_confined(ctx, source, tool=self.name, argument="source_path"),
                      "source_path")
        _decode(image)
        result = getattr(self, f"_{operation}")(image, params)
        fmt = FORMATS[params["target_format"]] if "target_format" in params else (
            _format_of(target) or image.format or "PNG")
        data = _encode(result, fmt, params.get("quality", 85))
        write_confined(ctx, target, data, tool=self.name, argument="target_path")
        return {"operation": operation, "source_path": source, "target_path": target,
                "format": fmt.lower(), "width": result.width, "height": result.height,
                "original": {"width": image.width, "height": image.height},
                "bytes": len(data)}

    # -- operations: each takes the decoded image and gives the new one -------------------

    def _resize(self, image: Any, params: dict[str, Any]) -> Any:
        width, height = params.get("width"), params.get("height")
        if width is None and height is None:
            raise ValidationError("params", "operation 'resize' needs 'width' or 'height'",
                                  path="$.width")
        if params.get("maintain_aspect_ratio", True):
            ratio = min((width or 10**9) / image.width, (height or 10**9) / image.height)
            width = max(1, round(image.width * ratio))
            height = max(1, round(image.height * ratio))
        width, height = width or image.width, height or image.height
        _check_pixels(width, height, "width")
        return image.resize((width, height), _pil().Resampling.LANCZOS)

    def _convert(self, image: Any, params: dict[str, Any]) -> Any:
        if "target_format" not in params and _format_of(str(params["target_path"])) is None:
            raise ValidationError("params", "operation 'convert' needs 'target_format' (or a "
                                  "target_path ending in a known extension)",
                                  path="$.target_format")
        return image

    def _crop(self, image: Any, params: dict[str, Any]) -> Any:
        box = [need(params, key, "crop") for key in ("x", "y", "width", "height")]
        x, y, width, height = box
        if x + width > image.width or y + height > image.height:
            raise ValidationError("params", f"the crop box ({x}, {y}, {width}x{height}) goes "
                                  f"past the image ({image.width}x{image.height})",
                                  path="$.width")
        return image.crop((x, y, x + width, y + height))

    def _rotate(self, image: Any, params: dict[str, Any]) -> Any:
        degrees = params.get("degrees", 90)
        rotated = image.rotate(-degrees, expand=True)  # clockwise, as rs-llmspell turns
        _check_pixels(rotated.width, rotated.height, "degrees")
        return rotated

    def _thumbnail(self, image: Any, params: dict[str, Any]) -> Any:
        copy = image.copy()
        copy.thumbnail((params.get("max_width", 128), params.get("max_height", 128)))
        return copy


def _open(data: bytes, argument: str) -> Any:
    """The image in ``data``, its header read (no pixel decoded yet) and its size checked."""
    pil = _pil()
    if pil is None:
        raise ToolError("image_processor: Pillow is not installed")
    try:
        image = pil.open(io.BytesIO(data))
    except (pil.UnidentifiedImageError, OSError, ValueError) as exc:
        raise ValidationError("params", f"is not an image Pillow can read ({exc})",
                              path=f"$.{argument}") from None
    except pil.DecompressionBombError as exc:
        raise ValidationError("params", f"is a decompression bomb: {exc}",
                              path=f"$.{argument}") from None
    _check_pixels(image.width, image.height, argument)
    return image


def _decode(image: Any) -> None:
    try:
        image.load()
    except (OSError, ValueError) as exc:
        raise ToolError(f"image_processor: the image cannot be decoded: {exc}") from None


def _check_pixels(width: int, height: int, argument: str) -> None:
    if width * height > MAX_PIXELS:
        raise ValidationError("params", f"an image of {width}x{height} pixels is over the limit "
                              f"of {MAX_PIXELS:,} pixels (a decompression bomb?)",
                              path=f"$.{argument}")


def _format_of(path: str) -> str | None:
    return FORMATS.get(path.rpartition(".")[2].lower()) if "." in path else None


def _encode(image: Any, fmt: str, quality: int) -> bytes:
    if fmt == "JPEG" and image.mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")  # JPEG has no alpha channel or palette
    out = io.BytesIO()
    try:
        image.save(out, format=fmt, **({"quality": quality} if fmt in ("JPEG", "WEBP") else {}))
    except (OSError, ValueError, KeyError) as exc:
        raise ToolError(f"image_processor: cannot write {fmt}: {exc}") from None
    return out.getvalue()


def _metadata(image: Any, size: int) -> dict[str, Any]:
    width, height = image.size
    ratio = width / height if height else 0
    exif: dict[str, str] = {}
    try:
        from PIL import ExifTags

        for tag, value in image.getexif().items():
            name = ExifTags.TAGS.get(tag, str(tag))
            if isinstance(value, str | int | float):
                exif[name] = str(value)[:200]
    except (OSError, ValueError, SyntaxError):
        exif = {}
    dpi = image.info.get("dpi")
    return {"format": (image.format or "").lower(), "mime_type": MIME.get(image.format or "",
                                                                            "application/octet-stream"),
            "dimensions": {"width": width, "height": height},
            "orientation": "landscape" if ratio > 1.2 else "portrait" if ratio < 0.8
            else "square",
            "color_mode": image.mode, "bands": len(image.getbands()),
            "frames": getattr(image, "n_frames", 1), "file_size": size,
            "dpi": [round(float(d), 1) for d in dpi] if dpi else None, "exif": exif or None}


__all__ = ["MAX_PIXELS", "ImageProcessor"]
