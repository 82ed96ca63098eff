"""``date_time_handler``: parse, format, convert between time zones, add, subtract, compare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from llmspell.errors import ValidationError
from llmspell.tools.base import Tool, ToolContext
from llmspell.tools.builtins.support import need

UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}
FORMATS = {"iso8601": None, "rfc2822": "%a, %d %b %Y %H:%M:%S %z", "date": "%Y-%m-%d",
           "time": "%H:%M:%S", "unix": "unix"}


def _zone(name: Any, argument: str) -> Any:
    if name in (None, "UTC", "utc", "Z"):
        return UTC
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("params", "must be an IANA time zone such as 'Europe/Paris' or "
                              "'UTC'", path=f"$.{argument}", got=name) from None


def parse_time(text: Any, argument: str, zone: Any = UTC) -> datetime:
    """A datetime from ISO 8601 text, a unix timestamp or a few common forms; naive times
    are taken in ``zone``."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return datetime.fromtimestamp(text, UTC)
    if not isinstance(text, str):
        raise ValidationError("params", "must be a date/time string or a unix timestamp",
                              path=f"$.{argument}", got=text)
    value = text.strip()
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
        for pattern in ("%a, %d %b %Y %H:%M:%S %z", "%d/%m/%Y %H:%M", "%d/%m/%Y",
                        "%B %d, %Y", "%b %d %Y"):
            try:
                parsed = datetime.strptime(value, pattern)
                break
            except ValueError:
                continue
        if parsed is None:
            if value.lstrip("-").replace(".", "", 1).isdigit():
                return datetime.fromtimestamp(float(value), UTC)
            raise ValidationError("params", "is not a date/time this tool can read (ISO "
                                  "8601 such as '2025-08-01T12:00:00Z' is safest)",
                                  path=f"$.{argument}", got=text) from None
    assert parsed is not None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _show(moment: datetime, style: str) -> Any:
    pattern = FORMATS.get(style, style)
    if pattern is None:
        return moment.isoformat()
    if pattern == "unix":
        return moment.timestamp()
    return moment.strftime(pattern)


class DateTimeHandler(Tool):
    name = "date_time_handler"
    description = ("Dates and times: now, parse, format, convert_timezone, add, subtract, "
                   "difference, info (ISO 8601, unix timestamps, IANA time zones)")
    category = "utility"
    security_level = "safe"
    capabilities = ("time",)
    parameters = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["now", "parse", "format", "convert_timezone", "add",
                                   "subtract", "difference", "info"], "default": "now"},
            "input": {"type": ["string", "number"]},
            "format": {"type": "string", "default": "iso8601",
                       "description": "iso8601, rfc2822, date, time, unix or a strftime "
                       "pattern"},
            "timezone": {"type": "string"},
            "target_timezone": {"type": "string"},
            "amount": {"type": "number"},
            "unit": {"enum": list(UNITS)},
            "start": {"type": ["string", "number"]},
            "end": {"type": ["string", "number"]},
        },
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        op = params.get("operation", "now")
        zone = _zone(params.get("timezone"), "timezone")
        style = params.get("format", "iso8601")
        if op == "now":
            return {"result": _show(datetime.now(zone), style)}
        if op == "difference":
            delta = (parse_time(need(params, "end", op), "end", zone)
                     - parse_time(need(params, "start", op), "start", zone))
            seconds = delta.total_seconds()
            return {"seconds": seconds, "minutes": seconds / 60, "hours": seconds / 3600,
                    "days": seconds / 86400}
        moment = parse_time(need(params, "input", op), "input", zone)
        if op in ("parse", "format"):
            return {"result": _show(moment, style), "timestamp": moment.timestamp()}
        if op == "convert_timezone":
            target = _zone(params.get("target_timezone"), "target_timezone")
            return {"result": _show(moment.astimezone(target), style)}
        if op in ("add", "subtract"):
            if "amount" not in params or "unit" not in params:
                raise ValidationError("params", f"operation {op!r} needs 'amount' and 'unit'",
                                      path="$.amount")
            delta = timedelta(seconds=params["amount"] * UNITS[params["unit"]])
            try:
                moved = moment + delta if op == "add" else moment - delta
            except OverflowError:
                raise ValidationError("params", "the result is out of the range of dates",
                                      path="$.amount", got=params["amount"]) from None
            return {"result": _show(moved, style)}
        iso = moment.isocalendar()
        return {"year": moment.year, "month": moment.month, "day": moment.day,
                "weekday": moment.strftime("%A"), "iso_week": iso.week,
                "day_of_year": moment.timetuple().tm_yday,
                "is_leap_year": moment.year % 4 == 0 and (moment.year % 100 != 0
                                                          or moment.year % 400 == 0),
                "timezone": str(moment.tzinfo), "timestamp": moment.timestamp()}
