"""The local runner's parts that `run` and `try` share (python -m lake_ingest; see __main__.py).

A source file is checked the way the module checks its inputs before anything runs, and the handler
is called as Lambda calls it, with everything it prints moved to stderr: stdout carries exactly one
JSON document, the result or {"error": {...}}, so that the output can be piped (jq).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import config, schema

ENVIRONMENT = {
    "source_id": "SOURCE_ID",
    "raw_bucket": "RAW_BUCKET",
    "raw_prefix": "RAW_PREFIX",
    "secret_arn": "SECRET_ARN",
    "kms_key_arn": "KMS_KEY_ARN",
    "raw_bucket_owner": "RAW_BUCKET_OWNER",
}
FLAGS = {"allow_http_loopback": "ALLOW_HTTP_LOOPBACK"}
SOURCE_SCHEMA = "source.schema.json"
SOURCE_ROOT = "source.json"  # the root of a problem's path (whatever the file is called)
EXIT_STATUS = {"SUCCESS": 0, "PARTIAL_SUCCESS": 2, "QUARANTINED": 3}
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # as a process killed by SIGPIPE: the reader of stdout closed it


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


class InputError(Exception):
    """The command's input cannot be used; `problems` are `field: what to change` lines."""

    def __init__(self, what: str, problems: list[str]) -> None:
        super().__init__(f"{what}: {'; '.join(problems)}")
        self.what = what
        self.problems = problems


def _field(path: str) -> str:
    """A problem's path as the user wrote it in source.json (API_CONFIG is its api_config)."""
    if path.startswith("API_CONFIG"):
        path = "api_config" + path.removeprefix("API_CONFIG")
    return path.removeprefix(SOURCE_ROOT + ".")


def source_problems(source: Any, command: str) -> list[str]:
    """Everything wrong with a source file, as `field: what to change` lines.

    The file's schema (source.schema.json, whose api_config is API_CONFIG's schema) first, then
    API_CONFIG's rules across fields, in the environment the file asks for (allow_http_loopback),
    so the local runner refuses exactly what the module and the handler would. `run` also needs
    what `try` makes itself: a source id, the bucket and, with auth, the secret.
    """
    found = schema.problems(source, schema.load(SOURCE_SCHEMA), SOURCE_ROOT)
    if not found and isinstance(source, dict):
        found = _kind_problems(source, command)
    if not found and isinstance(source, dict) and source.get("api_config") is not None:
        found = config.problems(source["api_config"], source_environment(source))
    lines = [f"{_field(p.path)}: {p.message}" for p in found]
    if command == "run" and isinstance(source, dict) and source.get("push") is None:
        lines += _run_needs(source)
    return lines


PUSH_COMMANDS_REFUSED = ("run", "try", "backfill", "state")


def _kind_problems(source: Mapping[str, Any], command: str) -> list[schema.Problem]:
    """A source is pulled (api_config) or pushed (push), never both; a push source has nothing to run."""
    pulled, pushed = source.get("api_config") is not None, source.get("push") is not None
    if pulled and pushed:
        return [schema.Problem("push", "a source is pulled (api_config) or pushed (push), not both")]
    if not pulled and not pushed:
        return [schema.Problem("api_config", "is required (or push, for a push source)")]
    if pushed and command in PUSH_COMMANDS_REFUSED:
        return [
            schema.Problem(
                "push",
                f"this is a push source: it receives events at its push url and has nothing to {command}; "
                "send it events, then read them with runs, records or query",
            )
        ]
    return []


def _run_needs(source: dict[str, Any]) -> list[str]:
    api = source.get("api_config")
    auth = api.get("auth") if isinstance(api, dict) else None
    auth_type = auth.get("type", "none") if isinstance(auth, dict) else "none"
    needs = {
        "source_id": "it names the run's objects",
        "raw_bucket": "the bucket to write to (try makes a local one)",
    }
    if auth_type != "none":
        needs["secret_arn"] = f"auth type {auth_type!r} reads the credentials from it"
    return [f"{key}: is required for run: {why}" for key, why in needs.items() if key not in source]


RECORDS_CONFIG_KEYS = ("enabled", "columns", "primary_key", "on_schema_change")


def source_environment(source: Mapping[str, Any]) -> dict[str, str]:
    """The function environment the module would set for a (valid) source file."""
    env = {name: str(source[key]) for key, name in ENVIRONMENT.items() if source.get(key)}
    for key, name in FLAGS.items():
        if key in source and source[key] is not None:
            env[name] = "true" if source[key] is True else "false"
    if source.get("push") is not None:  # as the module sets a push source's function (no API_CONFIG)
        env["PUSH_CONFIG"] = json.dumps({k: v for k, v in source["push"].items() if k != "url"})
    else:
        env["API_CONFIG"] = json.dumps(source.get("api_config"))
    table = source.get("table")
    if table is not None:  # as the module sets RECORDS_CONFIG (without where the tables are)
        env["RECORDS_CONFIG"] = json.dumps({k: table[k] for k in RECORDS_CONFIG_KEYS if k in table})
    return env


def read_source(path: Path, command: str) -> dict[str, Any]:
    """The source file, checked; InputError listing every problem otherwise."""
    try:
        source = json.loads(path.read_text())
    except OSError as error:
        raise InputError(str(path), [f"cannot be read ({error.strerror or error})"]) from None
    except json.JSONDecodeError as error:
        raise InputError(str(path), [f"is not JSON ({error.msg} at line {error.lineno})"]) from None
    problems = source_problems(source, command)
    if problems:
        raise InputError(str(path), problems)
    result: dict[str, Any] = source
    return result


def read_event(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError("--event", [f"is not JSON ({error.msg} at position {error.pos})"]) from None


def invoke_handler(event: Any, function_name: str, timeout: float) -> dict[str, Any]:
    """lambda_handler once, as Lambda would call it, with everything it prints sent to stderr.

    Powertools writes logs to the stream it was given (stdout) and prints EMF metrics; both move to
    stderr here, so that stdout holds only the result. The handler's exceptions propagate.
    """
    from .handler import lambda_handler, logger  # after the environment is set

    stream = logger.registered_handler
    if isinstance(stream, logging.StreamHandler):
        stream.setStream(sys.stderr)
    with contextlib.redirect_stdout(sys.stderr):
        result: dict[str, Any] = lambda_handler(event, LocalContext(function_name, timeout))
    return result


def error_document(error: BaseException) -> dict[str, Any]:
    """What Lambda reports for a failed invocation (errorType, errorMessage), credentials masked."""
    from .redaction import REDACTOR

    return {"error": {"errorType": type(error).__name__, "errorMessage": REDACTOR.scrub(str(error))}}


def emit(document: Mapping[str, Any]) -> None:
    """The command's one JSON document, on stdout."""
    print(json.dumps(document, indent=2), flush=True)


def exit_status(result: Mapping[str, Any]) -> int:
    return EXIT_STATUS.get(str(result.get("status")), EXIT_FAILED)
