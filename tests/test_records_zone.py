"""The records zone and the published lists, end to end: a real upstream on loopback, the local AWS.

What the documented queries rely on: every record of a data page lands once, as its exact text, with
where it came from; a run's records are listed (published) only when its manifest is complete; a
retry writes the same keys, a forced re-run the next attempt; typed columns hold what fits their type.
"""

from __future__ import annotations

import gzip
import json
import re

import pytest
from scripts.upstream import Reply

from lake_ingest import sink as sink_module
from lake_ingest.__main__ import main
from lake_ingest.publishing import PublishFailed
from tests.test_handler import api, invoke
from tests.test_incremental_runs import ChangingApi, cursor_api

HIVE_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$")


def records_objects(source) -> list[str]:
    return [k for k in source.all_keys() if "/records/" in k]


def lines_of(source, key: str) -> list[dict]:
    body = gzip.decompress(source.s3.get_object(Bucket=source.bucket, Key=key)["Body"].read())
    assert body.endswith(b"\n")
    return [json.loads(line) for line in body.decode().splitlines()]


def published(source, date: str, run_id: str) -> list[dict] | None:
    key = f"orders-api/published/ingest_date={date}/run_id={run_id}.ndjson"
    try:
        body = source.s3.get_object(Bucket=source.bucket, Key=key)["Body"].read()
    except source.s3.exceptions.NoSuchKey:
        return None
    return [json.loads(line) for line in body.decode().splitlines()]


def manifest_of(source, result) -> dict:
    return json.loads(source.s3.get_object(Bucket=source.bucket, Key=result["manifest"])["Body"].read())


# The elements of this page, as sent: odd spacing, exponents, big integers, escapes, nesting, scalars.
ELEMENTS = [
    b'{"id":1,"price":1.10,"big":12345678901234567890}',
    b'{ "b" : 2,\n   "a" : "\\u00e9\\n\\ud800" }',
    b'{"nested": {"x": [1, 2.50e1]}, "line\xe2\x80\xa8sep": "\xe2\x80\xa9"}',
    b'"plain"',
    b"3.0e2",
    b"null",
]
PAGE = b'{"data": {"items": [ ' + b" ,\n ".join(ELEMENTS) + b' ]}, "next": null}'


