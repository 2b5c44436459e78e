"""A cursor source's state, kept in the lake itself: `<raw_prefix>/_state/cursor.json`.

Every write is an S3 conditional write (If-None-Match: * to create, If-Match: <ETag> to change), so
S3 decides between concurrent runs of a source, not this code:

- of concurrent runs exactly one holds the state (a lease) and may advance the cursor;
- the cursor never moves backward (the stored value and the run's value are compared; the larger
  stays), only an operator's `set` or `reset` moves it back, and the history says so;
- a run that crashed holding the lease blocks the next ones until the lease expires, at most the
  function's timeout; a run that outlived its lease (the next one took over) cannot advance.

The state sits under the source's prefix, so it is kept with the data it describes, the role
that writes the data can write it, and a source renamed with the same raw_prefix keeps its cursor.

Document (JSON, sorted keys, indent 2):
  {"state_version": 1, "source_id": "orders-api", "cursor_type": "timestamp",
   "cursor": "2026-03-29T10:15:00Z" | null,     # null: the next run starts from initial_value
   "updated_at": "...Z", "updated_by_run": "<run id>" | "operator",   # the last cursor change
   "lease": null | {"run_id": "<run id>", "expires_at": "...Z"},
   "empty_runs": 0,        # complete runs in a row that landed no records (the cursor_empty_runs alarm)
   "history": [newest first, at most 20:
               {"at", "run_id", "from", "to", "covered": {...}, "note"}]}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from .incremental import cursor_key

STATE_VERSION = 1
HISTORY_LIMIT = 20
STATE_DIR = "_state"
STATE_NAME = "cursor.json"
OPERATOR = "operator"
# S3 answers 412 when the condition does not hold, and 409 when another conditional write to the
# same key is in flight: either way another writer got there first.
_CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
_CONFLICT_STATUSES = frozenset({409, 412})


def state_key(raw_prefix: str) -> str:
    """Where a source's cursor state lives: beside its data, in a directory query engines skip."""
    return f"{raw_prefix}/{STATE_DIR}/{STATE_NAME}"


def kms_encryption(kms_key_arn: str | None) -> dict[str, Any]:
    """The put_object arguments for the source's SSE-KMS key (the same as its pages get)."""
    if not kms_key_arn:
        return {}
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn, "BucketKeyEnabled": True}


def bucket_target(bucket: str, expected_owner: str | None) -> dict[str, str]:
    """The arguments every request to the lake starts with: the bucket and, when known, its owner."""
    return {"Bucket": bucket, **({"ExpectedBucketOwner": expected_owner} if expected_owner else {})}


class StateError(RuntimeError):
    """The state document cannot be used as it is (unreadable, malformed, another cursor type)."""


class StateLocked(RuntimeError):
    """Another run holds the state: this run must not fetch (it would fetch the same slice)."""

    def __init__(self, message: str, holder: str | None = None, until: datetime | None = None) -> None:
        super().__init__(message)
        self.holder = holder
        self.until = until


