"""A run's lease on its source's cursor state: take it before fetching, advance or release it after.

Of concurrent runs exactly one holds the lease; the others raise StateLocked having fetched nothing.
That includes copies of one run: Lambda and EventBridge Scheduler may deliver an event more than
once, and every copy of a scheduled event has the same run id, so a live lease held by this very run
id is another copy that is fetching right now, not this run's own to take over. (A run that ended
released its lease; a run killed at its timeout left a lease that expired at the same moment.)

A write whose answer was lost is recognised as this run's own (StateFile.put_or_recognise), so
botocore's retry of it is not taken for another writer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from .incremental import cursor_key
from .state_doc import (
    OPERATOR,
    Lease,
    LeaseRecord,
    StateConflict,
    StateDoc,
    StateError,
    StateFile,
    StateLocked,
    http_status,
    is_conflict,
    iso,
)


class RunLeases:
    """Takes, advances and releases runs' leases on one source's state."""

    def __init__(self, file: StateFile, clock: Callable[[], datetime]) -> None:
        self._file = file
        self._clock = clock

    def acquire(self, run_id: str, lease_seconds: float, cursor_type: str | None = None) -> Lease:
        """Take the state for `lease_seconds` (the function's timeout) before fetching anything.

        A live lease raises StateLocked, whoever holds it (another run, or another copy of this run).
        An expired lease (a crashed run) is taken over and the history says so. With `cursor_type`, a
        stored cursor of another type raises StateError: comparing them would be meaningless (a number
        read as epoch seconds), so an operator must set or reset it first.
        """
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be more than 0 (the function's timeout)")
        for attempt in (1, 2):  # a conflict means the state just changed: decide again, once
            now = self._clock()
            doc, etag, unreadable = self._read_for_lease()
            takeover: dict[str, Any] | None = None
            if doc is not None:
                self._check_type(doc, cursor_type)
                self._refuse_live(doc.lease, run_id, now)
                if doc.lease is not None:
                    takeover = self._takeover_entry(now, run_id, doc.cursor, doc.lease)
            base = doc or self._file.new_doc(now, run_id, cursor_type)
            if base.cursor is None and cursor_type is not None:
                base = replace(base, cursor_type=cursor_type)
            record = LeaseRecord(run_id, now + timedelta(seconds=lease_seconds))
            history = base.with_entry(takeover) if takeover else base.history
            held = replace(base, source_id=self._file.source_id, lease=record, history=history)
            new_etag = self._write_lease(held, etag, unreadable)
            if new_etag is not None:
                return Lease(run_id, record.expires_at, new_etag, held, doc.lease if doc else None)
            if attempt == 2:
                raise StateLocked(
                    f"another run took the cursor state {self._file.where} at the same moment; this run "
                    "fetched nothing and will be retried"
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _read_for_lease(self) -> tuple[StateDoc | None, str | None, bool]:
        """The state and its ETag; without s3:ListBucket a missing key answers 403, not 404.

        Creating it with If-None-Match then tells the two apart without that permission.
        """
        try:
            doc, etag = self._file.read()
        except ClientError as exc:
            if http_status(exc) != 403:
                raise
            return None, None, True
        return doc, etag, False

    def _write_lease(self, held: StateDoc, etag: str | None, unreadable: bool) -> str | None:
        if not unreadable:
            return self._file.put_or_recognise(held, etag)
        try:
            return self._file.put(held, etag)
        except ClientError as exc:
            if is_conflict(exc):
                raise StateError(
                    f"cannot read {self._file.where} (403 AccessDenied) although it exists: the "
                    "function's role needs s3:GetObject on it"
                ) from None
            raise

    def _refuse_live(self, holder: LeaseRecord | None, run_id: str, now: datetime) -> None:
        if holder is None or not holder.live(now):
            return
        who = (
            f"another delivery of this same run ({run_id}: Lambda and EventBridge Scheduler may deliver an "
            "event more than once), which is fetching it now"
            if holder.run_id == run_id
            else f"run {holder.run_id}"
        )
        this = "this copy" if holder.run_id == run_id else "this run"
        raise StateLocked(
            f"the cursor state {self._file.where} is held by {who} until {iso(holder.expires_at)} (its "
            f"lease); {this} fetched nothing and will be retried",
            holder.run_id,
            holder.expires_at,
        )

    @staticmethod
    def _takeover_entry(now: datetime, run_id: str, cursor: Any, expired: LeaseRecord) -> dict[str, Any]:
        """The history's record of a crashed run: its lease ran out without an advance or release."""
        return {
            "at": iso(now),
            "run_id": run_id,
            "from": cursor,
            "to": cursor,
            "covered": {},
            "note": f"took over the expired lease of run {expired.run_id} (held until "
            f"{iso(expired.expires_at)}; it ended without advancing or releasing)",
        }

    def _check_type(self, doc: StateDoc, cursor_type: str | None) -> None:
        if cursor_type and doc.cursor is not None and doc.cursor_type and doc.cursor_type != cursor_type:
            raise StateError(
                f"{self._file.where} holds a {doc.cursor_type} cursor ({doc.cursor!r}) but the source's "
                f"cursor_type is {cursor_type}: set the cursor to a {cursor_type} value, or reset it "
                "(the next run then starts from initial_value)"
            )

    def advance(
        self,
        lease: Lease,
        to_value: Any,
        cursor_type: str,
        covered: Mapping[str, Any],
        landed_records: int = 0,
    ) -> StateDoc:
        """Record a finished run: the cursor becomes the larger of the stored one and `to_value`
        (never backward), the history gets an entry, the lease is released, and `empty_runs` counts
        the complete runs in a row that landed no records (0 again once one lands some).

        Written only if the state is still the one this run's lease wrote; otherwise StateConflict.
        """
        now = self._clock()
        stored = lease.state.cursor
        cursor, note = stored, "advanced"
        if to_value is None:
            note = "kept: the run saw no cursor value"
        elif stored is not None and cursor_key(to_value, cursor_type) <= cursor_key(stored, cursor_type):
            note = f"kept: the run saw nothing newer (its largest value: {to_value!r})"
        else:
            cursor = to_value
        entry = {
            "at": iso(now),
            "run_id": lease.run_id,
            "from": stored,
            "to": cursor,
            "covered": dict(covered),
        }
        doc = replace(
            lease.state,
            source_id=self._file.source_id,
            cursor_type=cursor_type,
            cursor=cursor,
            updated_at=iso(now),
            updated_by_run=lease.run_id,
            lease=None,
            history=lease.state.with_entry({**entry, "note": note}),
            empty_runs=0 if landed_records else lease.state.empty_runs + 1,
        )
        if self._file.put_or_recognise(doc, lease.etag) is None:
            raise StateConflict(self._lost_lease(lease))
        return doc

    def _lost_lease(self, lease: Lease) -> str:
        """Why the state is no longer the one this run's lease wrote, as far as the stored one tells."""
        try:
            current, _ = self._file.read()
        except (ClientError, StateError):
            current = None
        if current is not None and current.updated_by_run == OPERATOR:
            why = "an operator set or reset the cursor while this run held its lease"
        elif current is not None and current.lease is not None and current.lease.run_id != lease.run_id:
            why = (
                f"run {current.lease.run_id} took it over after this run's lease ran out "
                f"({iso(lease.expires_at)})"
            )
        else:
            why = "it was changed by another writer while this run held its lease"
        return (
            f"run {lease.run_id} could not record its cursor in {self._file.where}: {why}. The cursor was "
            "not advanced; the run's data stays in the lake and the next run fetches from the stored cursor"
        )

    def release(self, lease: Lease) -> bool:
        """Give the state back without advancing (a failed or partial run), if it is still ours.

        False when another run (or an operator) has changed it since: nothing to release.
        """
        return self._file.put_or_recognise(replace(lease.state, lease=None), lease.etag) is not None
