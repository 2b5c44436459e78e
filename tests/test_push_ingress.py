"""The push ingress handler against the local AWS (moto server): Secrets Manager, DynamoDB, SQS.

Each test makes its own secret, replay table and queue, sends API Gateway payload 2.0 events to
`lake_ingest.push.ingress.lambda_handler` and looks at the answer, the queue, the claims and the
EMF metrics the function prints.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from lake_ingest.observability import logger
from lake_ingest.push import ingress, signing_secrets
from lake_ingest.push.replay import ReplayStore
from lake_ingest.push.signing_secrets import SigningSecretError
from tests.conftest import REGION, LambdaContext
from tests.test_push_verify import TOKEN_HEADER, signed_headers

STRIPE_BODY = {
    "id": "evt_1Nq",
    "type": "invoice.paid",
    "created": 1764838805,
    "data": {"object": {"amount": 42}},
}


@dataclass
class Hook:
    """One push source's resources in the local AWS, and the calls a sender makes."""

    style: str
    secret: str
    secret_arn: str
    queue_url: str
    table: str

    def send(
        self,
        body: bytes | str | dict[str, Any],
        headers: dict[str, str] | None = None,
        *,
        secret: str | None = None,
        t: int | None = None,
        method: str = "POST",
        base64_encoded: bool = False,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """The answer to one request, signed as the style's sender signs unless `headers` are given."""
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        raw = raw.encode() if isinstance(raw, str) else raw
        if headers is None:
            headers = signed_headers(
                self.style, raw, secret or self.secret, int(time.time()) if t is None else t
            )
        event = {
            "version": "2.0",
            "routeKey": "POST /hooks/orders-hooks",
            "rawPath": "/hooks/orders-hooks",
            "headers": {"content-type": content_type, **{k.lower(): v for k, v in headers.items()}},
            "requestContext": {"http": {"method": method, "path": "/hooks/orders-hooks"}},
            "body": base64.b64encode(raw).decode()
            if base64_encoded
            else raw.decode("utf-8", "surrogatepass"),
            "isBase64Encoded": base64_encoded,
        }
        context = LambdaContext(aws_request_id=str(uuid.uuid4()), function_name="lake-orders-hooks-ingress")
        answer = ingress.lambda_handler(event, context)
        return {**answer, "json": json.loads(answer["body"])}

    def queued(self) -> list[dict[str, Any]]:
        """Every message in the queue (received once, so call it once per test)."""
        sqs = boto3.client("sqs", region_name=REGION)
        found: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                return found
            found += batch

    def depth(self) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        sqs = boto3.client("sqs", region_name=REGION)
        attributes = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=names)["Attributes"]
        return sum(int(attributes[n]) for n in names)

    def claims(self) -> list[dict[str, Any]]:
        return boto3.client("dynamodb", region_name=REGION).scan(TableName=self.table)["Items"]


def attributes(msg: dict[str, Any]) -> dict[str, str]:
    return {name: value["StringValue"] for name, value in msg["MessageAttributes"].items()}


