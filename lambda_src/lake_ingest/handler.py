"""Lambda entry point: `lake_ingest.handler.lambda_handler`.

One invocation = one run: read the secret (cached), call the API, land the raw body in S3
(gzip, SSE-KMS) and write the run's manifest last. Any failure raises, so Lambda's retries and
the dead-letter path see it; a run without a manifest is visibly incomplete.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit

from . import __version__
from .config import SourceConfig, load_config
from .events import RunRequest, parse_event
from .http_client import Deadline, UpstreamError, UpstreamHTTPError, build_request, fetch
from .records import BodyTap, count_records
from .redaction import REDACTOR
from .secrets import get_credentials
from .sink import MANIFEST_NAME, S3Sink, page_key, run_prefix

DEADLINE_MARGIN_SECONDS = 3.0
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "LakeIngest")


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON log format, with every known credential value masked."""

    def serialize(self, log: dict[str, Any]) -> str:
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
    """The summary returned to the caller (and written into the manifest)."""

    status: str
    source_id: str
    run_id: str
    records_ingested: int | None
    pages: int
    bytes: int
    objects: list[str]
    manifest: str
    records_note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        result = dict(self.__dict__)
        if result["records_note"] is None:
            del result["records_note"]
        return result


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fetch_with_fresh_credentials_on_rejection(
    config: SourceConfig, run: RunRequest, deadline: Deadline
) -> Any:
    """Call the API; on 401/403 re-read the secret once, bypassing the cache (it may have rotated)."""

    def attempt(force_fetch: bool) -> Any:
        credentials = get_credentials(
            config.secret_arn, config.api.auth, config.secret_max_age_seconds, force_fetch=force_fetch
        )
        request = build_request(config.api, credentials, run.query_params)
        return fetch(request, config.api, deadline, log=lambda msg, **kw: logger.warning(msg, extra=kw))

    try:
        return attempt(force_fetch=False)
    except UpstreamHTTPError as error:
        if error.status not in (401, 403) or config.api.auth.type == "none":
            raise
        logger.warning(
            "upstream rejected the credentials; re-reading the secret once",
            extra={"http_status": error.status},
        )
        metrics.add_metric(name="CredentialRefreshes", unit=MetricUnit.Count, value=1)
        return attempt(force_fetch=True)


def run_ingestion(
    config: SourceConfig,
    run: RunRequest,
    remaining_ms: Callable[[], int],
    s3_client: Any,
) -> RunResult:
    """Fetch the source once and land it; raise on any failure before the manifest is written."""
    started_at, started = _utc_now(), time.monotonic()
    deadline = Deadline(remaining_ms, DEADLINE_MARGIN_SECONDS)
    prefix = run_prefix(config.raw_prefix, run.partition_date, run.run_id)
    sink = S3Sink(s3_client, config.raw_bucket, config.kms_key_arn)

    response = _fetch_with_fresh_credentials_on_rejection(config, run, deadline)
    key = page_key(prefix, 1, response.content_type)
    tap = BodyTap(response.iter_body(), limit=config.api.max_parse_bytes)
    try:
        stored = sink.put_stream(key, tap, metadata={"source-id": config.source_id, "run-id": run.run_id})
    finally:
        response.close()
    records = count_records(tap.body(), config.api.records_path)
    page = {
        "index": 1,
        "key": stored.key,
        "version_id": stored.version_id,
        "url": response.url,
        "http_status": response.status,
        "content_type": response.content_type,
        "content_encoding": response.content_encoding,
        "raw_bytes": stored.raw_bytes,
        "stored_bytes": stored.stored_bytes,
        "sha256": stored.sha256,
        "records": records.count,
        "records_note": records.reason,
        "attempts": response.attempts,
        "latency_ms": round(response.latency_ms, 1),
    }
    logger.info("page stored", extra={k: page[k] for k in ("key", "raw_bytes", "records", "http_status")})

    manifest_key = prefix + MANIFEST_NAME
    result = RunResult(
        status="SUCCESS",
        source_id=config.source_id,
        run_id=run.run_id,
        records_ingested=records.count,
        pages=1,
        bytes=stored.raw_bytes,
        objects=[stored.key],
        manifest=manifest_key,
        records_note=records.reason,
    )
    sink.put_json(
        manifest_key,
        {
            "manifest_version": 1,
            "complete": True,
            "writer": f"lake-ingest/{__version__}",
            "source_id": config.source_id,
            "run_id": run.run_id,
            "partition_date": run.partition_date,
            "scheduled_time": run.scheduled_time.isoformat() if run.scheduled_time else None,
            "started_at": started_at,
            "finished_at": _utc_now(),
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
            "request": {"method": config.api.method, "url": response.url},
            "pages": [page],
            "records_ingested": records.count,
            "bytes": stored.raw_bytes,
            "stored_bytes": stored.stored_bytes,
        },
    )
    metrics.add_metric(name="RecordsIngested", unit=MetricUnit.Count, value=records.count or 0)
    metrics.add_metric(name="BytesIngested", unit=MetricUnit.Bytes, value=stored.raw_bytes)
    metrics.add_metric(name="Pages", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="UpstreamRetries", unit=MetricUnit.Count, value=response.attempts - 1)
    metrics.add_metric(name="UpstreamLatency", unit=MetricUnit.Milliseconds, value=response.latency_ms)
    metrics.add_metric(name="IngestionSucceeded", unit=MetricUnit.Count, value=1)
    return result


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
        if isinstance(exc, UpstreamError):
            logger.error("run failed", extra={"error": str(exc), "error_type": type(exc).__name__})
        else:
            logger.exception("run failed")
        raise
    logger.info("run finished", extra=result.as_dict())
    return result.as_dict()
