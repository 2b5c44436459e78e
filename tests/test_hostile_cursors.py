"""Cursor sources against hostile data: one bad record must never decide where every later run starts.

A real API on loopback, the handler, and the cursor state in the local AWS's S3. Values beyond the
bounds (a 9999 "never" sentinel, text too long to send, a number too long) are counted and never
adopted; records that cannot be read at all (offset timestamps past year 9999, integers past Python's
4300-digit limit, nesting past the decoder's depth) are counted and never crash the run; a stored
cursor that no run would adopt fails loudly with the repair; the lease is given back whatever fails.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from scripts.upstream import Reply

from lake_ingest import handler
from lake_ingest.incremental import MAX_CURSOR_DIGITS, MAX_CURSOR_TEXT
from lake_ingest.pagination import PaginationError
from lake_ingest.state import StateError, StateStore, state_key
from tests.conftest import LambdaContext


def invoke(event):
    return handler.lambda_handler(event, LambdaContext())


def cursor_api(upstream, cursor_type="timestamp", initial="2026-01-01T00:00:00Z", **incremental):
    return {
        "endpoint": f"{upstream.url}/v1/orders",
        "auth": {"type": "none"},
        "records_path": "data",
        "query_params": {"since": "{cursor}"},
        "max_parse_bytes": 1 << 20,
        "incremental": {
            "type": "cursor",
            "cursor_path": "at",
            "cursor_type": cursor_type,
            "initial_value": initial,
            **incremental,
        },
    }


def page(*values, raw: str | None = None) -> Reply:
    """A page whose records carry these cursor values (or the raw JSON text of the records array)."""
    records = (
        raw if raw is not None else ",".join(json.dumps({"id": i, "at": v}) for i, v in enumerate(values))
    )
    return Reply(200, ('{"data": [' + records + "]}").encode())


def store(source) -> StateStore:
    return StateStore(source.s3, source.bucket, state_key("orders-api"), "orders-api")


def sent(upstream) -> list[str]:
    return [r.query["since"][0] for r in upstream.requests]


def iso(instant: datetime) -> str:
    return instant.isoformat(timespec="seconds").replace("+00:00", "Z")


def emf(out: str) -> dict:
    """The last EMF metrics document the handler printed."""
    return [json.loads(line) for line in out.splitlines() if '"_aws"' in line][-1]


def test_a_never_sentinel_is_counted_not_adopted_and_the_next_run_asks_from_the_good_values(
    make_source, upstream, capfd
):
    source = make_source(cursor_api(upstream))
    good = iso(datetime.now(UTC) - timedelta(hours=1))
    upstream.script(page(good, "9999-12-31T23:59:59Z", "9999-12-31"))
    first = invoke({"run_id": "sentinel-1"})
    assert first["status"] == "SUCCESS" and first["records_ingested"] == 3  # the records all land
    assert first["cursor"]["to"] == good
    assert first["incremental"]["rejected"] == {"in_future": 2}
    assert first["incremental"]["rejected_example"].startswith("9999-12-31T23:59:59Z (later than")
    manifest = json.loads(source.s3.get_object(Bucket=source.bucket, Key=first["manifest"])["Body"].read())
    assert manifest["incremental"]["rejected"] == {"in_future": 2}
    assert emf(capfd.readouterr().out)["CursorValuesRejected"] == [2.0]
    upstream.script(page())
    invoke({"run_id": "sentinel-2"})
    assert sent(upstream)[-1] == good  # not 9999: the next run still asks for what is new


def test_a_clock_far_ahead_is_bounded_by_future_skew(make_source, upstream):
    make_source(cursor_api(upstream, future_skew="2d"))
    tomorrow = iso(datetime.now(UTC) + timedelta(days=1))
    next_week = iso(datetime.now(UTC) + timedelta(days=7))
    upstream.script(page(tomorrow, next_week))
    result = invoke({"run_id": "skew"})
    assert result["cursor"]["to"] == tomorrow and result["incremental"]["rejected"] == {"in_future": 1}


@pytest.mark.parametrize(
    ("cursor_type", "initial", "raw", "reason"),
    [
        ("string", "a", json.dumps({"id": 1, "at": "z" * 300_000}), "too_long"),
        ("number", 0, json.dumps({"id": 1, "at": int("9" * (MAX_CURSOR_DIGITS + 1))}), "too_many_digits"),
        ("number", 0, '{"id": 1, "at": 1e41}', "too_many_digits"),
    ],
    ids=["300k-string", "41-digits", "exponent-41"],
)
def test_values_too_long_to_send_are_counted_not_adopted(
    make_source, upstream, cursor_type, initial, raw, reason
):
    make_source(cursor_api(upstream, cursor_type=cursor_type, initial=initial))
    upstream.script(page(raw=raw))
    result = invoke({"run_id": f"long-{reason}"})
    assert result["status"] == "SUCCESS" and result["records_ingested"] == 1
    assert result["incremental"]["rejected"] == {reason: 1} and result["cursor"]["moved"] is False
    assert len(json.dumps(result)) < 10_000  # the result (a Step Functions state) stays small
    upstream.script(page())
    invoke({"run_id": f"long-{reason}-2"})
    assert len(sent(upstream)[-1]) <= MAX_CURSOR_TEXT


def test_a_number_past_float_range_is_counted_never_infinity(make_source, upstream):
    make_source(cursor_api(upstream, cursor_type="number", initial=0))
    upstream.script(page(raw='{"id": 1, "at": 1e999999}, {"id": 2, "at": 7}'))
    result = invoke({"run_id": "infinity"})  # decoded exactly (a number cursor), so not inf but too large
    assert result["incremental"]["rejected"] == {"too_many_digits": 1} and result["cursor"]["to"] == 7


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps({"id": 1, "at": "9999-12-31T23:59:59-05:00"}),  # past year 9999 in UTC
        json.dumps({"id": 1, "at": "0001-01-01T00:00:00+01:00"}),  # before year 1 in UTC
        '{"id": 1, "at": ' + "7" * 5000 + "}",  # past Python's 4300-digit int limit
        '{"id": 1, "at": "2026-01-01T00:00:00Z", "deep": ' + "[" * 100_000 + "]" * 100_000 + "}",
    ],
    ids=["offset-past-9999", "offset-before-1", "5000-digit-integer", "nested-100000-deep"],
)
@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_records_that_cannot_be_read_are_counted_and_never_crash_the_run(
    make_source, upstream, raw, content_type
):
    make_source(cursor_api(upstream))
    good = json.dumps({"id": 2, "at": "2026-02-01T00:00:00Z"})
    if content_type == "application/json":
        body = ("{" + f'"data": [{raw}, {good}]' + "}").encode()
    else:
        body = (raw + "\n" + good + "\n").encode()
    upstream.script(Reply(200, body, {"Content-Type": content_type}))
    result = invoke({"run_id": "unreadable"})
    assert result["status"] == "SUCCESS" and result["records_ingested"] == 2
    assert result["cursor"]["to"] == "2026-02-01T00:00:00Z"
    counted = result["incremental"]
    assert counted["unparseable"] + counted["records_without_cursor"] + sum(counted["rejected"].values()) >= 1


def test_a_stored_cursor_no_run_would_adopt_fails_with_the_repair_and_gives_the_lease_back(
    make_source, upstream
):
    source = make_source(cursor_api(upstream))
    store(source).set("9999-12-31T23:59:59Z", "timestamp")  # as an earlier version could have stored it
    upstream.default = page()
    with pytest.raises(
        StateError, match=r"stored cursor '9999-12-31T23:59:59Z' .* is later than .*state set"
    ):
        invoke({"run_id": "poisoned"})
    assert upstream.requests == []  # nothing was asked for
    assert store(source).show().lease is None  # the next run need not wait for the lease to expire
    store(source).set("2026-03-01T00:00:00Z", "timestamp")  # the runbook's repair
    assert invoke({"run_id": "repaired"})["status"] == "SUCCESS"
    assert sent(upstream) == ["2026-03-01T00:00:00Z"]


def test_runs_that_land_nothing_are_counted_in_a_row(make_source, upstream, capfd):
    make_source(cursor_api(upstream))
    upstream.default = page()
    results = [invoke({"run_id": f"empty-{i}"}) for i in range(3)]
    assert [r["cursor"]["empty_runs"] for r in results] == [1, 2, 3]
    assert emf(capfd.readouterr().out)["ConsecutiveEmptyRuns"] == [3.0]
    upstream.default = page("2026-02-01T00:00:00Z")
    assert invoke({"run_id": "lands"})["cursor"]["empty_runs"] == 0


def test_a_next_cursor_too_long_to_send_stops_the_run(make_source, upstream):
    config = cursor_api(upstream)
    config["pagination"] = {"type": "cursor", "cursor_path": "next"}
    make_source(config)
    upstream.script(Reply(200, json.dumps({"data": [], "next": "c" * 9000}).encode()))
    with pytest.raises(PaginationError, match=r"'next' is 9000 characters long, more than 8192"):
        invoke({"run_id": "long-next"})
