"""examples/push applied to the local AWS: signed webhooks in through the HTTP API, rows out of the
documented queries; every bad request refused and nothing of it stored.

The local AWS serves the applied HTTP API's route (scripts/local_aws.py gap 12: its throttle, the
ingress in a warm worker) and delivers the buffer queue to the source's function in batches (gap 13).
What those shims cannot prove is listed in docs/push.md; IAM is decided by the policy evaluation
matrix (tests/test_policy_matrix.py), not here.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from scripts.demo import query as demo_query
from scripts.demo_push import exercise
from scripts.harness import local_client
from scripts.webhooks import Answer, post, signed_headers

from tests.conftest import GITHUB_SECRET, STRIPE_SECRET

pytestmark = [pytest.mark.terraform, pytest.mark.slow]


def stripe_event(event_id: str, created: int, marker: str = "") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "invoice.paid",
            "created": created,
            "livemode": False,
            "marker": marker,
        }
    ).encode()


def send_stripe(
    push: dict[str, Any], body: bytes, secret: str = STRIPE_SECRET, now: float | None = None
) -> Answer:
    return post(push["urls"]["stripe-events"], body, signed_headers("stripe", secret, body, now))


def query(push: dict[str, Any], source: str, named: str) -> list[dict[str, Any]]:
    """A documented query's rows, as `make demo-push` runs the query command (HarnessError on failure)."""
    (output,) = demo_query(push["source_files"][source], push["endpoint"], named, as_json=True)
    rows: list[dict[str, Any]] = json.loads(output)["rows"]
    return rows


def rows_until(
    push: dict[str, Any], source: str, named: str, enough: Any, timeout: float = 60.0
) -> list[dict[str, Any]]:
    """The query's rows once `enough(rows)` holds: the writer works in batches, after the window."""
    deadline = time.monotonic() + timeout
    while True:
        rows = query(push, source, named)
        if enough(rows) or time.monotonic() > deadline:
            return rows
        time.sleep(1.0)


