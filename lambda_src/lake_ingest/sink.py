"""Landing raw bytes in S3: gzip on the fly, SSE-KMS, multipart above one part, abort on failure.

Layout (Hive-style partition, run id in the key, so a re-run of a run id rewrites the same keys):
  <prefix>/ingest_date=YYYY-MM-DD/run_id=<run id>/page-00001.<ext>.gz
  <prefix>/ingest_date=YYYY-MM-DD/run_id=<run id>/_manifest.json    (written last)
  <prefix>/_quarantine/ingest_date=YYYY-MM-DD/run_id=<run id>/page-00003.html.gz   (bad pages)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from . import uploads
from .s3_reads import read_body
from .uploads import Destination, GzipUpload, StoredObject

PART_SIZE = uploads.PART_SIZE  # read when a sink is made (tests make parts smaller)
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
        self._encryption: dict[str, Any] = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn, "BucketKeyEnabled": True}
            if kms_key_arn
            else {}
        )
        self._destination = Destination(client, self._target, self._encryption, part_size or PART_SIZE)

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def client(self) -> Any:
        """The S3 client (shared with what else a run keeps beside its data: the refresh lock)."""
        return self._client

    def open(self, key: str, metadata: Mapping[str, str] | None = None) -> GzipUpload:
        """An object written as gzip in the background (uploads.py): write, then close or abort."""
        return GzipUpload(self._destination, key, metadata)

    def put_stream(
        self, key: str, chunks: Iterable[bytes], metadata: Mapping[str, str] | None = None
    ) -> StoredObject:
        """Gzip `chunks` into `key` without holding the whole body; abort cleanly on any error."""
        upload = self.open(key, metadata)
        try:
            for chunk in chunks:
                upload.write(chunk)
            return upload.close()
        except BaseException:
            upload.abort()
            raise

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

    def put_bytes(self, key: str, body: bytes, content_type: str) -> None:
        """Write a small object as it is, in one request (a published list, a state document)."""
        self._client.put_object(
            **self._target, Key=key, Body=body, ContentType=content_type, **self._encryption
        )

    def exists(self, key: str) -> bool:
        """Whether `key` exists; without s3:ListBucket a missing key answers 403, read as absent (so
        the caller writes it again, which is always safe for what it asks about)."""
        try:
            self._client.head_object(**self._target, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "403", "AccessDenied"):
                return False
            raise
        return True

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
