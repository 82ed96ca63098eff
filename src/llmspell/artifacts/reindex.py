"""Bring an older store up to date when an ArtifactManager opens it.

:func:`ensure_session_index`: its artifacts join the ``arts/`` index (see :mod:`.keys`).

Stores written before the index existed get it the first time an ArtifactManager opens them,
page by page (:func:`~llmspell.storage.backfill.backfill`: a record changed meanwhile by
another process makes its page be read again). The marker
:data:`~llmspell.artifacts.keys.SESSION_INDEX_DONE` goes last, so an interrupted run simply
starts again. A store with no artifacts is left as it is.

:func:`move_settings`: ``set_auto_collect`` used to write ``artcfg/<sid>``
(``{"auto_collect": bool}``), read on every collection beside the session's metadata
``auto_collect_artifacts``, which said the same thing. The metadata is now the one place:
each such key becomes a metadata change of its session and is deleted. A crash in between
leaves the key, and the next open moves it again (the change is the same).
"""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import Any

from llmspell.artifacts import keys
from llmspell.artifacts.model import decode_record
from llmspell.artifacts.validate import AUTO_COLLECT
from llmspell.codec import stored_object
from llmspell.errors import SessionNotFound, StoreReadOnly
from llmspell.storage.backfill import backfill
from llmspell.storage.base import Store

logger = logging.getLogger("llmspell.artifacts")


def ensure_session_index(store: Store) -> int:
    """Index every artifact record lacking its ``arts/`` key; how many records were read
    (0 when the store is indexed already or has no artifacts)."""
    if store.get(keys.SESSION_INDEX_DONE) is not None:
        return 0

    def index_key(key: str, raw: bytes) -> str | None:
        artifact = decode_record(key, raw)
        return None if artifact is None else keys.session_time_key(artifact)

    read = backfill(store, keys.RECORD_PREFIX, index_key,
                    what="index the artifacts of an older store")
    if read:
        store.put(keys.SESSION_INDEX_DONE, b"1")
    return read


def move_settings(store: Store, sessions: Any) -> int:
    """Move every ``artcfg/<sid>`` key into its session's metadata (see the module
    docstring); how many keys were moved (0 for a store that has none: one key read). A
    read-only store keeps them, with a warning: its sessions' metadata decides.

    Raises:
        StorageError: a key whose value does not decode (named), and the store's errors.
    """
    moved = 0
    while True:
        page = list(store.scan(keys.SETTINGS_PREFIX, limit=64))
        if not page:
            return moved
        for key, raw in page:
            enabled = stored_object(raw, key).get("auto_collect", True) is not False
            try:
                with suppress(SessionNotFound):  # a session gone: its setting goes too
                    sessions.update_metadata(key[len(keys.SETTINGS_PREFIX):],
                                             {AUTO_COLLECT: enabled})
                store.delete(key)
            except StoreReadOnly as exc:
                logger.warning("artifacts: cannot move the per-session collection settings "
                               "of a read-only store into its sessions (%s); the sessions' "
                               "metadata decides", exc)
                return moved
            moved += 1