def emf(capfd: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    out = capfd.readouterr().out
    return [json.loads(line) for line in out.splitlines() if '"_aws"' in line]


def metric_names(doc: dict[str, Any]) -> set[str]:
    return {m["Name"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def new_queue() -> str:
    return boto3.client("sqs", region_name=REGION).create_queue(QueueName=f"push-{uuid.uuid4().hex[:12]}")[
        "QueueUrl"
    ]


@pytest.fixture
def make_hook(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    def make(style: str = "stripe", replay: bool = True, secret_value: Any = None, **push_keys: Any) -> Hook:
        suffix = uuid.uuid4().hex[:10]
        secret = f"whsec_{uuid.uuid4().hex}"
        value = {"signing_secrets": [{"value": secret}]} if secret_value is None else secret_value
        secret_arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=f"lake-ingest/orders-hooks-{suffix}", SecretString=json.dumps(value)
        )["ARN"]
        table = f"orders-hooks-{suffix}-replay"
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        push = {
            "signature": style,
            "header_name": TOKEN_HEADER if style == "header" else None,
            "tolerance_seconds": 300,
            "max_body_bytes": 256000,
            "event_id": None,
            "event_time": None,
            "replay_retention_seconds": 604800,
            **push_keys,
        }
        hook = Hook(style, secret, secret_arn, new_queue(), table)
        env = {
            "SOURCE_ID": "orders-hooks",
            "SECRET_ARN": secret_arn,
            "PUSH_CONFIG": json.dumps(push),
            "BUFFER_QUEUE_URL": hook.queue_url,
            "REPLAY_TABLE": table if replay else "",
            "POWERTOOLS_SERVICE_NAME": "lake-ingest",
        }
        for name, setting in env.items():
            monkeypatch.setenv(name, setting)
        return hook

    return make


# -- accepted ---------------------------------------------------------------------------------------------


def test_a_signed_stripe_event_is_queued_with_its_attributes(make_hook, capfd):
    hook = make_hook("stripe", event_time="$.created")
    capfd.readouterr()
    before = time.time()
    answer = hook.send(STRIPE_BODY)
    assert (answer["statusCode"], answer["json"]) == (200, {"ok": True})
    assert answer["headers"]["content-type"] == "application/json"
    [msg] = hook.queued()
    assert msg["Body"] == json.dumps(STRIPE_BODY)
    sent = attributes(msg)
    received = sent.pop("received_at")
    assert sent == {
        "event_id": "evt_1Nq",
        "event_time": "2025-12-04T09:00:05.000Z",
        "encoding": "text",
        "content_type": "application/json",
        "signature": "stripe",
    }
    assert len(received) == 24 and received.endswith("Z") and received[10] == "T"
    assert received >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(before)))
    assert {m["DataType"] for m in msg["MessageAttributes"].values()} == {"String"}
    [doc] = emf(capfd)
    assert metric_names(doc) == {"PushAccepted"} and doc["PushAccepted"] == [1.0]
    assert doc["SourceId"] == "orders-hooks" and "Reason" not in doc
    [claim] = hook.claims()
    assert claim["state"] == {"S": "done"}
    assert int(claim["expires_at"]["N"]) - int(claim["lease_until"]["N"]) == 600 - 60  # 2 x tolerance


@pytest.mark.parametrize(
    ("style", "body", "event_id"),
    [
        ("stripe", {"id": "evt_2", "type": "charge.succeeded"}, "evt_2"),
        ("slack", {"type": "event_callback", "event_id": "Ev08MFMKH6J9"}, "Ev08MFMKH6J9"),
        ("github", {"action": "opened", "number": 7}, "d-1"),  # X-GitHub-Delivery
        ("header", {"order": 17}, None),  # the body's sha256
    ],
)
def test_each_style_is_accepted_and_queued(make_hook, style, body, event_id):
    hook = make_hook(style)
    answer = hook.send(body)
    assert (answer["statusCode"], answer["json"]) == (200, {"ok": True})
    [msg] = hook.queued()
    sent = attributes(msg)
    assert sent["signature"] == style and sent["event_time"] == sent["received_at"]
    assert sent["event_id"] == (event_id or ingress.message.sha256_hex(json.dumps(body).encode()))


@pytest.mark.filterwarnings("ignore:No application metrics")  # an endpoint check counts as nothing
def test_slack_url_verification_is_answered_and_nothing_stored(make_hook, capfd):
    hook = make_hook("slack")
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    answer = hook.send(
        {"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": challenge, "type": "url_verification"}
    )
    assert (answer["statusCode"], answer["json"]) == (200, {"challenge": challenge})
    assert hook.depth() == 0 and hook.claims() == []
    assert all("PushAccepted" not in metric_names(doc) for doc in emf(capfd))


def test_an_unsigned_url_verification_is_refused(make_hook):
    hook = make_hook("slack")
    answer = hook.send({"challenge": "c", "type": "url_verification"}, secret="not-slacks-secret")
    assert (answer["statusCode"], answer["json"]) == (401, {"error": "bad_signature"})


def test_a_slack_form_body_is_queued_as_text(make_hook):
    hook = make_hook("slack")
    form = "command=%2Fdeploy&text=prod&trigger_id=13345224609.738474920.8088930838d88f008e0"
    answer = hook.send(form, content_type="application/x-www-form-urlencoded; charset=utf-8")
    assert answer["statusCode"] == 200
    [msg] = hook.queued()
    assert msg["Body"] == form and attributes(msg)["event_id"] == ingress.message.sha256_hex(form.encode())


def test_a_body_sqs_would_refuse_travels_as_base64(make_hook):
    hook = make_hook("github")
    text = '{"name": "noncharacter \ufffe inside"}'  # valid JSON and UTF-8; not an XML character
    assert hook.send(text)["statusCode"] == 200
    [msg] = hook.queued()
    assert attributes(msg)["encoding"] == "base64" and base64.b64decode(msg["Body"]).decode() == text


def test_a_base64_encoded_request_is_checked_and_queued_decoded(make_hook):
    hook = make_hook("stripe")
    assert hook.send(STRIPE_BODY, base64_encoded=True)["statusCode"] == 200
    [msg] = hook.queued()
    assert msg["Body"] == json.dumps(STRIPE_BODY)


# -- refused: nothing queued, nothing claimed ------------------------------------------------------------


@pytest.mark.parametrize(
    ("style", "request_", "status", "reason"),
    [
        ("stripe", {"headers": {}}, 401, "unsigned"),
        ("stripe", {"age": 301}, 401, "expired"),
        ("slack", {"age": -400}, 401, "expired"),  # from the future
        ("stripe", {"secret": "whsec_forged"}, 401, "bad_signature"),
        ("github", {"secret": "whsec_forged"}, 401, "bad_signature"),
        ("header", {"headers": {TOKEN_HEADER: "guessed-token"}}, 401, "bad_signature"),
        ("stripe", {"headers": {"Stripe-Signature": "t=yesterday,v1=00"}}, 400, "malformed"),
        ("github", {"headers": {"X-Hub-Signature-256": "sha1=00"}}, 400, "malformed"),
        ("stripe", {"method": "GET"}, 405, "method_not_allowed"),
        ("stripe", {"method": "PUT"}, 405, "method_not_allowed"),
    ],
)
def test_a_refused_request_is_answered_with_its_reason(make_hook, capfd, style, request_, status, reason):
    hook = make_hook(style)
    capfd.readouterr()
    if "age" in request_:  # relative to now, not to when the tests were collected
        request_ = {"t": int(time.time()) - request_["age"]}
    answer = hook.send(STRIPE_BODY, **request_)
    assert (answer["statusCode"], answer["json"]) == (status, {"error": reason})
    assert hook.depth() == 0 and hook.claims() == []
    [doc] = emf(capfd)
    assert metric_names(doc) == {"PushRejected"} and doc["PushRejected"] == [1.0]
    assert (doc["Reason"], doc["SourceId"]) == (reason, "orders-hooks")
    assert ["SourceId", "Reason"] == [
        d for d in doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0] if d != "service"
    ]
    if status == 405:
        assert answer["headers"]["allow"] == "POST"


