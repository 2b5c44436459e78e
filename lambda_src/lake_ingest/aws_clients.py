"""Every AWS client lake-ingest makes, with its retry and timeout settings stated here, in one place.

boto3's defaults change between botocore versions (the installed 1.44 defaults to `standard` with 3
attempts; older ones to `legacy`), so nothing is left to them:

- `standard` retry mode, 5 attempts in all (the first and 4 retries), with exponential backoff and
  jitter: throttling (S3 `SlowDown`, `ThrottlingException`), transient errors (5xx, `RequestTimeout`)
  and connection errors are retried (https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html).
  A response body that breaks off after the answer began is not a request error, so botocore does not
  retry it: s3_reads.py reads small documents again itself.
- 5 s to connect and 60 s to read a response: every call is far smaller than that, and a call that
  hangs must fail well inside the function's timeout.

A conditional write whose answer was lost and which botocore then retries is answered 412 because of
the first attempt; state_doc.StateFile.put_or_recognise tells that apart from another writer.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

RETRY_MODE = "standard"
MAX_ATTEMPTS = 5
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 60
CLIENT_CONFIG = Config(
    retries={"mode": RETRY_MODE, "total_max_attempts": MAX_ATTEMPTS},
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
)


def client(service: str, session: Any = None, endpoint_url: str | None = None) -> Any:
    """A client of `service` with CLIENT_CONFIG (boto3's default session unless one is given)."""
    maker = session.client if session is not None else boto3.client
    return maker(service, endpoint_url=endpoint_url, config=CLIENT_CONFIG)
