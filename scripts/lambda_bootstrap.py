"""Runs one Lambda handler invocation in this process, as the Lambda runtime would.

Usage (done by scripts/run_deployed.py): python lambda_bootstrap.py HANDLER TIMEOUT RESULT_FILE < event.json
The deployed code must be first on PYTHONPATH. Writes {"result": ...} or {"error": ...} to RESULT_FILE.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
import uuid


class Context:
    def __init__(self, function_name: str, timeout_seconds: float, memory_mb: int, arn: str) -> None:
        self.function_name = function_name
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = arn
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> None:
    handler_name, timeout, result_file = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    import os

    module_name, function_name = handler_name.rsplit(".", 1)
    event = json.load(sys.stdin)
    context = Context(
        os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local"),
        timeout,
        int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")),
        os.environ.get("LAKE_INGEST_FUNCTION_ARN", ""),
    )
    try:
        module = importlib.import_module(module_name)
        outcome = {"result": getattr(module, function_name)(event, context), "module_file": module.__file__}
    except Exception as exc:  # noqa: BLE001 - reported like Lambda's errorType/errorMessage
        outcome = {
            "error": {"errorType": type(exc).__name__, "errorMessage": str(exc)},
            "stackTrace": traceback.format_exc().splitlines()[-5:],
        }
    with open(result_file, "w") as handle:
        json.dump(outcome, handle, default=str)


if __name__ == "__main__":
    main()