@pytest.mark.parametrize(
    ("style", "body"),
    [
        ("stripe", b"not json at all"),
        ("github", b'{"amount": NaN}'),
        ("header", b"\xff\xfe{}"),  # not UTF-8
        ("slack", b"command=%2Fdeploy"),  # a form, but sent as JSON
        ("stripe", b"[" * 100000 + b"]" * 100000),  # deeper than the parser goes
        ("github", b""),
    ],
)
def test_a_signed_body_that_is_not_json_is_malformed(make_hook, style, body):
    hook = make_hook(style)
    answer = hook.send(body, base64_encoded=True)
    assert (answer["statusCode"], answer["json"]) == (400, {"error": "malformed"})
    assert hook.depth() == 0 and hook.claims() == []


def test_an_oversized_body_is_refused_before_its_signature_is_read(make_hook):
    hook = make_hook("stripe", max_body_bytes=1024)
    body = {"id": "evt_big", "pad": "x" * 1024}
    answer = hook.send(body, headers={})  # unsigned too: the size is checked first
    assert (answer["statusCode"], answer["json"]) == (413, {"error": "oversized"})
    fits = {"id": "evt_fits", "pad": "x" * (1024 - len(json.dumps({"id": "evt_fits", "pad": ""})))}
    assert hook.send(fits)["statusCode"] == 200 and hook.depth() == 1


