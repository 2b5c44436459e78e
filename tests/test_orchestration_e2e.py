"""Runs that finish by themselves and backfills, on the local AWS: examples/multi-source's `events`.

`events` is a window source with orchestration on: its function fetches pages of 20 events and at most
two pages an invocation (max_pages), so a long window needs several invocations, which its run state
machine chains through the resume events; its backfill state machine runs windows listed in the lake
as a Distributed Map. Everything below runs the deployed code through the real APIs: Step Functions
executions (moto's interpreter, scripts/local_aws.py gap 6) whose Lambda tasks invoke the deployed zip
(gap 4), and the backfill command line as an operator would run it.

One difference from AWS matters here: moto's Distributed Map ignores the tolerated failure percentage,
so an execution with a failed window SUCCEEDS locally where AWS fails it. The tests therefore check
failed windows the way `backfill status` finds them on AWS too, from the lake (a window is done when
its run's manifest is complete), and test a failed execution with the run state machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scripts.harness import ROOT, local_client
from scripts.upstream import sample_oauth2_secret

pytestmark = [pytest.mark.terraform, pytest.mark.slow]


@pytest.fixture(scope="module")
def events(multi_source):
    out = multi_source["outputs"]["sources"]["events"]
    local_client("secretsmanager", multi_source["endpoint"]).put_secret_value(
        SecretId=out["secret_arn"], SecretString=json.dumps(sample_oauth2_secret(multi_source["token"]))
    )
    return {**multi_source, "source": out, "bucket": multi_source["outputs"]["lake"]["bucket_name"]}


def sample_api(events, path: str, method: str = "GET") -> dict:
    request = urllib.request.Request(
        events["api"] + path, method=method, headers={"Authorization": f"Bearer {events['token']}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # the loopback sample API
        return json.loads(response.read())


def finished(sfn, execution_arn: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{execution_arn} still runs after {timeout} s"
        time.sleep(0.5)
    return described


def run_machine(events, event: dict) -> dict:
    sfn = local_client("stepfunctions", events["endpoint"])
    started = sfn.start_execution(
        stateMachineArn=events["source"]["run_state_machine_arn"], input=json.dumps(event)
    )
    described = finished(sfn, started["executionArn"])
    history = sfn.get_execution_history(executionArn=started["executionArn"], maxResults=1000)["events"]
    described["invocations"] = sum(1 for e in history if e["type"] == "TaskSucceeded")
    return described


def backfill(events, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    source_file = tmp_path / "events.json"
    source_file.write_text(events["source"]["source_json"])
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "lambda_src"),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",  # the local AWS's dummy credentials
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "lake_ingest",
            "backfill",
            *args,
            "--config",
            str(source_file),
            "--endpoint-url",
            events["endpoint"],
            "--poll-seconds",
            "0.5",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def manifest(events, run_id: str, day: str) -> dict | None:
    key = f"events/ingest_date={day}/run_id={run_id}/_manifest.json"
    try:
        body = local_client("s3", events["endpoint"]).get_object(Bucket=events["bucket"], Key=key)["Body"]
    except local_client("s3", events["endpoint"]).exceptions.NoSuchKey:
        return None
    return json.loads(body.read())


def test_the_schedule_starts_the_run_machine_which_logs_traces_and_encrypts(events):
    out, endpoint = events["source"], events["endpoint"]
    scheduler = local_client("scheduler", endpoint)
    # the schedule lives in the source's own schedule group, tagged as the source (the role trusts it)
    schedule = scheduler.get_schedule(Name="lake-ingest-events", GroupName="lake-ingest-events")
    group = scheduler.get_schedule_group(Name="lake-ingest-events")
    assert group["Arn"] == out["schedule_group_arn"] and group["State"] == "ACTIVE"
    tags = {t["Key"]: t["Value"] for t in scheduler.list_tags_for_resource(ResourceArn=group["Arn"])["Tags"]}
    assert tags["lake-ingest:source-id"] == "events"
    assert schedule["Arn"] == out["schedule_arn"] and schedule["GroupName"] == "lake-ingest-events"
    assert schedule["Target"]["Arn"] == out["run_state_machine_arn"]
    assert json.loads(schedule["Target"]["Input"]) == {"scheduled_time": "<aws.scheduler.scheduled-time>"}
    sfn = local_client("stepfunctions", endpoint)
    for arn in (out["run_state_machine_arn"], out["backfill_state_machine_arn"]):
        machine = sfn.describe_state_machine(stateMachineArn=arn)
        assert machine["type"] == "STANDARD" and machine["tracingConfiguration"] == {"enabled": True}
        assert machine["encryptionConfiguration"]["type"] == "CUSTOMER_MANAGED_KMS_KEY"
        assert machine["encryptionConfiguration"]["kmsKeyId"] == events["outputs"]["lake"]["kms_key_arn"]
        (destination,) = machine["loggingConfiguration"]["destinations"]
        assert destination["cloudWatchLogsLogGroup"]["logGroupArn"].endswith(
            f"log-group:{out['state_machine_log_group_name']}:*"
        )
    assert {"run_failed", "run_timed_out", "backfill_failed", "backfill_windows_failed"} <= set(
        out["alarm_arns"]
    )


def test_a_long_run_finishes_by_itself_through_its_resumes(events):
    """Ten days: 240 events, 12 pages, two an invocation: six invocations, five resumes."""
    window = {"start": "2026-01-16T00:00:00Z", "end": "2026-01-26T00:00:00Z"}
    done = run_machine(events, {"window": window})
    assert done["status"] == "SUCCEEDED", done.get("cause")
    result = json.loads(done["output"])
    assert (result["status"], result["records_ingested"], result["pages"]) == ("SUCCESS", 240, 12)
    assert done["invocations"] == 6 and "already_complete" not in result
    written = manifest(events, result["run_id"], "2026-01-16")
    assert written["complete"] and [p["index"] for p in written["pages"]] == list(range(1, 13))
    expected = sample_api(
        events, "/v1/events?updated_from=2026-01-01T00:00:00Z&updated_to=2026-01-11T00:00:00Z"
    )
    assert written["records_ingested"] == expected["total"]


def test_a_handler_error_fails_the_run_execution_with_that_error(events):
    sample_api(events, "/admin/fail?updated_from=2026-01-20T00:00:00Z", method="POST")
    try:
        failed = run_machine(
            events, {"window": {"start": "2026-01-20T00:00:00Z", "end": "2026-01-21T00:00:00Z"}}
        )
    finally:
        sample_api(events, "/admin/heal", method="POST")
    assert (failed["status"], failed["error"]) == ("FAILED", "UpstreamHTTPError")
    assert "503" in json.loads(failed["cause"])["errorMessage"]
    assert failed["invocations"] == 0


def test_a_backfill_of_30_daily_windows_lands_every_window_and_every_record(events, tmp_path):
    started = time.monotonic()
    process = backfill(events, tmp_path, "start", "--from", "2026-01-01", "--to", "2026-01-31", "--id", "jan")
    elapsed = time.monotonic() - started
    assert process.returncode == 0, process.stderr
    status = json.loads(process.stdout)
    assert status["windows"] == {"total": 30, "done": 30, "failed": 0, "pending": 0}
    for n in range(30):
        start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=n)
        run_id = f"bf-jan-{start:%Y%m%dT%H%M%SZ}-{start + timedelta(days=1):%Y%m%dT%H%M%SZ}"
        written = manifest(events, run_id, f"{start:%Y-%m-%d}")
        assert written is not None and written["complete"], run_id
        assert written["records_ingested"] == 24
    expected = sample_api(
        events, "/v1/events?updated_from=2026-01-01T00:00:00Z&updated_to=2026-01-31T00:00:00Z"
    )
    assert status["records_ingested"] == expected["total"] == 720
    # the plan and item list live under the source's own prefix; a window source keeps no cursor
    s3 = local_client("s3", events["endpoint"])
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=events["bucket"], Prefix="events/_")["Contents"]]
    assert "events/_backfill/jan/backfill.json" in keys and "events/_backfill/jan/items/jan.json" in keys
    assert "events/_state/cursor.json" not in keys
    assert "30 done, 0 failed" in process.stderr
    # Every invocation is a cold process here, five at a time: the first exchanged the rotating refresh
    # token, the others took its access token from the source's token state (it lives 300 s, longer
    # than the backfill): one exchange, none refused, and the secret holds the one live token.
    oauth = sample_api(events, "/admin/oauth2")
    assert oauth["token_requests"] == {"200": 1}
    secrets = local_client("secretsmanager", events["endpoint"])
    current = json.loads(secrets.get_secret_value(SecretId=events["source"]["secret_arn"])["SecretString"])
    assert oauth["live_refresh_tokens"] == [current["refresh_token"]]
    assert "events/_state/oauth2-refresh.lock" in keys
    print(f"30 windows at max_concurrency 5 in {elapsed:.1f} s")


def test_a_failing_window_is_shown_by_status_and_repaired_by_retry(events, tmp_path):
    sample_api(events, "/admin/fail?updated_from=2026-01-12T00:00:00Z", method="POST")
    try:
        first = backfill(
            events, tmp_path, "start", "--from", "2026-01-10", "--to", "2026-01-15", "--id", "flaky"
        )
    finally:
        sample_api(events, "/admin/heal", method="POST")
    assert first.returncode == 1, first.stderr  # a window failed
    status = backfill(events, tmp_path, "status", "--id", "flaky")
    assert status.returncode == 1
    report = json.loads(status.stdout)
    assert report["windows"] == {"total": 5, "done": 4, "failed": 1, "pending": 0}
    (failed,) = report["failed"]
    assert failed["run_id"] == "bf-flaky-20260112T000000Z-20260113T000000Z"
    assert "failed 2026-01-12T00:00:00Z .. 2026-01-13T00:00:00Z" in status.stderr

    retried = backfill(events, tmp_path, "retry", "--id", "flaky")
    assert retried.returncode == 0, retried.stderr
    report = json.loads(retried.stdout)
    assert report["windows"] == {"total": 5, "done": 5, "failed": 0, "pending": 0}
    assert [e["name"] for e in report["executions"]] == ["flaky", "flaky-retry-1"]
    s3 = local_client("s3", events["endpoint"])
    items = json.loads(
        s3.get_object(Bucket=events["bucket"], Key="events/_backfill/flaky/items/flaky-retry-1.json")[
            "Body"
        ].read()
    )
    assert items == [
        {"backfill_id": "flaky", "window": {"start": "2026-01-12T00:00:00Z", "end": "2026-01-13T00:00:00Z"}}
    ]
    again = backfill(events, tmp_path, "retry", "--id", "flaky")
    assert again.returncode == 0 and "nothing to retry" in again.stderr


def test_a_backfill_asking_for_more_than_the_modules_concurrency_is_refused(events):
    sfn = local_client("stepfunctions", events["endpoint"])
    started = sfn.start_execution(
        stateMachineArn=events["source"]["backfill_state_machine_arn"],
        input=json.dumps(
            {
                "backfill_id": "greedy",
                "items_key": "events/_backfill/greedy/items/greedy.json",
                "results_prefix": "events/_backfill/greedy/results",
                "max_concurrency": 50,
            }
        ),
    )
    failed = finished(sfn, started["executionArn"])
    assert (failed["status"], failed["error"]) == ("FAILED", "LakeIngest.ConcurrencyOutOfRange")
    assert "from 1 to 5" in failed["cause"]


def test_a_backfill_item_list_cannot_smuggle_other_event_keys_to_the_function(events):
    """The Distributed Map selects each child's event (ItemSelector): the execution's backfill id and
    the item's window start and end, nothing else. An item list in the lake that also carries another
    backfill id, a scheduled run's id, force, query_params and a resume point still runs each window
    under its own bf-<id>-<start>-<end> run id, and none of those keys reaches the function."""
    s3, sfn = local_client("s3", events["endpoint"]), local_client("stepfunctions", events["endpoint"])
    windows = [
        ("2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z"),
        ("2026-01-06T00:00:00Z", "2026-01-07T00:00:00Z"),
    ]
    forged = {
        "backfill_id": "forged",
        "run_id": "sched-20260101T000000Z",
        "force": True,
        "query_params": {"updated_from": "2025-01-01T00:00:00Z", "smuggled": "yes"},
        "resume": {"page": 2},
    }
    items_key = "events/_backfill/smuggle/items/smuggle.json"
    s3.put_object(
        Bucket=events["bucket"],
        Key=items_key,
        Body=json.dumps([{**forged, "window": {"start": a, "end": b}} for a, b in windows]).encode(),
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=events["outputs"]["lake"]["kms_key_arn"],
    )

    def run(name: str) -> list[dict]:
        """Execute the backfill over the forged item list; the data requests the API answered meanwhile."""
        before = len(sample_api(events, "/admin/requests?path=/v1/events")["requests"])
        started = sfn.start_execution(
            stateMachineArn=events["source"]["backfill_state_machine_arn"],
            name=name,
            input=json.dumps(
                {
                    "backfill_id": "smuggle",
                    "items_key": items_key,
                    "results_prefix": "events/_backfill/smuggle/results",
                    "max_concurrency": 2,
                }
            ),
        )
        done = finished(sfn, started["executionArn"])
        assert done["status"] == "SUCCEEDED", done.get("cause")
        return sample_api(events, "/admin/requests?path=/v1/events")["requests"][before:]

    requests = run("smuggle")
    for start, end in windows:
        compact = [
            datetime.fromisoformat(t.replace("Z", "+00:00")).strftime("%Y%m%dT%H%M%SZ") for t in (start, end)
        ]
        written = manifest(events, f"bf-smuggle-{compact[0]}-{compact[1]}", start[:10])
        assert written is not None and written["complete"] and written["records_ingested"] == 24
    # each window was fetched from its first page, for its own window, with the configured parameters only
    seen = sorted((q["updated_from"], q["updated_to"], q["page"]) for q in (r["query"] for r in requests))
    assert seen == [([start], [end], [page]) for start, end in windows for page in ("1", "2")]
    assert {key for r in requests for key in r["query"]} == {"updated_from", "updated_to", "page", "per_page"}
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=events["bucket"], Prefix="events/ingest_date="
    )
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert not [k for k in keys if "run_id=sched-20260101T000000Z" in k or "run_id=bf-forged-" in k]
    # again: the windows are complete and `force` never reached the function, so nothing is fetched again
    assert run("smuggle-again") == []
