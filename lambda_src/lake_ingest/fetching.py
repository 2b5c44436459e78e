"""Fetching one run's pages: each page requested, landed (data or quarantine) and followed to the next.

The loop stops at the API's last page, at `max_pages`, on a quarantined page, or before the
deadline (no page starts that the slowest page so far says cannot finish); everything but the end
leaves a request to resume at. Any other failure raises: nothing half-written looks complete.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from requests import PreparedRequest

from .auth import Authenticator
from .config import SourceConfig
from .cursor_tracker import CursorTracker
from .events import RunRequest
from .http_client import Deadline, DeadlineExceeded, Response, UpstreamHTTPError, build_request, fetch
from .landing import PageTarget, land_page
from .observability import logger, metrics
from .pagination import LandedPage, PageRequest, PaginationError, Paginator
from .records_zone import PageRecords, RecordsPlan
from .redaction import REDACTOR
from .schema_drift import SchemaSample
from .sink import S3Sink

# A next page starts only if the time left exceeds the slowest page so far times this factor.
PAGE_TIME_FACTOR = 1.5


@dataclass
class Fetched:
    """What a run's pages came to."""

    pages: list[dict[str, Any]]
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    schema: SchemaSample | None = None  # the top-level fields of the records landed as data
    stop: str = "end"
    resume_at: PageRequest | None = None
    fetched: int = 0
    retries: int = 0
    latencies: list[float] = field(default_factory=list)
    note: str | None = None  # something a person should check about how the run ended


def _warn(message: str, **fields: Any) -> None:
    logger.warning(message, extra=fields)


def page_fetcher(
    config: SourceConfig, run: RunRequest, deadline: Deadline, authenticator: Authenticator
) -> Callable[[PageRequest], Response]:
    """Fetches one page; when the API refuses the credentials (auth.renews_on: 401, and 403 for static
    keys or with an invalid_token challenge) renews them once (the secret read again, bypassing the
    cache, as it may have rotated; a new OAuth2 access token) and tries again."""

    def attempt(page: PageRequest, renew: bool) -> Response:
        credentials = authenticator.credentials(renew=renew)
        params = {} if page.url else {**config.api.query_params, **run.query_params, **page.params}
        request = build_request(config.api, credentials, params, url=page.url)

        def rebuild(url: str, method: str) -> PreparedRequest:
            """A same-origin redirect's target, with the credentials applied again as configured."""
            return build_request(config.api, credentials, {}, url=url, method=method)

        return fetch(request, config.api, deadline, log=_warn, rebuild=rebuild)

    def fetch_page(page: PageRequest) -> Response:
        try:
            return attempt(page, renew=False)
        except UpstreamHTTPError as error:
            if not authenticator.renews_on(error.status, error.www_authenticate):
                raise
            logger.warning(
                "upstream rejected the credentials; renewing them once",
                extra={"http_status": error.status, "renewal": authenticator.renewal},
            )
            metrics.add_metric(name="CredentialRefreshes", unit=MetricUnit.Count, value=1)
        try:
            return attempt(page, renew=True)
        except UpstreamHTTPError as again:
            if again.status not in (401, 403) or not again.detail:
                raise
            # fetch() says "(not retried)", which is no longer true: this was the retry.
            raise UpstreamHTTPError(
                f"upstream returned {again.detail} again after {authenticator.renewal} and retrying "
                f"once; check the credentials in {config.secret_arn}",
                again.status,
                again.detail,
            ) from None

    return fetch_page


def check_resume(config: SourceConfig, run: RunRequest) -> None:
    """A PaginationError if the run's resume state does not fit the pagination type (before any I/O)."""
    if run.resume:
        Paginator(config.api.pagination, config.api.endpoint, config.api.auth.query_param).first(run.resume)