def test_a_body_too_big_for_sqs_once_base64_encoded_is_oversized(make_hook):
    hook = make_hook("github", max_body_bytes=260096)
    body = '{"pad": "' + "\ufffe" * 66000 + '"}'  # 198,012 bytes, 264,016 in base64
    answer = hook.send(body)
    assert (answer["statusCode"], answer["json"]) == (413, {"error": "oversized"})
    assert hook.depth() == 0 and hook.claims() == []


# -- replays -------------------------------------------------------------------------------------------------


def test_a_replayed_request_is_refused_and_queued_once(make_hook, capfd):
    hook = make_hook("stripe")
    headers = signed_headers("stripe", json.dumps(STRIPE_BODY).encode(), hook.secret, int(time.time()))
    assert hook.send(STRIPE_BODY, headers)["statusCode"] == 200
    capfd.readouterr()
    answer = hook.send(STRIPE_BODY, headers)
    assert (answer["statusCode"], answer["json"]) == (401, {"error": "replayed"})
    [doc] = emf(capfd)
    assert doc["Reason"] == "replayed" and doc["PushRejected"] == [1.0]
    assert hook.depth() == 1


def test_a_replay_with_a_rewritten_stripe_header_is_still_a_replay(make_hook):
    hook = make_hook("stripe")
    headers = signed_headers("stripe", json.dumps(STRIPE_BODY).encode(), hook.secret, int(time.time()))
    assert hook.send(STRIPE_BODY, headers)["statusCode"] == 200
    t, v1 = headers["Stripe-Signature"].split(",")
    for rewritten in (f"{v1},{t}", f"{t},{v1},v0=00", f"{t},{v1.upper().replace('V1=', 'v1=')}"):
        answer = hook.send(STRIPE_BODY, {"Stripe-Signature": rewritten})
        assert (answer["statusCode"], answer["json"]) == (401, {"error": "replayed"}), rewritten
    assert hook.depth() == 1


def test_a_stripe_retry_re_signed_with_a_new_timestamp_is_accepted(make_hook):
    """Stripe signs every delivery attempt anew: the same event twice is two requests (the query dedupes)."""
    hook = make_hook("stripe")
    now = int(time.time())
    assert hook.send(STRIPE_BODY, t=now)["statusCode"] == 200
    assert hook.send(STRIPE_BODY, t=now - 1)["statusCode"] == 200
    assert [attributes(m)["event_id"] for m in hook.queued()] == ["evt_1Nq", "evt_1Nq"]


def test_github_sending_the_same_body_again_is_a_replay_for_the_retention(make_hook):
    hook = make_hook("github", replay_retention_seconds=3600)
    assert hook.send({"zen": "Keep it logically awesome."})["statusCode"] == 200
    assert hook.send({"zen": "Keep it logically awesome."})["json"] == {"error": "replayed"}
    [claim] = hook.claims()
    assert int(claim["expires_at"]["N"]) - int(claim["lease_until"]["N"]) == 3600 - 60


def test_the_header_style_checks_replays_only_with_a_configured_event_id(make_hook):
    hook = make_hook("header")
    assert [hook.send({"n": 1})["statusCode"] for _ in range(2)] == [200, 200]
    assert hook.claims() == []  # no event id: nothing to key a claim on (the weakest style)
    keyed = make_hook("header", event_id="$.n")
    assert [keyed.send({"n": 1})["statusCode"] for _ in range(2)] == [200, 401]
    assert len(keyed.claims()) == 1 and keyed.depth() == 1


def test_without_a_replay_table_nothing_is_claimed(make_hook):
    hook = make_hook("github", replay=False)
    assert [hook.send({"a": 1})["statusCode"] for _ in range(2)] == [200, 200]
    assert hook.claims() == [] and hook.depth() == 2


# -- the buffer failing ------------------------------------------------------------------------------------


def test_a_failed_send_answers_503_releases_the_claim_and_the_retry_is_accepted(
    make_hook, monkeypatch, capfd
):
    hook = make_hook("github")
    boto3.client("sqs", region_name=REGION).delete_queue(QueueUrl=hook.queue_url)
    capfd.readouterr()
    answer = hook.send({"action": "closed"})
    assert (answer["statusCode"], answer["json"]) == (503, {"error": "buffer_unavailable"})
    [doc] = emf(capfd)
    assert metric_names(doc) == {"PushBufferFailed"} and doc["SourceId"] == "orders-hooks"
    assert hook.claims() == []  # released: the sender's retry must not be a "replay"
    hook.queue_url = new_queue()
    monkeypatch.setenv("BUFFER_QUEUE_URL", hook.queue_url)
    assert hook.send({"action": "closed"})["statusCode"] == 200
    [msg] = hook.queued()
    assert json.loads(msg["Body"]) == {"action": "closed"}
    assert [c["state"]["S"] for c in hook.claims()] == ["done"]


