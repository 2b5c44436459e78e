"""Run one source's handler on a developer machine: `python -m lake_ingest try|run source.json`.

    try source.json [--credentials FILE]     no AWS account: a local AWS in this process (moto,
                                             a dev dependency), its own bucket, key and secret
    run --config source.json [--event JSON]  the usual AWS chain (--profile, --region,
                                             --endpoint-url) and the bucket and secret it names
    state show|set|reset --config source.json [--value V] [--force]
                                             an incremental cursor source's stored cursor
    backfill start|status|retry --config source.json [--from D --to D --step 1d | --id ID]
                                             a window source's history, on its backfill
                                             state machine (see backfill_cli.py)
    schema show|accept --config source.json  the records' fields runs compare with (schema_cli.py)
    query --config source.json --named complete|latest|runs | "SELECT ..."
                                             Athena's SQL on the source's records, run locally
                                             with DuckDB (a dev dependency, query_cli.py)

source.json holds what the module would put in the function's environment, checked against
source.schema.json (its api_config against API_CONFIG's schema and rules) before anything runs:
  {"source_id": "orders-api", "raw_bucket": "my-lake-raw", "raw_prefix": "orders-api",
   "secret_arn": "arn:...", "kms_key_arn": "arn:...", "raw_bucket_owner": "123456789012",
   "allow_http_loopback": false, "api_config": {"endpoint": "https://...", ...}}
`allow_http_loopback: true` (ALLOW_HTTP_LOOPBACK) lets an endpoint be plain http on a loopback
host: an API running on this machine, for local testing only.

stdout carries exactly one JSON document (the result, or {"error": {...}}), so it can be piped to
jq; logs, metrics and prompts go to stderr. Exit status: 0 SUCCESS, 2 PARTIAL_SUCCESS,
3 QUARANTINED, 1 failure (an invalid source file, or the run raised), 130 interrupted, 141 when
the reader of stdout closed it (`records ... | head`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from .backfill_cli import add_parser as add_backfill_parser
from .inspect_cli import HELP as INSPECT_HELP
from .inspect_cli import add_parsers as add_inspect_parsers
from .local import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    InputError,
    LocalContext,
    emit,
    error_document,
    exit_status,
    invoke_handler,
    read_event,
    read_source,
    source_environment,
)
from .local_lake import add_lake_options
from .query_cli import add_parser as add_query_parser
from .schema_cli import add_parser as add_schema_parser

# Re-exported: the tests and the benchmark build their contexts and environments from here.
__all__ = ["LocalContext", "main", "source_environment"]


def run_command(args: argparse.Namespace) -> int:
    """`run`: the source's real bucket and secret, through the usual AWS chain."""
    from .trial import summary  # the same closing line as try's (trial imports moto only to try)

    source = read_source(_source_file(args, "run"), "run")
    event = read_event(args.event)
    os.environ.update(source_environment(source))
    for flag, name in (
        (args.profile, "AWS_PROFILE"),
        (args.region, "AWS_DEFAULT_REGION"),
        (args.endpoint_url, "AWS_ENDPOINT_URL"),
    ):
        if flag:
            os.environ[name] = flag
    try:
        result = invoke_handler(event, f"local-{source['source_id']}", args.timeout)
    except Exception as error:  # noqa: BLE001 - reported, like Lambda's errorType/errorMessage
        emit(error_document(error))
        return EXIT_FAILED
    emit(result)
    print(f"run: {summary(result)}", file=sys.stderr)
    return exit_status(result)


def _source_file(args: argparse.Namespace, command: str) -> Path:
    """The source file, given either way: `try|run FILE` or `try|run --config FILE`."""
    given: list[Path] = [p for p in (args.source, args.config) if p is not None]
    if len(given) != 1:
        why = "give it once" if given else "give it"
        raise InputError(
            command, [f"the source file: {why}, as `{command} FILE` or `{command} --config FILE`"]
        )
    return given[0]


def try_command(args: argparse.Namespace) -> int:
    """`try`: the source against a local AWS started (and stopped) by this process."""
    from .trial import try_source  # moto, a dev dependency, only when trying

    source = read_source(_source_file(args, "try"), "try")
    event = read_event(args.event)
    return try_source(source, event, args.credentials, args.timeout, args.lake)


