"""PUSH_CONFIG: how a push source's events are verified and identified (the module fills every key)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..config import ConfigError

SIGNATURES = ("stripe", "slack", "github", "header")


@dataclass(frozen=True)
class PushConfig:
    """The PUSH_CONFIG JSON document, as the Terraform module renders it from its `push` input."""

    signature: str  # stripe | slack | github | header
    header_name: str | None  # header style: the header carrying the shared secret
    tolerance_seconds: int  # stripe and slack: how far a signed timestamp may be from now, both ways
    max_body_bytes: int
    event_id: str | None  # "$.a.b" or "header:X-Name"; None: the signature style's default
    event_time: str | None  # "$.created"...; None: the time the ingress received the event
    replay_retention_seconds: int  # how long a replay key without a signed timestamp is kept

    @classmethod
    def from_json(cls, text: str) -> PushConfig:
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError("PUSH_CONFIG", f"is not valid JSON ({exc.msg} at position {exc.pos})") from None
        if not isinstance(data, dict):
            raise ConfigError("PUSH_CONFIG", "must be a JSON object")
        if data.get("signature") not in SIGNATURES:
            raise ConfigError("PUSH_CONFIG.signature", f"must be one of {', '.join(SIGNATURES)}")
        try:
            return cls(
                signature=data["signature"],
                header_name=data.get("header_name"),
                tolerance_seconds=int(data.get("tolerance_seconds", 300)),
                max_body_bytes=int(data.get("max_body_bytes", 256000)),
                event_id=data.get("event_id"),
                event_time=data.get("event_time"),
                replay_retention_seconds=int(data.get("replay_retention_seconds", 604800)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError("PUSH_CONFIG", f"is not the module's push configuration ({exc})") from None