def test_a_replay_store_failure_answers_503_and_queues_nothing(make_hook, monkeypatch):
    hook = make_hook("github")
    monkeypatch.setenv("REPLAY_TABLE", "no-such-table")
    answer = hook.send({"action": "closed"})
    assert (answer["statusCode"], answer["json"]) == (503, {"error": "buffer_unavailable"})
    assert hook.depth() == 0


def test_the_replay_claim_condition(aws_endpoint):
    """Taken: refused. Lease run out: taken over. Done: refused until expires_at. A lost answer's retry
    finds its own claim. Confirm and release touch only their own claim."""
    table = f"replay-{uuid.uuid4().hex[:10]}"
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    store = ReplayStore(ddb, table)

    def item() -> dict[str, str]:
        found = ddb.get_item(TableName=table, Key={"pk": {"S": "k"}}).get("Item", {})
        return {name: next(iter(value.values())) for name, value in found.items()}

    first = store.claim("k", "req-1", now=1000, keep_seconds=600)
    assert first is not None and item() == {
        "pk": "k",
        "state": "pending",
        "lease_until": "1060",
        "expires_at": "1600",
        "claim": "req-1",
    }
    assert store.claim("k", "req-2", now=1060, keep_seconds=600) is None  # lease still held
    assert store.claim("k", "req-1", now=1001, keep_seconds=600) == first  # botocore's retry of req-1
    second = store.claim("k", "req-2", now=1061, keep_seconds=600)  # req-1 died before queueing
    assert second is not None
    store.confirm(first)
    store.release(first)
    assert item()["state"] == "pending" and item()["claim"] == "req-2"
    store.confirm(second)
    assert item()["state"] == "done"
    assert store.claim("k", "req-3", now=1500, keep_seconds=600) is None  # done: the lease no longer matters
    assert store.claim("k", "req-3", now=1662, keep_seconds=600) is not None  # past expires_at (1661)
    store.release(store.claim("k2", "req-4", now=1000, keep_seconds=600) or pytest.fail("not claimed"))
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "k2"}}).get("Item") is None


# -- the secret ----------------------------------------------------------------------------------------------


def test_a_rotated_secret_is_accepted_within_a_minute_not_after_the_cache_expires(make_hook, monkeypatch):
    clock = [10_000.0]
    monkeypatch.setattr(signing_secrets, "monotonic", lambda: clock[0])
    hook = make_hook("stripe")
    assert hook.send({"id": "evt_a"})["statusCode"] == 200  # the secret is read and cached
    rotated = f"whsec_{uuid.uuid4().hex}"
    stamped = {"value": hook.secret, "not_after": "2999-01-01T00:00:00Z"}
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=hook.secret_arn, SecretString=json.dumps({"signing_secrets": [{"value": rotated}, stamped]})
    )
    clock[0] += 30
    assert hook.send({"id": "evt_b"}, secret=rotated)["json"] == {"error": "bad_signature"}  # read 30 s ago
    clock[0] += 31  # 61 s after the read: far inside the 300 s cache
    assert hook.send({"id": "evt_b"}, secret=rotated)["statusCode"] == 200
    assert hook.send({"id": "evt_c"}, secret=hook.secret)["statusCode"] == 200  # the old one, until not_after
    assert [attributes(m)["event_id"] for m in hook.queued()] == ["evt_a", "evt_b", "evt_c"]


def test_the_single_signing_secret_form_is_accepted(make_hook):
    hook = make_hook("github", secret_value={"signing_secret": "whsec_single_form_secret"})
    assert hook.send({"a": 1}, secret="whsec_single_form_secret")["statusCode"] == 200


