"""Backfills: a window source's history, window by window, run by the source's backfill state machine.

A backfill is planned here and executed by AWS Step Functions (the module's backfill state machine: a
Distributed Map over an item list in the lake, each child running one window to completion through
the function's resume loop). Everything about one backfill lives under the source's own prefix:

    <prefix>/_backfill/<id>/backfill.json          the plan (range, step, zone, window count)
    <prefix>/_backfill/<id>/items/<execution>.json  the windows each execution runs (Distributed Map items)
    <prefix>/_backfill/<id>/results/...             what the Distributed Map's ResultWriter writes

Each window is an ordinary run of the function with the event {"backfill_id", "window"}: its run id is
bf-<id>-<start>-<end>, so it never collides with the scheduled runs, and a window source keeps no
cursor that it could move. The lake is the record of what is done: a window is done when its run's
manifest is complete, which `status` reads back (a child execution's own record is not needed, and
the local AWS cannot list them). `retry` starts a new execution over the windows that are not done;
a window that was done is answered from its manifest without calling the API again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

from botocore.exceptions import ClientError

from .events import BACKFILL_ID_HINT, BACKFILL_ID_PATTERN, iso, window_run_id
from .incremental import Duration, IncrementalError, Window, parse_duration, plus, resolve_wall_time, zone
from .manifests import FAILURE_NAME
from .s3_reads import read_body
from .sink import MANIFEST_NAME, run_prefix
from .state import kms_encryption

BACKFILL_DIR = "_backfill"
# A Distributed Map reads at most 10,000 items concurrently but any number in total; this bound keeps
# one item list (and one status read of every manifest) a reasonable size: 25 years of daily windows.
MAX_WINDOWS = 10_000
MANIFEST_READERS = 16
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class BackfillError(ValueError):
    """A backfill cannot be planned, started or retried as asked; the message says what to change."""


@dataclass(frozen=True)
class BackfillTarget:
    """What a backfill needs to know about its source (from the module's `source_json` output)."""

    source_id: str
    bucket: str
    prefix: str
    state_machine_arn: str
    max_concurrency: int
    timezone: str
    window: Duration | None
    kms_key_arn: str | None = None
    bucket_owner: str | None = None
    max_resumes: int | None = None  # the run state machine's limit (source_json's orchestration)

    @classmethod
    def from_source(cls, source: Mapping[str, Any]) -> BackfillTarget:
        """The target of a source file; BackfillError naming what is missing otherwise."""
        incremental = (source.get("api_config") or {}).get("incremental") or {}
        if incremental.get("type") != "window":
            raise BackfillError(
                "api_config.incremental: a backfill runs window by window, so the source must be of "
                "incremental type window (its API takes {window_start} and {window_end}); a cursor "
                "source loads its history on its first run, from initial_value"
            )
        orchestration = source.get("orchestration") or {}
        arn = orchestration.get("backfill_state_machine_arn")
        if not arn or "raw_bucket" not in source:
            raise BackfillError(
                "orchestration.backfill_state_machine_arn and raw_bucket: are required; deploy the source "
                "with the module's orchestration option and write its source file with "
                "`terraform output -raw source_json > source.json`"
            )
        window = incremental.get("window")
        return cls(
            source_id=source["source_id"],
            bucket=source["raw_bucket"],
            prefix=source.get("raw_prefix") or source["source_id"],
            state_machine_arn=arn,
            max_concurrency=int(orchestration.get("backfill_max_concurrency", 1)),
            timezone=str(incremental.get("timezone", "UTC")),
            window=parse_duration(window, "window") if window else None,
            kms_key_arn=source.get("kms_key_arn"),
            bucket_owner=source.get("raw_bucket_owner"),
            max_resumes=orchestration.get("max_resumes"),
        )

    def base(self, backfill_id: str) -> str:
        return f"{self.prefix}/{BACKFILL_DIR}/{backfill_id}/"

    def execution_arn(self, name: str) -> str:
        """Execution ARNs follow from the state machine's and the execution's name."""
        head, _, machine = self.state_machine_arn.rpartition(":stateMachine:")
        return f"{head}:execution:{machine}:{name}"


# -- planning -------------------------------------------------------------------------------------------


def parse_bound(text: str, timezone: str, name: str) -> datetime:
    """--from/--to: a date is midnight in the source's time zone; a time without offset is wall time there."""
    tz = zone(timezone)
    value = text.strip()
    try:
        if _DATE.match(value):
            return resolve_wall_time(datetime.combine(datetime.fromisoformat(value).date(), time()), tz)
        parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    except ValueError:
        raise BackfillError(
            f"{name}: {text!r} is not a date (2026-01-01) or an ISO 8601 time (2026-01-01T06:00:00Z)"
        ) from None
    return resolve_wall_time(parsed, tz) if parsed.tzinfo is None else parsed.astimezone(UTC)


def plan_windows(start: datetime, end: datetime, step: Duration, timezone: str) -> list[Window]:
    """[start, end) cut into consecutive windows of `step` (days on the zone's wall clock); the last
    window ends at `end` even when the range is not a whole number of steps."""
    if not start < end:
        raise BackfillError(f"--from ({iso(start)}) must be before --to ({iso(end)})")
    if step.is_zero:
        raise BackfillError("--step must be longer than 0 (e.g. 1d or 6h)")
    tz, cursor = zone(timezone), start
    windows: list[Window] = []
    while cursor < end:
        if len(windows) == MAX_WINDOWS:
            raise BackfillError(
                f"[{iso(start)}, {iso(end)}) in steps of {step} is more than {MAX_WINDOWS} windows: "
                "take a longer --step, or split the range into several backfills"
            )
        following = min(plus(cursor, step, tz), end)
        windows.append(Window(cursor, following))
        cursor = following
    return windows


def window_event(backfill_id: str, window: Window) -> dict[str, Any]:
    """The function's event for one window of a backfill (one Distributed Map item)."""
    return {"backfill_id": backfill_id, "window": {"start": iso(window.start), "end": iso(window.end)}}


def check_backfill_id(backfill_id: str) -> str:
    if not BACKFILL_ID_PATTERN.match(backfill_id):
        raise BackfillError(f"--id: {backfill_id!r} must be {BACKFILL_ID_HINT}")
    return backfill_id


# -- status ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowStatus:
    start: str
    end: str
    run_id: str
    state: str  # done | failed | pending
    records: int | None = None
    pages: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class BackfillStatus:
    backfill_id: str
    plan: Mapping[str, Any]
    executions: list[dict[str, Any]]
    windows: list[WindowStatus] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return any(e["status"] == "RUNNING" for e in self.executions)

    def count(self, state: str) -> int:
        return sum(1 for w in self.windows if w.state == state)

    def as_dict(self) -> dict[str, Any]:
        done = [w for w in self.windows if w.state == "done"]
        return {
            "backfill_id": self.backfill_id,
            "plan": dict(self.plan),
            "executions": self.executions,
            "windows": {
                "total": len(self.windows),
                "done": len(done),
                "failed": self.count("failed"),
                "pending": self.count("pending"),
            },
            "records_ingested": sum(w.records or 0 for w in done),
            "failed": [w.as_dict() for w in self.windows if w.state == "failed"],
            "pending": [w.as_dict() for w in self.windows if w.state == "pending"][:20],
        }


class Backfills:
    """Plan, start, watch and retry the backfills of one source (S3 and Step Functions clients given)."""

    def __init__(self, target: BackfillTarget, s3: Any, sfn: Any) -> None:
        self.target = target
        self._s3 = s3
        self._sfn = sfn
        self._bucket: dict[str, str] = {"Bucket": target.bucket}
        if target.bucket_owner:
            self._bucket["ExpectedBucketOwner"] = target.bucket_owner

    # -- starting -----------------------------------------------------------------------------------

    def start(
        self, backfill_id: str, windows: list[Window], plan: Mapping[str, Any], max_concurrency: int | None
    ) -> dict[str, Any]:
        """Write the plan (refused if the id exists) and the item list, and start the execution."""
        concurrency = self._concurrency(max_concurrency)
        base = self.target.base(backfill_id)
        document = {"backfill_id": backfill_id, "source_id": self.target.source_id, **plan}
        try:
            self._put(base + "backfill.json", document, if_none_match=True)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in (
                "PreconditionFailed",
                "ConditionalRequestConflict",
            ):
                raise BackfillError(
                    f"--id: backfill {backfill_id!r} exists (s3://{self.target.bucket}/{base}); see "
                    "`backfill status`, run `backfill retry` for its failed windows, or choose another id"
                ) from None
            raise
        return self._start_execution(backfill_id, backfill_id, windows, concurrency)

    def retry(self, backfill_id: str, max_concurrency: int | None) -> dict[str, Any] | None:
        """Start an execution over the windows that are not done; None when every window is done."""
        concurrency = self._concurrency(max_concurrency)
        status = self.status(backfill_id)
        if status.running:
            raise BackfillError(
                f"backfill {backfill_id!r} still has a running execution: wait for it (`backfill status`)"
            )
        again = [Window(_instant(w.start), _instant(w.end)) for w in status.windows if w.state != "done"]
        if not again:
            return None
        name = f"{backfill_id}-retry-{len(status.executions)}"
        return self._start_execution(backfill_id, name, again, concurrency)

    def _concurrency(self, asked: int | None) -> int:
        limit = self.target.max_concurrency
        if asked is None:
            return limit
        if not 1 <= asked <= limit:
            raise BackfillError(
                f"--max-concurrency: {asked} is not between 1 and {limit}, the limit the module sets "
                "(orchestration.backfill_max_concurrency, chosen for the API's rate limit)"
            )
        return asked

    def _start_execution(
        self, backfill_id: str, name: str, windows: list[Window], concurrency: int
    ) -> dict[str, Any]:
        base = self.target.base(backfill_id)
        items_key = f"{base}items/{name}.json"
        self._put(items_key, [window_event(backfill_id, w) for w in windows], if_none_match=True)
        execution_input = {
            "backfill_id": backfill_id,
            "items_key": items_key,
            "results_prefix": f"{base}results",
            "max_concurrency": concurrency,
        }
        started = self._sfn.start_execution(
            stateMachineArn=self.target.state_machine_arn, name=name, input=json.dumps(execution_input)
        )
        return {
            "backfill_id": backfill_id,
            "execution": name,
            "execution_arn": started["executionArn"],
            "windows": len(windows),
            "max_concurrency": concurrency,
            "items": f"s3://{self.target.bucket}/{items_key}",
        }

    def _put(self, key: str, document: Any, if_none_match: bool = False) -> None:
        condition = {"IfNoneMatch": "*"} if if_none_match else {}
        self._s3.put_object(
            **self._bucket,
            Key=key,
            Body=json.dumps(document, indent=1).encode(),
            ContentType="application/json",
            **kms_encryption(self.target.kms_key_arn),
            **condition,
        )

    # -- watching -----------------------------------------------------------------------------------

    def status(self, backfill_id: str) -> BackfillStatus:
        """Every window's state, read from the lake: done when its run's manifest is complete."""
        base = self.target.base(backfill_id)
        plan = self._get(base + "backfill.json")
        if plan is None:
            raise BackfillError(
                f"--id: no backfill {backfill_id!r} for this source (s3://{self.target.bucket}/{base})"
            )
        executions = [self._execution(name) for name in self._execution_names(backfill_id)]
        first = self._get(f"{base}items/{backfill_id}.json") or []
        failures = self._result_writer_failures(base + "results/")
        running = any(e["status"] == "RUNNING" for e in executions)
        with ThreadPoolExecutor(MANIFEST_READERS) as pool:
            windows = list(pool.map(lambda item: self._window(item, running, failures), first))
        return BackfillStatus(backfill_id, plan, executions, windows)

    def progress(self, execution_arn: str) -> dict[str, Any]:
        """The execution's status and its Distributed Map's item counts (for the progress line)."""
        described = self._sfn.describe_execution(executionArn=execution_arn)
        counts: dict[str, Any] = {}
        runs = self._sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
        if runs:
            counts = self._sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"]).get("itemCounts", {})
        return {"status": described["status"], "items": counts}

    def _execution_names(self, backfill_id: str) -> list[str]:
        prefix = f"{self.target.base(backfill_id)}items/"
        pages = self._s3.get_paginator("list_objects_v2").paginate(**self._bucket, Prefix=prefix)
        names = [o["Key"][len(prefix) : -len(".json")] for page in pages for o in page.get("Contents", [])]
        return sorted(
            names, key=lambda n: (n != backfill_id, int(n.rpartition("-")[2]) if n != backfill_id else 0)
        )

    def _execution(self, name: str) -> dict[str, Any]:
        arn = self.target.execution_arn(name)
        try:
            described = self._sfn.describe_execution(executionArn=arn)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ExecutionDoesNotExist":
                raise
            return {"name": name, "status": "NOT_STARTED", "execution_arn": arn}
        found = {"name": name, "status": described["status"], "execution_arn": arn}
        for key in ("error", "cause"):
            if described.get(key):
                found[key] = described[key]
        return found

    def _window(self, item: Mapping[str, Any], running: bool, failures: Mapping[str, str]) -> WindowStatus:
        start, end = _instant(item["window"]["start"]), _instant(item["window"]["end"])
        run_id = window_run_id((start, end), item["backfill_id"])
        partition = start.astimezone(zone(self.target.timezone)).date().isoformat()  # as the handler does
        prefix = run_prefix(self.target.prefix, partition, run_id)
        manifest = self._get(prefix + MANIFEST_NAME)
        ends = (iso(start), iso(end), run_id)
        if manifest is not None and manifest.get("complete"):
            records, pages = manifest.get("records_ingested"), len(manifest["pages"])
            return WindowStatus(*ends, state="done", records=records, pages=pages)
        if running:
            return WindowStatus(*ends, state="pending")
        reason = failure_reason(
            manifest, self._get(prefix + FAILURE_NAME), failures.get(run_id), self.target.max_resumes
        )
        return WindowStatus(*ends, state="failed", reason=reason)

    def _result_writer_failures(self, prefix: str) -> dict[str, str]:
        """run id -> the error Step Functions recorded for a failed child, from ResultWriter's files.

        AWS writes them as FAILED_*.json beside a manifest.json listing them; the local AWS writes none,
        where `status` still knows which windows failed (from the lake) but not the error.
        """
        failures: dict[str, str] = {}
        pages = self._s3.get_paginator("list_objects_v2").paginate(**self._bucket, Prefix=prefix)
        for key in [o["Key"] for page in pages for o in page.get("Contents", [])]:
            if not re.search(r"/FAILED_[0-9]+\.json$", key):
                continue
            for entry in self._get(key) or []:
                event = _json_or_none(entry.get("Input")) or {}
                window = event.get("window")
                if window and event.get("backfill_id"):
                    run_id = window_run_id(
                        (_instant(window["start"]), _instant(window["end"])), event["backfill_id"]
                    )
                    failures[run_id] = f"{entry.get('Error', 'failed')}: {entry.get('Cause', '')}"[:500]
        return failures

    def _get(self, key: str) -> Any | None:
        try:
            body = read_body(self._s3, self._bucket, key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return json.loads(body)


def failure_reason(
    manifest: Mapping[str, Any] | None,
    failure: Mapping[str, Any] | None,
    recorded: str | None,
    max_resumes: int | None,
) -> str:
    """Why a window is not done, most telling first: a quarantined page; the error the function raised
    (its `_failure.json`, newer than any manifest); the error Step Functions recorded; the resume limit,
    only when the run really was resumed that often; else a partial run the execution left."""
    if manifest is not None and manifest.get("status") == "QUARANTINED":
        return f"quarantined: {manifest.get('stop_reason')} (see the run's manifest and _quarantine/)"
    if failure is not None and (
        manifest is None or str(failure.get("failed_at")) > str(manifest.get("finished_at"))
    ):
        after = f" (after {failure['resumes']} resume(s))" if failure.get("resumes") else ""
        return f"the function failed{after}: {failure.get('error_type')}: {failure.get('error')}"
    if recorded:
        return recorded
    if manifest is None:
        return (
            "no manifest: the run failed before writing one (the execution's error and the function's "
            "logs say why)"
        )
    resumes = int(manifest.get("resumes") or 0)
    stopped = f"stopped incomplete ({manifest.get('stop_reason')}) after {resumes} resume(s)"
    if max_resumes is not None and resumes >= max_resumes:
        return f"{stopped}: the resume limit (orchestration.max_resumes = {max_resumes}) was reached"
    return f"{stopped}, without an error from the function: the execution was stopped or timed out"


def _json_or_none(text: Any) -> dict[str, Any] | None:
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def check_range(
    start: datetime, end: datetime, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> None:
    """A backfill loads the past: a range that ends in the future would ask for data not yet there."""
    if end > now():
        raise BackfillError(f"--to ({iso(end)}) is in the future: a backfill covers windows that have ended")


__all__ = [
    "BackfillError",
    "BackfillStatus",
    "BackfillTarget",
    "Backfills",
    "IncrementalError",
    "check_backfill_id",
    "check_range",
    "parse_bound",
    "plan_windows",
    "window_event",
]
