"""Calling the upstream API: auth, timeouts, bounded retries with full jitter, status checks.

Retries cover connection errors, timeouts, 408, 429, 5xx, and a 403 that says it is a rate limit (a
`Retry-After` header, or `X-RateLimit-Remaining: 0`: GitHub answers its rate limits so).
`Retry-After` (seconds or HTTP date) is honoured, but never below the jittered backoff (so
`Retry-After: 0` does not burn every attempt at once) and never past the Lambda deadline. Any
4xx/5xx left after the retries raises: an error response is never handed on as data. Redirects are
followed by hand, on the request's own origin only (see redirects.py); any other redirect raises.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
import urllib3

from .config import ApiConfig
from .redaction import REDACTOR
from .redirects import REDIRECT_STATUSES, RedirectRefused, next_hop

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 20.0
ERROR_BODY_EXCERPT = 300
CHUNK_SIZE = 256 * 1024


class UpstreamError(RuntimeError):
    """The upstream API could not be called successfully."""


class UpstreamHTTPError(UpstreamError):
    """The upstream API answered with an error status after all retries.

    `detail` is what was answered to what ("HTTP 401: <excerpt> for GET <url>", credentials masked),
    so that a caller that retried on its own (after re-reading the secret) can say so.
    """

    def __init__(
        self, message: str, status: int, detail: str = "", www_authenticate: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        # The challenge of a 401/403 (RFC 6750 3: `Bearer error="invalid_token"`), to decide on renewal.
        self.www_authenticate = www_authenticate


class DeadlineExceeded(UpstreamError):
    """Not enough of the invocation's time is left to wait or call again."""


# Builds the request again for a redirect's target URL and method, with credentials as configured.
Rebuild = Callable[[str, str], requests.PreparedRequest]


class Deadline:
    """The invocation's remaining time, less a safety margin kept for writing results."""

    def __init__(self, remaining_ms: Callable[[], int], margin_seconds: float) -> None:
        self._remaining_ms = remaining_ms
        self.margin_seconds = margin_seconds

    def seconds_left(self) -> float:
        return self._remaining_ms() / 1000.0 - self.margin_seconds

    def reserving(self, seconds: float) -> Deadline:
        """The same deadline, `seconds` earlier: what must still happen after a call has time for it."""
        return Deadline(self._remaining_ms, self.margin_seconds + seconds)


