"""Lambda entry point of a push source's ingress: `lake_ingest.push.ingress.lambda_handler`.

API Gateway (HTTP API, payload format 2.0) hands over one webhook request. It is checked in a fixed
order, and every exit is answered and counted (PushAccepted, PushRejected{Reason}, PushBufferFailed):
method, size, signature header(s), timestamp window, signature, body, replay claim, then SendMessage
to the source's buffer queue. A 2xx is given only once the message is in the queue, so nothing a
sender saw accepted can be lost; anything else is non-2xx and the sender retries
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).

Nothing of the request is logged but sizes, the reason and (once verified) the event id: never the
secret, a signature header's value or the body.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from .. import aws_clients
from ..observability import logger, metrics, quiet_libraries
from . import message, verify
from .config import PushConfig, load_push_config
from .message import Message
from .replay import Claim, ReplayStore
from .signing_secrets import SecretCache, SigningSecretError
from .verify import Rejection, Signed

FORM_TYPE = "application/x-www-form-urlencoded"
REQUIRED_ENV = ("SOURCE_ID", "SECRET_ARN", "BUFFER_QUEUE_URL")

# Per process, reused by warm invocations: the AWS clients and each secret's cache.
_clients: dict[str, Any] = {}
_secret_caches: dict[str, SecretCache] = {}


class Unavailable(Exception):
    """The request could not be stored (queue or replay store failed): answered 503, never 2xx."""

    def __init__(self, stage: str, exc: Exception) -> None:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
        super().__init__(f"{stage}: {code or type(exc).__name__}")


@dataclass(frozen=True)
class Settings:
    """The ingress function's environment."""

    source_id: str
    secret_arn: str
    queue_url: str
    replay_table: str | None
    push: PushConfig


@dataclass(frozen=True)
class Request:
    """One webhook request: lower-cased headers, the raw body bytes, when it arrived (epoch seconds)."""

    headers: Mapping[str, str]
    body: bytes
    received: float

    @property
    def received_at(self) -> datetime:
        return datetime.fromtimestamp(self.received, UTC)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The Settings in the environment; ValueError naming what is missing or wrong."""
    env = os.environ if environ is None else environ
    missing = [name for name in REQUIRED_ENV if not env.get(name)]
    if missing:
        raise ValueError(f"invalid configuration: {', '.join(missing)} not set")
    return Settings(
        source_id=env["SOURCE_ID"],
        secret_arn=env["SECRET_ARN"],
        queue_url=env["BUFFER_QUEUE_URL"],
        replay_table=env.get("REPLAY_TABLE") or None,
        push=load_push_config(env),
    )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True, log_event=False)  # never the event: it is the body
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Answer one webhook request; queue it when it is authentic, new and well formed."""
    quiet_libraries()
    try:
        settings = load_settings()
    except ValueError as exc:
        logger.error("invalid configuration", extra={"error": str(exc)})
        raise
    logger.append_keys(source_id=settings.source_id)
    metrics.add_dimension(name="SourceId", value=settings.source_id)
    try:
        # The claim id: unique per invocation, or a replay would pass as the retry of its own claim.
        request_id = getattr(context, "aws_request_id", None) or str(uuid.uuid4())
        return _accept(settings, event, request_id)
    except Rejection as refused:
        return _refused(refused)
    except Unavailable as exc:
        logger.error("push not stored: the sender must retry", extra={"error": str(exc)})
        metrics.add_metric(name="PushBufferFailed", unit=MetricUnit.Count, value=1)
        return _answer(503, {"error": "buffer_unavailable"})
    except SigningSecretError as exc:
        logger.error("signing secret unusable", extra={"error": str(exc)})
        raise


def _accept(settings: Settings, event: Any, request_id: str) -> dict[str, Any]:
    """The checks in the contract's order; Rejection or Unavailable at the first that fails."""
    config = settings.push
    request = _request(event, config.max_body_bytes)
    signed = verify.presented(config, request.headers)
    verify.check_timestamp(signed, request.received, config.tolerance_seconds)
    _authenticate(settings.secret_arn, signed, request.body)
    parsed, text = _content(config, request)
    if config.signature == "slack" and _is_url_verification(parsed):
        logger.info("slack url_verification answered")
        return _answer(200, {"challenge": parsed["challenge"]})
    outgoing = _message(config, request, parsed, text)
    logger.append_keys(event_id=outgoing.attributes["event_id"])
    store = ReplayStore(_client("dynamodb"), settings.replay_table) if settings.replay_table else None
    claim = _claim(store, config, signed, request, outgoing, request_id)
    try:
        _client("sqs").send_message(**outgoing.send_request(settings.queue_url))
    except (ClientError, BotoCoreError) as exc:
        if store is not None and claim is not None:
            store.release(claim)
        raise Unavailable("SendMessage", exc) from None
    if store is not None and claim is not None:
        store.confirm(claim)
    metrics.add_metric(name="PushAccepted", unit=MetricUnit.Count, value=1)
    logger.info("push accepted", extra={"encoding": outgoing.attributes["encoding"]})
    return _answer(200, {"ok": True})


