"""``Session``: create, move, find and inspect sessions from Lua (DESIGN.md section 13).

``Session.create{name=..., description=..., tags={...}, metadata={...}, parent_session_id=...,
max_duration=s, max_idle_time=s, limits={operations=..., tokens=..., cost=..., artifacts=...,
artifact_bytes=..., memory=...}, save=true}`` returns a session handle (``save``: checkpoint it
in the create's own commit, as ``Session.save`` right after would): a
table with the session's fields (``id``, ``name``, ``status``, ``tags``, ``created_at``,
``counters``, ...; absent values are nil). ``tostring(handle)`` and ``handle .. ""`` give the id;
handles are interned per id, so two handles of one session are the same table and ``==``
holds; each call that returns a session refreshes its handle's fields. Every function that
takes a session takes a handle or an id string, and the string methods of a handle act on its
id (``handle:sub(1, 8)``, ``handle:upper()``), so rs-llmspell scripts that hold it as an id
string work; ``custom_metadata`` is rs-llmspell's name for ``metadata``:

``Session.get(s)``, ``Session.list{status=, tags=, name=, parent=, created_after=,
created_before=, sort=, descending=, limit=, offset=}``, ``suspend(s)``, ``resume(s)``,
``complete(s)``, ``fail(s, reason)``, ``archive(s)``, ``save(s)``, ``load(s)``, ``delete(s)``,
``setCurrent(s or nil)``, ``getCurrent()`` (nil when none), ``timeline(s, {kind=, since=,
until=, correlation_id=, after_seq=, before_seq=, limit=, reverse=})`` (a ``state.write``
shows the value written as ``data.value``), ``footprint(s)``
(``{state_bytes, artifact_bytes, total}``: what a ``limits.memory`` bounds). After
``Session.delete(s)`` the handle's ``status`` is ``"deleted"``. Handles also have the
lifecycle functions as methods: ``s:suspend()``, ``s:fail("why")``, ``s:timeline()``.
Single writer (sessions.lease): ``Session.acquire(s, {ttl=seconds, keep=true})`` takes the
session's lease (``keep``, the default here: renewed in the background while the script runs;
released when the runtime closes) and returns ``{session_id, token, holder, expires_at,
expires}``; ``Session.renew(s, {ttl=})``, ``Session.release(s)`` (true when it was held) and
``Session.lease(s)`` (the stored lease or nil). Errors are Lua errors starting with the
class name (``InvalidTransition: cannot resume ...``).

The Lua half is ``llmspell/lua/scripts/session.lua``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmspell.lua import checks
from llmspell.lua.globals import session_replay
from llmspell.sessions.history import with_values
from llmspell.sessions.model import Session
from llmspell.validation import check_flag, check_known_keys

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine

CREATE_KEYS = ("name", "description", "tags", "metadata", "parent_session_id", "parent",
               "max_duration", "max_idle_time", "limits", "save")
LIST_KEYS = ("status", "tags", "tag", "name", "parent", "created_after", "created_before",
             "sort", "descending", "limit", "offset")
LEASE_KEYS = ("ttl", "keep")
TIMELINE_KEYS = ("kind", "kinds", "since", "until", "correlation_id", "after_seq",
                 "before_seq", "limit", "reverse")

def session_table(session: Session | None) -> dict[str, Any] | None:
    """A session as its handle's fields: ``to_dict`` without the None values (nil in Lua),
    plus rs-llmspell's name for the metadata, ``custom_metadata``."""
    if session is None:
        return None
    table = _drop_none(session.to_dict())
    table["custom_metadata"] = table.get("metadata", {})
    return table


def _drop_none(value: dict[str, Any]) -> dict[str, Any]:
    return {k: _drop_none(v) if isinstance(v, dict) else v for k, v in value.items()
            if v is not None}