def _aws_command(module: str, function: str) -> Callable[[argparse.Namespace], int]:
    """A command that works on the source's lake with the usual AWS chain; its failures (access
    denied, StateLocked, no such state machine...) are reported like a failed run's."""

    def command(args: argparse.Namespace) -> int:
        run = getattr(importlib.import_module(f".{module}", __package__), function)  # only when used
        aws = {"profile": args.profile, "region": args.region, "endpoint_url": args.endpoint_url}
        try:
            result: int = run(args, aws)
            return result
        except InputError:
            raise
        except Exception as error:  # noqa: BLE001 - reported, like Lambda's errorType/errorMessage
            emit(error_document(error))
            return EXIT_FAILED

    return command


class _Parser(argparse.ArgumentParser):
    """argparse, except that a usage error exits 1: its usual 2 would read as PARTIAL_SUCCESS."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_FAILED, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m lake_ingest",
        description=(__doc__ or "").splitlines()[0],
        epilog="Exit status: 0 SUCCESS, 2 PARTIAL_SUCCESS, 3 QUARANTINED, 1 failure, 130 interrupted.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    trying = commands.add_parser(
        "try", help="try a source in one command, against a local AWS (no AWS account)"
    )
    trying.add_argument("source", type=Path, nargs="?", help="source JSON file (source.schema.json)")
    trying.add_argument("--config", type=Path, help="the same, as run, state, ... take it")
    trying.add_argument(
        "--credentials",
        type=Path,
        help='JSON file holding the secret\'s fields, e.g. {"api_key": "..."}; without it, '
        "each field the auth type reads is asked for (not echoed)",
    )
    trying.add_argument("--event", default="{}", help='event JSON, e.g. \'{"partition_date": "2026-01-31"}\'')
    trying.add_argument("--timeout", type=float, default=900, help="seconds the run may take")
    trying.add_argument(
        "--lake",
        type=Path,
        help="keep the local lake in this folder between tries (created if missing): a cursor source's "
        "next try reads the cursor this one stored; runs, records, cursor, query ... --lake DIR read it",
    )
    run = commands.add_parser("run", help="run the handler once for a source, against AWS")
    run.add_argument("source", type=Path, nargs="?", help="source JSON file (source.schema.json)")
    run.add_argument("--config", type=Path, help="the same, as an option (terraform output -raw source_json)")
    run.add_argument("--event", default="{}", help='event JSON, e.g. \'{"run_id": "try-1"}\'')
    run.add_argument("--timeout", type=float, default=900, help="seconds the run may take (Lambda's timeout)")
    run.add_argument("--profile", help="AWS profile")
    run.add_argument("--region", help="AWS region")
    run.add_argument("--endpoint-url", help="AWS endpoint, e.g. a local AWS on 127.0.0.1")
    state = commands.add_parser("state", help="show, set or reset an incremental cursor source's state")
    state.add_argument("action", choices=("show", "set", "reset"))
    state.add_argument("--config", required=True, type=Path, help="source JSON file (source.schema.json)")
    state.add_argument("--value", help="set: the cursor to store (e.g. 2026-01-01T00:00:00Z)")
    state.add_argument(
        "--force",
        action="store_true",
        help="even while a run holds the state's lease, or for a value no run would adopt (past future_skew)",
    )
    add_lake_options(state)
    add_backfill_parser(commands)
    add_schema_parser(commands)
    add_query_parser(commands)
    add_inspect_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    # A run stopped before it counted anything (Ctrl-C, an early error) has no metrics to flush: that
    # is no news to a person at a terminal (Powertools warns about it).
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    args = _parser().parse_args(argv)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "try": try_command,
        "run": run_command,
        # backfill: plan, start, watch and retry a window source's backfill on Step Functions;
        # state: show, set or reset a cursor source's state; schema: the records' fields;
        # query: the documented queries on the source's records, locally.
        "backfill": _aws_command("backfill_cli", "backfill_command"),
        "state": _aws_command("state_cli", "state_command"),
        "schema": _aws_command("schema_cli", "schema_command"),
        "query": _aws_command("query_cli", "query_command"),
        **{name: _aws_command("inspect_cli", "inspect_command") for name in INSPECT_HELP},
    }
    command = commands[args.command]
    try:
        return command(args)
    except InputError as error:
        print(f"{error.what}: {len(error.problems)} problem(s):", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        emit(error_document(error))
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted; everything this command started is stopped", file=sys.stderr)
        emit({"error": {"errorType": "KeyboardInterrupt", "errorMessage": "interrupted"}})
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _reader_went_away()


def _reader_went_away() -> int:
    """The reader of stdout closed it (`records ... | head`): stop quietly, as `cat` does, instead of a
    traceback; stdout goes to /dev/null so that the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
