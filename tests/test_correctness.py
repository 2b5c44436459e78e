"""Nothing silently skipped, no false alarm (issue 20): each case here lost data or raised a false alarm
before its fix. A real API on loopback (the sample API where the README's examples need one), moto
for AWS, the handler as Lambda calls it.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError, IncompleteReadError
from scripts.upstream import SAMPLE_CLIENT_ID, Reply, ScriptedUpstream, sample_api

from lake_ingest import aws_clients, handler, oauth2, paths
from lake_ingest.backfill import Backfills, BackfillTarget, failure_reason
from lake_ingest.config import load_config
from lake_ingest.events import parse_event
from lake_ingest.jsonscan import JsonScanner
from lake_ingest.s3_reads import S3ReadError
from lake_ingest.secrets import secrets_client
from lake_ingest.state import StateLocked, StateStore, state_key
from tests.conftest import LambdaContext
from tests.readme_examples import module_arguments
from tests.test_backfill import cli_env, write_source

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def invoke(event, **context):
    return handler.lambda_handler(event, LambdaContext(**context))


def manifest(source, key):
    return json.loads(source.s3.get_object(Bucket=source.bucket, Key=key)["Body"].read())


# -- 1. a path can name any key --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "document", "found"),
    [
        ("@odata.nextLink", {"@odata.nextLink": "u"}, "u"),
        ("@odata.nextLink", {"@odata": {"nextLink": "v"}}, "v"),
        ('["@odata.nextLink"]', {"@odata": {"nextLink": "v"}}, paths.MISSING),
        ('meta["total.count"]', {"meta": {"total.count": 7}}, 7),
        ("meta.total", {"meta.total": 1, "meta": {"total": 2}}, 1),  # the whole key is tried first
        ('["a \\"quoted\\" key"]', {'a "quoted" key': True}, True),
        ("ids.1", {"ids": [5, 6]}, 6),
    ],
)
def test_a_path_names_any_key(path, document, found):
    assert paths.value_at(document, path) == found
    scanner = JsonScanner("", capture=[path])
    scanner.feed(json.dumps([]).encode())
    wrapped = JsonScanner("items", capture=[path])
    wrapped.feed(json.dumps({**document, "items": []}).encode())
    result = wrapped.close()
    assert result.values.get(path, paths.MISSING) == found or isinstance(found, list)


def test_records_under_a_key_with_a_dot(make_source, upstream):
    source = make_source(
        {"endpoint": f"{upstream.url}/x", "auth": {"type": "none"}, "records_path": "d.items"}
    )
    upstream.script(Reply(200, b'{"d.items": [1, 2, 3], "d": {"items": [9]}}'))
    assert invoke({"run_id": "dots"})["records_ingested"] == 3
    assert source.keys()


def test_the_readmes_oauth2_example_ingests_every_page_of_an_odata_api(make_source):
    """The worked OAuth2 example of docs/authentication.md, pointed at the sample API's OData collection
    and its token endpoint: next_url_path = "@odata.nextLink" must follow every page (it once stopped
    at 1)."""
    token = "tok-" + secrets.token_hex(8)
    api = ScriptedUpstream(responder=sample_api(token)).start()
    try:
        config = module_arguments("tickets")["api_config"]
        assert config["pagination"]["next_url_path"] == "@odata.nextLink"
        config["endpoint"] = f"{api.url}/v2/tickets"
        config["auth"]["token_url"] = f"{api.url}/oauth2/token"
        source = make_source(config, {"client_id": SAMPLE_CLIENT_ID, "client_secret": token})
        oauth2.TOKENS.clear()
        result = invoke({"run_id": "readme-odata"})
    finally:
        api.stop()
        oauth2.TOKENS.clear()
    assert result["status"] == "SUCCESS" and result["pages"] == 3 and result["records_ingested"] == 150
    assert manifest(source, result["manifest"])["pages"][2]["url"].endswith("$skiptoken=100&$top=50")


# -- 2, 3. placeholders where the check accepts them; initial_value as written -----------------------


def cursor_config(upstream, endpoint_query: str = "", **incremental):
    return {
        "endpoint": f"{upstream.url}/v1/orders{endpoint_query}",
        "auth": {"type": "none"},
        "records_path": "data",
        "incremental": {"type": "cursor", "cursor_path": "id", **incremental},
    }


def test_a_cursor_in_the_endpoints_query_is_sent_and_initial_value_as_written(make_source, upstream):
    make_source(
        cursor_config(
            upstream, "?after={cursor}&limit=2", cursor_type="number", initial_value=0, lookback=100
        )
    )
    upstream.script(Reply(200, b'{"data": [{"id": 150}, {"id": 420}]}'), Reply(200, b'{"data": []}'))
    invoke({"run_id": "q-1"})
    invoke({"run_id": "q-2"})
    sent = [(r.query["after"][0], r.query["limit"][0]) for r in upstream.requests]
    assert sent == [("0", "2"), ("320", "2")]  # 0 as written (not -100); then 420 less the lookback


# -- 4. one fetch per run id at a time ---------------------------------------------------------------


def test_copies_of_one_scheduled_event_fetch_once(make_source, upstream):
    source = make_source(cursor_config(upstream, "?after={cursor}", cursor_type="number", initial_value=0))
    upstream.default = Reply(200, b'{"data": [{"id": 7}]}', delay=0.5)
    config, client = load_config(), handler._s3_client()
    event = {"scheduled_time": "2026-05-01T06:00:00Z"}
    barrier, outcomes = threading.Barrier(4), []

    def deliver() -> None:
        run = parse_event(event, "req")
        barrier.wait()
        try:
            outcomes.append(handler.run_ingestion(config, run, lambda: 60_000, client).status)
        except StateLocked as locked:
            outcomes.append(str(locked))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(upstream.requests) == 1  # one copy fetched
    assert outcomes.count("SUCCESS") == 1
    refused = [o for o in outcomes if o != "SUCCESS"]
    assert len(refused) == 3 and all(
        "another delivery of this same run (sched-20260501T060000Z" in o for o in refused
    )
    assert all("ran past the function timeout" not in o for o in refused)
    again = invoke(event)  # Lambda's retry of a refused copy: answered from the manifest, nothing fetched
    assert again["already_complete"] is True and len(upstream.requests) == 1
    assert StateStore(source.s3, source.bucket, state_key("orders-api"), "orders-api").show().lease is None


# -- 5. exact numbers in the state CLI --------------------------------------------------------------


def test_state_set_keeps_a_number_exactly(make_source, upstream, tmp_path, aws_endpoint):
    source = make_source(cursor_config(upstream, "?after={cursor}", cursor_type="number", initial_value=0))
    file = write_source(
        tmp_path,
        {
            "source_id": "orders-api",
            "raw_bucket": source.bucket,
            "api_config": json.loads(source.env["API_CONFIG"]),
            "allow_http_loopback": True,
        },
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lake_ingest",
            "state",
            "set",
            "--config",
            str(file),
            "--value",
            "9007199254740993",
        ],
        capture_output=True,
        text=True,
        env={**cli_env(), "AWS_ENDPOINT_URL": aws_endpoint},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    stored = json.loads(
        source.s3.get_object(Bucket=source.bucket, Key=state_key("orders-api"))["Body"].read()
    )
    assert stored["cursor"] == 9007199254740993  # not ...992, as a float would make it
    upstream.script(Reply(200, b'{"data": []}'))
    invoke({"run_id": "exact"})
    assert upstream.requests[-1].query["after"] == ["9007199254740993"]


# -- 6. a body cut mid-read ---------------------------------------------------------------------------


class BreakingBodies:
    """An S3 client whose get_object bodies break off mid-read the first `breaks` times."""

    def __init__(self, client, breaks: int) -> None:
        self._client = client
        self.breaks = breaks

    def __getattr__(self, name):
        return getattr(self._client, name)

    def get_object(self, **kwargs):
        response = self._client.get_object(**kwargs)
        if self.breaks > 0:
            self.breaks -= 1

            class Broken:
                def read(self):
                    raise IncompleteReadError(actual_bytes=3, expected_bytes=900)

                def close(self):
                    pass

            response["Body"] = Broken()
        return response


def test_a_resume_reads_its_manifest_again_when_the_body_breaks_off(make_source, upstream, monkeypatch):
    source = make_source(
        {
            "endpoint": f"{upstream.url}/x",
            "auth": {"type": "none"},
            "records_path": "data",
            "pagination": {"type": "page_number", "max_pages": 1, "total_pages_path": "pages"},
        }
    )
    upstream.default = Reply(200, b'{"data": [1], "pages": 2}')
    first = invoke({"run_id": "broken-body"})
    breaking = BreakingBodies(handler._s3_client(), breaks=2)
    monkeypatch.setattr(handler, "_s3_client", lambda: breaking)
    assert invoke(first["resume_event"])["status"] == "SUCCESS" and breaking.breaks == 0
    breaking.breaks = 99
    with pytest.raises(
        S3ReadError, match=rf"reading s3://{source.bucket}/orders-api/.*/_manifest.json broke off 3"
    ):
        invoke(first["resume_event"])


# -- 7, 8. the cursor write after the manifest ---------------------------------------------------------


class StateWrites:
    """An S3 client that fails the conditional writes of the cursor state as told."""

    def __init__(self, client, mode: str) -> None:
        self._client = client
        self.mode = mode  # "slowdown": refused; "lost": applied, then answered 412 (a retried write)

    def __getattr__(self, name):
        return getattr(self._client, name)

    def put_object(self, **kwargs):
        if kwargs["Key"].endswith("_state/cursor.json") and "IfMatch" in kwargs and self.mode:
            mode, self.mode = self.mode, ""
            if mode == "lost":
                self._client.put_object(**kwargs)
                code, status = "PreconditionFailed", 412
            else:
                code, status = "SlowDown", 503
            raise ClientError(
                {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
                "PutObject",
            )
        return self._client.put_object(**kwargs)


def test_a_cursor_write_that_fails_after_the_manifest_reports_the_data_complete_and_the_cursor_kept(
    make_source, upstream, monkeypatch, capfd
):
    source = make_source(cursor_config(upstream, "?after={cursor}", cursor_type="number", initial_value=0))
    upstream.default = Reply(200, b'{"data": [{"id": 5}]}')
    writes = StateWrites(handler._s3_client(), "slowdown")
    monkeypatch.setattr(handler, "_s3_client", lambda: writes)
    result = invoke({"run_id": "slow"})  # does not raise: the manifest is complete
    assert result["status"] == "SUCCESS" and result["complete"] is True
    assert result["cursor"]["moved"] is False
    assert result["cursor"]["error"].startswith(
        f"writing the cursor state s3://{source.bucket}/orders-api/_state"
    )
    assert "SlowDown" in result["cursor"]["error"]
    assert manifest(source, result["manifest"])["complete"] is True
    emf = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"_aws"' in line][-1]
    assert emf["CursorNotAdvanced"] == [1.0]
    doc = StateStore(source.s3, source.bucket, state_key("orders-api"), "orders-api").show()
    assert doc.lease is None and doc.cursor is None  # released, not moved
    assert invoke({"run_id": "next"})["cursor"]["to"] == 5  # the next run fetches them again


def test_a_412_caused_by_the_runs_own_lost_answer_is_not_a_conflict(make_source, upstream, monkeypatch):
    make_source(cursor_config(upstream, "?after={cursor}", cursor_type="number", initial_value=0))
    upstream.default = Reply(200, b'{"data": [{"id": 8}]}')
    writes = StateWrites(handler._s3_client(), "lost")
    monkeypatch.setattr(handler, "_s3_client", lambda: writes)
    result = invoke({"run_id": "lost-answer"})
    assert result["cursor"] == {"from": None, "to": 8, "moved": True, "empty_runs": 0}


# -- 10. the AWS clients' retry settings --------------------------------------------------------------


def test_every_aws_client_has_the_stated_retries():
    for client in (handler._s3_client(), secrets_client(), aws_clients.client("stepfunctions")):
        retries = client.meta.config.retries
        assert retries["mode"] == "standard" and retries["total_max_attempts"] == aws_clients.MAX_ATTEMPTS
        assert client.meta.config.connect_timeout == 5 and client.meta.config.read_timeout == 60


# -- 11. backfill status names the real cause ----------------------------------------------------------


def test_a_window_that_failed_on_the_api_after_one_resume_is_reported_with_the_functions_error(
    make_source, upstream
):
    config = {
        "endpoint": f"{upstream.url}/v1/events",
        "auth": {"type": "none"},
        "records_path": "data",
        "query_params": {"from": "{window_start}", "to": "{window_end}"},
        "pagination": {"type": "page_number", "max_pages": 1, "total_pages_path": "pages"},
        "max_retries": 1,
        "incremental": {"type": "window", "window": "1d"},
    }
    source = make_source(config, source_id="events")
    window = {"start": "2026-01-05T00:00:00Z", "end": "2026-01-06T00:00:00Z"}
    upstream.script(Reply(200, b'{"data": [1], "pages": 3}'))
    first = invoke({"backfill_id": "jan", "window": window})
    assert first["status"] == "PARTIAL_SUCCESS"
    upstream.default = Reply(500, b'{"error": "boom"}')
    with pytest.raises(Exception, match="HTTP 500"):
        invoke(first["resume_event"])
    target = BackfillTarget(
        "events",
        source.bucket,
        "events",
        "arn:aws:states:us-east-1:123456789012:stateMachine:m",
        1,
        "UTC",
        None,
        max_resumes=3,
    )
    backfills = Backfills(target, source.s3, None)
    window_status = backfills._window({"backfill_id": "jan", "window": window}, False, {})
    assert window_status.state == "failed"
    assert window_status.reason.startswith("the function failed (after 1 resume(s)): UpstreamHTTPError: ")
    assert "HTTP 500" in window_status.reason and "resume limit" not in window_status.reason


@pytest.mark.parametrize(
    ("manifest_doc", "failure", "recorded", "expected"),
    [
        (
            {"status": "QUARANTINED", "stop_reason": "quarantined", "finished_at": "1"},
            None,
            None,
            "quarantined:",
        ),
        (
            {"status": "PARTIAL_SUCCESS", "stop_reason": "deadline", "resumes": 3, "finished_at": "2026"},
            None,
            None,
            "stopped incomplete (deadline) after 3 resume(s): the resume limit",
        ),
        (
            {"status": "PARTIAL_SUCCESS", "stop_reason": "deadline", "resumes": 1, "finished_at": "2026"},
            None,
            None,
            "stopped incomplete (deadline) after 1 resume(s), without an error from the function",
        ),
        (
            {"status": "PARTIAL_SUCCESS", "stop_reason": "deadline", "resumes": 1, "finished_at": "2026-01"},
            None,
            "States.Timeout: the execution timed out",
            "States.Timeout",
        ),
        (None, None, None, "no manifest"),
    ],
)
def test_backfill_failure_reasons_in_order(manifest_doc, failure, recorded, expected):
    assert failure_reason(manifest_doc, failure, recorded, 3).startswith(expected)


# -- 12. a window's partition date -----------------------------------------------------------------------


def test_a_window_lands_under_its_local_date_on_schedule_by_event_and_in_a_backfill(make_source, upstream):
    config = {
        "endpoint": f"{upstream.url}/v1/events",
        "auth": {"type": "none"},
        "records_path": "data",
        "query_params": {"from": "{window_start}", "to": "{window_end}"},
        "incremental": {"type": "window", "window": "1d", "lag": "0s", "timezone": "Europe/Berlin"},
    }
    make_source(config)
    upstream.default = Reply(200, b'{"data": [1]}')
    berlin_day = {"start": "2026-03-28T23:00:00Z", "end": "2026-03-29T22:00:00Z"}  # local 2026-03-29
    scheduled = invoke({"scheduled_time": "2026-03-29T22:00:00Z"})  # local midnight ending that day
    by_event = invoke({"window": berlin_day})
    backfill = invoke({"backfill_id": "mar", "window": berlin_day})
    dates = [r["manifest"].split("ingest_date=")[1][:10] for r in (scheduled, by_event, backfill)]
    assert dates == ["2026-03-29"] * 3
    assert scheduled["incremental"]["window_start"] == berlin_day["start"]
    assert datetime.fromisoformat(berlin_day["start"].replace("Z", "+00:00")).astimezone(UTC).day == 28


# -- found by a user trial -----------------------------------------------------------------------------


def test_state_set_refuses_a_value_no_run_would_adopt_unless_forced(
    make_source, upstream, tmp_path, aws_endpoint
):
    source = make_source(cursor_config(upstream, "?after={cursor}", initial_value="2026-01-01T00:00:00Z"))
    file = write_source(
        tmp_path,
        {
            "source_id": "orders-api",
            "raw_bucket": source.bucket,
            "api_config": json.loads(source.env["API_CONFIG"]),
            "allow_http_loopback": True,
        },
    )

    def state_set(*extra):
        return subprocess.run(
            [sys.executable, "-m", "lake_ingest", "state", "set", "--config", str(file), *extra],
            capture_output=True,
            text=True,
            env={**cli_env(), "AWS_ENDPOINT_URL": aws_endpoint},
            timeout=60,
            check=False,
        )

    refused = state_set("--value", "9999-12-31T23:59:59Z")
    assert refused.returncode == 1 and "no run would adopt it" in refused.stderr
    assert StateStore(source.s3, source.bucket, state_key("orders-api"), "orders-api").show() is None
    assert state_set("--value", "9999-12-31T23:59:59Z", "--force").returncode == 0


def test_an_events_query_params_follow_the_credential_name_rule(make_source, upstream):
    make_source({"endpoint": f"{upstream.url}/x", "auth": {"type": "none"}, "records_path": ""})
    with pytest.raises(ValueError, match=r"event query_params\.session_token: looks like a credential"):
        invoke({"run_id": "leak", "query_params": {"session_token": "tok-SECRETISH-999"}})
    assert upstream.requests == []


# -- found by a second user trial -------------------------------------------------------------------------


def test_a_decimal_number_cursor_is_kept_exactly_not_through_a_float(make_source, upstream):
    make_source(cursor_config(upstream, "?since={cursor}", cursor_type="number", initial_value=0))
    upstream.script(
        Reply(200, b'{"data": [{"id": 12345678901234567.89}, {"id": 1767225600.123456789}]}'),
        Reply(200, b'{"data": []}'),
    )
    first = invoke({"run_id": "dec-1"})
    assert first["cursor"]["to"] == "12345678901234567.89"  # not 1.2345678901234568e+16
    invoke({"run_id": "dec-2"})
    assert upstream.requests[-1].query["since"] == ["12345678901234567.89"]


def test_unreadable_cursor_values_count_in_the_metric(make_source, upstream, capfd):
    make_source(cursor_config(upstream, "?since={cursor}", initial_value="2026-01-01T00:00:00Z"))
    upstream.script(
        Reply(200, b'{"data": [{"id": "9999-12-31T23:59:59-05:00"}, {"id": "2026-02-01T00:00:00Z"}]}')
    )
    result = invoke({"run_id": "unreadable-metric"})
    assert result["incremental"]["unparseable"] == 1
    emf = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"_aws"' in line][-1]
    assert emf["CursorValuesRejected"] == [1.0]


def test_a_next_url_path_absent_from_the_first_page_is_said_not_silent(make_source, upstream):
    config = {
        "endpoint": f"{upstream.url}/x",
        "auth": {"type": "none"},
        "records_path": "value",
        "pagination": {"type": "next_url", "next_url_path": "@odata.nextlink"},  # misspelled: nextLink
    }
    make_source(config)
    upstream.script(Reply(200, b'{"value": [1], "@odata.nextLink": "/x?p=2"}'))
    result = invoke({"run_id": "misspelled"})
    assert result["status"] == "SUCCESS" and result["pages"] == 1
    assert "next_url_path '@odata.nextlink' is not in it" in result["note"]


def test_state_set_takes_numbers_in_plain_digits_and_says_how_it_read_an_epoch(
    make_source, upstream, tmp_path, aws_endpoint
):
    for cursor_type, value, expected in (("number", "1e3", 1), ("timestamp", "253402300799", 0)):
        source = make_source(
            cursor_config(upstream, "?since={cursor}", cursor_type=cursor_type, initial_value=0)
        )
        file = write_source(
            tmp_path,
            {
                "source_id": "orders-api",
                "raw_bucket": source.bucket,
                "api_config": json.loads(source.env["API_CONFIG"]),
                "allow_http_loopback": True,
            },
        )
        done = subprocess.run(
            [sys.executable, "-m", "lake_ingest", "state", "set", "--config", str(file), "--value", value],
            capture_output=True,
            text=True,
            env={**cli_env(), "AWS_ENDPOINT_URL": aws_endpoint},
            timeout=60,
            check=False,
        )
        assert done.returncode == expected, done.stderr
        if expected:
            assert "plain digits" in done.stderr
        else:
            assert json.loads(done.stdout)["read_as"].startswith("1978-01-11T21:31:40.799")  # milliseconds
