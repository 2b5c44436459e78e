"""Writing one object as gzip while the caller goes on reading: compression, hashing and the upload run
on a worker thread.

A page is read from the network and scanned on the caller's thread; the raw page and its records each
go to their own GzipUpload. zlib and hashlib release the GIL while they work (CPython's zlibmodule and
hashlib, for inputs of more than 2 KiB), and so do socket writes, so on two cores the scanner and the
compressors run at the same time. The queue between them is short (QUEUE_DEPTH chunks), so memory stays
bounded: a slow upload slows the reader instead of filling the process.

Small bodies go up in one PutObject; a body that outgrows one part goes up as a multipart upload, parts
of `part_size` (S3's minimum is 5 MiB), aborted on any failure so that nothing half-written remains.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

GZIP_LEVEL = 1  # fast: level 1 runs ~3x faster than 6 and the raw zone is not the archive tier
PART_SIZE = 8 * 1024 * 1024  # S3's minimum part is 5 MiB
QUEUE_DEPTH = 4
_END, _ABORT = object(), object()


@dataclass(frozen=True)
class StoredObject:
    """What was written for one object."""

    key: str
    raw_bytes: int
    stored_bytes: int
    sha256: str
    version_id: str | None


@dataclass(frozen=True)
class Destination:
    """Where objects go: the client, the Bucket (and ExpectedBucketOwner) arguments, the SSE arguments."""

    client: Any
    target: Mapping[str, str]
    encryption: Mapping[str, Any]
    part_size: int = PART_SIZE


class GzipUpload:
    """`write` chunks, then `close` (the object is complete) or `abort` (nothing remains)."""

    def __init__(self, destination: Destination, key: str, metadata: Mapping[str, str] | None = None) -> None:
        self._to = destination
        self.key = key
        self._metadata = dict(metadata or {})
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_DEPTH)
        self._error: BaseException | None = None
        self._stored: StoredObject | None = None
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._work, name=f"upload {key}", daemon=True)
        self._thread.start()

    # -- the caller's side ------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if data:
            self._hand(data)

    def close(self) -> StoredObject:
        """Finish the object; raises whatever failed on the worker (the upload is then aborted)."""
        self._hand(_END)
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._stored is not None
        return self._stored

    def abort(self) -> None:
        """Leave nothing behind (a multipart upload is aborted); never raises."""
        if self._thread.is_alive():
            self._hand(_ABORT, heed_errors=False)
            self._thread.join()

    def _hand(self, item: Any, heed_errors: bool = True) -> None:
        while True:
            if heed_errors and self._error is not None:
                raise self._error
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                if not self._thread.is_alive():
                    raise RuntimeError(f"the upload of {self.key} stopped") from self._error

    # -- the worker's side ------------------------------------------------------------------------------

    def _work(self) -> None:
        digest, raw, stored = hashlib.sha256(), 0, 0
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: gzip framing
        pending = bytearray()
        ended = False  # the caller handed _END and waits in close(): nothing more will come
        try:
            while True:
                item = self._queue.get()
                if item is _ABORT:
                    self._abort_multipart()
                    return
                if item is _END:
                    ended = True
                    break
                digest.update(item)
                raw += len(item)
                pending += compressor.compress(item)
                if len(pending) >= self._to.part_size:
                    stored += self._add_part(bytes(pending))
                    pending.clear()
            pending += compressor.flush()
            version = self._finish(bytes(pending))
            self._stored = StoredObject(self.key, raw, stored + len(pending), digest.hexdigest(), version)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller at its next call
            self._error = exc
            try:
                self._abort_multipart()
            except Exception:  # noqa: BLE001, S110 - the lifecycle rule removes what an abort leaves
                pass
            if not ended:  # a failure of the last request (a small object's one PutObject) comes after it
                self._drain()

    def _drain(self) -> None:
        """Take what the caller still hands over until it ends or aborts (so it never blocks)."""
        while self._queue.get() not in (_END, _ABORT):
            pass

    def _add_part(self, data: bytes) -> int:
        client, target = self._to.client, self._to.target
        if self._upload_id is None:
            self._upload_id = client.create_multipart_upload(
                **target,
                Key=self.key,
                ContentType="application/gzip",
                Metadata=self._metadata,
                **self._to.encryption,
            )["UploadId"]
        number = len(self._parts) + 1
        answer = client.upload_part(
            **target, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=data
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        return len(data)

    def _finish(self, last: bytes) -> str | None:
        client, target = self._to.client, self._to.target
        if self._upload_id is None:
            answer = client.put_object(
                **target,
                Key=self.key,
                Body=last,
                ContentType="application/gzip",
                Metadata=self._metadata,
                **self._to.encryption,
            )
            version: str | None = answer.get("VersionId")
            return version
        self._add_part(last)
        answer = client.complete_multipart_upload(
            **target, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
        )
        self._upload_id = None
        version = answer.get("VersionId")
        return version

    def _abort_multipart(self) -> None:
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            self._to.client.abort_multipart_upload(**self._to.target, Key=self.key, UploadId=upload_id)
