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
from .observability import logger
from .pagination import PageRequest
from .records import BodyScanner, media_type, quarantine_reason, records_note, scanner_for
from .records_zone import PageRecords
from .redaction import REDACTOR, BodyMasker
from .sink import S3Sink, page_key
from .uploads import GzipUpload, StoredObject

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
    records: PageRecords | None = None,
    records_key: str | None = None,
) -> LandedObject:
    """Fetch `request` and store its body; raise on any failure (nothing is left half-written).

    `records` sees each record of the page as it streams (the cursor tracker, the schema sample and,
    with `records_key`, the records zone object); the caller keeps what it saw only if the page lands
    as data. A page that is not data gets no records object.
    """
    landing = _Landing(config, request, fetch_page, sink, target, deadline, request_url, records, records_key)
    return landing.land()


class _Landing:
    """One page: fetched, scanned, stored as data (raw and records) or into quarantine."""

    def __init__(
        self,
        config: SourceConfig,
        request: PageRequest,
        fetch_page: Callable[[PageRequest], Response],
        sink: S3Sink,
        target: PageTarget,
        deadline: Deadline,
        request_url: Callable[[Response], str],
        records: PageRecords | None,
        records_key: str | None,
    ) -> None:
        self.api = config.api
        self.request = request
        self.fetch_page = fetch_page
        self.sink = sink
        self.target = target
        self.deadline = deadline
        self.request_url = request_url
        self.records = records
        self.records_key = records_key if records is not None and records.writes else None

    def land(self) -> LandedObject:
        response = self.fetch_page(self.request)
        masker = REDACTOR.body_masker()
        try:
            if not self.api.accepts(response.content_type):
                kind = media_type(response.content_type)
                reason = f"content type '{kind}' is not one of API_CONFIG.content_types"
                return self._quarantine(
                    response, masker, masker.filter(response.iter_body(self.deadline)), reason
                )
            return self._scan_and_store(response, masker)
        finally:
            response.close()

    def _scan_and_store(self, response: Response, masker: BodyMasker) -> LandedObject:
        content_type = response.content_type
        needs_values = self.records is not None and self.records.needs_values
        scanner: BodyScanner = scanner_for(
            content_type, self.api, self.records.collect if self.records else None, needs_values
        )
        if self.records is not None:
            scanner = _Processed(scanner, self.records)
        # The records object is compressed as the page is scanned (held compressed, not as lines, until
        # the page is known to be data); aborted, leaving nothing, if it is not.
        records_upload = self._records_upload()
        try:
            return self._scan_into(response, masker, scanner, records_upload)
        except BaseException:
            if records_upload is not None:
                records_upload.abort()
            raise

    def _scan_into(
        self, response: Response, masker: BodyMasker, scanner: BodyScanner, records_upload: GzipUpload | None
    ) -> LandedObject:
        body = masker.filter(response.iter_body(self.deadline))
        head, size = [], 0
        for chunk in body:
            head.append(chunk)
            size += len(chunk)
            scanner.feed(chunk)
            if size > self.api.max_parse_bytes:
                break
        else:  # the whole page is in memory: decide before writing
            scan = scanner.close()
            reason = quarantine_reason(scan, response.content_type, size)
            if reason:
                if records_upload is not None:
                    records_upload.abort()
                return self._quarantine(response, masker, head, reason, scan)
            stored = _store(self.sink, self.target, self.request.index, response, head, None)
            written = self._close_records(records_upload)
            return self._landed(response, stored, scan, None, masker, written)
        return self._streamed(response, masker, scanner, (head, size, body), records_upload)

    def _streamed(
        self,
        response: Response,
        masker: BodyMasker,
        scanner: BodyScanner,
        received: tuple[list[bytes], int, Iterator[bytes]],
        records_upload: GzipUpload | None,
    ) -> LandedObject:
        """A page larger than max_parse_bytes: raw and records stream out while the rest is scanned."""
        head, size, body = received
        stream = _checked(head, size, body, scanner, response.content_type)
        try:
            stored = _store(self.sink, self.target, self.request.index, response, stream, None)
            written = self._close_records(records_upload)
        except BadBody as bad:
            if records_upload is not None:
                records_upload.abort()
            response.close()
            response = self.fetch_page(self.request)  # the aborted uploads kept nothing: fetch it again
            masker = REDACTOR.body_masker()
            return self._quarantine(
                response, masker, masker.filter(response.iter_body(self.deadline)), bad.reason
            )
        return self._landed(response, stored, scanner.close(), None, masker, written)

    def _records_upload(self) -> GzipUpload | None:
        """The records object's upload, fed what the scanner found so far and all that follows."""
        if self.records_key is None or self.records is None:
            return None
        upload = self.sink.open(self.records_key, self.target.metadata)
        self.records.attach(upload.write)
        return upload

    def _close_records(self, upload: GzipUpload | None) -> dict[str, Any] | None:
        if upload is None or self.records is None:
            return None
        self.records.process()
        if self.records.index == 0:  # a page without records has no records object
            upload.abort()
            return None
        stored = upload.close()
        written = {
            "key": stored.key,
            "records": self.records.written,
            "bytes": stored.raw_bytes,
            "stored_bytes": stored.stored_bytes,
            "sha256": stored.sha256,
        }
        if self.records.not_written:
            # A record longer than max_parse_bytes is not held whole: it is in the raw page only.
            written["not_written"] = self.records.not_written
            logger.warning(
                "records too large for the records zone: in the raw page only",
                extra={"page": self.request.index, "records": self.records.not_written},
            )
        return written

    def _quarantine(
        self,
        response: Response,
        masker: BodyMasker,
        chunks: Any,
        reason: str,
        scan: ScanResult | None = None,
    ) -> LandedObject:
        stored = _store(self.sink, self.target, self.request.index, response, chunks, reason)
        return self._landed(response, stored, scan or ScanResult(), reason, masker, None)

    def _landed(
        self,
        response: Response,
        stored: StoredObject,
        scan: ScanResult,
        reason: str | None,
        masker: BodyMasker,
        records_object: dict[str, Any] | None,
    ) -> LandedObject:
        landed = _landed(self.request, response, stored, scan, reason, self.request_url, masker)
        if records_object is not None and (records_object["records"] or records_object.get("not_written")):
            landed.entry["records_object"] = records_object
        return landed


class _Processed:
    """A scanner whose records are processed after every chunk it is fed (PageRecords.process): the
    records a chunk held are handed on in one batch, and never more than a chunk's worth is held."""

    def __init__(self, scanner: BodyScanner, records: PageRecords) -> None:
        self._scanner = scanner
        self._records = records

    @property
    def invalid(self) -> str | None:
        return self._scanner.invalid

    def feed(self, chunk: bytes) -> None:
        self._scanner.feed(chunk)
        self._records.process()

    def close(self) -> ScanResult:
        result = self._scanner.close()
        self._records.process()
        return result


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
