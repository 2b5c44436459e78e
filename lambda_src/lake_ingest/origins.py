"""Origins (scheme, host, port): the one place credentials may be sent to.

Credentials are attached to every request, so a next-page link or a redirect is followed only when
it stays on the origin of the request it came from; anything else is refused, and the refusal
names the other origin only (no userinfo, path or query, which may carry credentials).
"""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def _key(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)


def same_origin(url: str, other: str) -> bool:
    """Whether both URLs have the same scheme, host and port (a default port written out is the same)."""
    return _key(url) == _key(other)


def origin(url: str) -> str:
    """`scheme://host[:port]` of `url`, for messages: no userinfo, path or query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
