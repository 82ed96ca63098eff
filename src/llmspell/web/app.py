"""The ``llmspell web`` application: HTML pages and the JSON API under ``/api/``.

Pages and API routes read the same values (:mod:`.views`) from one Runtime; everything that
leaves the app goes through the CLI's redactor (:class:`llmspell.redact.Redactor` with
``[state] redact_patterns``), pages and JSON alike. Read-only unless built with
``allow_actions``: then POST routes suspend, resume, complete, replay and fork sessions
(:mod:`.actions`). Access rules
(token, Host header, form key) are :mod:`.access`'s. docs/web.md documents the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from llmspell import __version__
from llmspell.errors import (
    ArtifactNotFound,
    ArtifactTooLarge,
    InvalidTransition,
    LLMSpellError,
    SecurityViolation,
    SessionNotFound,
    ValidationError,
)
from llmspell.journal import iso
from llmspell.redact import Redactor
from llmspell.validation import check_flag
from llmspell.web import actions, content, live, views
from llmspell.web.access import COOKIE, FORM_KEY_HEADER, AccessGuard, new_token, same_secret

HERE = Path(__file__).resolve().parent
#: What ``allow_actions`` lets a POST do to a session: move it (the SessionManager's method
#: names), replay it (exact: every call served from the journal), fork it at a seq.
SESSION_ACTIONS = ("suspend", "resume", "complete", "replay", "fork")


@dataclass
class WebApp:
    """The app's parts: the Runtime it reads, its redactor and what it allows."""

    runtime: Any
    redactor: Redactor
    allow_actions: bool = False
    token: str | None = None
    form_key: str = field(default_factory=new_token)
    poll_seconds: float = 0.5
    #: ``render_row(session_id, item) -> str``: a timeline row as the page renders it
    #: (the timeline_row macro), for the live stream.
    render_row: Callable[[str, dict[str, Any]], str] = field(default=lambda sid, item: "")

    def shown(self, value: Any) -> Any:
        """``value`` as the app may send it: secrets redacted (the CLI's rules)."""
        return self.redactor.redact(value)


def _status_of(exc: LLMSpellError) -> int:
    if isinstance(exc, SessionNotFound | ArtifactNotFound):
        return 404
    if isinstance(exc, InvalidTransition):
        return 409
    if isinstance(exc, ArtifactTooLarge):
        return 413
    if isinstance(exc, SecurityViolation):
        return 403
    if isinstance(exc, ValidationError):
        return 400
    return 500


