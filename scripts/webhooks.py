"""A webhook sender for the demo, the end-to-end tests and the bench: signs a body the way Stripe,
Slack and GitHub sign theirs (or puts a shared secret in a header) and POSTs it, answering the status
and the answer's JSON. Standard library only."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any


def _hex(secret: str, content: bytes) -> str:
    return hmac.new(secret.encode(), content, hashlib.sha256).hexdigest()


def signed_headers(
    style: str, secret: str, body: bytes, now: float | None = None, header_name: str = "X-Webhook-Token"
) -> dict[str, str]:
    """The headers a sender of this style sends with `body` (a new delivery id for GitHub)."""
    stamp = str(int(time.time() if now is None else now))
    headers = {"Content-Type": "application/json"}
    if style == "stripe":
        headers["Stripe-Signature"] = f"t={stamp},v1={_hex(secret, stamp.encode() + b'.' + body)}"
    elif style == "slack":
        headers["X-Slack-Request-Timestamp"] = stamp
        headers["X-Slack-Signature"] = "v0=" + _hex(secret, b"v0:" + stamp.encode() + b":" + body)
    elif style == "github":
        headers["X-Hub-Signature-256"] = "sha256=" + _hex(secret, body)
        headers["X-GitHub-Event"] = "push"
        headers["X-GitHub-Delivery"] = str(uuid.uuid4())
    elif style == "header":
        headers[header_name] = secret
    else:
        raise ValueError(f"unknown signature style {style!r}")
    return headers


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 30.0) -> Answer:
    """POST the body; the status and the answer's JSON ({} when it is not JSON), errors included."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as refused:
        status, text = refused.code, refused.read()
    try:
        parsed = json.loads(text) if text else {}
    except ValueError:
        parsed = {}
    return Answer(status, parsed if isinstance(parsed, dict) else {})
