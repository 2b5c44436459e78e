"""Credentials that never reach the lake or a log (issue 19): echoed in page bodies, logged by libraries at
DEBUG, written by `try`; and backfill events that can carry nothing but a window.

A real API on loopback, moto for AWS, and Python's root logger set up as the Lambda runtime sets it.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import secrets
import stat
from datetime import UTC, datetime

import boto3
import pytest
from scripts.oauth2_server import TOKEN_PATH, TokenEndpoint
from scripts.upstream import Reply, ScriptedUpstream

from lake_ingest import oauth2
from lake_ingest.config import AuthConfig
from lake_ingest.events import EventError, parse_event
from lake_ingest.incremental import IncrementalConfig
from lake_ingest.incremental_run import with_partition_date
from lake_ingest.redaction import Redactor
from lake_ingest.trial import keep_rotated_refresh_token
from tests.test_handler import api, invoke

QUERY_AUTH = {"type": "query", "secret_field": "api_key", "param_name": "api_key"}


def stored(source, key: str) -> bytes:
    return gzip.decompress(source.s3.get_object(Bucket=source.bucket, Key=key)["Body"].read())


# -- credentials an API echoes in its bodies -------------------------------------------------------------


def test_a_key_echoed_in_a_page_body_is_masked_before_it_is_stored(make_source, upstream, capfd):
    source = make_source(api(upstream, auth=QUERY_AUTH, records_path="data"))
    key = source.secret_value["api_key"]
    body = {
        "data": [{"id": 1}, {"id": 2}],
        "links": {"self": f"{upstream.url}/v1/orders?api_key={key}", "key": key},
    }
    upstream.script(Reply(200, json.dumps(body).encode()))
    result = invoke({"run_id": "echo"})
    assert result["status"] == "SUCCESS" and result["records_ingested"] == 2
    text = stored(source, result["objects"][0]).decode()
    assert key not in text and "api_key=***" in text
    manifest = json.loads(source.s3.get_object(Bucket=source.bucket, Key=result["manifest"])["Body"].read())
    assert manifest["pages"][0]["credentials_masked"] == 2
    emf = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"_aws"' in line][-1]
    assert emf["CredentialsMasked"] == [2.0]


def test_a_key_cut_by_a_chunk_boundary_is_masked_in_a_streamed_page(make_source, upstream):
    """A page larger than max_parse_bytes streams in 256 KiB chunks; a key may straddle two of them."""
    source = make_source(api(upstream, auth=QUERY_AUTH, records_path="data", max_parse_bytes=1024))
    key = source.secret_value["api_key"]
    filler = "x" * (256 * 1024 - 20)  # puts the first echo across the first chunk boundary
    records = [{"id": 0, "pad": filler, "self": f"?api_key={key}"}] + [
        {"id": i, "self": key} for i in range(1, 500)
    ]
    upstream.script(Reply(200, json.dumps({"data": records}).encode()))
    result = invoke({"run_id": "echo-stream"})
    text = stored(source, result["objects"][0]).decode()
    assert result["records_ingested"] == 500 and key not in text and text.count("***") == 500


def test_a_user_name_is_not_masked_in_data(make_source, upstream):
    """A Basic user name is masked in logs, not in records: it may be an ordinary word there."""
    auth = {"type": "basic"}
    source = make_source(
        api(upstream, auth=auth, records_path="data"), {"username": "reporting", "password": "pw-" + "s" * 20}
    )
    upstream.script(Reply(200, b'{"data": [{"team": "reporting"}]}'))
    result = invoke({"run_id": "basic"})
    assert b'"reporting"' in stored(source, result["objects"][0])


def test_the_body_masker_finds_every_spelling_across_any_chunk_boundary():
    redactor = Redactor()
    redactor.add_secret(["sk-live/ABC+def=12345"])
    body = (
        b'{"a": "sk-live/ABC+def=12345", "b": "sk-live\\/ABC+def=12345", "c": "sk-live%2FABC%2Bdef%3D12345"}'
    )
    for size in range(1, len(body) + 1):
        masker = redactor.body_masker()
        out = b"".join(masker.filter(body[i : i + size] for i in range(0, len(body), size)))
        assert out == b'{"a": "***", "b": "***", "c": "***"}' and masker.masked == 3, size


# -- no credential in any log, at any level -----------------------------------------------------------


class RuntimeLogging:
    """The root logger as the Lambda runtime sets it with application_log_level DEBUG: level DEBUG and
    one handler writing every record (awslambdaric bootstrap._setup_logging). Library loggers start
    at NOTSET, as in a fresh execution environment. `start()` once the test's own setup is done (its
    boto3 calls would be logged too)."""

    LIBRARIES = ("botocore", "urllib3", "boto3", "requests")

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self._handler = logging.StreamHandler(self.stream)
        self._handler.setFormatter(logging.Formatter("[%(levelname)s] %(name)s %(message)s"))
        self._saved = logging.getLogger().level, {n: logging.getLogger(n).level for n in self.LIBRARIES}

    def start(self) -> None:
        logging.getLogger().setLevel(logging.DEBUG)
        logging.getLogger().addHandler(self._handler)
        for name in self.LIBRARIES:
            logging.getLogger(name).setLevel(logging.NOTSET)

    def stop(self) -> None:
        logging.getLogger().removeHandler(self._handler)
        logging.getLogger().setLevel(self._saved[0])
        for name, level in self._saved[1].items():
            logging.getLogger(name).setLevel(level)

    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def runtime_root_logger():
    logging_ = RuntimeLogging()
    yield logging_
    logging_.stop()


def _refresh_token_source(make_source):
    # Values new to this process's redactor, and no one a part of another (a masked client id would
    # hide part of the client secret in the leak the next test looks for).
    endpoint = TokenEndpoint("app-" + secrets.token_hex(4), "cs-" + secrets.token_hex(12))
    server = ScriptedUpstream(
        responder=lambda seen: (
            endpoint.respond(seen) if seen.path == TOKEN_PATH else Reply(200, b'{"data": [{"id": 1}]}')
        )
    ).start()
    refresh = endpoint.issue_refresh_token()
    secret = {
        "client_id": endpoint.client_id,
        "client_secret": endpoint.client_secret,
        "refresh_token": refresh,
    }
    config = {
        "endpoint": f"{server.url}/v1/tickets",
        "records_path": "data",
        "auth": {"type": "oauth2_refresh_token", "token_url": f"{server.url}{TOKEN_PATH}"},
    }
    return make_source(config, secret), endpoint, server


def test_no_credential_in_any_log_with_the_root_logger_at_debug(make_source, runtime_root_logger, log_stream):
    """GetSecretValue's answer, the PutSecretValue of a rotated token and the token request: botocore
    and urllib3 would log all of them at DEBUG."""
    oauth2.TOKENS.clear()
    source, endpoint, server = _refresh_token_source(make_source)
    runtime_root_logger.start()
    try:
        assert invoke({"run_id": "debug"})["status"] == "SUCCESS"
    finally:
        server.stop()
        oauth2.TOKENS.clear()
    logged = runtime_root_logger.text() + log_stream.getvalue()
    assert "run finished" in log_stream.getvalue() and logging.getLogger().level == logging.DEBUG
    assert (
        len(endpoint.seen) == 1
        and endpoint.seen[0].form["refresh_token"] == source.secret_value["refresh_token"]
    )
    credentials = [endpoint.client_secret, *endpoint.live_refresh_tokens(), *endpoint.issued_access_tokens()]
    credentials.append(source.secret_value["refresh_token"])
    assert all(c not in logged for c in credentials)


def test_the_debug_test_sees_a_leak_when_the_libraries_are_not_held_back(
    make_source, runtime_root_logger, monkeypatch
):
    """The test above can fail: with the libraries left at the root's DEBUG, botocore logs the secret."""
    from lake_ingest import handler as handler_module

    monkeypatch.setattr(handler_module, "quiet_libraries", lambda: None)
    oauth2.TOKENS.clear()
    _source, endpoint, server = _refresh_token_source(make_source)
    runtime_root_logger.start()
    try:
        invoke({"run_id": "debug-leak"})
    finally:
        server.stop()
        oauth2.TOKENS.clear()
    assert endpoint.client_secret in runtime_root_logger.text()


