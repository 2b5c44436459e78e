"""Trying a source across runs (`try --lake DIR`) and looking at what landed (`runs`, `manifest`,
`records`, `cursor`, `alarms`, and `state`, `schema`, `query` on a local lake), run as a user runs
them: a subprocess with PYTHONPATH=lambda_src, a real upstream on loopback."""

from __future__ import annotations

import json
import subprocess
import sys

import boto3

from tests.test_incremental_runs import ChangingApi
from tests.test_local_runner import HOSTILE_AWS_ENVIRONMENT, cli_env, write_source


def cursor_source(upstream, **extra) -> dict:
    return {
        "source_id": "orders",
        "allow_http_loopback": True,
        "api_config": {
            "endpoint": f"{upstream.url}/v1/orders",
            "records_path": "data",
            "query_params": {"updated_since": "{cursor}"},
            "incremental": {
                "type": "cursor",
                "cursor_path": "updated_at",
                "initial_value": "2026-01-01T00:00:00Z",
            },
        },
        **extra,
    }


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lake_ingest", *args],
        capture_output=True,
        text=True,
        env=env or cli_env(**HOSTILE_AWS_ENVIRONMENT),
        timeout=120,
        check=False,
    )


def test_a_cursor_source_tried_twice_with_a_lake_fetches_only_what_is_new(upstream, tmp_path):
    api = ChangingApi()
    upstream.responder = api
    api.put(1, "2026-01-02T10:00:00Z")
    api.put(2, "2026-01-02T11:00:00Z")
    source = write_source(tmp_path, cursor_source(upstream))
    lake = tmp_path / "lake"

    first = cli("try", str(source), "--lake", str(lake))
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["records_ingested"] == 2
    assert "a new lake" in first.stderr and f"the local lake {lake} holds" in first.stderr
    api.put(3, "2026-01-02T12:00:00Z")
    second = cli("try", str(source), "--lake", str(lake))
    assert second.returncode == 0, second.stderr
    result = json.loads(second.stdout)
    assert result["records_ingested"] == 1 and result["cursor"]["from"] == "2026-01-02T11:00:00Z"
    assert upstream.requests[-1].query["updated_since"] == ["2026-01-02T11:00:00Z"]
    assert (lake / "orders" / "_state" / "cursor.json").is_file()

    # what landed, looked at with the same folder
    runs = cli("runs", "--config", str(source), "--lake", str(lake), "--json")
    assert runs.returncode == 0, runs.stderr
    listed = json.loads(runs.stdout)["runs"]
    assert [(r["status"], r["records"]) for r in listed] == [("SUCCESS", 1), ("SUCCESS", 2)]  # newest first
    table = cli("runs", "--config", str(source), "--lake", str(lake))
    assert table.stdout.splitlines()[0].split() == [
        "ingest_date",
        "run_id",
        "status",
        "pages",
        "records",
        "bytes",
        "duration_s",
        "started_at",
    ]
    assert listed[0]["run_id"] in table.stdout

    records = cli("records", "--config", str(source), "--lake", str(lake), "--run-id", listed[1]["run_id"])
    assert records.returncode == 0, records.stderr
    assert [json.loads(line)["id"] for line in records.stdout.splitlines()] == [1, 2]
    assert "2 record(s) of run" in records.stderr

    manifest = cli("manifest", "--config", str(source), "--lake", str(lake), "--run-id", listed[0]["run_id"])
    assert json.loads(manifest.stdout)["records_ingested"] == 1
    as_json = cli(
        "manifest", "--config", str(source), "--lake", str(lake), "--run-id", listed[0]["run_id"], "--json"
    )
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == json.loads(manifest.stdout)

    cursor = cli("cursor", "--config", str(source), "--lake", str(lake))
    assert cursor.returncode == 0 and "cursor      2026-01-02T12:00:00Z" in cursor.stdout
    state = cli("state", "show", "--config", str(source), "--lake", str(lake))
    assert json.loads(state.stdout)["state"]["cursor"] == "2026-01-02T12:00:00Z"

    query = cli("query", "--config", str(source), "--lake", str(lake), "--named", "complete", "--json")
    assert query.returncode == 0, query.stderr
    assert sorted(json.loads(r["record"])["id"] for r in json.loads(query.stdout)["rows"]) == [1, 2, 3]


def test_state_set_on_a_local_lake_is_what_the_next_try_sends(upstream, tmp_path):
    api = ChangingApi()
    upstream.responder = api
    api.put(1, "2026-01-02T10:00:00Z")
    source = write_source(tmp_path, cursor_source(upstream))
    lake = tmp_path / "lake"
    assert cli("try", str(source), "--lake", str(lake)).returncode == 0
    moved = cli(
        "state", "set", "--config", str(source), "--lake", str(lake), "--value", "2026-01-01T05:00:00Z"
    )
    assert moved.returncode == 0, moved.stderr
    again = cli("try", str(source), "--lake", str(lake))
    assert upstream.requests[-1].query["updated_since"] == ["2026-01-01T05:00:00Z"]
    assert json.loads(again.stdout)["records_ingested"] == 1


