"""A cursor source's state, kept in the lake itself: `<raw_prefix>/_state/cursor.json`.

Every write is an S3 conditional write (If-None-Match: * to create, If-Match: <ETag> to change), so
S3 decides between concurrent runs of a source, not this code:

- of concurrent runs exactly one holds the state (a lease) and may advance the cursor; copies of one
  run (an event delivered twice) are concurrent runs too;
- the cursor never moves backward (the stored value and the run's value are compared; the larger
  stays), only an operator's `set` or `reset` moves it back, and the history says so;
- a run that crashed holding the lease blocks the next ones until the lease expires, at most the
  function's timeout; a run that outlived its lease (the next one took over) cannot advance;
- a write whose answer was lost is recognised as the writer's own, never reported as a conflict.

The state sits under the source's prefix, so it is kept with the data it describes, the role
that writes the data can write it, and a source renamed with the same raw_prefix keeps its cursor.
The document's form is in state_doc.py; runs change it through run_lease.py, operators through
state_operator.py; StateStore puts the three together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from .run_lease import RunLeases
from .state_doc import (
    HISTORY_LIMIT,
    OPERATOR,
    STATE_DIR,
    Lease,
    LeaseRecord,
    StateConflict,
    StateDoc,
    StateError,
    StateFile,
    StateLocked,
    bucket_target,
    kms_encryption,
    state_key,
)
from .state_operator import OperatorEdits

__all__ = [
    "HISTORY_LIMIT",
    "OPERATOR",
    "STATE_DIR",
    "Lease",
    "LeaseRecord",
    "StateConflict",
    "StateDoc",
    "StateError",
    "StateLocked",
    "StateStore",
    "bucket_target",
    "kms_encryption",
    "state_key",
]


class StateStore:
    """One source's cursor state: a run's lease (RunLeases) and an operator's edits (OperatorEdits)."""

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
        self.file = StateFile(s3_client, bucket, key, source_id, expected_owner, sse)
        self.where = self.file.where
        leases, edits = RunLeases(self.file, clock), OperatorEdits(self.file, clock)
        self.acquire, self.advance, self.release = leases.acquire, leases.advance, leases.release
        self.show, self.set, self.reset = edits.show, edits.set, edits.reset

    def read(self) -> tuple[StateDoc | None, str | None]:
        """The stored document and its ETag; (None, None) when there is none yet."""
        return self.file.read()
