"""A store's shorter ways (mime detection that looks at markup only when the content opens
with ``<``, the small-content hash spelled with ``bytes.hex``, str tested before
bytearray/memoryview, checked session ids and creators remembered): each must give exactly
what the general rule gives."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from blake3 import blake3
from hypothesis import given, settings
from hypothesis import strategies as st

from llmspell.artifacts.blobs.records import content_hash
from llmspell.artifacts.manager import _VALID_CREATORS, _VALID_IDS
from llmspell.artifacts.mime import JSON, OCTET_STREAM, SNIFF_BYTES, TEXT, by_content
from llmspell.artifacts.sources import to_bytes
from llmspell.errors import ValidationError
from llmspell.runtime import Runtime
from strategies import examples


def _parses(head: bytes) -> bool:
    try:
        orjson.loads(head)
    except orjson.JSONDecodeError:
        return False
    return True


def _text(sample: bytes, complete: bool) -> bool:
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:  # a character cut at the end of a sample is text
        return not complete and exc.start >= len(sample) - 3
    return True


def _reference(head: bytes, complete: bool) -> str:
    """The rule as docs state it: the first test that holds, in order, on the sample with
    leading whitespace stripped and lower-cased, gives the answer (all tests, always)."""
    sample = head[:SNIFF_BYTES]
    start = sample.lstrip().lower()
    rules = ((b"\x00" in sample, OCTET_STREAM),
             (complete and start[:1] in (b"{", b"[") and len(head) <= 16 * 1024 * 1024
              and _parses(head), JSON),
             (start.startswith(b"<!doctype html") or start.startswith(b"<html"), "text/html"),
             (start.startswith(b"<svg") or (start.startswith(b"<?xml") and b"<svg" in start),
              "image/svg+xml"),
             (start.startswith(b"<?xml"), "application/xml"),
             (not _text(sample, complete), OCTET_STREAM))
    return next((answer for holds, answer in rules if holds), TEXT)


_OPENINGS = (b"", b" \t\r\n\x0b\x0c", b"<", b"<!DOCTYPE HTML>", b"<!doctype html", b"<HTML>",
             b"<html", b"<SVG", b"<svg ", b"<?xml ?><svg", b"<?XML", b"<?xml", b"{", b"[",
             b'{"a": 1}', b"[1, 2]", b"\x00", b"\xff\xfe", b"\xe2\x82", "é✓".encode(),
             b"Hello", b"<p>")
_HEADS = st.builds(lambda ws, opening, tail, pad: ws + opening + tail + pad,
                   st.sampled_from((b"", b"  ", b"\n\t")), st.sampled_from(_OPENINGS),
                   st.binary(max_size=40),
                   st.sampled_from((b"", b"x" * (SNIFF_BYTES - 3), b"y" * SNIFF_BYTES)))


@settings(max_examples=examples(500))
@given(head=st.one_of(_HEADS, st.binary(max_size=64)), complete=st.booleans())
def test_mime_by_content_equals_the_general_rule(head: bytes, complete: bool) -> None:
    assert by_content(head, complete) == _reference(head, complete)


@pytest.mark.parametrize("head", [b"<svg/>", b"  <?xml version='1.0'?><svg/>", b"<?xml?><a/>",
                                  b"<!DocType Html><p>", b"<b>bold</b>", b'{"a": [1]}',
                                  b"[1,", b"{}", b"plain \xe2\x82", b"\xe2\x82\xac"])
def test_mime_by_content_for_each_kind_of_opening(head: bytes) -> None:
    for complete in (True, False):
        assert by_content(head, complete) == _reference(head, complete)


@settings(max_examples=examples(200))
@given(data=st.binary(max_size=300))
def test_the_content_hash_is_blake3s_hex_digest(data: bytes) -> None:
    expected = blake3(data).hexdigest()
    for form in (data, bytearray(data), memoryview(data)):
        found = content_hash(form)
        assert found == expected and type(found) is str


class _Text(str):
    pass


class _Bytes(bytes):
    pass


@pytest.mark.parametrize("content", ["", "héllo ✓", _Text("sub"), b"raw", _Bytes(b"sub"),
                                     bytearray(b"ba"), memoryview(b"mv"), {"a": 1}, [1], 3])
def test_to_bytes_gives_each_kind_of_content_as_before(content: Any) -> None:
    data, encoding = to_bytes(content)
    if isinstance(content, str):
        assert (data, encoding) == (content.encode("utf-8"), None)
    elif isinstance(content, bytes | bytearray | memoryview):
        assert (data, encoding) == (bytes(content), None) and type(data) is not bytearray
    else:
        assert (data, encoding) == (orjson.dumps(content), "json")


def test_to_bytes_still_refuses_a_lone_surrogate() -> None:
    with pytest.raises(ValidationError, match="lone surrogate"):
        to_bytes("bad \ud800")


def test_remembered_session_ids_and_creators_refuse_what_the_checks_refuse() -> None:
    """The manager remembers session ids and created_by texts it checked (a collection passes
    the same ones on every call): a bad one is still refused, each time, with the check's own
    message, and a subclass of str is checked anew rather than remembered."""
    rt = Runtime.memory()
    owner = rt.sessions.create("owner")
    artifacts = rt.artifacts
    for _ in range(2):
        artifacts.store(owner.id, "n", "x", created_by="agent:bench")
        for bad, message in (("x" * 257, "created_by"), ("bad \ud800", "created_by"),
                             (7, "must be a string")):
            with pytest.raises(ValidationError, match=message):
                artifacts.store(owner.id, "n", "x", created_by=bad)
        for sid in ("", "has space", "a" * 129, 5, None):
            with pytest.raises(ValidationError, match="session"):
                artifacts.store(sid, "n", "x")
    found = artifacts.store(_Text(owner.id), "n", "x", created_by=_Text("agent:bench"))
    assert found.session_id == owner.id and found.created_by == "agent:bench"
    assert all(type(s) is str for s in (*_VALID_IDS, *_VALID_CREATORS))
