"""Push ingress, pure parts: PUSH_CONFIG parsing, the four signature styles, the signing secret's
parsing and cache, and the queued message's fields. No AWS: test_push_ingress.py runs the handler."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from lake_ingest.push import message, signing_secrets
from lake_ingest.push.config import PushConfigError, load_push_config, parse_push_config
from lake_ingest.push.signing_secrets import SecretCache, SigningSecretError, parse_signing_secrets
from lake_ingest.push.verify import Rejection as Refused
from lake_ingest.push.verify import (
    SigningSecret,
    check_timestamp,
    matches,
    presented,
    replay_key,
)

NOW = 1_800_000_000
NOW_DT = datetime.fromtimestamp(NOW, UTC)
SECRET = "whsec_new_6f1c0d2a9b8e7f60"
OLD_SECRET = "whsec_old_0a1b2c3d4e5f6789"
BODY = b'{"id": "evt_1", "type": "invoice.paid", "created": 1799999990}'
STYLES = ("stripe", "slack", "github", "header")
TOKEN_HEADER = "X-Webhook-Token"


def config(style: str, **keys):
    return parse_push_config(
        json.dumps({"signature": style, "header_name": TOKEN_HEADER if style == "header" else None, **keys})
    )


def hex_hmac(secret: str, content: bytes) -> str:
    return hmac.new(secret.encode(), content, hashlib.sha256).hexdigest()


def signed_headers(style: str, body: bytes = BODY, secret: str = SECRET, t: int = NOW) -> dict[str, str]:
    """The headers each sender documents, computed with its published algorithm."""
    if style == "stripe":
        return {"Stripe-Signature": f"t={t},v1={hex_hmac(secret, f'{t}.'.encode() + body)}"}
    if style == "slack":
        return {
            "X-Slack-Request-Timestamp": str(t),
            "X-Slack-Signature": "v0=" + hex_hmac(secret, f"v0:{t}:".encode() + body),
        }
    if style == "github":
        return {"X-Hub-Signature-256": "sha256=" + hex_hmac(secret, body), "X-GitHub-Delivery": "d-1"}
    return {TOKEN_HEADER: secret}


def outcome(
    style: str,
    headers: dict[str, str],
    body: bytes = BODY,
    secrets: tuple[SigningSecret, ...] = (SigningSecret(SECRET),),
    now: int = NOW,
) -> str:
    """ "ok", or the reason the request is refused, checked in the ingress's order."""
    push = config(style)
    try:
        signed = presented(push, headers)
        check_timestamp(signed, now, push.tolerance_seconds)
    except Refused as refused:
        return refused.reason
    return "ok" if matches(signed, body, secrets, datetime.fromtimestamp(now, UTC)) else "bad_signature"


# -- every style: valid, bad, missing ----------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
def test_a_correctly_signed_request_passes(style):
    assert outcome(style, signed_headers(style)) == "ok"


@pytest.mark.parametrize("style", STYLES)
def test_header_names_are_case_insensitive(style):
    shouted = {name.upper(): value for name, value in signed_headers(style).items()}
    assert outcome(style, shouted) == "ok"


@pytest.mark.parametrize("style", STYLES)
def test_another_secret_is_a_bad_signature(style):
    assert outcome(style, signed_headers(style, secret="whsec_someone_else_entirely")) == "bad_signature"


@pytest.mark.parametrize("style", ["stripe", "slack", "github"])
def test_a_changed_body_is_a_bad_signature(style):
    assert outcome(style, signed_headers(style), body=BODY.replace(b"paid", b"void")) == "bad_signature"


@pytest.mark.parametrize("style", STYLES)
def test_no_signature_header_is_unsigned(style):
    assert outcome(style, {"Content-Type": "application/json"}) == "unsigned"


@pytest.mark.parametrize("style", STYLES)
def test_an_empty_signature_header_is_unsigned(style):
    emptied = {
        name: "" if name != "X-GitHub-Delivery" else value for name, value in signed_headers(style).items()
    }
    assert outcome(style, emptied) == "unsigned"


@pytest.mark.parametrize("missing", ["X-Slack-Request-Timestamp", "X-Slack-Signature"])
def test_slack_needs_both_headers(missing):
    headers = signed_headers("slack")
    del headers[missing]
    assert outcome("slack", headers) == "unsigned"


