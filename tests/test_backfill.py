"""Backfills planned and tracked by `python -m lake_ingest backfill` (lake_ingest/backfill.py).

The windows a backfill plans, the events its Distributed Map items carry (the same run ids the handler
derives), and how `status` and `retry` read what is done from the lake. The Step Functions side runs on
the session's plain moto server here, which records executions without running them; the executions
themselves run end to end in tests/test_orchestration_e2e.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime

import boto3
import pytest

from lake_ingest.backfill import (
    MAX_WINDOWS,
    BackfillError,
    Backfills,
    BackfillTarget,
    check_range,
    parse_bound,
    plan_windows,
    window_event,
)
from lake_ingest.events import parse_event
from lake_ingest.incremental import Duration
from lake_ingest.sink import MANIFEST_NAME, run_prefix
from tests.test_local_runner import cli_env, write_source

REGION = "us-east-1"
BERLIN = "Europe/Berlin"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def window_source(
    bucket: str = "lake",
    machine: str | None = "arn:aws:states:us-east-1:123456789012:stateMachine:x-backfill",
    **incremental,
) -> dict:
    source = {
        "source_id": "events",
        "raw_bucket": bucket,
        "api_config": {
            "endpoint": "https://api.example.com/v1/events",
            "query_params": {"from": "{window_start}", "to": "{window_end}"},
            "incremental": {"type": "window", "window": "1d", **incremental},
        },
    }
    if machine:
        source["orchestration"] = {"backfill_state_machine_arn": machine, "backfill_max_concurrency": 3}
    return source


# -- planning ----------------------------------------------------------------------------------------


def test_daily_windows_follow_local_midnight_across_a_dst_change():
    start = parse_bound("2026-03-28", BERLIN, "--from")
    end = parse_bound("2026-03-31", BERLIN, "--to")
    windows = plan_windows(start, end, Duration(1, "d"), BERLIN)
    assert [(w.start, w.end) for w in windows] == [
        (utc("2026-03-27T23:00:00Z"), utc("2026-03-28T23:00:00Z")),
        (utc("2026-03-28T23:00:00Z"), utc("2026-03-29T22:00:00Z")),  # the 23-hour day
        (utc("2026-03-29T22:00:00Z"), utc("2026-03-30T22:00:00Z")),
    ]


def test_a_range_that_is_not_whole_steps_ends_with_a_shorter_window():
    windows = plan_windows(utc("2026-01-01T00:00:00Z"), utc("2026-01-01T10:00:00Z"), Duration(4, "h"), "UTC")
    assert [(w.end - w.start).total_seconds() / 3600 for w in windows] == [4, 4, 2]
    assert windows[-1].end == utc("2026-01-01T10:00:00Z")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-05", "2026-01-04T23:00:00Z"),  # a date: midnight in the source's zone
        ("2026-01-05T06:00:00", "2026-01-05T05:00:00Z"),  # no offset: wall time there
        ("2026-01-05T06:00:00Z", "2026-01-05T06:00:00Z"),
        ("2026-01-05T06:00:00+02:00", "2026-01-05T04:00:00Z"),
    ],
)
def test_bounds_are_read_in_the_sources_time_zone(text, expected):
    assert parse_bound(text, BERLIN, "--from") == utc(expected)


def test_bad_ranges_are_refused_with_what_to_change():
    with pytest.raises(BackfillError, match="--from: 'yesterday' is not a date"):
        parse_bound("yesterday", "UTC", "--from")
    with pytest.raises(BackfillError, match=r"--from \(2026-01-02T00:00:00Z\) must be before --to"):
        plan_windows(utc("2026-01-02T00:00:00Z"), utc("2026-01-01T00:00:00Z"), Duration(1, "d"), "UTC")
    with pytest.raises(BackfillError, match=f"more than {MAX_WINDOWS} windows: take a longer --step"):
        plan_windows(utc("2020-01-01T00:00:00Z"), utc("2026-01-01T00:00:00Z"), Duration(1, "h"), "UTC")
    with pytest.raises(BackfillError, match="is in the future"):
        check_range(utc("2026-01-01T00:00:00Z"), utc("2999-01-01T00:00:00Z"))


def test_each_item_is_an_event_the_handler_runs_under_the_backfills_own_run_id():
    (window,) = plan_windows(
        utc("2026-01-01T00:00:00Z"), utc("2026-01-02T00:00:00Z"), Duration(1, "d"), "UTC"
    )
    event = window_event("jan", window)
    run = parse_event(event, "request-1")
    assert run.run_id == "bf-jan-20260101T000000Z-20260102T000000Z"
    assert run.partition_date == "2026-01-01" and run.backfill_id == "jan"
    # a resumed window keeps its backfill id, and so its run id
    assert parse_event(run.as_event(), "request-2").run_id == run.run_id


def test_only_a_deployed_window_source_can_be_backfilled():
    with pytest.raises(BackfillError, match="must be of incremental type window"):
        cursor = window_source()
        cursor["api_config"]["incremental"] = {"type": "cursor", "cursor_path": "t", "initial_value": 0}
        BackfillTarget.from_source(cursor)
    with pytest.raises(BackfillError, match="terraform output -raw source_json"):
        BackfillTarget.from_source(window_source(machine=None))
    target = BackfillTarget.from_source(window_source(timezone=BERLIN))
    assert (target.timezone, str(target.window), target.max_concurrency) == (BERLIN, "1d", 3)
    assert target.execution_arn("jan-retry-1") == (
        "arn:aws:states:us-east-1:123456789012:execution:x-backfill:jan-retry-1"
    )


# -- starting, watching, retrying (S3 and the Step Functions API of the local AWS) -------------------


@pytest.fixture
def lake(aws_endpoint):
    s3 = boto3.client("s3", region_name=REGION)
    bucket = f"lake-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(
        RoleName=f"sfn-{uuid.uuid4().hex[:8]}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    machine = sfn.create_state_machine(
        name=f"events-backfill-{uuid.uuid4().hex[:6]}", definition=json.dumps(definition), roleArn=role
    )["stateMachineArn"]
    source = window_source(bucket, machine)
    return source, Backfills(BackfillTarget.from_source(source), s3, sfn), s3, sfn


def complete_manifest(s3, bucket: str, run_id: str, day: str, records: int) -> None:
    key = run_prefix("events", day, run_id) + MANIFEST_NAME
    body = {"complete": True, "status": "SUCCESS", "records_ingested": records, "pages": [{}]}
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode())


def test_start_writes_the_plan_once_and_status_reads_the_lake(lake):
    source, backfills, s3, sfn = lake
    windows = plan_windows(utc("2026-01-01T00:00:00Z"), utc("2026-01-04T00:00:00Z"), Duration(1, "d"), "UTC")
    started = backfills.start("jan", windows, {"windows": 3}, max_concurrency=2)
    assert started["execution"] == "jan" and started["max_concurrency"] == 2
    items = json.loads(
        s3.get_object(Bucket=source["raw_bucket"], Key="events/_backfill/jan/items/jan.json")["Body"].read()
    )
    assert items == [window_event("jan", w) for w in windows]
    execution = sfn.describe_execution(executionArn=started["execution_arn"])
    assert json.loads(execution["input"]) == {
        "backfill_id": "jan",
        "items_key": "events/_backfill/jan/items/jan.json",
        "results_prefix": "events/_backfill/jan/results",
        "max_concurrency": 2,
    }
    with pytest.raises(BackfillError, match="backfill 'jan' exists"):
        backfills.start("jan", windows, {}, max_concurrency=None)
    with pytest.raises(BackfillError, match="--max-concurrency: 4 is not between 1 and 3"):
        backfills.start("feb", windows, {}, max_concurrency=4)

    complete_manifest(s3, source["raw_bucket"], "bf-jan-20260101T000000Z-20260102T000000Z", "2026-01-01", 24)
    status = backfills.status("jan").as_dict()
    # the execution still runs: what has no complete manifest yet is pending, not failed
    assert status["windows"] == {"total": 3, "done": 1, "failed": 0, "pending": 2}
    assert status["records_ingested"] == 24
    with pytest.raises(BackfillError, match="still has a running execution"):
        backfills.retry("jan", max_concurrency=None)


def test_retry_runs_only_the_windows_that_are_not_done_under_the_same_run_ids(lake):
    source, backfills, s3, sfn = lake
    windows = plan_windows(utc("2026-01-01T00:00:00Z"), utc("2026-01-04T00:00:00Z"), Duration(1, "d"), "UTC")
    started = backfills.start("q1", windows, {"windows": 3}, max_concurrency=None)
    for run_id, day in (
        ("bf-q1-20260101T000000Z-20260102T000000Z", "2026-01-01"),
        ("bf-q1-20260103T000000Z-20260104T000000Z", "2026-01-03"),
    ):
        complete_manifest(s3, source["raw_bucket"], run_id, day, 24)
    # a window that stopped incomplete (its manifest says so) failed like one without a manifest
    partial = run_prefix("events", "2026-01-02", "bf-q1-20260102T000000Z-20260103T000000Z") + MANIFEST_NAME
    s3.put_object(
        Bucket=source["raw_bucket"],
        Key=partial,
        Body=json.dumps(
            {"complete": False, "status": "QUARANTINED", "stop_reason": "quarantined", "pages": []}
        ).encode(),
    )
    sfn.stop_execution(executionArn=started["execution_arn"])
    status = backfills.status("q1").as_dict()
    assert status["windows"] == {"total": 3, "done": 2, "failed": 1, "pending": 0}
    (failed,) = status["failed"]
    assert failed["run_id"] == "bf-q1-20260102T000000Z-20260103T000000Z"
    assert failed["reason"].startswith("quarantined: quarantined")

    again = backfills.retry("q1", max_concurrency=1)
    assert again is not None and again["execution"] == "q1-retry-1" and again["windows"] == 1
    items = json.loads(
        s3.get_object(Bucket=source["raw_bucket"], Key="events/_backfill/q1/items/q1-retry-1.json")[
            "Body"
        ].read()
    )
    assert [parse_event(i, "r").run_id for i in items] == ["bf-q1-20260102T000000Z-20260103T000000Z"]
    assert [e["name"] for e in backfills.status("q1").executions] == ["q1", "q1-retry-1"]


def backfill_cli(tmp_path, source, *args):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "lake_ingest",
            "backfill",
            *args,
            "--config",
            str(write_source(tmp_path, source)),
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
        check=False,
    )


def test_the_cli_refuses_what_it_cannot_run_and_reports_a_running_backfill(lake, tmp_path):
    source, _, _, _ = lake
    cursor = window_source(source["raw_bucket"])
    cursor["api_config"]["query_params"] = {"since": "{cursor}"}
    cursor["api_config"]["incremental"] = {
        "type": "cursor",
        "cursor_path": "t",
        "initial_value": 0,
        "cursor_type": "number",
    }
    refused = backfill_cli(tmp_path, cursor, "start", "--from", "2026-01-01", "--to", "2026-01-02")
    assert refused.returncode == 1 and "must be of incremental type window" in refused.stderr
    assert json.loads(refused.stdout)["error"]["errorType"] == "InputError"
    no_id = backfill_cli(tmp_path, source, "status")
    assert no_id.returncode == 1 and "--id: is required" in no_id.stderr

    started = backfill_cli(
        tmp_path, source, "start", "--from", "2026-01-01", "--to", "2026-01-08", "--id", "wk", "--no-wait"
    )
    assert started.returncode == 2, started.stderr  # started, still running
    assert json.loads(started.stdout)["windows"] == 7
    status = backfill_cli(tmp_path, source, "status", "--id", "wk")
    assert status.returncode == 2 and json.loads(status.stdout)["windows"]["pending"] == 7
