"""A rotating refresh token, kept in the source's own secret, that two runs can never both spend.

Providers that rotate refresh tokens (Auth0, Okta, Salesforce, Xero, Microsoft identity platform
and others) invalidate the old token on use, and many treat a second use as theft and revoke the
whole token family. So one refresh token must be exchanged by one run, and the new one must reach
the secret before anyone reads the secret again. Two guards do that:

1. **A lease in the lake** (`<raw_prefix>/_state/oauth2-refresh.lock`, S3 conditional writes, like
   the cursor state): a run exchanges only while it holds it; the others wait for it to be released,
   then read the secret again and exchange the token the holder wrote. A holder that crashed
   blocks the others only until its lease runs out (bounded by the token request's retries).
2. **A compare-and-swap on the secret.** The holder writes the rotated token as a new version with
   only the staging label ROTATED_LABEL (AWSCURRENT stays where it is: PutSecretValue moves only the
   labels it is given), whose ClientRequestToken (its VersionId) is derived from the version it read:
   Secrets Manager refuses a second, different version with that id (PutSecretValue is idempotent per
   ClientRequestToken: https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html),
   so a run whose lease ran out can never write over the token of the run that took over. Then it
   moves AWSCURRENT to it with UpdateSecretVersionStage, naming the version read as RemoveFromVersionId:
   Secrets Manager fails that call when AWSCURRENT is on any other version
   (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_UpdateSecretVersionStage.html),
   so an operator's token written at any moment is never demoted. botocore's retries of either call
   are safe: the same id and value do nothing, and a label already moved is recognised.

refresh_exchange.py builds the whole protocol on these two (shared access tokens, write-ahead copy).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from .redaction import REDACTOR
from .s3_reads import read_object
from .state_doc import STATE_DIR, bucket_target, error_code, is_conflict

LOCK_NAME = "oauth2-refresh.lock"
# Version ids of rotated tokens: uuid5 of this namespace, the secret ARN and the version rotated from.
VERSION_NAMESPACE = uuid.UUID("7f4d3a52-2b1e-4c55-9a61-6c1d2f0e8b93")
POLL_SECONDS = (0.2, 0.6)
# The staging label of a version a run wrote (AWSCURRENT is then moved to it by a compare-and-swap).
ROTATED_LABEL = "LAKEINGEST_ROTATED"


def lock_key(raw_prefix: str) -> str:
    """Where a source's refresh lease lives: beside its cursor state, under its own prefix."""
    return f"{raw_prefix}/{STATE_DIR}/{LOCK_NAME}"


class RefreshLocked(RuntimeError):
    """Another run holds the refresh lease past the time this run could wait (it fetched nothing)."""


class RotationConflict(RuntimeError):
    """The secret changed between reading the refresh token and writing the rotated one."""


@dataclass(frozen=True)
class SecretVersion:
    """A secret's value (a JSON object) and the VersionId it was read from."""

    value: Mapping[str, Any]
    version_id: str