def test_a_cursor_source_tried_without_a_lake_says_its_cursor_is_discarded(upstream, tmp_path):
    upstream.responder = ChangingApi()
    process = cli("try", str(write_source(tmp_path, cursor_source(upstream))))
    assert process.returncode == 0, process.stderr
    assert "discarded with the local AWS" in process.stderr and "--lake DIR" in process.stderr


def test_records_come_from_the_raw_pages_when_the_records_zone_is_off(upstream, tmp_path):
    upstream.responder = api = ChangingApi()
    api.put(7, "2026-01-02T10:00:00Z")
    source = write_source(tmp_path, cursor_source(upstream, table={"enabled": False}))
    lake = tmp_path / "lake"
    done = cli("try", str(source), "--lake", str(lake))
    assert done.returncode == 0, done.stderr
    assert not (lake / "orders" / "records").exists()
    run_id = json.loads(done.stdout)["run_id"]
    records = cli("records", "--config", str(source), "--lake", str(lake), "--run-id", run_id)
    assert [json.loads(line) for line in records.stdout.splitlines()] == [
        {"id": 7, "updated_at": "2026-01-02T10:00:00Z"}
    ]


def test_mistakes_are_said_plainly(upstream, tmp_path):
    source = write_source(tmp_path, cursor_source(upstream))
    missing = cli("runs", "--config", str(source), "--lake", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "is not a folder" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = cli("runs", "--config", str(source), "--lake", str(tmp_path / "empty"))
    assert empty.returncode == 0 and "no runs in the local lake" in empty.stderr
    unknown = cli("records", "--config", str(source), "--lake", str(tmp_path / "empty"), "--run-id", "nope")
    assert unknown.returncode == 1 and "no run 'nope'" in unknown.stderr
    no_bucket = cli("runs", "--config", str(source))
    assert no_bucket.returncode == 1 and "raw_bucket" in no_bucket.stderr and "--lake DIR" in no_bucket.stderr


def test_alarms_shows_each_alarm_and_its_state(aws_endpoint, upstream, tmp_path):
    cloudwatch = boto3.client("cloudwatch", endpoint_url=aws_endpoint, region_name="us-east-1")
    for name in ("lake-ingest-orders-error-rate", "lake-ingest-orders-freshness"):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="Errors",
            Namespace="AWS/Lambda",
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
        )
    cloudwatch.set_alarm_state(
        AlarmName="lake-ingest-orders-freshness", StateValue="ALARM", StateReason="no run"
    )
    names = ["lake-ingest-orders-error-rate", "lake-ingest-orders-freshness", "lake-ingest-orders-gone"]
    source = write_source(tmp_path, cursor_source(upstream, raw_bucket="orders-lake", alarm_names=names))
    env = cli_env(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
    shown = cli("alarms", "--config", str(source), "--endpoint-url", aws_endpoint, "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert [(a["alarm"], a["state"]) for a in document["alarms"]] == [
        ("lake-ingest-orders-freshness", "ALARM"),  # alarms first
        ("lake-ingest-orders-error-rate", "OK"),  # moto starts alarms OK
    ]
    assert document["missing"] == ["lake-ingest-orders-gone"]
    table = cli("alarms", "--config", str(source), "--endpoint-url", aws_endpoint, env=env)
    assert "no run" in table.stdout and "not found in CloudWatch: lake-ingest-orders-gone" in table.stderr


def test_records_piped_into_a_reader_that_stops_early_ends_quietly(upstream, tmp_path):
    """`records ... | head`: the reader closes the pipe after a line; the command stops as `cat` does
    (exit 141), with no traceback."""
    upstream.responder = api = ChangingApi()
    for n in range(3000):  # well over a pipe's 64 KiB buffer
        api.put(n, f"2026-01-02T10:{n // 60 % 60:02d}:{n % 60:02d}Z")
    source = write_source(tmp_path, cursor_source(upstream))
    lake = tmp_path / "lake"
    done = cli("try", str(source), "--lake", str(lake))
    assert done.returncode == 0, done.stderr
    run = ["--run-id", json.loads(done.stdout)["run_id"]]
    reader = subprocess.Popen(
        [sys.executable, "-m", "lake_ingest", "records", "--config", str(source), "--lake", str(lake), *run],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(**HOSTILE_AWS_ENVIRONMENT),
    )
    assert json.loads(reader.stdout.readline())["id"] >= 0
    reader.stdout.close()
    stderr = reader.stderr.read().decode()
    assert reader.wait(timeout=60) == 141, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr


def test_the_commands_run_in_the_projects_environment_from_any_directory(tmp_path):
    """`make venv` puts lambda_src on the venv's path: `python -m lake_ingest` needs no PYTHONPATH."""
    env = {k: v for k, v in cli_env(**HOSTILE_AWS_ENVIRONMENT).items() if k != "PYTHONPATH"}
    process = subprocess.run(
        [sys.executable, "-m", "lake_ingest", "records", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    assert "--run-id" in process.stdout
