"""The push writer end to end: SQS batches as Lambda delivers them, the handler, the local AWS (moto).

What a push source's table relies on: one batch lands as one complete, published run (records object,
manifest, list), each event's exact text with its lineage, id, times and typed columns; a batch delivered
again writes the same keys; a bad message is handed back alone; a failure raises and publishes nothing;
`latest` keeps one row per event, the newest by event time.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from lake_ingest import sink as sink_module
from lake_ingest.__main__ import main
from lake_ingest.config import ConfigError, load_config, load_push_config
from lake_ingest.push.writer import batch_run_id
from tests.conftest import REGION
from tests.test_handler import invoke

PUSH_CONFIG = {
    "signature": "stripe",
    "header_name": None,
    "tolerance_seconds": 300,
    "max_body_bytes": 256000,
    "event_id": None,
    "event_time": "$.created",
    "replay_retention_seconds": 604800,
}
COLUMNS = {"type": "string", "amount": "bigint", "order": "string", "paid": "boolean"}
HIVE = "%Y-%m-%d %H:%M:%S.%f"


class PushSource:
    """A push source's function environment over a real (moto) bucket and KMS key."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, columns: dict[str, str]) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.bucket = f"raw-{uuid.uuid4().hex[:10]}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        self.columns = columns
        for name in ("API_CONFIG", "RAW_PREFIX", "RAW_BUCKET_OWNER", "SECRET_CACHE_SECONDS"):
            monkeypatch.delenv(name, raising=False)
        env = {
            "SOURCE_ID": "stripe-events",
            "RAW_BUCKET": self.bucket,
            "KMS_KEY_ARN": self.key_arn,
            # Set, as the module sets it, though the writer never reads it (its role cannot).
            "SECRET_ARN": f"arn:aws:secretsmanager:{REGION}:123456789012:secret:never-read",
            "PUSH_CONFIG": json.dumps(PUSH_CONFIG),
            "RECORDS_CONFIG": json.dumps({"enabled": True, "columns": columns, "primary_key": []}),
            "POWERTOOLS_METRICS_NAMESPACE": "LakeIngestTest",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    def keys(self, under: str = "stripe-events/") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=under)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def read(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def lines(self, key: str) -> list[dict[str, Any]]:
        text = gzip.decompress(self.read(key)).decode()
        assert text.endswith("\n") and len(text.split("\n")) == text.count("\n") + 1
        return [json.loads(line) for line in text.split("\n")[:-1]]

    def published(self) -> list[dict[str, Any]]:
        return [
            json.loads(line)
            for key in self.keys("stripe-events/published/")
            for line in self.read(key).decode().splitlines()
        ]

    def source_json(self, folder: Path, primary_key: list[str]) -> Path:
        """The module's source_json for this source: api_config null, push with its URL."""
        path = folder / f"source-{'-'.join(primary_key) or 'default'}.json"
        document = {
            "source_id": "stripe-events",
            "raw_bucket": self.bucket,
            "raw_prefix": "stripe-events",
            "kms_key_arn": self.key_arn,
            "api_config": None,
            "push": {
                **PUSH_CONFIG,
                "url": "https://abc123.execute-api.us-east-1.amazonaws.com/hooks/stripe-events",
            },
            "table": {
                "enabled": True,
                "columns": self.columns,
                "primary_key": primary_key,
                "on_schema_change": "alarm",
                "database": "lake",
                "name": "stripe_events",
                "published_name": "stripe_events_published",
            },
        }
        path.write_text(json.dumps(document))
        return path


@pytest.fixture
def push_source(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> PushSource:
    return PushSource(monkeypatch, COLUMNS)


def string(value: str) -> dict[str, Any]:
    return {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"}


def message(
    body: str,
    event_id: str,
    received_at: str,
    event_time: str | None = None,
    message_id: str | None = None,
    encoding: str = "text",
) -> dict[str, Any]:
    """One SQS record as Lambda delivers it, with the attributes the ingress sends."""
    attributes = {
        "event_id": string(event_id),
        "received_at": string(received_at),
        "event_time": string(event_time or received_at),
        "encoding": string(encoding),
        "content_type": string("application/json"),
        "signature": string("stripe"),
    }
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEB" + uuid.uuid4().hex,
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1796374800000"},
        "messageAttributes": attributes,
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - what SQS sends
        "md5OfMessageAttributes": "00000000000000000000000000000000",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:stripe-events-push",
        "awsRegion": REGION,
    }


def batch(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def event(event_id: str, created: str, **fields: Any) -> tuple[str, str, str]:
    """A Stripe-like body (odd spacing kept, to show `record` is the exact text) and its ids and time."""
    body = json.dumps(
        {"id": event_id, "created": created, **fields}, separators=(", ", ":  "), ensure_ascii=False
    )
    return body, event_id, created


def records_key(run_id: str, date: str) -> str:
    return f"stripe-events/records/ingest_date={date}/run_id={run_id}/attempt=1/page-00001.ndjson.gz"


def manifest_of(source: PushSource) -> dict[str, Any]:
    keys = [k for k in source.keys() if k.endswith("/_manifest.json")]
    assert len(keys) == 1, keys
    manifest: dict[str, Any] = json.loads(source.read(keys[0]))
    return manifest


def test_a_batch_lands_as_one_published_run_with_each_events_exact_text(push_source):
    first = event("evt_1", "2026-12-04T08:59:58Z", type="invoice.paid", amount=1250, paid=True)[0]
    third = '{"id": "evt_3", "note": "line\u2028separated \u2029 too", "amount": "not a number"}'
    records = [
        message(first, "evt_1", "2026-12-04T09:00:05.120Z", "2026-12-04T08:59:58.000Z", "m-1"),
        message(third, "evt_3", "2026-12-04T09:00:06.250Z", message_id="m-3"),
        message("token=abc&type=form", "sha-of-body", "2026-12-04T09:00:07.000Z", message_id="m-2"),
    ]

    assert invoke(batch(*records)) == {"batchItemFailures": []}

    run_id = "push-" + hashlib.sha256(b"m-1\nm-2\nm-3").hexdigest()[:16]
    manifest = manifest_of(push_source)
    date = manifest["partition_date"]
    key = records_key(run_id, date)
    assert push_source.keys() == sorted(
        [
            key,
            f"stripe-events/published/ingest_date={date}/run_id={run_id}.ndjson",
            f"stripe-events/ingest_date={date}/run_id={run_id}/_manifest.json",
        ]
    )
    head = push_source.s3.head_object(Bucket=push_source.bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == push_source.key_arn
    lines = push_source.lines(key)
    ingested_at = lines[0]["ingested_at"]
    assert lines == [
        {
            "run_id": run_id,
            "attempt": 1,
            "page": 1,
            "ingested_at": ingested_at,
            "record_index": 0,
            "record": first,
            "cursor_value": "2026-12-04 08:59:58.000",
            "event_id": "evt_1",
            "received_at": "2026-12-04 09:00:05.120",
            "type": "invoice.paid",
            "amount": 1250,
            "order": None,
            "paid": True,
        },
        {
            "run_id": run_id,
            "attempt": 1,
            "page": 1,
            "ingested_at": ingested_at,
            "record_index": 1,
            "record": third,  # U+2028 and U+2029 survive (escaped in the line, see below)
            "cursor_value": "2026-12-04 09:00:06.250",  # no event time: when it was received
            "event_id": "evt_3",
            "received_at": "2026-12-04 09:00:06.250",
            "type": None,
            "amount": None,  # does not fit bigint
            "order": None,
            "paid": None,
        },
        {
            "run_id": run_id,
            "attempt": 1,
            "page": 1,
            "ingested_at": ingested_at,
            "record_index": 2,
            "record": "token=abc&type=form",  # no JSON: kept as text, every typed column null
            "cursor_value": "2026-12-04 09:00:07.000",
            "event_id": "sha-of-body",
            "received_at": "2026-12-04 09:00:07.000",
            "type": None,
            "amount": None,
            "order": None,
            "paid": None,
        },
    ]
    raw = gzip.decompress(push_source.read(key))
    assert "\u2028".encode() not in raw and b"\\u2028" in raw and b"\\u2029" in raw
    assert date == ingested_at[:10]

    assert manifest["complete"] is True and manifest["status"] == "SUCCESS"
    assert manifest["run_id"] == run_id and manifest["attempt"] == 1 and manifest["records_ingested"] == 3
    assert manifest["push"] == {"messages": 3, "message_ids": ["m-1", "m-2", "m-3"]}
    [page] = manifest["pages"]
    assert (
        page["index"] == 1 and page["records_object"]["key"] == key and page["records_object"]["records"] == 3
    )
    [listed] = push_source.published()
    assert listed["run_id"] == run_id and listed["attempt"] == 1 and listed["page"] == 1
    assert listed["records"] == 3 and listed["object"] == f"s3://{push_source.bucket}/{key}"


def test_a_batch_delivered_again_rewrites_the_same_keys(push_source, tmp_path, aws_endpoint, capsys):
    body, event_id, created = event("evt_1", "2026-12-04T08:59:58Z", amount=5)
    records = [message(body, event_id, "2026-12-04T09:00:05.120Z", created, "m-1")]
    invoke(batch(*records))
    keys = push_source.keys()
    invoke(batch(*records))  # the visibility timeout ran out before the first answer was seen

    assert push_source.keys() == keys and len(keys) == 3
    config = push_source.source_json(tmp_path, [])
    capsys.readouterr()
    args = ["query", "--config", str(config), "--endpoint-url", aws_endpoint, "--json", "--named", "complete"]
    assert main(args) == 0, capsys.readouterr().err
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["event_id"], r["run_id"]) for r in rows] == [("evt_1", batch_run_id(["m-1"]))]


def test_a_message_that_does_not_decode_is_handed_back_alone(push_source):
    body, event_id, created = event("evt_1", "2026-12-04T08:59:58Z")
    no_id = message(body, "x", "2026-12-04T09:00:05.120Z", message_id="m-no-id")
    del no_id["messageAttributes"]["event_id"]
    bad_base64 = message(
        "not base64!", "evt_2", "2026-12-04T09:00:05.120Z", message_id="m-b64", encoding="base64"
    )
    bad_time = message(body, "evt_3", "yesterday", message_id="m-time")
    control = '{"id": "evt_4", "text": "bell \u0007"}'
    encoded = base64.b64encode(control.encode()).decode()
    records = [
        message(body, event_id, "2026-12-04T09:00:05.120Z", created, "m-good"),
        no_id,
        message(encoded, "evt_4", "2026-12-04T09:00:05.500Z", message_id="m-base64", encoding="base64"),
        bad_base64,
        bad_time,
    ]

    answer = invoke(batch(*records))

    assert answer == {
        "batchItemFailures": [
            {"itemIdentifier": "m-no-id"},
            {"itemIdentifier": "m-b64"},
            {"itemIdentifier": "m-time"},
        ]
    }
    manifest = manifest_of(push_source)
    assert manifest["push"]["message_ids"] == ["m-base64", "m-good"]
    assert manifest["run_id"] == batch_run_id(["m-good", "m-base64"])
    lines = push_source.lines(manifest["pages"][0]["records_object"]["key"])
    assert [(line["event_id"], line["record"]) for line in lines] == [("evt_1", body), ("evt_4", control)]


def test_a_batch_of_only_bad_messages_writes_nothing(push_source):
    records = [message("%%%", "evt_1", "2026-12-04T09:00:05Z", message_id="m-1", encoding="base64")]
    assert invoke(batch(*records)) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert push_source.keys() == []


def test_a_failed_write_raises_publishes_nothing_and_the_redelivery_lands(push_source, monkeypatch, capfd):
    body, event_id, created = event("evt_1", "2026-12-04T08:59:58Z")
    records = [message(body, event_id, "2026-12-04T09:00:05.120Z", created, "m-1")]
    put_json = sink_module.S3Sink.put_json

    def manifest_refused(self, key, document, scrub=str):
        if key.endswith("/_manifest.json"):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "PutObject")
        return put_json(self, key, document, scrub)

    monkeypatch.setattr(sink_module.S3Sink, "put_json", manifest_refused)
    capfd.readouterr()
    with pytest.raises(ClientError, match="AccessDenied"):
        invoke(batch(*records))

    emf = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"_aws"' in line][-1]
    assert (
        emf["PushBatchFailed"] == [1.0]
        and emf["SourceId"] == "stripe-events"
        and "PushEventsWritten" not in emf
    )
    assert push_source.published() == []
    assert [k.rsplit("/", 1)[-1] for k in push_source.keys() if "/records/" not in k] == ["_failure.json"]

    monkeypatch.setattr(sink_module.S3Sink, "put_json", put_json)
    assert invoke(batch(*records)) == {"batchItemFailures": []}
    emf = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"_aws"' in line][-1]
    assert emf["PushEventsWritten"] == [1.0] and "PushBatchFailed" not in emf
    assert [p["run_id"] for p in push_source.published()] == [batch_run_id(["m-1"])]


def test_a_missing_bucket_raises_and_nothing_is_written(push_source, monkeypatch):
    monkeypatch.setenv("RAW_BUCKET", f"gone-{uuid.uuid4().hex[:10]}")
    body, event_id, created = event("evt_1", "2026-12-04T08:59:58Z")
    with pytest.raises(ClientError, match="NoSuchBucket"):
        invoke(batch(message(body, event_id, "2026-12-04T09:00:05.120Z", created)))
    assert push_source.keys() == []


def test_runs_manifest_and_records_show_push_batches(push_source, tmp_path, aws_endpoint, capsys):
    body, event_id, created = event("evt_1", "2026-12-04T08:59:58Z", type="invoice.paid")
    invoke(batch(message(body, event_id, "2026-12-04T09:00:05.120Z", created, "m-1")))
    run_id = batch_run_id(["m-1"])
    config = str(push_source.source_json(tmp_path, []))
    common = ["--config", config, "--endpoint-url", aws_endpoint]

    capsys.readouterr()
    assert main(["runs", *common, "--json"]) == 0, capsys.readouterr().err
    [run] = json.loads(capsys.readouterr().out)["runs"]
    assert (run["run_id"], run["status"], run["pages"], run["records"]) == (run_id, "SUCCESS", 1, 1)
    assert main(["manifest", *common, "--run-id", run_id]) == 0
    assert json.loads(capsys.readouterr().out)["push"]["message_ids"] == ["m-1"]
    assert main(["records", *common, "--run-id", run_id]) == 0
    assert capsys.readouterr().out == body + "\n"


@pytest.mark.parametrize("command", ["try", "run"])
def test_a_push_source_has_nothing_to_try_or_run(push_source, tmp_path, capsys, command):
    config = push_source.source_json(tmp_path, [])
    capsys.readouterr()
    assert main([command, str(config)]) == 1
    said = capsys.readouterr()
    assert f"this is a push source: it receives events at its push url and has nothing to {command}" in (
        said.out + said.err
    )


def test_latest_keeps_one_row_per_event_the_newest_by_event_time(push_source, tmp_path, aws_endpoint, capsys):
    paid = event("evt_1", "2026-12-04T10:00:00Z", order="o1", type="paid")
    created = event("evt_2", "2026-12-04T10:05:00Z", order="o2", type="created")
    refunded = event("evt_3", "2026-12-04T10:10:00Z", order="o1", type="refunded\u2028!")
    pending = event("evt_4", "2026-12-04T09:55:00Z", order="o2", type="pending")  # older, delivered later
    first = [message(b, i, "2026-12-04T10:10:01Z", t) for b, i, t in (paid, created, refunded)]
    retry = (paid[0], paid[1], "2026-12-04T10:11:00Z", paid[2])  # the sender's retry after a lost 2xx
    second = [message(*retry), message(pending[0], pending[1], "2026-12-04T10:12:00Z", pending[2])]
    assert invoke(batch(*first)) == {"batchItemFailures": []}
    assert invoke(batch(*second)) == {"batchItemFailures": []}

    def latest(primary_key: list[str]) -> list[tuple[Any, ...]]:
        config = push_source.source_json(tmp_path, primary_key)
        capsys.readouterr()
        args = [
            "query",
            "--config",
            str(config),
            "--endpoint-url",
            aws_endpoint,
            "--json",
            "--named",
            "latest",
        ]
        assert main(args) == 0, capsys.readouterr().err
        rows = json.loads(capsys.readouterr().out)["rows"]
        return sorted((r["order"], r["event_id"], r["type"], r["cursor_value"]) for r in rows)

    # The default key: one row per event id (evt_1 arrived twice).
    assert latest([]) == [
        ("o1", "evt_1", "paid", "2026-12-04 10:00:00"),
        ("o1", "evt_3", "refunded\u2028!", "2026-12-04 10:10:00"),
        ("o2", "evt_2", "created", "2026-12-04 10:05:00"),
        ("o2", "evt_4", "pending", "2026-12-04 09:55:00"),
    ]
    # A business key: the newest event by its time, not by its delivery (evt_4 came last but is older).
    assert latest(["order"]) == [
        ("o1", "evt_3", "refunded\u2028!", "2026-12-04 10:10:00"),
        ("o2", "evt_2", "created", "2026-12-04 10:05:00"),
    ]


def test_the_handler_sends_queue_batches_to_the_writer_and_other_events_fail_clearly(push_source):
    with pytest.raises(ConfigError, match="this function serves a push source"):
        invoke({"run_id": "manual"})
    body, event_id, created = event("evt_1", "2026-12-04T08:59:58Z")
    assert invoke(batch(message(body, event_id, "2026-12-04T09:00:05.120Z", created))) == {
        "batchItemFailures": []
    }
    assert len(push_source.published()) == 1


def test_a_pull_source_without_api_config_still_fails_on_it(push_source, monkeypatch):
    monkeypatch.delenv("PUSH_CONFIG")
    with pytest.raises(ConfigError, match="API_CONFIG: environment variable is missing or empty"):
        load_config()
    with pytest.raises(ConfigError, match="PUSH_CONFIG: environment variable is missing or empty"):
        load_push_config()


def test_a_push_source_config_refuses_what_its_rows_cannot_hold(push_source, monkeypatch):
    assert load_push_config().push.signature == "stripe"
    monkeypatch.setenv("RECORDS_CONFIG", json.dumps({"columns": {"event_id": "string"}}))
    with pytest.raises(ConfigError, match=r"RECORDS_CONFIG\.columns\.event_id"):
        load_push_config()
    monkeypatch.setenv("RECORDS_CONFIG", json.dumps({"enabled": False}))
    with pytest.raises(ConfigError, match=r"RECORDS_CONFIG\.enabled"):
        load_push_config()
    monkeypatch.setenv("PUSH_CONFIG", json.dumps({**PUSH_CONFIG, "signature": "hmac"}))
    with pytest.raises(ValueError, match=r"PUSH_CONFIG\.signature"):
        load_push_config()
