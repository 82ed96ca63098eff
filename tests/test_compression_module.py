"""llmspell.compression, the one module blobs and backups compress with: payloads written by the
two former modules still read, each codec round-trips in every form, damage is reported."""

from __future__ import annotations

import base64
import io

import pytest

from llmspell.compression import (
    CODECS,
    CorruptPayload,
    check_codec_name,
    codec_for_code,
    codec_for_name,
    get_codec,
    worth_keeping,
)
from llmspell.errors import ValidationError

DATA = b"llmspell compression keeps old data readable. " * 100

#: Payloads of DATA written by artifacts/compression.py (blobs: one-shot, and a stream fed
#: 2000 bytes then the rest) and state/backup/codecs.py (backups: level 3, content checksum)
#: before they were merged into llmspell.compression.
WRITTEN_BEFORE = {
    "blob_zstd_oneshot": "KLUv/WD4EL0BAOQCbGxtc3BlbGwgY29tcHJlc3Npb24ga2VlcHMgb2xkIGRhdGEgcmVhZGFi"
                         "bGUuIAEAPo7YqzI=",
    "blob_zstd_stream": "KLUv/QBIvQEA5AJsbG1zcGVsbCBjb21wcmVzc2lvbiBrZWVwcyBvbGQgZGF0YSByZWFkYWJsZ"
                        "S4gAQA+jtirMg==",
    "backup_zstd": "KLUv/QRYvQEA5AJsbG1zcGVsbCBjb21wcmVzc2lvbiBrZWVwcyBvbGQgZGF0YSByZWFkYWJsZS4gAQ"
                   "A+jtirMl5rw6U=",
    "blob_lz4_oneshot": "BCJNGGhA+BEAAAAAAAB8SgAAAP8fbGxtc3BlbGwgY29tcHJlc3Npb24ga2VlcHMgb2xkIGRhd"
                        "GEgcmVhZGFibGUuIC4A///////////////////////DUGJsZS4gAAAAAA==",
    "blob_lz4_stream": "BCJNGEBAwEoAAAD/H2xsbXNwZWxsIGNvbXByZXNzaW9uIGtlZXBzIG9sZCBkYXRhIHJlYWRhYm"
                       "xlLiAuAP//////////////////////w1BibGUuIAAAAAA=",
    "backup_lz4": "BCJNGERAXkoAAAD/H2xsbXNwZWxsIGNvbXByZXNzaW9uIGtlZXBzIG9sZCBkYXRhIHJlYWRhYmxlLiAu"
                  "AP//////////////////////w1BibGUuIAAAAABzqgBO",
}


def old(name: str) -> bytes:
    return base64.b64decode(WRITTEN_BEFORE[name])


def push_all(codec_name: str, payload: bytes, piece: int = 7) -> bytes:
    reader = get_codec(codec_name).decompressor()
    out = b"".join(reader.decompress(payload[i:i + piece]) for i in range(0, len(payload), piece))
    reader.finish()
    return out


def pull_all(codec_name: str, payload: bytes) -> bytes:
    reader = get_codec(codec_name).reader(io.BytesIO(payload))
    parts = []
    while part := reader.read(1000):
        assert len(part) <= 1000
        parts.append(part)
    return b"".join(parts)


@pytest.mark.parametrize("name", sorted(WRITTEN_BEFORE))
def test_payloads_written_before_still_read(name: str) -> None:
    codec = name.split("_")[1]
    payload = old(name)
    assert push_all(codec, payload) == DATA  # how backups read
    assert pull_all(codec, payload) == DATA  # how blob files are read
    assert get_codec(codec).decompress(payload, len(DATA)) == DATA  # how inline blobs are read


