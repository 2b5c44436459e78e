"""`python -m lake_ingest query --config source.json "SELECT ..."`: the documented queries, locally.

The source's records zone and published lists are read from its lake (a local AWS with
--endpoint-url, or AWS itself) into a temporary folder and queried with DuckDB, an embedded engine:
the SQL is Athena's (the documented queries are the same files the Athena workgroup's named queries
are made from) and sqlglot translates it. The tables are named as in the Glue catalog,
"<database>"."<table>" and "<database>"."<table>_published", with the same columns and the
`ingest_date` partition column as text. Like Athena, files whose names begin with `_` or `.` are not
read.

DuckDB and sqlglot are development dependencies (requirements-dev.txt): the Lambda package has
neither, and imports neither.

    query --config source.json --named complete|latest|runs [--where "r.ingest_date >= '2026-01-01'"]
    query --config source.json "SELECT count(*) FROM \"lake\".\"orders\""
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .local import InputError, emit, read_source
from .local_lake import Lake, add_lake_options, open_lake
from .query_sql import PUSH_PRIMARY_KEY, available, render, table_name, variables
from .records_zone import PUBLISHED_DIR, RECORDS_DIR

LINEAGE = {
    "run_id": "VARCHAR",
    "attempt": "INTEGER",
    "page": "INTEGER",
    "record_index": "INTEGER",
    "ingested_at": "TIMESTAMP",
    "record": "VARCHAR",
}
PUBLISHED = {
    "run_id": "VARCHAR",
    "attempt": "INTEGER",
    "page": "INTEGER",
    "records": "BIGINT",
    "object": "VARCHAR",
    "published_at": "TIMESTAMP",
}
CURSOR_TYPES = {"timestamp": "TIMESTAMP", "number": "DOUBLE", "string": "VARCHAR"}
# A push source's rows: the event's time as the cursor (`latest` keeps the newest), its id, when it came.
PUSH_COLUMNS = {"cursor_value": "TIMESTAMP", "event_id": "VARCHAR", "received_at": "TIMESTAMP"}
DUCKDB_TYPES = {
    "string": "VARCHAR",
    "int": "INTEGER",
    "integer": "INTEGER",
    "float": "FLOAT",
    "real": "FLOAT",
}


def duckdb_type(athena_type: str) -> str:
    kind = athena_type.strip().lower()
    return DUCKDB_TYPES.get(kind, kind.upper())


class LocalCatalog:
    """A source's two tables as DuckDB views over its records and published lists, copied locally."""

    def __init__(self, source: Mapping[str, Any], folder: Path) -> None:
        table = source.get("table") or {}
        self.source = source
        self.folder = folder
        self.database = str(table.get("database") or "lake")
        self.table = str(table.get("name") or table_name(source["source_id"]))
        self.push = source.get("push") is not None
        self.primary_key = list(table.get("primary_key") or (PUSH_PRIMARY_KEY if self.push else []))
        self.columns = dict(table.get("columns") or {})
        incremental = (source.get("api_config") or {}).get("incremental") or {}
        self.cursor_type = (
            incremental.get("cursor_type", "timestamp") if incremental.get("type") == "cursor" else None
        )
        self.prefix = source.get("raw_prefix") or source["source_id"]

    def download(self, lake: Lake) -> int:
        """Copy the records zone and the published lists under the source's prefix; the count."""
        copied = 0
        s3, bucket = lake.client, lake.target
        for zone in (RECORDS_DIR, PUBLISHED_DIR):
            pages = s3.get_paginator("list_objects_v2").paginate(**bucket, Prefix=f"{self.prefix}/{zone}/")
            for key in [o["Key"] for page in pages for o in page.get("Contents", [])]:
                if Path(key).name.startswith(("_", ".")):
                    continue  # Athena skips them too
                target = self.folder / key
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(**bucket, Key=key)["Body"].read())
                copied += 1
        return copied

    def connect(self) -> Any:
        import duckdb

        connection = duckdb.connect()
        connection.execute(f'CREATE SCHEMA "{self.database}"')
        record_columns = dict(LINEAGE)
        if self.cursor_type:
            record_columns["cursor_value"] = CURSOR_TYPES[self.cursor_type]
        if self.push:
            record_columns.update(PUSH_COLUMNS)
        record_columns.update({name: duckdb_type(kind) for name, kind in self.columns.items()})
        self._view(connection, self.table, RECORDS_DIR, record_columns)
        self._view(connection, f"{self.table}_published", PUBLISHED_DIR, PUBLISHED)
        return connection

    def _view(self, connection: Any, name: str, zone: str, columns: Mapping[str, str]) -> None:
        files = sorted(
            str(p)
            for p in (self.folder / self.prefix / zone).rglob("*")
            if p.is_file() and not p.name.startswith(("_", "."))
        )
        spec = ", ".join(f"\"{c}\": '{t}'" for c, t in columns.items())
        select = (
            ", ".join(f'NULL::{t} AS "{c}"' for c, t in columns.items()) + ", NULL::VARCHAR AS ingest_date"
        )
        if files:
            # Only ingest_date is a partition (Athena's projection); run_id=, attempt= are plain folders.
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)  # SQL string literals
            source = (
                f"read_json([{listed}], format='newline_delimited', columns={{{spec}}}, "
                "hive_partitioning=false, filename=true)"
            )
            partition = "regexp_extract(filename, '/ingest_date=([^/]*)/', 1) AS ingest_date"
            select = f"SELECT * EXCLUDE (filename), {partition} FROM {source}"  # noqa: S608 - our own files
        else:
            select = f"SELECT {select} WHERE false"
        connection.execute(f'CREATE VIEW "{self.database}"."{name}" AS {select}')

    def documented(self, name: str) -> str:
        if name not in available(self.primary_key):
            raise InputError(
                "--named", [f"{name}: this source has no such query (latest needs table.primary_key)"]
            )
        cursor = self.push or self.cursor_type is not None  # a push source is ordered by event time
        return render(name, variables(self.database, self.table, self.primary_key, cursor))


