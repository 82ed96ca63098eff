"""ADK's ``BaseSessionService`` on llmspell's store.

Layout, in the llmspell session's state scope: ``adk/session`` (app, user, id, session state,
last update time, event count), ``adk/event/<n>`` (each event as ADK's JSON form, in order),
``adk/eventid/<id>`` (its position: appending the same event twice stores it once). App and
user state (``app:`` and ``user:`` keys) live in ``custom:adk`` under ``app/<app>/<key>`` and
``user/<app>/<user>/<key>``; ``temp:`` keys are never stored.

``append_event`` commits the event, the state deltas and the new update time in one state
transaction that also checks the session record it read: a writer holding an older copy of
the session (another process appended since) gets ADK's ``StaleSessionError``, and nothing is
written. Store work runs on a worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING, Any

from google.adk.errors import StaleSessionError
from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.errors.session_not_found_error import SessionNotFoundError
from google.adk.events.event import Event
from google.adk.sessions.base_session_service import (
    BaseSessionService,
    GetSessionConfig,
    ListSessionsResponse,
)
from google.adk.sessions.session import Session
from google.adk.sessions.state import State
from typing_extensions import override

from llmspell.errors import StateError, ValidationError
from llmspell.integrations.threads import (
    ForeignSessions,
    check_foreign_id,
    decode_segment,
    encode_segment,
)

if TYPE_CHECKING:
    from llmspell.runtime import Runtime

RECORD = "adk/session"
SHARED = "custom:adk"
FRAMEWORK = "adk"


class LLMSpellSessionService(BaseSessionService):
    """ADK sessions, their events and app/user/session state in a llmspell Runtime.

    Args:
        runtime: the Runtime (any backend; state and sessions enabled).
    """

    def __init__(self, runtime: Runtime) -> None:
        if not runtime.config.state.enabled or not runtime.config.session.enabled:
            raise ValidationError("runtime", "must have [state] and [session] enabled: "
                                  "ADK sessions are llmspell sessions")
        self.runtime = runtime
        self.sessions = ForeignSessions(runtime, FRAMEWORK)

    # -- the async API ADK calls ----------------------------------------------------------

    @override
    async def create_session(self, *, app_name: str, user_id: str,
                             state: dict[str, Any] | None = None,
                             session_id: str | None = None) -> Session:
        return await asyncio.to_thread(self.create_session_sync, app_name=app_name,
                                       user_id=user_id, state=state, session_id=session_id)

    @override
    async def get_session(self, *, app_name: str, user_id: str, session_id: str,
                          config: GetSessionConfig | None = None) -> Session | None:
        return await asyncio.to_thread(self.get_session_sync, app_name=app_name,
                                       user_id=user_id, session_id=session_id, config=config)

    @override
    async def list_sessions(self, *, app_name: str,
                            user_id: str | None = None) -> ListSessionsResponse:
        return await asyncio.to_thread(self.list_sessions_sync, app_name=app_name,
                                       user_id=user_id)

    @override
    async def delete_session(self, *, app_name: str, user_id: str, session_id: str) -> None:
        await asyncio.to_thread(self.delete_session_sync, app_name=app_name, user_id=user_id,
                                session_id=session_id)

    @override
    async def get_user_state(self, *, app_name: str, user_id: str) -> dict[str, Any]:
        return await asyncio.to_thread(self._shared_state, "user", app_name, user_id)

    @override
    async def append_event(self, session: Session, event: Event) -> Event:
        if not isinstance(session, Session):
            raise ValidationError("session", "must be an ADK Session", got=session)
        if not isinstance(event, Event):
            raise ValidationError("event", "must be an ADK Event", got=event)
        if event.partial:
            return event
        updated = await asyncio.to_thread(self._store_event, session, event)
        if updated is None:  # this event was appended before
            return event
        # ADK's own bookkeeping on the caller's object: temp state, trimmed delta, events.
        event = await super().append_event(session=session, event=event)
        session.last_update_time = updated
        return event

    # -- the same, synchronously ------------------------------------------------------------

    def create_session_sync(self, *, app_name: str, user_id: str,
                            state: dict[str, Any] | None = None,
                            session_id: str | None = None) -> Session:
        """Create a session (``session_id`` or a new uuid); AlreadyExistsError when the id is
        taken for this app and user. ``app:``/``user:`` keys of ``state`` go to the app's and
        user's state."""
        _check_owner(app_name, user_id)
        if session_id is not None:
            session_id = check_foreign_id(session_id.strip() if isinstance(session_id, str)
                                          else session_id, "session_id")
        if state is not None and not isinstance(state, dict):
            raise ValidationError("state", "must be a dict or None", got=state)
        sid = session_id or str(uuid.uuid4())
        deltas = _split(state or {})
        foreign = _foreign_id(app_name, user_id, sid)
        owner = {"app_name": app_name, "user_id": user_id, "session_id": sid}
        llm_sid = self.sessions.claim(foreign, metadata=owner)
        if llm_sid is None:
            llm_sid = self.sessions.find(foreign)
            if llm_sid is not None and self._record(llm_sid) is not None:
                raise AlreadyExistsError(f"Session with id {sid} already exists.")
            if llm_sid is None:
                llm_sid = self.sessions.ensure(foreign, metadata=owner)
            # else: a create that died before writing its record; finish it
        now = time.time()
        record = {"app_name": app_name, "user_id": user_id, "id": sid,
                  "state": deltas["session"], "last_update_time": now, "events": 0}
        with self.runtime.state.transaction() as tx:
            tx.save(f"session:{llm_sid}", RECORD, record)
            self._save_shared(tx, app_name, user_id, deltas)
        return self._session(record, [])

    def get_session_sync(self, *, app_name: str, user_id: str, session_id: str,
                         config: GetSessionConfig | None = None) -> Session | None:
        """The session with its events (the last ``num_recent_events``, those at or after
        ``after_timestamp``) and app/user state merged in; None when there is none."""
        _check_owner(app_name, user_id)
        check_foreign_id(session_id, "session_id")
        if config is not None and not isinstance(config, GetSessionConfig):
            raise ValidationError("config", "must be a GetSessionConfig or None", got=config)
        llm_sid = self.sessions.find(_foreign_id(app_name, user_id, session_id.strip()))
        record = None if llm_sid is None else self._record(llm_sid)
        if llm_sid is None or record is None:
            return None
        state = self.runtime.state
        scope = f"session:{llm_sid}"
        keys = state.list_keys(scope, "adk/event/")
        if config is not None and config.num_recent_events is not None:
            keys = keys[len(keys) - config.num_recent_events:] if config.num_recent_events \
                else []
        events = [Event.model_validate(state.load(scope, key)) for key in keys]
        if config is not None and config.after_timestamp is not None:
            events = [e for e in events if e.timestamp >= config.after_timestamp]
        return self._session(record, events)

    def list_sessions_sync(self, *, app_name: str,
                           user_id: str | None = None) -> ListSessionsResponse:
        """The app's sessions (of ``user_id`` when given), without events, oldest update
        first."""
        check_foreign_id(app_name, "app_name")
        if user_id is not None:
            check_foreign_id(user_id, "user_id")
        prefix = encode_segment(app_name) + "/"
        if user_id is not None:
            prefix += encode_segment(user_id) + "/"
        found = []
        for _, llm_sid in self.sessions.ids(prefix):
            record = self._record(llm_sid)
            if record is not None:
                found.append(self._session(record, []))
        found.sort(key=lambda s: (s.last_update_time, s.user_id, s.id))
        return ListSessionsResponse(sessions=found)

    def delete_session_sync(self, *, app_name: str, user_id: str, session_id: str) -> None:
        """Delete a session, its events and state (no error when there is none)."""
        _check_owner(app_name, user_id)
        check_foreign_id(session_id, "session_id")
        self.sessions.forget(_foreign_id(app_name, user_id, session_id.strip()))

    # -- internals ------------------------------------------------------------------------

    def _record(self, llm_sid: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.runtime.state.load(f"session:{llm_sid}", RECORD)
        return found

    def _store_event(self, session: Session, event: Event) -> float | None:
        """Commit ``event``; the session's new update time, None when it was stored before."""
        llm_sid = self.sessions.find(_foreign_id(session.app_name, session.user_id,
                                                 session.id))
        if llm_sid is None:
            raise SessionNotFoundError(f"Session {session.id} not found.")
        scope = f"session:{llm_sid}"
        id_key = "adk/eventid/" + encode_segment(event.id) if event.id else None
        trimmed = {k: v for k, v in (event.actions.state_delta or {}).items()
                   if not k.startswith(State.TEMP_PREFIX)} if event.actions else {}
        deltas = _split(trimmed)
        stored = event.model_dump(mode="json", exclude_none=True)
        if event.actions is not None:
            stored.setdefault("actions", {})["state_delta"] = trimmed
        try:
            with self.runtime.state.transaction() as tx:
                record = tx.load(scope, RECORD)
                if record is None:
                    raise SessionNotFoundError(f"Session {session.id} not found.")
                if id_key is not None and tx.exists(scope, id_key):
                    return None
                if record["last_update_time"] > session.last_update_time:
                    raise StaleSessionError(
                        f"session {session.id!r} was changed since it was read (stored "
                        f"update time {record['last_update_time']}, this copy "
                        f"{session.last_update_time}): get_session again and retry")
                position = record["events"]
                tx.save(scope, f"adk/event/{position:012d}", stored)
                if id_key is not None:
                    tx.save(scope, id_key, position)
                record["state"].update(deltas["session"])
                record["events"] = position + 1
                updated = max(event.timestamp, record["last_update_time"])
                record["last_update_time"] = updated
                tx.save(scope, RECORD, record)
                self._save_shared(tx, session.app_name, session.user_id, deltas)
        except StateError as exc:  # the record changed between our read and the commit
            raise StaleSessionError(f"session {session.id!r} was changed by another writer "
                                    "while this event was appended: get_session again and "
                                    "retry") from exc
        return float(updated)

    def _save_shared(self, tx: Any, app_name: str, user_id: str,
                     deltas: dict[str, dict[str, Any]]) -> None:
        app = encode_segment(app_name)
        for key, value in deltas["app"].items():
            tx.save(SHARED, f"app/{app}/{encode_segment(key)}", value)
        user = f"user/{app}/{encode_segment(user_id)}/"
        for key, value in deltas["user"].items():
            tx.save(SHARED, user + encode_segment(key), value)

    def _shared_state(self, kind: str, app_name: str, user_id: str = "") -> dict[str, Any]:
        _check_owner(app_name, user_id or "-")
        state = self.runtime.state
        prefix = f"app/{encode_segment(app_name)}/"
        if kind == "user":
            prefix = f"user/{encode_segment(app_name)}/{encode_segment(user_id)}/"
        return {decode_segment(key[len(prefix):]): state.load(SHARED, key)
                for key in state.list_keys(SHARED, prefix)}

    def _session(self, record: dict[str, Any], events: list[Event]) -> Session:
        state = dict(record["state"])
        app, user = record["app_name"], record["user_id"]
        for key, value in self._shared_state("app", app).items():
            state[State.APP_PREFIX + key] = value
        for key, value in self._shared_state("user", app, user).items():
            state[State.USER_PREFIX + key] = value
        return Session(id=record["id"], app_name=app, user_id=user, state=state,
                       events=events, last_update_time=record["last_update_time"])


def _check_owner(app_name: object, user_id: object) -> None:
    check_foreign_id(app_name, "app_name")
    check_foreign_id(user_id, "user_id")


def _foreign_id(app_name: str, user_id: str, session_id: str) -> str:
    return "/".join(encode_segment(part) for part in (app_name, user_id, session_id))


def _split(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deltas: dict[str, dict[str, Any]] = {"app": {}, "user": {}, "session": {}}
    for key, value in state.items():
        if key.startswith(State.APP_PREFIX):
            deltas["app"][key.removeprefix(State.APP_PREFIX)] = value
        elif key.startswith(State.USER_PREFIX):
            deltas["user"][key.removeprefix(State.USER_PREFIX)] = value
        elif not key.startswith(State.TEMP_PREFIX):
            deltas["session"][key] = value
    return deltas
