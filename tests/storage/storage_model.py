"""The reference the backends are checked against: a dict, scanned the obvious way."""

from __future__ import annotations


def model_scan(data: dict[str, bytes], prefix: str = "", start_after: str | None = None,
               limit: int | None = None, reverse: bool = False) -> list[tuple[str, bytes]]:
    """What ``Store.scan`` must return for a store holding ``data``.

    Python compares str by code point, which is the order of their UTF-8 bytes.
    """
    keys = sorted(k for k in data if k.startswith(prefix))
    if reverse:
        keys.reverse()
        if start_after is not None:
            keys = [k for k in keys if k < start_after]
    elif start_after is not None:
        keys = [k for k in keys if k > start_after]
    if limit is not None:
        keys = keys[:limit]
    return [(k, data[k]) for k in keys]
