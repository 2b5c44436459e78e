"""Looking at what landed: `runs`, `manifest`, `records`, `cursor` and `alarms` of one source.

    runs     --config source.json [--limit 20]           the last runs, newest first
    manifest --config source.json --run-id R [--date D]  one run's manifest (JSON)
    records  --config source.json --run-id R [--date D]  one run's records as NDJSON on stdout
    cursor   --config source.json                        a cursor source's stored cursor and its history
    alarms   --config source.json                        the source's CloudWatch alarms and their state

Each reads the source's lake through the usual AWS chain (--profile, --region, --endpoint-url), or a
local lake (--lake DIR, as `try --lake DIR` keeps it). Tables for people, `--json` for scripts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from .local import InputError, emit, read_source
from .local_lake import Lake, add_lake_options, open_lake
from .query_cli import print_table
from .s3_reads import read_object

MANIFEST = "_manifest.json"
FAILURE = "_failure.json"


class RunIndex:
    """A source's runs as its raw zone keeps them: `<prefix>/ingest_date=<D>/run_id=<R>/`."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def _folders(self, prefix: str) -> list[str]:
        """The "folders" right below `prefix` (S3 common prefixes), in key order."""
        pages = self.lake.client.get_paginator("list_objects_v2").paginate(
            **self.lake.target, Prefix=prefix, Delimiter="/"
        )
        return [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]

    def dates(self) -> list[str]:
        """The ingest dates that have runs, newest first."""
        start = f"{self.lake.prefix}/ingest_date="
        return sorted((f[len(start) : -1] for f in self._folders(start)), reverse=True)

    def run_ids(self, date: str) -> list[str]:
        start = f"{self.lake.prefix}/ingest_date={date}/run_id="
        return [f[len(start) : -1] for f in self._folders(start)]

    def find(self, run_id: str, date: str | None) -> str:
        """The ingest date of `run_id` (the newest, if the id ran on several dates)."""
        for day in [date] if date else self.dates():
            if run_id in self.run_ids(day):
                return day
        where = f" on {date}" if date else ""
        raise InputError("--run-id", [f"no run {run_id!r}{where} in {self.lake.where} (see `runs`)"])

    def document(self, date: str, run_id: str, name: str) -> dict[str, Any] | None:
        """The run's manifest or failure record; None when there is none."""
        key = f"{self.lake.prefix}/ingest_date={date}/run_id={run_id}/{name}"
        try:
            body, _ = read_object(self.lake.client, self.lake.target, key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        found: dict[str, Any] = json.loads(body)
        return found

    def runs(self, limit: int) -> Iterator[dict[str, Any]]:
        """One summary per run, newest ingest date first (by start time within a date)."""
        shown = 0
        for date in self.dates():
            rows = [self.summary(date, run_id) for run_id in self.run_ids(date)]
            for row in sorted(rows, key=lambda r: r.get("started_at") or "", reverse=True):
                if shown == limit:
                    return
                shown += 1
                yield row

    def summary(self, date: str, run_id: str) -> dict[str, Any]:
        manifest = self.document(date, run_id, MANIFEST)
        if manifest is None:
            failure = self.document(date, run_id, FAILURE) or {}
            status = "FAILED" if failure else "NO MANIFEST"  # still running, or it crashed
            return {
                "ingest_date": date,
                "run_id": run_id,
                "status": status,
                "started_at": failure.get("failed_at"),
                "error": failure.get("error"),
            }
        return {
            "ingest_date": date,
            "run_id": run_id,
            "status": manifest["status"],
            "stop_reason": manifest.get("stop_reason"),
            "pages": len(manifest.get("pages", [])),
            "quarantined": len(manifest.get("quarantined", [])),
            "records": manifest.get("records_ingested"),
            "bytes": manifest.get("bytes"),
            "duration_s": round(manifest["duration_ms"] / 1000, 1) if manifest.get("duration_ms") else None,
            "started_at": manifest.get("started_at"),
        }


def runs_command(args: argparse.Namespace, source: Mapping[str, Any], lake: Lake) -> int:
    rows = list(RunIndex(lake).runs(args.limit))
    if args.json:
        emit({"runs": rows, "where": lake.where})
        return 0
    if not rows:
        print(f"no runs in {lake.where} yet", file=sys.stderr)
        return 0
    columns = ["ingest_date", "run_id", "status", "pages", "records", "bytes", "duration_s", "started_at"]
    print_table(columns, [{c: r.get(c, "") for c in columns} for r in rows])
    return 0


def manifest_command(args: argparse.Namespace, source: Mapping[str, Any], lake: Lake) -> int:
    index = RunIndex(lake)
    date = index.find(args.run_id, args.date)
    manifest = index.document(date, args.run_id, MANIFEST)
    if manifest is None:
        failure = index.document(date, args.run_id, FAILURE)
        raise InputError(
            "--run-id",
            [f"run {args.run_id!r} on {date} has no manifest: it is still running, or it failed"]
            + ([f"its failure: {failure.get('error_type')}: {failure.get('error')}"] if failure else []),
        )
    emit(manifest)
    return 0


def record_texts(lake: Lake, source: Mapping[str, Any], manifest: Mapping[str, Any]) -> Iterator[str]:
    """Every record of a run's data pages, as its exact text: from the records zone when the page has a
    records object, else read out of the raw page by the scanner that counted it."""
    import gzip

    for page in sorted(manifest.get("pages", []), key=lambda p: p["index"]):
        stored = page.get("records_object")
        if stored:
            body = gzip.decompress(lake.client.get_object(**lake.target, Key=stored["key"])["Body"].read())
            for line in body.decode().splitlines():
                yield json.loads(line)["record"]
        else:
            yield from _raw_page_records(lake, source, page)


def _raw_page_records(lake: Lake, source: Mapping[str, Any], page: Mapping[str, Any]) -> Iterator[str]:
    import gzip

    from .config import parse_api_config
    from .jsonscan import Collected
    from .local import source_environment
    from .records import scanner_for

    env = source_environment(source)
    api = parse_api_config(env["API_CONFIG"], env)
    collected = Collected(keep_elements=False)
    scanner = scanner_for(page.get("content_type", ""), api, collected, False)
    scanner.feed(gzip.decompress(lake.client.get_object(**lake.target, Key=page["key"])["Body"].read()))
    scanner.close()
    for text in collected.texts:
        if text is not None:
            yield text


def records_command(args: argparse.Namespace, source: Mapping[str, Any], lake: Lake) -> int:
    index = RunIndex(lake)
    date = index.find(args.run_id, args.date)
    manifest = index.document(date, args.run_id, MANIFEST)
    if manifest is None:
        raise InputError(
            "--run-id", [f"run {args.run_id!r} on {date} has no manifest: no records to read yet"]
        )
    count = 0
    for text in record_texts(lake, source, manifest):
        # One line each: a line break in a record's text is white space between its tokens (JSON
        # strings cannot hold one unescaped), so it becomes a space.
        sys.stdout.write(text.replace("\r", " ").replace("\n", " ") + "\n")
        count += 1
    sys.stdout.flush()
    state = "complete" if manifest.get("complete") else f"{manifest['status']}: not complete"
    print(f"{count} record(s) of run {args.run_id} on {date} ({state})", file=sys.stderr)
    return 0


def cursor_command(args: argparse.Namespace, source: Mapping[str, Any], lake: Lake) -> int:
    from .state import StateStore, state_key

    incremental = (source.get("api_config") or {}).get("incremental") or {}
    if incremental.get("type") != "cursor":
        raise InputError(str(args.config), ["api_config.incremental: only a cursor source keeps a cursor"])
    store = StateStore(lake.client, lake.bucket, state_key(lake.prefix), source.get("source_id", ""))
    doc = store.show()
    state = json.loads(json.dumps(doc.to_json(), default=str)) if doc else None
    if args.json:
        emit({"state": state, "where": store.where})
        return 0
    if state is None:
        print(f"no cursor stored yet: the next run starts from initial_value ({store.where})")
        return 0
    lease = state.get("lease")
    print(
        f"cursor      {state['cursor']}  (updated {state.get('updated_at')} by {state.get('updated_by_run')})"
    )
    print(
        f"lease       {'held by ' + lease['run_id'] + ' until ' + lease['expires_at'] if lease else 'free'}"
    )
    print(f"empty runs  {state.get('empty_runs', 0)} in a row")
    history = state.get("history") or []
    if history:
        columns = ["at", "run_id", "from", "to", "note"]
        print()
        print_table(columns, [{c: h.get(c) for c in columns} for h in history])
    return 0


def alarms_command(args: argparse.Namespace, source: Mapping[str, Any]) -> int:
    import boto3

    from . import aws_clients

    names = list(source.get("alarm_names") or [])
    if getattr(args, "lake", None) is not None or not names:
        why = "a local lake has no alarms" if args.lake else "the source file names no alarms (alarm_names)"
        raise InputError("alarms", [f"{why}: alarms live in CloudWatch, for a deployed source"])
    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    cloudwatch = aws_clients.client("cloudwatch", session, args.endpoint_url)
    found = []
    for start in range(0, len(names), 100):  # DescribeAlarms takes at most 100 names
        answer = cloudwatch.describe_alarms(AlarmNames=names[start : start + 100])
        found += answer.get("MetricAlarms", []) + answer.get("CompositeAlarms", [])
    rows = [
        {
            "alarm": a["AlarmName"],
            "state": a["StateValue"],
            "since": str(a.get("StateUpdatedTimestamp", "")),
            "reason": a.get("StateReason", ""),
        }
        for a in sorted(found, key=lambda a: (a["StateValue"] != "ALARM", a["AlarmName"]))
    ]
    missing = sorted(set(names) - {r["alarm"] for r in rows})
    if args.json:
        emit({"alarms": rows, "missing": missing})
        return 0
    print_table(["alarm", "state", "since", "reason"], rows, width=60)
    if missing:
        print(f"not found in CloudWatch: {', '.join(missing)}", file=sys.stderr)
    return 0


LAKE_COMMANDS = {
    "runs": (runs_command, "the source's last runs: status, pages, records, bytes, duration"),
    "manifest": (manifest_command, "one run's manifest (JSON)"),
    "records": (records_command, "one run's records as NDJSON on stdout (ready for jq)"),
    "cursor": (cursor_command, "a cursor source's stored cursor, its lease and history"),
}
HELP = {
    **{name: text for name, (_, text) in LAKE_COMMANDS.items()},
    "alarms": "the source's alarms and their state",
}


def inspect_command(args: argparse.Namespace, aws: dict[str, str | None]) -> int:
    source = read_source(args.config, args.command)
    if args.command == "alarms":
        return alarms_command(args, source)  # CloudWatch, not the lake
    run, _ = LAKE_COMMANDS[args.command]
    with open_lake(source, args) as lake:
        return run(args, source, lake)


def add_parsers(commands: Any) -> None:
    for name, text in HELP.items():
        parser = commands.add_parser(name, help=text, description=text)
        parser.add_argument(
            "--config", required=True, type=Path, help="source file: terraform output -raw source_json"
        )
        if name in ("manifest", "records"):
            parser.add_argument("--run-id", required=True, help="the run (see `runs`)")
            parser.add_argument("--date", help="its ingest date, yyyy-mm-dd (found when left out)")
        if name == "runs":
            parser.add_argument("--limit", type=int, default=20, help="how many runs, newest first (20)")
        if name == "manifest":  # always JSON: the flag is accepted so scripts can pass it to every command
            parser.add_argument("--json", action="store_true", help="accepted; a manifest is always JSON")
        elif name != "records":
            parser.add_argument("--json", action="store_true", help="JSON on stdout, for scripts")
        add_lake_options(parser)