class RefreshLease:
    """A lease on one S3 object, taken with If-None-Match: * and handed on with If-Match: <ETag>."""

    def __init__(
        self,
        s3_client: Any,
        bucket: str,
        key: str,
        sse: Mapping[str, Any] | None = None,
        expected_owner: str | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = s3_client
        self._key = key
        self._sse = dict(sse or {})
        self._target = bucket_target(bucket, expected_owner)
        self._clock = clock
        self._sleep = sleep
        self.where = f"s3://{bucket}/{key}"

    @contextmanager
    def held(self, holder: str, lease_seconds: float, wait_seconds: float) -> Iterator[None]:
        """Hold the lease for at most `lease_seconds`, waiting up to `wait_seconds` for it."""
        etag = self._acquire(holder, lease_seconds, wait_seconds)
        try:
            yield
        finally:
            self._release(holder, etag)

    def _acquire(self, holder: str, lease_seconds: float, wait_seconds: float) -> str:
        give_up = time.monotonic() + wait_seconds
        while True:
            try:
                return self._put(holder, self._clock() + lease_seconds, None)
            except ClientError as exc:
                if not is_conflict(exc):
                    raise
            current, etag = self._read()
            if current is None or float(current.get("expires_at", 0)) <= self._clock():
                try:
                    return self._put(holder, self._clock() + lease_seconds, etag)
                except ClientError as exc:
                    if not (is_conflict(exc) or error_code(exc) == "NoSuchKey"):
                        raise
                continue  # someone else took it first: look again
            if time.monotonic() >= give_up:
                until = datetime.fromtimestamp(float(current["expires_at"]), UTC).isoformat(
                    timespec="seconds"
                )
                raise RefreshLocked(
                    f"run {current.get('holder')} is refreshing the OAuth2 token ({self.where}, lease until "
                    f"{until}); this run waited {wait_seconds:.0f}s, fetched nothing and will be retried"
                )
            self._sleep(random.uniform(*POLL_SECONDS))

    def _release(self, holder: str, etag: str) -> None:
        """Expire the lease now, if it is still ours (a lease that ran out may be someone else's)."""
        try:
            self._put(holder, 0.0, etag)
        except ClientError as exc:
            if not (is_conflict(exc) or error_code(exc) == "NoSuchKey"):
                raise

    def _put(self, holder: str, expires_at: float, etag: str | None) -> str:
        body = json.dumps({"holder": holder, "expires_at": expires_at}).encode()
        condition = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
        response = self._client.put_object(
            **self._target, Key=self._key, Body=body, ContentType="application/json", **condition, **self._sse
        )
        return str(response["ETag"])

    def _read(self) -> tuple[dict[str, Any] | None, str | None]:
        try:
            body, etag = read_object(self._client, self._target, self._key)
        except ClientError as exc:
            if error_code(exc) == "NoSuchKey":
                return None, None
            raise
        try:
            doc = json.loads(body)
        except ValueError:
            doc = {}  # unreadable: treated as expired, and replaced
        return (doc if isinstance(doc, dict) else {}), etag


class SecretStore:
    """Reads a secret's current version and writes the next one only on top of the version read."""

    def __init__(self, client: Any, secret_arn: str) -> None:
        self._client = client
        self.secret_arn = secret_arn

    def read(self) -> SecretVersion:
        """AWSCURRENT, read now (never from a cache: the refresh token may have rotated a second ago)."""
        response = self._client.get_secret_value(SecretId=self.secret_arn, VersionStage="AWSCURRENT")
        try:
            value = json.loads(response.get("SecretString") or "")
        except ValueError:
            value = None
        if isinstance(value, dict):
            REDACTOR.add(str(v) for v in value.values() if isinstance(v, str))
        return SecretVersion(value if isinstance(value, dict) else {}, str(response["VersionId"]))

    def rotated_version_id(self, from_version: str) -> str:
        """The VersionId of the version rotated from `from_version` (the same in every run)."""
        return str(uuid.uuid5(VERSION_NAMESPACE, f"{self.secret_arn}#{from_version}"))

    def write_after(self, read: SecretVersion, value: Mapping[str, Any]) -> str:
        """Make `value` the current version, only on top of `read` (else RotationConflict)."""
        version_id = self.rotated_version_id(read.version_id)
        try:
            self._client.put_secret_value(
                SecretId=self.secret_arn,
                SecretString=json.dumps(dict(value)),
                ClientRequestToken=version_id,
                VersionStages=[ROTATED_LABEL],
            )
        except ClientError as exc:
            if error_code(exc) == "ResourceExistsException":
                raise RotationConflict(
                    f"secret {self.secret_arn}: another run already wrote a token rotated from version "
                    f"{read.version_id}"
                ) from None
            raise
        try:
            self._client.update_secret_version_stage(
                SecretId=self.secret_arn,
                VersionStage="AWSCURRENT",
                MoveToVersionId=version_id,
                RemoveFromVersionId=read.version_id,
            )
        except ClientError:
            current = self._current_version()
            if current == version_id:  # a retry of a move whose answer was lost: done
                return version_id
            if current != read.version_id:
                raise RotationConflict(
                    f"secret {self.secret_arn} has a newer version ({current}) than the one this run "
                    f"refreshed from ({read.version_id}): written by an operator or another run, and kept"
                ) from None
            raise
        return version_id

    def _current_version(self) -> str:
        response = self._client.get_secret_value(SecretId=self.secret_arn, VersionStage="AWSCURRENT")
        return str(response["VersionId"])
