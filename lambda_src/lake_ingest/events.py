"""The invocation event: what one run should fetch and under which idempotency key.

Event fields (all optional):
  run_id          idempotency key; the same run id always produces the same S3 keys
  scheduled_time  ISO 8601 instant; sets the partition date (and the run id when none is given)
  partition_date  YYYY-MM-DD; the ingest_date partition (default: from scheduled_time, else today)
  query_params    merged over API_CONFIG.query_params for this run
  resume          {"page": N, "<state>": ...} from a partial run's result or manifest: continue
                  that run (same run_id and partition_date) at page N
  window          {"start": ISO 8601, "end": ISO 8601}: the window an incremental window source
                  covers (a backfill, a re-run); run id and partition date follow it
  force           true: fetch again even if this run id already has a complete manifest
  backfill_id     with window: the run is one window of that backfill (`backfill start`); its run
                  id is bf-<backfill_id>-<start>-<end>, apart from the scheduled runs' ids. Such an
                  event holds only backfill_id and window (and, continuing a partial window, the
                  resume, run_id and partition_date its result gave): anything else is refused, so a
                  backfill item can neither rewrite another run's data nor ask for other data

Without a run id, one is derived that stays the same across Lambda's own retries of the event:
from the scheduled time, else from an EventBridge event's id, else from the request id (Lambda
keeps the request id when it retries an asynchronous invocation).

Any other key is refused, naming it (and the closest option): a misspelled `runid` or
`partition-date` would otherwise be ignored, and the run would land under another run id or date.
The fields of an EventBridge event (a rule's schedule sends them) are accepted as they are.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from .config import string_map

RESUME_FIELDS = frozenset({"page", "url", "cursor", "page_number", "offset"})
# What the handler reads (documented above and in the README).
EVENT_OPTIONS = (
    "run_id",
    "scheduled_time",
    "partition_date",
    "query_params",
    "resume",
    "window",
    "force",
    "backfill_id",
)
# The top-level fields of an EventBridge event, as a rule (e.g. a schedule) delivers it, and the
# `replay-name` EventBridge adds to a replayed archived event. Only `id`, `detail-type` and `time`
# are read; the rest is accepted so that such events can be the function's input unchanged.
EVENTBRIDGE_FIELDS = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
    "replay-name",
)
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# A backfill's id: also its Step Functions execution name and a key segment (_backfill/<id>/).
BACKFILL_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
BACKFILL_ID_HINT = "1-40 lowercase letters, digits and hyphens, starting with a letter or digit"


class EventError(ValueError):
    """The invocation event is invalid. The message names the field."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"invalid event: {field_name}: {problem}")
        self.field = field_name


@dataclass(frozen=True)
class RunRequest:
    """One ingestion run, resolved from the event."""

    run_id: str
    partition_date: str
    scheduled_time: datetime | None
    query_params: Mapping[str, str] = field(default_factory=dict)
    resume: Mapping[str, Any] | None = None
    window: tuple[datetime, datetime] | None = None  # an explicit window (UTC)
    force: bool = False
    backfill_id: str | None = None
    partition_given: bool = False  # the event named partition_date (else it was derived)

    def as_event(self) -> dict[str, Any]:
        """The event that asks for this run again (with `resume` set, continues it)."""
        event: dict[str, Any] = {"run_id": self.run_id, "partition_date": self.partition_date}
        if self.scheduled_time is not None:
            event["scheduled_time"] = iso(self.scheduled_time)
        if self.window is not None:
            event["window"] = {"start": iso(self.window[0]), "end": iso(self.window[1])}
        if self.backfill_id is not None:
            event["backfill_id"] = self.backfill_id
        if self.query_params:
            event["query_params"] = dict(self.query_params)
        if self.resume:
            event["resume"] = dict(self.resume)
        return event


