"""Lambda entry point: `lake_ingest.handler.lambda_handler`.

One invocation = one run: read the secret (cached), call the API page by page, land each raw
page in S3 (gzip, SSE-KMS) and write the run's manifest last. Any failure raises, so Lambda's
retries and the dead-letter path see it; a run without a manifest is visibly incomplete, and a
run that had to stop early says so in its manifest (`"complete": false`, with the resume event).
A push source's function is invoked by its queue instead: each batch is a run (push/writer.py).

The stages of a run: answer a run id that is already complete from its manifest (Lambda retried an
invocation whose result was lost); start the incremental part (the window, or a lease on the cursor
state); fetch the pages (fetching.py); write the manifest (manifests.py); then move the cursor.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from . import aws_clients, manifests
from .auth import TokenNotSaved
from .config import SourceConfig, check_event_params, load_config
from .events import EventError, RunRequest, parse_event
from .fetching import Fetched, check_resume, fetch_pages
from .http_client import Deadline, UpstreamError
from .incremental_run import IncrementalRun, begin, with_partition_date, with_values
from .landing import PageTarget
from .manifests import RunResult
from .observability import logger, metrics, quiet_libraries
from .pagination import PaginationError
from .publishing import Publisher, attempt_for
from .push import writer as push_writer
from .records_zone import RecordsPlan
from .redaction import REDACTOR
from .refresh_tokens import RefreshLocked
from .s3_reads import S3ReadError
from .schema_drift import count as drift_count
from .sink import MANIFEST_NAME, S3Sink, quarantine_prefix, run_prefix
from .state import StateConflict, StateError, StateLocked

__all__ = ["RunResult", "lambda_handler", "logger", "metrics", "run_ingestion"]

DEADLINE_MARGIN_SECONDS = 3.0
OUTCOME_METRIC = {"SUCCESS": "IngestionSucceeded", "PARTIAL_SUCCESS": "IngestionPartial"}

_s3 = None


def _s3_client() -> Any:
    """One S3 client per process (AWS_ENDPOINT_URL points it at a local AWS when set)."""
    global _s3
    if _s3 is None:
        _s3 = aws_clients.client("s3")
    return _s3


class ResumeError(ValueError):
    """A resume event does not match a partial run in the bucket."""


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _previous_manifest(sink: S3Sink, manifest_key: str, run: RunRequest) -> dict[str, Any] | None:
    """The run id's manifest from an earlier invocation, checked against what the event asks."""
    # Only a resume must find its manifest; for the completed-run check, unreadable means "fetch".
    manifest: dict[str, Any] | None = sink.get_json(manifest_key, denied_is_absent=run.resume is None)
    where = f"s3://{sink.bucket}/{manifest_key}"
    if run.resume is None:
        return manifest
    if manifest is None:
        raise ResumeError(
            f"resume: no manifest at {where}; send the run_id and partition_date of the partial run"
        )
    if manifest.get("complete"):
        raise ResumeError(f"resume: the run at {where} is already complete")
    page = int(run.resume["page"])
    if [p["index"] for p in manifest.get("pages", []) if p["index"] < page] != list(range(1, page)):
        raise ResumeError(f"resume: the manifest at {where} does not hold pages 1 to {page - 1}")
    return manifest