def test_github_sha1_signature_alone_is_unsigned():
    sha1 = "sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest()
    assert outcome("github", {"X-Hub-Signature": sha1, "X-GitHub-Delivery": "d-1"}) == "unsigned"


GOOD_HEX = hex_hmac(SECRET, f"{NOW}.".encode() + BODY)


@pytest.mark.parametrize(
    ("style", "headers"),
    [
        ("stripe", {"Stripe-Signature": "garbage"}),
        ("stripe", {"Stripe-Signature": f"v1={GOOD_HEX}"}),  # no t=
        ("stripe", {"Stripe-Signature": f"t={NOW}"}),  # no v1=
        ("stripe", {"Stripe-Signature": f"t={NOW},v0={GOOD_HEX}"}),  # only another scheme
        ("stripe", {"Stripe-Signature": f"t=soon,v1={GOOD_HEX}"}),  # non-integer timestamp
        ("stripe", {"Stripe-Signature": f"t=-{NOW},v1={GOOD_HEX}"}),
        ("stripe", {"Stripe-Signature": f"t={NOW},t={NOW},v1={GOOD_HEX}"}),  # which t was signed?
        ("stripe", {"Stripe-Signature": f"t={NOW},v1={'z' * 64}"}),  # non-hex
        ("stripe", {"Stripe-Signature": f"t={NOW},v1={GOOD_HEX[:40]}"}),  # no SHA-256 digest
        ("slack", {"X-Slack-Request-Timestamp": "1.8e9", "X-Slack-Signature": f"v0={GOOD_HEX}"}),
        ("slack", {"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": f"v1={GOOD_HEX}"}),
        ("slack", {"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": "v0=not-hex"}),
        ("github", {"X-Hub-Signature-256": f"sha1={GOOD_HEX}"}),
        ("github", {"X-Hub-Signature-256": "sha256=" + "g" * 64}),
        ("github", {"X-Hub-Signature-256": GOOD_HEX}),  # no sha256= prefix
    ],
)
def test_an_unreadable_signature_header_is_malformed(style, headers):
    assert outcome(style, headers) == "malformed"


# -- timestamps ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["stripe", "slack"])
@pytest.mark.parametrize(
    ("age", "expected"),
    [(300, "ok"), (301, "expired"), (-300, "ok"), (-301, "expired"), (86400, "expired")],
)
def test_the_timestamp_must_be_within_the_tolerance_both_ways(style, age, expected):
    """A negative age is a timestamp from the future: clock skew, or a request made to live longer."""
    assert outcome(style, signed_headers(style, t=NOW - age)) == expected


@pytest.mark.parametrize("style", ["stripe", "slack"])
def test_the_tolerance_is_configurable(style):
    push = config(style, tolerance_seconds=60)
    signed = presented(push, signed_headers(style, t=NOW - 61))
    with pytest.raises(Refused) as refused:
        check_timestamp(signed, NOW, push.tolerance_seconds)
    assert (refused.value.reason, refused.value.status) == ("expired", 401)


def test_an_expired_forgery_is_expired_before_its_signature_is_looked_at():
    assert outcome("stripe", signed_headers("stripe", secret="forged-secret", t=NOW - 900)) == "expired"


@pytest.mark.parametrize("style", ["github", "header"])
def test_styles_without_timestamp_have_no_window(style):
    assert outcome(style, signed_headers(style), now=NOW + 10 * 365 * 86400) == "ok"


def test_a_timestamp_signed_with_a_leading_zero_is_checked_as_sent():
    t = f"0{NOW}"
    header = f"t={t},v1={hex_hmac(SECRET, f'{t}.'.encode() + BODY)}"
    assert outcome("stripe", {"Stripe-Signature": header}) == "ok"


# -- several v1 values ---------------------------------------------------------------------------------

WRONG_HEX = hex_hmac("not-the-secret", BODY)


@pytest.mark.parametrize(
    "header",
    [
        f"t={NOW},v1={WRONG_HEX},v1={GOOD_HEX}",
        f"t={NOW},v1={GOOD_HEX},v1={WRONG_HEX}",
        f"v1={GOOD_HEX}, t={NOW}, v0={WRONG_HEX}",  # order, spaces and other schemes do not matter
        f"t={NOW},v1={GOOD_HEX.upper()}",
    ],
)
def test_any_presented_v1_may_match(header):
    assert outcome("stripe", {"Stripe-Signature": header}) == "ok"