def buffered(push: dict[str, Any], source: str) -> int:
    """Messages still in a source's buffer queue (visible or being written)."""
    sqs = local_client("sqs", push["endpoint"])
    attributes = sqs.get_queue_attributes(
        QueueUrl=push["outputs"]["sources"][source]["push_buffer_url"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def push(push_sources):
    """The deployment, with the local AWS's dummy credentials in the environment the query command and
    the demo's steps inherit."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in LOCAL_CREDENTIALS.items():
            patch.setenv(name, value)
        yield push_sources


def test_signed_events_become_rows_once_each_and_the_newest_wins(push):
    now = int(time.time())
    run = uuid.uuid4().hex[:8]
    first, second = f"evt_{run}_1", f"evt_{run}_2"
    answers = [
        send_stripe(push, stripe_event(first, now - 50, "v1")),
        send_stripe(push, stripe_event(second, now - 40, "only")),
        # Reordered: a newer version of the first event arrives, then an older one after it.
        send_stripe(push, stripe_event(first, now - 10, "v3-newest")),
        send_stripe(push, stripe_event(first, now - 30, "v2-late")),
    ]
    assert [a.status for a in answers] == [200, 200, 200, 200], answers
    assert all(a.body == {"ok": True} for a in answers)
    # The sender retries an accepted event (its 2xx was lost): re-signed, a new request, stored again.
    retry = stripe_event(second, now - 40, "only")
    assert send_stripe(push, retry, now=time.time() + 5).status == 200  # Stripe retries minutes later

    ids = {first, second}
    complete = rows_until(
        push, "stripe-events", "complete", lambda rows: len([r for r in rows if r["event_id"] in ids]) >= 5
    )
    mine = [r for r in complete if r["event_id"] in ids]
    assert len(mine) == 5, mine  # every accepted request, the retry included
    latest = {r["event_id"]: r for r in query(push, "stripe-events", "latest") if r["event_id"] in ids}
    assert set(latest) == ids
    assert json.loads(latest[first]["record"])["marker"] == "v3-newest"  # by event time, not arrival
    assert json.loads(latest[second]["record"])["marker"] == "only"
    row = latest[first]
    assert row["type"] == "invoice.paid" and row["livemode"] is False  # the declared typed columns
    assert row["received_at"] and row["cursor_value"].startswith(
        time.strftime("%Y-%m-%d", time.gmtime(now - 10))
    )
    assert row["run_id"].startswith("push-")


def test_bad_requests_are_refused_and_never_stored(push):
    now = time.time()
    marker = "bad-" + uuid.uuid4().hex
    body = stripe_event("evt_" + marker, int(now), marker)
    url = push["urls"]["stripe-events"]
    forged = send_stripe(push, body, secret="whsec_not_the_one")
    unsigned = post(url, body, {"Content-Type": "application/json"})
    expired = send_stripe(push, body, now=now - 600)
    future = send_stripe(push, body, now=now + 600)
    malformed_header = post(
        url, body, {"Content-Type": "application/json", "Stripe-Signature": "t=abc,v1=zz"}
    )
    not_json = b"{not json " + marker.encode()
    malformed_body = post(url, not_json, signed_headers("stripe", STRIPE_SECRET, not_json))
    oversized_body = b'{"pad":"' + b"x" * 300_000 + b'"}'
    oversized = post(url, oversized_body, signed_headers("stripe", STRIPE_SECRET, oversized_body))
    answers = {
        "forged": (forged, 401, "bad_signature"),
        "unsigned": (unsigned, 401, "unsigned"),
        "expired": (expired, 401, "expired"),
        "future": (future, 401, "expired"),
        "malformed header": (malformed_header, 400, "malformed"),
        "malformed body": (malformed_body, 400, "malformed"),
        "oversized": (oversized, 413, "oversized"),
    }
    for name, (answer, status, reason) in answers.items():
        assert (answer.status, answer.body.get("error")) == (status, reason), name

    # A good request, then the very same request again (captured and replayed): the second is refused.
    good_body = stripe_event("evt_good_" + marker, int(now), "good-" + marker)
    headers = signed_headers("stripe", STRIPE_SECRET, good_body)
    assert post(url, good_body, headers).status == 200
    replayed = post(url, good_body, headers)
    assert (replayed.status, replayed.body.get("error")) == (401, "replayed")

    rows = rows_until(
        push, "stripe-events", "complete", lambda rows: any(marker in r["record"] for r in rows)
    )
    stored = [r for r in rows if marker in r["record"]]
    assert [json.loads(r["record"])["marker"] for r in stored] == ["good-" + marker]  # once; no bad one


def test_github_deliveries_are_verified_by_their_own_secret_and_replays_refused(push):
    url = push["urls"]["github-events"]
    body = json.dumps({"action": "opened", "number": 7, "marker": uuid.uuid4().hex}).encode()
    headers = signed_headers("github", GITHUB_SECRET, body)
    assert post(url, body, headers).status == 200
    assert post(url, body, headers).body == {"error": "replayed"}  # GitHub's redelivery of the same body
    # The Stripe source's secret does not open the GitHub source's endpoint, nor the other way round.
    assert post(url, body, signed_headers("github", STRIPE_SECRET, body)).status == 401
    stripe_body = stripe_event("evt_cross", int(time.time()))
    assert (
        post(
            push["urls"]["stripe-events"], stripe_body, signed_headers("stripe", GITHUB_SECRET, stripe_body)
        ).status
        == 401
    )
    delivery = headers["X-GitHub-Delivery"]
    rows = rows_until(
        push, "github-events", "latest", lambda rows: any(r["event_id"] == delivery for r in rows)
    )
    (row,) = [r for r in rows if r["event_id"] == delivery]
    assert row["action"] == "opened" and row["record"] == body.decode()  # the exact bytes signed


def test_the_buffer_failing_answers_503_and_the_retry_is_accepted(push):
    functions = local_client("lambda", push["endpoint"])
    name = push["outputs"]["sources"]["stripe-events"]["ingress_function_name"]
    environment = functions.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    gone = environment["BUFFER_QUEUE_URL"].rsplit("/", 1)[0] + "/no-such-queue"
    body = stripe_event("evt_buffer_" + uuid.uuid4().hex, int(time.time()))
    headers = signed_headers("stripe", STRIPE_SECRET, body)
    functions.update_function_configuration(
        FunctionName=name, Environment={"Variables": {**environment, "BUFFER_QUEUE_URL": gone}}
    )
    try:
        failed = post(push["urls"]["stripe-events"], body, headers)
    finally:
        functions.update_function_configuration(FunctionName=name, Environment={"Variables": environment})
    assert (failed.status, failed.body.get("error")) == (503, "buffer_unavailable")
    # The sender retries the very same request: its replay claim was released, so it is accepted.
    assert post(push["urls"]["stripe-events"], body, headers).status == 200


def test_the_route_throttle_answers_429(push):
    """github-events: rate 50, burst 100 (examples/push); 150 requests at once exceed the burst."""
    url = push["urls"]["github-events"]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(
            pool.map(lambda _: post(url, b"{}", {"Content-Type": "application/json"}).status, range(150))
        )
    assert statuses.count(429) > 0 and set(statuses) <= {401, 429}  # unsigned: throttled or refused


def test_the_queues_and_alarms_read_back(push):
    sqs = local_client("sqs", push["endpoint"])
    source = push["outputs"]["sources"]["stripe-events"]
    attributes = sqs.get_queue_attributes(QueueUrl=source["push_buffer_url"], AttributeNames=["All"])[
        "Attributes"
    ]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive == {"deadLetterTargetArn": source["push_dlq_arn"], "maxReceiveCount": 5}
    assert int(attributes["MessageRetentionPeriod"]) == 14 * 86400
    assert attributes["KmsMasterKeyId"] == push["outputs"]["lake"]["kms_key_arn"]
    alarms = local_client("cloudwatch", push["endpoint"]).describe_alarms(
        AlarmNamePrefix=source["function_name"]
    )
    names = {a["AlarmName"].removeprefix(source["function_name"] + "-") for a in alarms["MetricAlarms"]}
    assert {
        "push-rejected",
        "push-dead-letters",
        "push-buffer-failed",
        "push-api-5xx",
        "push-no-events",
    } <= names, names


def test_a_second_plan_shows_no_changes(push):
    plan = push["terraform"]("plan", "-detailed-exitcode", "-no-color", *push["variables"], check=False)
    assert plan.returncode == 0, plan.stdout[-3000:]


def test_the_push_demo_runs_on_the_deployment(push):
    """`make demo-push`'s steps after the apply (scripts/demo_push.py exercise), on this deployment."""
    said: list[str] = []
    keys = {"stripe-events": STRIPE_SECRET, "github-events": GITHUB_SECRET}
    rows = exercise(push, keys=keys, show=said.append)
    amounts = {
        r["event_id"]: json.loads(r["record"])["data"]["object"]["amount_paid"] for r in rows["stripe-events"]
    }
    assert amounts == {"evt_demo_1": 1250, "evt_demo_2": 500}  # the newer version; the retry once
    assert len(rows["github-events"]) == 1
    answers = [line.split()[:2] for line in said if line.startswith("    ") and line.split()[0].isdigit()]
    assert [a[0] for a in answers] == ["200"] * 5 + ["401", "401", "401", "401", "413", "400"]


def wait_empty(push: dict[str, Any], source: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while buffered(push, source) and time.monotonic() < deadline:
        time.sleep(0.5)


def test_nothing_accepted_is_left_in_the_buffer(push):
    """Every event the tests above got a 200 for was written and deleted from the queue."""
    for source in ("stripe-events", "github-events"):
        wait_empty(push, source)
        assert buffered(push, source) == 0, source
    dlq = push["outputs"]["sources"]["stripe-events"]["push_dlq_arn"]
    sqs = local_client("sqs", push["endpoint"])
    url = sqs.get_queue_url(QueueName=dlq.rsplit(":", 1)[1])["QueueUrl"]
    depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "0"
