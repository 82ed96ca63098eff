"""``file_operations`` and ``file_search``: files under the allowed roots.

Every path goes through the tool context's :class:`~llmspell.paths.Confinement` (the one that
confines scripts): ``..``, symlinks and absolute paths that land outside ``[runtime]
allowed_paths`` are refused, as is any file access when ``[runtime.security]
allow_file_access = false``, and writes to the configuration file or the data directory.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from typing import Any

from llmspell.errors import SecurityViolation, ValidationError
from llmspell.tools.base import Tool, ToolContext
from llmspell.tools.builtins.support import need

MAX_READ = 10 * 1024 * 1024
MAX_ENTRIES = 10_000


def _info(path: str) -> dict[str, Any]:
    st = os.lstat(path)
    kind = "directory" if os.path.isdir(path) else "symlink" if os.path.islink(path) else "file"
    return {"name": os.path.basename(path), "type": kind, "size": st.st_size,
            "modified": st.st_mtime}


class FileOperations(Tool):
    name = "file_operations"
    description = ("Read, write, append, copy, move, delete, list, create directories and "
                   "inspect files under the allowed roots")
    category = "filesystem"
    security_level = "privileged"
    capabilities = ("files",)
    parameters = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["read", "write", "append", "delete", "copy", "move",
                                   "mkdir", "list", "exists", "info"]},
            "path": {"type": "string"},
            "input": {"type": "string", "description": "write/append: the content"},
            "source_path": {"type": "string"},
            "target_path": {"type": "string"},
            "recursive": {"type": "boolean", "default": False},
            "encoding": {"type": "string", "default": "utf-8"},
        },
        "required": ["operation"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        op = params["operation"]
        if op in ("copy", "move"):
            source = ctx.resolve(need(params, "source_path", op), tool=self.name,
                                 argument="source_path", write=op == "move")
            target = ctx.resolve(need(params, "target_path", op), tool=self.name,
                                 argument="target_path", write=True)
            if op == "move":
                shutil.move(source, target)
            elif os.path.isdir(source):
                if not params.get("recursive"):
                    raise ValidationError("params", "copying a directory needs recursive = "
                                          "true", path="$.recursive")
                shutil.copytree(source, target, symlinks=True)
            else:
                shutil.copy2(source, target)
            return {"operation": op, "source_path": params["source_path"],
                    "target_path": params["target_path"]}
        writes = op in ("write", "append", "delete", "mkdir")
        path = ctx.resolve(need(params, "path", op), tool=self.name, argument="path",
                           write=writes)
        encoding = params.get("encoding", "utf-8")
        if op == "exists":
            return {"exists": os.path.exists(path)}
        if op == "info":
            return _info(path)
        if op == "read":
            if os.path.getsize(path) > MAX_READ:
                raise ValidationError("params", f"the file is larger than {MAX_READ} bytes",
                                      path="$.path", got=params["path"])
            with open(path, encoding=encoding, errors="replace") as handle:
                return {"content": handle.read(), "path": params["path"]}
        if op in ("write", "append"):
            content = need(params, "input", op)
            with open(path, "a" if op == "append" else "w", encoding=encoding) as handle:
                handle.write(content)
            return {"path": params["path"], "bytes": len(content.encode(encoding))}
        if op == "mkdir":
            os.makedirs(path, exist_ok=True) if params.get("recursive") else os.mkdir(path)
            return {"path": params["path"], "created": True}
        if op == "delete":
            if os.fsencode(path) in ctx.confinement.roots:
                raise SecurityViolation(f"{self.name}: argument 'path': {params['path']!r} is "
                                        "an allowed root itself; it cannot be deleted")
            if os.path.isdir(path) and not os.path.islink(path):
                if not params.get("recursive"):
                    os.rmdir(path)  # only an empty directory without recursive
                else:
                    shutil.rmtree(path)
            else:
                os.remove(path)
            return {"path": params["path"], "deleted": True}
        names = sorted(os.listdir(path))[:MAX_ENTRIES]
        return {"path": params["path"], "entries": [_info(os.path.join(path, n))
                                                    for n in names]}


class FileSearch(Tool):
    name = "file_search"
    description = ("Find text in files under a directory of the allowed roots (plain text, "
                   "case-insensitive unless asked), with file name globs and limits")
    category = "filesystem"
    security_level = "restricted"
    capabilities = ("files", "search")
    parameters = {
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "pattern": {"type": "string", "minLength": 1, "maxLength": 1000},
            "file_pattern": {"type": "string", "default": "*"},
            "case_sensitive": {"type": "boolean", "default": False},
            "recursive": {"type": "boolean", "default": True},
            "max_depth": {"type": "integer", "minimum": 0, "default": 32},
            "include_extensions": {"type": "array", "items": {"type": "string"}},
            "exclude_dirs": {"type": "array", "items": {"type": "string"}},
            "max_file_size": {"type": "integer", "minimum": 1, "default": MAX_READ},
            "max_matches_per_file": {"type": "integer", "minimum": 1, "default": 100},
            "max_files": {"type": "integer", "minimum": 1, "default": MAX_ENTRIES},
        },
        "required": ["path", "pattern"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        top = ctx.resolve(params["path"], tool=self.name, argument="path")
        if not os.path.isdir(top):
            raise ValidationError("params", "must be a directory", path="$.path",
                                  got=params["path"])
        sensitive = params.get("case_sensitive", False)
        needle = params["pattern"] if sensitive else params["pattern"].lower()
        glob = params.get("file_pattern", "*")
        extensions = tuple(e if e.startswith(".") else "." + e
                           for e in params.get("include_extensions") or ())
        excluded = set(params.get("exclude_dirs") or ())
        max_depth = params.get("max_depth", 32) if params.get("recursive", True) else 0
        limit = params.get("max_matches_per_file", 100)
        results: list[dict[str, Any]] = []
        scanned = skipped = 0
        for folder, dirs, files in os.walk(top, followlinks=False):
            depth = folder[len(top):].count(os.sep)
            dirs[:] = sorted(d for d in dirs if d not in excluded and depth < max_depth)
            for name in sorted(files):
                if not fnmatch.fnmatch(name, glob) or (extensions and
                                                       not name.endswith(extensions)):
                    continue
                if scanned >= params.get("max_files", MAX_ENTRIES):
                    return {"matches": results, "files_scanned": scanned,
                            "skipped": skipped, "truncated": True}
                full = os.path.join(folder, name)
                try:  # a symlink leading out of the roots is skipped, not followed
                    real = ctx.resolve(full, tool=self.name, argument="path")
                except SecurityViolation:
                    skipped += 1
                    continue
                if not os.path.isfile(real) or os.path.getsize(real) > params.get(
                        "max_file_size", MAX_READ):
                    skipped += 1
                    continue
                scanned += 1
                found = _search(real, needle, sensitive, limit)
                if found:
                    results.append({"path": os.path.relpath(full, top), "matches": found})
        return {"matches": results, "files_scanned": scanned, "skipped": skipped,
                "truncated": False}


def _search(path: str, needle: str, sensitive: bool, limit: int) -> list[dict[str, Any]]:
    found = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if needle in (line if sensitive else line.lower()):
                found.append({"line": number, "text": line.rstrip("\n")[:500]})
                if len(found) >= limit:
                    break
    return found
