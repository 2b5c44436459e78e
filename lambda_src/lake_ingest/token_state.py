"""A refresh-token source's token state, beside its data: `<raw_prefix>/_state/oauth2-tokens.json`.

It holds what every execution environment of the source must see, and no process may keep to itself:

- **the access token** last issued and until when it may be used, so that a cold execution
  environment uses it instead of exchanging the refresh token again: exchanges (and the secret
  versions they write) then follow the token's lifetime, not the number of processes;
- **the write-ahead copy** of a rotated refresh token (`pending`): written before the secret is, so
  that a token the provider has already rotated is never lost when writing the secret fails; the
  next holder of the refresh lease saves it (see refresh_exchange.py).

The object lives under the source's `_state/` directory: encrypted with the lake's key (SSE-KMS),
readable only by the source's own role (its IAM policy names this key; the lake's bucket policy keeps
every other source out of the prefix; the reader policy for analysts never covers `_state/`).
Written only by the holder of the refresh lease. Its tokens are registered with the redactor as soon
as they are read, like every credential.

Document (JSON):
  {"state_version": 1,
   "config": "<sha256 of what decides which token the endpoint issues>",
   "access_token": "..." | null, "use_until": <epoch seconds> | null, "issued_at": "...Z",
   "pending": null | {"from_version": "<secret VersionId it was rotated from>",
                      "refresh_token": "...", "at": "...Z", "by_run": "<run id>"}}
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from .redaction import REDACTOR
from .s3_reads import read_body
from .state_doc import STATE_DIR, bucket_target, error_code, http_status

TOKENS_NAME = "oauth2-tokens.json"
TOKEN_STATE_VERSION = 1


def tokens_key(raw_prefix: str) -> str:
    """Where a source's token state lives: beside its cursor state and refresh lease."""
    return f"{raw_prefix}/{STATE_DIR}/{TOKENS_NAME}"


def config_fingerprint(config_key: str) -> str:
    """A digest of the token configuration (token URL, scope, ...): a changed one never reuses a token."""
    return hashlib.sha256(config_key.encode()).hexdigest()


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class PendingToken:
    """A rotated refresh token not yet known to be in the secret, and the version it replaces."""

    from_version: str
    refresh_token: str
    at: str
    by_run: str

    def as_dict(self) -> dict[str, str]:
        return {
            "from_version": self.from_version,
            "refresh_token": self.refresh_token,
            "at": self.at,
            "by_run": self.by_run,
        }


@dataclass(frozen=True)
class TokenState:
    """The shared access token (if any) and the write-ahead copy (if any)."""

    config: str
    access_token: str | None = None
    use_until: float | None = None  # epoch seconds (the wall clock: processes share no monotonic clock)
    issued_at: str | None = None
    pending: PendingToken | None = None

    def access_for(self, config: str, refused: str | None = None, now: float | None = None) -> str | None:
        """The shared access token, if it was issued for this configuration, is still usable, and is not
        the one the API just refused."""
        if self.config != config or not self.access_token or self.use_until is None:
            return None
        if self.access_token == refused or (time.time() if now is None else now) >= self.use_until:
            return None
        return self.access_token

    def with_access(self, config: str, token: str, use_until: float) -> TokenState:
        return replace(self, config=config, access_token=token, use_until=use_until, issued_at=_now_iso())

    def with_pending(self, pending: PendingToken | None) -> TokenState:
        return replace(self, pending=pending)

    def to_json(self) -> dict[str, Any]:
        return {
            "state_version": TOKEN_STATE_VERSION,
            "config": self.config,
            "access_token": self.access_token,
            "use_until": self.use_until,
            "issued_at": self.issued_at,
            "pending": self.pending.as_dict() if self.pending else None,
        }

    @classmethod
    def from_json(cls, data: Any) -> TokenState | None:
        """The stored state; None for anything this version cannot read (it is then rewritten)."""
        if not isinstance(data, dict) or data.get("state_version") != TOKEN_STATE_VERSION:
            return None
        pending = data.get("pending")
        try:
            use_until = data.get("use_until")
            return cls(
                config=str(data.get("config") or ""),
                access_token=data.get("access_token") if isinstance(data.get("access_token"), str) else None,
                use_until=float(use_until) if isinstance(use_until, (int, float)) else None,
                issued_at=data.get("issued_at"),
                pending=(
                    PendingToken(
                        str(pending["from_version"]),
                        str(pending["refresh_token"]),
                        str(pending.get("at", "")),
                        str(pending.get("by_run", "")),
                    )
                    if isinstance(pending, dict)
                    else None
                ),
            )
        except (KeyError, TypeError, ValueError):
            return None


class TokenStateStore:
    """Reads and writes one source's token state (SSE-KMS with the lake's key, like its data)."""

    def __init__(
        self,
        s3_client: Any,
        bucket: str,
        key: str,
        sse: Mapping[str, Any] | None = None,
        expected_owner: str | None = None,
    ) -> None:
        self._client = s3_client
        self._key = key
        self._sse = dict(sse or {})
        self._target = bucket_target(bucket, expected_owner)
        self.where = f"s3://{bucket}/{key}"

    def read(self) -> TokenState | None:
        """The stored state (its tokens registered for redaction first); None when there is none.

        Without s3:ListBucket (the role has none) S3 answers 403 for a key that does not exist yet.
        """
        try:
            body = read_body(self._client, self._target, self._key)
        except ClientError as exc:
            if error_code(exc) == "NoSuchKey" or http_status(exc) in (403, 404):
                return None
            raise
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if isinstance(data, dict):
            pending: dict[str, Any] = data["pending"] if isinstance(data.get("pending"), dict) else {}
            REDACTOR.add_secret(
                v for v in (data.get("access_token"), pending.get("refresh_token")) if isinstance(v, str)
            )
        return TokenState.from_json(data)

    def write(self, state: TokenState) -> None:
        body = json.dumps(state.to_json(), indent=1, sort_keys=True).encode()
        self._client.put_object(
            **self._target, Key=self._key, Body=body, ContentType="application/json", **self._sse
        )
