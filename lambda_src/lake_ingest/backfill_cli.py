"""`python -m lake_ingest backfill start|status|retry --config source.json`: load a window source's history.

    start  --from 2021-01-01 --to 2026-01-01 [--step 1d] [--id ID] [--max-concurrency N] [--no-wait]
           plans the windows, writes the item list to <prefix>/_backfill/<id>/, starts the source's
           backfill state machine and shows its progress until it ends
    status --id ID      every window: done (its manifest is complete), failed (with why) or pending
    retry  --id ID      a new execution over the windows that are not done

stdout carries one JSON document (the backfill's status, or {"error": ...}); progress goes to stderr.
Exit status: 0 every window done, 2 still running (--no-wait, or status while it runs), 1 some windows
failed, or the command could not run. Interrupting the watch (Ctrl-C) leaves the execution running.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .local import EXIT_FAILED, InputError, emit, read_source

EXIT_DONE, EXIT_RUNNING = 0, 2


def backfill_command(args: argparse.Namespace, aws: dict[str, str | None]) -> int:
    """Run one backfill action; returns the exit status."""
    import boto3

    from . import aws_clients
    from .backfill import (
        BackfillError,
        Backfills,
        BackfillTarget,
        check_backfill_id,
        check_range,
        parse_bound,
        plan_windows,
    )
    from .incremental import IncrementalError, parse_duration

    source = read_source(args.config, "backfill")
    session = boto3.session.Session(profile_name=aws["profile"], region_name=aws["region"])
    try:
        target = BackfillTarget.from_source(source)
        backfills = Backfills(
            target,
            aws_clients.client("s3", session, aws["endpoint_url"]),
            aws_clients.client("stepfunctions", session, aws["endpoint_url"]),
        )
        if args.action == "status":
            return _report(backfills, check_backfill_id(_required(args.id, "--id")))
        if args.action == "retry":
            backfill_id = check_backfill_id(_required(args.id, "--id"))
            started = backfills.retry(backfill_id, args.max_concurrency)
            if started is None:
                print(f"backfill {backfill_id}: every window is done; nothing to retry", file=sys.stderr)
                return _report(backfills, backfill_id)
        else:
            start = parse_bound(_required(args.from_, "--from"), target.timezone, "--from")
            end = parse_bound(_required(args.to, "--to"), target.timezone, "--to")
            check_range(start, end)
            step = parse_duration(args.step, "step") if args.step else target.window
            if step is None:
                raise BackfillError("--step: is required: the source's incremental.window is not set")
            windows = plan_windows(start, end, step, target.timezone)
            backfill_id = check_backfill_id(args.id or datetime.now(UTC).strftime("bf%Y%m%dt%H%M%S"))
            plan = {
                "from": windows[0].as_dict()["window_start"],
                "to": windows[-1].as_dict()["window_end"],
                "step": str(step),
                "timezone": target.timezone,
                "windows": len(windows),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            started = backfills.start(backfill_id, windows, plan, args.max_concurrency)
    except (BackfillError, IncrementalError) as error:
        raise InputError("backfill", [str(error).removeprefix("invalid configuration: ")]) from None
    print(
        f"backfill {backfill_id}: started {started['execution']} over {started['windows']} window(s), "
        f"at most {started['max_concurrency']} at a time ({started['items']})",
        file=sys.stderr,
    )
    if args.no_wait:
        emit({**started, "status": "RUNNING"})
        return EXIT_RUNNING
    _watch(backfills, started["execution_arn"], args.poll_seconds)
    return _report(backfills, backfill_id)


def _required(value: str | None, flag: str) -> str:
    if not value:
        raise InputError("backfill", [f"{flag}: is required"])
    return value


def _watch(backfills: Any, execution_arn: str, poll_seconds: float) -> None:
    """Print the execution's progress until it ends (Ctrl-C stops watching, not the execution)."""
    last = None
    while True:
        progress = backfills.progress(execution_arn)
        items = progress["items"]
        line = (
            f"  {progress['status']}: {items.get('succeeded', 0)}/{items.get('total', '?')} windows "
            f"succeeded, {items.get('failed', 0)} failed, {items.get('running', 0)} running"
        )
        if line != last:
            print(line, file=sys.stderr, flush=True)
            last = line
        if progress["status"] != "RUNNING":
            return
        time.sleep(poll_seconds)


def _report(backfills: Any, backfill_id: str) -> int:
    status = backfills.status(backfill_id)
    document = status.as_dict()
    emit(document)
    counts = document["windows"]
    print(
        f"backfill {backfill_id}: {counts['done']} done, {counts['failed']} failed, "
        f"{counts['pending']} pending of {counts['total']} window(s); "
        f"{document['records_ingested']} records",
        file=sys.stderr,
    )
    for window in document["failed"][:10]:
        print(f"  failed {window['start']} .. {window['end']}: {window['reason']}", file=sys.stderr)
    if counts["pending"]:
        return EXIT_RUNNING
    return EXIT_DONE if counts["done"] == counts["total"] else EXIT_FAILED


def add_parser(commands: Any) -> None:
    """The `backfill` subcommand's arguments."""
    backfill = commands.add_parser("backfill", help="load a window source's history on Step Functions")
    backfill.add_argument("action", choices=("start", "status", "retry"))
    backfill.add_argument(
        "--config", required=True, type=Path, help="source file: terraform output -raw source_json"
    )
    backfill.add_argument(
        "--from", dest="from_", help="start: first instant (a date is midnight in the source's zone)"
    )
    backfill.add_argument("--to", help="start: end of the range (exclusive)")
    backfill.add_argument("--step", help="start: window length, e.g. 1d or 6h (default: incremental.window)")
    backfill.add_argument("--id", help="the backfill's id (start: default bf<UTC time>)")
    backfill.add_argument(
        "--max-concurrency", type=int, help="windows at a time (at most the module's limit)"
    )
    backfill.add_argument("--no-wait", action="store_true", help="start: return once the execution started")
    backfill.add_argument("--poll-seconds", type=float, default=5.0, help=argparse.SUPPRESS)
    for flag, text in (
        ("--profile", "AWS profile"),
        ("--region", "AWS region"),
        ("--endpoint-url", "AWS endpoint"),
    ):
        backfill.add_argument(flag, help=text)
