"""What a POST may do to a session when the app allows actions: suspend, resume, complete
(SessionManager transitions), replay (exact: every LLM and tool call served from the journal,
no tokens spent; the replay becomes a new session) and fork (a new session with the state and
artifacts of this one at a seq). Each returns plain values; errors are the API's own."""

from __future__ import annotations

from typing import Any

from llmspell.errors import ValidationError
from llmspell.validation import unknown_option

#: The form fields each action takes (anything else is refused, not ignored).
FIELDS: dict[str, tuple[str, ...]] = {"suspend": (), "resume": (), "complete": (),
                                      "replay": (), "fork": ("seq", "name")}


def run(rt: Any, action: str, session_id: str, form: dict[str, str]) -> dict[str, Any]:
    """Do ``action`` on ``session_id`` with ``form``'s fields: the moved or new session as a
    dict (``replay``: the replay report, with ``session_id`` the replay's session)."""
    allowed = FIELDS[action]
    extra = sorted(set(form) - set(allowed))
    if extra:
        raise unknown_option("form", extra[0], allowed, noun="field")
    if action == "replay":
        from llmspell.replay import replay_session

        report: dict[str, Any] = replay_session(rt, session_id).to_dict()
        return report
    if action == "fork":
        from llmspell.replay import fork_session

        seq = _seq(form.get("seq"))
        name = form.get("name") or None
        forked: dict[str, Any] = fork_session(rt, session_id, seq, name=name).to_dict()
        return forked
    moved: dict[str, Any] = getattr(rt.sessions, action)(session_id).to_dict()
    return moved


def _seq(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise ValidationError("seq", "must be a whole number", got=text) from None
