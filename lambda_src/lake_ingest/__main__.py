"""Run one source's handler on a developer machine: `python -m lake_ingest run --config source.json`.

source.json holds what the module would put in the function's environment:
  {"source_id": "orders-api", "raw_bucket": "my-lake-raw", "raw_prefix": "orders-api",
   "secret_arn": "arn:...", "kms_key_arn": "arn:...", "raw_bucket_owner": "123456789012",
   "allow_http_loopback": false, "api_config": {"endpoint": "https://...", ...}}
`allow_http_loopback: true` (ALLOW_HTTP_LOOPBACK) lets an endpoint be plain http on a loopback
host: an API running on this machine, for local testing only.
AWS access comes from the usual chain (--profile, --region, --endpoint-url for a local AWS).
Prints the run's result as JSON; exits 1 with the error when the run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ENVIRONMENT = {
    "source_id": "SOURCE_ID",
    "raw_bucket": "RAW_BUCKET",
    "raw_prefix": "RAW_PREFIX",
    "secret_arn": "SECRET_ARN",
    "kms_key_arn": "KMS_KEY_ARN",
    "raw_bucket_owner": "RAW_BUCKET_OWNER",
}
FLAGS = {"allow_http_loopback": "ALLOW_HTTP_LOOPBACK"}


class LocalContext:
    """The parts of Lambda's context object the handler uses."""

    def __init__(
        self,
        function_name: str,
        timeout_seconds: float,
        aws_request_id: str | None = None,
        memory_limit_in_mb: int = 0,
        invoked_function_arn: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.memory_limit_in_mb = memory_limit_in_mb
        self.invoked_function_arn = invoked_function_arn or f"local:{function_name}"
        self.aws_request_id = aws_request_id or str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def source_environment(source: dict[str, Any]) -> dict[str, str]:
    """The function environment the module would set for this source file."""
    unknown = set(source) - set(ENVIRONMENT) - set(FLAGS) - {"api_config"}
    if unknown:
        raise SystemExit(f"source file: unknown key {sorted(unknown)[0]!r}")
    if not isinstance(source.get("api_config"), dict):
        raise SystemExit("source file: api_config must be an object")
    env = {name: str(source[key]) for key, name in ENVIRONMENT.items() if source.get(key)}
    for key, name in FLAGS.items():
        if key in source:
            if not isinstance(source[key], bool):
                raise SystemExit(f"source file: {key} must be true or false")
            env[name] = "true" if source[key] else "false"
    env["API_CONFIG"] = json.dumps(source["api_config"])
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lake_ingest", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the handler once for a source")
    run.add_argument("--config", required=True, type=Path, help="source JSON file")
    run.add_argument("--event", default="{}", help='event JSON, e.g. \'{"run_id": "try-1"}\'')
    run.add_argument("--timeout", type=float, default=900, help="seconds the run may take (Lambda's timeout)")
    run.add_argument("--profile", help="AWS profile")
    run.add_argument("--region", help="AWS region")
    run.add_argument("--endpoint-url", help="AWS endpoint, e.g. a local AWS on 127.0.0.1")
    args = parser.parse_args(argv)

    try:
        source = json.loads(args.config.read_text())
        event = json.loads(args.event)
    except (OSError, json.JSONDecodeError) as error:
        raise SystemExit(f"cannot read input: {error}") from None
    os.environ.update(source_environment(source))
    for flag, name in (
        (args.profile, "AWS_PROFILE"),
        (args.region, "AWS_DEFAULT_REGION"),
        (args.endpoint_url, "AWS_ENDPOINT_URL"),
    ):
        if flag:
            os.environ[name] = flag

    from .handler import lambda_handler  # after the environment is set

    try:
        result = lambda_handler(
            event, LocalContext(f"local-{source.get('source_id', 'source')}", args.timeout)
        )
    except Exception as error:  # noqa: BLE001 - reported, like Lambda's errorType/errorMessage
        print(
            json.dumps({"error": {"errorType": type(error).__name__, "errorMessage": str(error)}}, indent=2)
        )
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