def run_ingestion(
    config: SourceConfig,
    run: RunRequest,
    remaining_ms: Callable[[], int],
    s3_client: Any,
) -> RunResult:
    """Fetch the source page by page and land it; raise on any failure before the manifest is written.

    A run that must stop early (time running out, max_pages, a quarantined page) writes its pages
    and a manifest with `"complete": false` and the event that resumes it. A run id whose manifest
    is already complete is answered from it without calling the API, unless the event says `force`.
    """
    started_at, started = _utc_now(), time.monotonic()
    prefix = run_prefix(config.raw_prefix, run.partition_date, run.run_id)
    manifest_key = prefix + MANIFEST_NAME
    sink = S3Sink(s3_client, config.raw_bucket, config.kms_key_arn, expected_owner=config.raw_bucket_owner)
    check_resume(config, run)
    previous = _previous_manifest(sink, manifest_key, run)
    publisher = Publisher(sink, config.raw_prefix)
    if previous is not None and previous.get("complete") and not run.force:
        logger.info("run already complete: answered from its manifest", extra={"manifest": manifest_key})
        published = publisher.publish(previous, again=True) if config.records.enabled else None
        return manifests.result(previous, manifest_key, already_complete=True, published=published)
    attempt = attempt_for(previous, run)
    resumed = previous.get("incremental") if previous is not None and run.resume else None
    resumes = int(previous.get("resumes") or 0) + 1 if previous is not None and run.resume else 0
    try:
        incremental = begin(config, run, s3_client, remaining_ms() / 1000, datetime.now(UTC), resumed)
    except (StateLocked, RefreshLocked):
        raise  # another run (or copy) holds the state: nothing happened to this run
    except Exception as exc:
        manifests.record_failure(sink, prefix, run, exc, resumes)
        raise
    try:
        api = with_values(config.api, incremental.values if incremental else {})
        run_config = replace(config, api=api)
        pages = (
            [p for p in previous.get("pages", []) if p["index"] < run.resume["page"]]
            if run.resume and previous
            else []
        )
        target = PageTarget(
            data_prefix=prefix,
            quarantine_prefix=quarantine_prefix(config.raw_prefix, run.partition_date, run.run_id),
            metadata={"source-id": config.source_id, "run-id": run.run_id},
        )
        deadline = Deadline(remaining_ms, DEADLINE_MARGIN_SECONDS)
        plan = RecordsPlan(config.raw_prefix, run.partition_date, run.run_id, attempt, config.records)
        tracker = incremental.tracker if incremental else None
        fetched = fetch_pages(run_config, run, deadline, sink, target, pages, tracker, plan)
        schema = _schema_check(config, publisher, fetched)
        manifest = _write_manifest(
            run_config,
            run,
            sink,
            manifest_key,
            fetched,
            incremental,
            (started_at, started, resumes, attempt),
            schema,
        )
    except BaseException as exc:
        if incremental is not None:
            incremental.abandon()
        if isinstance(exc, Exception) and not isinstance(exc, (StateLocked, RefreshLocked)):
            manifests.record_failure(sink, prefix, run, exc, resumes)
        raise
    _emit_metrics(fetched, manifest)
    cursor = incremental.finish(manifest["complete"], manifest["records_ingested"]) if incremental else None
    if incremental is not None:
        _emit_cursor_metrics(incremental, cursor)
    published = None
    if manifest["complete"] and config.records.enabled:
        # Last: a failure raises (PublishFailed) with the run complete and its cursor moved, so the
        # retry of this run id is answered from the manifest and publishes again.
        published = publisher.publish(manifest)
        if schema is not None:
            publisher.remember(schema, run.run_id)
    return manifests.result(manifest, manifest_key, cursor=cursor, published=published)


def _schema_check(config: SourceConfig, publisher: Publisher, fetched: Fetched) -> dict[str, Any] | None:
    """The run's fields against the last complete run's; a change stops a `quarantine` source's run."""
    if fetched.schema is None or not config.records.enabled or not fetched.schema.fields:
        return None  # no records: nothing to compare
    schema = publisher.compare(fetched.schema.as_dict(), fetched.schema.truncated)
    found = drift_count(schema["changes"])
    metrics.add_metric(name="SchemaChanges", unit=MetricUnit.Count, value=found)
    if found:
        logger.warning("the records' fields changed since the last complete run", extra=schema["changes"])
        if config.records.on_schema_change == "quarantine" and fetched.stop == "end":
            fetched.stop, fetched.resume_at = "schema_changed", None
    return schema


def _write_manifest(
    config: SourceConfig,
    run: RunRequest,
    sink: S3Sink,
    manifest_key: str,
    fetched: Fetched,
    incremental: IncrementalRun | None,
    started: tuple[str, float, int, int],
    schema: Mapping[str, Any] | None,
) -> dict[str, Any]:
    complete = fetched.stop == "end"
    quarantined = fetched.quarantined or fetched.stop == "schema_changed"
    status = "SUCCESS" if complete else "QUARANTINED" if quarantined else "PARTIAL_SUCCESS"
    # Resuming at page 1 (or without pagination) is a plain re-run of the run id.
    resume_at = fetched.resume_at
    resume_event = (
        replace(run, resume=resume_at.resume() if resume_at.state else None, force=False).as_event()
        if resume_at
        else None
    )
    if not complete:
        logger.warning("run stopped early", extra={"stop_reason": fetched.stop, "resume_event": resume_event})
    facts: Mapping[str, Any] = {
        "complete": complete,
        "status": status,
        "stop_reason": fetched.stop,
        "source_id": config.source_id,
        "run_id": run.run_id,
        "partition_date": run.partition_date,
        "scheduled_time": run.scheduled_time.isoformat() if run.scheduled_time else None,
        "started_at": started[0],
        "finished_at": _utc_now(),
        "duration_ms": round((time.monotonic() - started[1]) * 1000, 1),
        "request": {"method": config.api.method, "endpoint": config.api.endpoint},
        "pagination": config.api.pagination.type,
        "note": fetched.note,
        "resume_event": resume_event,
        "resumes": started[2],  # how many invocations before this one the run took (backfill status)
        "attempt": started[3],  # the records zone's attempt (publishing.py)
        "incremental": incremental.manifest_section() if incremental else None,
        "schema": schema,
    }
    manifest = manifests.document(facts, fetched.pages, fetched.quarantined)
    sink.put_json(manifest_key, manifest, scrub=REDACTOR.scrub)
    return manifest


