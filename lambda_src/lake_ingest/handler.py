"""Lambda entry point: `lake_ingest.handler.lambda_handler`.

One invocation = one run: read the secret (cached), call the API page by page, land each raw
page in S3 (gzip, SSE-KMS) and write the run's manifest last. Any failure raises, so Lambda's
retries and the dead-letter path see it; a run without a manifest is visibly incomplete, and a
run that had to stop early says so in its manifest (`"complete": false`, with the resume event).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord
from aws_lambda_powertools.metrics import MetricUnit
from requests import PreparedRequest

from . import __version__
from .config import SourceConfig, load_config
from .events import RunRequest, parse_event
from .http_client import (
    Deadline,
    DeadlineExceeded,
    Response,
    UpstreamError,
    UpstreamHTTPError,
    build_request,
    fetch,
)
from .landing import PageTarget, land_page
from .pagination import LandedPage, PageRequest, PaginationError, Paginator
from .redaction import REDACTOR
from .secrets import get_credentials
from .sink import MANIFEST_NAME, S3Sink, quarantine_prefix, run_prefix

DEADLINE_MARGIN_SECONDS = 3.0
# A next page starts only if the time left exceeds the slowest page so far times this factor.
PAGE_TIME_FACTOR = 1.5
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "LakeIngest")


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON log format, with every known credential value masked."""

    def serialize(self, log: LogRecord) -> str:
        return REDACTOR.scrub(super().serialize(log))


logger = Logger(service="lake-ingest", logger_formatter=RedactingFormatter())
metrics = Metrics(namespace=METRICS_NAMESPACE, service="lake-ingest")

_s3 = None


def _s3_client() -> Any:
    """One S3 client per process (AWS_ENDPOINT_URL points it at a local AWS when set)."""
    global _s3
    if _s3 is None:
        _s3 = boto3.client("s3")
    return _s3


@dataclass(frozen=True)
class RunResult:
    """The summary returned to the caller (the manifest holds the same and more)."""

    status: str  # SUCCESS | PARTIAL_SUCCESS | QUARANTINED
    source_id: str
    run_id: str
    complete: bool
    stop_reason: str
    records_ingested: int | None
    pages: int
    bytes: int
    objects: list[str]
    manifest: str
    quarantined: list[str] = field(default_factory=list)
    resume_event: dict[str, Any] | None = None
    records_note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        optional = ("resume_event", "records_note")
        return {k: v for k, v in self.__dict__.items() if k not in optional or v is not None}


class ResumeError(ValueError):
    """A resume event does not match a partial run in the bucket."""


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _warn(message: str, **fields: Any) -> None:
    logger.warning(message, extra=fields)


def _page_fetcher(
    config: SourceConfig, run: RunRequest, deadline: Deadline
) -> Callable[[PageRequest], Response]:
    """Fetches one page; on 401/403 re-reads the secret once, bypassing the cache (it may have rotated)."""

    def attempt(page: PageRequest, force_fetch: bool) -> Response:
        credentials = get_credentials(
            config.secret_arn, config.api.auth, config.secret_max_age_seconds, force_fetch=force_fetch
        )
        params = {} if page.url else {**config.api.query_params, **run.query_params, **page.params}
        request = build_request(config.api, credentials, params, url=page.url)

        def rebuild(url: str, method: str) -> PreparedRequest:
            """A same-origin redirect's target, with the credentials applied again as configured."""
            return build_request(config.api, credentials, {}, url=url, method=method)

        return fetch(request, config.api, deadline, log=_warn, rebuild=rebuild)

    def fetch_page(page: PageRequest) -> Response:
        try:
            return attempt(page, force_fetch=False)
        except UpstreamHTTPError as error:
            if error.status not in (401, 403) or config.api.auth.type == "none":
                raise
            logger.warning(
                "upstream rejected the credentials; re-reading the secret once",
                extra={"http_status": error.status},
            )
            metrics.add_metric(name="CredentialRefreshes", unit=MetricUnit.Count, value=1)
        try:
            return attempt(page, force_fetch=True)
        except UpstreamHTTPError as again:
            if again.status not in (401, 403) or not again.detail:
                raise
            # fetch() says "(not retried)", which is no longer true: this was the retry.
            raise UpstreamHTTPError(
                f"upstream returned {again.detail} again after re-reading the secret (it may have "
                f"rotated) and retrying once; check the credentials in {config.secret_arn}",
                again.status,
                again.detail,
            ) from None

    return fetch_page


