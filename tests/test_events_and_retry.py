"""Event resolution (run id, partition date) and the retry timing helpers."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from lake_ingest import http_client
from lake_ingest.events import EventError, parse_event
from lake_ingest.http_client import backoff_seconds, parse_retry_after

NOW = datetime(2026, 11, 23, 23, 59, tzinfo=UTC)


def test_explicit_run_id_and_scheduled_time():
    run = parse_event({"run_id": "r-1", "scheduled_time": "2026-01-02T03:04:05+02:00"}, "req", NOW)
    assert run.run_id == "r-1"
    assert run.partition_date == "2026-01-02"
    assert run.scheduled_time == datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC)


def test_scheduled_time_gives_run_id_and_date():
    run = parse_event({"scheduled_time": "2026-01-02T00:30:00Z"}, "req-a", NOW)
    assert run.run_id == "sched-20260102T003000Z"
    assert run.partition_date == "2026-01-02"


def test_eventbridge_scheduled_event_uses_its_time():
    event = {"id": "abc-123", "detail-type": "Scheduled Event", "time": "2026-02-03T04:00:00Z", "detail": {}}
    run = parse_event(event, "req-a", NOW)
    assert run.run_id == "sched-20260203T040000Z" and run.partition_date == "2026-02-03"


def test_other_eventbridge_event_uses_its_id():
    assert parse_event({"id": "abc-123", "detail-type": "Thing"}, "req", NOW).run_id == "evt-abc-123"


def test_plain_event_falls_back_to_the_request_id_which_async_retries_keep():
    run = parse_event({}, "8c1f0d6e-aaaa-bbbb-cccc-123456789012", NOW)
    assert run.run_id == "req-8c1f0d6e-aaaa-bbbb-cccc-123456789012"
    assert run.partition_date == "2026-11-23"
    assert parse_event(None, "x", NOW).run_id == "req-x"


@pytest.mark.parametrize("value", ["", "2026-13-01T00:00:00Z", "tomorrow", 1700000000])
def test_bad_scheduled_time(value):
    with pytest.raises(EventError, match="scheduled_time"):
        parse_event({"scheduled_time": value}, "req", NOW)


@pytest.mark.parametrize("run_id", ["", "a" * 129, "-lead", "has space", "a/b"])
def test_bad_run_id(run_id):
    with pytest.raises(EventError, match="run_id"):
        parse_event({"run_id": run_id}, "req", NOW)


def test_retry_after_forms():
    now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after("Mon, 23 Nov 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Mon, 23 Nov 2026 11:00:00 GMT", now) == 0.0  # in the past
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_is_jittered_growing_and_capped(monkeypatch):
    monkeypatch.setattr(http_client, "BACKOFF_BASE_SECONDS", 0.5)
    rng = random.Random(7)
    samples = {attempt: [backoff_seconds(attempt, rng) for _ in range(200)] for attempt in (1, 3, 12)}
    assert all(0.25 <= s <= 0.5 for s in samples[1])
    assert all(0.25 <= s <= 2.0 for s in samples[3])
    assert max(samples[3]) > 1.5  # it does grow
    assert len({round(s, 6) for s in samples[3]}) > 100  # and it is jittered
    assert all(s <= http_client.BACKOFF_CAP_SECONDS for s in samples[12])


def test_partition_date_and_resume_round_trip():
    event = {
        "run_id": "r-1",
        "partition_date": "2026-02-28",
        "scheduled_time": "2026-03-01T00:30:00Z",
        "query_params": {"since": "x"},
        "resume": {"page": 4, "cursor": "abc"},
    }
    run = parse_event(event, "req", NOW)
    assert run.partition_date == "2026-02-28" and run.resume == {"page": 4, "cursor": "abc"}
    assert run.as_event() == event


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"partition_date": "2026-02-30"}, "partition_date"),
        ({"partition_date": "20260228"}, "partition_date"),
        ({"run_id": "r", "resume": {"cursor": "x"}}, "resume"),
        ({"run_id": "r", "resume": {"page": 2, "cursor": "x", "offset": 1}}, "resume"),
        ({"run_id": "r", "resume": {"page": 0, "cursor": "x"}}, "resume.page"),
        ({"run_id": "r", "resume": {"page": 2, "offset": -1}}, "resume.offset"),
        ({"run_id": "r", "resume": {"page": 2, "cursor": ""}}, "resume.cursor"),
        ({"resume": {"page": 2, "cursor": "x"}}, "resume"),
    ],
)
def test_bad_partition_date_and_resume(event, field):
    with pytest.raises(EventError) as error:
        parse_event(event, "req", NOW)
    assert error.value.field == field


def test_an_unknown_event_key_is_named_with_the_closest_option():
    with pytest.raises(EventError) as error:
        parse_event({"runid": "r-1"}, "req", NOW)
    assert error.value.field == "runid"
    message = str(error.value)
    assert message.startswith("invalid event: runid: is not an event option (did you mean run_id?); ")
    for option in ("run_id", "scheduled_time", "partition_date", "query_params", "resume", "detail-type"):
        assert option in message


def test_an_unknown_event_key_without_a_close_option_gets_no_guess():
    with pytest.raises(EventError) as error:
        parse_event({"run_id": "r-1", "zzz": 1, "yyy": 2}, "req", NOW)
    assert error.value.field == "yyy"  # the first, in order; the other is named too
    assert "did you mean" not in str(error.value)
    assert "(also: zzz)" in str(error.value)


def test_every_key_of_an_eventbridge_scheduled_event_is_accepted():
    """What an EventBridge rule (schedule) sends, key for key, as the EventBridge docs show it."""
    event = {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-02-03T04:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule"],
        "detail": {},
    }
    run = parse_event(event, "req", NOW)
    assert run.run_id == "sched-20260203T040000Z"
    assert parse_event({**event, "replay-name": "replay-1"}, "req", NOW).run_id == run.run_id


def test_every_documented_event_key_is_accepted():
    event = {
        "run_id": "r-1",
        "scheduled_time": "2026-03-01T00:30:00Z",
        "partition_date": "2026-02-28",
        "query_params": {"since": "x"},
        "resume": {"page": 2, "cursor": "abc"},
    }
    assert parse_event(event, "req", NOW).as_event() == event
    windowed = {
        "run_id": "r-2",
        "partition_date": "2026-02-28",
        "window": {"start": "2026-02-28T00:00:00Z", "end": "2026-03-01T00:00:00Z"},
    }
    assert parse_event({**windowed, "force": False}, "req", NOW).as_event() == windowed
    backfill = {"backfill_id": "b1", "window": windowed["window"]}  # a backfill item: nothing else
    assert parse_event(backfill, "req", NOW).as_event() == {
        **backfill,
        "run_id": "bf-b1-20260228T000000Z-20260301T000000Z",
        "partition_date": "2026-02-28",
    }


def test_a_backfill_window_gets_its_own_run_id_and_keeps_it_when_resumed():
    event = {"backfill_id": "hist-2021", "window": {"start": "2021-03-01", "end": "2021-03-02T00:00:00Z"}}
    run = parse_event(event, "req", NOW)
    assert run.run_id == "bf-hist-2021-20210301T000000Z-20210302T000000Z"
    assert run.partition_date == "2021-03-01" and run.backfill_id == "hist-2021"
    resumed = parse_event({**run.as_event(), "resume": {"page": 3, "page_number": 3}}, "req", NOW)
    assert (resumed.run_id, resumed.backfill_id) == (run.run_id, "hist-2021")
    # the same window outside a backfill is another run: a backfill never rewrites a live run's keys
    assert parse_event({"window": event["window"]}, "req", NOW).run_id.startswith("win-")


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({"backfill_id": "jan"}, "needs the window this run of the backfill covers"),
        ({"backfill_id": "Jan 2021", "window": {"start": "2021-01-01", "end": "2021-01-02"}}, "lowercase"),
        ({"backfill_id": 7, "window": {"start": "2021-01-01", "end": "2021-01-02"}}, "lowercase"),
    ],
)
def test_a_bad_backfill_id_is_refused(event, problem):
    with pytest.raises(EventError) as error:
        parse_event(event, "req", NOW)
    assert error.value.field == "backfill_id" and problem in str(error.value)
