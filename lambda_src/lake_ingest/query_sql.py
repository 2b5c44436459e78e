"""The documented queries of a source, rendered from the one copy of each (queries/*.sql).

Terraform renders the same files with templatefile() into the Athena workgroup's named queries; this
renders them for the local query command. Both fill the same `${...}` placeholders the same way (a test
compares the two), so a query tried locally is the query Athena runs.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

QUERIES_DIR = Path(__file__).resolve().parent / "queries"
NAMES = ("complete", "latest", "runs")
_TABLE_NAME = re.compile(r"[^a-z0-9_]")
# A push source without a declared primary key: one row per event id (a sender's retry lands twice).
PUSH_PRIMARY_KEY = ("event_id",)


def table_name(source_id: str) -> str:
    """A source's Glue table name: its id with '-' as '_' (Glue names are lowercase a-z, 0-9, _)."""
    return _TABLE_NAME.sub("_", source_id.lower().replace("-", "_"))


def order_columns(cursor: bool) -> str:
    """Newest first: by the cursor (cursor sources; a push source's is the event time), then when it was
    ingested, then its place."""
    newest = "r.ingested_at DESC, r.page DESC, r.record_index DESC"
    return f"r.cursor_value DESC NULLS LAST, {newest}" if cursor else newest


def variables(
    database: str, table: str, primary_key: tuple[str, ...] | list[str], cursor: bool
) -> dict[str, str]:
    return {
        "database": database,
        "table": table,
        "published": f"{table}_published",
        "key_columns": ", ".join(f'r."{column}"' for column in primary_key),
        "order_columns": order_columns(cursor),
    }


def available(primary_key: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The documented queries a source has: `latest` needs a primary key."""
    return tuple(n for n in NAMES if n != "latest" or primary_key)


def render(name: str, values: Mapping[str, Any]) -> str:
    """One documented query with the source's names filled in."""
    if name not in NAMES:
        raise ValueError(f"{name!r} is not a documented query: use one of {', '.join(NAMES)}")
    text = (QUERIES_DIR / f"{name}.sql").read_text()
    return string.Template(text).substitute(values)
