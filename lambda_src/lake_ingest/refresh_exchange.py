"""Exchanging a rotating refresh token: never twice, never lost, and no more often than the token expires.

A provider that rotates refresh tokens (Auth0, Okta, Salesforce, Xero, the Microsoft identity platform)
invalidates the old one on use, often revoking the whole family when one is used twice; every rotation
is a new version of the secret, and Secrets Manager asks for at most about one PutSecretValue per 10
minutes, sustained (it removes versions beyond 100, but none younger than 24 hours:
https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html). So:

1. **Reuse before exchanging.** The access token last issued is kept in the source's token state
   (token_state.py); a cold execution environment uses it while it is valid. Exchanges follow the
   token's lifetime, not concurrency, and not every 403 (fetching.py renews on 401, and on 403 only
   when WWW-Authenticate says invalid_token, as RFC 6750 3.1 defines it).
2. **One exchange at a time**, under the source's refresh lease (refresh_tokens.RefreshLease); a run
   that finds it held waits, then takes the token the holder left in the token state.
3. **Write-ahead.** A rotated refresh token is written to the token state (`pending`) before the
   secret; if the secret write fails, the next holder of the lease finds the pending token, sees that
   the secret still holds the version it replaced, and saves it then. A token is lost only if both
   writes fail (the run then fails with TokenNotSaved, saying so).
4. **Compare-and-swap on the secret** (refresh_tokens.SecretStore.write_after): the new version moves
   AWSCURRENT only if AWSCURRENT is still on the version read, which Secrets Manager itself enforces.
5. **Time to save.** No exchange starts unless the invocation has SAVE_RESERVE_SECONDS left after the
   token request's own timeout: a rotated token always has time to reach the write-ahead copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from .http_client import Deadline, DeadlineExceeded
from .oauth2 import AccessToken, TokenError
from .observability import logger, metrics
from .refresh_tokens import RefreshLease, RotationConflict, SecretStore, SecretVersion
from .secrets import credential_fields
from .token_state import PendingToken, TokenState, TokenStateStore

# Kept free after a token request: the write-ahead copy (S3) and the secret (two Secrets Manager calls).
SAVE_RESERVE_SECONDS = 10.0
# The least a token request is given; with less time left, no exchange starts.
MIN_REQUEST_SECONDS = 2.0


class TokenNotSaved(RuntimeError):
    """The provider rotated the refresh token, and the new one could not be written to the secret."""


# A token request: (the secret's credential fields, the deadline it must finish by) -> the answer.
TokenRequest = Callable[[Mapping[str, str], Deadline], AccessToken]


def _wall_until(token: AccessToken) -> float:
    """A token's monotonic use_until as epoch seconds (other processes share only the wall clock)."""
    return time.time() + (token.use_until - time.monotonic())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class RefreshExchange:
    """The access token of an oauth2_refresh_token source, by the protocol in the module docstring."""

    def __init__(
        self,
        auth: Any,
        fingerprint: str,
        lease: RefreshLease,
        secret: SecretStore,
        tokens: TokenStateStore,
        run_id: str,
        deadline: Deadline,
        request: TokenRequest,
        lease_seconds: float,
    ) -> None:
        self._auth = auth
        self._fingerprint = fingerprint
        self._lease = lease
        self._secret = secret
        self._tokens = tokens
        self._run_id = run_id
        self._deadline = deadline
        self._request = request
        self._lease_seconds = lease_seconds

    def token(self, refused: str | None = None) -> tuple[AccessToken, bool]:
        """A usable access token (not `refused`, the one the API just refused) and whether it was issued
        by an exchange now (False: another run's, from the token state)."""
        state = self._tokens.read()
        shared = self._shared(state, refused)
        if shared is not None and (state is None or state.pending is None):
            return shared, False
        # No usable token, or a rotated refresh token still to be saved: both under the lease.
        wait_seconds = max(0.0, min(self._lease_seconds, self._deadline.seconds_left() / 2))
        with self._lease.held(self._run_id, self._lease_seconds, wait_seconds):
            state = self._tokens.read() or TokenState(self._fingerprint)
            read, state = self._recover(self._secret.read(), state)
            shared = self._shared(state, refused)
            if shared is not None:  # still valid, or the run that held the lease before us exchanged
                return shared, False
            return self._exchange(read, state), True

    def _shared(self, state: TokenState | None, refused: str | None) -> AccessToken | None:
        value = state.access_for(self._fingerprint, refused) if state else None
        if value is None or state is None or state.use_until is None:
            return None
        return AccessToken(value, time.monotonic() + (state.use_until - time.time()))

    # -- a pending token from an earlier run -----------------------------------------------------

    def _recover(self, read: SecretVersion, state: TokenState) -> tuple[SecretVersion, TokenState]:
        """Save a write-ahead copy the secret does not hold yet; drop one it holds or an operator replaced."""
        pending = state.pending
        if pending is None:
            return read, state
        cleared = state.with_pending(None)
        if read.version_id == self._secret.rotated_version_id(pending.from_version):
            self._write_quietly(cleared)  # saved before; only the clearing was missed
            return read, cleared
        if read.version_id != pending.from_version:
            logger.warning(
                "a write-ahead refresh token is older than the secret's (an operator put a new one): the "
                "secret's is kept",
                extra={"pending_from_version": pending.from_version, "secret_version": read.version_id},
            )
            self._write_quietly(cleared)
            return read, cleared
        value = {**read.value, self._auth.refresh_token_field: pending.refresh_token}
        version = self._save(read, value, kept_ahead=True)
        metrics.add_metric(name="RefreshTokensRecovered", unit=MetricUnit.Count, value=1)
        logger.warning(
            "saved a rotated refresh token that an earlier run could not write to the secret",
            extra={"secret_version": version, "earlier_run": pending.by_run, "rotated_at": pending.at},
        )
        self._write_quietly(cleared)
        return SecretVersion(value, version), cleared

    # -- the exchange ------------------------------------------------------------------------------

    def _exchange(self, read: SecretVersion, state: TokenState) -> AccessToken:
        left = self._deadline.seconds_left()
        if left < SAVE_RESERVE_SECONDS + MIN_REQUEST_SECONDS:
            raise DeadlineExceeded(
                f"no time left to exchange the refresh token and save its successor ({left:.1f}s left, "
                f"{SAVE_RESERVE_SECONDS + MIN_REQUEST_SECONDS:.0f}s needed): nothing was exchanged"
            )
        field = self._auth.refresh_token_field
        credentials = credential_fields(self._secret.secret_arn, read.value, self._auth)
        try:
            token = self._request(credentials, self._deadline.reserving(SAVE_RESERVE_SECONDS))
        except TokenError as exc:
            if exc.error != "invalid_grant":
                raise
            raise TokenError(
                f"{exc}: the refresh token in field {field} of secret {self._secret.secret_arn} "
                f"(version {read.version_id}) is no longer valid (revoked, expired, or used elsewhere); "
                "authorize again and put the new refresh token in the secret (docs/authentication.md: "
                "recovering a refresh token source)",
                exc.status,
                exc.error,
            ) from None
        state = state.with_access(self._fingerprint, token.value, _wall_until(token))
        rotated = token.refresh_token if token.refresh_token != credentials[field] else None
        if rotated is None:
            self._write_quietly(state.with_pending(None))
            return token
        pending = PendingToken(read.version_id, rotated, _now(), self._run_id)
        kept_ahead = self._write_quietly(state.with_pending(pending))
        try:
            version = self._save(read, {**read.value, field: rotated}, kept_ahead)
        except RotationConflict as conflict:
            # The secret moved on during the exchange (an operator's new token): the operator's is kept.
            logger.warning(
                "rotated refresh token not saved: the secret moved on", extra={"reason": str(conflict)}
            )
            self._write_quietly(state.with_pending(None))
            return token
        metrics.add_metric(name="RefreshTokensRotated", unit=MetricUnit.Count, value=1)
        logger.info(
            "rotated refresh token saved",
            extra={"secret_version": version, "previous_version": read.version_id},
        )
        self._write_quietly(state.with_pending(None))
        return token

    def _save(self, read: SecretVersion, value: Mapping[str, Any], kept_ahead: bool) -> str:
        """Write `value` as the version after `read`; TokenNotSaved saying where the token still is."""
        try:
            return self._secret.write_after(read, value)
        except RotationConflict:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to save must say what it means
            where = (
                f"it is kept in {self._tokens.where} (write-ahead) and the next run saves it; if runs keep "
                "failing so, see the runbook in docs/authentication.md"
                if kept_ahead
                else "the token in the secret is probably revoked now: authorize again and put the new "
                "refresh token in the secret"
            )
            raise TokenNotSaved(
                f"the token endpoint rotated the refresh token, but writing it to secret "
                f"{self._secret.secret_arn} failed ({type(exc).__name__}: {exc}); {where}"
            ) from None

    def _write_quietly(self, state: TokenState) -> bool:
        """Write the token state; a failure is logged (the secret stays the record), never raised."""
        try:
            self._tokens.write(state)
        except Exception as exc:  # noqa: BLE001 - the token state is an optimisation and a safety copy
            logger.warning(
                "could not write the token state", extra={"where": self._tokens.where, "error": str(exc)}
            )
            return False
        return True