def test_several_v1_none_matching_is_a_bad_signature():
    other = hex_hmac("also-not-it", BODY)
    assert outcome("stripe", {"Stripe-Signature": f"t={NOW},v1={WRONG_HEX},v1={other}"}) == "bad_signature"


# -- rotation: several secrets, not_after ---------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
def test_during_a_rotation_the_old_and_the_new_secret_are_both_valid(style):
    secrets = (SigningSecret(SECRET), SigningSecret(OLD_SECRET, NOW_DT + timedelta(hours=24)))
    assert outcome(style, signed_headers(style, secret=SECRET), secrets=secrets) == "ok"
    assert outcome(style, signed_headers(style, secret=OLD_SECRET), secrets=secrets) == "ok"


@pytest.mark.parametrize("style", STYLES)
def test_an_old_secret_past_its_not_after_is_refused(style):
    secrets = (SigningSecret(SECRET), SigningSecret(OLD_SECRET, NOW_DT - timedelta(seconds=1)))
    assert outcome(style, signed_headers(style, secret=OLD_SECRET), secrets=secrets) == "bad_signature"
    assert outcome(style, signed_headers(style, secret=SECRET), secrets=secrets) == "ok"


def test_stripe_sends_one_v1_per_secret_during_a_rotation():
    new = hex_hmac(SECRET, f"{NOW}.".encode() + BODY)
    old = hex_hmac(OLD_SECRET, f"{NOW}.".encode() + BODY)
    header = {"Stripe-Signature": f"t={NOW},v1={old},v1={new}"}
    assert outcome("stripe", header, secrets=(SigningSecret(SECRET),)) == "ok"


# -- known answers and the comparison --------------------------------------------------------------------


def test_githubs_documented_known_answer():
    """https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation"""
    documented = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    secret, body = "It's a Secret to Everybody", b"Hello, World!"
    headers = {"X-Hub-Signature-256": documented}
    assert outcome("github", headers, body=body, secrets=(SigningSecret(secret),)) == "ok"
    assert (
        outcome("github", headers, body=b"Hello, World?", secrets=(SigningSecret(secret),)) == "bad_signature"
    )


@pytest.mark.parametrize("style", STYLES)
def test_hmac_compare_digest_is_what_compares(style, monkeypatch):
    """A comparison that short-circuits on the first wrong character tells a forger how far they got."""
    calls: list[tuple[object, object]] = []

    def never_equal(a, b):
        calls.append((a, b))
        return False

    monkeypatch.setattr(hmac, "compare_digest", never_equal)
    assert outcome(style, signed_headers(style)) == "bad_signature"
    assert calls, "the signature was compared by something other than hmac.compare_digest"


def test_the_header_style_compares_digests_of_equal_length(monkeypatch):
    seen: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def recording(a, b):
        seen.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    assert outcome("header", {TOKEN_HEADER: "short"}) == "bad_signature"
    assert seen == [(32, 32)]


# -- the replay key -------------------------------------------------------------------------------------


def test_rewriting_a_stripe_header_does_not_change_its_replay_key():
    """A captured request with its header reordered, an extra v0 or upper-case hex is the same request."""
    push = config("stripe")
    variants = [
        f"t={NOW},v1={GOOD_HEX}",
        f"v1={GOOD_HEX},t={NOW}",
        f"t={NOW},v1={GOOD_HEX},v0={WRONG_HEX}",
        f"t={NOW},v1={GOOD_HEX.upper()}",
        f"t={NOW},v1={WRONG_HEX},v1={GOOD_HEX}",
    ]
    keys = {replay_key(presented(push, {"Stripe-Signature": v}), BODY) for v in variants}
    assert len(keys) == 1
    later = presented(push, signed_headers("stripe", t=NOW + 1))
    assert replay_key(later, BODY) not in keys  # re-signed with a new timestamp: a new request


@pytest.mark.parametrize("style", ["slack", "github"])
def test_the_replay_key_is_the_signed_contents_digest(style):
    push = config(style)
    signed = presented(push, signed_headers(style))
    upper = {
        k: v.replace(v.split("=", 1)[-1], v.split("=", 1)[-1].upper())
        for k, v in signed_headers(style).items()
    }
    assert replay_key(signed, BODY) == replay_key(presented(push, upper), BODY)
    assert replay_key(signed, BODY) != replay_key(signed, BODY + b" ")


