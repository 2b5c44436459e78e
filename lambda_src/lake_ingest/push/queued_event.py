"""A queued push event as the writer reads it: one SQS message the ingress sent.

Lambda hands the writer each message as an event record: `messageId`, `body` and `messageAttributes`
({"event_id": {"stringValue": "...", "dataType": "String"}, ...}; the record format is in
https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html). The body is the event's exact text, unless
it held a character SQS refuses in a message
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html): then the
ingress sent it as base64 text with the attribute `encoding=base64`.

A message that does not decode is that message's problem, not the batch's: the writer hands it back
(batchItemFailures) and writes the others; after the queue's maxReceiveCount it rests in the DLQ.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

ENCODINGS = ("text", "base64")


class UndecodableMessage(ValueError):
    """A queued message the writer cannot read: bad base64, not UTF-8, a missing or unreadable attribute.
    Its text says what, never the body."""


@dataclass(frozen=True)
class PushEvent:
    """One event: its exact text and what the ingress found out about it."""

    message_id: str
    text: str  # the body the sender signed, as it sent it
    event_id: str
    received_at: datetime  # when the ingress accepted it (its clock)
    event_time: datetime  # the time the body gives (push.event_time), else received_at

    @property
    def fields(self) -> Any:
        """The body decoded, for the typed columns; None when it is no JSON (a form body)."""
        try:
            return json.loads(self.text)
        except (ValueError, RecursionError):
            return None


def message_id(record: Mapping[str, Any]) -> str:
    """The record's message id; a record without one cannot be handed back alone (ValueError)."""
    found = record.get("messageId")
    if not isinstance(found, str) or not found:
        raise ValueError("an SQS record without a messageId: the batch cannot be answered item by item")
    return found


def decode(record: Mapping[str, Any]) -> PushEvent:
    """The event an SQS record carries; UndecodableMessage when it is not what the ingress sends."""
    attributes = record.get("messageAttributes")
    attributes = attributes if isinstance(attributes, Mapping) else {}
    received_at = _instant(attributes, "received_at")
    event_time = _instant(attributes, "event_time") if "event_time" in attributes else received_at
    return PushEvent(
        message_id=message_id(record),
        text=_body(record.get("body"), _attribute(attributes, "encoding", default="text")),
        event_id=_attribute(attributes, "event_id"),
        received_at=received_at,
        event_time=event_time,
    )


def _attribute(attributes: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = attributes.get(name)
    text = value.get("stringValue") if isinstance(value, Mapping) else None
    if isinstance(text, str) and text:
        return text
    if value is None and default is not None:
        return default
    raise UndecodableMessage(f"the message attribute {name} is missing or empty")


def _instant(attributes: Mapping[str, Any], name: str) -> datetime:
    text = _attribute(attributes, name)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UndecodableMessage(f"the message attribute {name} is no ISO 8601 time") from None
    if moment.tzinfo is None:
        raise UndecodableMessage(f"the message attribute {name} names no time zone (the ingress sends Z)")
    return moment


def _body(body: Any, encoding: str) -> str:
    if not isinstance(body, str):
        raise UndecodableMessage("the message has no body")
    if encoding not in ENCODINGS:
        raise UndecodableMessage(f"the message attribute encoding must be one of {', '.join(ENCODINGS)}")
    if encoding == "text":
        return body
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except binascii.Error:
        raise UndecodableMessage("the body is not base64 (encoding=base64)") from None
    except UnicodeDecodeError:
        raise UndecodableMessage("the body's base64 does not decode to UTF-8 text") from None
