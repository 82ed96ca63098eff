"""``file_converter`` (encodings, line endings, indentation) and ``file_watcher`` (wait, with a
bound, for files under the allowed roots to change). Both confine every path."""

from __future__ import annotations

import codecs
import fnmatch
import os
import time
from typing import Any

from llmspell.errors import ValidationError
from llmspell.tools.base import Tool, ToolContext
from llmspell.tools.builtins.support import need, read_confined, write_confined

ENDINGS = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}
MAX_WATCH_SECONDS = 60.0
MAX_WATCHED = 10_000


def _encoding(name: Any, argument: str) -> str:
    try:
        return codecs.lookup(str(name)).name
    except LookupError:
        raise ValidationError("params", "is not a known text encoding (utf-8, latin-1, "
                              "utf-16, cp1252, ascii...)", path=f"$.{argument}",
                              got=name) from None


class FileConverter(Tool):
    name = "file_converter"
    description = ("Convert a text file's encoding (e.g. latin-1 to utf-8), its line endings "
                   "(lf, crlf, cr) or its indentation (tabs to spaces and back)")
    category = "filesystem"
    security_level = "restricted"
    capabilities = ("files", "text")
    parameters = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["encoding", "line_endings", "indentation"]},
            "path": {"type": "string"},
            "target_path": {"type": "string", "description": "default: path (in place)"},
            "from_encoding": {"type": "string", "default": "utf-8"},
            "to_encoding": {"type": "string", "default": "utf-8"},
            "line_ending": {"enum": list(ENDINGS)},
            "convert_to_spaces": {"type": "boolean", "default": True},
            "tab_size": {"type": "integer", "minimum": 1, "maximum": 16, "default": 4},
        },
        "required": ["operation", "path"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        op = params["operation"]
        source = _encoding(params.get("from_encoding", "utf-8"), "from_encoding")
        target = _encoding(params.get("to_encoding", "utf-8"), "to_encoding")
        raw = read_confined(ctx, params["path"], tool=self.name, argument="path")
        try:
            text = raw.decode(source)
        except UnicodeDecodeError as exc:
            raise ValidationError("params", f"the file is not valid {source}: {exc.reason} at "
                                  f"byte {exc.start}", path="$.from_encoding") from None
        if op == "line_endings":
            need(params, "line_ending", op)
            lines = text.splitlines()
            text = ENDINGS[params["line_ending"]].join(lines) + (
                ENDINGS[params["line_ending"]] if raw.endswith((b"\n", b"\r")) else "")
        elif op == "indentation":
            size = params.get("tab_size", 4)
            if params.get("convert_to_spaces", True):
                text = text.expandtabs(size)
            else:
                text = "\n".join(_tabs(line, size) for line in text.split("\n"))
        # operation "encoding": the text is written back in to_encoding below
        try:
            data = text.encode(target)
        except UnicodeEncodeError as exc:
            raise ValidationError("params", f"{target} cannot hold {exc.object[exc.start]!r} "
                                  f"(character {exc.start})", path="$.to_encoding") from None
        destination = params.get("target_path", params["path"])
        write_confined(ctx, destination, data, tool=self.name, argument="target_path")
        return {"path": destination, "bytes": len(data), "encoding": target}


def _tabs(line: str, size: int) -> str:
    stripped = line.lstrip(" ")
    indent = len(line) - len(stripped)
    return "\t" * (indent // size) + " " * (indent % size) + stripped


def _snapshot(ctx: ToolContext, tool: str, paths: list[str], pattern: str,
              recursive: bool) -> dict[str, tuple[float, int]]:
    seen: dict[str, tuple[float, int]] = {}
    for i, given in enumerate(paths):
        real = ctx.resolve(given, tool=tool, argument=f"input[{i}]")
        if os.path.isdir(real):
            for folder, dirs, files in os.walk(real, followlinks=False):
                if not recursive:
                    dirs[:] = []
                for name in files:
                    if fnmatch.fnmatch(name, pattern):
                        _stat(os.path.join(folder, name), seen)
                if len(seen) > MAX_WATCHED:
                    raise ValidationError("params", f"more than {MAX_WATCHED} files to watch",
                                          path=f"$.input[{i}]")
        else:
            _stat(real, seen)
    return seen


def _stat(path: str, seen: dict[str, tuple[float, int]]) -> None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    seen[path] = (st.st_mtime_ns, st.st_size)


class FileWatcher(Tool):
    name = "file_watcher"
    description = ("Wait (at most timeout_seconds, up to 60) for files or directories under the "
                   "allowed roots to change; returns the files created, modified and deleted")
    category = "filesystem"
    security_level = "restricted"
    capabilities = ("files", "watch")
    timeout = MAX_WATCH_SECONDS + 10
    parameters = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["watch"], "default": "watch"},
            "input": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "pattern": {"type": "string", "default": "*"},
            "recursive": {"type": "boolean", "default": True},
            "timeout_seconds": {"type": "number", "exclusiveMinimum": 0,
                                "maximum": MAX_WATCH_SECONDS, "default": 5},
            "max_events": {"type": "integer", "minimum": 1, "default": 100},
            "poll_interval_ms": {"type": "integer", "minimum": 10, "maximum": 5000,
                                 "default": 100},
        },
        "required": ["input"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        paths, pattern = params["input"], params.get("pattern", "*")
        recursive = params.get("recursive", True)
        before = _snapshot(ctx, self.name, paths, pattern, recursive)
        deadline = time.monotonic() + params.get("timeout_seconds", 5)
        interval = params.get("poll_interval_ms", 100) / 1000
        while True:
            after = _snapshot(ctx, self.name, paths, pattern, recursive)
            events = ([{"path": p, "event": "created"} for p in after if p not in before]
                      + [{"path": p, "event": "modified"} for p in after
                         if p in before and after[p] != before[p]]
                      + [{"path": p, "event": "deleted"} for p in before if p not in after])
            if events or time.monotonic() >= deadline:
                events = events[:params.get("max_events", 100)]
                return {"events": events, "timed_out": not events}
            time.sleep(min(interval, max(deadline - time.monotonic(), 0)))
