"""The incremental part of one run: what it covers, the values it sends, the state it moves.

A window source needs no state: the event (its scheduled time, or an explicit window) decides the
window, so every retry of a slot asks for the same data and writes the same keys. A cursor source
takes a lease on its state in the lake before it fetches anything (a concurrent run of the source
fails at once and fetches nothing), sends the stored cursor less the lookback, watches the records
it lands for the largest cursor value (cursor_tracker.py: implausible values are counted, never
adopted), and moves the stored cursor only after its manifest says the run is complete, never
backward. A partial run keeps what it sent and saw in its manifest, so its resumption sends the same
cursor; a crashed run's lease expires after the function's timeout. Whatever fails once the lease is
taken gives it back. A stored cursor beyond the bounds (adopted from a bad record by an earlier
version, or set by hand) fails the run with what to do rather than asking for nothing, run after run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from .config import ApiConfig, SourceConfig
from .cursor_tracker import CursorTracker, bound_problem, describe_rejection
from .events import EventError, RunRequest
from .incremental import (
    CursorValueError,
    IncrementalConfig,
    apply_lookback,
    cursor_key,
    excerpt,
    format_cursor,
    plus,
    substitute,
    substitute_url,
    window_for,
    zone,
)
from .observability import logger
from .state import Lease, StateConflict, StateError, StateStore, kms_encryption, state_key


@dataclass
class IncrementalRun:
    """One run's incremental facts, from its start to its end."""

    config: IncrementalConfig
    values: dict[str, str]  # placeholder name -> text sent
    facts: dict[str, Any]  # what the manifest and the result say about it
    tracker: CursorTracker | None = None
    store: StateStore | None = None
    lease: Lease | None = None

    def manifest_section(self) -> dict[str, Any]:
        """For the manifest: the window covered, or the cursor sent and the largest value seen."""
        if self.tracker is None:
            return dict(self.facts)
        return {**self.facts, **self.tracker.as_dict()}

    def finish(self, complete: bool, records: int | None) -> dict[str, Any] | None:
        """After the manifest: advance the stored cursor if the run is complete, else release it.

        Returns how the stored cursor moved ({"from", "to", "moved"}, and for a complete run
        "empty_runs": how many complete runs in a row landed no records), or None for a window source.
        """
        if self.store is None or self.lease is None or self.tracker is None:
            return None
        kept = {"from": self.lease.state.cursor, "to": self.lease.state.cursor, "moved": False}
        if not complete:
            self.abandon()
            return kept
        covered = {"sent": self.values["cursor"], "max_seen": self.tracker.maximum}
        if self.tracker.rejected_total:
            covered["rejected"] = dict(self.tracker.rejected)
        try:
            doc = self.store.advance(
                self.lease,
                self.tracker.maximum,
                self.config.cursor_type,
                covered,
                landed_records=records or 0,
            )
        except StateConflict as conflict:  # the state is no longer this run's: nothing to release
            return {**kept, "error": str(conflict)}
        except Exception as exc:  # noqa: BLE001 - the manifest is complete: the run must not raise now
            self.abandon()
            return {**kept, "error": self._write_failed(exc)}
        return {
            "from": self.lease.state.cursor,
            "to": doc.cursor,
            "moved": doc.cursor != self.lease.state.cursor,
            "empty_runs": doc.empty_runs,
        }

    def _write_failed(self, exc: Exception) -> str:
        where = self.store.where if self.store else "the cursor state"
        return (
            f"writing the cursor state {where} failed ({type(exc).__name__}: {exc}) after the run's manifest "
            "said it is complete: its data is in the lake, the cursor stays where it was and the next run "
            "fetches these records again"
        )

    def abandon(self) -> None:
        """Give the state back without moving it (best effort; an expiring lease is the backstop)."""
        if self.store is not None and self.lease is not None:
            try:
                self.store.release(self.lease)
            except Exception as exc:  # noqa: BLE001 - the run's own outcome is what the caller reports
                logger.warning("could not release the cursor state's lease", extra={"error": str(exc)})


def begin(
    config: SourceConfig,
    run: RunRequest,
    s3_client: Any,
    lease_seconds: float,
    now: datetime,
    resumed: Mapping[str, Any] | None = None,
) -> IncrementalRun | None:
    """Start the incremental part of a run (None for a source that is not incremental).

    `resumed` is the `incremental` section of the partial manifest a resume continues.
    """
    inc = config.api.incremental
    _check_window_fits(inc, run)
    if inc is None:
        return None
    if inc.type == "window":
        window = window_for(inc, run.scheduled_time, run.window, now)
        facts: dict[str, Any] = {"type": "window", **window.as_dict(), "timezone": inc.timezone}
        return IncrementalRun(inc, window.placeholders(inc.format, inc.timezone), facts)
    store = StateStore(
        s3_client,
        config.raw_bucket,
        state_key(config.raw_prefix),
        config.source_id,
        expected_owner=config.raw_bucket_owner,
        sse=kms_encryption(config.kms_key_arn),
    )
    lease = store.acquire(run.run_id, lease_seconds, inc.cursor_type)
    try:
        tracker, stored, sent = _cursor_to_send(inc, lease.state.cursor, now, resumed, store.where)
    except BaseException:
        store.release(lease)  # nothing was fetched: the next run must not wait for the lease to expire
        raise
    facts = {
        "type": "cursor",
        "cursor_path": inc.cursor_path,
        "cursor_type": inc.cursor_type,
        "stored": stored,
        "sent": sent,
    }
    return IncrementalRun(inc, {"cursor": sent}, facts, tracker, store, lease)