# -- PUSH_CONFIG ----------------------------------------------------------------------------------------


def test_push_config_defaults_are_terraforms():
    push = parse_push_config('{"signature": "stripe"}')
    assert (push.tolerance_seconds, push.max_body_bytes, push.replay_retention_seconds) == (
        300,
        256000,
        604800,
    )
    assert (push.header_name, push.event_id, push.event_time) == (None, None, None)
    assert push.timestamped and not config("github").timestamped


def test_push_config_takes_every_contract_key():
    text = json.dumps(
        {
            "signature": "header",
            "header_name": "X-Token",
            "tolerance_seconds": 60,
            "max_body_bytes": 1024.0,
            "event_id": "header:X-Request-Id",
            "event_time": "$.data.created_at",
            "replay_retention_seconds": 3600,
        }
    )
    push = load_push_config({"PUSH_CONFIG": text})
    assert push.max_body_bytes == 1024 and isinstance(push.max_body_bytes, int)
    assert (push.header_name, push.event_id, push.event_time) == (
        "X-Token",
        "header:X-Request-Id",
        "$.data.created_at",
    )


@pytest.mark.parametrize(
    ("text", "message_part"),
    [
        ("", "PUSH_CONFIG is not set"),
        ("{", "PUSH_CONFIG is not JSON"),
        ("[]", "PUSH_CONFIG must be a JSON object"),
        (
            '{"signature": "svix"}',
            "PUSH_CONFIG.signature: must be one of stripe, slack, github, header (got 'svix')",
        ),
        ('{"signature": "header"}', 'PUSH_CONFIG.header_name: required when signature is "header"'),
        (
            '{"signature": "header", "header_name": "X Token"}',
            "PUSH_CONFIG.header_name: must be an HTTP header",
        ),
        (
            '{"signature": "stripe", "tolerance_seconds": 0}',
            "PUSH_CONFIG.tolerance_seconds: must be a whole number",
        ),
        (
            '{"signature": "stripe", "tolerance_seconds": "300"}',
            "tolerance_seconds: must be a whole number of at least 1 (got '300')",
        ),
        ('{"signature": "stripe", "tolerance_seconds": true}', "tolerance_seconds: must be a whole number"),
        ('{"signature": "stripe", "max_body_bytes": 1.5}', "max_body_bytes: must be a whole number"),
        (
            '{"signature": "stripe", "max_body_bytes": 300000}',
            "PUSH_CONFIG.max_body_bytes: must be at most 260096 (got 300000)",
        ),
        (
            '{"signature": "stripe", "event_id": "id"}',
            'PUSH_CONFIG.event_id: must be a JSON path like "$.id"',
        ),
        ('{"signature": "stripe", "event_time": "$."}', "PUSH_CONFIG.event_time: must be a JSON path"),
        ('{"signature": "stripe", "event_id": "header:"}', "PUSH_CONFIG.event_id: must be a JSON path"),
        ('{"signature": "stripe", "tolerance": 60}', "PUSH_CONFIG.tolerance: unknown key"),
    ],
)
def test_push_config_mistakes_are_named(text, message_part):
    with pytest.raises(PushConfigError) as error:
        load_push_config({"PUSH_CONFIG": text})
    assert message_part in str(error.value) and str(error.value).startswith("invalid configuration: ")
    assert isinstance(error.value, ValueError)


# -- the signing secret's value ---------------------------------------------------------------------------


def test_the_secret_holds_a_list_with_not_after():
    text = json.dumps(
        {"signing_secrets": [{"value": SECRET}, {"value": OLD_SECRET, "not_after": "2026-12-31T00:00:00Z"}]}
    )
    assert parse_signing_secrets(text, "arn") == (
        SigningSecret(SECRET),
        SigningSecret(OLD_SECRET, datetime(2026, 12, 31, tzinfo=UTC)),
    )


def test_the_secret_may_hold_one_signing_secret():
    assert parse_signing_secrets(json.dumps({"signing_secret": SECRET}), "arn") == (SigningSecret(SECRET),)


