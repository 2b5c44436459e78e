"""The handler end to end: a real upstream server on loopback, moto for S3 / Secrets Manager / KMS."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import time

import pytest
from scripts.upstream import Reply

from lake_ingest import handler
from lake_ingest.config import ConfigError
from lake_ingest.events import EventError
from lake_ingest.http_client import DeadlineExceeded, UpstreamError, UpstreamHTTPError
from lake_ingest.secrets import SecretError
from tests.conftest import LambdaContext

ORDERS = {"data": {"items": [{"id": 1}, {"id": 2}, {"id": 3}]}, "next": None}
ORDERS_BYTES = json.dumps(ORDERS).encode()


def api(upstream, **overrides):
    config = {
        "endpoint": f"{upstream.url}/v1/orders",
        "auth": {"type": "bearer", "secret_field": "api_key"},
        "records_path": "data.items",
        "timeout_seconds": 2,
        "max_retries": 3,
    }
    config.update(overrides)
    return config


def invoke(event=None, **context):
    return handler.lambda_handler(event if event is not None else {}, LambdaContext(**context))


def read_object(source, key):
    obj = source.s3.get_object(Bucket=source.bucket, Key=key)
    return obj, obj["Body"].read()


def test_success_lands_gzip_body_and_manifest_last(make_source, upstream):
    source = make_source(api(upstream))
    upstream.script(Reply(200, ORDERS_BYTES))

    result = invoke({"run_id": "run-1", "scheduled_time": "2026-03-04T05:06:07Z"})

    assert result["status"] == "SUCCESS"
    assert result["source_id"] == "orders-api"
    assert result["run_id"] == "run-1"
    assert result["records_ingested"] == 3
    assert result["pages"] == 1
    assert result["bytes"] == len(ORDERS_BYTES)
    prefix = "orders-api/ingest_date=2026-03-04/run_id=run-1/"
    assert result["objects"] == [prefix + "page-00001.json.gz"]
    assert result["manifest"] == prefix + "_manifest.json"
    assert source.keys() == sorted(result["objects"] + [result["manifest"]])

    obj, stored = read_object(source, result["objects"][0])
    assert gzip.decompress(stored) == ORDERS_BYTES  # byte for byte
    manifest_obj, manifest_raw = read_object(source, result["manifest"])
    manifest = json.loads(manifest_raw)
    assert manifest["complete"] is True
    page = manifest["pages"][0]
    assert page["key"] == result["objects"][0]
    assert page["sha256"] == hashlib.sha256(ORDERS_BYTES).hexdigest()
    assert page["raw_bytes"] == len(ORDERS_BYTES) and page["stored_bytes"] == len(stored)
    assert page["records"] == 3 and page["http_status"] == 200
    assert page["content_type"] == "application/json"
    assert manifest["records_ingested"] == 3
    # The manifest is written after the data object.
    assert manifest_obj["LastModified"] >= obj["LastModified"]
    # Auth reached the upstream as configured.
    assert upstream.requests[0].headers["authorization"] == f"Bearer {source.secret_value['api_key']}"
    assert upstream.requests[0].path == "/v1/orders"


def test_every_object_is_sse_kms_with_the_source_key_and_bucket_key(make_source, upstream):
    source = make_source(api(upstream))
    upstream.script(Reply(200, ORDERS_BYTES))
    result = invoke({"run_id": "kms-check"})
    for key in result["objects"] + [result["manifest"]]:
        head = source.s3.head_object(Bucket=source.bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms", key
        assert head["SSEKMSKeyId"] == source.key_arn, key
        assert head.get("BucketKeyEnabled") is True, key


def test_large_body_goes_multipart_and_round_trips(make_source, upstream, monkeypatch):
    from lake_ingest import sink

    monkeypatch.setattr(sink, "PART_SIZE", 5 * 1024 * 1024)
    source = make_source(api(upstream, records_path="", max_parse_bytes=32 * 1024 * 1024))
    # Incompressible-ish JSON array so that the gzip stream exceeds one 5 MiB part.
    items = [base64.b64encode(hashlib.sha512(str(i).encode()).digest()).decode() for i in range(120_000)]
    body = json.dumps(items).encode()
    upstream.script(Reply(200, body))
    result = invoke({"run_id": "big"})
    obj, stored = read_object(source, result["objects"][0])
    assert gzip.decompress(stored) == body
    assert "-" in obj["ETag"]  # a multipart ETag: "<md5>-<parts>"
    assert result["records_ingested"] == 120_000
    head = source.s3.head_object(Bucket=source.bucket, Key=result["objects"][0])
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == source.key_arn


def test_5xx_then_success_retries(make_source, upstream):
    make_source(api(upstream))
    upstream.script(Reply(503, b"busy"), Reply(502, b"bad gateway"), Reply(200, ORDERS_BYTES))
    result = invoke({"run_id": "retry"})
    assert result["status"] == "SUCCESS" and result["records_ingested"] == 3
    assert len(upstream.requests) == 3


def test_429_honours_retry_after_seconds(make_source, upstream):
    make_source(api(upstream))
    upstream.script(
        Reply(429, b"slow down", {"Retry-After": "1", "Content-Type": "text/plain"}), Reply(200, ORDERS_BYTES)
    )
    result = invoke({"run_id": "throttled"})
    assert result["status"] == "SUCCESS"
    first, second = upstream.requests
    assert second.at - first.at >= 1.0


def test_retry_after_past_the_deadline_raises_without_sleeping(make_source, upstream):
    source = make_source(api(upstream))
    upstream.script(Reply(429, b"", {"Retry-After": "120"}))
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="deadline"):
        invoke({"run_id": "late"}, timeout_seconds=10)
    assert time.monotonic() - started < 5
    assert len(upstream.requests) == 1
    assert source.keys() == []


def test_persistent_5xx_raises_and_writes_nothing(make_source, upstream):
    source = make_source(api(upstream, max_retries=2))
    upstream.default = Reply(500, b"<html>internal error</html>", {"Content-Type": "text/html"})
    with pytest.raises(UpstreamHTTPError, match=r"HTTP 500.*after 3 attempt") as error:
        invoke({"run_id": "broken"})
    assert error.value.status == 500
    assert len(upstream.requests) == 3
    assert source.keys() == []  # no data object and, above all, no manifest


def test_401_raises_after_one_secret_re_read_and_is_not_stored(make_source, upstream):
    source = make_source(api(upstream))
    upstream.default = Reply(401, b'{"error":"bad token"}')
    with pytest.raises(UpstreamHTTPError, match="HTTP 401") as error:
        invoke({"run_id": "denied"})
    assert error.value.status == 401
    assert len(upstream.requests) == 2  # no backoff retries: one more try after re-reading the secret
    assert source.keys() == []


@pytest.mark.parametrize("status", [400, 404, 422])
def test_other_4xx_raise_at_once_and_are_not_stored(make_source, upstream, status):
    source = make_source(api(upstream))
    upstream.default = Reply(status, b'{"error":"nope"}')
    with pytest.raises(UpstreamHTTPError, match=f"HTTP {status}.*not retried"):
        invoke({"run_id": "client-error"})
    assert len(upstream.requests) == 1
    assert source.keys() == []


def test_timeout_is_retried_then_raises(make_source, upstream):
    source = make_source(api(upstream, timeout_seconds=0.3, max_retries=1))
    upstream.default = Reply(200, ORDERS_BYTES, delay=1.5)
    with pytest.raises(UpstreamError, match=r"timed out after 0\.3s.*after 2 attempt"):
        invoke({"run_id": "slow"})
    assert len(upstream.requests) == 2
    assert source.keys() == []


def test_accepted_non_json_body_is_stored_with_null_count_and_reason(make_source, upstream):
    source = make_source(api(upstream, content_types=["text/csv"]))
    upstream.script(Reply(200, b"id,amount\n1,10\n", {"Content-Type": "text/csv"}))
    result = invoke({"run_id": "csv"})
    assert result["status"] == "SUCCESS"
    assert result["records_ingested"] is None
    assert "not text/csv" in result["records_note"]
    assert result["objects"][0].endswith("page-00001.csv.gz")
    manifest = json.loads(read_object(source, result["manifest"])[1])
    assert manifest["pages"][0]["records"] is None
    assert "counted in JSON and NDJSON" in manifest["pages"][0]["records_note"]


def test_missing_secret_field_raises_naming_the_field(make_source, upstream):
    source = make_source(api(upstream), secret_value={"token": "abcdefgh"})
    with pytest.raises(SecretError, match="api_key"):
        invoke({"run_id": "nosecret"})
    assert upstream.requests == [] and source.keys() == []


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"run_id": "../etc"}, "run_id"),
        ({"run_id": 7}, "run_id"),
        ({"scheduled_time": "yesterday"}, "scheduled_time"),
        ({"query_params": ["a"]}, "query_params"),
        ({"query_params": {"since": {"nested": 1}}}, "query_params.since"),
        ("not an object", "event"),
    ],
)
def test_bad_event_raises_naming_the_field(make_source, upstream, event, field):
    source = make_source(api(upstream))
    with pytest.raises(EventError, match=f"invalid event: {field}:"):
        invoke(event)
    assert upstream.requests == [] and source.keys() == []


def test_bad_config_raises_naming_the_field(make_source, upstream, monkeypatch):
    make_source(api(upstream))
    monkeypatch.setenv("API_CONFIG", json.dumps({"endpoint": "http://example.com/data"}))
    with pytest.raises(ConfigError, match=r"API_CONFIG\.endpoint"):
        invoke({})
    monkeypatch.delenv("RAW_BUCKET")
    monkeypatch.setenv("API_CONFIG", json.dumps(api(upstream)))
    with pytest.raises(ConfigError, match="RAW_BUCKET"):
        invoke({})


def test_a_forced_rerun_of_a_run_id_rewrites_the_same_keys(make_source, upstream):
    source = make_source(api(upstream))
    event = {"run_id": "daily-2026-03-04", "scheduled_time": "2026-03-04T00:00:00Z"}
    upstream.script(Reply(200, ORDERS_BYTES), Reply(200, ORDERS_BYTES))
    first = invoke(event)
    keys_after_first = source.keys()
    second = invoke({**event, "force": True})
    assert len(upstream.requests) == 2 and "already_complete" not in second
    assert second["objects"] == first["objects"] and second["manifest"] == first["manifest"]
    assert source.keys() == keys_after_first


def test_a_completed_run_invoked_again_is_answered_from_its_manifest(make_source, upstream):
    """Lambda retries an invocation whose result was lost: the API is not called a second time."""
    source = make_source(api(upstream))
    event = {"run_id": "daily-2026-03-05", "scheduled_time": "2026-03-05T00:00:00Z"}
    upstream.script(Reply(200, ORDERS_BYTES))
    first = invoke(event)
    versions = source.s3.list_object_versions(Bucket=source.bucket)["Versions"]
    again = invoke(event)
    assert len(upstream.requests) == 1
    assert again["already_complete"] is True
    assert {k: v for k, v in again.items() if k != "already_complete"} == first  # published list included
    assert source.s3.list_object_versions(Bucket=source.bucket)["Versions"] == versions  # nothing written


def test_scheduled_event_without_run_id_derives_a_stable_one(make_source, upstream):
    source = make_source(api(upstream))
    event = {"scheduled_time": "2026-05-06T07:00:00Z"}
    upstream.script(Reply(200, ORDERS_BYTES), Reply(200, ORDERS_BYTES))
    first = invoke(event, aws_request_id="11111111-1111-4111-8111-111111111111")
    second = invoke(event, aws_request_id="22222222-2222-4222-8222-222222222222")
    assert first["run_id"] == second["run_id"] == "sched-20260506T070000Z"
    assert first["objects"] == second["objects"]
    assert len(source.keys()) == 2


def test_event_query_params_merge_over_configured_ones(make_source, upstream):
    make_source(api(upstream, query_params={"limit": 100, "since": "2020-01-01"}))
    upstream.script(Reply(200, ORDERS_BYTES))
    invoke({"run_id": "q", "query_params": {"since": "2026-01-01"}})
    assert upstream.requests[0].query == {"limit": ["100"], "since": ["2026-01-01"]}


@pytest.mark.parametrize(
    ("auth", "secret", "check"),
    [
        (
            {"type": "header", "secret_field": "key", "header_name": "X-Api-Token"},
            {"key": "hdr-secret-123"},
            lambda r: r.headers["x-api-token"] == "hdr-secret-123",
        ),
        (
            {"type": "query", "secret_field": "key", "param_name": "apikey"},
            {"key": "qry-secret-123"},
            lambda r: r.query["apikey"] == ["qry-secret-123"],
        ),
        (
            {"type": "basic"},
            {"username": "svc-user", "password": "pw-secret-123"},
            lambda r: (
                r.headers["authorization"] == "Basic " + base64.b64encode(b"svc-user:pw-secret-123").decode()
            ),
        ),
        ({"type": "none"}, {}, lambda r: "authorization" not in r.headers),
    ],
)
def test_auth_types(make_source, upstream, auth, secret, check):
    make_source(api(upstream, auth=auth), secret_value=secret)
    upstream.script(Reply(200, ORDERS_BYTES))
    invoke({"run_id": "auth"})
    assert check(upstream.requests[0])


def test_post_with_json_body(make_source, upstream):
    make_source(api(upstream, method="POST", body={"query": "{ orders { id } }"}))
    upstream.script(Reply(200, ORDERS_BYTES))
    invoke({"run_id": "post"})
    seen = upstream.requests[0]
    assert seen.method == "POST"
    assert json.loads(seen.body) == {"query": "{ orders { id } }"}


def test_secret_never_appears_in_logs_errors_or_results(make_source, upstream, capfd, log_stream):
    query_auth = {"type": "query", "secret_field": "api_key", "param_name": "api_key"}
    source = make_source(api(upstream, auth=query_auth, max_retries=1))
    secret = source.secret_value["api_key"]
    # The upstream even echoes the credential in its error body.
    upstream.script(Reply(200, ORDERS_BYTES))
    upstream.default = Reply(503, f"bad key {secret}".encode(), {"Content-Type": "text/plain"})
    result = invoke({"run_id": "ok"})
    with pytest.raises(UpstreamHTTPError) as error:
        invoke({"run_id": "fails"})
    captured = capfd.readouterr()
    logs = log_stream.getvalue()
    assert upstream.requests[0].query["api_key"] == [secret]  # it was really sent
    assert "retrying" in logs and "run failed" in logs  # the failure path was logged...
    assert secret not in logs + captured.out + captured.err  # ...without the credential
    assert secret not in str(error.value)
    assert "***" in str(error.value)
    assert secret not in json.dumps(result)
    manifest = json.loads(read_object(source, result["manifest"])[1])
    assert secret not in json.dumps(manifest)
    # Logs are structured JSON with the source and run id on every line.
    lines = [json.loads(line) for line in logs.splitlines()]
    assert len(lines) >= 4
    for line in lines:
        assert line["source_id"] == "orders-api"
        assert line["run_id"] in ("ok", "fails")


def test_secret_is_cached_across_warm_invocations(make_source, upstream):
    import boto3

    source = make_source(api(upstream))
    upstream.default = Reply(200, ORDERS_BYTES)
    invoke({"run_id": "warm-1"})
    # Rotate the value behind the handler's back: a warm invocation keeps using the cached one.
    boto3.client("secretsmanager").put_secret_value(
        SecretId=source.secret_arn, SecretString=json.dumps({"api_key": "rotated-value"})
    )
    invoke({"run_id": "warm-2"})
    sent = [r.headers["authorization"] for r in upstream.requests]
    assert sent == [f"Bearer {source.secret_value['api_key']}"] * 2


def test_truncated_body_raises_and_leaves_no_object(make_source, upstream):
    source = make_source(api(upstream, max_retries=0))
    upstream.script(Reply(200, ORDERS_BYTES, truncate_to=10))
    with pytest.raises(UpstreamError, match="broke off"):
        invoke({"run_id": "cut"})
    assert source.keys() == []


def test_metrics_are_emitted_as_emf(make_source, upstream, capfd):
    make_source(api(upstream))
    upstream.script(Reply(503, b""), Reply(200, ORDERS_BYTES))
    invoke({"run_id": "metrics"})
    out = capfd.readouterr().out
    emf = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    assert len(emf) == 1
    doc = emf[0]
    names = {m["Name"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"RecordsIngested", "BytesIngested", "Pages", "UpstreamRetries", "UpstreamLatency"} <= names
    assert doc["RecordsIngested"] == [3.0] and doc["UpstreamRetries"] == [1.0]
    assert doc["SourceId"] == "orders-api"


@pytest.mark.parametrize(
    ("auth", "secret", "leaked"),
    [
        # A value that URL-encoding changes must not leak in its encoded form either.
        (
            {"type": "query", "param_name": "key"},
            {"api_key": "a+b/c=d&e f"},
            ["a+b/c=d&e f", "a%2Bb%2Fc%3Dd%26e+f"],
        ),
        # The Basic token is the base64 of user:password, not the password itself.
        (
            {"type": "basic"},
            {"username": "svc-user", "password": "pw-9876"},
            ["pw-9876", base64.b64encode(b"svc-user:pw-9876").decode()],
        ),
    ],
)
def test_encoded_credentials_are_scrubbed_too(make_source, upstream, log_stream, auth, secret, leaked):
    make_source(api(upstream, auth=auth, max_retries=0), secret_value=secret)
    seen = {}

    def echo(request):
        seen["query"] = request.query
        return Reply(500, f"bad request {request.headers.get('authorization')} {request.path}".encode())

    upstream.responder = echo
    upstream.default = None
    with pytest.raises(UpstreamHTTPError) as error:
        invoke({"run_id": "encoded"})
    text = str(error.value) + log_stream.getvalue()
    assert seen  # the request was really made with the credential
    for form in leaked:
        assert form not in text, form


def test_rejected_credentials_are_re_read_once_for_rotations(make_source, upstream):
    import boto3

    source = make_source(api(upstream))
    old = source.secret_value["api_key"]
    upstream.script(Reply(200, ORDERS_BYTES))
    invoke({"run_id": "before-rotation"})  # caches the old value
    boto3.client("secretsmanager").put_secret_value(
        SecretId=source.secret_arn, SecretString=json.dumps({"api_key": "rotated-key-123"})
    )

    def only_new_key(request):
        ok = request.headers.get("authorization") == "Bearer rotated-key-123"
        return Reply(200, ORDERS_BYTES) if ok else Reply(401, b'{"error":"expired"}')

    upstream.responder = only_new_key
    result = invoke({"run_id": "after-rotation"})
    assert result["status"] == "SUCCESS"
    sent = [r.headers["authorization"] for r in upstream.requests[1:]]
    assert sent == [f"Bearer {old}", "Bearer rotated-key-123"]  # one rejection, one re-read, one retry


def test_credentials_rejected_after_the_re_read_raise(make_source, upstream):
    source = make_source(api(upstream))
    upstream.default = Reply(403, b'{"error":"forbidden"}')
    with pytest.raises(UpstreamHTTPError, match="HTTP 403") as error:
        invoke({"run_id": "forbidden"})
    assert error.value.status == 403
    assert len(upstream.requests) == 2  # the original call and exactly one retry with a fresh secret
    assert source.keys() == []


def test_bodies_over_max_parse_bytes_stream_and_are_still_counted(make_source, upstream):
    source = make_source(api(upstream, records_path="", max_parse_bytes=16))
    upstream.script(Reply(200, b"[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"))
    result = invoke({"run_id": "big-page"})
    assert result["records_ingested"] == 10
    stored = read_object(source, result["objects"][0])[1]
    assert gzip.decompress(stored) == b"[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"


def test_a_record_over_the_parse_limit_is_stored_and_counted_but_not_held(make_source, upstream):
    source = make_source(api(upstream, records_path="", max_parse_bytes=16))
    body = json.dumps(["x" * (2 << 20), "y"]).encode()  # one 2 MiB string: over the scanner's floor
    upstream.script(Reply(200, body))
    result = invoke({"run_id": "huge-value"})
    assert result["status"] == "SUCCESS"
    assert result["records_ingested"] == 2 and "records_note" not in result
    assert gzip.decompress(read_object(source, result["objects"][0])[1]) == body
    page = json.loads(read_object(source, result["manifest"])[1])["pages"][0]
    assert page["records_object"]["records"] == 1 and page["records_object"]["not_written"] == 1


def test_401_twice_says_the_secret_was_re_read_and_names_it(make_source, upstream):
    source = make_source(api(upstream))
    upstream.script(Reply(401, b'{"error":"bad token"}'), Reply(401, b'{"error":"still bad"}'))
    with pytest.raises(UpstreamHTTPError) as error:
        invoke({"run_id": "denied-twice"})
    assert str(error.value) == (
        f'upstream returned HTTP 401: {{"error":"still bad"}} for GET {upstream.url}/v1/orders again after '
        "re-reading the secret (it may have rotated) and retrying once; "
        f"check the credentials in {source.secret_arn}"
    )
    assert "not retried" not in str(error.value)
    assert error.value.status == 401 and len(upstream.requests) == 2


def test_401_then_200_succeeds_after_the_re_read(make_source, upstream):
    make_source(api(upstream))
    upstream.script(Reply(401, b'{"error":"expired"}'), Reply(200, ORDERS_BYTES))
    result = invoke({"run_id": "denied-once"})
    assert result["status"] == "SUCCESS" and result["records_ingested"] == 3
    assert len(upstream.requests) == 2


def test_401_without_auth_is_not_retried_and_says_so(make_source, upstream):
    make_source(api(upstream, auth={"type": "none"}))
    upstream.default = Reply(401, b'{"error":"who are you"}')
    with pytest.raises(UpstreamHTTPError, match=r"HTTP 401.*\(not retried\)$"):
        invoke({"run_id": "no-auth"})
    assert len(upstream.requests) == 1


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ({"token": "abcdefgh", "user": "u"}, "field api_key is missing (the secret has: token, user)"),
        ({}, "field api_key is missing (the secret has no fields)"),
        ({"api_key": ""}, "field api_key is empty"),
        ({"api_key": 98765432}, "field api_key is a number; it must be a string"),
        ({"api_key": 1234.5678}, "field api_key is a number; it must be a string"),
        ({"api_key": True}, "field api_key is true or false; it must be a string"),
        ({"api_key": None}, "field api_key is null; it must be a string"),
        ({"api_key": ["abcdefgh"]}, "field api_key is a list; it must be a string"),
        ({"api_key": {"v": "abcdefgh"}}, "field api_key is an object; it must be a string"),
    ],
)
def test_a_bad_secret_field_is_reported_by_what_is_wrong(make_source, upstream, secret, problem):
    source = make_source(api(upstream), secret_value=secret)
    with pytest.raises(SecretError) as error:
        invoke({"run_id": "bad-secret"})
    assert str(error.value) == f"secret {source.secret_arn}: {problem}; auth type 'bearer' reads api_key"
    assert "98765432" not in str(error.value) and "abcdefgh" not in str(error.value)
    assert upstream.requests == [] and source.keys() == []


def test_every_bad_field_of_a_basic_auth_secret_is_reported(make_source, upstream):
    auth = {"type": "basic"}
    source = make_source(api(upstream, auth=auth), secret_value={"username": 42, "password": ""})
    with pytest.raises(SecretError) as error:
        invoke({"run_id": "bad-basic"})
    assert str(error.value) == (
        f"secret {source.secret_arn}: field username is a number; it must be a string; "
        "field password is empty; auth type 'basic' reads username, password"
    )