def translate(sql: str) -> str:
    """Athena's SQL as DuckDB runs it."""
    import sqlglot

    return ";\n".join(sqlglot.transpile(sql, read="athena", write="duckdb"))


def query_command(args: argparse.Namespace, aws: dict[str, str | None]) -> int:
    """Run one query; its rows on stdout (a table, or --json)."""
    try:
        import duckdb  # noqa: F401 - only to say what is missing
        import sqlglot  # noqa: F401
    except ImportError:
        raise InputError(
            "query",
            ["duckdb and sqlglot are development dependencies: use `make venv` (.venv) or pip install them"],
        ) from None
    source = read_source(args.config, "query")
    with tempfile.TemporaryDirectory(prefix="lake-ingest-query-") as folder:
        catalog = LocalCatalog(source, Path(folder))
        with open_lake(source, args) as lake:
            catalog.download(lake)
        sql = catalog.documented(args.named) if args.named else args.sql
        if not sql:
            raise InputError("query", ["give the SQL to run, or --named complete|latest|runs"])
        if args.where:
            # The user's own SQL, run on their own copy of the data: there is nothing to inject into.
            sql = f"SELECT * FROM ({sql}) AS q WHERE {args.where}"  # noqa: S608
        cursor = catalog.connect().execute(translate(sql))
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    if args.json:
        emit({"columns": names, "rows": json.loads(json.dumps(rows, default=str))})
    else:
        print_table(names, rows)
    return 0


def print_table(names: list[str], rows: list[dict[str, Any]], width: int = 40) -> None:
    """Rows as an aligned text table for people (long values cut), on stdout."""
    cells = [[_cell(row[n], width) for n in names] for row in rows]
    widths = [max([len(n), *(len(c[i]) for c in cells)]) for i, n in enumerate(names)]
    print("  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", file=sys.stderr)


def _cell(value: Any, width: int) -> str:
    text = "NULL" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def add_parser(commands: Any) -> None:
    query = commands.add_parser("query", help="run Athena SQL on a source's records, locally (DuckDB)")
    query.add_argument("sql", nargs="?", help='the query, in Athena\'s SQL (tables "<database>"."<table>")')
    query.add_argument(
        "--config", required=True, type=Path, help="source file: terraform output -raw source_json"
    )
    query.add_argument("--named", choices=("complete", "latest", "runs"), help="a documented query")
    query.add_argument("--where", help="a filter on the query's rows, e.g. \"ingest_date >= '2026-01-01'\"")
    query.add_argument("--json", action="store_true", help="rows as JSON on stdout")
    add_lake_options(query)