def iso(instant: datetime) -> str:
    """An instant as ISO 8601 in UTC with a Z."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_timestamp(value: Any, field_name: str) -> datetime:
    """Parse an ISO 8601 instant; a value without an offset is taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        raise EventError(field_name, "must be an ISO 8601 timestamp such as 2026-01-31T06:00:00Z")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise EventError(
            field_name, f"{value!r} is not an ISO 8601 timestamp such as 2026-01-31T06:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_event(event: Any, request_id: str, now: datetime | None = None) -> RunRequest:
    """Resolve the run id, partition date and query overrides from an invocation event."""
    if event is None:
        event = {}
    if not isinstance(event, dict):
        raise EventError("event", f"must be a JSON object, got {type(event).__name__}")
    _refuse_unknown_keys(event)

    scheduled: datetime | None = None
    if event.get("scheduled_time") is not None:
        scheduled = parse_timestamp(event["scheduled_time"], "scheduled_time")
    elif event.get("detail-type") == "Scheduled Event" and event.get("time"):
        scheduled = parse_timestamp(event["time"], "time")

    window = _parse_window(event.get("window"))
    force = event.get("force", False)
    if not isinstance(force, bool):
        raise EventError("force", "must be true or false")

    backfill_id = _parse_backfill_id(event.get("backfill_id"), window)
    if backfill_id is not None:
        _check_backfill_event(event)
    run_id = event.get("run_id")
    if run_id is not None:
        if not isinstance(run_id, str) or not RUN_ID_PATTERN.match(run_id):
            raise EventError(
                "run_id",
                "must be 1-128 characters of letters, digits, '.', '_' or '-', starting alphanumeric",
            )
    elif window is not None:
        run_id = window_run_id(window, backfill_id)
    elif scheduled is not None:
        run_id = "sched-" + scheduled.strftime("%Y%m%dT%H%M%SZ")
    elif isinstance(event.get("id"), str) and RUN_ID_PATTERN.match(event["id"]):
        run_id = "evt-" + event["id"]
    else:
        run_id = "req-" + re.sub(r"[^A-Za-z0-9._-]", "-", request_id)[:120]

    partition_date = ((window[0] if window else None) or scheduled or now or datetime.now(UTC)).strftime(
        "%Y-%m-%d"
    )
    if event.get("partition_date") is not None:
        partition_date = _parse_date(event["partition_date"])
    resume = _parse_resume(event.get("resume"))
    if resume is not None and event.get("run_id") is None:
        raise EventError("resume", "needs the run_id of the run to continue")
    if backfill_id is not None and window is not None:
        _check_backfill_run_id(run_id, window, backfill_id)
    return RunRequest(
        run_id=run_id,
        partition_date=partition_date,
        scheduled_time=scheduled,
        query_params=string_map(event.get("query_params"), "query_params", EventError),
        resume=resume,
        window=window,
        force=force,
        backfill_id=backfill_id,
        partition_given=event.get("partition_date") is not None,
    )


def window_run_id(window: tuple[datetime, datetime], backfill_id: str | None = None) -> str:
    """The run id of a window: win-<start>-<end>, or bf-<backfill id>-<start>-<end> in a backfill."""
    span = f"{window[0].strftime('%Y%m%dT%H%M%SZ')}-{window[1].strftime('%Y%m%dT%H%M%SZ')}"
    return f"bf-{backfill_id}-{span}" if backfill_id else f"win-{span}"


def _parse_backfill_id(value: Any, window: tuple[datetime, datetime] | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not BACKFILL_ID_PATTERN.match(value):
        raise EventError("backfill_id", f"must be {BACKFILL_ID_HINT}")
    if window is None:
        raise EventError("backfill_id", "needs the window this run of the backfill covers")
    return value


# What a backfill window's event may hold: the item (backfill_id, window), and what its own resume adds.
BACKFILL_EVENT_KEYS = ("backfill_id", "window", "resume", "run_id", "partition_date")


def _check_backfill_event(event: Mapping[str, Any]) -> None:
    """An EventError for any key a backfill window's event may not carry (force, query_params, ...)."""
    extra = sorted(str(key) for key in event if key not in BACKFILL_EVENT_KEYS)
    if extra:
        raise EventError(
            extra[0],
            f"a backfill window's event takes only {', '.join(BACKFILL_EVENT_KEYS)} (the state machine "
            f"passes backfill_id and window; a resume adds the others); refused: {', '.join(extra)}",
        )


def _check_backfill_run_id(run_id: str, window: tuple[datetime, datetime], backfill_id: str) -> None:
    """A backfill window runs under its own run id only: never another run's keys (its partition date
    is checked once the source's time zone is known: incremental_run.with_partition_date)."""
    expected = window_run_id(window, backfill_id)
    if run_id != expected:
        raise EventError("run_id", f"a backfill window's run id is {expected}, not {run_id}")


def _parse_window(value: Any) -> tuple[datetime, datetime] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"start", "end"}:
        raise EventError("window", 'must be {"start": ISO 8601, "end": ISO 8601}')
    start, end = parse_timestamp(value["start"], "window.start"), parse_timestamp(value["end"], "window.end")
    if start >= end:
        raise EventError("window", f"start ({iso(start)}) must be before end ({iso(end)})")
    return start, end


def _parse_date(value: Any) -> str:
    try:
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    raise EventError("partition_date", f"{value!r} is not a date such as 2026-01-31")


def _parse_resume(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - RESUME_FIELDS or len(value) != 2 or "page" not in value:
        raise EventError(
            "resume", "must be {'page': N} plus one of url, cursor, page_number, offset (from a partial run)"
        )
    page = value["page"]
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise EventError("resume.page", "must be a page number of 1 or more")
    (name,) = set(value) - {"page"}
    item = value[name]
    if name in ("page_number", "offset"):
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise EventError(f"resume.{name}", "must be a whole number of 0 or more")
    elif not isinstance(item, (str, int)) or isinstance(item, bool) or item == "":
        raise EventError(f"resume.{name}", "must be a non-empty string")
    return dict(value)


def _refuse_unknown_keys(event: Mapping[str, Any]) -> None:
    """An EventError naming the first key that is neither an event option nor an EventBridge field."""
    known = (*EVENT_OPTIONS, *EVENTBRIDGE_FIELDS)
    unknown = sorted(str(key) for key in event if key not in known)
    if not unknown:
        return
    first, others = unknown[0], unknown[1:]
    close = difflib.get_close_matches(first.lower(), known, n=1)
    guess = f" (did you mean {close[0]}?)" if close else ""
    also = f" (also: {', '.join(others)})" if others else ""
    raise EventError(
        first,
        f"is not an event option{guess}; the options are: {', '.join(EVENT_OPTIONS)}, "
        f"and the fields of an EventBridge event ({', '.join(EVENTBRIDGE_FIELDS)}){also}",
    )
