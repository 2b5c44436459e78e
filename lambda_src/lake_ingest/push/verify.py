"""Signature checks for push requests: parse the style's header(s), bound the timestamp, compare HMACs.

Pure functions of the headers, the body, the secrets and the clock, so every style is tested without
AWS. The styles, as their senders document them:

- stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`, HMAC-SHA256 of `"<t>." + body`; during
  a secret rotation Stripe sends one v1 per secret and any may match; other schemes (v0) are ignored
  (https://docs.stripe.com/webhooks#verify-manually).
- slack: `X-Slack-Request-Timestamp: <unix>` and `X-Slack-Signature: v0=<hex>`, HMAC-SHA256 of
  `"v0:<ts>:" + body` (https://api.slack.com/authentication/verifying-requests-from-slack).
- github: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the body alone; the SHA-1
  `X-Hub-Signature` is ignored (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries).
- header: the shared secret itself in a configured header (a bearer secret, the weakest style).

Every comparison goes through hmac.compare_digest, so the time taken says nothing about how much of a
forged signature was right.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .config import PushConfig

# The reason each refusal is answered and counted with (PushRejected{Reason}), and its HTTP status.
REASON_STATUS: Mapping[str, int] = {
    "method_not_allowed": 405,
    "oversized": 413,
    "unsigned": 401,
    "malformed": 400,
    "expired": 401,
    "bad_signature": 401,
    "replayed": 401,
    "buffer_unavailable": 503,
}
STRIPE_HEADER = "stripe-signature"
SLACK_TIMESTAMP = "x-slack-request-timestamp"
SLACK_SIGNATURE = "x-slack-signature"
GITHUB_SIGNATURE = "x-hub-signature-256"
_HEX_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


class Rejection(Exception):
    """A request refused: `reason` is what the answer body and the metric say, `status` the HTTP status."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = REASON_STATUS[reason]


@dataclass(frozen=True)
class SigningSecret:
    """One signing secret; `not_after` (aware UTC) ends its validity, e.g. the old one of a rotation."""

    value: str = field(repr=False)  # never in a repr, a traceback or a log line
    not_after: datetime | None = None

    def valid_at(self, now: datetime) -> bool:
        return self.not_after is None or now < self.not_after


@dataclass(frozen=True)
class Signed:
    """What a request's signature header(s) present, parsed but not yet checked.

    `timestamp` is the signed timestamp (timestamp styles), `prefix` the bytes signed before the body
    (the timestamp as sent, so a leading zero stays), `signatures` the presented values: hex digests,
    or for the header style the presented secret.
    """

    style: str
    timestamp: int | None
    prefix: bytes
    signatures: tuple[str, ...] = field(repr=False)

    def content(self, body: bytes) -> bytes:
        """The exact bytes the sender signed."""
        return self.prefix + body


def lowered(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The headers with lower-case names: HTTP names are case-insensitive (payload 2.0 lowers them)."""
    return {name.lower(): value for name, value in (headers or {}).items()}


def presented(config: PushConfig, headers: Mapping[str, str]) -> Signed:
    """Parse the style's signature header(s): Rejection unsigned when absent, malformed when unreadable."""
    found = lowered(headers)
    if config.signature == "stripe":
        return _stripe(_required(found, STRIPE_HEADER))
    if config.signature == "slack":
        return _slack(_required(found, SLACK_TIMESTAMP), _required(found, SLACK_SIGNATURE))
    if config.signature == "github":
        return Signed("github", None, b"", (_prefixed_hex(_required(found, GITHUB_SIGNATURE), "sha256="),))
    return Signed("header", None, b"", (_required(found, (config.header_name or "").lower()),))


def check_timestamp(signed: Signed, now: float, tolerance_seconds: int) -> None:
    """Rejection expired when a signed timestamp is further than the tolerance from now, either way.

    Both directions: a timestamp from the future would otherwise extend a captured request's life.
    """
    if signed.timestamp is not None and abs(now - signed.timestamp) > tolerance_seconds:
        raise Rejection("expired")


def matches(signed: Signed, body: bytes, secrets: Sequence[SigningSecret], now: datetime) -> bool:
    """Whether any secret valid at `now` produced any presented signature."""
    valid = [s.value.encode() for s in secrets if s.valid_at(now)]
    if signed.style == "header":
        # Digests of both sides: equal lengths, so not even the secret's length shows in the timing.
        offered = hashlib.sha256(signed.signatures[0].encode()).digest()
        return any(hmac.compare_digest(hashlib.sha256(key).digest(), offered) for key in valid)
    content = signed.content(body)
    expected = [hmac.new(key, content, hashlib.sha256).hexdigest() for key in valid]
    return any(hmac.compare_digest(e, sig.lower()) for e in expected for sig in signed.signatures)


def replay_key(signed: Signed, body: bytes) -> str:
    """The claim key of a signed request: sha256 hex of the exact bytes the sender signed.

    Derived from the signed content rather than the header text, so a captured request cannot be
    replayed by rewriting its header (reordering or dropping v1 values, adding a v0, upper-case hex):
    every such variant has the same key. For a timestamp style the timestamp is part of it.
    """
    return hashlib.sha256(signed.content(body)).hexdigest()


def _required(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise Rejection("unsigned")
    return value


def _stripe(value: str) -> Signed:
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in value.split(","):
        key, sep, part = item.strip().partition("=")
        if not sep:
            raise Rejection("malformed")
        if key == "t":
            timestamps.append(part)
        elif key == "v1":
            signatures.append(_hex(part))
    if len(timestamps) != 1 or not signatures:
        raise Rejection("malformed")
    timestamp = _timestamp(timestamps[0])
    return Signed("stripe", timestamp, f"{timestamps[0]}.".encode(), tuple(signatures))


def _slack(timestamp_text: str, signature: str) -> Signed:
    timestamp = _timestamp(timestamp_text)
    digest = _prefixed_hex(signature, "v0=")
    return Signed("slack", timestamp, f"v0:{timestamp_text}:".encode(), (digest,))


def _prefixed_hex(value: str, prefix: str) -> str:
    if not value.startswith(prefix):
        raise Rejection("malformed")
    return _hex(value[len(prefix) :])


def _hex(value: str) -> str:
    if not _HEX_DIGEST.match(value):
        raise Rejection("malformed")
    return value


def _timestamp(text: str) -> int:
    if not _TIMESTAMP.match(text):
        raise Rejection("malformed")
    return int(text)
