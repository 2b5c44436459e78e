"""`python -m lake_ingest state show|set|reset`: an operator's hands on a cursor source's state."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import boto3

from lake_ingest.state import StateStore, state_key
from tests.test_local_runner import cli_env, write_source

REGION = "us-east-1"


def state_cli(tmp_path, source, *args):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "lake_ingest",
            "state",
            *args,
            "--config",
            str(write_source(tmp_path, source)),
        ],
        capture_output=True,
        text=True,
        env=cli_env(),  # the aws_endpoint fixture points AWS_ENDPOINT_URL at moto
        timeout=60,
        check=False,
    )


def cursor_source(bucket: str) -> dict:
    return {
        "source_id": "orders",
        "raw_bucket": bucket,
        "api_config": {
            "endpoint": "https://api.example.com/v1/orders",
            "query_params": {"updated_since": "{cursor}"},
            "incremental": {"type": "cursor", "cursor_path": "updated_at", "initial_value": "2026-01-01"},
        },
    }


def test_show_set_and_reset_are_recorded_and_refused_while_a_run_holds_the_lease(aws_endpoint, tmp_path):
    s3 = boto3.client("s3", region_name=REGION)
    bucket = f"state-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    source = cursor_source(bucket)

    empty = state_cli(tmp_path, source, "show")
    assert empty.returncode == 0 and json.loads(empty.stdout) == {
        "state": None,
        "where": f"s3://{bucket}/orders/_state/cursor.json",
    }
    moved = state_cli(tmp_path, source, "set", "--value", "2026-02-01T00:00:00Z")
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["state"]["cursor"] == "2026-02-01T00:00:00Z"

    store = StateStore(s3, bucket, state_key("orders"), "orders")
    lease = store.acquire("busy-run", 60, "timestamp")
    refused = state_cli(tmp_path, source, "reset")
    assert refused.returncode == 1
    assert "busy-run" in json.loads(refused.stdout)["error"]["errorMessage"]
    assert store.show().cursor == "2026-02-01T00:00:00Z"  # nothing written
    store.release(lease)

    reset = state_cli(tmp_path, source, "reset")
    assert reset.returncode == 0 and json.loads(reset.stdout)["state"]["cursor"] is None
    history = store.show().history
    assert [h["note"] for h in history[:2]] == ["reset by operator", "set by operator"]

    bad = state_cli(tmp_path, source, "set", "--value", "yesterday")
    assert bad.returncode == 1 and "--value" in bad.stderr


def test_state_needs_a_cursor_source(aws_endpoint, tmp_path):
    source = cursor_source("some-bucket")
    del source["api_config"]["incremental"]
    source["api_config"]["query_params"] = {}
    refused = state_cli(tmp_path, source, "show")
    assert refused.returncode == 1 and "only a cursor source keeps a state" in refused.stderr
