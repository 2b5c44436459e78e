"""Redirects, followed by hand and only on the request's own origin.

requests follows every redirect by default and keeps custom auth headers (`header` auth) on the
way to another origin: that origin would receive the credential, and its answer would be stored
as data. So requests are sent with allow_redirects=False and each 3xx is judged here: followed on
the same scheme, host and port (the caller builds the request again, so credentials are applied
exactly as configured), refused otherwise, and refused after MAX_REDIRECTS hops.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

from requests.utils import requote_uri

from .origins import origin, same_origin

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5


class RedirectRefused(Exception):
    """A redirect lake-ingest does not follow; the message names no path, query or credential."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Hop:
    """The request a followed redirect leads to."""

    url: str
    method: str


def next_hop(url: str, method: str, status: int, location: str | None, hops: int) -> Hop:
    """Where the redirect `status` from `url` leads (`hops` followed so far), or RedirectRefused.

    303, and 301/302 after a POST, continue as GET without a body (what browsers and requests
    do); 307 and 308 keep the method and body.
    """
    if not location or not location.strip():
        raise RedirectRefused(f"upstream answered HTTP {status} without a Location header", status)
    if hops >= MAX_REDIRECTS:
        raise RedirectRefused(
            f"upstream sent more than {MAX_REDIRECTS} redirects in a row (a loop?), the last HTTP {status}",
            status,
        )
    target = urljoin(url, requote_uri(location.strip()))
    if not same_origin(target, url):
        raise RedirectRefused(
            f"upstream answered HTTP {status} redirecting to another origin ({origin(target)}); "
            "lake-ingest does not follow redirects to another origin because the credentials would go along",
            status,
        )
    if status == 303 or (status in (301, 302) and method == "POST"):
        method = "GET"
    return Hop(target, method)
