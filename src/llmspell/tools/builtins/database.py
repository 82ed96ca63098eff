"""database-connector: one SQL statement against SQLite or PostgreSQL, read-only unless allowed.

- SQLite: ``database`` is a file path, confined like every file tool (``[runtime]
  allowed_paths``); the file is opened with a ``mode=ro`` URI (``mode=rw`` when
  ``[runtime.security] allow_database_writes`` is true; never created). ``ATTACH`` and
  ``VACUUM INTO`` are refused: they would open a file the confinement did not see.
- PostgreSQL: ``database`` is a ``postgresql://`` URL; its host goes through the network rule
  (:func:`llmspell.tools.network.check_host`: ``allow_network_access``, ``allowed_hosts``).
  Needs psycopg (the ``postgres`` extra). The statement runs in a transaction made ``READ ONLY``
  first (committed only when writes are allowed), over the extended protocol, so a single
  statement is accepted (``COMMIT; DELETE ...`` cannot leave the read-only transaction).

``params`` are bound by the driver (``?`` or ``:name`` for SQLite, ``%s`` or ``%(name)s`` for
PostgreSQL), never formatted into the text. At most ``max_rows`` rows are returned.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import re
import sqlite3
import uuid
from typing import Any
from urllib.parse import parse_qsl, quote

from llmspell.errors import SecurityViolation, ToolError, ValidationError
from llmspell.tools.base import Tool, ToolContext
from llmspell.tools.builtins.support import need
from llmspell.tools.network import check_host, parse_url

WRITES_SETTING = "[runtime.security] allow_database_writes"
POSTGRES_SCHEMES = ("postgresql", "postgres")
#: URL query options passed to PostgreSQL; others (``host``, ``hostaddr``, ``service``...)
#: could reach a host the network rule did not check, so they are refused.
PG_OPTIONS = ("sslmode", "connect_timeout", "application_name")
#: rs-llmspell's ``query_type`` values: the kind of statement the caller means to run.
QUERY_TYPES = ["SELECT", "INSERT", "UPDATE", "DELETE"]
#: Column rows of operation ``schema`` kept at most.
MAX_SCHEMA = 20000
SQLITE_SCHEMA = (
    "SELECT m.name AS table_name, m.type AS table_type, p.name AS column_name, "
    "p.type AS data_type, p.\"notnull\" AS not_null, p.pk > 0 AS primary_key "
    "FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p "
    "WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite_%' "
    "ORDER BY m.name, p.cid")
PG_SCHEMA = (
    "SELECT c.table_schema || '.' || c.table_name AS table_name, "
    "lower(replace(t.table_type, 'BASE ', '')) AS table_type, c.column_name, c.data_type, "
    "c.is_nullable = 'NO' AS not_null, EXISTS (SELECT 1 FROM "
    "information_schema.key_column_usage AS k JOIN information_schema.table_constraints AS tc "
    "USING (constraint_schema, constraint_name) WHERE tc.constraint_type = 'PRIMARY KEY' AND "
    "k.table_schema = c.table_schema AND k.table_name = c.table_name AND "
    "k.column_name = c.column_name) AS primary_key "
    "FROM information_schema.columns AS c JOIN information_schema.tables AS t "
    "USING (table_schema, table_name) "
    "WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema') "
    "ORDER BY 1, c.ordinal_position")
_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*", re.S)


def _check_type(query: str, wanted: str) -> None:
    """Refuse ``query`` unless its first keyword is ``wanted``. A ``WITH`` statement is of the
    kind of its main statement (after the common table expressions); one whose expressions
    write is not a SELECT."""
    text = query[_LEADING.match(query).end():]  # type: ignore[union-attr]
    first = re.match(r"[A-Za-z]+", text)
    kind = first.group(0).upper() if first else ""
    if kind == "WITH":
        main = re.findall(r"\b(SELECT|INSERT|UPDATE|DELETE)\b", _depth_zero(text).upper())
        kind = main[-1] if main else kind
        inner = re.findall(r"\b(INSERT|UPDATE|DELETE)\b", text.upper())
        if kind == "SELECT" and inner:
            kind = inner[0]
    if kind != wanted:
        raise ValidationError("params", f"the statement is a {kind or 'statement of no kind'}, "
                              f"not the {wanted} query_type says", path="$.query_type",
                              got=wanted)


def _depth_zero(text: str) -> str:
    """``text`` without what is inside parentheses (the bodies of a WITH's expressions)."""
    out, depth = [], 0
    for char in text:
        depth += char == "("
        if depth == 0:
            out.append(char)
        depth -= char == ")" and depth > 0
    return "".join(out)


def _tables(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = {}
    for row in rows:
        table = tables.setdefault(row["table_name"], {"name": row["table_name"],
                                                      "type": row["table_type"], "columns": []})
        table["columns"].append({"name": row["column_name"], "type": row["data_type"],
                                 "not_null": bool(row["not_null"]),
                                 "primary_key": bool(row["primary_key"])})
    return list(tables.values())


class DatabaseConnector(Tool):
    name = "database-connector"
    description = ("Run one SQL statement against SQLite (a file under the allowed roots) or "
                   "PostgreSQL (a postgresql:// URL, needs allow_network_access); read-only "
                   "unless [runtime.security] allow_database_writes")
    category = "data"
    security_level = "restricted"
    capabilities = ("database", "sql")
    timeout = 60.0
    parameters = {
        "type": "object",
        "properties": {
            "database": {"type": "string", "minLength": 1,
                         "description": "an SQLite file path, or a postgresql:// URL"},
            "operation": {"enum": ["query", "schema"], "default": "query",
                          "description": "query: run 'query'; schema: list the tables and "
                                         "views with their columns"},
            "query": {"type": "string", "minLength": 1, "description": "one SQL statement"},
            "query_type": {"enum": QUERY_TYPES,
                           "description": "what the statement must be; one of another kind "
                                          "is refused before it runs"},
            "params": {"type": ["array", "object"],
                       "description": "values bound to the statement's placeholders"},
            "max_rows": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1000},
        },
        "required": ["database"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        database = params["database"]
        postgres = database.split(":", 1)[0].lower() in POSTGRES_SCHEMES and "://" in database
        run = self._postgres if postgres else self._sqlite
        if params.get("operation", "query") == "schema":
            for key in ("query", "query_type", "params"):
                if key in params:
                    raise ValidationError("params", "operation 'schema' takes no "
                                          f"'{key}'", path=f"$.{key}")
            found = run(database, PG_SCHEMA if postgres else SQLITE_SCHEMA, None, MAX_SCHEMA,
                        False, ctx)
            return {"engine": found["engine"], "tables": _tables(found["rows"]),
                    "truncated": found["truncated"]}
        query = need(params, "query", "query")
        if "query_type" in params:
            _check_type(query, params["query_type"])
        writes = bool(getattr(ctx.security, "allow_database_writes", False))
        return run(database, query, params.get("params"), int(params.get("max_rows", 1000)),
                   writes, ctx)

    def _sqlite(self, database: str, query: str, bound: Any, max_rows: int, writes: bool,
                ctx: ToolContext) -> dict[str, Any]:
        path = ctx.resolve(database, tool=self.name, argument="database", write=writes)
        uri = f"file:{quote(path)}?mode={'rw' if writes else 'ro'}"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=10)
        except sqlite3.Error as exc:
            raise ToolError(f"{self.name}: cannot open SQLite database {database!r}: {exc}") \
                from None
        denied: list[int] = []

        def no_attach(action: int, *_: Any) -> int:
            if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
                denied.append(action)
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK

        conn.set_authorizer(no_attach)
        try:
            cursor = conn.execute(query, [] if bound is None else bound)
            result = _rows(cursor, max_rows)
            conn.commit()
        except sqlite3.ProgrammingError as exc:
            if "binding" in str(exc):  # placeholders and params do not match
                raise ValidationError("params", str(exc), path="$.params", got=bound) from None
            raise ToolError(f"{self.name}: SQLite refused the query: {exc}") from None
        except sqlite3.DatabaseError as exc:
            if not writes and "readonly" in str(exc).replace(" ", "").lower():
                raise SecurityViolation(_read_only(self.name)) from None
            if denied:
                raise SecurityViolation(f"{self.name}: argument 'query': ATTACH, DETACH and "
                                        "VACUUM INTO are refused (only the confined file may "
                                        "be opened)") from None
            raise ToolError(f"{self.name}: SQLite refused the query: {exc}") from None
        finally:
            conn.close()
        return {"engine": "sqlite", **result}

    def _postgres(self, database: str, query: str, bound: Any, max_rows: int, writes: bool,
                  ctx: ToolContext) -> dict[str, Any]:
        parts = parse_url(database, argument="database")
        if "," in parts.netloc:
            raise ValidationError("params", "must name one host (a list of hosts is refused)",
                                  path="$.database", got=database)
        for key, _ in parse_qsl(parts.query, keep_blank_values=True):
            if key not in PG_OPTIONS:
                raise SecurityViolation(f"{self.name}: argument 'database': URL option {key!r} "
                                        f"is refused (allowed: {', '.join(PG_OPTIONS)})")
        check_host(parts.hostname or "", ctx.security, tool=self.name, argument="database")
        try:
            import psycopg
        except ImportError:
            raise ToolError(f"{self.name}: PostgreSQL needs psycopg; install the extra: "
                            "pip install 'llmspell[postgres]'") from None
        try:
            conn = psycopg.connect(database, connect_timeout=10)
        except psycopg.Error as exc:
            raise ToolError(f"{self.name}: cannot connect to PostgreSQL: {exc}") from None
        try:
            with conn.cursor() as cursor:
                if not writes:
                    cursor.execute("SET TRANSACTION READ ONLY", binary=True)
                # binary=True: the extended protocol, which takes exactly one statement.
                cursor.execute(query, bound, binary=True)
                result = _rows(cursor, max_rows)
            if writes:
                conn.commit()
            else:
                conn.rollback()
        except psycopg.errors.ReadOnlySqlTransaction:
            raise SecurityViolation(_read_only(self.name)) from None
        except psycopg.ProgrammingError as exc:
            if "placeholder" in str(exc) or "parameters" in str(exc):
                raise ValidationError("params", str(exc), path="$.params", got=bound) from None
            raise ToolError(f"{self.name}: PostgreSQL refused the query: {exc}") from None
        except psycopg.Error as exc:
            raise ToolError(f"{self.name}: PostgreSQL refused the query: {exc}") from None
        finally:
            conn.close()
        return {"engine": "postgresql", **result}


def _read_only(tool: str) -> str:
    return (f"{tool}: argument 'query': the statement writes, and the database is opened "
            f"read-only by {WRITES_SETTING} = false (set it to true to allow writes)")


def _rows(cursor: Any, max_rows: int) -> dict[str, Any]:
    """``{columns, rows (dicts), row_count, truncated, rows_affected}`` of an executed cursor."""
    if cursor.description is None:  # a statement without a result set
        return {"columns": [], "rows": [], "row_count": 0, "truncated": False,
                "rows_affected": cursor.rowcount}
    columns = [c[0] for c in cursor.description]
    fetched = cursor.fetchmany(max_rows + 1)
    rows = [dict(zip(columns, (_plain(v) for v in row), strict=True))
            for row in fetched[:max_rows]]
    return {"columns": columns, "rows": rows, "row_count": len(rows),
            "truncated": len(fetched) > max_rows, "rows_affected": None}


def _plain(value: Any) -> Any:
    """A value as JSON can hold it: bytes as base64 text, decimals, dates and UUIDs as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID | datetime.timedelta):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


__all__ = ["DatabaseConnector"]