def _options(value: Any, argument: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    options = checks.mapping(value, argument)
    check_known_keys(options, allowed, argument, noun="field")
    return options


def install(engine: LuaEngine) -> None:
    runtime = engine.runtime

    def manager() -> Any:
        return runtime.sessions

    def create(opts: Any = None) -> dict[str, Any] | None:
        o = _options(opts, "options", CREATE_KEYS)
        parent = checks.handle_id(o.get("parent_session_id", o.get("parent")))
        return session_table(manager().create(
            checks.text(o.get("name", ""), "name"),
            description=o.get("description", ""), tags=checks.as_list(o.get("tags")),
            metadata=o.get("metadata"), parent_session_id=parent,
            max_duration=o.get("max_duration"), max_idle_time=o.get("max_idle_time"),
            limits=o.get("limits"), save=o.get("save", False)))

    def list_(filter_: Any = None) -> list[dict[str, Any] | None]:
        f = _options(filter_, "filter", LIST_KEYS)
        tags = checks.as_list(f.get("tags"))
        if "tag" in f:
            tags = [*(tags or []), f["tag"]]
        found = manager().list(
            status=checks.as_list(f.get("status")), tags=tags, name=f.get("name"),
            parent=checks.handle_id(f.get("parent")), created_after=f.get("created_after"),
            created_before=f.get("created_before"), sort=f.get("sort", "created_at"),
            descending=bool(f.get("descending", False)), limit=f.get("limit"),
            offset=f.get("offset", 0))
        return [session_table(s) for s in found]

    def timeline(session: Any, filter_: Any = None) -> list[dict[str, Any]]:
        f = _options(filter_, "filter", TIMELINE_KEYS)
        kinds = checks.as_list(f.get("kinds", f.get("kind")))
        sid = manager().get(session).id
        journal = manager().journal
        entries = journal.iter(
            sid, kinds=kinds or None, since=f.get("since"), until=f.get("until"),
            correlation_id=f.get("correlation_id"), after_seq=f.get("after_seq"),
            before_seq=f.get("before_seq"), limit=f.get("limit"),
            reverse=bool(f.get("reverse", False)))
        return [_drop_none(e) for e in with_values(journal, sid, entries)]

    def lifecycle(name: str) -> Any:
        def call(session: Any) -> dict[str, Any] | None:
            return session_table(getattr(manager(), name)(session))
        return call

    def fail(session: Any, reason: Any = None) -> dict[str, Any] | None:
        text = "" if reason is None else checks.text(reason, "reason")
        return session_table(manager().fail(session, text))

    def delete(session: Any) -> bool:
        return manager().delete(session)

    def acquire(session: Any, opts: Any = None) -> dict[str, Any]:
        o = _options(opts, "options", LEASE_KEYS)
        keep = check_flag(o.get("keep", True), "options", path="$.keep")
        return manager().acquire(session, ttl=o.get("ttl"), keep=keep).to_dict()

    def renew(session: Any, opts: Any = None) -> dict[str, Any]:
        o = _options(opts, "options", ("ttl",))
        return manager().renew(session, ttl=o.get("ttl")).to_dict()

    def release(session: Any) -> bool:
        return manager().release(session)

    def lease(session: Any) -> dict[str, Any] | None:
        found = manager().lease(session)
        return None if found is None else _drop_none(found.to_dict())

    def set_current(session: Any = None) -> dict[str, Any] | None:
        return session_table(manager().set_current(session))

    def get_current() -> dict[str, Any] | None:
        return session_table(manager().get_current())

    functions = {name: lifecycle(name) for name in ("get", "suspend", "resume", "complete",
                                                     "archive", "save", "load")}
    functions.update({"create": create, "list": list_, "fail": fail, "delete": delete,
                      "setCurrent": set_current, "getCurrent": get_current,
                      "timeline": timeline, "acquire": acquire, "renew": renew,
                      "release": release, "lease": lease,
                      "footprint": lambda session: manager().footprint(session)})
    functions.update(session_replay.functions(engine, manager, session_table))
    engine.install_global("Session", functions, "session.lua", takes_functions=("replay",),
                          unavailable=runtime.unavailable("sessions"))
