"""The push writer: one SQS batch of a push source's events becomes one run of the records zone.

A batch is written like a pull run, so the same tables and documented queries read it: the records
object (gzip NDJSON, SSE-KMS), then the run's manifest (complete), then its published list. A row
becomes visible only once all three are durable. So:

- the run id comes from the batch's message ids (`push-` + 16 hex of their sorted sha256): a batch
  delivered again whole writes the same keys, and its rows show once;
- any S3 or publishing failure raises, and SQS delivers the whole batch again after the visibility
  timeout (then to the DLQ after maxReceiveCount); a batch whose records object landed but whose list
  did not stays invisible;
- a message that does not decode is handed back alone (batchItemFailures,
  https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html); the others are written;
- an event the sender delivered twice (a retry after a lost 2xx) lands twice: the `latest` query keeps
  one row per event_id, the newest by event time (cursor_value).

Each line: the lineage of a pull run's lines, then `cursor_value` (the event's time), `event_id`,
`received_at` and the declared typed columns read from the body (null when it is no JSON).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from .. import manifests
from ..config import PushSourceConfig, load_push_config
from ..events import RunRequest
from ..observability import logger, metrics
from ..publishing import Publisher
from ..records_zone import hive_timestamp, json_string, line_head, records_key, typed_columns
from ..sink import MANIFEST_NAME, S3Sink, run_prefix
from ..state_doc import iso
from .queued_event import PushEvent, UndecodableMessage, decode, message_id

RUN_ID_PREFIX = "push-"
ATTEMPT = 1  # a batch is never forced again: it is delivered again, under the same run id
PAGE = 1
NDJSON = "application/x-ndjson"


def is_queue_batch(event: Any) -> bool:
    """Whether Lambda invoked the function with messages from an SQS queue (the push buffer)."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    first = records[0] if isinstance(records, list) and records else None
    return isinstance(first, Mapping) and first.get("eventSource") == "aws:sqs"


def batch_run_id(message_ids: Iterable[str]) -> str:
    """The run id of the batch of these messages: the same messages, the same run (and keys)."""
    digest = hashlib.sha256("\n".join(sorted(message_ids)).encode()).hexdigest()
    return RUN_ID_PREFIX + digest[:16]


def decode_batch(records: Sequence[Mapping[str, Any]]) -> tuple[list[PushEvent], list[str]]:
    """The batch's events, and the ids of the messages that do not decode (logged, never their body)."""
    events: list[PushEvent] = []
    failed: list[str] = []
    for record in records:
        try:
            events.append(decode(record))
        except UndecodableMessage as exc:
            failed.append(message_id(record))
            logger.warning("push message not decoded", extra={"message_id": failed[-1], "reason": str(exc)})
    return events, failed


def event_lines(events: Sequence[PushEvent], lineage: Mapping[str, Any], columns: Mapping[str, str]) -> bytes:
    """The records object's NDJSON: one line per event, in the batch's order."""
    head = line_head(lineage)
    typed = typed_columns(columns) if columns else None
    lines = [
        f'{head}{index},"record":{json_string(event.text)},'
        f'"cursor_value":"{hive_timestamp(event.event_time)}",'
        f'"event_id":{json_string(event.event_id)},'
        f'"received_at":"{hive_timestamp(event.received_at)}"'
        f"{typed(event.fields) if typed is not None else ''}}}\n"
        for index, event in enumerate(events)
    ]
    return "".join(lines).encode()


class BatchWriter:
    """Writes batches of one push source's events as runs: records object, manifest, published list."""

    def __init__(self, config: PushSourceConfig, s3_client: Any) -> None:
        self._config = config
        self._sink = S3Sink(
            s3_client, config.raw_bucket, config.kms_key_arn, expected_owner=config.raw_bucket_owner
        )

    def write(self, events: Sequence[PushEvent], now: datetime) -> dict[str, Any]:
        """Write one batch as a complete, published run; its manifest. Raises on any S3 failure (after
        leaving a failure record when it can, so `runs` shows the batch as FAILED until it lands)."""
        run_id = batch_run_id(e.message_id for e in events)
        partition_date = now.astimezone(UTC).date().isoformat()
        prefix = run_prefix(self._config.raw_prefix, partition_date, run_id)
        try:
            return self._write(events, run_id, partition_date, prefix, now)
        except Exception as exc:
            manifests.record_failure(self._sink, prefix, RunRequest(run_id, partition_date, None), exc, 0)
            raise

    def _write(
        self, events: Sequence[PushEvent], run_id: str, partition_date: str, prefix: str, now: datetime
    ) -> dict[str, Any]:
        started = time.monotonic()
        page = self._store_records(events, run_id, partition_date, now)
        facts = {
            "complete": True,
            "status": "SUCCESS",
            "stop_reason": "end",
            "source_id": self._config.source_id,
            "run_id": run_id,
            "partition_date": partition_date,
            "started_at": iso(now),
            "finished_at": iso(datetime.now(UTC)),
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
            "attempt": ATTEMPT,
            "push": {"messages": len(events), "message_ids": sorted(e.message_id for e in events)},
        }
        manifest = manifests.document(facts, [page], [])
        self._sink.put_json(prefix + MANIFEST_NAME, manifest)
        published = Publisher(self._sink, self._config.raw_prefix).publish(manifest)
        logger.info(
            "push batch written",
            extra={
                "run_id": run_id,
                "events": len(events),
                "records": page["key"],
                "published": published["key"],
            },
        )
        return manifest

    def _store_records(
        self, events: Sequence[PushEvent], run_id: str, partition_date: str, now: datetime
    ) -> dict[str, Any]:
        """Write the batch's records object; its manifest page (the object itself: a push source keeps
        no raw page beside it)."""
        config = self._config
        lineage = {"run_id": run_id, "attempt": ATTEMPT, "page": PAGE, "ingested_at": hive_timestamp(now)}
        key = records_key(config.raw_prefix, partition_date, run_id, ATTEMPT, PAGE)
        body = event_lines(events, lineage, config.records.columns)
        stored = self._sink.put_stream(key, [body], {"source-id": config.source_id, "run-id": run_id})
        counts = {"records": len(events), "stored_bytes": stored.stored_bytes, "sha256": stored.sha256}
        return {
            "index": PAGE,
            "key": stored.key,
            "version_id": stored.version_id,
            "content_type": NDJSON,
            "raw_bytes": stored.raw_bytes,
            **counts,
            "records_object": {"key": stored.key, "bytes": stored.raw_bytes, **counts},
        }


def handle(event: Mapping[str, Any], s3_client: Any, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Write one SQS batch; the partial batch response naming the messages handed back. Raises (and
    counts PushBatchFailed) when the batch cannot be written: SQS then delivers all of it again."""
    try:
        config = load_push_config(env)
        logger.append_keys(source_id=config.source_id)
        metrics.add_dimension(name="SourceId", value=config.source_id)
        records = event["Records"]
        events, failed = decode_batch(records)
        if events:
            BatchWriter(config, s3_client).write(events, datetime.now(UTC))
    except Exception:
        metrics.add_metric(name="PushBatchFailed", unit=MetricUnit.Count, value=1)
        logger.exception("push batch not written: the whole batch will be delivered again")
        raise
    metrics.add_metric(name="PushEventsWritten", unit=MetricUnit.Count, value=len(events))
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