def _pages_before(sink: S3Sink, manifest_key: str, resume: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pages a partial run already landed before the page it resumes at."""
    manifest = sink.get_json(manifest_key)
    where = f"s3://{sink.bucket}/{manifest_key}"
    if manifest is None:
        raise ResumeError(
            f"resume: no manifest at {where}; send the run_id and partition_date of the partial run"
        )
    if manifest.get("complete"):
        raise ResumeError(f"resume: the run at {where} is already complete")
    page = int(resume["page"])
    pages = [p for p in manifest.get("pages", []) if p["index"] < page]
    if [p["index"] for p in pages] != list(range(1, page)):
        raise ResumeError(f"resume: the manifest at {where} does not hold pages 1 to {page - 1}")
    return pages


def run_ingestion(
    config: SourceConfig,
    run: RunRequest,
    remaining_ms: Callable[[], int],
    s3_client: Any,
) -> RunResult:
    """Fetch the source page by page and land it; raise on any failure before the manifest is written.

    A run that must stop early (time running out, max_pages, a quarantined page) writes its pages
    and a manifest with `"complete": false` and the event that resumes it.
    """
    started_at, started = _utc_now(), time.monotonic()
    deadline = Deadline(remaining_ms, DEADLINE_MARGIN_SECONDS)
    prefix = run_prefix(config.raw_prefix, run.partition_date, run.run_id)
    manifest_key = prefix + MANIFEST_NAME
    target = PageTarget(
        data_prefix=prefix,
        quarantine_prefix=quarantine_prefix(config.raw_prefix, run.partition_date, run.run_id),
        metadata={"source-id": config.source_id, "run-id": run.run_id},
    )
    sink = S3Sink(s3_client, config.raw_bucket, config.kms_key_arn, expected_owner=config.raw_bucket_owner)
    pagination = config.api.pagination
    auth_param = config.api.auth.query_param
    paginator = Paginator(pagination, config.api.endpoint, auth_param)
    fetch_page = _page_fetcher(config, run, deadline)

    def request_url(response: Response) -> str:  # the final URL (after redirects), no credentials
        return REDACTOR.scrub(REDACTOR.without_credentials(response.raw.url or response.url, auth_param))

    request = paginator.first(run.resume)
    pages = _pages_before(sink, manifest_key, run.resume) if run.resume else []
    quarantined: list[dict[str, Any]] = []
    resume_at: PageRequest | None = None
    slowest_page, fetched, retries, latencies = 0.0, 0, 0, []
    while True:
        if fetched and deadline.seconds_left() < slowest_page * PAGE_TIME_FACTOR:
            stop, resume_at = "deadline", request
            break
        page_started = time.monotonic()
        try:
            landed = land_page(config, request, fetch_page, sink, target, deadline, request_url)
        except DeadlineExceeded as exc:
            if not fetched:
                raise
            logger.warning("stopping before the deadline", extra={"page": request.index, "error": str(exc)})
            stop, resume_at = "deadline", request
            break
        fetched += 1
        slowest_page = max(slowest_page, time.monotonic() - page_started)
        latencies.append(landed.response.latency_ms)
        retries += landed.response.attempts - 1
        entry = landed.entry
        if landed.quarantined:
            logger.error("page quarantined", extra={k: entry[k] for k in ("key", "quarantine_reason", "url")})
            quarantined.append(entry)
            stop, resume_at = "quarantined", request
            break
        pages.append(entry)
        logger.info("page stored", extra={k: entry[k] for k in ("index", "key", "raw_bytes", "records")})
        if pagination.body_paths and landed.scan.gave_up:
            raise PaginationError(
                f"cannot read {', '.join(pagination.body_paths)} from page {request.index} "
                f"(pagination type '{pagination.type}'): {landed.scan.gave_up}"
            )
        next_request, stop = paginator.follow(
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
            if stop.startswith("repeated") and entry["records"] == 0:
                stop = "end"  # an empty page that points at itself is the end, not a loop
            break
        if fetched >= pagination.max_pages:
            stop, resume_at = "max_pages", next_request
            break
        request = next_request

    complete = stop == "end"
    status = "SUCCESS" if complete else "QUARANTINED" if quarantined else "PARTIAL_SUCCESS"
    # Resuming at page 1 (or without pagination) is a plain re-run of the run id.
    resume_event = (
        replace(run, resume=resume_at.resume() if resume_at.state else None).as_event() if resume_at else None
    )
    counts = [p["records"] for p in pages if p["records"] is not None]
    uncounted = [p for p in pages if p["records"] is None]
    records = sum(counts) if counts or not pages else None
    note = (
        f"{len(uncounted)} of {len(pages)} page(s) not counted (page {uncounted[0]['index']}: "
        f"{uncounted[0]['records_note']})"
        if uncounted
        else None
    )
    raw_bytes = sum(p["raw_bytes"] for p in pages)
    if not complete:
        logger.warning("run stopped early", extra={"stop_reason": stop, "resume_event": resume_event})
    sink.put_json(
        manifest_key,
        {
            "manifest_version": 1,
            "complete": complete,
            "status": status,
            "stop_reason": stop,
            "writer": f"lake-ingest/{__version__}",
            "source_id": config.source_id,
            "run_id": run.run_id,
            "partition_date": run.partition_date,
            "scheduled_time": run.scheduled_time.isoformat() if run.scheduled_time else None,
            "started_at": started_at,
            "finished_at": _utc_now(),
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
            "request": {"method": config.api.method, "endpoint": config.api.endpoint},
            "pagination": pagination.type,
            "pages": pages,
            "quarantined": quarantined,
            "records_ingested": records,
            "bytes": raw_bytes,
            "stored_bytes": sum(p["stored_bytes"] for p in pages),
            "resume": resume_event.get("resume") if resume_event else None,
            "resume_event": resume_event,
        },
        scrub=REDACTOR.scrub,
    )
    metrics.add_metric(name="RecordsIngested", unit=MetricUnit.Count, value=sum(counts))
    metrics.add_metric(name="BytesIngested", unit=MetricUnit.Bytes, value=raw_bytes)
    metrics.add_metric(name="Pages", unit=MetricUnit.Count, value=fetched - len(quarantined))
    metrics.add_metric(name="PagesQuarantined", unit=MetricUnit.Count, value=len(quarantined))
    metrics.add_metric(name="UpstreamRetries", unit=MetricUnit.Count, value=retries)
    for latency in latencies:
        metrics.add_metric(name="UpstreamLatency", unit=MetricUnit.Milliseconds, value=latency)
    outcome_metric = {"SUCCESS": "IngestionSucceeded", "PARTIAL_SUCCESS": "IngestionPartial"}.get(status)
    metrics.add_metric(name=outcome_metric or "IngestionQuarantined", unit=MetricUnit.Count, value=1)
    return RunResult(
        status=status,
        source_id=config.source_id,
        run_id=run.run_id,
        complete=complete,
        stop_reason=stop,
        records_ingested=records,
        pages=len(pages),
        bytes=raw_bytes,
        objects=[p["key"] for p in pages],
        manifest=manifest_key,
        quarantined=[q["key"] for q in quarantined],
        resume_event=resume_event,
        records_note=note,
    )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Run one ingestion for this function's source; raise on failure."""
    try:
        config = load_config()
        run = parse_event(event, getattr(context, "aws_request_id", "local"))
    except ValueError as exc:
        metrics.add_metric(name="IngestionFailed", unit=MetricUnit.Count, value=1)
        logger.error("invalid input", extra={"error": str(exc), "error_type": type(exc).__name__})
        raise
    logger.append_keys(source_id=config.source_id, run_id=run.run_id)
    metrics.add_dimension(name="SourceId", value=config.source_id)
    logger.info("run started", extra={"partition_date": run.partition_date})
    try:
        result = run_ingestion(config, run, context.get_remaining_time_in_millis, _s3_client())
    except Exception as exc:
        metrics.add_metric(name="IngestionFailed", unit=MetricUnit.Count, value=1)
        if isinstance(exc, (UpstreamError, PaginationError, ResumeError)):
            logger.error("run failed", extra={"error": str(exc), "error_type": type(exc).__name__})
        else:
            logger.exception("run failed")
        raise
    # Last line of defence: whatever the run put in its result, no credential leaves in it.
    summary: dict[str, Any] = json.loads(REDACTOR.scrub(json.dumps(result.as_dict())))
    logger.info("run finished", extra=summary)
    return summary