def _emit_metrics(fetched: Fetched, manifest: Mapping[str, Any]) -> None:
    totals = manifests.Totals.of(fetched.pages)
    metrics.add_metric(name="RecordsIngested", unit=MetricUnit.Count, value=totals.counted)
    metrics.add_metric(name="BytesIngested", unit=MetricUnit.Bytes, value=totals.raw_bytes)
    metrics.add_metric(name="Pages", unit=MetricUnit.Count, value=fetched.fetched - len(fetched.quarantined))
    metrics.add_metric(name="PagesQuarantined", unit=MetricUnit.Count, value=len(fetched.quarantined))
    metrics.add_metric(name="UpstreamRetries", unit=MetricUnit.Count, value=fetched.retries)
    for latency in fetched.latencies:
        metrics.add_metric(name="UpstreamLatency", unit=MetricUnit.Milliseconds, value=latency)
    outcome = OUTCOME_METRIC.get(manifest["status"], "IngestionQuarantined")
    metrics.add_metric(name=outcome, unit=MetricUnit.Count, value=1)
    masked = sum(p.get("credentials_masked", 0) for p in [*fetched.pages, *fetched.quarantined])
    if masked:
        logger.warning(
            "the API echoed credentials in page bodies: masked before storing", extra={"masked": masked}
        )
        metrics.add_metric(name="CredentialsMasked", unit=MetricUnit.Count, value=masked)


def _emit_cursor_metrics(incremental: IncrementalRun, cursor: Mapping[str, Any] | None) -> None:
    """A cursor source: the values it did not adopt, and how many complete runs in a row landed nothing."""
    tracker = incremental.tracker
    if tracker is None:
        return
    metrics.add_metric(name="CursorValuesRejected", unit=MetricUnit.Count, value=tracker.not_adopted)
    if tracker.not_adopted:
        logger.warning(
            "cursor values not adopted (beyond the bounds, or unreadable)",
            extra={
                "rejected": dict(tracker.rejected),
                "example": tracker.rejected_example,
                "unparseable": tracker.unparseable,
                "unparseable_example": tracker.unparseable_example,
            },
        )
    if cursor is not None and "empty_runs" in cursor:
        metrics.add_metric(name="ConsecutiveEmptyRuns", unit=MetricUnit.Count, value=cursor["empty_runs"])
    if cursor is not None and cursor.get("error"):
        logger.error("cursor not advanced", extra={"error": cursor["error"]})
        metrics.add_metric(name="CursorNotAdvanced", unit=MetricUnit.Count, value=1)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Run one ingestion for this function's source; raise on failure. A push source's function is
    invoked with batches of its queue instead: each is written as a run (push/writer.py), and the
    answer names the messages handed back."""
    quiet_libraries()
    if push_writer.is_queue_batch(event):
        return push_writer.handle(event, _s3_client())
    try:
        config = load_config()
        run = parse_event(event, getattr(context, "aws_request_id", "local"))
        run = with_partition_date(run, config.api.incremental, datetime.now(UTC))
        check_event_params(run.query_params, config.api)
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
        if isinstance(
            exc,
            (
                UpstreamError,
                PaginationError,
                ResumeError,
                StateLocked,
                StateConflict,
                EventError,
                RefreshLocked,
                TokenNotSaved,
                StateError,
                S3ReadError,
            ),
        ):
            logger.error("run failed", extra={"error": str(exc), "error_type": type(exc).__name__})
        else:
            logger.exception("run failed")
        raise
    # Last line of defence: whatever the run put in its result, no credential leaves in it.
    summary: dict[str, Any] = json.loads(REDACTOR.scrub(json.dumps(result.as_dict(), default=str)))
    logger.info("run finished", extra=summary)
    return summary
