"""OAuth2 access tokens from a token endpoint (RFC 6749): the client credentials and refresh token grants.

The token request carries the client secret (and the refresh token) to `token_url` only; the access
token goes to the API only. Every credential is registered with the redactor the moment it is
known (the client secret with the secret; the access and refresh tokens as the answer is parsed,
before anything can quote it), so no log line, exception, result or manifest holds one.

The token endpoint's answer is never followed anywhere: a redirect is refused (set token_url to the
final URL). Connection errors, timeouts, 408, 429 and 5xx are retried like API calls
(`max_retries`, full jitter, Retry-After, never past the deadline); any other error raises
TokenError with the endpoint's RFC 6749 error code and description, scrubbed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import requests

from .config import AuthConfig
from .http_client import (
    RETRYABLE_STATUS,
    Deadline,
    DeadlineExceeded,
    UpstreamError,
    backoff_seconds,
    new_session,
    parse_retry_after,
)
from .origins import origin
from .redaction import REDACTOR
from .redirects import REDIRECT_STATUSES

# An access token is used until this long before it expires (a tenth of its lifetime if shorter):
# a page that starts with it must not reach the API after it expired.
EXPIRY_MARGIN_SECONDS = 60.0
# Without expires_in (RFC 6749 makes it optional) a token is used this long; a 401 ends it sooner.
DEFAULT_LIFETIME_SECONDS = 3600.0
ERROR_DESCRIPTION_LIMIT = 200
# A token answer is a small JSON object (RFC 6749 5.1): more than this, decoded, is refused unread, so a
# compressed answer that inflates without end (a 299 KiB gzip body) cannot exhaust the memory.
TOKEN_ANSWER_LIMIT = 64 * 1024
# The grant each oauth2 auth type sends.
GRANTS = {"oauth2_client_credentials": "client_credentials", "oauth2_refresh_token": "refresh_token"}


class TokenError(UpstreamError):
    """The token endpoint gave no access token: `error` is its RFC 6749 error code, if it sent one."""

    def __init__(self, message: str, status: int | None = None, error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


@dataclass(frozen=True)
class AccessToken:
    """An access token and when (time.monotonic) to stop using it; a rotated refresh token, if sent."""

    value: str
    use_until: float
    refresh_token: str | None = None

    def usable(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) < self.use_until


def token_form(auth: AuthConfig, credentials: Mapping[str, str]) -> tuple[dict[str, str], Any]:
    """The token request's form fields and its `requests` auth (HTTP Basic, or None).

    RFC 6749 2.3.1: with Basic, the client id and secret are form-encoded first, then joined.
    """
    form = {"grant_type": GRANTS[auth.type]}
    if auth.rotates:
        form["refresh_token"] = credentials[auth.refresh_token_field]
    if auth.scope:
        form["scope"] = auth.scope
    if auth.audience:
        form["audience"] = auth.audience
    form.update(auth.token_params)
    client_id = credentials[auth.client_id_field]
    if auth.client_auth == "basic":
        user, password = quote_plus(client_id), quote_plus(credentials[auth.client_secret_field])
        REDACTOR.add_basic_auth(user, password)
        return form, (user, password)
    form["client_id"] = client_id
    if auth.client_auth == "body":
        form["client_secret"] = credentials[auth.client_secret_field]
    return form, None


def request_token(
    auth: AuthConfig,
    credentials: Mapping[str, str],
    deadline: Deadline,
    timeout_seconds: float,
    max_retries: int,
    log: Callable[..., None],
    sleep: Callable[[float], None] = time.sleep,
) -> AccessToken:
    """POST the grant to the token endpoint; the access token it answers (bounded retries)."""
    form, basic = token_form(auth, credentials)
    where = f"token endpoint {origin(auth.token_url)}"
    session = _token_session()
    for attempt in range(1, max_retries + 2):
        budget = deadline.seconds_left()
        if budget <= 0:
            raise DeadlineExceeded(f"no time left to call the {where} (attempt {attempt})")
        timeout = min(timeout_seconds, budget)
        try:
            answer = session.post(
                auth.token_url,
                data=form,
                auth=basic,
                headers={"Accept": "application/json"},
                timeout=(min(timeout, 10.0), timeout),
                allow_redirects=False,
                stream=True,
            )
        except requests.Timeout:
            problem, status, retry_after = f"timed out after {timeout:.1f}s", None, None
        except requests.RequestException as exc:
            problem, status, retry_after = f"connection failed ({type(exc).__name__})", None, None
        else:
            status = answer.status_code
            if status == 200:
                return parse_token(answer, where)
            if status in REDIRECT_STATUSES:
                location = answer.headers.get("Location", "")
                answer.close()
                raise TokenError(
                    f"the {where} answered the {form['grant_type']} grant with a redirect (HTTP {status} to "
                    f"{REDACTOR.scrub(location) or 'no Location'}), which is not followed: the client secret "
                    "would go wherever it points. Set auth.token_url to the final URL",
                    status,
                )
            retry_after = parse_retry_after(answer.headers.get("Retry-After"))
            problem, code = _refusal(answer)
            if status not in RETRYABLE_STATUS:
                raise TokenError(
                    f"the {where} refused the {form['grant_type']} grant: {problem}", status, code
                )
        if attempt > max_retries:
            raise TokenError(f"the {where} failed: {problem} after {attempt} attempt(s)", status)
        wait = max(backoff_seconds(attempt), retry_after or 0.0)
        if wait >= deadline.seconds_left():
            raise DeadlineExceeded(f"the {where} failed: {problem}; no time left to try again")
        log("token request failed, retrying", attempt=attempt, problem=problem, wait_seconds=round(wait, 3))
        sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _answer_json(answer: requests.Response, where: str) -> Any:
    """The answer's JSON value, read at most TOKEN_ANSWER_LIMIT bytes (decoded) far; None if not JSON."""
    data = bytearray()
    try:
        while len(data) <= TOKEN_ANSWER_LIMIT:
            chunk = answer.raw.read(TOKEN_ANSWER_LIMIT + 1 - len(data), decode_content=True)
            if not chunk:
                break
            data += chunk
    except (requests.RequestException, OSError, ValueError) as exc:
        raise TokenError(
            f"the {where}'s answer could not be read ({type(exc).__name__})", answer.status_code
        ) from None
    finally:
        answer.close()
    if len(data) > TOKEN_ANSWER_LIMIT:
        raise TokenError(
            f"the {where} answered HTTP {answer.status_code} with more than {TOKEN_ANSWER_LIMIT} bytes "
            "(decoded); a token answer is a small JSON object: refused unread",
            answer.status_code,
        )
    try:
        return json.loads(bytes(data))
    except ValueError:
        return None