def fetch_pages(
    config: SourceConfig,
    run: RunRequest,
    deadline: Deadline,
    sink: S3Sink,
    target: PageTarget,
    pages: list[dict[str, Any]],
    tracker: CursorTracker | None = None,
    records: RecordsPlan | None = None,
) -> Fetched:
    """Fetch from the run's first page (or the page it resumes at) on; `pages` are those landed before.

    With a `tracker` (a cursor source), the records of every page landed as data are seen by it; with
    `records`, each data page's records also land in the records zone and its fields are sampled.
    """
    pagination = config.api.pagination
    auth_param = config.api.auth.query_param
    paginator = Paginator(pagination, config.api.endpoint, auth_param)
    authenticator = Authenticator.for_run(config, run.run_id, deadline, sink.client)
    fetch_page = page_fetcher(config, run, deadline, authenticator)

    def request_url(response: Response) -> str:  # the final URL (after redirects), no credentials
        return REDACTOR.scrub(REDACTOR.without_credentials(response.raw.url or response.url, auth_param))

    out = Fetched(pages=pages, schema=SchemaSample() if records and records.config.enabled else None)
    request = paginator.first(run.resume)
    slowest_page = 0.0
    while True:
        if out.fetched and deadline.seconds_left() < slowest_page * PAGE_TIME_FACTOR:
            out.stop, out.resume_at = "deadline", request
            return out
        page_started = time.monotonic()
        seen = tracker.fresh() if tracker else None
        sample = SchemaSample() if out.schema is not None else None
        page_records: PageRecords | None = PageRecords(seen) if seen else None
        records_key: str | None = None
        if records is not None:
            page_records, records_key = records.page(request.index, seen, sample)
        try:
            landed = land_page(
                config, request, fetch_page, sink, target, deadline, request_url, page_records, records_key
            )
        except DeadlineExceeded as exc:
            if not out.fetched:
                raise
            logger.warning("stopping before the deadline", extra={"page": request.index, "error": str(exc)})
            out.stop, out.resume_at = "deadline", request
            return out
        out.fetched += 1
        slowest_page = max(slowest_page, time.monotonic() - page_started)
        out.latencies.append(landed.response.latency_ms)
        out.retries += landed.response.attempts - 1
        entry = landed.entry
        if landed.quarantined:
            logger.error("page quarantined", extra={k: entry[k] for k in ("key", "quarantine_reason", "url")})
            out.quarantined.append(entry)
            out.stop, out.resume_at = "quarantined", request
            return out
        out.pages.append(entry)
        if tracker and seen:
            tracker.absorb(seen)
        if out.schema is not None and sample is not None:
            out.schema.absorb(sample)
        logger.info("page stored", extra={k: entry[k] for k in ("index", "key", "raw_bytes", "records")})
        if pagination.body_paths and landed.scan.gave_up:
            raise PaginationError(
                f"cannot read {', '.join(pagination.body_paths)} from page {request.index} "
                f"(pagination type '{pagination.type}'): {landed.scan.gave_up}"
            )
        next_request, out.stop = paginator.follow(
            request,
            LandedPage(
                request_url=entry["url"],
                link_header=landed.response.link_header,
                values=landed.scan.values,
                records=entry["records"],
                raw_bytes=entry["raw_bytes"],
            ),
        )
        if next_request is None:
            if out.stop.startswith("repeated") and entry["records"] == 0:
                out.stop = "end"  # an empty page that points at itself is the end, not a loop
            out.note = _first_page_note(pagination, request.index, landed.scan.values)
            return out
        if out.fetched >= pagination.max_pages:
            out.stop, out.resume_at = "max_pages", next_request
            return out
        request = next_request


def _first_page_note(pagination: Any, index: int, values: dict[str, Any]) -> str | None:
    """A run that ends on its first page because the next page's path was not in it at all: the last
    page of a one-page answer, or a misspelled path (`@odata.nextlink`); said, so it is never silent."""
    option = {"next_url": "next_url_path", "cursor": "cursor_path"}.get(pagination.type)
    path = getattr(pagination, option) if option else ""
    if index != 1 or not path or path in values:
        return None
    note = (
        f"the run ended on its first page: pagination.{option} '{path}' is not in it (not even null); if "
        "more pages were expected, check the path's spelling"
    )
    logger.warning(note)
    return note
