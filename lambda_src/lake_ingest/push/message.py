"""The SQS message the ingress queues for the writer: body text, event id, event time, attributes.

SQS accepts only the XML character set in a message (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
#x10000-#x10FFFF, https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html);
a body holding anything else (U+FFFE is valid in a JSON string) travels as base64 with
encoding=base64. The whole message, attributes included, must fit in 262,144 bytes.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..state_doc import iso
from .config import HEADER_PREFIX, PushConfig

SQS_MAX_MESSAGE_BYTES = 262144
# A longer event id (an unsigned header can be kilobytes) is replaced by its sha256: it must fit in
# the message, and it is a key, not data.
MAX_EVENT_ID_CHARS = 256
# Epoch numbers above this are milliseconds (1e11 seconds is the year 5138).
EPOCH_MS_ABOVE = 1e11
DEFAULT_EVENT_ID = {"stripe": "$.id", "slack": "$.event_id", "github": "header:X-GitHub-Delivery"}
_SQS_REFUSED = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


@dataclass(frozen=True)
class Message:
    """One queued request: the SendMessage body and its String attributes."""

    body: str
    attributes: Mapping[str, str]

    @property
    def size(self) -> int:
        """Bytes SQS counts against its limit: the body and each attribute's name, type and value."""
        counted = [self.body, *(name + "String" + value for name, value in self.attributes.items())]
        return sum(len(part.encode()) for part in counted)

    def send_request(self, queue_url: str) -> dict[str, Any]:
        """SendMessage's parameters."""
        return {
            "QueueUrl": queue_url,
            "MessageBody": self.body,
            "MessageAttributes": {
                name: {"DataType": "String", "StringValue": value} for name, value in self.attributes.items()
            },
        }


def sqs_safe(text: str) -> bool:
    """Whether SQS accepts every character of `text`."""
    return _SQS_REFUSED.search(text) is None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build(
    text: str,
    event_id: str,
    received_at: datetime,
    event_time: datetime | None,
    style: str,
    content_type: str | None,
) -> Message:
    """The message for a verified body (`text`, UTF-8 decoded)."""
    safe = sqs_safe(text)
    attributes = {
        "event_id": event_id,
        "received_at": iso(received_at),
        "event_time": iso(event_time or received_at),
        "encoding": "text" if safe else "base64",
        "signature": style,
    }
    if content_type and sqs_safe(content_type):
        attributes["content_type"] = content_type
    body = text if safe else base64.b64encode(text.encode()).decode()
    return Message(body, attributes)


def event_id_of(config: PushConfig, headers: Mapping[str, str], parsed: Any, body: bytes) -> str:
    """The configured (or the style's default) event id; the body's sha256 hex when there is none."""
    where = config.event_id or DEFAULT_EVENT_ID.get(config.signature)
    found = locate(where, headers, parsed) if where else None
    if isinstance(found, bool) or not isinstance(found, (str, int, float)) or found == "":
        return sha256_hex(body)
    value = str(found)
    if len(value) > MAX_EVENT_ID_CHARS or not sqs_safe(value):
        return sha256_hex(value.encode("utf-8", "surrogatepass"))
    return value


def event_time_of(config: PushConfig, headers: Mapping[str, str], parsed: Any) -> datetime | None:
    """The configured event time: epoch seconds, epoch milliseconds, or ISO-8601 text; None if unreadable."""
    found = locate(config.event_time, headers, parsed) if config.event_time else None
    if isinstance(found, str) and _NUMBER.match(found.strip()):
        found = float(found)
    try:
        if isinstance(found, (int, float)) and not isinstance(found, bool):
            return datetime.fromtimestamp(found / 1000 if found > EPOCH_MS_ABOVE else found, UTC)
        if isinstance(found, str):
            moment = datetime.fromisoformat(found.strip())
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def locate(where: str, headers: Mapping[str, str], parsed: Any) -> Any:
    """The value at "$.a.b" (a list index as a number segment) or "header:X-Name" (lower-cased headers)."""
    if where.startswith(HEADER_PREFIX):
        return headers.get(where[len(HEADER_PREFIX) :].lower())
    found = parsed
    for step in where[2:].split("."):
        if isinstance(found, dict):
            found = found.get(step)
        elif isinstance(found, list) and step.isdigit() and int(step) < len(found):
            found = found[int(step)]
        else:
            return None
    return found
