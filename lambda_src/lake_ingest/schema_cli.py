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

from .local import InputError, emit, read_source


def schema_command(args: argparse.Namespace, aws: dict[str, str | None]) -> int:
    """Show (or accept) the stored schema; prints {"schema": ..., "where": ...}."""
    import boto3

    from . import aws_clients
    from .publishing import schema_key
    from .schema_drift import state_document
    from .sink import S3Sink

    source = read_source(args.config, "schema")
    if "raw_bucket" not in source:
        raise InputError(
            str(args.config), ["raw_bucket: is required for schema: the schema lives in the lake"]
        )
    session = boto3.session.Session(profile_name=aws["profile"], region_name=aws["region"])
    client = aws_clients.client("s3", session, aws["endpoint_url"])
    sink = S3Sink(
        client, source["raw_bucket"], source.get("kms_key_arn"), expected_owner=source.get("raw_bucket_owner")
    )
    key = schema_key(source.get("raw_prefix") or source["source_id"])
    where = f"s3://{source['raw_bucket']}/{key}"
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
    for flag, text in (
        ("--profile", "AWS profile"),
        ("--region", "AWS region"),
        ("--endpoint-url", "AWS endpoint"),
    ):
        schema.add_argument(flag, help=text)