@pytest.mark.filterwarnings("ignore:No application metrics")  # a failed invocation: Lambda counts it
def test_an_unusable_secret_fails_the_invocation_and_queues_nothing(make_hook):
    hook = make_hook("github", secret_value={"api_key": "whsec_not_a_signing_secret"})
    with pytest.raises(SigningSecretError, match='needs "signing_secrets"'):
        hook.send({"a": 1})
    assert hook.depth() == 0


@pytest.mark.filterwarnings("ignore:No application metrics")  # a failed invocation: Lambda counts it
def test_a_configuration_mistake_fails_the_invocation(make_hook, monkeypatch):
    hook = make_hook("github")
    monkeypatch.setenv("PUSH_CONFIG", json.dumps({"signature": "gitlab"}))
    with pytest.raises(ValueError, match=r"PUSH_CONFIG\.signature: must be one of"):
        hook.send({"a": 1})
    monkeypatch.delenv("BUFFER_QUEUE_URL")
    with pytest.raises(ValueError, match="BUFFER_QUEUE_URL not set"):
        hook.send({"a": 1})


# -- logs --------------------------------------------------------------------------------------------------


class DebugEverywhere:
    """The function's logger and the root logger (as the Lambda runtime sets it, the libraries at
    NOTSET) at DEBUG, everything the root logger receives written to `stream`. `start()` once the
    test's own setup is done: its boto3 calls (creating the secret) would be logged too."""

    LIBRARIES = ("botocore", "urllib3", "boto3")

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self._handler = logging.StreamHandler(self.stream)
        root = logging.getLogger()
        self._saved = root.level, logger.log_level, {n: logging.getLogger(n).level for n in self.LIBRARIES}

    def start(self) -> None:
        logging.getLogger().setLevel(logging.DEBUG)
        logging.getLogger().addHandler(self._handler)
        for name in self.LIBRARIES:
            logging.getLogger(name).setLevel(logging.NOTSET)
        logger.setLevel(logging.DEBUG)

    def stop(self) -> None:
        logging.getLogger().removeHandler(self._handler)
        logging.getLogger().setLevel(self._saved[0])
        logger.setLevel(self._saved[1])
        for name, level in self._saved[2].items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture
def debug_everywhere():
    debug = DebugEverywhere()
    yield debug
    debug.stop()


@pytest.mark.parametrize("style", ["stripe", "github"])
def test_no_secret_signature_or_body_in_the_logs_at_debug(
    make_hook, log_stream, debug_everywhere, capfd, style
):
    hook = make_hook(style)
    marker = f"body-text-{uuid.uuid4().hex}"
    body = json.dumps({"id": "evt_logged", "note": marker}).encode()
    headers = signed_headers(style, body, hook.secret, int(time.time()))
    forged = signed_headers(style, body, "whsec_forged_" + uuid.uuid4().hex, int(time.time()))
    answers = [
        hook.send(body, headers),
        hook.send(body, headers),
        hook.send(body, forged),
        hook.send(body, {}),
    ]
    assert [a["statusCode"] for a in answers] == [200, 401, 401, 401]
    out, err = capfd.readouterr()
    logged = log_stream.getvalue() + debug_everywhere.stream.getvalue() + out + err
    assert "push accepted" in logged and "push refused" in logged and '"reason":"bad_signature"' in logged
    # The verified event id is what identifies a request in the logs (GitHub's: X-GitHub-Delivery).
    assert f'"event_id":"{"evt_logged" if style == "stripe" else "d-1"}"' in logged
    signature_values = [v for h in (headers, forged) for k, v in h.items() if k != "X-GitHub-Delivery"]
    hex_parts = [v.split("=")[-1] for v in signature_values]
    leaked = [s for s in [hook.secret, marker, body.decode(), *signature_values, *hex_parts] if s in logged]
    assert leaked == []
    assert marker in hook.queued()[0]["Body"]  # the marker was real: it is in the stored body


def test_the_log_test_can_fail(make_hook, debug_everywhere, monkeypatch):
    """With the libraries not held back, botocore's DEBUG lines carry the body the test above looks for."""
    hook = make_hook("github")
    marker = f"body-text-{uuid.uuid4().hex}"
    monkeypatch.setattr(ingress, "quiet_libraries", lambda: None)
    debug_everywhere.start()
    assert hook.send({"note": marker})["statusCode"] == 200
    assert marker in debug_everywhere.stream.getvalue()
