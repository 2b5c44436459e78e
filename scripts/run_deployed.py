"""Run the function that is deployed on the local AWS, with its own code, handler, environment, timeout.

moto cannot execute Lambda functions without Docker (gap 4 in scripts/local_aws.py), so this does
what the Lambda service would: download the deployed zip from GetFunction's Code.Location, unpack
it, and invoke the configured handler in a fresh Python process whose environment is the
function's, plus the local AWS endpoint. Only the standard library and boto3 (which the Lambda
runtime provides too) are available to the code besides what the zip carries.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.harness import local_client

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")


@dataclass
class Invocation:
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    module_file: str | None
    logs: str
    code_sha256: str
    handler: str
    timeout: int


def deployed_code(function_name: str, endpoint: str, region: str) -> tuple[dict[str, Any], bytes]:
    """The function's configuration and its deployed zip, as the local AWS holds them."""
    response = local_client("lambda", endpoint, region).get_function(FunctionName=function_name)
    location = response["Code"]["Location"]
    if not location.startswith(("http://127.", "http://localhost")):
        raise SystemExit(f"refusing to download code from a non-loopback location: {location}")
    with urllib.request.urlopen(location, timeout=30) as download:
        return response["Configuration"], download.read()


def invoke(function_name: str, endpoint: str, event: dict[str, Any], region: str = "us-east-1") -> Invocation:
    """Run the deployed function once, from its configuration and zip as the local AWS holds them."""
    configuration, code = deployed_code(function_name, endpoint, region)
    return run_zip(
        code,
        Runtime(
            handler=configuration["Handler"],
            timeout=int(configuration["Timeout"]),
            function_name=configuration["FunctionName"],
            function_arn=configuration["FunctionArn"],
            memory_size=int(configuration["MemorySize"]),
            environment=configuration.get("Environment", {}).get("Variables", {}),
            code_sha256=configuration["CodeSha256"],
        ),
        event,
        endpoint,
        region,
    )


@dataclass(frozen=True)
class Runtime:
    """What the Lambda service knows about a function when it runs it."""

    handler: str
    timeout: int
    function_name: str
    function_arn: str
    memory_size: int
    environment: dict[str, str]
    code_sha256: str = ""


def runtime_environment(runtime: Runtime, task_root: Path, endpoint: str, region: str) -> dict[str, str]:
    """The environment a function's process gets: the function's own, plus what Lambda sets and the
    local AWS endpoint (its dummy credentials), and nothing else of this machine's but PATH."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(task_root),
        "PYTHONNOUSERSITE": "1",
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": runtime.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(runtime.memory_size),
        "LAKE_INGEST_FUNCTION_ARN": runtime.function_arn,
        **runtime.environment,
    }


def run_zip(code: bytes, runtime: Runtime, event: Any, endpoint: str, region: str) -> Invocation:
    """Unpack `code` and invoke its handler in a fresh process, with the function's environment."""
    with tempfile.TemporaryDirectory(prefix="lake-ingest-run-") as workdir:
        task_root = Path(workdir, "task")
        zipfile.ZipFile(io.BytesIO(code)).extractall(task_root)
        result_file = Path(workdir, "result.json")
        env = runtime_environment(runtime, task_root, endpoint, region)
        process = subprocess.run(
            [sys.executable, str(BOOTSTRAP), runtime.handler, str(runtime.timeout), str(result_file)],
            input=json.dumps(event),
            capture_output=True,
            text=True,
            env=env,
            timeout=runtime.timeout + 5,
            cwd=task_root,
            check=False,
        )
        outcome = (
            json.loads(result_file.read_text())
            if result_file.exists()
            else {"error": {"errorType": "Runtime.ExitError", "errorMessage": process.stderr[-2000:]}}
        )
    return Invocation(
        result=outcome.get("result"),
        error=outcome.get("error"),
        module_file=outcome.get("module_file"),
        logs=process.stdout + process.stderr,
        code_sha256=runtime.code_sha256,
        handler=runtime.handler,
        timeout=runtime.timeout,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--function-name", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--event", default="{}", help="event JSON")
    args = parser.parse_args()
    invocation = invoke(args.function_name, args.endpoint, json.loads(args.event))
    print(invocation.logs, end="")
    print(json.dumps({"result": invocation.result, "error": invocation.error}, indent=2))
    sys.exit(1 if invocation.error else 0)


if __name__ == "__main__":
    main()
