"""`python -m lake_ingest schema show|accept --config source.json`: the records' fields, as runs compare them.

Every complete run keeps the top-level fields of its records in `<raw_prefix>/_state/schema.json`, and
the next run compares its own with them (schema_drift.py). `show` prints that document; `accept`
marks it so that the next run takes whatever fields it finds as the new normal: what an operator does
after a `quarantine` source stopped a run on a change that is expected, before running it again.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .local import emit, read_source
from .local_lake import add_lake_options, open_lake


def schema_command(args: argparse.Namespace, aws: dict[str, str | None]) -> int:
    """Show (or accept) the stored schema; prints {"schema": ..., "where": ...}."""
    from .publishing import schema_key
    from .schema_drift import state_document
    from .sink import S3Sink

    source = read_source(args.config, "schema")
    with open_lake(source, args, writes=args.action == "accept") as lake:
        sink = S3Sink(lake.client, lake.bucket, lake.kms_key_arn, expected_owner=lake.expected_owner)
        key = schema_key(lake.prefix)
        where = f"s3://{lake.bucket}/{key}" if not getattr(args, "lake", None) else f"{args.lake}/{key}"
        stored: Any = sink.get_json(key)
        if args.action == "accept":
            fields = stored.get("fields", {}) if isinstance(stored, dict) else {}
            run_id = stored.get("run_id", "") if isinstance(stored, dict) else ""
            sink.put_bytes(key, state_document(fields, run_id, accept_next=True), "application/json")
            stored = json.loads(state_document(fields, run_id, accept_next=True))
    emit({"schema": stored, "where": where})
    return 0


def add_parser(commands: Any) -> None:
    schema = commands.add_parser(
        "schema", help="show the records' fields runs compare with, or accept a change (quarantine sources)"
    )
    schema.add_argument(
        "action", choices=("show", "accept"), help="accept: the next run's fields become the new normal"
    )
    schema.add_argument(
        "--config", required=True, type=Path, help="source JSON file (terraform output -raw source_json)"
    )
    add_lake_options(schema)