def test_a_not_after_without_zone_is_utc():
    text = json.dumps({"signing_secrets": [{"value": SECRET, "not_after": "2026-12-31T00:00:00"}]})
    assert parse_signing_secrets(text, "arn")[0].not_after == datetime(2026, 12, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "message_part"),
    [
        ("not json", "value is not JSON"),
        ('"whsec_plain_string"', "value must be a JSON object"),
        ('{"api_key": "whsec_value_here"}', 'needs "signing_secrets" (a list) or "signing_secret"'),
        ('{"signing_secret": ""}', 'needs "signing_secrets"'),
        ('{"signing_secrets": []}', "signing_secrets must be a non-empty list"),
        ('{"signing_secrets": ["whsec_value_here"]}', "signing_secrets[0] must be an object"),
        ('{"signing_secrets": [{"value": 12345678}]}', "signing_secrets[0].value must be a non-empty string"),
        (
            '{"signing_secrets": [{"value": "whsec_value_here", "not_after": "next year"}]}',
            "signing_secrets[0].not_after must be an ISO-8601 time",
        ),
    ],
)
def test_secret_mistakes_are_named_without_the_value(value, message_part):
    with pytest.raises(SigningSecretError) as error:
        parse_signing_secrets(value, "arn:secret")
    assert message_part in str(error.value) and "whsec_value_here" not in str(error.value)


