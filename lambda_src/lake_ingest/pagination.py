"""Finding the next page: link_header, next_url, cursor, page_number, offset (or none).

A `PageRequest` says what to send for one page; its `state` is what a later event needs to
resume the run at that page. `Paginator.follow` decides, from the page just landed, whether
there is a next page, and stops (with a reason) on the last page or on a cursor or URL that
repeats, so a misbehaving API cannot loop a run forever.

A next link is page state (resume events, manifests, logs), so it never keeps a credential: the
auth parameter and any parameter whose value is a known credential (an API may echo its token
into the link) are dropped; each request carries the credential as configured instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from requests.utils import parse_header_links

from .config import PaginationConfig
from .origins import origin, same_origin
from .redaction import REDACTOR

RESUME_KEYS = {
    "link_header": "url",
    "next_url": "url",
    "cursor": "cursor",
    "page_number": "page_number",
    "offset": "offset",
}


# A next URL or cursor longer than this is refused: it would go into every later request of the run (an
# HTTP 414) and into its resume event (Step Functions caps a state at 256 KiB).
MAX_STATE_TEXT = 8192


class PaginationError(RuntimeError):
    """The API's pagination cannot be followed safely (the message says why)."""


@dataclass(frozen=True)
class PageRequest:
    """What to send for page `index` (1-based within the run)."""

    index: int
    url: str | None = None  # an absolute URL from the API (next link); None: the configured endpoint
    params: Mapping[str, str] = field(default_factory=dict)  # pagination parameters for the endpoint
    state: Mapping[str, Any] = field(default_factory=dict)  # resume state: {"cursor": ...} etc.

    def resume(self) -> dict[str, Any]:
        return {"page": self.index, **self.state}


@dataclass(frozen=True)
class LandedPage:
    """What pagination needs to know about the page just stored."""

    request_url: str  # the URL that was called, credentials removed
    link_header: str | None
    values: Mapping[str, Any]  # body values at the pagination's dot paths
    records: int | None
    raw_bytes: int


class Paginator:
    """Builds page requests for one run of one source."""

    def __init__(self, config: PaginationConfig, endpoint: str, auth_param: str | None = None) -> None:
        self.config = config
        self._endpoint = endpoint
        self._auth_param = auth_param
        self._seen: set[str] = set()

    def first(self, resume: Mapping[str, Any] | None = None) -> PageRequest:
        """Page 1, or the page a partial run stopped at."""
        kind = self.config.type
        if resume:
            key = RESUME_KEYS.get(kind)
            given = sorted(set(resume) - {"page"})
            if key is None or given != [key]:
                expected = f"'page' and '{key}'" if key else "nothing (pagination type 'none' cannot resume)"
                raise PaginationError(
                    f"resume {given} does not fit pagination type '{kind}': it needs {expected}"
                )
            index, value = resume["page"], resume[key]
            if key == "url":
                return self._url_request(index, str(value))
            if key == "cursor":
                return self._cursor_request(index, str(value))
            if key == "page_number":
                return self._page_number_request(index, int(value))
            return self._offset_request(index, int(value))
        if kind == "page_number":
            return self._page_number_request(1, self.config.start_page)
        if kind == "offset":
            return self._offset_request(1, 0)
        return PageRequest(1)

    def follow(self, current: PageRequest, page: LandedPage) -> tuple[PageRequest | None, str]:
        """The next request, or None and why the run ends here ('end', 'repeated_url', ...)."""
        self._seen.add("url:" + page.request_url)
        if "cursor" in current.state:
            self._seen.add("cursor:" + str(current.state["cursor"]))
        kind, cfg = self.config.type, self.config
        if kind == "none":
            return None, "end"
        if kind in ("link_header", "next_url"):
            target = (
                _next_link(page.link_header)
                if kind == "link_header"
                else _text_value(page.values.get(cfg.next_url_path), cfg.next_url_path)
            )
            if not target:
                return None, "end"
            url = self._page_url(urljoin(page.request_url, target))
            if "url:" + url in self._seen:
                return None, "repeated_url"
            return self._url_request(current.index + 1, url), "next"
        if kind == "cursor":
            cursor = _text_value(page.values.get(cfg.cursor_path), cfg.cursor_path)
            if not cursor:
                return None, "end"
            if "cursor:" + cursor in self._seen:
                return None, "repeated_cursor"
            return self._cursor_request(current.index + 1, cursor), "next"
        if page.records == 0 or page.raw_bytes == 0:
            return None, "end"
        if kind == "page_number":
            number = int(current.state["page_number"])
            total = _whole_value(page.values.get(cfg.total_pages_path), cfg.total_pages_path)
            if total is not None and number - cfg.start_page + 1 >= total:
                return None, "end"
            return self._page_number_request(current.index + 1, number + 1), "next"
        offset = int(current.state["offset"]) + (page.records if page.records is not None else cfg.limit)
        total = _whole_value(page.values.get(cfg.total_records_path), cfg.total_records_path)
        if total is not None and offset >= total:
            return None, "end"
        return self._offset_request(current.index + 1, offset), "next"

    # -- requests --------------------------------------------------------------------------------

    def _url_request(self, index: int, url: str) -> PageRequest:
        url = self._page_url(url)
        return PageRequest(index, url=url, state={"url": url})

    def _cursor_request(self, index: int, cursor: str) -> PageRequest:
        return PageRequest(index, params={self.config.cursor_param: cursor}, state={"cursor": cursor})

    def _page_number_request(self, index: int, number: int) -> PageRequest:
        params = {self.config.page_param: str(number)}
        if self.config.page_size_param:
            params[self.config.page_size_param] = str(self.config.page_size)
        return PageRequest(index, params=params, state={"page_number": number})

    def _offset_request(self, index: int, offset: int) -> PageRequest:
        params = {self.config.offset_param: str(offset), self.config.limit_param: str(self.config.limit)}
        return PageRequest(index, params=params, state={"offset": offset})

    def _page_url(self, url: str) -> str:
        """A link to follow, without credentials, and only on the configured endpoint's scheme,
        host and port (credentials go there)."""
        if not same_origin(url, self._endpoint):
            raise PaginationError(
                f"the next page's URL is on another origin ({origin(url)}); lake-ingest sends credentials "
                f"only to the configured endpoint's origin"
            )
        return REDACTOR.without_credentials(url, self._auth_param)


def _next_link(header: str | None) -> str | None:
    """The rel="next" target of an RFC 8288 Link header."""
    if not header:
        return None
    for link in parse_header_links(header):
        if "next" in link.get("rel", "").lower().split():
            return link.get("url") or None
    return None


def _text_value(value: Any, path: str) -> str | None:
    if value is None or value == "" or value is False:
        return None
    if isinstance(value, (dict, list)):
        raise PaginationError(f"the value at '{path}' is a JSON {type(value).__name__}, not a URL or cursor")
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_STATE_TEXT:
        raise PaginationError(
            f"the value at '{path}' is {len(text)} characters long, more than {MAX_STATE_TEXT}: not a URL or "
            "cursor to send with every later page"
        )
    return text


def _whole_value(value: Any, path: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise PaginationError(f"the total at '{path}' is {value!r}, not a whole number") from None