def parse_token(answer: requests.Response, where: str) -> AccessToken:
    """The access token (and any rotated refresh token) in a 200 answer, registered for redaction."""
    body = _answer_json(answer, where)
    if not isinstance(body, dict):
        raise TokenError(
            f"the {where} answered 200 without a JSON object (Content-Type "
            f"{answer.headers.get('Content-Type', 'none')!r})",
            200,
        )
    tokens = [body.get(k) for k in ("access_token", "refresh_token", "id_token")]
    REDACTOR.add_secret(t for t in tokens if isinstance(t, str))
    access, refresh = tokens[0], tokens[1]
    if not isinstance(access, str) or not access:
        raise TokenError(
            f"the {where} answered 200 without an access_token (fields: {', '.join(sorted(body))})", 200
        )
    token_type = body.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise TokenError(
            f"the {where} issued a token of type {token_type!r}; only Bearer tokens are supported", 200
        )
    lifetime = _lifetime(body.get("expires_in"), where)
    margin = min(EXPIRY_MARGIN_SECONDS, lifetime / 10)
    return AccessToken(
        access,
        time.monotonic() + lifetime - margin,
        refresh if isinstance(refresh, str) and refresh else None,
    )


def _lifetime(expires_in: Any, where: str) -> float:
    """Seconds the token lives: expires_in as a number or numeric text (some providers send "3600")."""
    if expires_in is None:
        return DEFAULT_LIFETIME_SECONDS
    try:
        seconds = float(expires_in)
    except (TypeError, ValueError):
        raise TokenError(
            f"the {where} sent expires_in {json.dumps(expires_in)}, not a number of seconds", 200
        ) from None
    if isinstance(expires_in, bool) or seconds <= 0:
        raise TokenError(
            f"the {where} sent expires_in {json.dumps(expires_in)}: the token is already expired", 200
        )
    return seconds


def _refusal(answer: requests.Response) -> tuple[str, str | None]:
    """`HTTP <status> <error>: <error_description>` from an RFC 6749 5.2 error answer, scrubbed."""
    try:
        body = _answer_json(answer, "token endpoint")
    except TokenError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return f"HTTP {answer.status_code}", None
    code = REDACTOR.scrub(body["error"])[:80]
    description = body.get("error_description")
    text = f"HTTP {answer.status_code} {code}"
    if isinstance(description, str) and description:
        text += f" ({REDACTOR.truncate(' '.join(description.split()), ERROR_DESCRIPTION_LIMIT)})"
    return text, code


_session: requests.Session | None = None


def _token_session() -> requests.Session:
    """The token endpoint's own pooled session: its connections never carry an API request."""
    global _session
    if _session is None:
        _session = new_session()
    return _session


class TokenCache:
    """Access tokens kept in the process (warm invocations reuse them), never written anywhere.

    Keyed by everything in the configuration that decides which token the endpoint issues, so a
    changed token URL, scope or audience never gets an old token.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, AccessToken] = {}

    @staticmethod
    def key(secret_arn: str, auth: AuthConfig) -> str:
        """A renewal after a 401 replaces the entry; a changed secret (new client) gets a 401 first."""
        parts = [secret_arn, auth.type, auth.token_url, auth.client_id_field, auth.scope, auth.audience]
        return json.dumps([*parts, sorted(auth.token_params.items())])

    def get(self, key: str) -> AccessToken | None:
        with self._lock:
            token = self._tokens.get(key)
        return token if token is not None and token.usable() else None

    def put(self, key: str, token: AccessToken) -> None:
        with self._lock:
            self._tokens[key] = token

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()

    def drop(self, key: str) -> None:
        with self._lock:
            self._tokens.pop(key, None)


# One per process, like the HTTP session and the secrets provider's cache.
TOKENS = TokenCache()