class FakeSecrets:
    """GetSecretValue answering whatever `value` holds now, counting the calls."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.calls = 0

    def get_secret_value(self, SecretId: str) -> dict[str, str]:
        self.calls += 1
        return {"SecretString": json.dumps({"signing_secret": self.value})}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_secret_is_cached_for_at_most_300_seconds():
    client, clock = FakeSecrets(SECRET), Clock()
    cache = SecretCache("arn", client, clock)
    assert cache.current() == (SigningSecret(SECRET),) and client.calls == 1
    client.value = OLD_SECRET
    clock.now += 299
    assert cache.current() == (SigningSecret(SECRET),) and client.calls == 1
    clock.now += 1
    assert cache.current() == (SigningSecret(OLD_SECRET),) and client.calls == 2


def test_a_mismatch_rereads_the_secret_at_most_once_a_minute():
    client, clock = FakeSecrets(SECRET), Clock()
    cache = SecretCache("arn", client, clock)
    cache.current()
    client.value = OLD_SECRET
    clock.now += 59
    assert cache.refetch() is None and client.calls == 1  # a forged flood costs no read
    clock.now += 1
    assert cache.refetch() == (SigningSecret(OLD_SECRET),) and client.calls == 2
    assert cache.refetch() is None and cache.current() == (SigningSecret(OLD_SECRET),) and client.calls == 2


def test_a_secret_read_failure_is_reported_without_a_value():
    class Failing:
        def get_secret_value(self, SecretId: str) -> dict[str, str]:
            raise RuntimeError("AccessDeniedException")

    with pytest.raises(SigningSecretError, match="secret arn:x: cannot be read: AccessDeniedException"):
        SecretCache("arn:x", Failing()).current()


def test_the_secret_values_are_registered_for_redaction():
    from lake_ingest.redaction import REDACTOR

    value = "whsec_registered_" + hashlib.sha256(b"r").hexdigest()[:12]
    parse_signing_secrets(json.dumps({"signing_secrets": [{"value": value}]}), "arn")
    assert REDACTOR.scrub(f"x {value} y") == "x *** y"
    assert signing_secrets.MAX_AGE_SECONDS == 300 and signing_secrets.REFETCH_INTERVAL_SECONDS == 60


# -- the queued message ---------------------------------------------------------------------------------

RECEIVED = datetime(2026, 12, 4, 9, 0, 5, 120000, tzinfo=UTC)


def test_a_text_body_is_sent_as_it_is():
    sent = message.build('{"a": 1}', "evt_1", RECEIVED, None, "stripe", "application/json")
    assert sent.body == '{"a": 1}'
    assert dict(sent.attributes) == {
        "event_id": "evt_1",
        "received_at": "2026-12-04T09:00:05.120Z",
        "event_time": "2026-12-04T09:00:05.120Z",
        "encoding": "text",
        "signature": "stripe",
        "content_type": "application/json",
    }


@pytest.mark.parametrize("char", ["\ufffe", "\uffff", "\x01", "\x00", "\x7f\x0b"])
def test_a_character_sqs_refuses_sends_the_body_as_base64(char):
    text = '{"name": "a' + char + 'b"}'
    sent = message.build(text, "e", RECEIVED, None, "github", None)
    assert sent.attributes["encoding"] == "base64" and "content_type" not in sent.attributes
    assert base64.b64decode(sent.body).decode() == text


@pytest.mark.parametrize("text", ["tab\tnew\nline\rcr", "emoji \U0001f600", "\ud7ff\ue000\ufffd", "plain"])
def test_characters_sqs_accepts_stay_text(text):
    assert message.sqs_safe(text) and message.build(text, "e", RECEIVED, None, "slack", None).body == text


def test_the_message_size_counts_attributes():
    sent = message.build("x" * 100, "e", RECEIVED, None, "stripe", None)
    names_and_values = sum(len(k) + len("String") + len(v) for k, v in sent.attributes.items())
    assert sent.size == 100 + names_and_values


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1764838805, datetime(2025, 12, 4, 9, 0, 5, tzinfo=UTC)),
        (1764838805120, datetime(2025, 12, 4, 9, 0, 5, 120000, tzinfo=UTC)),
        (1764838805.5, datetime(2025, 12, 4, 9, 0, 5, 500000, tzinfo=UTC)),
        ("1764838805", datetime(2025, 12, 4, 9, 0, 5, tzinfo=UTC)),
        ("2025-12-04T09:00:05.120Z", datetime(2025, 12, 4, 9, 0, 5, 120000, tzinfo=UTC)),
        ("2025-12-04T10:00:05+01:00", datetime(2025, 12, 4, 9, 0, 5, tzinfo=UTC)),
        ("2025-12-04T09:00:05", datetime(2025, 12, 4, 9, 0, 5, tzinfo=UTC)),
        ("yesterday", None),
        (True, None),
        (1e300, None),
        ({"seconds": 1}, None),
        (None, None),
    ],
)
def test_event_time_reads_epoch_seconds_milliseconds_and_iso_text(value, expected):
    push = config("stripe", event_time="$.data.at")
    assert message.event_time_of(push, {}, {"data": {"at": value}}) == expected


def test_no_event_time_configured_is_none():
    assert message.event_time_of(config("stripe"), {}, {"created": 1764838805}) is None


@pytest.mark.parametrize(
    ("style", "keys", "headers", "parsed", "expected"),
    [
        ("stripe", {}, {}, {"id": "evt_9"}, "evt_9"),
        ("slack", {}, {}, {"event_id": "Ev01"}, "Ev01"),
        ("github", {}, {"x-github-delivery": "72d3162e"}, {"id": 5}, "72d3162e"),
        ("stripe", {"event_id": "$.data.object.id"}, {}, {"data": {"object": {"id": 42}}}, "42"),
        ("stripe", {"event_id": "$.items.1"}, {}, {"items": ["a", "b"]}, "b"),
        ("header", {"event_id": "header:X-Request-Id"}, {"x-request-id": "r-1"}, None, "r-1"),
    ],
)
def test_event_id_is_found_where_configured_or_where_the_style_puts_it(
    style, keys, headers, parsed, expected
):
    assert message.event_id_of(config(style, **keys), headers, parsed, BODY) == expected


@pytest.mark.parametrize(
    ("style", "parsed"),
    [
        ("stripe", {"type": "no id"}),
        ("stripe", {"id": ""}),
        ("stripe", {"id": True}),
        ("stripe", {"id": {}}),
        ("slack", None),
        ("header", {"id": "x"}),
        ("github", {}),
    ],
)
def test_without_an_event_id_it_is_the_bodys_sha256(style, parsed):
    assert message.event_id_of(config(style), {}, parsed, BODY) == hashlib.sha256(BODY).hexdigest()


def test_an_overlong_or_unsendable_event_id_is_replaced_by_its_digest():
    long_id = "e" * 257
    assert (
        message.event_id_of(config("stripe"), {}, {"id": long_id}, BODY)
        == hashlib.sha256(long_id.encode()).hexdigest()
    )
    assert len(message.event_id_of(config("stripe"), {}, {"id": "a\x00b"}, BODY)) == 64
    assert len(message.event_id_of(config("stripe"), {}, {"id": "\ud800"}, BODY)) == 64
    assert message.event_id_of(config("stripe"), {}, {"id": "e" * 256}, BODY) == "e" * 256


def test_secrets_and_presented_signatures_stay_out_of_reprs():
    """A repr reaches logs through tracebacks and f-strings; neither the secret nor a bearer token may."""
    shown = repr(SigningSecret(SECRET)) + repr(presented(config("header"), {TOKEN_HEADER: SECRET}))
    assert SECRET not in shown and "SigningSecret(" in shown