def test_query_auth_keys_stay_out_of_urllib3s_debug_lines(make_source, upstream, runtime_root_logger):
    source = make_source(api(upstream, auth=QUERY_AUTH, records_path="data"))
    upstream.script(Reply(200, b'{"data": []}'))
    runtime_root_logger.start()
    invoke({"run_id": "debug-query"})
    assert logging.getLogger().level == logging.DEBUG and "run finished" in runtime_root_logger.text()
    assert source.secret_value["api_key"] not in runtime_root_logger.text()


# -- backfill events ----------------------------------------------------------------------------------

WINDOW = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}
NOW = datetime(2026, 12, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"force": True}, "force"),
        ({"query_params": {"status": "deleted"}}, "query_params"),
        ({"scheduled_time": "2026-01-01T00:00:00Z"}, "scheduled_time"),
        ({"run_id": "sched-20260101T000000Z"}, "run_id"),
        ({"id": "evt-1"}, "id"),
    ],
)
def test_a_backfill_event_carries_a_window_and_nothing_else(extra, field):
    with pytest.raises(EventError) as error:
        parse_event({"backfill_id": "jan", "window": WINDOW, **extra}, "req")
    assert error.value.field == field


def test_a_backfill_window_lands_under_its_own_local_date_and_no_other():
    inc = IncrementalConfig.from_dict({"type": "window", "window": "1d", "timezone": "Europe/Berlin"})
    berlin_day = {"start": "2026-03-28T23:00:00Z", "end": "2026-03-29T22:00:00Z"}  # the local 2026-03-29
    run = with_partition_date(parse_event({"backfill_id": "jan", "window": berlin_day}, "req"), inc, NOW)
    assert run.partition_date == "2026-03-29"
    resumed = parse_event({**run.as_event(), "resume": {"page": 2, "cursor": "c"}}, "req")
    assert with_partition_date(resumed, inc, NOW).partition_date == "2026-03-29"
    elsewhere = parse_event(
        {"backfill_id": "jan", "window": berlin_day, "partition_date": "2025-06-01"}, "req"
    )
    with pytest.raises(EventError) as error:
        with_partition_date(elsewhere, inc, NOW)
    assert error.value.field == "partition_date" and "2026-03-29 (its start in Europe/Berlin)" in str(
        error.value
    )


