"""The live timeline: a session's new journal entries as server-sent events.

``GET /api/sessions/ID/events?after=SEQ&kind=K`` answers ``text/event-stream``; each new
entry (after ``SEQ``, or after the newest one when the stream opens without it; of the kinds
``kind`` names, all without it) is one ``entry`` event whose data is the timeline item as
JSON plus ``html``, its table row as the timeline page renders it, with ``id:`` its seq (a
browser that reconnects sends ``Last-Event-ID`` and continues from there). The journal is
read every ``poll_seconds``, from the last seq read to the newest: entries written by any
process sharing the store show up, and entries of other kinds are read once. A ``: ping``
comment every 15 s keeps proxies from closing an idle stream. The stream ends when the client
goes away or the session is deleted (an ``end`` event).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from llmspell.errors import SessionNotFound, ValidationError
from llmspell.web import views

PING_SECONDS = 15.0


def _start(request: Request, last: int) -> int:
    text = request.headers.get("last-event-id") or request.query_params.get("after")
    if text is None or text == "":
        return last
    try:
        value = int(text)
    except ValueError:
        raise ValidationError("after", "must be a whole number", got=text) from None
    if value < 0:
        raise ValidationError("after", "must be >= 0", got=value)
    return value


async def stream(web: Any, request: Request, session_id: str) -> StreamingResponse:
    """The event stream of ``session_id``'s new entries (module doc).

    Raises SessionNotFound or ValidationError (a bad ``after``) before the stream starts."""
    manager = web.runtime.sessions
    sid = (await run_in_threadpool(manager.get, session_id)).id
    cursor = _start(request, await run_in_threadpool(manager.journal.last_seq, sid))
    kinds = views.kinds_arg(dict(request.query_params))

    async def events() -> AsyncIterator[bytes]:
        nonlocal cursor
        quiet_since = time.monotonic()
        yield b"retry: 2000\n\n"
        while not await request.is_disconnected():
            if not await run_in_threadpool(manager.exists, sid):
                yield b"event: end\ndata: {\"reason\": \"session deleted\"}\n\n"
                return
            try:
                newest = await run_in_threadpool(manager.journal.last_seq, sid)
                items = await run_in_threadpool(views.entries_between, web.runtime, sid,
                                                cursor, newest, kinds)
            except SessionNotFound:
                yield b"event: end\ndata: {\"reason\": \"session deleted\"}\n\n"
                return
            for item in items:
                shown = web.shown(item)
                shown["html"] = web.render_row(sid, shown)
                yield (b"id: %d\nevent: entry\ndata: " % item["seq"]
                       + orjson.dumps(shown, default=str) + b"\n\n")
            cursor = max(cursor, newest)
            now = time.monotonic()
            if items:
                quiet_since = now
            elif now - quiet_since >= PING_SECONDS:
                quiet_since = now
                yield b": ping\n\n"
            await asyncio.sleep(web.poll_seconds)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})
