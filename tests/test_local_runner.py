"""`python -m lake_ingest run`: a source tried from a developer machine, in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scripts.upstream import Reply

ROOT = Path(__file__).resolve().parent.parent
BODY = json.dumps({"data": {"items": [1, 2, 3, 4]}}).encode()


def run_cli(
    config: dict, tmp_path: Path, aws_endpoint: str, event: str = "{}"
) -> subprocess.CompletedProcess:
    path = tmp_path / "source.json"
    path.write_text(json.dumps(config))
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "SOURCE_ID",
            "RAW_BUCKET",
            "SECRET_ARN",
            "API_CONFIG",
            "KMS_KEY_ARN",
            "RAW_PREFIX",
            "ALLOW_HTTP_LOOPBACK",
        )
    }
    env["PYTHONPATH"] = str(ROOT / "lambda_src")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "lake_ingest",
            "run",
            "--config",
            str(path),
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
        env=env,
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
    process = run_cli(config, tmp_path, aws_endpoint, '{"run_id": "try-1"}')
    assert process.returncode == 0, process.stdout + process.stderr
    result = json.loads(process.stdout[process.stdout.index("{\n") :])
    assert result["status"] == "SUCCESS" and result["records_ingested"] == 4
    assert result["objects"][0].startswith("trial-source/ingest_date=")
    assert source.keys() == sorted([*result["objects"], result["manifest"]])
    assert upstream.requests[0].headers["authorization"] == f"Bearer {source.secret_value['api_key']}"
    assert source.secret_value["api_key"] not in process.stdout + process.stderr


def test_reports_a_failed_run_with_exit_code_1(make_source, upstream, aws_endpoint, tmp_path):
    source = make_source({"endpoint": upstream.url})
    config = {
        "source_id": "trial-source",
        "raw_bucket": source.bucket,
        "secret_arn": source.secret_arn,
        "api_config": {"endpoint": "http://example.com/not-https"},
    }
    process = run_cli(config, tmp_path, aws_endpoint)
    assert process.returncode == 1
    error = json.loads(process.stdout[process.stdout.index('{\n  "error"') :])["error"]
    assert error["errorType"] == "ConfigError" and "API_CONFIG.endpoint" in error["errorMessage"]


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
    error = json.loads(process.stdout[process.stdout.index('{\n  "error"') :])["error"]
    assert error["errorType"] == "ConfigError" and "ALLOW_HTTP_LOOPBACK=true" in error["errorMessage"]
    assert upstream.requests == []

    config["allow_http_loopback"] = "yes"
    process = run_cli(config, tmp_path, aws_endpoint)
    assert process.returncode == 1 and "allow_http_loopback must be true or false" in process.stderr
