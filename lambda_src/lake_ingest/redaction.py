"""Scrubbing of credential values from anything that leaves the process as text."""

from __future__ import annotations

import json
from collections.abc import Iterable

MASK = "***"
# Very short values would mask ordinary words; no real credential is this short.
MIN_SECRET_LENGTH = 4


class Redactor:
    """Replaces every known credential value (raw and JSON-escaped) with a mask."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, values: Iterable[str]) -> None:
        for value in values:
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                self._values.add(value)
                self._values.add(json.dumps(value)[1:-1])

    def scrub(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, MASK)
        return text


# One per process: it only ever grows with values this function has already been given.
REDACTOR = Redactor()
