"""What a run's requests authenticate with: the secret's fields, or an OAuth2 access token.

For the OAuth2 types the access token is cached in the process (oauth2.TOKENS) until shortly before
it expires, and renewed when a page is refused with 401/403 (once per page, as the secret is
re-read for the other types). oauth2_refresh_token exchanges the secret's refresh token under the
source's refresh lease and writes a rotated one back (refresh_tokens.py says how that stays safe
when runs refresh at once).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from .config import SourceConfig
from .http_client import BACKOFF_CAP_SECONDS, Deadline
from .oauth2 import TOKENS, AccessToken, TokenError, request_token
from .observability import logger, metrics
from .origins import origin
from .refresh_tokens import RefreshLease, RotationConflict, SecretStore, lock_key
from .secrets import credential_fields, get_credentials, secrets_client
from .state import kms_encryption

# The key build_request finds an OAuth2 access token under.
ACCESS_TOKEN = "access_token"  # noqa: S105 - a key name, not a secret
# Time for the lease holder to write the rotated token after its last token request.
LEASE_SLACK_SECONDS = 30.0


class TokenNotSaved(RuntimeError):
    """The provider rotated the refresh token, and the new one could not be written to the secret."""


def _warn(message: str, **fields: Any) -> None:
    logger.warning(message, extra=fields)


class Authenticator:
    """The credentials for one run's requests (build_request applies them as the auth type says)."""

    def __init__(
        self,
        config: SourceConfig,
        run_id: str,
        deadline: Deadline,
        lease: RefreshLease | None = None,
        store: SecretStore | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._config = config
        self._auth = config.api.auth
        self._run_id = run_id
        self._deadline = deadline
        self._lease = lease
        self._store = store
        self._sleep = sleep

    @classmethod
    def for_run(cls, config: SourceConfig, run_id: str, deadline: Deadline, s3_client: Any) -> Authenticator:
        """With oauth2_refresh_token, the refresh lease beside the source's data and its secret's store."""
        if not config.api.auth.rotates:
            return cls(config, run_id, deadline)
        lease = RefreshLease(
            s3_client,
            config.raw_bucket,
            lock_key(config.raw_prefix),
            kms_encryption(config.kms_key_arn),
            config.raw_bucket_owner,
        )
        return cls(config, run_id, deadline, lease, SecretStore(secrets_client(), config.secret_arn))

    def credentials(self, renew: bool = False) -> Mapping[str, str]:
        """The values build_request needs; `renew` after a 401/403: re-read the secret, new token."""
        if not self._auth.is_oauth2:
            return get_credentials(
                self._config.secret_arn, self._auth, self._config.secret_max_age_seconds, force_fetch=renew
            )
        return {ACCESS_TOKEN: self._access_token(renew)}

    @property
    def renewal(self) -> str:
        """What `credentials(renew=True)` does, for the message when the API refuses again."""
        if self._auth.is_oauth2:
            return f"a new access token from {origin(self._auth.token_url)}"
        return "re-reading the secret (it may have rotated)"

    def _access_token(self, renew: bool) -> str:
        key = TOKENS.key(self._config.secret_arn, self._auth)
        if renew:
            TOKENS.drop(key)
        else:
            cached = TOKENS.get(key)
            if cached is not None:
                return cached.value
        token = self._exchange_refresh_token() if self._auth.rotates else self._client_credentials(renew)
        TOKENS.put(key, token)
        metrics.add_metric(name="AccessTokensIssued", unit=MetricUnit.Count, value=1)
        logger.info(
            "access token issued",
            extra={
                "token_endpoint": origin(self._auth.token_url),
                "grant": self._auth.type,
                "use_for_seconds": round(token.use_until - time.monotonic()),
                "renewed_after_refusal": renew,
            },
        )
        return token.value

    def _request(self, credentials: Mapping[str, str]) -> AccessToken:
        api = self._config.api
        return request_token(
            self._auth, credentials, self._deadline, api.timeout_seconds, api.max_retries, _warn, self._sleep
        )

    def _client_credentials(self, renew: bool) -> AccessToken:
        config = self._config
        credentials = get_credentials(config.secret_arn, self._auth, config.secret_max_age_seconds, renew)
        return self._request(credentials)

    def _lease_seconds(self) -> float:
        """Long enough for every attempt of one token request, never much past this invocation."""
        api = self._config.api
        attempts = (api.timeout_seconds + BACKOFF_CAP_SECONDS) * (api.max_retries + 1)
        return min(
            attempts + LEASE_SLACK_SECONDS, max(self._deadline.seconds_left(), 1.0) + LEASE_SLACK_SECONDS
        )

    def _exchange_refresh_token(self) -> AccessToken:
        """Exchange the secret's refresh token under the lease; write a rotated one back before releasing."""
        assert self._lease is not None and self._store is not None
        lease_seconds = self._lease_seconds()
        wait_seconds = max(0.0, min(lease_seconds, self._deadline.seconds_left() / 2))
        field = self._auth.refresh_token_field
        with self._lease.held(self._run_id, lease_seconds, wait_seconds):
            read = self._store.read()
            credentials = credential_fields(self._store.secret_arn, read.value, self._auth)
            try:
                token = self._request(credentials)
            except TokenError as exc:
                if exc.error != "invalid_grant":
                    raise
                raise TokenError(
                    f"{exc}: the refresh token in field {field} of secret {self._store.secret_arn} "
                    f"(version {read.version_id}) is no longer valid (revoked, expired, or used elsewhere); "
                    "authorize again and put the new refresh token in the secret",
                    exc.status,
                    exc.error,
                ) from None
            if token.refresh_token and token.refresh_token != credentials[field]:
                self._save(read, {**read.value, field: token.refresh_token})
        return token

    def _save(self, read: Any, value: Mapping[str, Any]) -> None:
        assert self._store is not None
        try:
            version = self._store.write_after(read, value)
        except RotationConflict as conflict:
            # Ours was rotated from an older token: the newer one in the secret is kept, ours is dropped.
            logger.warning(
                "rotated refresh token not saved: the secret moved on", extra={"reason": str(conflict)}
            )
            return
        except Exception as exc:  # noqa: BLE001 - any failure to save must say what it means
            raise TokenNotSaved(
                f"the token endpoint rotated the refresh token, but writing it to secret "
                f"{self._store.secret_arn} failed ({type(exc).__name__}: {exc}); the token in the secret is "
                "probably revoked now: authorize again and put the new refresh token in the secret"
            ) from None
        metrics.add_metric(name="RefreshTokensRotated", unit=MetricUnit.Count, value=1)
        logger.info(
            "rotated refresh token saved",
            extra={"secret_version": version, "previous_version": read.version_id},
        )
