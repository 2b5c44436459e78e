"""Reading a small object back from the lake (a manifest, a state document), whole or not at all.

botocore retries a request that fails, but not a response body that breaks off while it is read (a
reset or a short read after the 200: `IncompleteReadError`, `ResponseStreamingError`, a read
timeout): the caller gets the exception mid-stream. These documents are small, so the read is simply
tried again from the start; when every attempt breaks, the error names the object.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import urllib3
from botocore.exceptions import IncompleteReadError, ReadTimeoutError, ResponseStreamingError

READ_ATTEMPTS = 3
RETRY_PAUSE_SECONDS = 0.2
# What a body that breaks off mid-read raises, as botocore and urllib3 report it.
BODY_BROKEN = (
    IncompleteReadError,
    ResponseStreamingError,
    ReadTimeoutError,
    urllib3.exceptions.HTTPError,
    ConnectionError,
    TimeoutError,
)


class S3ReadError(RuntimeError):
    """An object's body broke off on every attempt to read it; the message names the object."""


def read_object(client: Any, target: Mapping[str, str], key: str) -> tuple[bytes, str]:
    """The object's body and ETag. A body cut mid-read is read again (READ_ATTEMPTS in all).

    `target` is the Bucket (and ExpectedBucketOwner) arguments; a ClientError (NoSuchKey, 403, ...)
    propagates at once, as botocore has already retried what can be retried.
    """
    where = f"s3://{target['Bucket']}/{key}"
    for attempt in range(1, READ_ATTEMPTS + 1):
        response = client.get_object(**target, Key=key)
        try:
            return response["Body"].read(), str(response.get("ETag", ""))
        except BODY_BROKEN as exc:
            if attempt == READ_ATTEMPTS:
                raise S3ReadError(
                    f"reading {where} broke off {attempt} times ({type(exc).__name__}); nothing was written "
                    "from it: the run can be retried as it is"
                ) from None
            time.sleep(RETRY_PAUSE_SECONDS * attempt)
        finally:
            response["Body"].close()
    raise AssertionError("unreachable")  # pragma: no cover


def read_body(client: Any, target: Mapping[str, str], key: str) -> bytes:
    """The object's body (see read_object)."""
    return read_object(client, target, key)[0]
