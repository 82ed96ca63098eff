"""``json_processor`` (JMESPath queries), ``data_validation`` (JSON Schema) and
``csv_analyzer`` (statistics, filter, convert) over data given inline."""

from __future__ import annotations

import csv
import io
import statistics
from typing import Any

import orjson

from llmspell.errors import ValidationError
from llmspell.tools.base import Tool, ToolContext, schema_validator
from llmspell.tools.builtins.support import need

MAX_INPUT = 10_000_000
MAX_ROWS = 1_000_000


def _json_input(value: Any) -> Any:
    """A JSON value, parsed when given as text."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise ValidationError("params", f"input is not valid JSON: {exc}",
                                  path="$.input") from None
    return value


class JsonProcessor(Tool):
    name = "json_processor"
    description = ("Query and reshape JSON with JMESPath (e.g. 'people[?age > `30`].name'), "
                   "validate it against a JSON Schema, or pretty-print it")
    category = "data"
    security_level = "safe"
    capabilities = ("json", "query")
    parameters = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["query", "validate", "format"], "default": "query"},
            "input": {"description": "a JSON value, or JSON text"},
            "query": {"type": "string", "maxLength": 10_000},
            "schema": {"type": "object"},
        },
        "required": ["input"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        import jmespath
        from jmespath.exceptions import JMESPathError

        data = _json_input(params["input"])
        operation = params.get("operation", "query")
        if operation == "format":
            return {"result": orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()}
        if operation == "validate":
            return validate_against(data, need(params, "schema", operation))
        query = need(params, "query", operation)
        try:
            return {"result": jmespath.search(query, data)}
        except JMESPathError as exc:
            raise ValidationError("params", f"is not a valid JMESPath query: {exc}",
                                  path="$.query") from None


def validate_against(data: Any, schema: Any) -> dict[str, Any]:
    """``{valid, errors: [{path, message}]}`` of ``data`` against a JSON Schema."""
    validator = schema_validator(schema, "params", "$.schema")
    errors = [{"path": "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                                     for p in e.absolute_path), "message": e.message}
              for e in validator.iter_errors(data)]
    return {"valid": not errors, "errors": errors[:100], "error_count": len(errors)}


class DataValidation(Tool):
    name = "data_validation"
    description = ("Validate data against rules: a JSON Schema ('rules' = {schema = ...}) or "
                   "a list of simple rules ({field, required, type, min, max, pattern...})")
    category = "utility"
    security_level = "safe"
    capabilities = ("json", "validation")
    parameters = {
        "type": "object",
        "properties": {
            "input": {"description": "the data"},
            "rules": {"anyOf": [{"type": "object"}, {"type": "array"}]},
        },
        "required": ["input", "rules"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        data = params["input"]
        rules = params["rules"]
        if isinstance(rules, dict):
            return validate_against(data, rules.get("schema", rules))
        return validate_against(data, _schema_from_rules(rules))


_RULE_KEYS = {"type": "type", "min": "minimum", "max": "maximum", "min_length": "minLength",
              "max_length": "maxLength", "pattern": "pattern", "enum": "enum",
              "format": "format"}


def _schema_from_rules(rules: list[Any]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or not isinstance(rule.get("field"), str):
            raise ValidationError("params", "each rule must be a table with a 'field'",
                                  path=f"$.rules[{i}]", got=rule)
        unknown = sorted(set(rule) - {"field", "required", *_RULE_KEYS})
        if unknown:
            raise ValidationError("params", f"unknown rule key {unknown[0]!r}; known: field, "
                                  f"required, {', '.join(_RULE_KEYS)}",
                                  path=f"$.rules[{i}].{unknown[0]}")
        props[rule["field"]] = {_RULE_KEYS[k]: v for k, v in rule.items() if k in _RULE_KEYS}
        if rule.get("required"):
            required.append(rule["field"])
    return {"type": "object", "properties": props, "required": required}


class CsvAnalyzer(Tool):
    name = "csv_analyzer"
    description = ("Analyse CSV text: columns, types and statistics (analyze), rows matching "
                   "conditions (filter), a sample, or conversion to JSON/JSONL/TSV (convert)")
    category = "data"
    security_level = "safe"
    capabilities = ("csv", "statistics")
    parameters = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["analyze", "filter", "sample", "convert", "validate"],
                          "default": "analyze"},
            "input": {"type": "string", "maxLength": MAX_INPUT},
            "options": {
                "type": "object",
                "properties": {
                    "delimiter": {"type": "string", "minLength": 1, "maxLength": 1},
                    "where": {"type": "object", "description": "column -> value (equal)"},
                    "limit": {"type": "integer", "minimum": 0},
                    "format": {"enum": ["json", "jsonl", "tsv"]},
                    "columns": {"type": "array", "items": {"type": "string"}},
                },
                "additionalProperties": False,
            },
        },
        "required": ["input"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        options = params.get("options") or {}
        reader = csv.DictReader(io.StringIO(params["input"]),
                                delimiter=options.get("delimiter", ","))
        try:
            rows = []
            for row in reader:
                if None in row:
                    raise ValidationError("params", f"row {reader.line_num} has more fields "
                                          "than the header", path="$.input")
                rows.append(row)
                if len(rows) > MAX_ROWS:
                    raise ValidationError("params", f"more than {MAX_ROWS} rows",
                                          path="$.input")
        except csv.Error as exc:
            raise ValidationError("params", f"is not valid CSV: {exc}", path="$.input") from None
        columns = list(reader.fieldnames or [])
        operation = params.get("operation", "analyze")
        if operation == "validate":
            short = [i + 1 for i, r in enumerate(rows) if any(v is None for v in r.values())]
            return {"valid": bool(columns) and not short, "columns": columns,
                    "rows": len(rows), "short_rows": short[:100]}
        if operation == "filter":
            where = options.get("where") or {}
            for key in where:
                if key not in columns:
                    raise ValidationError("params", f"no column {key!r} (columns: "
                                          f"{', '.join(columns)})", path=f"$.options.where.{key}")
            rows = [r for r in rows if all(r.get(k) == str(v) for k, v in where.items())]
            return {"rows": rows[:options.get("limit", len(rows))], "count": len(rows)}
        if operation == "sample":
            return {"rows": rows[:options.get("limit", 5)], "columns": columns}
        if operation == "convert":
            style = options.get("format", "json")
            if style == "json":
                return {"output": orjson.dumps(rows).decode()}
            if style == "jsonl":
                return {"output": "\n".join(orjson.dumps(r).decode() for r in rows)}
            out = io.StringIO()
            writer = csv.DictWriter(out, columns, delimiter="\t", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            return {"output": out.getvalue()}
        return {"rows": len(rows), "columns": [_column_stats(c, [r.get(c) for r in rows])
                                               for c in columns]}


def _column_stats(name: str, values: list[Any]) -> dict[str, Any]:
    present = [v for v in values if v not in (None, "")]
    numbers = []
    for v in present:
        try:
            numbers.append(float(v))
        except ValueError:
            break
    info: dict[str, Any] = {"name": name, "non_empty": len(present),
                            "empty": len(values) - len(present),
                            "unique": len(set(present))}
    if present and len(numbers) == len(present):
        info.update(type="number", min=min(numbers), max=max(numbers),
                    mean=statistics.fmean(numbers), median=statistics.median(numbers))
    else:
        info["type"] = "text"
        counts: dict[str, int] = {}
        for v in present:
            counts[v] = counts.get(v, 0) + 1
        info["top"] = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    return info
