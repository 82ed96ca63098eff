"""``archive_handler``: list, create and extract zip and tar archives, safely.

Extraction refuses, before writing anything: entries with an absolute name or a ``..`` that
would land outside the target directory (zip-slip), links and device files in a tar,
more than ``max_files`` entries, and a declared total size over ``max_size``. While writing it
counts the bytes actually produced, so an archive that lies about its sizes (a zip bomb) is
stopped at ``max_size`` and the partial output removed. Every file name goes through the
tool context's path confinement.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from llmspell.errors import SecurityViolation, ValidationError
from llmspell.tools.base import Tool, ToolContext
from llmspell.tools.builtins.support import need

MAX_SIZE = 100 * 1024 * 1024
MAX_FILES = 10_000
CHUNK = 1024 * 1024


def _format(path: str, given: str | None) -> str:
    if given:
        return given
    lower = path.lower()
    if lower.endswith(".zip"):
        return "zip"
    if lower.endswith((".tar.gz", ".tgz")):
        return "tgz"
    if lower.endswith(".tar"):
        return "tar"
    raise ValidationError("params", "cannot tell the format from the name; give format = "
                          "'zip', 'tar' or 'tgz'", path="$.format", got=path)


class ArchiveHandler(Tool):
    name = "archive_handler"
    description = ("List, create or extract zip, tar and tar.gz archives under the allowed "
                   "roots (zip-slip, links and archive bombs refused)")
    category = "filesystem"
    security_level = "restricted"
    capabilities = ("files", "archives")
    parameters = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["list", "create", "extract"]},
            "path": {"type": "string", "description": "the archive"},
            "target_path": {"type": "string", "description": "extract: the directory"},
            "input": {"type": "array", "items": {"type": "string"},
                      "description": "create: files and directories to put in"},
            "format": {"enum": ["zip", "tar", "tgz"]},
            "max_size": {"type": "integer", "minimum": 1, "default": MAX_SIZE},
            "max_files": {"type": "integer", "minimum": 1, "default": MAX_FILES},
        },
        "required": ["operation", "path"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        op = params["operation"]
        archive = ctx.resolve(params["path"], tool=self.name, argument="path",
                              write=op == "create")
        kind = _format(archive, params.get("format"))
        if op == "create":
            return self._create(archive, kind, params, ctx)
        entries = _entries(archive, kind)
        if op == "list":
            return {"entries": [{"name": n, "size": s, "type": t} for n, s, t in entries],
                    "count": len(entries)}
        need(params, "target_path", op)
        return self._extract(archive, kind, entries, params, ctx)

    def _create(self, archive: str, kind: str, params: dict[str, Any],
                ctx: ToolContext) -> dict[str, Any]:
        sources = params.get("input") or []
        if not sources:
            raise ValidationError("params", "operation 'create' needs 'input' (files to add)",
                                  path="$.input")
        files: list[tuple[str, str]] = []  # (real path, name in the archive)
        for i, source in enumerate(sources):
            real = ctx.resolve(source, tool=self.name, argument=f"input[{i}]")
            base = os.path.basename(real.rstrip(os.sep))
            if os.path.isdir(real):
                for folder, _, names in os.walk(real, followlinks=False):
                    for name in sorted(names):
                        full = os.path.join(folder, name)
                        if os.path.islink(full):
                            continue  # links are not archived (they could lead out)
                        files.append((full, os.path.join(base, os.path.relpath(full, real))))
            else:
                files.append((real, base))
        if kind == "zip":
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
                for real, name in files:
                    out.write(real, name)
        else:
            with tarfile.open(archive, "w:gz" if kind == "tgz" else "w") as tar:
                for real, name in files:
                    tar.add(real, name, recursive=False)
        return {"path": params["path"], "format": kind, "files": len(files)}

    def _extract(self, archive: str, kind: str, entries: list[tuple[str, int, str]],
                 params: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        max_size = params.get("max_size", MAX_SIZE)
        max_files = params.get("max_files", MAX_FILES)
        if len(entries) > max_files:
            raise SecurityViolation(f"{self.name}: the archive has {len(entries)} entries, "
                                    f"more than max_files = {max_files}")
        declared = sum(size for _, size, _ in entries)
        if declared > max_size:
            raise SecurityViolation(f"{self.name}: the archive unpacks to {declared} bytes, "
                                    f"more than max_size = {max_size} (raise max_size to "
                                    "allow it)")
        target = ctx.resolve(params["target_path"], tool=self.name, argument="target_path",
                             write=True)
        plan = []
        for name, _, kind_of in entries:
            if kind_of not in ("file", "directory"):
                raise SecurityViolation(f"{self.name}: entry {name!r} is a {kind_of}; only "
                                        "files and directories are extracted")
            destination = os.path.normpath(os.path.join(target, name))
            if os.path.isabs(name) or not (destination == target or destination.startswith(
                    target.rstrip(os.sep) + os.sep)):
                raise SecurityViolation(f"{self.name}: entry {name!r} would be written "
                                        f"outside {params['target_path']!r} (zip-slip)")
            plan.append((name, ctx.resolve(destination, tool=self.name,
                                           argument="target_path", write=True), kind_of))
        written: list[str] = []
        total = 0
        try:
            with _reader(archive, kind) as open_member:
                for name, destination, kind_of in plan:
                    if kind_of == "directory":
                        os.makedirs(destination, exist_ok=True)
                        continue
                    os.makedirs(os.path.dirname(destination), exist_ok=True)
                    with open_member(name) as source, open(destination, "wb") as out:
                        written.append(destination)
                        while chunk := source.read(CHUNK):
                            total += len(chunk)
                            if total > max_size:
                                raise SecurityViolation(
                                    f"{self.name}: the archive produced more than max_size = "
                                    f"{max_size} bytes while extracting {name!r} (its declared "
                                    "sizes are wrong: an archive bomb?); nothing was kept")
                            out.write(chunk)
        except BaseException as exc:
            for path in written:
                if os.path.exists(path):
                    os.remove(path)
            if isinstance(exc, zipfile.BadZipFile | tarfile.TarError | EOFError):
                raise ValidationError("params", f"the {kind} archive is damaged or lies about "
                                      f"its contents ({exc}); nothing was kept",
                                      path="$.path") from None
            raise
        return {"target_path": params["target_path"], "files": len(written), "bytes": total}


def _entries(archive: str, kind: str) -> list[tuple[str, int, str]]:
    """(name, declared size, type) of every entry."""
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as z:
                return [(i.filename, i.file_size, "directory" if i.is_dir() else "file")
                        for i in z.infolist()]
        with tarfile.open(archive, "r:*") as tar:
            return [(m.name, m.size, "file" if m.isfile() else "directory" if m.isdir()
                     else "symlink" if m.issym() else "hardlink" if m.islnk() else "device")
                    for m in tar.getmembers()]
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise ValidationError("params", f"is not a readable {kind} archive: {exc}",
                              path="$.path") from None


@contextmanager
def _reader(archive: str, kind: str) -> Iterator[Callable[[str], IO[bytes]]]:
    """The archive opened once; gives a function that opens one entry by name."""
    if kind == "zip":
        with zipfile.ZipFile(archive) as z:
            yield z.open
        return
    with tarfile.open(archive, "r:*") as tar:
        def member(name: str) -> IO[bytes]:
            found = tar.extractfile(name)
            if found is None:
                raise ValidationError("params", f"entry {name!r} has no content",
                                      path="$.path")
            return found

        yield member
