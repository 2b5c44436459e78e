"""Landing raw bytes in S3: gzip on the fly, SSE-KMS, multipart above one part, abort on failure.

Layout (Hive-style partition, run id in the key, so a re-run of a run id rewrites the same keys):
  <prefix>/ingest_date=YYYY-MM-DD/run_id=<run id>/page-00001.<ext>.gz
  <prefix>/ingest_date=YYYY-MM-DD/run_id=<run id>/_manifest.json    (written last)
  <prefix>/_quarantine/ingest_date=YYYY-MM-DD/run_id=<run id>/page-00003.html.gz   (bad pages)
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .s3_reads import read_body

GZIP_LEVEL = 1  # fast: level 1 runs ~3x faster than 6 and the raw zone is not the archive tier
PART_SIZE = 8 * 1024 * 1024  # S3's minimum part is 5 MiB
MANIFEST_NAME = "_manifest.json"
EXTENSIONS = {
    "application/json": "json",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "text/csv": "csv",
    "application/xml": "xml",
    "text/xml": "xml",
    "text/plain": "txt",
    "text/html": "html",
}


QUARANTINE_DIR = "_quarantine"


def run_prefix(raw_prefix: str, partition_date: str, run_id: str) -> str:
    return f"{raw_prefix}/ingest_date={partition_date}/run_id={run_id}/"


def quarantine_prefix(raw_prefix: str, partition_date: str, run_id: str) -> str:
    """Bad pages of a run: inside the source's prefix, but in a directory query engines skip."""
    return run_prefix(f"{raw_prefix}/{QUARANTINE_DIR}", partition_date, run_id)


def page_key(prefix: str, index: int, content_type: str) -> str:
    media_type = content_type.split(";")[0].strip().lower()
    extension = EXTENSIONS.get(media_type) or ("json" if media_type.endswith("+json") else "bin")
    return f"{prefix}page-{index:05d}.{extension}.gz"


@dataclass(frozen=True)
class StoredObject:
    """What was written for one object."""

    key: str
    raw_bytes: int
    stored_bytes: int
    sha256: str
    version_id: str | None


class S3Sink:
    """Writes objects to one bucket with the source's encryption settings.

    With `expected_owner` (an account id), every request names it as ExpectedBucketOwner, so S3
    refuses it (403) if the bucket now belongs to another account: a bucket deleted and re-created
    elsewhere under the same name never receives this source's data or serves it a manifest.
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        kms_key_arn: str | None,
        part_size: int | None = None,
        expected_owner: str | None = None,
    ) -> None:
        self._client = client
        self._bucket = bucket
        # Bucket and, when set, the expected owner: the arguments every request starts with.
        self._target: dict[str, str] = {"Bucket": bucket}
        if expected_owner:
            self._target["ExpectedBucketOwner"] = expected_owner
        self._part_size = part_size or PART_SIZE
        self._encryption: dict[str, Any] = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn, "BucketKeyEnabled": True}
            if kms_key_arn
            else {}
        )

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def client(self) -> Any:
        """The S3 client (shared with what else a run keeps beside its data: the refresh lock)."""
        return self._client

    def put_stream(
        self, key: str, chunks: Iterable[bytes], metadata: Mapping[str, str] | None = None
    ) -> StoredObject:
        """Gzip `chunks` into `key` without holding the whole body; abort cleanly on any error."""
        digest = hashlib.sha256()
        raw_bytes = 0
        buffer = io.BytesIO()
        upload = _MultipartUpload(self, key, metadata or {})
        try:
            with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as gz:
                for chunk in chunks:
                    if not chunk:
                        continue
                    digest.update(chunk)
                    raw_bytes += len(chunk)
                    gz.write(chunk)
                    if buffer.tell() >= self._part_size:
                        upload.add_part(buffer.getvalue())
                        buffer.seek(0)
                        buffer.truncate()
            data = buffer.getvalue()
            if upload.started:
                upload.add_part(data)
                version_id = upload.complete()
                stored = upload.size
            else:
                response = self._client.put_object(
                    **self._target,
                    Key=key,
                    Body=data,
                    ContentType="application/gzip",
                    Metadata=dict(metadata or {}),
                    **self._encryption,
                )
                version_id, stored = response.get("VersionId"), len(data)
        except BaseException:
            upload.abort()
            raise
        return StoredObject(key, raw_bytes, stored, digest.hexdigest(), version_id)

    def put_json(
        self, key: str, document: Mapping[str, Any], scrub: Callable[[str], str] = str
    ) -> StoredObject:
        """Write a small JSON document (the manifest) in one request, passed through `scrub`."""
        body = scrub(json.dumps(document, indent=2, sort_keys=True)).encode()
        response = self._client.put_object(
            **self._target, Key=key, Body=body, ContentType="application/json", **self._encryption
        )
        return StoredObject(
            key, len(body), len(body), hashlib.sha256(body).hexdigest(), response.get("VersionId")
        )

    def get_json(self, key: str, denied_is_absent: bool = False) -> Any | None:
        """Read a small JSON document back (a run's manifest); None if absent.

        Without s3:ListBucket (the role has none), S3 answers a missing key with 403, not 404
        (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html): `denied_is_absent`
        reads that as absent, where guessing wrong only means doing the work again.
        """
        try:
            body = read_body(self._client, self._target, key)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404") or (denied_is_absent and code in ("AccessDenied", "403")):
                return None
            raise
        return json.loads(body)


class _MultipartUpload:
    """A multipart upload started lazily, once a body outgrows one part."""

    def __init__(self, sink: S3Sink, key: str, metadata: Mapping[str, str]) -> None:
        self._sink = sink
        self._key = key
        self._metadata = dict(metadata)
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self.size = 0

    @property
    def started(self) -> bool:
        return self._upload_id is not None

    def add_part(self, data: bytes) -> None:
        client = self._sink._client
        if self._upload_id is None:
            self._upload_id = client.create_multipart_upload(
                **self._sink._target,
                Key=self._key,
                ContentType="application/gzip",
                Metadata=self._metadata,
                **self._sink._encryption,
            )["UploadId"]
        number = len(self._parts) + 1
        response = client.upload_part(
            **self._sink._target, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=data
        )
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})
        self.size += len(data)

    def complete(self) -> str | None:
        response = self._sink._client.complete_multipart_upload(
            **self._sink._target,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )
        self._upload_id = None
        version_id: str | None = response.get("VersionId")
        return version_id

    def abort(self) -> None:
        if self._upload_id is not None:
            self._sink._client.abort_multipart_upload(
                **self._sink._target, Key=self._key, UploadId=self._upload_id
            )
            self._upload_id = None
