"""Incremental sources end to end: the handler, a real API on loopback, the state in moto's S3.

Windows follow the schedule (across DST changes too) or the event; a cursor moves only after its
run's manifest is complete, never backward, and of concurrent runs exactly one moves it.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from scripts.upstream import Reply, SeenRequest

from lake_ingest import handler, sink
from lake_ingest.config import load_config
from lake_ingest.events import EventError, parse_event
from lake_ingest.state import StateLocked, StateStore, state_key
from tests.conftest import LambdaContext


def invoke(event, **context):
    return handler.lambda_handler(event, LambdaContext(**context))


def window_api(upstream, **incremental):
    return {
        "endpoint": f"{upstream.url}/v1/events",
        "auth": {"type": "none"},
        "records_path": "data",
        "query_params": {"from": "{window_start}", "to": "{window_end}"},
        "incremental": {"type": "window", **incremental},
    }


def read_json(source, key):
    return json.loads(source.s3.get_object(Bucket=source.bucket, Key=key)["Body"].read())


# -- windows ------------------------------------------------------------------------------------------


def test_daily_windows_follow_local_midnight_across_both_dst_changes(make_source, upstream):
    """A daily schedule at 00:00 Europe/Berlin: the windows are the local days, 23 h and 25 h long
    on the change days, contiguous, and each run id and partition date follow its slot."""
    make_source(window_api(upstream, window="1d", timezone="Europe/Berlin", format="iso8601"))
    upstream.default = Reply(200, b'{"data": [{"id": 1}]}')
    # the scheduled times EventBridge Scheduler sends for cron(0 0 * * ? *) in Europe/Berlin
    slots = ["2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"]
    results = [invoke({"scheduled_time": slot}) for slot in slots]
    sent = [(r.query["from"][0], r.query["to"][0]) for r in upstream.requests]
    assert sent == [
        ("2026-03-28T00:00:00+01:00", "2026-03-29T00:00:00+01:00"),  # a 24 h day
        ("2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00"),  # spring forward: 23 h
        ("2026-10-24T00:00:00+02:00", "2026-10-25T00:00:00+02:00"),
        ("2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00"),  # fall back: 25 h
    ]
    windows = [r["incremental"] for r in results]
    lengths = [
        datetime.fromisoformat(w["window_end"].replace("Z", "+00:00"))
        - datetime.fromisoformat(w["window_start"].replace("Z", "+00:00"))
        for w in windows
    ]
    assert lengths == [timedelta(hours=24), timedelta(hours=23), timedelta(hours=24), timedelta(hours=25)]
    assert windows[0]["window_end"] == windows[1]["window_start"]  # contiguous
    assert [r["run_id"] for r in results] == [
        "sched-20260328T230000Z",
        "sched-20260329T220000Z",
        "sched-20261024T220000Z",
        "sched-20261025T230000Z",
    ]


def test_hourly_windows_with_lag_stay_one_hour_through_a_dst_change(make_source, upstream):
    make_source(window_api(upstream, window="1h", lag="10m", timezone="Europe/Berlin", format="epoch"))
    upstream.default = Reply(200, b'{"data": []}')
    for slot in ("2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"):  # 02:00 and 04:00 local
        invoke({"scheduled_time": slot})
    bounds = [(int(r.query["from"][0]), int(r.query["to"][0])) for r in upstream.requests]
    assert [end - start for start, end in bounds] == [3600, 3600]
    assert bounds[0][1] == int(datetime(2026, 3, 29, 0, 50, tzinfo=UTC).timestamp())
    assert bounds[1][0] == bounds[0][1]


@pytest.mark.parametrize(
    ("fmt", "start", "end"),
    [
        ("iso8601", "2026-07-01T06:00:00Z", "2026-07-01T07:00:00Z"),
        ("date", "2026-07-01", "2026-07-01"),
        ("epoch", "1782885600", "1782889200"),
        ("epoch_ms", "1782885600000", "1782889200000"),
        ("%Y%m%d%H%M", "202607010600", "202607010700"),
    ],
)
def test_each_placeholder_format_reaches_the_request(make_source, upstream, fmt, start, end):
    config = window_api(upstream, window="1h", format=fmt)
    config["endpoint"] = f"{upstream.url}/v1/events/{{window_start}}"
    config["method"] = "POST"
    config["body"] = {"range": {"gte": "{window_start}", "lt": "{window_end}"}}
    make_source(config)
    upstream.default = Reply(200, b'{"data": []}')
    result = invoke({"window": {"start": "2026-07-01T06:00:00Z", "end": "2026-07-01T07:00:00Z"}})
    (seen,) = upstream.requests
    assert seen.path == f"/v1/events/{start}"  # ':' is allowed in a path; nothing else to quote here
    assert (seen.query["from"][0], seen.query["to"][0]) == (start, end)
    assert json.loads(seen.body) == {"range": {"gte": start, "lt": end}}
    assert result["run_id"] == "win-20260701T060000Z-20260701T070000Z"
    assert result["incremental"]["window_start"] == "2026-07-01T06:00:00Z"


def test_an_explicit_window_sets_run_id_and_partition_date(make_source, upstream):
    source = make_source(window_api(upstream, window="1d"))
    upstream.default = Reply(200, b'{"data": [{"id": 1}]}')
    result = invoke({"window": {"start": "2025-02-03T00:00:00Z", "end": "2025-02-04T00:00:00Z"}})
    assert result["manifest"] == (
        "orders-api/ingest_date=2025-02-03/run_id=win-20250203T000000Z-20250204T000000Z/_manifest.json"
    )
    manifest = read_json(source, result["manifest"])
    assert manifest["incremental"]["window_start"] == "2025-02-03T00:00:00Z"
    assert not [k for k in source.keys() if "/_state/" in k]  # a window source keeps no state


# -- cursors ------------------------------------------------------------------------------------------


class ChangingApi:
    """Records with `updated_at`, filtered by `updated_since` (strictly after), as many APIs page them."""

    def __init__(self) -> None:
        self.records: dict[int, str] = {}
        self.lock = threading.Lock()

    def put(self, record_id: int, updated_at: str) -> None:
        with self.lock:
            self.records[record_id] = updated_at

    def __call__(self, seen: SeenRequest) -> Reply:
        since = datetime.fromisoformat(seen.query["updated_since"][0].replace("Z", "+00:00"))
        with self.lock:
            rows = [
                {"id": i, "updated_at": at}
                for i, at in sorted(self.records.items())
                if datetime.fromisoformat(at.replace("Z", "+00:00")) > since
            ]
        return Reply(200, json.dumps({"data": rows}).encode(), delay=0.05)


def cursor_api(upstream, **incremental):
    return {
        "endpoint": f"{upstream.url}/v1/orders",
        "auth": {"type": "none"},
        "records_path": "data",
        "query_params": {"updated_since": "{cursor}"},
        "incremental": {
            "type": "cursor",
            "cursor_path": "updated_at",
            "initial_value": "2026-01-01T00:00:00Z",
            **incremental,
        },
    }


def state(source):
    store = StateStore(source.s3, source.bucket, state_key("orders-api"), "orders-api")
    return store.show()


def test_a_cursor_advances_over_three_runs_and_late_updates_inside_the_lookback_are_fetched(
    make_source, upstream
):
    source = make_source(cursor_api(upstream, lookback="10m"))
    api = ChangingApi()
    upstream.responder = api
    api.put(1, "2026-01-02T10:00:00Z")
    api.put(2, "2026-01-02T11:00:00Z")
    first = invoke({"run_id": "run-1"})
    assert upstream.requests[-1].query["updated_since"] == [
        "2026-01-01T00:00:00Z"
    ]  # initial_value as written
    assert first["records_ingested"] == 2 and first["cursor"]["to"] == "2026-01-02T11:00:00Z"

    api.put(3, "2026-01-02T10:55:00Z")  # written late: older than the cursor, inside the lookback
    api.put(4, "2026-01-02T12:00:00Z")
    second = invoke({"run_id": "run-2"})
    assert upstream.requests[-1].query["updated_since"] == ["2026-01-02T10:50:00Z"]
    ids = [row["id"] for row in json.loads(gzip_text(source, second["objects"][0]))["data"]]
    assert ids == [2, 3, 4]  # the late update and the overlap (2) come along
    assert second["cursor"] == {
        "from": "2026-01-02T11:00:00Z",
        "to": "2026-01-02T12:00:00Z",
        "moved": True,
        "empty_runs": 0,
    }

    api.put(5, "2026-01-02T13:30:00Z")
    third = invoke({"run_id": "run-3"})
    assert third["cursor"]["to"] == "2026-01-02T13:30:00Z"
    manifest = read_json(source, third["manifest"])
    assert manifest["incremental"]["stored"] == "2026-01-02T12:00:00Z"
    assert manifest["incremental"]["sent"] == "2026-01-02T11:50:00Z"
    assert manifest["incremental"]["max_seen"] == "2026-01-02T13:30:00Z"
    doc = state(source)
    assert doc.cursor == "2026-01-02T13:30:00Z" and doc.lease is None
    assert [(h["run_id"], h["from"], h["to"]) for h in doc.history] == [
        ("run-3", "2026-01-02T12:00:00Z", "2026-01-02T13:30:00Z"),
        ("run-2", "2026-01-02T11:00:00Z", "2026-01-02T12:00:00Z"),
        ("run-1", None, "2026-01-02T11:00:00Z"),
    ]


def gzip_text(source, key):
    import gzip

    return gzip.decompress(source.s3.get_object(Bucket=source.bucket, Key=key)["Body"].read())


def test_ten_concurrent_runs_one_advances_the_others_fail_clearly_and_nothing_is_lost(make_source, upstream):
    make_source(cursor_api(upstream))
    api = ChangingApi()
    upstream.responder = api
    config = load_config()
    client = handler._s3_client()
    pending, rounds, moves = [f"run-{i:02d}" for i in range(10)], [], []
    newest = datetime(2026, 1, 3, tzinfo=UTC)
    while pending:
        newest += timedelta(hours=1)
        api.put(len(api.records), newest.isoformat().replace("+00:00", "Z"))  # new data each round
        start = threading.Barrier(len(pending))

        def one_run(run_id: str, start: threading.Barrier = start):
            run = parse_event({"run_id": run_id}, "req")
            start.wait()
            try:
                return run_id, handler.run_ingestion(config, run, lambda: 60_000, client)
            except StateLocked as locked:
                return run_id, locked

        with ThreadPoolExecutor(max_workers=len(pending)) as pool:
            outcomes = list(pool.map(one_run, pending))
        winners = [(run_id, r) for run_id, r in outcomes if not isinstance(r, StateLocked)]
        losers = [(run_id, r) for run_id, r in outcomes if isinstance(r, StateLocked)]
        assert len(winners) == 1, outcomes  # exactly one run holds the lease
        assert all(lost.holder == winners[0][0] or lost.holder is None for _, lost in losers)
        assert all("fetched nothing" in str(lost) for _, lost in losers)
        moves.append(winners[0][1].cursor)
        rounds.append(len(pending))
        pending = [run_id for run_id, _ in losers]  # Lambda retries them
    assert rounds == list(range(10, 0, -1))
    # every advance moved forward from where the previous one ended: none lost, none backward
    assert [m["from"] for m in moves[1:]] == [m["to"] for m in moves[:-1]]
    assert all(m["moved"] and m["to"] > (m["from"] or "") for m in moves)
    assert moves[-1]["to"] == newest.isoformat().replace("+00:00", "Z")


def test_a_crash_between_the_data_and_the_manifest_leaves_the_cursor_and_the_next_run_refetches(
    make_source, upstream, monkeypatch
):
    source = make_source(cursor_api(upstream))
    api = ChangingApi()
    upstream.responder = api
    api.put(1, "2026-01-02T10:00:00Z")
    invoke({"run_id": "run-1"})
    api.put(2, "2026-01-02T11:00:00Z")

    real_put_json = sink.S3Sink.put_json

    def crash(self, key, document, scrub=str):
        raise RuntimeError("the function died before its manifest")

    monkeypatch.setattr(sink.S3Sink, "put_json", crash)
    with pytest.raises(RuntimeError, match="before its manifest"):
        invoke({"run_id": "run-2"})
    monkeypatch.setattr(sink.S3Sink, "put_json", real_put_json)
    assert [k for k in source.keys() if "run_id=run-2" in k]  # its data landed...
    assert not [k for k in source.keys() if "run_id=run-2" in k and k.endswith("_manifest.json")]
    doc = state(source)
    assert doc.cursor == "2026-01-02T10:00:00Z" and doc.lease is None  # ...the cursor did not move

    third = invoke({"run_id": "run-3"})
    assert upstream.requests[-1].query["updated_since"] == ["2026-01-02T10:00:00Z"]  # fetched again
    assert third["records_ingested"] == 1 and third["cursor"]["to"] == "2026-01-02T11:00:00Z"


def test_a_crashed_run_blocks_the_next_only_until_its_lease_expires(make_source, upstream):
    source = make_source(cursor_api(upstream))
    upstream.responder = ChangingApi()
    store = StateStore(source.s3, source.bucket, state_key("orders-api"), "orders-api")
    store.acquire("crashed-run", lease_seconds=1.5, cursor_type="timestamp")  # and never released
    with pytest.raises(StateLocked, match="held by run crashed-run"):
        invoke({"run_id": "next-run"})
    assert upstream.requests == []  # nothing fetched while locked
    time.sleep(1.6)
    result = invoke({"run_id": "next-run"})
    assert result["status"] == "SUCCESS"
    assert "took over the expired lease of run crashed-run" in state(source).history[-1]["note"] or any(
        "crashed-run" in h.get("note", "") for h in state(source).history
    )


def test_a_partial_cursor_run_resumes_with_the_same_cursor_and_moves_it_once_complete(make_source, upstream):
    source = make_source({**cursor_api(upstream), "pagination": {"type": "page_number", "max_pages": 1}})
    pages = {
        1: [{"id": 1, "updated_at": "2026-01-05T01:00:00Z"}],
        2: [{"id": 2, "updated_at": "2026-01-05T02:00:00Z"}],
    }

    def respond(seen):
        return Reply(200, json.dumps({"data": pages.get(int(seen.query["page"][0]), [])}).encode())

    upstream.responder = respond
    first = invoke({"run_id": "big-run"})
    assert first["status"] == "PARTIAL_SUCCESS" and first["cursor"]["moved"] is False
    assert state(source).cursor is None and state(source).lease is None
    second = invoke(first["resume_event"])
    third = invoke(second["resume_event"])
    assert third["status"] == "SUCCESS"
    sent = {r.query["updated_since"][0] for r in upstream.requests}
    assert sent == {"2026-01-01T00:00:00Z"}  # every page of the run asked for the same records
    assert third["cursor"] == {"from": None, "to": "2026-01-05T02:00:00Z", "moved": True, "empty_runs": 0}


def test_a_completed_cursor_run_invoked_again_calls_nothing_and_moves_nothing(make_source, upstream):
    source = make_source(cursor_api(upstream))
    api = ChangingApi()
    upstream.responder = api
    api.put(1, "2026-01-02T10:00:00Z")
    first = invoke({"run_id": "run-1"})
    api.put(2, "2026-01-02T11:00:00Z")
    again = invoke({"run_id": "run-1"})
    assert len(upstream.requests) == 1 and again["already_complete"] is True
    assert again["records_ingested"] == first["records_ingested"]
    assert state(source).cursor == "2026-01-02T10:00:00Z"


def test_an_unreadable_manifest_is_fetched_again_but_a_resume_needs_it(make_source, upstream):
    """On AWS, a missing key reads as 403 without s3:ListBucket: the completed-run check takes it
    for absent (doing the work again is safe); a resume cannot go on without the manifest."""
    config = {"endpoint": f"{upstream.url}/v1/orders", "auth": {"type": "none"}, "records_path": "data"}
    source = make_source({**config, "pagination": {"type": "page_number"}})
    upstream.default = Reply(200, b'{"data": []}')
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{source.bucket}/orders-api/*/_manifest.json",
            }
        ],
    }
    source.s3.put_bucket_policy(Bucket=source.bucket, Policy=json.dumps(deny))
    with pytest.raises(ClientError, match=r"AccessDenied|403"):
        source.s3.get_object(Bucket=source.bucket, Key="orders-api/x/_manifest.json")
    assert invoke({"run_id": "run-1"})["status"] == "SUCCESS"
    with pytest.raises(ClientError, match=r"AccessDenied|403"):
        invoke({"run_id": "run-1", "resume": {"page": 2, "page_number": 2}})


def test_a_window_sent_to_a_cursor_source_is_refused_and_touches_neither_api_nor_state(make_source, upstream):
    """A "backfill" of a cursor source would otherwise take its lease and move the live cursor."""
    source = make_source(cursor_api(upstream))
    window = {"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"}
    for event in ({"window": window}, {"window": window, "backfill_id": "old"}):
        with pytest.raises(EventError, match="a cursor source takes no window"):
            invoke(event)
    assert upstream.requests == [] and state(source) is None
    assert source.keys() == []


def test_a_window_sent_to_a_source_that_is_not_incremental_is_refused(make_source, upstream):
    make_source({"endpoint": f"{upstream.url}/v1/orders", "auth": {"type": "none"}, "records_path": "data"})
    with pytest.raises(EventError, match="this source is not incremental"):
        invoke({"window": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"}})
    assert upstream.requests == []
