"""The push source's signing secrets: read from Secrets Manager, cached, re-read on a rotation.

The secret is the source's own (`SECRET_ARN`), holding
`{"signing_secrets": [{"value": "...", "not_after": "2026-12-31T00:00:00Z"}, ...]}` or
`{"signing_secret": "..."}`. Every entry whose not_after is absent or still ahead is tried, so the
old and the new secret are both accepted while a rotation is under way.

Cached for at most MAX_AGE_SECONDS. A signature that no cached secret matches may mean the secret was
just rotated, so it is read again, but at most once per REFETCH_INTERVAL_SECONDS: a flood of forged
requests then costs one GetSecretValue a minute, not one each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from time import monotonic
from typing import Any

from .. import aws_clients
from ..redaction import REDACTOR
from .verify import SigningSecret

MAX_AGE_SECONDS = 300.0
REFETCH_INTERVAL_SECONDS = 60.0


class SigningSecretError(RuntimeError):
    """The secret cannot be read or holds no usable signing secret. The message holds no value."""


def parse_signing_secrets(text: str | None, secret_arn: str) -> tuple[SigningSecret, ...]:
    """The signing secrets in the secret's JSON text, every value registered for redaction first."""
    try:
        value: Any = json.loads(text or "")
    except ValueError:
        raise SigningSecretError(f"secret {secret_arn}: value is not JSON") from None
    if not isinstance(value, dict):
        raise SigningSecretError(f"secret {secret_arn}: value must be a JSON object")
    single, entries = value.get("signing_secret"), value.get("signing_secrets")
    REDACTOR.add_secret([single] if isinstance(single, str) else [])
    if entries is None:
        if not isinstance(single, str) or not single:
            raise SigningSecretError(
                f'secret {secret_arn}: needs "signing_secrets" (a list) or "signing_secret" (a string)'
            )
        return (SigningSecret(single),)
    if not isinstance(entries, list) or not entries:
        raise SigningSecretError(f"secret {secret_arn}: signing_secrets must be a non-empty list")
    REDACTOR.add_secret(
        e["value"] for e in entries if isinstance(e, dict) and isinstance(e.get("value"), str)
    )
    return tuple(_entry(entry, index, secret_arn) for index, entry in enumerate(entries))


def _entry(entry: Any, index: int, secret_arn: str) -> SigningSecret:
    where = f"secret {secret_arn}: signing_secrets[{index}]"
    if not isinstance(entry, dict):
        raise SigningSecretError(f'{where} must be an object {{"value": ..., "not_after": ...}}')
    value, not_after = entry.get("value"), entry.get("not_after")
    if not isinstance(value, str) or not value:
        raise SigningSecretError(f"{where}.value must be a non-empty string")
    if not_after is None:
        return SigningSecret(value)
    try:
        moment = datetime.fromisoformat(not_after) if isinstance(not_after, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise SigningSecretError(f'{where}.not_after must be an ISO-8601 time like "2026-12-31T00:00:00Z"')
    return SigningSecret(value, moment if moment.tzinfo else moment.replace(tzinfo=UTC))


class SecretCache:
    """One secret's signing secrets, read at most every MAX_AGE_SECONDS, or on a rotation (`refetch`)."""

    def __init__(
        self,
        secret_arn: str,
        client: Any = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.secret_arn = secret_arn
        self._client = client
        self._clock = clock
        self._secrets: tuple[SigningSecret, ...] = ()
        self._read_at: float | None = None

    def current(self) -> tuple[SigningSecret, ...]:
        """The cached secrets, read again when older than MAX_AGE_SECONDS (or never read)."""
        if self._read_at is None or self._now() - self._read_at >= MAX_AGE_SECONDS:
            self._read()
        return self._secrets

    def refetch(self) -> tuple[SigningSecret, ...] | None:
        """The secrets read again after a mismatch, or None when the last read is too recent."""
        if self._read_at is not None and self._now() - self._read_at < REFETCH_INTERVAL_SECONDS:
            return None
        self._read()
        return self._secrets

    def _read(self) -> None:
        if self._client is None:
            self._client = aws_clients.client("secretsmanager")
        try:
            answer = self._client.get_secret_value(SecretId=self.secret_arn)
        except Exception as exc:  # noqa: BLE001 - any AWS error: the message is AWS's, with no value in it
            raise SigningSecretError(f"secret {self.secret_arn}: cannot be read: {exc}") from None
        self._secrets = parse_signing_secrets(answer.get("SecretString"), self.secret_arn)
        self._read_at = self._now()

    def _now(self) -> float:
        return self._clock() if self._clock is not None else monotonic()