def _request(event: Any, max_body_bytes: int) -> Request:
    """Method and size first: neither needs the secret, so junk is refused cheaply."""
    received = time.time()
    http = (event.get("requestContext") or {}).get("http") or {}
    if str(http.get("method", "")).upper() != "POST":
        raise Rejection("method_not_allowed")
    raw = event.get("body") or ""
    try:
        body = base64.b64decode(raw, validate=True) if event.get("isBase64Encoded") else raw.encode()
    except (binascii.Error, ValueError):  # UnicodeEncodeError is a ValueError: a lone surrogate
        raise Rejection("malformed") from None
    logger.append_keys(body_bytes=len(body))
    if len(body) > max_body_bytes:
        raise Rejection("oversized")
    return Request(verify.lowered(event.get("headers")), body, received)


def _authenticate(secret_arn: str, signed: Signed, body: bytes) -> None:
    """Rejection bad_signature unless a valid secret signed it; re-read the secret once on a mismatch."""
    cache = _secret_cache(secret_arn)
    now = datetime.now(UTC)
    if verify.matches(signed, body, cache.current(), now):
        return
    rotated = cache.refetch()
    if rotated is not None and verify.matches(signed, body, rotated, now):
        logger.info("signature matched the signing secret as re-read (rotated)")
        return
    raise Rejection("bad_signature")


def _content(config: PushConfig, request: Request) -> tuple[Any, str]:
    """The body parsed (None for a Slack form) and as text; Rejection malformed when unreadable."""
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejection("malformed") from None
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if config.signature == "slack" and media_type == FORM_TYPE:
        return None, text  # slash commands and interactivity post forms
    try:
        return json.loads(text, parse_constant=_not_json), text
    except (ValueError, RecursionError):
        raise Rejection("malformed") from None


def _not_json(constant: str) -> Any:
    """NaN and Infinity: Python reads them, JSON has no such numbers."""
    raise ValueError(f"{constant} is not JSON")


def _is_url_verification(parsed: Any) -> bool:
    """Slack's endpoint check: it wants the challenge back, and it is no event to store."""
    return (
        isinstance(parsed, dict)
        and parsed.get("type") == "url_verification"
        and isinstance(parsed.get("challenge"), str)
    )


def _message(config: PushConfig, request: Request, parsed: Any, text: str) -> Message:
    event_id = message.event_id_of(config, request.headers, parsed, request.body)
    event_time = message.event_time_of(config, request.headers, parsed)
    content_type = request.headers.get("content-type")
    outgoing = message.build(text, event_id, request.received_at, event_time, config.signature, content_type)
    if outgoing.size > message.SQS_MAX_MESSAGE_BYTES:  # base64 grows a body by a third
        raise Rejection("oversized")
    return outgoing


def _claim(
    store: ReplayStore | None,
    config: PushConfig,
    signed: Signed,
    request: Request,
    outgoing: Message,
    request_id: str,
) -> Claim | None:
    """Claim the request's replay key; Rejection replayed when it is taken. None: no replay check."""
    key = _replay_key(config, signed, request.body, outgoing.attributes["event_id"])
    if store is None or key is None:
        return None
    # A timestamp style's request cannot be accepted again once its timestamp is out of the window.
    keep = 2 * config.tolerance_seconds if config.timestamped else config.replay_retention_seconds
    try:
        claim = store.claim(key, request_id, int(request.received), keep)
    except (ClientError, BotoCoreError) as exc:
        raise Unavailable("replay store", exc) from None
    if claim is None:
        raise Rejection("replayed")
    return claim


def _replay_key(config: PushConfig, signed: Signed, body: bytes, event_id: str) -> str | None:
    """The signed content's digest; for the header style the event id's, and only when configured."""
    if config.signature != "header":
        return verify.replay_key(signed, body)
    return message.sha256_hex(event_id.encode()) if config.event_id else None


def _refused(refused: Rejection) -> dict[str, Any]:
    # The only metric of this invocation, so the Reason dimension is PushRejected's alone.
    metrics.add_dimension(name="Reason", value=refused.reason)
    metrics.add_metric(name="PushRejected", unit=MetricUnit.Count, value=1)
    logger.warning("push refused", extra={"reason": refused.reason, "status": refused.status})
    headers = {"allow": "POST"} if refused.status == 405 else {}
    return _answer(refused.status, {"error": refused.reason}, headers)


def _answer(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A payload 2.0 response: small JSON that never echoes the request."""
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": json.dumps(body),
    }


def _client(service: str) -> Any:
    """One client per service per process (AWS_ENDPOINT_URL points them at a local AWS when set)."""
    if service not in _clients:
        _clients[service] = aws_clients.client(service)
    return _clients[service]


def _secret_cache(secret_arn: str) -> SecretCache:
    if secret_arn not in _secret_caches:
        _secret_caches[secret_arn] = SecretCache(secret_arn, _client("secretsmanager"))
    return _secret_caches[secret_arn]
