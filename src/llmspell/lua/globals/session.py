"""``Session``: create, move, find and inspect sessions from Lua (DESIGN.md section 13).

``Session.create{name=..., description=..., tags={...}, metadata={...}, parent_session_id=...,
max_duration=s, max_idle_time=s, limits={tokens=..., cost=...}}`` returns a session handle: a
table with the session's fields (``id``, ``name``, ``status``, ``tags``, ``created_at``,
``counters``, ...; absent values are nil). ``tostring(handle)`` and ``handle .. ""`` give the id;
handles are interned per id, so two handles of one session are the same table and ``==``
holds; each call that returns a session refreshes its handle's fields. Every function that
takes a session takes a handle or an id string:

``Session.get(s)``, ``Session.list{status=, tags=, name=, parent=, created_after=,
created_before=, sort=, descending=, limit=, offset=}``, ``suspend(s)``, ``resume(s)``,
``complete(s)``, ``fail(s, reason)``, ``archive(s)``, ``save(s)``, ``load(s)``, ``delete(s)``,
``setCurrent(s or nil)``, ``getCurrent()`` (nil when none), ``timeline(s, {kind=, since=,
until=, correlation_id=, after_seq=, before_seq=, limit=, reverse=})``. Handles also have the
lifecycle functions as methods: ``s:suspend()``, ``s:fail("why")``, ``s:timeline()``.
Errors are Lua errors starting with the class name (``InvalidTransition: cannot resume ...``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmspell.lua import checks
from llmspell.sessions.model import Session
from llmspell.validation import check_known_keys

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine

CREATE_KEYS = ("name", "description", "tags", "metadata", "parent_session_id", "parent",
               "max_duration", "max_idle_time", "limits")
LIST_KEYS = ("status", "tags", "tag", "name", "parent", "created_after", "created_before",
             "sort", "descending", "limit", "offset")
TIMELINE_KEYS = ("kind", "kinds", "since", "until", "correlation_id", "after_seq",
                 "before_seq", "limit", "reverse")

SESSION_LUA = rb"""
local py = ...
local rawget, rawset, pairs, next, type, setmetatable, error =
  rawget, rawset, pairs, next, type, setmetatable, error

local handles = setmetatable({}, {__mode = "v"})   -- id -> handle
local is_handle = setmetatable({}, {__mode = "k"})
local methods = {}
local function unwrap(x) if is_handle[x] then return rawget(x, "id") end return x end
local MT = {
  __name = "Session", __metatable = "Session", __index = methods,
  __tostring = function(h) return rawget(h, "id") end,
  __concat = function(a, b) return unwrap(a) .. unwrap(b) end,
}

local function handle(record)
  if record == nil then return nil end
  local h = handles[record.id]
  if h == nil then
    h = setmetatable({}, MT)
    handles[record.id] = h
    is_handle[h] = true
  else
    for k in pairs(h) do rawset(h, k, nil) end
  end
  for k, v in pairs(record) do rawset(h, k, v) end
  return h
end

local function sid(s)
  if type(s) == "table" then return rawget(s, "id") or s end
  return s
end

local Session = {}
function Session.create(opts) return handle(py.create(opts)) end
function Session.get(s) return handle(py.get(sid(s))) end
function Session.list(filter)
  local found = py.list(filter)
  for i = 1, #found do found[i] = handle(found[i]) end
  return found
end
for _, name in ipairs({"suspend", "resume", "complete", "archive", "save", "load"}) do
  local f = py[name]
  Session[name] = function(s) return handle(f(sid(s))) end
end
function Session.fail(s, reason) return handle(py.fail(sid(s), reason)) end
function Session.delete(s) return py.delete(sid(s)) end
function Session.setCurrent(s) return handle(py.set_current(sid(s))) end
function Session.getCurrent() return handle(py.get_current()) end
function Session.timeline(s, filter) return py.timeline(sid(s), filter) end
Session.set_current, Session.get_current = Session.setCurrent, Session.getCurrent

for _, name in ipairs({"suspend", "resume", "complete", "fail", "archive", "save", "load",
                       "delete", "timeline", "get"}) do
  methods[name] = Session[name]
