"""`python -m lake_ingest try|run`: a source tried from a developer machine, in its own process.

Each command runs as a user runs it (a subprocess with PYTHONPATH=lambda_src), so the exit status,
stdout and stderr are the real ones. The upstream is a ScriptedUpstream on loopback.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from scripts.upstream import Reply, SeenRequest

ROOT = Path(__file__).resolve().parent.parent
BODY = json.dumps({"data": {"items": [1, 2, 3, 4]}}).encode()
# Any of these in the caller's environment would point a client elsewhere: `try` must not care.
HOSTILE_AWS_ENVIRONMENT = {
    "AWS_PROFILE": "no-such-profile",
    "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_SESSION_TOKEN": "not-a-token",
}
LOCAL_AWS = re.compile(r"local AWS \(moto\) on http://127\.0\.0\.1:(\d+)")


def cli_env(**extra: str) -> dict[str, str]:
    """The caller's environment without the handler's variables (the source file sets them)."""
    handler_variables = (
        "SOURCE_ID",
        "RAW_BUCKET",
        "SECRET_ARN",
        "API_CONFIG",
        "KMS_KEY_ARN",
        "RAW_PREFIX",
        "ALLOW_HTTP_LOOPBACK",
    )
    env = {k: v for k, v in os.environ.items() if k not in handler_variables}
    env["PYTHONPATH"] = str(ROOT / "lambda_src")
    return {**env, **extra}


def write_source(tmp_path: Path, source: dict, name: str = "source.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(source))
    return path


def try_cli(
    tmp_path: Path, source: dict, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lake_ingest", "try", str(write_source(tmp_path, source)), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env or cli_env(**HOSTILE_AWS_ENVIRONMENT),
        timeout=120,
        check=False,
    )


def trial_source(upstream, **api_config) -> dict:
    return {
        "source_id": "trial-source",
        "allow_http_loopback": True,  # the scripted API is plain http on 127.0.0.1
        "api_config": {"endpoint": f"{upstream.url}/v1/orders", "records_path": "data.items", **api_config},
    }


def port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def assert_one_json_document_and_logs_on_stderr(process: subprocess.CompletedProcess) -> dict:
    """stdout is exactly one JSON document (what `| jq .` needs); the logs are all on stderr."""
    document = json.loads(process.stdout)
    assert process.stdout.lstrip().startswith("{") and process.stdout.count("\n}") == 1
    assert '"level"' not in process.stdout and "run started" not in process.stdout
    assert '"CloudWatchMetrics"' not in process.stdout  # the EMF metrics are logs too
    return document


def assert_local_aws_stopped(process: subprocess.CompletedProcess) -> None:
    port = int(LOCAL_AWS.search(process.stderr).group(1))
    assert f"stopped the local AWS on http://127.0.0.1:{port}" in process.stderr
    assert port_is_closed(port)


def paged(pages: list[list[int]]):
    """A page_number API serving these pages, then empty ones."""

    def respond(seen: SeenRequest) -> Reply:
        page = int((seen.query.get("page") or ["1"])[0])
        items = pages[page - 1] if page <= len(pages) else []
        return Reply(200, json.dumps({"data": {"items": items}}).encode())

    return respond


# ---------------------------------------------------------------------------------------- try


def test_try_success_prints_one_json_document_with_every_page(upstream, tmp_path):
    upstream.responder = paged([[1, 2, 3, 4], [5, 6]])
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps({"api_key": "sk-trial-from-file-0123"}))
    source = trial_source(
        upstream, auth={"type": "bearer"}, pagination={"type": "page_number", "max_pages": 10}
    )
    process = try_cli(tmp_path, source, "--credentials", str(credentials))

    assert process.returncode == 0, process.stdout + process.stderr
    result = assert_one_json_document_and_logs_on_stderr(process)
    assert "run started" in process.stderr and '"level":"INFO"' in process.stderr
    assert result["status"] == "SUCCESS" and result["total_records"] == 6
    assert [(p["page"], p["records"]) for p in result["page_details"]] == [(1, 4), (2, 2), (3, 0)]
    assert [p["key"] for p in result["page_details"]] == result["objects"]
    assert all(p["key"].startswith("trial-source/ingest_date=") for p in result["page_details"])
    assert result["page_details"][0]["raw_bytes"] == len(json.dumps({"data": {"items": [1, 2, 3, 4]}}))
    assert "SUCCESS (end): 3 page(s) stored, 6 record(s)" in process.stderr
    # The credential came from the file, reached the API, and was never shown.
    assert {r.headers["authorization"] for r in upstream.requests} == {"Bearer sk-trial-from-file-0123"}
    assert "sk-trial-from-file-0123" not in process.stdout + process.stderr
    assert_local_aws_stopped(process)


def test_try_partial_success_via_max_pages_exits_2(upstream, tmp_path):
    upstream.responder = paged([[1, 2], [3, 4]])
    source = trial_source(upstream, pagination={"type": "page_number", "max_pages": 1})
    process = try_cli(tmp_path, source)  # auth none: nothing is asked for (stdin is empty)

    assert process.returncode == 2, process.stdout + process.stderr
    result = assert_one_json_document_and_logs_on_stderr(process)
    assert result["status"] == "PARTIAL_SUCCESS" and result["stop_reason"] == "max_pages"
    assert result["resume_event"]["resume"] == {"page": 2, "page_number": 2}
    assert [(p["page"], p["records"]) for p in result["page_details"]] == [(1, 2)]
    assert "(not echoed)" not in process.stderr and "no secret (auth type none)" in process.stderr
    assert len(upstream.requests) == 1


def test_try_quarantined_exits_3_and_prints_the_reason(upstream, tmp_path):
    upstream.script(Reply(200, b"<html>maintenance</html>", {"Content-Type": "text/html"}))
    process = try_cli(tmp_path, trial_source(upstream))

    assert process.returncode == 3, process.stdout + process.stderr
    result = assert_one_json_document_and_logs_on_stderr(process)
    assert result["status"] == "QUARANTINED" and result["total_records"] == 0
    (page,) = result["page_details"]
    assert page["key"].startswith("trial-source/_quarantine/") and page["records"] is None
    assert "text/html" in page["quarantine_reason"] and page["content_type"] == "text/html"
    assert f"page 1 quarantined: {page['quarantine_reason']}" in process.stderr


def test_try_upstream_500_exits_1_with_the_error_document(upstream, tmp_path):
    upstream.default = Reply(500, b'{"error": "internal"}')
    process = try_cli(tmp_path, trial_source(upstream, max_retries=0))

    assert process.returncode == 1, process.stdout + process.stderr
    error = assert_one_json_document_and_logs_on_stderr(process)["error"]
    assert error["errorType"] == "UpstreamHTTPError"
    assert "HTTP 500" in error["errorMessage"] and "after 1 attempt(s)" in error["errorMessage"]
    assert_local_aws_stopped(process)


def test_try_asks_for_each_credential_field_and_never_shows_them(upstream, tmp_path):
    upstream.script(Reply(200, BODY))
    source = trial_source(upstream, auth={"type": "basic"})
    process = try_cli(tmp_path, source, stdin="svc-trial-user\npw-trial-typed-4567\n")

    assert process.returncode == 0, process.stdout + process.stderr
    assert "username for auth type 'basic' (not echoed):" in process.stderr
    assert "password for auth type 'basic' (not echoed):" in process.stderr
    import base64

    token = base64.b64encode(b"svc-trial-user:pw-trial-typed-4567").decode()
    assert upstream.requests[0].headers["authorization"] == f"Basic {token}"
    for shown in (process.stdout, process.stderr):
        assert "pw-trial-typed-4567" not in shown and "svc-trial-user" not in shown and token not in shown


def test_try_reports_a_credential_the_input_does_not_give(upstream, tmp_path):
    process = try_cli(tmp_path, trial_source(upstream, auth={"type": "bearer"}), stdin="")
    assert process.returncode == 1
    assert "no value for api_key: the input ended; or give --credentials FILE" in process.stderr
    assert json.loads(process.stdout)["error"]["errorType"] == "InputError"
    assert upstream.requests == []


def test_try_a_misspelled_key_names_it_and_the_options(upstream, tmp_path):
    source = trial_source(upstream, pagination={"type": "cursor", "cursor_path": "next", "max_page": 2})
    source["alow_http_loopback"] = source.pop("allow_http_loopback")
    process = try_cli(tmp_path, source)

    assert process.returncode == 1
    assert (
        '  alow_http_loopback: is not an option (did you mean "allow_http_loopback"?); the options are: '
        "alarm_names, allow_http_loopback, api_config, kms_key_arn, orchestration, push, "
        "raw_bucket, raw_bucket_owner, raw_prefix, secret_arn, source_id, table\n"
    ) in process.stderr
    assert "source.json: 1 problem(s):" in process.stderr
    assert json.loads(process.stdout)["error"]["errorType"] == "InputError"
    assert upstream.requests == [] and "local AWS" not in process.stderr

    source["allow_http_loopback"] = source.pop("alow_http_loopback")  # now the nested one
    process = try_cli(tmp_path, source)
    assert process.returncode == 1
    assert (
        'api_config.pagination.max_page: is not an option of pagination type "cursor" '
        '(did you mean "max_pages"?); its options are:' in (process.stderr)
    )


def test_try_applies_the_api_config_rules_with_the_files_loopback_choice(upstream, tmp_path):
    source = trial_source(upstream, headers={"X-Api-Key": "abc"})
    del source["allow_http_loopback"]
    process = try_cli(tmp_path, source)
    assert process.returncode == 1
    assert "source.json: 2 problem(s):" in process.stderr
    assert "  api_config.headers.X-Api-Key: looks like a credential; use auth" in process.stderr
    assert (
        "  api_config.endpoint: must use https; plain http is accepted only for a loopback" in process.stderr
    )


def test_try_ctrl_c_stops_the_local_aws_and_leaves_nothing_running(upstream, tmp_path):
    upstream.default = Reply(200, BODY, delay=30)  # the run is waiting on the API when interrupted
    stderr_path = tmp_path / "stderr.txt"
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "lake_ingest", "try", str(write_source(tmp_path, trial_source(upstream)))],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=cli_env(),
            # As a terminal starts it: a process started in the background (a CI step with `&`)
            # inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 60
        while not upstream.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert upstream.requests, stderr_path.read_text()
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=30)
    log = stderr_path.read_text()
    assert process.returncode == 130, log
    assert json.loads(stdout)["error"]["errorType"] == "KeyboardInterrupt"
    port = int(LOCAL_AWS.search(log).group(1))
    assert f"stopped the local AWS on http://127.0.0.1:{port}" in log
    assert port_is_closed(port)


def test_try_without_moto_says_how_to_get_it(upstream, tmp_path):
    path = write_source(tmp_path, trial_source(upstream, auth={"type": "bearer"}))
    block_moto = (
        "import sys; sys.modules['moto'] = None; from lake_ingest.__main__ import main; "
        f"sys.exit(main(['try', {str(path)!r}]))"
    )
    process = subprocess.run(
        [sys.executable, "-c", block_moto], capture_output=True, text=True, env=cli_env(), timeout=60
    )
    assert process.returncode == 1
    assert "moto is not installed" in process.stderr
    assert "make try SOURCE=" in process.stderr and "pip install -r requirements-dev.txt" in process.stderr
    assert "(not echoed)" not in process.stderr  # no credential is asked for that could not be used


def test_a_usage_error_exits_1_not_the_partial_success_status():
    process = subprocess.run(
        [sys.executable, "-m", "lake_ingest", "try"],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
    )
    assert process.returncode == 1 and "give it, as `try FILE` or `try --config FILE`" in process.stderr


def test_the_handler_and_the_runner_never_import_moto():
    """moto is a dev dependency: the Lambda package must work without it."""
    check = (
        "import sys, lake_ingest.handler, lake_ingest.__main__, lake_ingest.local, lake_ingest.trial; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'moto'))"
    )
    process = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, env=cli_env(), timeout=60, check=True
    )
    assert process.stdout.strip() == "[]"


def test_the_template_source_is_valid_and_needs_no_loopback():
    """examples/try/source.json, which `make demo` tells people to edit and try."""
    from lake_ingest.local import source_problems

    template = json.loads((ROOT / "examples" / "try" / "source.json").read_text())
    assert source_problems(template, "try") == []
    assert template["api_config"]["endpoint"].startswith("https://")
    assert "allow_http_loopback" not in template


# ---------------------------------------------------------------------------------------- run


def run_cli(
    config: dict, tmp_path: Path, aws_endpoint: str, event: str = "{}", positional: bool = False
) -> subprocess.CompletedProcess:
    path = write_source(tmp_path, config)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "lake_ingest",
            "run",
            *([str(path)] if positional else ["--config", str(path)]),
            "--event",
            event,
            "--endpoint-url",
            aws_endpoint,
            "--region",
            "us-east-1",
            "--timeout",
            "60",
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
        check=False,
    )


def test_runs_a_source_file_against_the_given_aws_endpoint(make_source, upstream, aws_endpoint, tmp_path):
    source = make_source({"endpoint": upstream.url})
    upstream.script(Reply(200, BODY))
    config = {
        "source_id": "trial-source",
        "raw_bucket": source.bucket,
        "secret_arn": source.secret_arn,
        "kms_key_arn": source.key_arn,
        "allow_http_loopback": True,  # the sample API is plain http on 127.0.0.1
        "api_config": {
            "endpoint": f"{upstream.url}/items",
            "auth": {"type": "bearer"},
            "records_path": "data.items",
        },
    }
    process = run_cli(config, tmp_path, aws_endpoint, '{"run_id": "try-1"}', positional=True)  # run FILE
    assert process.returncode == 0, process.stdout + process.stderr
    result = assert_one_json_document_and_logs_on_stderr(process)
    assert "run started" in process.stderr
    closing = f"run: SUCCESS (end): 1 page(s) stored, 4 record(s), {len(BODY)} raw bytes"
    assert process.stderr.rstrip().splitlines()[-1] == closing
    assert result["status"] == "SUCCESS" and result["records_ingested"] == 4
    assert result["objects"][0].startswith("trial-source/ingest_date=")
    assert source.keys() == sorted([*result["objects"], result["manifest"]])
    assert upstream.requests[0].headers["authorization"] == f"Bearer {source.secret_value['api_key']}"
    assert source.secret_value["api_key"] not in process.stdout + process.stderr


def test_run_exits_2_on_partial_success_and_3_on_quarantine(make_source, upstream, aws_endpoint, tmp_path):
    source = make_source({"endpoint": upstream.url})
    config = {
        "source_id": "trial-source",
        "raw_bucket": source.bucket,
        "allow_http_loopback": True,
        "api_config": {
            "endpoint": f"{upstream.url}/items",
            "records_path": "data.items",
            "pagination": {"type": "page_number", "max_pages": 1},
        },
    }
    upstream.responder = paged([[1], [2]])
    process = run_cli(config, tmp_path, aws_endpoint, '{"run_id": "partial"}')
    assert process.returncode == 2, process.stdout + process.stderr
    assert assert_one_json_document_and_logs_on_stderr(process)["status"] == "PARTIAL_SUCCESS"

    upstream.responder = None
    upstream.script(Reply(200, b"<html>oops</html>", {"Content-Type": "text/html"}))
    process = run_cli(config, tmp_path, aws_endpoint, '{"run_id": "quarantined"}')
    assert process.returncode == 3, process.stdout + process.stderr
    assert assert_one_json_document_and_logs_on_stderr(process)["status"] == "QUARANTINED"


def test_reports_a_failed_run_with_exit_code_1(make_source, upstream, aws_endpoint, tmp_path):
    source = make_source({"endpoint": upstream.url})
    config = {
        "source_id": "trial-source",
        "raw_bucket": source.bucket,
        "allow_http_loopback": True,
        "api_config": {"endpoint": f"{upstream.url}/items", "max_retries": 0},
    }
    upstream.default = Reply(503, b"down")
    process = run_cli(config, tmp_path, aws_endpoint)
    assert process.returncode == 1
    error = assert_one_json_document_and_logs_on_stderr(process)["error"]
    assert error["errorType"] == "UpstreamHTTPError" and "HTTP 503" in error["errorMessage"]


def test_run_checks_the_source_file_as_try_does(make_source, upstream, aws_endpoint, tmp_path):
    source = make_source({"endpoint": upstream.url})
    config = {
        "source_id": "trial-source",
        "raw_bucket": source.bucket,
        "api_config": {"endpoint": "http://example.com/not-https", "auth": {"type": "bearer"}},
        "raw_prefx": "x",
    }
    process = run_cli(config, tmp_path, aws_endpoint)
    assert process.returncode == 1
    assert (
        '  raw_prefx: is not an option (did you mean "raw_prefix"?); the options are: alarm_names, '
        in process.stderr
    )
    del config["raw_prefx"]
    process = run_cli(config, tmp_path, aws_endpoint)
    assert process.returncode == 1
    assert "  api_config.endpoint: must use https" in process.stderr
    assert "  secret_arn: is required for run: auth type 'bearer' reads the credentials from it" in (
        process.stderr
    )
    assert json.loads(process.stdout)["error"]["errorType"] == "InputError"
    assert upstream.requests == []


def test_plain_http_to_loopback_needs_the_source_file_to_allow_it(
    make_source, upstream, aws_endpoint, tmp_path
):
    source = make_source({"endpoint": upstream.url})
    config = {
        "source_id": "trial-source",
        "raw_bucket": source.bucket,
        "secret_arn": source.secret_arn,
        "api_config": {"endpoint": f"{upstream.url}/items", "auth": {"type": "bearer"}},
    }
    process = run_cli(config, tmp_path, aws_endpoint)
    assert process.returncode == 1
    assert "api_config.endpoint: must use https" in process.stderr
    assert "ALLOW_HTTP_LOOPBACK=true" in process.stderr
    assert upstream.requests == []

    config["allow_http_loopback"] = "yes"
    process = run_cli(config, tmp_path, aws_endpoint)
    assert (
        process.returncode == 1
        and 'allow_http_loopback: is "yes"; it must be true or false' in process.stderr
    )
