"""The backup file: readable with standard tools, and every damaged byte is noticed."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest
import zstandard
from backup_helpers import fill

from backends import snapshot
from llmspell import Runtime
from llmspell.errors import BackupCorrupt, BackupNotFound
from llmspell.state.backup.fileformat import read_manifest


def test_a_json_backup_is_json_lines_after_decompression(mem: Runtime) -> None:
    fill(mem)
    info = mem.backups.backup(description="readable")
    assert info.path.name == f"{info.id}.llsb" and info.path.parent == mem.backups.directory
    with open(info.path, "rb") as f:
        header, trailer, start, end = read_manifest(f)
        f.seek(start)
        payload = zstandard.ZstdDecompressor().decompressobj().decompress(f.read(end - start))
    assert header["description"] == "readable" and header["store"]["backend"] == "memory"
    assert hashlib.sha256(payload).hexdigest() == trailer["payload_sha256"] == info.payload_sha256
    lines = [orjson.loads(line) for line in payload.splitlines()]
    stored = snapshot(mem)
    assert len(lines) == len(stored) == info.entries == 33
    for line in lines:
        # The record is embedded as JSON, and it is exactly what the store holds.
        assert orjson.dumps(line["r"]) == stored[line["k"]]
        assert line["o"] == "put" and len(line["h"]) == 64


def test_backup_files_are_whole_and_private(mem: Runtime) -> None:
    fill(mem)
    info = mem.backups.backup()
    assert info.path.stat().st_mode & 0o777 == 0o600  # a data copy, secrets included
    assert [p.name for p in mem.backups.directory.iterdir()] == [info.path.name]  # no temp


@pytest.mark.skipif(shutil.which("zstd") is None, reason="the zstd command is not installed")
def test_the_zstd_command_reads_a_backup(mem: Runtime) -> None:
    fill(mem)
    info = mem.backups.backup()
    out = subprocess.run(["zstd", "-dc", str(info.path)], capture_output=True, check=True)
    assert hashlib.sha256(out.stdout).hexdigest() == info.payload_sha256
    assert out.stdout.count(b"\n") == info.entries


@pytest.mark.parametrize("entry_format", ["json", "binary"])
@pytest.mark.parametrize("compression", ["zstd", "lz4", "none"])
def test_every_format_and_compression_round_trips(mem: Runtime, entry_format: str,
                                                  compression: str) -> None:
    fill(mem)
    before = snapshot(mem)
    info = mem.backups.backup(format=entry_format, compression=compression)
    assert (info.entry_format, info.compression) == (entry_format, compression)
    assert mem.backups.verify_backup(info.id) == {"id": info.id, "valid": True,
                                                  "chain": [info.id], "entries": 33}
    for scope in mem.state.scopes():
        mem.state.clear_scope(scope)
    mem.backups.restore(info.id)
    assert snapshot(mem) == before


def flip(path: Path, at: int) -> bytes:
    data = bytearray(path.read_bytes())
    original = bytes(data)
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    return original


@pytest.mark.parametrize(("entry_format", "compression"),
                         [("json", "none"), ("binary", "none"), ("json", "zstd"),
                          ("binary", "lz4")])
def test_flipping_any_byte_is_refused_by_verify(tmp_path: Path, entry_format: str,
                                                compression: str) -> None:
    with Runtime.memory(state__backup_dir=str(tmp_path)) as rt:
        rt.state.save("agent:a", "k", {"v": 1})
        rt.state.save("agent:b", "deleted", 2)
        parent = rt.backups.backup()
        rt.state.delete("agent:b", "deleted")
        info = rt.backups.backup(incremental=True, format=entry_format,
                                 compression=compression)
        assert info.deletions == 1
        size = info.path.stat().st_size
        parts: set[str] = set()
        for at in range(size):
            original = flip(info.path, at)
            with pytest.raises(BackupCorrupt) as caught:
                rt.backups.verify_backup(info.id)
            parts.add(str(caught.value).split(": ")[1])
            info.path.write_bytes(original)
        assert rt.backups.verify_backup(info.id)["valid"]
        assert rt.backups.verify_backup(parent.id)["valid"]
    expected = {"header", "trailer", "payload"} | ({"entry"} if compression == "none" else set())
    assert parts == expected


def test_a_damaged_entry_or_payload_is_named_and_restore_changes_nothing(mem: Runtime) -> None:
    fill(mem)
    plain = mem.backups.backup(compression="none")
    packed = mem.backups.backup()
    mem.state.save("global", "after", "the backup")
    before = snapshot(mem)
    data = plain.path.read_bytes()
    at = data.index(b'"theme":"dark"') + 10  # inside the record of global/config
    flip(plain.path, at)
    with pytest.raises(BackupCorrupt, match=r"backup .*: entry: entry #\d+ "
                       r"\(state/global/config\): its SHA-256 does not match"):
        mem.backups.verify_backup(plain.id)
    with pytest.raises(BackupCorrupt, match="global/config"):
        mem.backups.restore(plain.id)
    flip(packed.path, packed.path.stat().st_size // 2)
    with pytest.raises(BackupCorrupt, match=f"backup {packed.id}: payload: "):
        mem.backups.restore(packed.id)
    assert snapshot(mem) == before
    assert len(mem.backups.list_backups()) == 2  # no safety backup was taken either


def test_truncated_files_are_refused(mem: Runtime) -> None:
    fill(mem)
    info = mem.backups.backup()
    data = info.path.read_bytes()
    for size in (0, 5, 40, len(data) // 2, len(data) - 9, len(data) - 1):
        info.path.write_bytes(data[:size])
        with pytest.raises(BackupCorrupt, match=r"truncated|too short|damaged"):
            mem.backups.verify_backup(info.id)
    info.path.write_bytes(data + b"extra")
    with pytest.raises(BackupCorrupt, match="trailer"):
        mem.backups.verify_backup(info.id)


def test_listing_shows_a_damaged_file_and_unknown_ids_are_not_found(mem: Runtime) -> None:
    fill(mem)
    good = mem.backups.backup()
    (mem.backups.directory / "20990101T000000000000Z-dead.llsb").write_bytes(b"not a backup")
    listed = mem.backups.list_backups()
    assert [b.id for b in listed if b.problem is None] == [good.id]
    assert "not an llmspell backup" in next(b for b in listed if b.problem).problem  # type: ignore[operator]
    with pytest.raises(BackupNotFound, match="no backup with id"):
        mem.backups.verify_backup("20990101T000000000000Z-beef")
    with pytest.raises(BackupNotFound):
        mem.backups.restore("20990101T000000000000Z-beef")