end
function methods.setCurrent(s) return Session.setCurrent(s) end
return Session
"""


def session_table(session: Session | None) -> dict[str, Any] | None:
    """A session as its handle's fields: ``to_dict`` without the None values (nil in Lua)."""
    if session is None:
        return None
    return _drop_none(session.to_dict())


def _drop_none(value: dict[str, Any]) -> dict[str, Any]:
    return {k: _drop_none(v) if isinstance(v, dict) else v for k, v in value.items()
            if v is not None}


def _options(value: Any, argument: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    options = checks.mapping(value, argument)
    check_known_keys(options, allowed, argument, noun="field")
    return options


def _list_or_empty(value: Any) -> Any:
    return [] if value == {} else value  # an empty Lua table converts to {}


def install(engine: LuaEngine) -> None:
    runtime = engine.runtime

    def manager() -> Any:
        return runtime.sessions

    def create(opts: Any = None) -> dict[str, Any] | None:
        o = _options(opts, "options", CREATE_KEYS)
        parent = o.get("parent_session_id", o.get("parent"))
        return session_table(manager().create(
            checks.text(o.get("name", ""), "name"),
            description=o.get("description", ""), tags=_list_or_empty(o.get("tags")),
            metadata=o.get("metadata"), parent_session_id=parent,
            max_duration=o.get("max_duration"), max_idle_time=o.get("max_idle_time"),
            limits=o.get("limits")))

    def list_(filter_: Any = None) -> list[dict[str, Any] | None]:
        f = _options(filter_, "filter", LIST_KEYS)
        tags = _list_or_empty(f.get("tags"))
        if "tag" in f:
            tags = [*(tags or []), f["tag"]]
        found = manager().list(
            status=_list_or_empty(f.get("status")), tags=tags, name=f.get("name"),
            parent=f.get("parent"), created_after=f.get("created_after"),
            created_before=f.get("created_before"), sort=f.get("sort", "created_at"),
            descending=bool(f.get("descending", False)), limit=f.get("limit"),
            offset=f.get("offset", 0))
        return [session_table(s) for s in found]

    def timeline(session: Any, filter_: Any = None) -> list[dict[str, Any]]:
        f = _options(filter_, "filter", TIMELINE_KEYS)
        kinds = _list_or_empty(f.get("kinds", f.get("kind")))
        sid = manager().get(session).id
        entries = manager().journal.read(
            sid, kinds=kinds or None, since=f.get("since"), until=f.get("until"),
            correlation_id=f.get("correlation_id"), after_seq=f.get("after_seq"),
            before_seq=f.get("before_seq"), limit=f.get("limit"),
            reverse=bool(f.get("reverse", False)))
        return [_drop_none(e.to_dict()) for e in entries]

    def lifecycle(name: str) -> Any:
        def call(session: Any) -> dict[str, Any] | None:
            return session_table(getattr(manager(), name)(session))
        return engine.function(call, f"Session.{name}")

    def fail(session: Any, reason: Any = None) -> dict[str, Any] | None:
        text = "" if reason is None else checks.text(reason, "reason")
        return session_table(manager().fail(session, text))

    def delete(session: Any) -> bool:
        return manager().delete(session)

    def set_current(session: Any = None) -> dict[str, Any] | None:
        return session_table(manager().set_current(session))

    def get_current() -> dict[str, Any] | None:
        return session_table(manager().get_current())

    py = {name: lifecycle(name) for name in ("get", "suspend", "resume", "complete",
                                              "archive", "save", "load")}
    py.update({
        "create": engine.function(create, "Session.create"),
        "list": engine.function(list_, "Session.list"),
        "fail": engine.function(fail, "Session.fail"),
        "delete": engine.function(delete, "Session.delete"),
        "set_current": engine.function(set_current, "Session.setCurrent"),
        "get_current": engine.function(get_current, "Session.getCurrent"),
        "timeline": engine.function(timeline, "Session.timeline"),
    })
    table = engine.execute_internal(SESSION_LUA, engine.to_lua(py, "Session"))
    engine.lua.globals()[b"Session"] = table