def _cursor_to_send(
    inc: IncrementalConfig, stored: Any, now: datetime, resumed: Mapping[str, Any] | None, where: str
) -> tuple[CursorTracker, Any, str]:
    """The run's tracker, the stored cursor and the {cursor} text it sends.

    A fresh run sends `initial_value` as written, or the stored cursor less the lookback; a resumed one
    what its partial run sent (so its remaining pages ask for the same records).
    """
    not_after = plus(now, inc.future_skew, zone("UTC")) if inc.cursor_type == "timestamp" else None
    tracker = CursorTracker(inc.cursor_path, inc.cursor_type, not_after)
    if resumed:
        tracker.merge(resumed.get("max_seen"))
        tracker.rejected.update(resumed.get("rejected") or {})
        return tracker, resumed.get("stored"), str(resumed["sent"])
    if stored is None:
        return tracker, None, format_cursor(inc.initial_value, inc.cursor_type, inc.format, inc.timezone)
    _check_stored(stored, inc, not_after, where)
    sent = apply_lookback(stored, inc.cursor_type, inc.lookback, inc.timezone)
    return tracker, stored, format_cursor(sent, inc.cursor_type, inc.format, inc.timezone)


def _check_stored(stored: Any, inc: IncrementalConfig, not_after: datetime | None, where: str) -> None:
    """A StateError with the repair when the stored cursor is one no run would adopt now."""
    try:
        key = cursor_key(stored, inc.cursor_type)
    except (CursorValueError, ArithmeticError):
        problem = f"is not a {inc.cursor_type}"
    else:
        reason = bound_problem(stored, key, inc.cursor_type, not_after)
        problem = f"is {describe_rejection(reason, not_after)}" if reason else ""
    if problem:
        raise StateError(
            f"the stored cursor {excerpt(stored)!r} in {where} {problem}: "
            "no run would adopt it now (an earlier version took it from a bad record, or it was set by "
            "hand), "
            "and from it every run would ask for nothing. Set it to the last good value: python -m "
            "lake_ingest state set --config source.json --value <value> (docs/incremental.md: repairing a "
            "cursor)"
        )


def with_partition_date(run: RunRequest, inc: IncrementalConfig | None, now: datetime) -> RunRequest:
    """A window's run lands under the date its window starts on, in the source's time zone.

    So a daily window in Europe/Berlin for the local day 2026-03-29 (which starts at 23:00 UTC the day
    before) lands under ingest_date=2026-03-29, whether it ran on its schedule, from an event's window
    or in a backfill. An event's own partition_date wins, except in a backfill, where it must be that
    date. Other sources keep the date of their scheduled time (or today), in UTC.
    """
    if inc is None or inc.type != "window":
        return run
    window = window_for(inc, run.scheduled_time, run.window, now)
    local_date = window.start.astimezone(inc.zone).date().isoformat()
    if run.partition_given and run.backfill_id is not None and run.partition_date != local_date:
        raise EventError(
            "partition_date",
            f"a backfill window's partition date is {local_date} (its start in {inc.timezone}), "
            f"not {run.partition_date}",
        )
    return run if run.partition_given else replace(run, partition_date=local_date)


def _check_window_fits(inc: IncrementalConfig | None, run: RunRequest) -> None:
    """An event window (a backfill's, or a re-run's) only means something to a window source.

    Refused elsewhere rather than ignored: a cursor source would otherwise take its lease and move
    the live cursor for a "backfill", and a plain source would fetch the same snapshot again.
    """
    if run.window is None or (inc is not None and inc.type == "window"):
        return
    if inc is None:
        raise EventError(
            "window",
            "this source is not incremental (API_CONFIG.incremental is not set), so a window changes "
            "nothing it asks for; send run_id or partition_date to name a re-run",
        )
    raise EventError(
        "window",
        "a cursor source takes no window: each run starts at its stored cursor (see `state show`); "
        "to fetch history again, `state set` or `state reset` it. Windows and backfills need "
        "incremental type window",
    )


def with_values(api: ApiConfig, values: Mapping[str, str]) -> ApiConfig:
    """The API call with the run's placeholder values in the endpoint path, query values and body."""
    if not values:
        return api
    return replace(
        api,
        endpoint=substitute_url(api.endpoint, values),
        query_params={k: str(substitute(v, values)) for k, v in api.query_params.items()},
        body=substitute(api.body, values),
    )
