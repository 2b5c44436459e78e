"""An operator's view of a cursor source's state: show it, set the cursor, reset it (state_cli.py).

Both writes are conditional, refused while a run holds a live lease unless forced, and recorded in
the history as the operator's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from .incremental import cursor_key
from .state_doc import OPERATOR, StateConflict, StateDoc, StateError, StateFile, StateLocked, iso


class OperatorEdits:
    """Shows, sets and resets one source's stored cursor."""

    def __init__(self, file: StateFile, clock: Callable[[], datetime]) -> None:
        self._file = file
        self._clock = clock

    def show(self) -> StateDoc | None:
        return self._file.read()[0]

    def set(self, value: Any, cursor_type: str, by: str = OPERATOR, force: bool = False) -> StateDoc:
        """Set the cursor to `value` (forward or back: a re-fetch), recorded in the history.

        Refused (StateLocked) while a run holds a live lease, unless `force`: that run then cannot
        advance (its data stays in the lake) and the next run starts from `value`. `force` also
        overwrites a document that cannot be read (StateError otherwise).
        """
        cursor_key(value, cursor_type)  # a CursorValueError before anything is written
        written = self._write(by, force, f"set by {by}", value, cursor_type, create=True)
        assert written is not None  # create=True always writes
        return written

    def reset(self, by: str = OPERATOR, force: bool = False) -> StateDoc | None:
        """Clear the cursor (the next run starts from initial_value); the history is kept.

        None when there is no state yet. Refused while a run holds a live lease, unless `force`.
        """
        return self._write(by, force, f"reset by {by}", None, None, create=False)

    def _write(
        self, by: str, force: bool, note: str, value: Any, cursor_type: str | None, create: bool
    ) -> StateDoc | None:
        now = self._clock()
        body, etag = self._file.read_raw()
        if body is None and not create:
            return None
        doc = self._readable(body, force)
        if doc is not None and doc.lease is not None and doc.lease.live(now) and not force:
            raise StateLocked(
                f"run {doc.lease.run_id} holds {self._file.where} until {iso(doc.lease.expires_at)}: wait "
                "for it to finish, or force it (that run then cannot advance the cursor)",
                doc.lease.run_id,
                doc.lease.expires_at,
            )
        base = doc or self._file.new_doc(now, by, cursor_type)
        entry = {"at": iso(now), "run_id": by, "from": base.cursor, "to": value, "covered": {}, "note": note}
        new = replace(
            base,
            source_id=self._file.source_id,
            cursor_type=cursor_type or base.cursor_type,
            cursor=value,
            updated_at=iso(now),
            updated_by_run=by,
            lease=None,
            history=base.with_entry(entry),
            empty_runs=0,
        )
        if self._file.put_or_recognise(new, etag) is None:
            raise StateConflict(
                f"{self._file.where} changed while it was being {note.split()[0]} (a run started or "
                "finished): nothing was written; show it again and retry"
            )
        return new

    def _readable(self, body: bytes | None, force: bool) -> StateDoc | None:
        if body is None:
            return None
        try:
            return self._file.parse(body)
        except StateError:
            if not force:
                raise
        return None
