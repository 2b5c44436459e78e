"""Scrubbing of credential values from anything that leaves the process as text."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
# Very short values would mask ordinary words; no real credential is this short.
MIN_SECRET_LENGTH = 4


class Redactor:
    """Replaces every known credential value (raw and JSON-escaped) with a mask."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, values: Iterable[str]) -> None:
        """Register credential values in every form they can take in text: raw, JSON, URL-encoded."""
        for value in values:
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                self._values.update(
                    {value, json.dumps(value)[1:-1], quote(value, safe=""), quote_plus(value)}
                )

    def add_basic_auth(self, username: str, password: str) -> None:
        """Register the base64 token of an HTTP Basic Authorization header."""
        self.add([base64.b64encode(f"{username}:{password}".encode()).decode()])

    def scrub(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, MASK)
        return text


# One per process: it only ever grows with values this function has already been given.
REDACTOR = Redactor()
