"""Artifact content as ``llmspell web`` sends it (the download and image routes).

Content that is text (it decodes as UTF-8) goes through the app's redactor like every page:
a download is a view of the data, not a copy of it (``llmspell artifact cat`` gives the exact
bytes). JSON content is redacted as a value, then sent as JSON. Content that is not text
(images, archives) is sent unchanged. Text-like content above :data:`MAX_REDACTED_BYTES` is
refused (413) rather than sent unredacted.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from llmspell.errors import ArtifactTooLarge

MAX_REDACTED_BYTES = 32 * 1024 * 1024


def download(web: Any, session_id: str, name: str, version: int | None,
             inline: bool) -> Response:
    """The response for one artifact version's content (``inline``: shown, not saved)."""
    rt = web.runtime
    sid = rt.sessions.get(session_id).id
    artifact = rt.artifacts.get(name, session=sid, version=version)
    mime = artifact.mime_type or "application/octet-stream"
    if not mime.startswith("image/") and artifact.size > MAX_REDACTED_BYTES:
        raise ArtifactTooLarge(
            f"artifact {artifact.id} is {artifact.size} bytes; the web app sends text "
            f"content redacted and only up to {MAX_REDACTED_BYTES} bytes (use "
            f"'llmspell artifact cat' for the exact bytes)")
    raw = rt.artifacts.read(artifact)
    body = raw
    if mime == "application/json" or mime.endswith("+json"):
        body = orjson.dumps(web.shown(orjson.loads(raw)), option=orjson.OPT_INDENT_2)
    elif not mime.startswith("image/"):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            pass  # not text: nothing the redactor could find
        else:
            body = web.redactor.redact_text(text).encode("utf-8")
    filename = name.rsplit("/", 1)[-1].replace('"', "")
    disposition = "inline" if inline else "attachment"
    return Response(body, media_type=mime, headers={
        "content-disposition": f'{disposition}; filename="{filename}"',
        "x-content-type-options": "nosniff",
        "content-security-policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"})