def test_a_backfill_windows_own_resume_is_accepted():
    run = parse_event({"backfill_id": "jan", "window": WINDOW}, "req")
    resumed = parse_event({**run.as_event(), "resume": {"page": 2, "cursor": "c2"}}, "req")
    assert resumed.run_id == run.run_id == "bf-jan-20260101T000000Z-20260102T000000Z"
    assert resumed.partition_date == "2026-01-01" and resumed.resume == {"page": 2, "cursor": "c2"}


# -- try writes the rotated token back ----------------------------------------------------------------


def test_try_writes_the_rotated_token_owner_only_and_never_through_a_planted_link(aws_endpoint, tmp_path):
    secret_arn = boto3.client("secretsmanager").create_secret(
        Name="try-rotation", SecretString=json.dumps({"client_id": "c", "refresh_token": "rt-new-0123456789"})
    )["ARN"]
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"client_id": "c", "refresh_token": "rt-old-0123456789"}))
    os.chmod(path, 0o644)
    planted = tmp_path / "elsewhere.txt"
    planted.write_text("untouched")
    (tmp_path / "credentials.json.new").symlink_to(planted)  # the old fixed name, as an attacker would
    auth = AuthConfig(type="oauth2_refresh_token", token_url="https://login.example/t")
    keep_rotated_refresh_token(secret_arn, path, json.loads(path.read_text()), auth)
    assert json.loads(path.read_text())["refresh_token"] == "rt-new-0123456789"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert planted.read_text() == "untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "credentials.json",
        "credentials.json.new",
        "elsewhere.txt",
    ]
