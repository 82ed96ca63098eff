"""``system_monitor``: CPU, memory and disk figures from the standard library (and
``/proc/meminfo`` where the system has it; elsewhere memory reports ``available = false``)."""

from __future__ import annotations

import os
import platform
import shutil
from typing import Any

from llmspell.tools.base import Tool, ToolContext

MEMINFO = "/proc/meminfo"


def cpu() -> dict[str, Any]:
    info: dict[str, Any] = {"count": os.cpu_count(), "machine": platform.machine(),
                            "system": platform.system()}
    if hasattr(os, "getloadavg"):
        one, five, fifteen = os.getloadavg()
        info["load_average"] = {"1m": one, "5m": five, "15m": fifteen}
    return info


def memory() -> dict[str, Any]:
    if not os.path.exists(MEMINFO):
        return {"available": False, "reason": f"{MEMINFO} does not exist on this system"}
    values: dict[str, int] = {}
    with open(MEMINFO) as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                values[key] = int(parts[0]) * 1024
    total = values.get("MemTotal", 0)
    free = values.get("MemAvailable", values.get("MemFree", 0))
    return {"available": True, "total_bytes": total, "available_bytes": free,
            "used_percent": round(100 * (total - free) / total, 1) if total else None}


def disk(path: str) -> dict[str, Any]:
    usage = shutil.disk_usage(path)
    return {"path": path, "total_bytes": usage.total, "used_bytes": usage.used,
            "free_bytes": usage.free,
            "used_percent": round(100 * usage.used / usage.total, 1) if usage.total else None}


class SystemMonitor(Tool):
    name = "system_monitor"
    description = "CPU count and load, memory use and disk space of the allowed roots"
    category = "system"
    security_level = "safe"
    capabilities = ("system",)
    parameters = {
        "type": "object",
        "properties": {"operation": {"enum": ["all", "cpu", "memory", "disk"],
                                     "default": "all"}},
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        op = params.get("operation", "all")
        roots = [os.fsdecode(r) for r in ctx.confinement.roots]
        parts = {"cpu": cpu, "memory": memory,
                 "disk": lambda: [disk(r) for r in roots if os.path.isdir(r)]}
        if op == "all":
            return {name: make() for name, make in parts.items()}
        return {op: parts[op]()}
