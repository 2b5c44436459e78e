"""What a run's requests authenticate with: the secret's fields, or an OAuth2 access token.

For the OAuth2 types the access token is cached in the process (oauth2.TOKENS) until shortly before
it expires, and renewed when the API refuses it: on 401, and on 403 only when its WWW-Authenticate
challenge says `invalid_token` (RFC 6750 3.1: a 403 `insufficient_scope`, or a rate limit, is no
reason to get a new token). The other types re-read the secret on 401 or 403 (cheap, and it may have
rotated). oauth2_refresh_token goes through refresh_exchange.py: access tokens shared by every
execution environment of the source, one exchange at a time, rotated refresh tokens written ahead and
saved with a compare-and-swap.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from .config import SourceConfig
from .http_client import BACKOFF_CAP_SECONDS, Deadline
from .oauth2 import TOKENS, AccessToken, request_token
from .observability import logger, metrics
from .origins import origin
from .refresh_exchange import RefreshExchange, TokenNotSaved
from .refresh_tokens import RefreshLease, SecretStore, lock_key
from .secrets import get_credentials, secrets_client
from .state import kms_encryption
from .token_state import TokenStateStore, config_fingerprint, tokens_key

__all__ = ["ACCESS_TOKEN", "Authenticator", "TokenNotSaved", "renews_on"]

# The key build_request finds an OAuth2 access token under.
ACCESS_TOKEN = "access_token"  # noqa: S105 - a key name, not a secret
# Time for the lease holder to save the rotated token after its last token request.
LEASE_SLACK_SECONDS = 30.0
_INVALID_TOKEN = re.compile(r'error\s*=\s*"?invalid_token"?', re.IGNORECASE)


def _warn(message: str, **fields: Any) -> None:
    logger.warning(message, extra=fields)


def renews_on(auth_type: str, status: int, challenge: str | None) -> bool:
    """Whether a refused page is worth new credentials and one more try.

    OAuth2: 401, or 403 whose WWW-Authenticate says invalid_token (RFC 6750 3.1). Static keys: 401 or
    403 (the secret is re-read, bypassing the cache: it may have rotated). No auth: never.
    """
    if auth_type == "none" or status not in (401, 403):
        return False
    if status == 401 or not auth_type.startswith("oauth2_"):
        return True
    return bool(challenge and _INVALID_TOKEN.search(challenge))


class Authenticator:
    """The credentials for one run's requests (build_request applies them as the auth type says)."""

    def __init__(
        self,
        config: SourceConfig,
        run_id: str,
        deadline: Deadline,
        exchange: RefreshExchange | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._config = config
        self._auth = config.api.auth
        self._run_id = run_id
        self._deadline = deadline
        self._exchange = exchange
        self._sleep = sleep
        self._in_use: str | None = None  # the access token this run last sent

    @classmethod
    def for_run(cls, config: SourceConfig, run_id: str, deadline: Deadline, s3_client: Any) -> Authenticator:
        """With oauth2_refresh_token: the exchange over the source's lease, token state and secret."""
        if not config.api.auth.rotates:
            return cls(config, run_id, deadline)
        sse = kms_encryption(config.kms_key_arn)
        owner = config.raw_bucket_owner
        exchange = RefreshExchange(
            auth=config.api.auth,
            fingerprint=config_fingerprint(TOKENS.key(config.secret_arn, config.api.auth)),
            lease=RefreshLease(s3_client, config.raw_bucket, lock_key(config.raw_prefix), sse, owner),
            secret=SecretStore(secrets_client(), config.secret_arn),
            tokens=TokenStateStore(s3_client, config.raw_bucket, tokens_key(config.raw_prefix), sse, owner),
            run_id=run_id,
            deadline=deadline,
            request=lambda credentials, until: _request(config, credentials, until),
            lease_seconds=_lease_seconds(config, deadline),
        )
        return cls(config, run_id, deadline, exchange)

    def renews_on(self, status: int, challenge: str | None) -> bool:
        return renews_on(self._auth.type, status, challenge)

    def credentials(self, renew: bool = False) -> Mapping[str, str]:
        """The values build_request needs; `renew` after a refusal: re-read the secret, or a new token."""
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
        refused = self._in_use if renew else None
        if renew:
            TOKENS.drop(key)
        else:
            cached = TOKENS.get(key)
            if cached is not None:
                self._in_use = cached.value
                return cached.value
        if self._exchange is not None:
            token, issued = self._exchange.token(refused)
        else:
            token, issued = self._client_credentials(renew), True
        TOKENS.put(key, token)
        self._in_use = token.value
        if issued:
            metrics.add_metric(name="AccessTokensIssued", unit=MetricUnit.Count, value=1)
        logger.info(
            "access token issued" if issued else "access token taken from the source's token state",
            extra={
                "token_endpoint": origin(self._auth.token_url),
                "grant": self._auth.type,
                "use_for_seconds": round(token.use_until - time.monotonic()),
                "renewed_after_refusal": renew,
            },
        )
        return token.value

    def _client_credentials(self, renew: bool) -> AccessToken:
        config = self._config
        credentials = get_credentials(config.secret_arn, self._auth, config.secret_max_age_seconds, renew)
        return _request(config, credentials, self._deadline, self._sleep)


def _request(
    config: SourceConfig,
    credentials: Mapping[str, str],
    deadline: Deadline,
    sleep: Callable[[float], None] = time.sleep,
) -> AccessToken:
    api = config.api
    return request_token(api.auth, credentials, deadline, api.timeout_seconds, api.max_retries, _warn, sleep)


def _lease_seconds(config: SourceConfig, deadline: Deadline) -> float:
    """Long enough for every attempt of one token request and saving its result, never much past this
    invocation."""
    api = config.api
    attempts = (api.timeout_seconds + BACKOFF_CAP_SECONDS) * (api.max_retries + 1)
    return min(attempts + LEASE_SLACK_SECONDS, max(deadline.seconds_left(), 1.0) + LEASE_SLACK_SECONDS)
