"""The largest cursor value among the records a run lands, in bounded memory, that bad data cannot poison.

One record decides where every later run starts, so a value is adopted only if it is a plausible
high-water mark. Not adopted, counted per run (manifest, result, the CursorValuesRejected metric and
its alarm) and shown by one example:

  in_future        a timestamp later than the run's start plus `future_skew` (a 9999-12-31 "never"
                   sentinel would otherwise make every later run ask for records after 9999)
  too_long         text longer than MAX_CURSOR_TEXT characters (every later request would carry it)
  too_many_digits  a number of more than MAX_CURSOR_DIGITS digits, or that large

A value that cannot be read as the cursor type, or a record that cannot be decoded at all (nested
deeper than the decoder goes, an integer past Python's 4300-digit limit), is counted as unparseable;
neither ever stops the run.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

from .incremental import (
    CURSOR_TYPES,
    MAX_CURSOR_DIGITS,
    MAX_CURSOR_TEXT,
    CursorValueError,
    cursor_key,
    excerpt,
)
from .jsonscan import UNREADABLE
from .paths import MISSING, value_at

REJECTIONS = ("in_future", "too_long", "too_many_digits")


def bound_problem(value: Any, key: Any, cursor_type: str, not_after: datetime | None) -> str | None:
    """Why a readable cursor value must not be adopted (one of REJECTIONS), or None."""
    if isinstance(value, str) and len(value) > MAX_CURSOR_TEXT:
        return "too_long"
    if cursor_type == "number" and isinstance(key, Decimal):
        digits = len(key.as_tuple().digits)
        if digits > MAX_CURSOR_DIGITS or key.adjusted() >= MAX_CURSOR_DIGITS:
            return "too_many_digits"
    if cursor_type == "timestamp" and not_after is not None and isinstance(key, datetime) and key > not_after:
        return "in_future"
    return None


def describe_rejection(reason: str, not_after: datetime | None = None) -> str:
    """What a rejection reason means, for messages."""
    return {
        "in_future": f"later than {not_after.isoformat() if not_after else 'now'} (the run's start plus "
        "future_skew)",
        "too_long": f"longer than {MAX_CURSOR_TEXT} characters",
        "too_many_digits": f"a number of more than {MAX_CURSOR_DIGITS} digits",
    }[reason]


def json_value(value: Any) -> Any:
    """A cursor value as JSON holds it: an exact decimal as an integer, or as its digits in a string."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else format(value, "f")
    return value


class CursorTracker:
    """The largest acceptable cursor value among the records a run landed.

    It keeps the maximum (as found, and its key), counts and one example of a value that could not be
    read and of one that was rejected, never the records: a run may land millions of them.
    """

    def __init__(self, cursor_path: str, cursor_type: str, not_after: datetime | None = None) -> None:
        if cursor_type not in CURSOR_TYPES:
            raise CursorValueError(
                f"{cursor_type!r} is not a cursor type (use one of {', '.join(CURSOR_TYPES)})"
            )
        self._path = cursor_path
        self._type = cursor_type
        self._not_after = not_after
        self._max: Any = None
        self._max_key: Any = None
        self.records_without_cursor = 0
        self.unparseable = 0
        self.unparseable_example: str | None = None
        self.rejected: Counter[str] = Counter()
        self.rejected_example: str | None = None

    def fresh(self) -> CursorTracker:
        """An empty tracker with the same path, type and bounds (one page's, absorbed once it lands)."""
        return CursorTracker(self._path, self._type, self._not_after)

    def see(self, record: Any) -> Any:
        """Take one decoded record (or UNREADABLE) into account; its cursor key when it has an acceptable
        one (None otherwise). Never raises for what a record holds."""
        if record is UNREADABLE:
            self._unparseable("a record that could not be decoded (nested too deeply, or a number too long)")
            return None
        value = value_at(record, self._path)
        if value is MISSING or value is None:
            self.records_without_cursor += 1
            return None
        try:
            key = cursor_key(value, self._type)
        except (CursorValueError, ArithmeticError, RecursionError):
            self._unparseable(excerpt(value))
            return None
        reason = bound_problem(value, key, self._type, self._not_after)
        if reason is not None:
            self.rejected[reason] += 1
            if self.rejected_example is None:
                self.rejected_example = f"{excerpt(value)} ({describe_rejection(reason, self._not_after)})"
            return None
        self._offer(value, key)
        return key

    def _unparseable(self, example: str) -> None:
        self.unparseable += 1
        if self.unparseable_example is None:
            self.unparseable_example = example

    def merge(self, other_max: Any) -> None:
        """Take another maximum into account (e.g. the pages of a partial run being resumed)."""
        if other_max is not None:
            self._offer(other_max, cursor_key(other_max, self._type))

    def absorb(self, other: CursorTracker) -> None:
        """Add what another tracker saw (one page's, once the page is landed as data)."""
        if other._max_key is not None:
            self._offer(other._max, other._max_key)
        self.records_without_cursor += other.records_without_cursor
        self.unparseable += other.unparseable
        self.unparseable_example = self.unparseable_example or other.unparseable_example
        self.rejected.update(other.rejected)
        self.rejected_example = self.rejected_example or other.rejected_example

    def _offer(self, value: Any, key: Any) -> None:
        if self._max_key is None or key > self._max_key:
            self._max, self._max_key = value, key

    @property
    def path(self) -> str:
        return self._path

    @property
    def cursor_type(self) -> str:
        return self._type

    @property
    def maximum(self) -> Any:
        """The largest acceptable value as it was found in its record (an exact decimal as its digits);
        None when no record had one."""
        return json_value(self._max)

    @property
    def maximum_key(self) -> Any:
        return self._max_key

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def not_adopted(self) -> int:
        """Values that were there but not adopted: beyond the bounds, or unreadable (the metric)."""
        return self.rejected_total + self.unparseable

    def as_dict(self) -> dict[str, Any]:
        """For the run's manifest and result."""
        return {
            "max_seen": json_value(self._max),
            "records_without_cursor": self.records_without_cursor,
            "unparseable": self.unparseable,
            "unparseable_example": self.unparseable_example,
            "rejected": {reason: self.rejected[reason] for reason in REJECTIONS if self.rejected[reason]},
            "rejected_example": self.rejected_example,
        }
