"""Landing one page: stream it into S3 as data, or into quarantine when it is not data.

Pages up to `max_parse_bytes` are read whole and checked before anything is written. Larger
pages stream into a multipart upload while they are scanned; if the scan finds the body bad, the
upload is aborted before it completes (no data object appears) and the page is fetched again
into quarantine. Any other failure aborts the upload and raises.

A credential the API echoes in a body (a `links.self` with `?api_key=...`) is masked as `***` before
the body is scanned or stored (redaction.BodyMasker): the lake never holds one, and the page's
manifest entry counts what was masked (`credentials_masked`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .config import SourceConfig
from .http_client import Deadline, Response
from .jsonscan import ScanResult
from .pagination import PageRequest
from .records import BodyScanner, media_type, quarantine_reason, records_note, scanner_for
from .redaction import REDACTOR, BodyMasker
from .sink import S3Sink, StoredObject, page_key

METADATA_VALUE_LIMIT = 512


class BadBody(Exception):
    """Raised inside the upload stream to abort it: the page turned out not to be data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LandedObject:
    """One page as stored, with what its scan found."""

    entry: dict[str, Any]  # the manifest's record of the page
    scan: ScanResult
    response: Response
    quarantine_reason: str | None

    @property
    def quarantined(self) -> bool:
        return self.quarantine_reason is not None


@dataclass(frozen=True)
class PageTarget:
    """Where a page of the run goes."""

    data_prefix: str
    quarantine_prefix: str
    metadata: dict[str, str]


def land_page(
    config: SourceConfig,
    request: PageRequest,
    fetch_page: Callable[[PageRequest], Response],
    sink: S3Sink,
    target: PageTarget,
    deadline: Deadline,
    request_url: Callable[[Response], str],
    on_record: Callable[[Any], None] | None = None,
) -> LandedObject:
    """Fetch `request` and store its body; raise on any failure (nothing is left half-written).

    `on_record` sees each record of the page as it streams (an incremental source's cursor tracker;
    the caller keeps what it saw only if the page lands as data).
    """
    api = config.api
    response = fetch_page(request)
    masker = REDACTOR.body_masker()
    try:
        content_type = response.content_type
        reason: str | None
        if not api.accepts(content_type):
            reason = f"content type '{media_type(content_type)}' is not one of API_CONFIG.content_types"
            stored = _store(
                sink, target, request.index, response, masker.filter(response.iter_body(deadline)), reason
            )
            return _landed(request, response, stored, ScanResult(), reason, request_url, masker)

        scanner = scanner_for(content_type, api, on_record)
        body = masker.filter(response.iter_body(deadline))
        head, size = [], 0
        for chunk in body:
            head.append(chunk)
            size += len(chunk)
            scanner.feed(chunk)
            if size > api.max_parse_bytes:
                break
        else:  # the whole page is in memory: decide before writing
            scan = scanner.close()
            reason = quarantine_reason(scan, content_type, size)
            stored = _store(sink, target, request.index, response, head, reason)
            return _landed(request, response, stored, scan, reason, request_url, masker)

        stream = _checked(head, size, body, scanner, content_type)
        try:
            stored = _store(sink, target, request.index, response, stream, None)
        except BadBody as bad:
            response.close()
            response = fetch_page(request)  # the aborted upload kept nothing: fetch it into quarantine
            masker = REDACTOR.body_masker()
            body = masker.filter(response.iter_body(deadline))
            stored = _store(sink, target, request.index, response, body, bad.reason)
            return _landed(request, response, stored, ScanResult(), bad.reason, request_url, masker)
        return _landed(request, response, stored, scanner.close(), None, request_url, masker)
    finally:
        response.close()


def _checked(
    head: list[bytes],
    received: int,
    body: Iterator[bytes],
    scanner: BodyScanner,
    content_type: str,
) -> Iterator[bytes]:
    """The page's chunks (`head`, already scanned and `received` bytes long, then the rest of `body`),
    scanned on the way; raises BadBody (aborting the upload) if the page is not data."""
    yield from head
    head.clear()
    for chunk in body:
        scanner.feed(chunk)
        if scanner.invalid:  # no point streaming the rest of a bad body into the data key
            raise BadBody(f"body is not the JSON its content type promises: {scanner.invalid}")
        received += len(chunk)
        yield chunk
    scan = scanner.close()
    reason = quarantine_reason(scan, content_type, received)
    if reason:
        raise BadBody(reason)


def _store(
    sink: S3Sink,
    target: PageTarget,
    index: int,
    response: Response,
    chunks: Any,
    quarantine_reason: str | None,
) -> StoredObject:
    if quarantine_reason is None:
        return sink.put_stream(
            page_key(target.data_prefix, index, response.content_type), chunks, target.metadata
        )
    metadata = {
        **target.metadata,
        "quarantine-reason": _ascii(quarantine_reason),
        "http-status": str(response.status),
        "upstream-content-type": _ascii(response.content_type or "none"),
    }
    return sink.put_stream(page_key(target.quarantine_prefix, index, response.content_type), chunks, metadata)


def _landed(
    request: PageRequest,
    response: Response,
    stored: StoredObject,
    scan: ScanResult,
    reason: str | None,
    request_url: Callable[[Response], str],
    masker: BodyMasker,
) -> LandedObject:
    entry: dict[str, Any] = {
        "index": request.index,
        "key": stored.key,
        "version_id": stored.version_id,
        "url": request_url(response),
        "http_status": response.status,
        "content_type": response.content_type,
        "content_encoding": response.content_encoding,
        "raw_bytes": stored.raw_bytes,
        "stored_bytes": stored.stored_bytes,
        "sha256": stored.sha256,
        "attempts": response.attempts,
        "latency_ms": round(response.latency_ms, 1),
    }
    if masker.masked:
        entry["credentials_masked"] = masker.masked
    if reason is None:
        entry["records"] = scan.records
        entry["records_note"] = records_note(scan, stored.raw_bytes)
    else:
        entry["records"] = None
        entry["quarantine_reason"] = reason
    return LandedObject(entry, scan, response, reason)


def _ascii(text: str) -> str:
    """S3 user metadata travels as HTTP headers: printable ASCII only."""
    return re.sub(r"[^\x20-\x7e]", "?", text)[:METADATA_VALUE_LIMIT]
