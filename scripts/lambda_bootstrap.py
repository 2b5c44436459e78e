"""Runs Lambda handler invocations in this process, as the Lambda runtime would.

Two modes, both with the deployed code first on PYTHONPATH and the function's environment:
- once (scripts/run_deployed.py): python lambda_bootstrap.py HANDLER TIMEOUT RESULT_FILE < event.json
  writes {"result": ...} or {"error": ...} to RESULT_FILE.
- warm (scripts/warm_lambda.py): python lambda_bootstrap.py --serve HANDLER TIMEOUT REQUEST_FD RESPONSE_FD
  imports the handler once and answers one JSON line per event line, until REQUEST_FD ends, as a warm
  Lambda container does. The protocol has its own pipes, so whatever the handler prints on stdout
  or stderr (its logs) can never be read as an answer.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import uuid
from typing import Any


class Context:
    def __init__(self, function_name: str, timeout_seconds: float, memory_mb: int, arn: str) -> None:
        self.function_name = function_name
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = arn
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def new_context(timeout: float) -> Context:
    return Context(
        os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local"),
        timeout,
        int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")),
        os.environ.get("LAKE_INGEST_FUNCTION_ARN", ""),
    )


def outcome(handler_name: str, event: Any, timeout: float) -> dict[str, Any]:
    """One invocation: {"result", "module_file"} or {"error": {errorType, errorMessage}, "stackTrace"}."""
    module_name, function_name = handler_name.rsplit(".", 1)
    context = new_context(timeout)
    try:
        module = importlib.import_module(module_name)  # cached after the first call, as in a warm container
        return {"result": getattr(module, function_name)(event, context), "module_file": module.__file__}
    except Exception as exc:  # noqa: BLE001 - reported like Lambda's errorType/errorMessage
        return {
            "error": {"errorType": type(exc).__name__, "errorMessage": str(exc)},
            "stackTrace": traceback.format_exc().splitlines()[-5:],
        }


def serve(handler_name: str, timeout: float, request_fd: int, response_fd: int) -> None:
    """Answer events until the request pipe closes; flush the handler's output before each answer, so
    the caller reads an invocation's logs once its answer has come."""
    with os.fdopen(request_fd, "rb") as requests, os.fdopen(response_fd, "wb") as responses:
        for line in requests:
            answer = outcome(handler_name, json.loads(line), timeout)
            sys.stdout.flush()
            sys.stderr.flush()
            responses.write(json.dumps(answer, default=str).encode() + b"\n")
            responses.flush()


def main() -> None:
    if sys.argv[1] == "--serve":
        serve(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
        return
    handler_name, timeout, result_file = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    answer = outcome(handler_name, json.load(sys.stdin), timeout)
    with open(result_file, "w") as handle:
        json.dump(answer, handle, default=str)


if __name__ == "__main__":
    main()