@pytest.mark.parametrize("name", ["zstd", "lz4"])
def test_blob_and_backup_writers_keep_their_settings(name: str) -> None:
    """Blobs: level 1 (zstd) / level 0 (lz4), no checksum; backups: level 3 with the content
    checksum. The frame header records the checksum flag, so it is visible in the bytes."""
    codec = get_codec(name)
    blob = codec.compressor()
    blob_payload = blob.compress(DATA[:2000]) + blob.compress(DATA[2000:]) + blob.finish()
    backup = codec.compressor(level=3, checksum=True)
    backup_payload = backup.compress(DATA[:2000]) + backup.compress(DATA[2000:]) + backup.finish()
    if name == "zstd":
        frame_flags = 4  # the frame header descriptor byte: bit 2 is the content checksum
        assert not blob_payload[frame_flags] & 0b100 and backup_payload[frame_flags] & 0b100
    else:
        flags = 4  # the FLG byte: bit 2 is the content checksum
        assert not blob_payload[flags] & 0b100 and backup_payload[flags] & 0b100
    assert blob_payload == old(f"blob_{name}_stream")
    assert backup_payload == old(f"backup_{name}")
    assert push_all(name, blob_payload) == push_all(name, backup_payload) == DATA


@pytest.mark.parametrize("name", CODECS)
@pytest.mark.parametrize("data", [b"", b"x", DATA, bytes(range(256)) * 300])
def test_every_form_round_trips(name: str, data: bytes) -> None:
    codec = get_codec(name)
    assert codec.decompress(codec.compress(data), len(data)) == data
    stream = codec.compressor()
    payload = stream.compress(data) + stream.finish()
    assert push_all(name, payload) == data
    assert pull_all(name, payload) == data


@pytest.mark.parametrize("name", ["zstd", "lz4"])
def test_truncated_or_trailing_bytes_are_reported(name: str) -> None:
    payload = old(f"backup_{name}")
    with pytest.raises(CorruptPayload, match=rf"{name}: the frame is incomplete"):
        push_all(name, payload[:-3])
    with pytest.raises(CorruptPayload, match=rf"{name}: unexpected bytes after the frame"):
        push_all(name, payload + b"junk", piece=len(payload) + 4)


@pytest.mark.parametrize("name", ["zstd", "lz4"])
def test_damaged_payloads_raise_corrupt_payload(name: str) -> None:
    codec = get_codec(name)
    payload = codec.compress(DATA)
    for damaged in (payload[:-5], b"not a frame at all", payload[:4] + b"\xff" * 20):
        with pytest.raises(CorruptPayload, match=rf"{name}: |expected {len(DATA)}"):
            codec.decompress(damaged, len(DATA))
    with pytest.raises(CorruptPayload, match=rf"{name}: "):  # (a reader's caller checks sizes)
        pull_all(name, b"not a frame at all")
    with pytest.raises(CorruptPayload, match="expected 5"):
        codec.decompress(codec.compress(DATA), 5)  # the recorded size is checked first


def test_names_and_codes() -> None:
    assert [codec_for_code(code).name for code in range(3)] == list(CODECS)
    assert codec_for_name("lz4") is get_codec("lz4")
    with pytest.raises(CorruptPayload, match="unknown compression code 9"):
        codec_for_code(9)
    with pytest.raises(CorruptPayload, match="unknown compression 'gzip'"):
        codec_for_name("gzip")
    assert check_codec_name("zstd") == "zstd"
    for bad in ("gzip", None, 1):
        with pytest.raises(ValidationError, match="argument 'codec': must be one of none, "
                                                  "zstd, lz4"):
            check_codec_name(bad, "codec")
    assert worth_keeping(111, 100) and not worth_keeping(109, 100)


def test_blob_store_and_backup_manager_refuse_an_unknown_codec_alike(tmp_path) -> None:
    from llmspell.artifacts.blobs import BlobStore
    from llmspell.runtime import Runtime
    from llmspell.state.backup import BackupManager
    from llmspell.storage import open_store

    store = open_store("memory://")
    with pytest.raises(ValidationError, match="argument 'compression': must be one of none, "
                                              "zstd, lz4 \\(got str 'gzip'\\)"):
        BlobStore(store, tmp_path / "blobs", compression="gzip")
    rt = Runtime.memory()
    try:
        with pytest.raises(ValidationError, match="argument 'compression': must be one of "
                                                  "none, zstd, lz4 \\(got str 'gzip'\\)"):
            BackupManager(rt.state, tmp_path / "backups", compression="gzip")
    finally:
        rt.close()
        store.close()
