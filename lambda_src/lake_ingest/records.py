"""Reading a page as it streams: which scanner fits its content type, and what makes it bad.

JSON pages are stream-scanned (records counted, pagination values found), NDJSON pages have
their lines counted, other accepted types are stored uncounted. A page whose body is not what
its type promises, or has no records where records were expected, is quarantined.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from .config import ApiConfig
from .jsonscan import EXACT_DECODER, UNREADABLE, JsonScanner, ScanResult

_PLAIN = json.JSONDecoder()


class BodyScanner(Protocol):
    @property
    def invalid(self) -> str | None: ...

    def feed(self, chunk: bytes) -> None: ...

    def close(self) -> ScanResult: ...


class LineCounter:
    """Counts the lines (records) of an NDJSON body; a last line without a newline counts too.

    The body must be UTF-8 (checked as it streams: otherwise the page is quarantined, as a JSON page
    would be). With `on_record`, each non-blank line is handed over with its text (a trailing CR
    dropped) and, with `decode`, its decoded value (UNREADABLE when it is not JSON); blank lines are not
    records then. A line longer than `max_line_bytes` is handed over as (None, UNREADABLE): not held.
    """

    def __init__(
        self,
        wanted: tuple[str, ...] = (),
        on_record: Callable[[str | None, Any], None] | None = None,
        max_line_bytes: int = 8 << 20,
        decode: bool = False,
        exact: bool = False,
    ) -> None:
        self._exact = exact  # decimals decoded exactly (a number cursor)
        self._lines = 0
        self._last = b"\n"
        self._gave_up = _values_not_read(wanted, "application/x-ndjson")
        self._on_record = on_record
        self._decode = decode
        self._max_line = max_line_bytes
        self._partial = bytearray()
        self._too_long = False
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._fed = 0
        self.invalid: str | None = None

    def feed(self, chunk: bytes) -> None:
        if not chunk or self.invalid:
            return
        try:
            self._utf8.decode(chunk)
        except UnicodeDecodeError as exc:
            self.invalid = f"body is not valid UTF-8 ({exc.reason} at byte {self._fed + exc.start})"
            return
        self._fed += len(chunk)
        self._last = chunk[-1:]
        if self._on_record is None:
            self._lines += chunk.count(b"\n")
            return
        *whole, rest = chunk.split(b"\n")
        for piece in whole:
            self._line(piece)
        self._append(rest)

    def _append(self, piece: bytes) -> None:
        if self._too_long or len(self._partial) + len(piece) > self._max_line:
            self._too_long, self._partial = True, bytearray()
        else:
            self._partial += piece

    def _line(self, piece: bytes) -> None:
        self._append(piece)
        line, too_long = bytes(self._partial), self._too_long
        self._partial, self._too_long = bytearray(), False
        if not too_long and not line.strip():
            return
        self._lines += 1
        assert self._on_record is not None
        if too_long:
            self._on_record(None, UNREADABLE)
            return
        text = line.decode().removesuffix("\r")
        record: Any = None
        if self._decode:
            try:
                record = json.loads(text, parse_float=Decimal) if self._exact else json.loads(text)
            except (ValueError, RecursionError):
                record = UNREADABLE
        self._on_record(text, record)

    def close(self) -> ScanResult:
        if self.invalid:
            return ScanResult(invalid=self.invalid)
        try:
            self._utf8.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return ScanResult(invalid=f"body is not valid UTF-8 ({exc.reason} at the end)")
        if self._on_record is not None:
            if self._partial.strip() or self._too_long:
                self._line(b"")
            return ScanResult(records=self._lines, gave_up=self._gave_up)
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


def scanner_for(
    content_type: str,
    api: ApiConfig,
    on_record: Callable[[str | None, Any], None] | None = None,
    decode: bool = True,
) -> BodyScanner:
    """The scanner for a page of this content type (a missing type is read as JSON); `on_record` sees
    every record: its exact text and, with `decode` (JSON records are decoded anyway), its value."""
    kind = media_type(content_type)
    limit = max(api.max_parse_bytes, 1 << 20)
    exact = (
        api.incremental is not None
        and api.incremental.type == "cursor"
        and api.incremental.cursor_type == "number"
    )
    if is_json(content_type):
        decoder = EXACT_DECODER if exact else _PLAIN
        return JsonScanner(api.records_path, api.pagination.body_paths, limit, on_record, decoder)
    if kind in NDJSON_TYPES:
        return LineCounter(api.pagination.body_paths, on_record, limit, decode, exact)
    return Uncounted(kind, api.pagination.body_paths)


NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/jsonlines")


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
