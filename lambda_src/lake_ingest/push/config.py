"""PUSH_CONFIG: how a push source's requests are signed, sized and identified.

Terraform writes every key (with its defaults) into the ingress and writer functions' environment as
one JSON object. Parsing is strict: an unknown key or a value of the wrong kind is a deployment
mistake that would otherwise show up later as every request refused, so it stops the function at
once with a message naming the key.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ENV_NAME = "PUSH_CONFIG"
STYLES = ("stripe", "slack", "github", "header")
TIMESTAMP_STYLES = ("stripe", "slack")
# SQS's message limit is 262,144 bytes with the attributes; Terraform keeps 2 KiB for them.
MAX_BODY_BYTES_LIMIT = 260096
DEFAULTS: Mapping[str, Any] = {
    "header_name": None,
    "tolerance_seconds": 300,
    "max_body_bytes": 256000,
    "event_id": None,
    "event_time": None,
    "replay_retention_seconds": 604800,
}
# RFC 9110 token characters: what a header name may hold.
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
JSON_PATH = re.compile(r"^\$(\.[^.\s]+)+$")
HEADER_PREFIX = "header:"


class PushConfigError(ValueError):
    """PUSH_CONFIG is missing, not JSON, or holds a value the push code cannot use. Names the key."""

    def __init__(self, key: str, problem: str) -> None:
        where = f"{ENV_NAME}.{key}:" if key else ENV_NAME
        super().__init__(f"invalid configuration: {where} {problem}")
        self.key = key


@dataclass(frozen=True)
class PushConfig:
    """One push source's request rules (the PUSH_CONFIG keys, exactly)."""

    signature: str
    header_name: str | None
    tolerance_seconds: int
    max_body_bytes: int
    event_id: str | None
    event_time: str | None
    replay_retention_seconds: int

    @property
    def timestamped(self) -> bool:
        """Whether the style signs a timestamp (so replays are bounded by the tolerance window)."""
        return self.signature in TIMESTAMP_STYLES


def load_push_config(environ: Mapping[str, str] | None = None) -> PushConfig:
    """The PushConfig in the PUSH_CONFIG environment variable."""
    text = (os.environ if environ is None else environ).get(ENV_NAME)
    if not text:
        raise PushConfigError("", "is not set (a push source needs it)")
    return parse_push_config(text)


def parse_push_config(text: str) -> PushConfig:
    """Parse and check PUSH_CONFIG's JSON text; missing keys take Terraform's defaults."""
    try:
        raw = json.loads(text)
    except ValueError:
        raise PushConfigError("", "is not JSON") from None
    if not isinstance(raw, dict):
        raise PushConfigError("", "must be a JSON object")
    unknown = sorted(set(raw) - set(DEFAULTS) - {"signature"})
    if unknown:
        known = ", ".join(["signature", *DEFAULTS])
        raise PushConfigError(unknown[0], f"unknown key (the keys are: {known})")
    values = {**DEFAULTS, **raw}
    signature = values.get("signature")
    if signature not in STYLES:
        raise PushConfigError("signature", f"must be one of {', '.join(STYLES)} (got {signature!r})")
    return PushConfig(
        signature=signature,
        header_name=_header_name(values["header_name"], signature),
        tolerance_seconds=_positive_int(values, "tolerance_seconds"),
        max_body_bytes=_positive_int(values, "max_body_bytes", MAX_BODY_BYTES_LIMIT),
        event_id=_locator(values, "event_id"),
        event_time=_locator(values, "event_time"),
        replay_retention_seconds=_positive_int(values, "replay_retention_seconds"),
    )


def _header_name(value: Any, signature: str) -> str | None:
    if value is None:
        if signature == "header":
            raise PushConfigError("header_name", 'required when signature is "header"')
        return None
    if not isinstance(value, str) or not HEADER_NAME.match(value):
        raise PushConfigError("header_name", f"must be an HTTP header name (got {value!r})")
    return value


def _positive_int(values: Mapping[str, Any], key: str, limit: int | None = None) -> int:
    value = values[key]
    # JSON has one number type: 300.0 is what a Terraform number may become, and means 300.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PushConfigError(key, f"must be a whole number of at least 1 (got {value!r})")
    if limit is not None and value > limit:
        raise PushConfigError(key, f"must be at most {limit} (got {value})")
    return value


def _locator(values: Mapping[str, Any], key: str) -> str | None:
    """A JSON path into the body ("$.a.b") or a request header ("header:X-Name"), or None."""
    value = values[key]
    if value is None:
        return None
    if isinstance(value, str):
        if JSON_PATH.match(value):
            return value
        if value.startswith(HEADER_PREFIX) and HEADER_NAME.match(value[len(HEADER_PREFIX) :]):
            return value
    raise PushConfigError(key, f'must be a JSON path like "$.id" or "header:X-Name" (got {value!r})')
