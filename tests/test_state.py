"""lake_ingest.state against moto (the aws_endpoint fixture, with its conditional-write shim): the
lease, advancing that never goes backward, crashed and late runs, operators, and the requests."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import boto3
import pytest
from botocore.config import Config

from lake_ingest.incremental import CursorValueError
from lake_ingest.state import (
    HISTORY_LIMIT,
    Lease,
    StateConflict,
    StateError,
    StateLocked,
    StateStore,
    kms_encryption,
    state_key,
)
from tests.test_local_aws_shims import widen_conditional_gap

OWNER = "123456789012"  # moto's account
KEY = state_key("orders")
T0 = datetime(2026, 3, 29, 10, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves: leases expire without waiting."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def tick(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def s3(aws_endpoint):
    return boto3.client("s3")


@pytest.fixture
def bucket(s3):
    name = f"state-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(s3, bucket, clock):
    return StateStore(s3, bucket, KEY, "orders-api", clock=clock)


def stored(s3, bucket) -> dict:
    return json.loads(s3.get_object(Bucket=bucket, Key=KEY)["Body"].read())


def run(store: StateStore, run_id: str, to_value, covered=None, cursor_type="timestamp"):
    lease = store.acquire(run_id, 300, cursor_type)
    return lease, store.advance(lease, to_value, cursor_type, covered or {"pages": 1})


def test_state_key():
    assert state_key("orders") == "orders/_state/cursor.json"
    assert state_key("billing/invoices") == "billing/invoices/_state/cursor.json"


def test_the_first_run_creates_the_state_with_its_lease(s3, bucket, store):
    assert store.read() == (None, None)
    lease = store.acquire("run-1", 300, "timestamp")
    document = {
        "state_version": 1,
        "source_id": "orders-api",
        "cursor_type": "timestamp",
        "cursor": None,
        "updated_at": "2026-03-29T10:00:00.000Z",
        "updated_by_run": "run-1",
        "lease": {"run_id": "run-1", "expires_at": "2026-03-29T10:05:00.000Z"},
        "history": [],
        "empty_runs": 0,
    }
    response = s3.get_object(Bucket=bucket, Key=KEY)
    assert response["Body"].read() == json.dumps(document, indent=2, sort_keys=True).encode()
    assert response["ContentType"] == "application/json"
    assert lease.etag == response["ETag"]
    assert lease.expires_at == T0 + timedelta(seconds=300)
    assert lease.state.cursor is None and lease.taken_over is None
    assert store.read()[1] == lease.etag


def test_three_runs_advance_the_cursor_and_keep_a_history(s3, bucket, store, clock):
    values = ["2026-03-29T09:00:00Z", "2026-03-29T10:00:00+02:00", 1774778400]  # 09:00, 08:00 (!), 10:00Z
    seen_cursors = []
    for number, value in enumerate(values, start=1):
        lease, _ = run(store, f"run-{number}", value, {"records": number})
        seen_cursors.append(lease.state.cursor)
        clock.tick(minutes=1)
    # run 2 saw an older value (10:00+02:00 is 08:00Z): the cursor stayed
    assert seen_cursors == [None, "2026-03-29T09:00:00Z", "2026-03-29T09:00:00Z"]
    document = stored(s3, bucket)
    assert document["cursor"] == 1774778400
    assert document["updated_by_run"] == "run-3" and document["lease"] is None
    history = document["history"]
    assert [(e["run_id"], e["from"], e["to"]) for e in history] == [
        ("run-3", "2026-03-29T09:00:00Z", 1774778400),
        ("run-2", "2026-03-29T09:00:00Z", "2026-03-29T09:00:00Z"),
        ("run-1", None, "2026-03-29T09:00:00Z"),
    ]
    assert [e["covered"] for e in history] == [{"records": 3}, {"records": 2}, {"records": 1}]
    assert [e["at"] for e in history] == [
        "2026-03-29T10:02:00.000Z",
        "2026-03-29T10:01:00.000Z",
        "2026-03-29T10:00:00.000Z",
    ]
    assert history[1]["note"].startswith("kept: the run saw nothing newer")
    assert history[0]["note"] == "advanced"


def test_the_cursor_never_moves_backward(s3, bucket, store):
    run(store, "run-1", "2026-03-02T01:00:00+01:00")  # 00:00Z
    # later, though it sorts earlier as text
    _, doc = run(store, "run-2", "2026-03-02T00:30:00Z")
    assert doc.cursor == "2026-03-02T00:30:00Z"
    _, doc = run(store, "run-3", "2026-03-01T23:59:59Z")
    assert doc.cursor == "2026-03-02T00:30:00Z"
    _, doc = run(store, "run-4", None)
    assert doc.cursor == "2026-03-02T00:30:00Z"
    assert doc.history[0]["note"] == "kept: the run saw no cursor value"
    assert stored(s3, bucket)["cursor"] == "2026-03-02T00:30:00Z"


def test_number_cursors_compare_as_numbers_and_decimals_are_stored_exactly(s3, bucket, store):
    run(store, "run-1", 9, cursor_type="number")
    _, doc = run(store, "run-2", 10, cursor_type="number")
    assert doc.cursor == 10
    run(store, "run-3", Decimal("12"), cursor_type="number")
    assert stored(s3, bucket)["cursor"] == 12
    run(store, "run-4", Decimal("12.50"), cursor_type="number")
    assert stored(s3, bucket)["cursor"] == "12.50"  # its digits, not a binary float


def test_a_live_lease_of_another_run_refuses_the_next(s3, bucket, store, clock):
    store.acquire("run-1", 300)
    before = s3.get_object(Bucket=bucket, Key=KEY)["ETag"]
    clock.tick(seconds=299)
    with pytest.raises(StateLocked) as locked:
        store.acquire("run-2", 300)
    message = str(locked.value)
    assert "held by run run-1 until 2026-03-29T10:05:00.000Z" in message
    assert "this run fetched nothing and will be retried" in message
    assert (locked.value.holder, locked.value.until) == ("run-1", T0 + timedelta(seconds=300))
    assert s3.get_object(Bucket=bucket, Key=KEY)["ETag"] == before  # nothing written


def test_an_expired_lease_of_a_crashed_run_is_taken_over(s3, bucket, store, clock):
    run(store, "run-0", "2026-03-29T09:00:00Z")
    store.acquire("run-1", 300)  # and then the run crashes
    clock.tick(seconds=300)
    lease = store.acquire("run-2", 300)
    assert lease.taken_over is not None and lease.taken_over.run_id == "run-1"
    assert lease.state.cursor == "2026-03-29T09:00:00Z"
    document = stored(s3, bucket)
    assert document["lease"] == {"run_id": "run-2", "expires_at": "2026-03-29T10:10:00.000Z"}
    assert document["history"][0]["note"].startswith("took over the expired lease of run run-1")
    assert document["history"][0]["from"] == document["history"][0]["to"] == "2026-03-29T09:00:00Z"


def test_a_second_delivery_of_the_same_run_is_refused_while_the_first_holds_the_lease(
    s3, bucket, store, clock
):
    """Lambda and EventBridge Scheduler may deliver one event twice: the copies share the run id."""
    first = store.acquire("run-1", 300)
    clock.tick(seconds=10)
    with pytest.raises(StateLocked) as locked:
        store.acquire("run-1", 300)
    assert "another delivery of this same run (run-1" in str(locked.value)
    assert "this copy fetched nothing and will be retried" in str(locked.value)
    store.advance(first, "2026-03-29T09:30:00Z", "timestamp", {})  # the first goes on, undisturbed
    assert stored(s3, bucket)["cursor"] == "2026-03-29T09:30:00Z"
    again = store.acquire("run-1", 300)  # once it is done, the same run id may run again (a resume)
    assert again.taken_over is None


def test_a_run_that_lost_its_lease_cannot_advance(s3, bucket, store, clock):
    run(store, "run-0", "2026-03-29T08:00:00Z")
    slow = store.acquire("run-1", 300)
    clock.tick(seconds=301)  # run-1 ran past the function timeout
    late = store.acquire("run-2", 300)
    with pytest.raises(StateConflict) as conflict:
        store.advance(slow, "2026-03-29T09:59:00Z", "timestamp", {"pages": 9})
    assert str(conflict.value) == (
        f"run run-1 could not record its cursor in s3://{bucket}/{KEY}: run run-2 took it over after this "
        "run's lease ran out (2026-03-29T10:05:00.000Z). The cursor was not advanced; the run's data stays "
        "in the lake and the next run fetches from the stored cursor"
    )
    document = stored(s3, bucket)
    assert document["cursor"] == "2026-03-29T08:00:00Z"
    assert document["lease"]["run_id"] == "run-2"
    store.advance(late, "2026-03-29T09:00:00Z", "timestamp", {})
    assert stored(s3, bucket)["cursor"] == "2026-03-29T09:00:00Z"


def test_release_gives_the_state_back_without_advancing(s3, bucket, store):
    run(store, "run-0", "2026-03-29T08:00:00Z")
    history = stored(s3, bucket)["history"]
    lease = store.acquire("run-1", 300)
    assert store.release(lease) is True
    document = stored(s3, bucket)
    assert document["lease"] is None
    assert document["cursor"] == "2026-03-29T08:00:00Z" and document["history"] == history
    assert store.release(lease) is True  # released already: the state is as this release leaves it
    next_lease = store.acquire("run-2", 300)  # free at once, no need to wait for the expiry
    assert next_lease.taken_over is None


def test_operators_show_set_and_reset(s3, bucket, store, clock):
    assert store.show() is None
    assert store.reset() is None  # nothing to reset, nothing written
    with pytest.raises(CursorValueError):
        store.set("last week", "timestamp")
    assert store.show() is None
    doc = store.set("2026-01-01T00:00:00Z", "timestamp")
    assert doc == store.show()
    assert (doc.cursor, doc.cursor_type, doc.updated_by_run) == (
        "2026-01-01T00:00:00Z",
        "timestamp",
        "operator",
    )
    run(store, "run-1", "2026-03-01T00:00:00Z")
    clock.tick(minutes=5)
    back = store.set("2026-02-01T00:00:00Z", "timestamp", by="alice")  # a re-fetch: backward on purpose
    assert back.cursor == "2026-02-01T00:00:00Z"
    assert back.history[0]["note"] == "set by alice" and back.history[0]["from"] == "2026-03-01T00:00:00Z"
    reset = store.reset()
    assert reset is not None and reset.cursor is None
    assert [e["note"] for e in stored(s3, bucket)["history"]] == [
        "reset by operator",
        "set by alice",
        "advanced",
        "set by operator",
    ]
    lease = store.acquire("run-2", 300, "timestamp")
    assert lease.state.cursor is None  # the next run starts from initial_value


def test_operators_wait_for_a_live_lease_unless_they_force(s3, bucket, store):
    lease = store.acquire("run-1", 300)
    with pytest.raises(StateLocked, match="run run-1 holds"):
        store.set("2026-01-01T00:00:00Z", "timestamp")
    with pytest.raises(StateLocked):
        store.reset()
    store.set("2026-01-01T00:00:00Z", "timestamp", force=True)
    with pytest.raises(StateConflict):
        store.advance(lease, "2026-03-29T09:00:00Z", "timestamp", {})
    document = stored(s3, bucket)
    assert (document["cursor"], document["lease"]) == ("2026-01-01T00:00:00Z", None)


def test_a_stored_cursor_of_another_type_is_refused_before_anything_is_fetched(s3, bucket, store):
    store.set(12345, "number")
    with pytest.raises(StateError, match=r"holds a number cursor .* cursor_type is timestamp"):
        store.acquire("run-1", 300, "timestamp")
    assert stored(s3, bucket)["lease"] is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "is not JSON"),
        (b'{"state_version": 2}', "state_version 2"),
        (b'{"state_version": 1, "cursor": 5}', "is not a valid cursor state document"),
        (b"[]", "not a JSON object"),
    ],
)
def test_an_unusable_document_is_reported_and_a_forced_reset_repairs_it(s3, bucket, store, body, problem):
    s3.put_object(Bucket=bucket, Key=KEY, Body=body)
    with pytest.raises(StateError, match=problem):
        store.acquire("run-1", 300)
    with pytest.raises(StateError):
        store.reset()
    repaired = store.reset(force=True)
    assert repaired is not None and repaired.cursor is None
    assert store.acquire("run-1", 300).state.cursor is None


def test_a_hand_edited_lease_without_an_offset_is_utc(s3, bucket, store, clock):
    store.acquire("run-1", 300)
    document = stored(s3, bucket)
    document["lease"]["expires_at"] = "2026-03-29T10:05:00"
    s3.put_object(Bucket=bucket, Key=KEY, Body=json.dumps(document).encode())
    with pytest.raises(StateLocked, match=r"until 2026-03-29T10:05:00\.000Z"):
        store.acquire("run-2", 300)
    clock.tick(seconds=300)
    assert store.acquire("run-2", 300).taken_over.run_id == "run-1"


def test_the_history_is_bounded(s3, bucket, store):
    for number in range(HISTORY_LIMIT + 5):
        run(store, f"run-{number}", number, cursor_type="number")
    history = stored(s3, bucket)["history"]
    assert len(history) == HISTORY_LIMIT
    assert history[0]["run_id"] == f"run-{HISTORY_LIMIT + 4}" and history[-1]["run_id"] == "run-5"


def test_every_request_names_the_expected_bucket_owner(s3, bucket, clock):
    seen: list[tuple[str, str | None]] = []

    def record(request, event_name, **_):
        owner = request.headers.get("x-amz-expected-bucket-owner")
        seen.append((event_name.rsplit(".", 1)[-1], owner.decode() if isinstance(owner, bytes) else owner))

    client = boto3.client("s3")
    client.meta.events.register("before-send.s3", record)
    store = StateStore(client, bucket, KEY, "orders-api", expected_owner=OWNER, clock=clock)
    store.read()
    lost = store.acquire("run-1", 300, "timestamp")
    clock.tick(seconds=301)
    lease = store.acquire("run-2", 300, "timestamp")
    with pytest.raises(StateConflict):
        store.advance(lost, "2026-03-29T09:00:00Z", "timestamp", {})
    store.advance(lease, "2026-03-29T09:00:00Z", "timestamp", {})
    store.release(store.acquire("run-3", 300))
    store.set("2026-01-01T00:00:00Z", "timestamp")
    store.reset()
    store.show()
    assert {operation for operation, _ in seen} == {"GetObject", "PutObject"}
    assert len(seen) >= 12
    assert [r for r in seen if r[1] != OWNER] == []


def test_the_state_is_encrypted_with_the_sources_key(s3, bucket, clock, aws_endpoint):
    key_arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    assert kms_encryption(None) == {}
    store = StateStore(s3, bucket, KEY, "orders-api", clock=clock, sse=kms_encryption(key_arn))
    run(store, "run-1", "2026-03-29T09:00:00Z")
    head = s3.head_object(Bucket=bucket, Key=KEY)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key_arn


def test_a_state_the_role_cannot_read_is_created_once_then_reported(s3, bucket, store):
    """Without s3:ListBucket, S3 answers 403 for a missing key too: the store creates the state with
    If-None-Match instead of reading it, and a 412 then means it exists but cannot be read."""
    deny_read = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "NoStateReads",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/{KEY}",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(deny_read))
    lease = store.acquire("run-1", 300, "timestamp")
    assert lease.state.cursor is None
    assert store.release(lease) is True
    with pytest.raises(StateError, match="needs s3:GetObject on it"):
        store.acquire("run-2", 300, "timestamp")


def test_of_ten_runs_starting_at_once_exactly_one_holds_the_state(bucket, aws_endpoint, monkeypatch):
    widen_conditional_gap(monkeypatch)  # each racer's write lands in moto's check-to-write gap
    no_retries = Config(retries={"max_attempts": 1, "mode": "standard"})
    stores = [StateStore(boto3.client("s3", config=no_retries), bucket, KEY, "orders-api") for _ in range(10)]
    barrier = threading.Barrier(len(stores))
    outcomes: dict[str, Lease | Exception] = {}

    def start(index: int) -> None:
        barrier.wait()
        try:
            outcomes[f"run-{index}"] = stores[index].acquire(f"run-{index}", 300, "timestamp")
        except Exception as error:  # noqa: BLE001 - every outcome is asserted below
            outcomes[f"run-{index}"] = error

    threads = [threading.Thread(target=start, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    leases = {run_id: o for run_id, o in outcomes.items() if isinstance(o, Lease)}
    locked = [o for o in outcomes.values() if isinstance(o, StateLocked)]
    assert len(leases) == 1 and len(locked) == 9, outcomes
    (winner,) = leases
    assert stores[0].show().lease.run_id == winner
    assert {error.holder for error in locked} == {winner}  # each one read the winner's lease
