"""Reading a page as it streams: which scanner fits its content type, and what makes it bad.

JSON pages are stream-scanned (records counted, pagination values found), NDJSON pages have
their lines counted, other accepted types are stored uncounted. A page whose body is not what
its type promises, or has no records where records were expected, is quarantined.
"""

from __future__ import annotations

from typing import Protocol

from .config import ApiConfig
from .jsonscan import JsonScanner, ScanResult


class BodyScanner(Protocol):
    @property
    def invalid(self) -> str | None: ...

    def feed(self, chunk: bytes) -> None: ...

    def close(self) -> ScanResult: ...


class LineCounter:
    """Counts the lines (records) of an NDJSON body; a last line without a newline counts too."""

    invalid = None

    def __init__(self, wanted: tuple[str, ...] = ()) -> None:
        self._lines = 0
        self._last = b"\n"
        self._gave_up = _values_not_read(wanted, "application/x-ndjson")

    def feed(self, chunk: bytes) -> None:
        if chunk:
            self._lines += chunk.count(b"\n")
            self._last = chunk[-1:]

    def close(self) -> ScanResult:
        return ScanResult(records=self._lines + (self._last != b"\n"), gave_up=self._gave_up)


class Uncounted:
    """Stores a body of a type lake-ingest does not count (CSV, XML, ...)."""

    invalid = None

    def __init__(self, media_type: str, wanted: tuple[str, ...] = ()) -> None:
        self._media_type = media_type
        self._gave_up = _values_not_read(wanted, media_type)

    def feed(self, chunk: bytes) -> None:
        return None

    def close(self) -> ScanResult:
        return ScanResult(
            records_problem=f"records are counted in JSON and NDJSON pages, not {self._media_type}",
            gave_up=self._gave_up,
        )


def _values_not_read(wanted: tuple[str, ...], media_type: str) -> str | None:
    """Why body values (pagination's dot paths) cannot be read from a page of this type."""
    if not wanted:
        return None
    return f"values such as {', '.join(wanted)} are read from JSON pages, not {media_type}"


def media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def is_json(content_type: str) -> bool:
    kind = media_type(content_type)
    return kind in ("", "application/json", "text/json") or kind.endswith("+json")


def scanner_for(content_type: str, api: ApiConfig) -> BodyScanner:
    """The scanner for a page of this content type (a missing type is read as JSON)."""
    kind = media_type(content_type)
    if is_json(content_type):
        return JsonScanner(api.records_path, api.pagination.body_paths, max(api.max_parse_bytes, 1 << 20))
    if kind in ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/jsonlines"):
        return LineCounter(api.pagination.body_paths)
    return Uncounted(kind, api.pagination.body_paths)


def quarantine_reason(scan: ScanResult, content_type: str, raw_bytes: int) -> str | None:
    """Why this page is not data, or None if it is (an empty body is data with no records)."""
    if raw_bytes == 0:
        return None
    if scan.invalid:
        return f"body is not the JSON its content type promises: {scan.invalid}"
    # An empty records_path expects a top-level array: a top-level object there (`{"error": ...}`
    # with status 200) is not data, exactly like a missing list at a configured path.
    if is_json(content_type) and scan.records is None and scan.gave_up is None:
        return f"no records where expected: {scan.records_problem}"
    return None


def records_note(scan: ScanResult, raw_bytes: int) -> str | None:
    """Why a data page's record count is null (None when it was counted)."""
    if scan.records is not None:
        return None
    if raw_bytes == 0:
        return "empty body"
    if scan.gave_up:
        return f"not counted: {scan.gave_up}"
    return scan.records_problem