@dataclass
class Response:
    """A successful (2xx) upstream response whose body has not been read yet."""

    raw: requests.Response
    status: int
    content_type: str
    content_encoding: str | None
    url: str
    attempts: int
    latency_ms: float
    read_timeout: float

    @property
    def link_header(self) -> str | None:
        return self.raw.headers.get("Link")

    def iter_body(self, deadline: Deadline, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Yield the body (transfer and content coding removed) in chunks of about `chunk_size`.

        Raises UpstreamError if the body breaks off (reset, fewer bytes than Content-Length) and
        DeadlineExceeded if it is still arriving when the invocation's time runs out: no single
        socket read may wait past the deadline.
        """
        stream, received, pending = self.raw.raw, 0, bytearray()
        waiting_on_deadline = False
        try:
            while True:
                left = deadline.seconds_left()
                if left <= 0:
                    raise DeadlineExceeded(
                        f"body of {self.url} was still arriving at the deadline ({received} bytes so far)"
                    )
                waiting_on_deadline = left < self.read_timeout
                _limit_socket_wait(stream, min(self.read_timeout, left))
                data = stream.read1(chunk_size - len(pending), decode_content=True)
                if not data:
                    break
                received += len(data)
                pending += data
                if len(pending) >= chunk_size:
                    yield bytes(pending)
                    pending.clear()
            if pending:
                yield bytes(pending)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            timed_out = isinstance(exc, (urllib3.exceptions.ReadTimeoutError, TimeoutError))
            if timed_out and waiting_on_deadline:
                raise DeadlineExceeded(
                    f"body of {self.url} was still arriving at the deadline ({received} bytes so far)"
                ) from None
            raise UpstreamError(
                f"body of {self.url} broke off after {received} bytes ({type(exc).__name__})"
            ) from None

    def close(self) -> None:
        self.raw.close()


_session: requests.Session | None = None


def new_session() -> requests.Session:
    """A pooled HTTP session that says who is calling."""
    session = requests.Session()
    session.headers["User-Agent"] = "lake-ingest"
    return session


def _http_session() -> requests.Session:
    """One pooled session per process, reused by warm invocations."""
    global _session
    if _session is None:
        _session = new_session()
    return _session


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_seconds(attempt: int, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff for retry number `attempt` (1-based)."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * (2 ** (attempt - 1)))
    return (rng or random).uniform(BACKOFF_BASE_SECONDS / 2, ceiling)


def _limit_socket_wait(stream: urllib3.HTTPResponse, seconds: float) -> None:
    """Bound the next socket read of a streaming body (the connection's timeout was set per request)."""
    sock = getattr(getattr(stream, "_connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.05))


def build_request(
    api: ApiConfig,
    credentials: Mapping[str, str],
    params: Mapping[str, str],
    url: str | None = None,
    method: str | None = None,
) -> requests.PreparedRequest:
    """The request for one page, with credentials applied as the auth config says.

    `url` is a URL from the API (a next-page link, a redirect's target): its own query string
    stands, less the auth parameter and any parameter whose value is a known credential (APIs
    echo them), and the credential is then applied as configured, once. Without `url` the
    configured endpoint is called with `params`. `method` overrides the configured one (a 303
    continues as GET); the body goes with POST only.
    """
    method = method or api.method
    if url:
        url = REDACTOR.without_credentials(url, api.auth.query_param)
    headers = {"Accept": "application/json, */*;q=0.5", **api.headers}
    params = dict(params)
    auth = None
    kind = api.auth.type
    if kind == "bearer":
        headers["Authorization"] = f"Bearer {credentials[api.auth.secret_field]}"
    elif api.auth.is_oauth2:
        headers["Authorization"] = f"Bearer {credentials['access_token']}"
    elif kind == "header":
        headers[api.auth.header_name] = credentials[api.auth.secret_field]
    elif kind == "query":
        params[api.auth.param_name] = credentials[api.auth.secret_field]
    elif kind == "basic":
        auth = (credentials[api.auth.username_field], credentials[api.auth.password_field])
        REDACTOR.add_basic_auth(*auth)
    body = api.body if method == "POST" else None
    json_body = body if body is not None and not isinstance(body, str) else None
    data = body if isinstance(body, str) else None
    request = requests.Request(
        method, url or api.endpoint, headers=headers, params=params, auth=auth, json=json_body, data=data
    )
    return _http_session().prepare_request(request)


def safe_url(request: requests.PreparedRequest) -> str:
    """The request URL with credential values masked, for logs, errors and manifests."""
    return REDACTOR.scrub(request.url or "")


def _send(
    request: requests.PreparedRequest, timeout: float, deadline: Deadline, rebuild: Rebuild
) -> requests.Response:
    """Send `request`; follow same-origin redirects, each to a request built again by `rebuild`.

    Raises RedirectRefused for a redirect to another origin, without Location, or past the limit.
    """
    session = _http_session()
    hops = 0
    while True:
        raw = session.send(request, timeout=(min(timeout, 10.0), timeout), stream=True, allow_redirects=False)
        if raw.status_code not in REDIRECT_STATUSES:
            return raw
        location = session.get_redirect_target(raw)
        raw.close()
        hop = next_hop(request.url or "", request.method or "GET", raw.status_code, location, hops)
        hops += 1
        request = rebuild(hop.url, hop.method)
        timeout = min(timeout, deadline.seconds_left())
        if timeout <= 0:
            raise DeadlineExceeded(f"no time left to follow a redirect to {safe_url(request)}")


def fetch(
    request: requests.PreparedRequest,
    api: ApiConfig,
    deadline: Deadline,
    log: Callable[..., None],
    rebuild: Rebuild,
    sleep: Callable[[float], None] = time.sleep,
) -> Response:
    """Send `request` with bounded retries; return the first 2xx response, unread.

    `rebuild(url, method)` builds the request again for a same-origin redirect's target.
    """
    url = safe_url(request)
    max_attempts = api.max_retries + 1
    for attempt in range(1, max_attempts + 1):
        budget = deadline.seconds_left()
        if budget <= 0:
            raise DeadlineExceeded(f"no time left to call {request.method} {url} (attempt {attempt})")
        timeout = min(api.timeout_seconds, budget)
        started = time.monotonic()
        retry_after: float | None = None
        try:
            raw = _send(request, timeout, deadline, rebuild)
        except RedirectRefused as refused:
            raise UpstreamHTTPError(
                f"{REDACTOR.scrub(str(refused))} (for {request.method} {url}; not followed)", refused.status
            ) from None
        except requests.Timeout:
            problem, status = f"timed out after {timeout:.1f}s", None
        except requests.RequestException as exc:
            # requests' messages include the full URL (and so query credentials): keep the class only.
            problem, status = f"connection failed ({type(exc).__name__})", None
        else:
            latency_ms = (time.monotonic() - started) * 1000
            status = raw.status_code
            if 200 <= status < 300:
                return Response(
                    raw=raw,
                    status=status,
                    content_type=raw.headers.get("Content-Type", ""),
                    content_encoding=raw.headers.get("Content-Encoding"),
                    url=REDACTOR.scrub(raw.url or url),
                    attempts=attempt,
                    latency_ms=latency_ms,
                    read_timeout=timeout,
                )
            retry_after = parse_retry_after(raw.headers.get("Retry-After"))
            challenge = raw.headers.get("WWW-Authenticate")
            retryable = status in RETRYABLE_STATUS or _rate_limited(raw)
            excerpt = _error_excerpt(raw)
            problem = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
            if not retryable:
                detail = f"{problem} for {request.method} {url}"
                raise UpstreamHTTPError(
                    f"upstream returned {detail} (not retried)", status, detail, challenge
                )

        if attempt == max_attempts:
            message = f"upstream {problem} for {request.method} {url} after {attempt} attempt(s)"
            if status is None:
                raise UpstreamError(message)
            raise UpstreamHTTPError(message, status)
        wait = max(backoff_seconds(attempt), retry_after or 0.0)
        if wait >= deadline.seconds_left():
            raise DeadlineExceeded(
                f"upstream {problem} for {request.method} {url}; waiting {wait:.1f}s for attempt "
                f"{attempt + 1} would pass the function's deadline"
            )
        log("upstream call failed, retrying", attempt=attempt, problem=problem, wait_seconds=round(wait, 3))
        sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _rate_limited(raw: requests.Response) -> bool:
    """A 403 that is a rate limit, not a refusal: it says when to come back, or that none are left."""
    if raw.status_code != 403:
        return False
    return bool(raw.headers.get("Retry-After")) or raw.headers.get("X-RateLimit-Remaining", "").strip() == "0"


def _error_excerpt(raw: requests.Response) -> str:
    """A short, scrubbed excerpt of an error body, for the exception message.

    More than the excerpt is read, so that a credential starting before the cut is seen whole
    and masked; the cut itself leaves no beginning of one (Redactor.truncate).
    """
    wanted = ERROR_BODY_EXCERPT + REDACTOR.longest + 1
    try:
        data = raw.raw.read(wanted, decode_content=True) or b""
    except Exception:  # noqa: BLE001 - the excerpt is best effort; the status is what matters
        data = b""
    finally:
        raw.close()
    text = " ".join(REDACTOR.scrub(data.decode("utf-8", "replace")).split())
    return REDACTOR.truncate(text, ERROR_BODY_EXCERPT, cut_before=len(data) >= wanted)