def test_each_record_lands_once_as_the_exact_text_the_api_sent_with_its_lineage(make_source, upstream):
    source = make_source(api(upstream))
    upstream.script(Reply(200, PAGE))
    result = invoke({"run_id": "exact", "partition_date": "2026-03-04"})
    assert result["status"] == "SUCCESS" and result["records_ingested"] == len(ELEMENTS)

    key = "orders-api/records/ingest_date=2026-03-04/run_id=exact/attempt=1/page-00001.ndjson.gz"
    assert records_objects(source) == [key]
    rows = lines_of(source, key)
    assert [row["record"].encode() for row in rows] == ELEMENTS  # byte for byte, not re-serialized
    assert [row["record_index"] for row in rows] == list(range(len(ELEMENTS)))
    for row in rows:
        assert (row["run_id"], row["attempt"], row["page"]) == ("exact", 1, 1)
        assert HIVE_TIMESTAMP.match(row["ingested_at"])
        assert set(row) == {"run_id", "attempt", "page", "record_index", "ingested_at", "record"}
    head = source.s3.head_object(Bucket=source.bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == source.key_arn

    entry = manifest_of(source, result)["pages"][0]["records_object"]
    body = gzip.decompress(source.s3.get_object(Bucket=source.bucket, Key=key)["Body"].read())
    assert b"\xe2\x80\xa8" not in body and body.count(b"\n") == len(
        ELEMENTS
    )  # one line per record, whatever splits
    assert entry["key"] == key and entry["records"] == len(ELEMENTS) and entry["bytes"] == len(body)
    assert published(source, "2026-03-04", "exact") == [
        {
            "run_id": "exact",
            "attempt": 1,
            "page": 1,
            "records": len(ELEMENTS),
            "object": f"s3://{source.bucket}/{key}",
            "published_at": published(source, "2026-03-04", "exact")[0]["published_at"],
        }
    ]
    assert result["published"] == {
        "key": "orders-api/published/ingest_date=2026-03-04/run_id=exact.ndjson",
        "pages": 1,
    }


def test_ndjson_lines_land_as_records_without_their_line_ends(make_source, upstream):
    source = make_source(api(upstream, records_path=""))
    body = b'{"id":1}\r\n\n{"id": 2}\n  \n{"id":3,"s":"\\r"}'
    upstream.script(Reply(200, body, headers={"Content-Type": "application/x-ndjson"}))
    result = invoke({"run_id": "nd", "partition_date": "2026-03-04"})
    assert result["records_ingested"] == 3
    (key,) = records_objects(source)
    assert [row["record"] for row in lines_of(source, key)] == ['{"id":1}', '{"id": 2}', '{"id":3,"s":"\\r"}']


def test_every_page_of_a_run_is_published_once_when_the_run_completes(make_source, upstream):
    source = make_source(
        api(
            upstream,
            records_path="data",
            pagination={"type": "page_number", "page_size_param": "per_page", "page_size": 2},
        )
    )
    pages = [[{"id": 1}, {"id": 2}], [{"id": 3}, {"id": 4}], [{"id": 5}], []]
    upstream.script(*(Reply(200, json.dumps({"data": p}).encode()) for p in pages))
    result = invoke({"run_id": "paged", "partition_date": "2026-03-04"})
    assert result["status"] == "SUCCESS" and result["records_ingested"] == 5
    listed = published(source, "2026-03-04", "paged")
    # the empty last page has no records object and is not listed
    assert [(p["page"], p["records"]) for p in listed] == [(1, 2), (2, 2), (3, 1)]
    assert sorted(p["object"].removeprefix(f"s3://{source.bucket}/") for p in listed) == records_objects(
        source
    )
    ids = [
        json.loads(r["record"])["id"] for p in listed for r in lines_of(source, p["object"].split("/", 3)[3])
    ]
    assert ids == [1, 2, 3, 4, 5]


def test_a_quarantined_page_adds_no_records_and_its_run_is_not_published(make_source, upstream):
    source = make_source(api(upstream, records_path="data", pagination={"type": "page_number"}))
    upstream.script(
        Reply(200, b'{"data": [{"id": 1}]}'),
        Reply(200, b'{"data": [{"id": 2}, '),  # not JSON: quarantined
    )
    result = invoke({"run_id": "bad", "partition_date": "2026-03-04"})
    assert result["status"] == "QUARANTINED"
    assert [k.rsplit("/", 1)[1] for k in records_objects(source)] == ["page-00001.ndjson.gz"]
    assert published(source, "2026-03-04", "bad") is None
    assert "published" not in result


def test_a_partial_run_is_published_only_once_its_resume_completes_it(make_source, upstream):
    source = make_source(
        api(upstream, records_path="data", pagination={"type": "page_number", "max_pages": 2})
    )
    upstream.script(
        *(Reply(200, json.dumps({"data": [{"id": i}]}).encode()) for i in (1, 2, 3)),
        Reply(200, b'{"data": []}'),
    )
    partial = invoke({"run_id": "long", "partition_date": "2026-03-04"})
    assert partial["status"] == "PARTIAL_SUCCESS"
    assert published(source, "2026-03-04", "long") is None
    done = invoke(partial["resume_event"])
    assert done["status"] == "SUCCESS"
    listed = published(source, "2026-03-04", "long")
    assert [(p["page"], p["attempt"]) for p in listed] == [(1, 1), (2, 1), (3, 1)]


def test_a_retried_invocation_writes_the_same_keys_and_a_forced_rerun_the_next_attempt(make_source, upstream):
    source = make_source(api(upstream))
    upstream.script(Reply(200, PAGE))
    first = invoke({"run_id": "again", "partition_date": "2026-03-04"})
    before = records_objects(source)
    listed = published(source, "2026-03-04", "again")

    retried = invoke({"run_id": "again", "partition_date": "2026-03-04"})  # Lambda's retry
    assert retried["already_complete"] is True and records_objects(source) == before
    # the same list (here not even rewritten: moto lets HeadObject find it; on AWS the role cannot
    # read published/, so a retry lists the same pages again)
    assert published(source, "2026-03-04", "again") == listed

    upstream.script(Reply(200, b'{"data": {"items": [{"id": 9}]}}'))
    forced = invoke({"run_id": "again", "partition_date": "2026-03-04", "force": True})
    assert forced["status"] == "SUCCESS"
    assert [p["attempt"] for p in published(source, "2026-03-04", "again")] == [2]
    new = [k for k in records_objects(source) if k not in before]
    assert new == ["orders-api/records/ingest_date=2026-03-04/run_id=again/attempt=2/page-00001.ndjson.gz"]
    assert [r["record"] for r in lines_of(source, new[0])] == ['{"id": 9}']
    assert first["published"]["key"] == forced["published"]["key"]


def test_a_run_whose_publishing_failed_raises_and_its_retry_publishes(make_source, upstream, monkeypatch):
    source = make_source(api(upstream))
    upstream.script(Reply(200, PAGE))
    real_put = sink_module.S3Sink.put_bytes

    def failing_put(self, key, body, content_type):
        if "/published/" in key:
            raise OSError("connection reset")
        return real_put(self, key, body, content_type)

    monkeypatch.setattr(sink_module.S3Sink, "put_bytes", failing_put)
    with pytest.raises(PublishFailed, match="invoke the same run_id and partition_date again"):
        invoke({"run_id": "late", "partition_date": "2026-03-04"})
    assert published(source, "2026-03-04", "late") is None
    monkeypatch.setattr(sink_module.S3Sink, "put_bytes", real_put)

    retried = invoke({"run_id": "late", "partition_date": "2026-03-04"})
    assert retried["already_complete"] is True and len(upstream.requests) == 1  # nothing fetched again
    assert [p["records"] for p in published(source, "2026-03-04", "late")] == [len(ELEMENTS)]


def test_typed_columns_hold_what_fits_their_type_and_null_otherwise(make_source, upstream):
    columns = {
        "id": "bigint",
        "amount": "decimal(10,2)",
        "ratio": "double",
        "paid": "boolean",
        "name": "string",
        "created": "timestamp",
        "day": "date",
        "tags": "string",
    }
    records = [
        {
            "id": 1,
            "amount": "12.30",
            "ratio": 0.5,
            "paid": True,
            "name": 'a"b',
            "created": "2026-03-04T05:06:07.5+01:00",
            "day": "2026-03-04",
            "tags": ["x", 1],
        },
        {
            "id": "2",
            "amount": 7,
            "ratio": "1e3",
            "paid": "yes",
            "name": 5,
            "created": 1772600767,
            "day": "2026-03-04T23:30:00Z",
        },
        {
            "id": 1.5,
            "amount": "n/a",
            "ratio": "NaN",
            "paid": None,
            "created": "not a time",
            "day": "04/03/2026",
        },
        ["not", "an", "object"],
    ]
    source = make_source(api(upstream), RECORDS_CONFIG=json.dumps({"columns": columns}))
    upstream.script(Reply(200, json.dumps({"data": {"items": records}}).encode()))
    invoke({"run_id": "typed", "partition_date": "2026-03-04"})
    rows = lines_of(source, records_objects(source)[0])
    typed = [{c: row[c] for c in columns} for row in rows]
    assert typed[0] == {
        "id": 1,
        "amount": 12.3,
        "ratio": 0.5,
        "paid": True,
        "name": 'a"b',
        "created": "2026-03-04 04:06:07.500",
        "day": "2026-03-04",
        "tags": '["x",1]',
    }
    assert typed[1] == {
        "id": 2,
        "amount": 7,
        "ratio": 1000.0,
        "paid": None,
        "name": "5",
        "created": "2026-03-04 05:06:07.000",
        "day": "2026-03-04",
        "tags": None,
    }
    assert typed[2] == dict.fromkeys(columns)
    assert typed[3] == dict.fromkeys(columns)  # an element that is not an object has no fields
    # decimals are written as exact digits, not floats
    raw_line = gzip.decompress(
        source.s3.get_object(Bucket=source.bucket, Key=records_objects(source)[0])["Body"].read()
    )
    assert b'"amount":12.30' in raw_line


def test_a_cursor_source_records_carry_the_cursor_value_each_was_read_at(make_source, upstream):
    source = make_source(cursor_api(upstream))
    changing = ChangingApi()
    upstream.responder = changing
    changing.put(1, "2026-01-02T10:00:00+02:00")
    changing.put(2, "2026-01-02T11:00:00Z")
    invoke({"run_id": "cur", "partition_date": "2026-01-02"})
    rows = lines_of(source, records_objects(source)[0])
    assert [row["cursor_value"] for row in rows] == ["2026-01-02 08:00:00.000", "2026-01-02 11:00:00.000"]


def test_with_the_records_zone_off_only_the_raw_zone_is_written(make_source, upstream):
    source = make_source(api(upstream), RECORDS_CONFIG=json.dumps({"enabled": False}))
    upstream.script(Reply(200, PAGE))
    result = invoke({"run_id": "raw-only", "partition_date": "2026-03-04"})
    assert result["status"] == "SUCCESS" and "published" not in result
    assert source.all_keys() == source.keys()  # nothing under records/, published/, no schema state
    assert all("records_object" not in p for p in manifest_of(source, result)["pages"])


def test_a_record_too_large_to_hold_stays_in_the_raw_page_and_is_counted_as_not_written(
    make_source, upstream
):
    source = make_source(api(upstream, records_path="data", max_parse_bytes=1 << 20))
    huge = {"id": 2, "blob": "x" * (3 << 19)}  # longer than max_parse_bytes: never held whole
    body = json.dumps({"data": [{"id": 1}, huge, {"id": 3}]}).encode()
    upstream.script(Reply(200, body))
    result = invoke({"run_id": "huge", "partition_date": "2026-03-04"})
    assert result["status"] == "SUCCESS" and result["records_ingested"] == 3
    rows = lines_of(source, records_objects(source)[0])
    assert [(row["record_index"], row["record"]) for row in rows] == [(0, '{"id": 1}'), (2, '{"id": 3}')]
    entry = manifest_of(source, result)["pages"][0]["records_object"]
    assert entry["records"] == 2 and entry["not_written"] == 1


def _schema_source(make_source, upstream, on_schema_change):
    return make_source(api(upstream), RECORDS_CONFIG=json.dumps({"on_schema_change": on_schema_change}))


def test_a_schema_change_is_reported_and_alarmed_but_published_by_default(make_source, upstream, capfd):
    source = _schema_source(make_source, upstream, "alarm")
    upstream.script(Reply(200, b'{"data": {"items": [{"id": 1, "name": "a"}]}}'))
    invoke({"run_id": "s1", "partition_date": "2026-03-04"})
    upstream.script(
        Reply(200, b'{"data": {"items": [{"id": 2, "name": 5, "extra": true}, {"id": 3, "name": null}]}}')
    )
    capfd.readouterr()
    second = invoke({"run_id": "s2", "partition_date": "2026-03-04"})
    assert second["status"] == "SUCCESS" and published(source, "2026-03-04", "s2") is not None
    schema = manifest_of(source, second)["schema"]
    assert schema["changes"] == {"new": ["extra"], "missing": [], "retyped": ["name"]}
    assert schema["compared_with"] == "s1"
    emf = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf[-1]["SchemaChanges"] == [2.0]


def test_optional_fields_and_empty_runs_are_no_change(make_source, upstream, capfd):
    source = _schema_source(make_source, upstream, "quarantine")
    upstream.script(Reply(200, b'{"data": {"items": [{"id": 1, "note": "x"}, {"id": 2}]}}'))
    invoke({"run_id": "o1", "partition_date": "2026-03-04"})
    upstream.script(Reply(200, b'{"data": {"items": []}}'))
    empty = invoke({"run_id": "o2", "partition_date": "2026-03-04"})
    assert empty["status"] == "SUCCESS" and manifest_of(source, empty)["schema"] is None
    upstream.script(Reply(200, b'{"data": {"items": [{"id": 3}]}}'))  # no note this time
    small = invoke({"run_id": "o3", "partition_date": "2026-03-04"})
    assert small["status"] == "SUCCESS"
    assert manifest_of(source, small)["schema"]["changes"] == {"new": [], "retyped": [], "missing": ["note"]}
    stored = json.loads(
        source.s3.get_object(Bucket=source.bucket, Key="orders-api/_state/schema.json")["Body"].read()
    )
    assert stored["fields"] == {"id": ["number"], "note": ["string"]}  # still known


def test_a_quarantine_source_stops_on_a_change_until_it_is_accepted(
    make_source, upstream, tmp_path, aws_endpoint, capsys
):
    source = _schema_source(make_source, upstream, "quarantine")
    upstream.script(Reply(200, b'{"data": {"items": [{"id": 1}]}}'))
    invoke({"run_id": "q1", "partition_date": "2026-03-04"})
    changed = Reply(200, b'{"data": {"items": [{"id": "2", "renamed": 1}]}}')
    upstream.script(changed)
    stopped = invoke({"run_id": "q2", "partition_date": "2026-03-04"})
    assert (stopped["status"], stopped["stop_reason"]) == ("QUARANTINED", "schema_changed")
    assert published(source, "2026-03-04", "q2") is None
    assert stopped.get("resume_event") is None  # run the run id again once the change is accepted

    config = tmp_path / "source.json"
    config.write_text(
        json.dumps(
            {
                "source_id": "orders-api",
                "raw_bucket": source.bucket,
                "raw_prefix": "orders-api",
                "kms_key_arn": source.key_arn,
                "allow_http_loopback": True,
                "api_config": api(upstream),
            }
        )
    )
    capsys.readouterr()
    assert main(["schema", "show", "--config", str(config), "--endpoint-url", aws_endpoint]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["schema"]["fields"] == {"id": ["number"]} and shown["schema"]["run_id"] == "q1"
    assert main(["schema", "accept", "--config", str(config), "--endpoint-url", aws_endpoint]) == 0
    assert json.loads(capsys.readouterr().out)["schema"]["accept_next"] is True

    upstream.script(changed)
    again = invoke({"run_id": "q2", "partition_date": "2026-03-04"})
    assert again["status"] == "SUCCESS" and published(source, "2026-03-04", "q2") is not None
    stored = json.loads(
        source.s3.get_object(Bucket=source.bucket, Key="orders-api/_state/schema.json")["Body"].read()
    )
    assert stored == {
        "fields": {"id": ["string"], "renamed": ["number"]},
        "run_id": "q2",
        "accept_next": False,
    }


def test_hostile_records_land_as_sent_deep_nesting_duplicate_keys_and_escapes(make_source, upstream):
    deep = b"[" * 50_000 + b"]" * 50_000  # deeper than Python's decoder recurses
    duplicate = b'{"id": 1, "id": 2, "amount": "x"}'
    escapes = b'{"s": "\\u0000\\"\\\\\\/\\b\\f\\n\\r\\t\\ud83d\\ude00", "n": -0.0e-0}'
    body = b'{"data": {"items": [' + b", ".join([deep, duplicate, escapes]) + b"]}}"
    source = make_source(
        api(upstream), RECORDS_CONFIG=json.dumps({"columns": {"id": "bigint", "amount": "double"}})
    )
    upstream.script(Reply(200, body))
    result = invoke({"run_id": "hostile", "partition_date": "2026-03-04"})
    assert result["status"] == "SUCCESS" and result["records_ingested"] == 3
    rows = lines_of(source, records_objects(source)[0])
    assert [row["record"].encode() for row in rows] == [deep, duplicate, escapes]
    assert [(row["id"], row["amount"]) for row in rows] == [
        (None, None),
        (2, None),
        (None, None),
    ]  # last key wins


def test_a_body_that_is_not_utf8_adds_no_records(make_source, upstream):
    source = make_source(api(upstream))
    upstream.script(Reply(200, b'{"data": {"items": [{"name": "caf\xe9"}]}}'))
    result = invoke({"run_id": "latin1", "partition_date": "2026-03-04"})
    assert result["status"] == "QUARANTINED" and records_objects(source) == []