class StateConflict(RuntimeError):
    """The state changed under a run or an operator after they read it: nothing was written."""


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _instant(text: str) -> datetime:
    """A stored instant; one edited by hand without an offset is UTC, as everywhere in lake-ingest."""
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _json_default(value: Any) -> Any:
    """Cursor values as found are JSON values; a Decimal (a record decoded with parse_float=Decimal)
    is written exactly: an integer as a number, anything else as its digits in a string."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else format(value, "f")
    if isinstance(value, datetime):
        return _iso(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@dataclass(frozen=True)
class LeaseRecord:
    """The lease as stored: which run holds the state, and until when."""

    run_id: str
    expires_at: datetime

    def live(self, now: datetime) -> bool:
        return now < self.expires_at


@dataclass(frozen=True)
class StateDoc:
    """The state document (see the module docstring)."""

    source_id: str
    cursor_type: str | None
    cursor: Any
    updated_at: str
    updated_by_run: str
    lease: LeaseRecord | None = None
    history: tuple[Mapping[str, Any], ...] = ()
    state_version: int = STATE_VERSION
    empty_runs: int = 0  # complete runs in a row that landed no records

    def to_json(self) -> dict[str, Any]:
        return {
            "state_version": self.state_version,
            "source_id": self.source_id,
            "cursor_type": self.cursor_type,
            "cursor": self.cursor,
            "updated_at": self.updated_at,
            "updated_by_run": self.updated_by_run,
            "lease": (
                {"run_id": self.lease.run_id, "expires_at": _iso(self.lease.expires_at)}
                if self.lease
                else None
            ),
            "history": [dict(entry) for entry in self.history],
            "empty_runs": self.empty_runs,
        }

    def with_entry(self, entry: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
        """The history with `entry` first, cut to HISTORY_LIMIT (the state must not grow)."""
        return (entry, *self.history)[:HISTORY_LIMIT]

    @classmethod
    def from_json(cls, data: Any, where: str) -> StateDoc:
        """Read a stored document; a StateError saying what is wrong with it otherwise."""
        if not isinstance(data, dict):
            raise StateError(f"{where} is not a cursor state document (not a JSON object)")
        version = data.get("state_version")
        if version != STATE_VERSION:
            raise StateError(
                f"{where} has state_version {version!r}; this lake-ingest reads version {STATE_VERSION} "
                "(written by another version: deploy that one, or reset the state)"
            )
        try:
            lease = data["lease"]
            history = data["history"]
            if not isinstance(history, list) or not all(isinstance(e, dict) for e in history):
                raise TypeError("history is not a list of objects")
            return cls(
                source_id=str(data["source_id"]),
                cursor_type=data["cursor_type"],
                cursor=data["cursor"],
                updated_at=str(data["updated_at"]),
                updated_by_run=str(data["updated_by_run"]),
                lease=(
                    LeaseRecord(str(lease["run_id"]), _instant(lease["expires_at"]))
                    if lease is not None
                    else None
                ),
                history=tuple(history),
                empty_runs=int(data.get("empty_runs") or 0),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"{where} is not a valid cursor state document ({exc!r})") from None


@dataclass(frozen=True)
class Lease:
    """A run's hold on the state: its ETag is the condition of the run's next write."""

    run_id: str
    expires_at: datetime
    etag: str
    state: StateDoc  # as this run wrote it: the cursor as read, the lease this run's
    taken_over: LeaseRecord | None = None  # an expired lease (a crashed run) or this run's earlier one


class StateStore:
    """Reads and writes one source's cursor state with S3 conditional writes.

    With `expected_owner` (an account id) every request names it as ExpectedBucketOwner, as the
    sink's do; `sse` (see kms_encryption) is passed to every write, so the state is encrypted
    with the source's key like its data.
    """

    def __init__(
        self,
        s3_client: Any,
        bucket: str,
        key: str,
        source_id: str,
        expected_owner: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sse: Mapping[str, Any] | None = None,
    ) -> None:
        self._client = s3_client
        self._key = key
        self._source_id = source_id
        self._clock = clock
        self._sse = dict(sse or {})
        self._target = bucket_target(bucket, expected_owner)
        self.where = f"s3://{bucket}/{key}"

    # -- reading and writing -----------------------------------------------------------------------

    def read(self) -> tuple[StateDoc | None, str | None]:
        """The stored document and its ETag; (None, None) when there is none yet."""
        body, etag = self._read_raw()
        return (None, None) if body is None else (self._parse(body), etag)

    def _read_raw(self) -> tuple[bytes | None, str | None]:
        try:
            response = self._client.get_object(**self._target, Key=self._key)
        except ClientError as exc:
            if _code(exc) == "NoSuchKey":
                return None, None
            raise
        return response["Body"].read(), str(response["ETag"])

    def _parse(self, body: bytes) -> StateDoc:
        try:
            data = json.loads(body)
        except ValueError:
            raise StateError(f"{self.where} is not JSON: reset it (with force)") from None
        return StateDoc.from_json(data, self.where)

    def _put(self, doc: StateDoc, etag: str | None) -> str:
        """Write `doc` if the stored state is still the one with `etag` (None: if there is none)."""
        body = json.dumps(doc.to_json(), indent=2, sort_keys=True, default=_json_default).encode()
        condition = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
        response = self._client.put_object(
            **self._target,
            Key=self._key,
            Body=body,
            ContentType="application/json",
            **condition,
            **self._sse,
        )
        return str(response["ETag"])

    def _new_doc(self, now: datetime, by: str, cursor_type: str | None) -> StateDoc:
        return StateDoc(self._source_id, cursor_type, None, _iso(now), by)

    # -- a run's lease -----------------------------------------------------------------------------

    def acquire(self, run_id: str, lease_seconds: float, cursor_type: str | None = None) -> Lease:
        """Take the state for `lease_seconds` (the function's timeout) before fetching anything.

        A live lease of another run raises StateLocked. An expired lease (a crashed run) is taken
        over, and so is this run id's own (a Lambda retry or a resume of this run). With
        `cursor_type`, a stored cursor of another type raises StateError: comparing them would be
        meaningless (a number read as epoch seconds), so an operator must set or reset it first.
        """
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be more than 0 (the function's timeout)")
        for attempt in (1, 2):  # a conflict means the state just changed: decide again, once
            now = self._clock()
            unreadable = False
            try:
                doc, etag = self.read()
            except ClientError as exc:
                # Without s3:ListBucket, S3 answers 403 (not 404) for a key that does not exist.
                # Creating it with If-None-Match tells the two apart without that permission.
                if _status(exc) != 403:
                    raise
                doc, etag, unreadable = None, None, True
            taken_over: LeaseRecord | None = None
            takeover: dict[str, Any] | None = None
            if doc is not None:
                self._check_type(doc, cursor_type)
                holder = doc.lease
                if holder is not None and holder.live(now) and holder.run_id != run_id:
                    raise StateLocked(
                        f"the cursor state {self.where} is held by run {holder.run_id} until "
                        f"{_iso(holder.expires_at)} (its lease); this run fetched nothing and will be "
                        "retried",
                        holder.run_id,
                        holder.expires_at,
                    )
                taken_over = holder
                if holder is not None and holder.run_id != run_id:
                    takeover = self._takeover_entry(now, run_id, doc.cursor, holder)
            base = doc or self._new_doc(now, run_id, cursor_type)
            if base.cursor is None and cursor_type is not None:
                base = replace(base, cursor_type=cursor_type)
            record = LeaseRecord(run_id, now + timedelta(seconds=lease_seconds))
            history = base.with_entry(takeover) if takeover else base.history
            held = replace(base, source_id=self._source_id, lease=record, history=history)
            try:
                new_etag = self._put(held, etag)
            except ClientError as exc:
                if unreadable and _is_conflict(exc):
                    raise StateError(
                        f"cannot read {self.where} (403 AccessDenied) although it exists: the "
                        "function's role needs s3:GetObject on it"
                    ) from None
                if not (_is_conflict(exc) or _code(exc) == "NoSuchKey"):
                    raise
                if attempt == 2:
                    raise StateLocked(
                        f"another run took the cursor state {self.where} at the same moment; this run "
                        "fetched nothing and will be retried"
                    ) from None
                continue
            return Lease(run_id, record.expires_at, new_etag, held, taken_over)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _takeover_entry(now: datetime, run_id: str, cursor: Any, expired: LeaseRecord) -> dict[str, Any]:
        """The history's record of a crashed run: its lease ran out without an advance or release."""
        return {
            "at": _iso(now),
            "run_id": run_id,
            "from": cursor,
            "to": cursor,
            "covered": {},
            "note": f"took over the expired lease of run {expired.run_id} (held until "
            f"{_iso(expired.expires_at)}; it ended without advancing or releasing)",
        }

    def _check_type(self, doc: StateDoc, cursor_type: str | None) -> None:
        if cursor_type and doc.cursor is not None and doc.cursor_type and doc.cursor_type != cursor_type:
            raise StateError(
                f"{self.where} holds a {doc.cursor_type} cursor ({doc.cursor!r}) but the source's "
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
            "at": _iso(now),
            "run_id": lease.run_id,
            "from": stored,
            "to": cursor,
            "covered": dict(covered),
            "note": note,
        }
        doc = replace(
            lease.state,
            source_id=self._source_id,
            cursor_type=cursor_type,
            cursor=cursor,
            updated_at=_iso(now),
            updated_by_run=lease.run_id,
            lease=None,
            history=lease.state.with_entry(entry),
            empty_runs=0 if landed_records else lease.state.empty_runs + 1,
        )
        try:
            self._put(doc, lease.etag)
        except ClientError as exc:
            if not (_is_conflict(exc) or _code(exc) == "NoSuchKey"):
                raise
            raise StateConflict(
                f"run {lease.run_id} lost its lease on {self.where} (it ran past the function timeout "
                "and another run took over): the cursor was not advanced; its data stays in the lake "
                "and the next run fetches from the stored cursor"
            ) from None
        return doc

    def release(self, lease: Lease) -> bool:
        """Give the state back without advancing (a failed run), if it is still ours.

        False when another run (or an operator) has changed it since: nothing to release.
        """
        try:
            self._put(replace(lease.state, lease=None), lease.etag)
        except ClientError as exc:
            if _is_conflict(exc) or _code(exc) == "NoSuchKey":
                return False
            raise
        return True

    # -- operators ---------------------------------------------------------------------------------

    def show(self) -> StateDoc | None:
        return self.read()[0]

    def set(self, value: Any, cursor_type: str, by: str = OPERATOR, force: bool = False) -> StateDoc:
        """Set the cursor to `value` (forward or back: a re-fetch), recorded in the history.

        Refused (StateLocked) while a run holds a live lease, unless `force`: that run then cannot
        advance (its data stays in the lake) and the next run starts from `value`. `force` also
        overwrites a document that cannot be read (StateError otherwise).
        """
        cursor_key(value, cursor_type)  # a CursorValueError before anything is written
        written = self._operator_write(by, force, f"set by {by}", value, cursor_type, create=True)
        assert written is not None  # create=True always writes
        return written

    def reset(self, by: str = OPERATOR, force: bool = False) -> StateDoc | None:
        """Clear the cursor (the next run starts from initial_value); the history is kept.

        None when there is no state yet. Refused while a run holds a live lease, unless `force`.
        """
        return self._operator_write(by, force, f"reset by {by}", None, None, create=False)

    def _operator_write(
        self, by: str, force: bool, note: str, value: Any, cursor_type: str | None, create: bool
    ) -> StateDoc | None:
        now = self._clock()
        body, etag = self._read_raw()
        if body is None and not create:
            return None
        doc = None
        if body is not None:
            try:
                doc = self._parse(body)
            except StateError:
                if not force:
                    raise
        if doc is not None and doc.lease is not None and doc.lease.live(now) and not force:
            raise StateLocked(
                f"run {doc.lease.run_id} holds {self.where} until {_iso(doc.lease.expires_at)}: wait "
                "for it to finish, or force it (that run then cannot advance the cursor)",
                doc.lease.run_id,
                doc.lease.expires_at,
            )
        base = doc or self._new_doc(now, by, cursor_type)
        entry = {"at": _iso(now), "run_id": by, "from": base.cursor, "to": value, "covered": {}, "note": note}
        new = replace(
            base,
            source_id=self._source_id,
            cursor_type=cursor_type or base.cursor_type,
            cursor=value,
            updated_at=_iso(now),
            updated_by_run=by,
            lease=None,
            history=base.with_entry(entry),
            empty_runs=0,
        )
        try:
            self._put(new, etag)
        except ClientError as exc:
            if not (_is_conflict(exc) or _code(exc) == "NoSuchKey"):
                raise
            raise StateConflict(
                f"{self.where} changed while it was being {note.split()[0]} (a run started or "
                "finished): nothing was written; show it again and retry"
            ) from None
        return new


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _is_conflict(exc: ClientError) -> bool:
    return _code(exc) in _CONFLICT_CODES or _status(exc) in _CONFLICT_STATUSES
