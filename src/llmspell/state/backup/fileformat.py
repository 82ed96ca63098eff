"""The backup file: a header, the compressed entries, a trailer; written once, verified on read.

::

    [skippable frame 0x184D2A50]  header: JSON (id, parent, kind, created_at, description,
                                  store, include/exclude, entry_format, compression, seq range)
    [zstd or lz4 frame]           payload: the entries (raw bytes with compression "none")
    [skippable frame 0x184D2A5E]  trailer: JSON (entry counts, payload/stored sizes, SHA-256
                                  of the payload, of the stored (compressed) payload, of the
                                  header and of the trailer itself), then its length
                                  (u32 LE) and the tag "LLSB" as the file's last 8 bytes

Skippable frames are part of the zstd and lz4 frame formats, so ``zstd -dc FILE`` prints the
payload. An entry is one stored key and its value, exactly as stored, or a deletion
(incrementals). Its ``h`` is the SHA-256 of ``k`` (the store key: ``state/agent:x/history``,
``session/<id>``, ...; in version 1 files, which held state only, the key after ``state/``),
NUL, the op (``put``/``del``), NUL, and the value bytes. ``entry_format``:

- ``json``: one JSON line per entry, ``{"h": hex, "o": "put", "k": "state/agent:x/history", "r":
  <the record, verbatim>}`` (``"x": base64`` instead of ``"r"`` for a record that is not a
  one-line JSON object; no ``r`` for ``"o": "del"``); readable with ``jq``.
- ``binary``: per entry, op (``P``/``D``), key length (u16 BE), key, record length (u32 BE),
  record, the 32-byte digest.

The payload SHA-256 is over the decompressed payload (``zstd -dc FILE | sha256sum``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import orjson

from llmspell.compression import CorruptPayload, codec_for_name, get_codec

HEADER_MAGIC = 0x184D2A50
TRAILER_MAGIC = 0x184D2A5E
TAG = b"LLSB"
FORMAT = "llmspell-backup"
VERSION = 2
#: Versions this llmspell reads: 1 held state records only, keyed without ``state/``.
READABLE = (1, 2)
ENTRY_FORMATS = ("json", "binary")
PUT, DEL = "put", "del"

_FRAME = struct.Struct("<II")
_U32 = struct.Struct("<I")
_KEY_LEN = struct.Struct(">H")
_REC_LEN = struct.Struct(">I")
_FLUSH = 1 << 20
_READ = 1 << 20

Entry = tuple[str, str, bytes | None]  # (k, op, record bytes or None)


class Damaged(Exception):
    """What is wrong with a backup file: ``part`` is header, trailer, payload or entry."""

    def __init__(self, part: str, message: str) -> None:
        self.part = part
        super().__init__(message)


def entry_digest(k: bytes, op: str, raw: bytes) -> bytes:
    return hashlib.sha256(b"%b\x00%b\x00%b" % (k, op.encode(), raw)).digest()


def canonical(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


class PayloadWriter:
    """Writes the header, the entries and the trailer of one backup to ``out``."""

    def __init__(self, out: BinaryIO, header: dict[str, Any], *, level: int) -> None:
        self.out = out
        self.header = canonical(header)
        self.binary = header["entry_format"] == "binary"
        out.write(_FRAME.pack(HEADER_MAGIC, len(self.header)) + self.header)
        self._compressor = get_codec(header["compression"]).compressor(level=level,
                                                                       checksum=True)
        self._hash = hashlib.sha256()
        self._stored_hash = hashlib.sha256()
        self._parts: list[bytes] = []
        self._pending = 0
        self.puts = self.deletions = self.payload_bytes = self.stored_bytes = 0

    def add(self, k: str, raw: bytes | None) -> None:
        """One entry: the record ``raw`` of store key ``state/<k>``, or a deletion (None)."""
        key = k.encode()
        op = DEL if raw is None else PUT
        digest = entry_digest(key, op, raw or b"")
        if self.binary:
            part = (b"D" if raw is None else b"P") + _KEY_LEN.pack(len(key)) + key
            part = (part + _REC_LEN.pack(len(raw or b"")) + (raw or b"") + digest)
        elif raw is None:
            part = b'{"h":"%b","o":"del","k":%b}\n' % (digest.hex().encode(), orjson.dumps(k))
        elif raw[:1] == b"{" and raw[-1:] == b"}" and b"\n" not in raw:
            part = b'{"h":"%b","o":"put","k":%b,"r":%b}\n' % (digest.hex().encode(),
                                                             orjson.dumps(k), raw)
        else:
            part = b'{"h":"%b","o":"put","k":%b,"x":"%b"}\n' % (
                digest.hex().encode(), orjson.dumps(k), base64.b64encode(raw))
        if raw is None:
            self.deletions += 1
        else:
            self.puts += 1
        self._parts.append(part)
        self._pending += len(part)
        if self._pending >= _FLUSH:
            self._flush()

    def _flush(self) -> None:
        data = b"".join(self._parts)
        self._parts, self._pending = [], 0
        self._hash.update(data)
        self.payload_bytes += len(data)
        self._write(self._compressor.compress(data))

    def _write(self, data: bytes) -> None:
        if data:
            self.out.write(data)
            self._stored_hash.update(data)
            self.stored_bytes += len(data)

    def finish(self, extra: dict[str, Any]) -> dict[str, Any]:
        """Write the payload's end and the trailer; returns the trailer's fields."""
        self._flush()
        self._write(self._compressor.finish())
        trailer = {"entries": self.puts + self.deletions, "puts": self.puts,
                   "deletions": self.deletions, "payload_bytes": self.payload_bytes,
                   "stored_bytes": self.stored_bytes,
                   "payload_sha256": self._hash.hexdigest(),
                   "stored_sha256": self._stored_hash.hexdigest(),
                   "header_sha256": hashlib.sha256(self.header).hexdigest(), **extra}
        trailer["trailer_sha256"] = hashlib.sha256(canonical(trailer)).hexdigest()
        body = canonical(trailer)
        data = body + _U32.pack(len(body)) + TAG
        self.out.write(_FRAME.pack(TRAILER_MAGIC, len(data)) + data)
        return trailer


def read_manifest(f: BinaryIO) -> tuple[dict[str, Any], dict[str, Any], int, int]:
    """(header, trailer, payload start, payload end) of an open backup file.

    Raises:
        Damaged: naming the part that is wrong (header, trailer, payload size).
    """
    size = f.seek(0, os.SEEK_END)
    f.seek(0)
    head = f.read(8)
    if len(head) < 8:
        raise Damaged("header", f"the file is {size} bytes long: too short to be a backup")
    magic, length = _FRAME.unpack(head)
    if magic != HEADER_MAGIC:
        raise Damaged("header", "not an llmspell backup (the file does not start with its "
                      "header frame)")
    raw_header = f.read(length)
    if len(raw_header) < length:
        raise Damaged("header", f"truncated: the header needs {length} bytes, the file ends "
                      f"after {len(raw_header)}")
    try:
        header = orjson.loads(raw_header)
    except orjson.JSONDecodeError as exc:
        raise Damaged("header", f"the header is not valid JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise Damaged("header", "the header is not an llmspell backup header")
    if header.get("version") not in READABLE:
        raise Damaged("header", f"format version {header.get('version')!r} is not supported "
                      f"(this llmspell reads versions {', '.join(map(str, READABLE))})")
    start = 8 + length
    if size - start < 16:
        raise Damaged("trailer", f"truncated: the file ends at byte {size}, before its trailer")
    f.seek(size - 8)
    tail = f.read(8)
    (body_len,) = _U32.unpack(tail[:4])
    if tail[4:] != TAG or body_len > size - start - 16:
        raise Damaged("trailer", f"truncated or damaged: the file (ending at byte {size}) "
                      "does not end with a backup trailer")
    end = size - 16 - body_len
    f.seek(end)
    magic, length = _FRAME.unpack(f.read(8))
    body = f.read(body_len)
    if magic != TRAILER_MAGIC or length != body_len + 8:
        raise Damaged("trailer", "the trailer frame is damaged")
    try:
        trailer = orjson.loads(body)
        claimed = trailer.pop("trailer_sha256")
    except (orjson.JSONDecodeError, AttributeError, KeyError):
        raise Damaged("trailer", "the trailer is not valid") from None
    if hashlib.sha256(canonical(trailer)).hexdigest() != claimed:
        raise Damaged("trailer", "the trailer's SHA-256 does not match (tampered or damaged)")
    if hashlib.sha256(raw_header).hexdigest() != trailer.get("header_sha256"):
        raise Damaged("header", "the header's SHA-256 does not match the trailer's record of "
                      "it (tampered or damaged)")
    if end - start != trailer.get("stored_bytes"):
        raise Damaged("payload", f"the payload is {end - start} bytes, the trailer says "
                      f"{trailer.get('stored_bytes')} (truncated or damaged)")
    return header, trailer, start, end


def read_entries(f: BinaryIO, header: dict[str, Any], trailer: dict[str, Any], start: int,
                 end: int, *, verify: bool = True,
                 progress: Callable[[int], None] | None = None) -> Iterator[Entry]:
    """The entries of the payload in ``f[start:end]``, checked as they are read; after the
    last, the counts and (``verify``) the payload SHA-256 are checked.

    Raises:
        Damaged: part ``payload`` (cannot decompress, malformed, wrong counts or SHA-256) or
            ``entry`` (an entry's SHA-256 does not match; the message names it).
    """
    try:
        reader = codec_for_name(header.get("compression")).decompressor()
    except CorruptPayload as exc:
        raise Damaged("payload", f"the payload cannot be decompressed ({exc})") from None
    parse = _binary_entries if header.get("entry_format") == "binary" else _json_entries
    digest = hashlib.sha256() if verify else None
    stored = hashlib.sha256() if verify else None
    count = 0

    def chunks() -> Iterator[bytes]:
        f.seek(start)
        left = end - start
        try:
            while left > 0:
                data = f.read(min(_READ, left))
                if not data:
                    raise Damaged("payload", "the file ended inside the payload (truncated)")
                left -= len(data)
                if stored is not None:
                    stored.update(data)
                out = reader.decompress(data)
                if digest is not None:
                    digest.update(out)
                if out:
                    yield out
            reader.finish()
        except CorruptPayload as exc:
            raise Damaged("payload", f"the payload cannot be decompressed ({exc})") from None

    for entry in parse(chunks(), verify):
        count += 1
        if progress is not None and count % 10000 == 0:
            progress(count)
        yield entry
    if count != trailer.get("entries"):
        raise Damaged("payload", f"the payload holds {count} entries, the trailer says "
                      f"{trailer.get('entries')}")
    if digest is not None and digest.hexdigest() != trailer.get("payload_sha256"):
        raise Damaged("payload", "the payload's SHA-256 does not match the trailer's (tampered "
                      "or damaged)")
    if stored is not None and stored.hexdigest() != trailer.get("stored_sha256"):
        raise Damaged("payload", "the stored (compressed) payload's SHA-256 does not match the "
                      "trailer's (tampered or damaged)")


def _check(number: int, k: bytes, op: str, raw: bytes, h: bytes) -> None:
    if entry_digest(k, op, raw) != h:
        shown = k.decode("utf-8", "replace")
        raise Damaged("entry", f"entry #{number} ({shown}): its SHA-256 does not match "
                      "(tampered or damaged)")


def _json_entries(chunks: Iterator[bytes], verify: bool) -> Iterator[Entry]:
    rest = b""
    number = 0
    for chunk in chunks:
        data = rest + chunk
        lines = data.split(b"\n")
        rest = lines.pop()
        for line in lines:
            number += 1
            yield _json_entry(line, number, verify)
    if rest:
        raise Damaged("payload", f"entry #{number + 1} is cut short (no line end)")


def _json_entry(line: bytes, number: int, verify: bool) -> Entry:
    """Split ``{"h":"<64 hex>","o":"put","k":<json string>,"r":<record>}`` without parsing the
    record, so its bytes come back exactly."""
    op = line[77:80]
    if (line[:6] != b'{"h":"' or line[70:77] != b'","o":"' or op not in (b"put", b"del")
            or line[80:86] != b'","k":' or line[-1:] != b"}"):
        raise Damaged("payload", f"entry #{number} is malformed")
    try:
        h = bytes.fromhex(line[6:70].decode("ascii"))
        close = _string_end(line, 86)
        k = orjson.loads(line[86:close + 1])
        if not isinstance(k, str):
            raise ValueError(k)
        key = k.encode()
        cut = close + 1
        if op == b"del":
            if cut != len(line) - 1:
                raise ValueError("a deletion has no record")
            raw: bytes | None = None
        elif line[cut:cut + 5] == b',"r":':
            raw = line[cut + 5:-1]
        elif line[cut:cut + 6] == b',"x":"' and line[-2:] == b'"}':
            raw = base64.b64decode(line[cut + 6:-2], validate=True)
        else:
            raise ValueError("no record")
    except (ValueError, UnicodeError, binascii.Error, orjson.JSONDecodeError):
        raise Damaged("payload", f"entry #{number} is malformed") from None
    name = op.decode()
    if verify:
        _check(number, key, name, raw or b"", h)
    return k, name, raw


def _string_end(line: bytes, start: int) -> int:
    """The index of the quote that closes the JSON string opening at ``start``."""
    if line[start:start + 1] != b'"':
        raise ValueError("not a string")
    at = start + 1
    while True:
        quote = line.index(b'"', at)  # ValueError when there is none
        escapes = 0
        while line[quote - 1 - escapes] == 0x5C:  # backslash
            escapes += 1
        if escapes % 2 == 0:
            return quote
        at = quote + 1


def _binary_entries(chunks: Iterator[bytes], verify: bool) -> Iterator[Entry]:
    buf = bytearray()
    at = 0
    number = 0
    unpack_key, unpack_rec = _KEY_LEN.unpack_from, _REC_LEN.unpack_from
    for chunk in chunks:
        del buf[:at]
        at = 0
        buf += chunk
        while True:
            if len(buf) - at < 3:
                break
            (klen,) = unpack_key(buf, at + 1)
            head = at + 3 + klen
            if len(buf) - head < 4:
                break
            (rlen,) = unpack_rec(buf, head)
            stop = head + 4 + rlen + 32
            if len(buf) < stop:
                break
            number += 1
            kind = buf[at]
            if kind not in b"PD" or (kind == 68 and rlen):
                raise Damaged("payload", f"entry #{number} is malformed")
            key = bytes(buf[at + 3:head])
            raw = bytes(buf[head + 4:head + 4 + rlen])
            op = PUT if kind == 80 else DEL
            if verify:
                _check(number, key, op, raw, bytes(buf[stop - 32:stop]))
            try:
                k = key.decode()
            except UnicodeDecodeError:
                raise Damaged("payload", f"entry #{number} has a key that is not UTF-8") from None
            yield k, op, (raw if op == PUT else None)
            at = stop
    if len(buf) > at:
        raise Damaged("payload", f"entry #{number + 1} is cut short")