def create_app(runtime: Any, *, allow_actions: bool = False, token: str | None = None,
               loopback: bool = True, poll_seconds: float = 0.5) -> AccessGuard:
    """The ASGI app over ``runtime``.

    Args:
        runtime: the Runtime whose sessions, artifacts, backups and migrations it shows.
        allow_actions: allow POST actions (suspend/resume/complete).
        token: the token every request must carry, or None (allowed on loopback only).
        loopback: whether the server is bound to a loopback address (then requests must
            name a loopback Host).
        poll_seconds: how often the live timeline looks for new journal entries.

    Raises:
        ValidationError: no token for a non-loopback binding, or a bad ``poll_seconds``.
    """
    check_flag(allow_actions, "allow_actions")
    if not isinstance(poll_seconds, int | float) or isinstance(poll_seconds, bool) \
            or not 0 < poll_seconds <= 60:
        raise ValidationError("poll_seconds", "must be a number of seconds in (0, 60]",
                              got=poll_seconds)
    web = WebApp(runtime, Redactor(runtime.config.state.redact_patterns),
                 allow_actions=allow_actions, token=token, poll_seconds=float(poll_seconds))
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["json"] = lambda v: orjson.dumps(
        v, option=orjson.OPT_INDENT_2, default=str).decode()
    templates.env.filters["when"] = when
    templates.env.filters["call_parts"] = views.call_parts
    row_macro = templates.env.get_template("macros.html").module.timeline_row  # type: ignore[attr-defined]
    web.render_row = lambda sid, item: str(row_macro(sid, item, fresh=True))

    def query(request: Request) -> dict[str, str]:
        return {k: v for k, v in request.query_params.items()}

    def page(template: str, read: Callable[[Request], Any]) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            try:
                data = web.shown(await run_in_threadpool(read, request))
            except LLMSpellError as exc:
                return error_page(request, exc)
            response = templates.TemplateResponse(request, template, {
                "data": data, "web": web, "version": __version__, "query": query(request),
                "urlencode": urlencode})
            return with_cookie(request, response)
        return endpoint

    def api(read: Callable[[Request], Any]) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            try:
                data = await run_in_threadpool(read, request)
            except LLMSpellError as exc:
                return json_error(web, exc)
            return json(web.shown(data))
        return endpoint

    def error_page(request: Request, exc: LLMSpellError) -> Response:
        message = web.redactor.redact_text(f"{type(exc).__name__}: {exc}")
        return templates.TemplateResponse(request, "error.html", {
            "message": message, "web": web, "version": __version__, "query": {}},
            status_code=_status_of(exc))

    def with_cookie(request: Request, response: Response) -> Response:
        """Remember a token given as ``?token=`` in a cookie (the guard already checked it)."""
        if web.token is not None and "token" in request.query_params:
            response.set_cookie(COOKIE, web.token, httponly=True, samesite="strict")
        return response

    def sid(request: Request) -> str:
        return str(request.path_params["sid"])

    def artifact_args(request: Request) -> tuple[str, int | None]:
        q = query(request)
        name = q.get("name") or ""
        if not name:
            raise ValidationError("name", "is required (the artifact's name)", got=name)
        return name, views.int_arg(q, "version", None, low=1)

    # -- reads ------------------------------------------------------------------------------

    def read_sessions(request: Request) -> Any:
        return views.sessions_page(web.runtime, query(request))

    def read_session(request: Request) -> Any:
        return views.session_detail(web.runtime, sid(request))

    def read_timeline(request: Request) -> Any:
        data = views.timeline_page(web.runtime, sid(request), query(request))
        data["session"] = views.session_row(web.runtime.sessions.get(data["session_id"]))
        return data

    def read_state(request: Request) -> Any:
        return views.state_page(web.runtime, sid(request), query(request))

    def read_artifacts(request: Request) -> Any:
        return views.artifacts_page(web.runtime, sid(request), query(request))

    def read_artifact(request: Request) -> Any:
        name, version = artifact_args(request)
        return views.artifact_detail(web.runtime, sid(request), name, version)

    def read_store(request: Request) -> Any:
        return views.store_status(web.runtime)

    def read_info(request: Request) -> Any:
        return {"version": __version__, "allow_actions": web.allow_actions,
                "token_required": web.token is not None, "form_key": web.form_key}

    async def download(request: Request) -> Response:
        try:
            name, version = artifact_args(request)
            return await run_in_threadpool(content.download, web, sid(request), name,
                                           version, "inline" in request.query_params)
        except LLMSpellError as exc:
            return json_error(web, exc)

    async def events(request: Request) -> Response:
        try:
            return await live.stream(web, request, sid(request))
        except LLMSpellError as exc:
            return json_error(web, exc)

    # -- actions ----------------------------------------------------------------------------

    async def act(request: Request) -> Response:
        is_api = request.url.path.startswith("/api/")
        operation = str(request.path_params["action"])
        body = parse_qs((await request.body()).decode("utf-8", "replace"))
        given = request.headers.get(FORM_KEY_HEADER) or next(iter(body.get("csrf", [])), None)
        problem = None
        if not web.allow_actions:
            problem = (403, "actions are off: start the server with --allow-actions")
        elif not same_secret(given, web.form_key):
            problem = (403, "the form key is missing or wrong (reload the page)")
        elif operation not in SESSION_ACTIONS:
            problem = (404, f"no action {operation!r}; actions: {', '.join(SESSION_ACTIONS)}")
        if problem is not None:
            return json({"error": problem[1], "status": problem[0]}, problem[0])
        form = {k: v[0] for k, v in body.items() if k != "csrf"}
        try:
            done = await run_in_threadpool(actions.run, web.runtime, operation, sid(request),
                                           form)
        except LLMSpellError as exc:
            if is_api:
                return json_error(web, exc)
            return error_page(request, exc)
        if is_api:
            return json(web.shown(done))
        if operation == "replay":
            return templates.TemplateResponse(request, "replay.html", {
                "data": web.shown(done), "web": web, "version": __version__, "query": {}})
        return RedirectResponse(f"/sessions/{done['id']}", status_code=303)

    def index(request: Request) -> Response:
        return RedirectResponse("/sessions", status_code=307)

    routes = [
        Route("/", index),
        Route("/sessions", page("sessions.html", read_sessions)),
        Route("/sessions/{sid}", page("session.html", read_session)),
        Route("/sessions/{sid}/timeline", page("timeline.html", read_timeline)),
        Route("/sessions/{sid}/state", page("state.html", read_state)),
        Route("/sessions/{sid}/artifacts", page("artifacts.html", read_artifacts)),
        Route("/sessions/{sid}/artifact", page("artifact.html", read_artifact)),
        Route("/sessions/{sid}/{action}", act, methods=["POST"]),
        Route("/store", page("store.html", read_store)),
        Route("/api/info", api(read_info)),
        Route("/api/sessions", api(read_sessions)),
        Route("/api/sessions/{sid}", api(read_session)),
        Route("/api/sessions/{sid}/timeline", api(read_timeline)),
        Route("/api/sessions/{sid}/events", events),
        Route("/api/sessions/{sid}/state", api(read_state)),
        Route("/api/sessions/{sid}/artifacts", api(read_artifacts)),
        Route("/api/sessions/{sid}/artifact", api(read_artifact)),
        Route("/api/sessions/{sid}/artifact/content", download),
        Route("/api/sessions/{sid}/{action}", act, methods=["POST"]),
        Route("/api/store", api(read_store)),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.web = web
    return AccessGuard(app, token=token, loopback=loopback, form_key=web.form_key)


def when(value: Any) -> str:
    """A time for a table cell: epoch seconds or ISO 8601 text, to the second, in UTC."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return iso(float(value))[:19].replace("T", " ")
    return str(value or "")[:19].replace("T", " ")


def json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value, default=str), status_code=status,
                    media_type="application/json")


def json_error(web: WebApp, exc: LLMSpellError) -> Response:
    status = _status_of(exc)
    return json({"error": web.redactor.redact_text(str(exc)), "type": type(exc).__name__,
                 "status": status}, status)
