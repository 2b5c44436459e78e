"""A cursor source's state document and the one object it is kept in: `<raw_prefix>/_state/cursor.json`.

state.py says what the state guarantees; run_lease.py (a run's lease) and state_operator.py (an
operator's set and reset) change it, every write through StateFile.

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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from .s3_reads import read_object

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


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def instant(text: str) -> datetime:
    """A stored instant; one edited by hand without an offset is UTC, as everywhere in lake-ingest."""
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _json_default(value: Any) -> Any:
    """Cursor values as found are JSON values; a Decimal (a record decoded with parse_float=Decimal)
    is written exactly: an integer as a number, anything else as its digits in a string."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else format(value, "f")
    if isinstance(value, datetime):
        return iso(value)
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
                {"run_id": self.lease.run_id, "expires_at": iso(self.lease.expires_at)}
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
                    LeaseRecord(str(lease["run_id"]), instant(lease["expires_at"]))
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


class StateFile:
    """The state object: read it, and write it only on top of the version read (S3 conditional writes).

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
        sse: Mapping[str, Any] | None = None,
    ) -> None:
        self._client = s3_client
        self._key = key
        self.source_id = source_id
        self._sse = dict(sse or {})
        self._target = bucket_target(bucket, expected_owner)
        self.where = f"s3://{bucket}/{key}"

    def read(self) -> tuple[StateDoc | None, str | None]:
        """The stored document and its ETag; (None, None) when there is none yet."""
        body, etag = self.read_raw()
        return (None, None) if body is None else (self.parse(body), etag)

    def read_raw(self) -> tuple[bytes | None, str | None]:
        try:
            return read_object(self._client, self._target, self._key)
        except ClientError as exc:
            if error_code(exc) == "NoSuchKey":
                return None, None
            raise

    def parse(self, body: bytes) -> StateDoc:
        try:
            data = json.loads(body)
        except ValueError:
            raise StateError(f"{self.where} is not JSON: reset it (with force)") from None
        return StateDoc.from_json(data, self.where)

    def put(self, doc: StateDoc, etag: str | None) -> str:
        """Write `doc` if the stored state is still the one with `etag` (None: if there is none)."""
        body = _body(doc)
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

    def put_or_recognise(self, doc: StateDoc, etag: str | None) -> str | None:
        """`put`, and None when another writer got there first.

        A conditional write that S3 applied but whose answer was lost is retried by botocore, and the
        retry is answered 412 because of the write itself: when the stored document is byte for byte
        the one this call wrote, that is this call's success (its ETag is returned), not a conflict.
        """
        try:
            return self.put(doc, etag)
        except ClientError as exc:
            if not (is_conflict(exc) or error_code(exc) == "NoSuchKey"):
                raise
        body, stored_etag = self.read_raw()
        return stored_etag if body is not None and body == _body(doc) else None

    def new_doc(self, now: datetime, by: str, cursor_type: str | None) -> StateDoc:
        return StateDoc(self.source_id, cursor_type, None, iso(now), by)


def _body(doc: StateDoc) -> bytes:
    return json.dumps(doc.to_json(), indent=2, sort_keys=True, default=_json_default).encode()


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def is_conflict(exc: ClientError) -> bool:
    return error_code(exc) in _CONFLICT_CODES or http_status(exc) in _CONFLICT_STATUSES
