"""Counting the records in a response body without mistaking an error page or an object for data."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class RecordCount:
    """How many records a page held, or None with the reason it could not be counted."""

    count: int | None
    reason: str | None = None


class BodyTap:
    """Passes chunks through while keeping a copy of the body up to `limit` bytes for counting."""

    def __init__(self, chunks: Iterable[bytes], limit: int) -> None:
        self._chunks = chunks
        self._limit = limit
        self._kept: list[bytes] = []
        self._size = 0
        self.overflowed = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            if not self.overflowed:
                self._size += len(chunk)
                if self._size > self._limit:
                    self.overflowed = True
                    self._kept.clear()
                else:
                    self._kept.append(chunk)
            yield chunk

    def body(self) -> bytes | None:
        return None if self.overflowed else b"".join(self._kept)


def count_records(body: bytes | None, records_path: str) -> RecordCount:
    """Count the list at `records_path` (dot path; empty for a top-level array) in a JSON body."""
    if body is None:
        return RecordCount(None, "body larger than API_CONFIG.max_parse_bytes; not counted")
    try:
        document = json.loads(body)
    except UnicodeDecodeError:
        return RecordCount(None, "body is not valid UTF-8 JSON")
    except json.JSONDecodeError as exc:
        return RecordCount(None, f"body is not JSON ({exc.msg} at position {exc.pos})")
    node = document
    for part in records_path.split(".") if records_path else []:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return RecordCount(None, f"records_path '{records_path}' not found in the body (at '{part}')")
    if not isinstance(node, list):
        where = f"records_path '{records_path}'" if records_path else "the top level (records_path is empty)"
        return RecordCount(None, f"{where} holds a JSON {type(node).__name__}, not a list of records")
    return RecordCount(len(node))
