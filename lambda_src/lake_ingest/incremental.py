"""Incremental sources (API_CONFIG.incremental): which slice of the data one run asks the API for.

Two kinds, both pure arithmetic here (no AWS; the stored cursor lives in state.py):

  window  each run covers [start, end): end = the scheduled time - lag, start = end - window, or a
          window sent in the event (a backfill). Days are calendar days on the wall clock of the
          configured time zone, so a daily window stays on local midnight across daylight saving
          changes (a 23 h or a 25 h day); s/m/h are absolute durations.
  cursor  a high-water mark read from the records (e.g. `updated_at`): the largest value a run saw
          is sent to the next run, minus a lookback overlap, so late updates are fetched again
          rather than missed (duplicates are cheap in a raw zone; gaps are not).

The values reach the request through placeholders, `{window_start}`, `{window_end}` and
`{cursor}`, in query parameter values, string values of the body (at any depth) and the endpoint's
path, formatted as the API expects (ISO 8601, a date, epoch seconds or milliseconds, or strftime).
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

PLACEHOLDERS = ("window_start", "window_end", "cursor")
TYPES = ("window", "cursor")
CURSOR_TYPES = ("timestamp", "number", "string")
FORMATS = ("iso8601", "date", "epoch", "epoch_ms")
DURATION_PATTERN = re.compile(r"^([0-9]+)(s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
# What stays readable in a path segment: RFC 3986 unreserved characters plus ':' and '@'. Everything
# else is percent-encoded, '/' included (a value stays inside its segment) and '+' (which some
# servers read as a space in a path).
_PATH_SAFE = ":@-._~"
# In a query value: unreserved characters plus ':' and '@' ('+', '&', '=', ';' and '#' are encoded).
_QUERY_SAFE = ":@-._~"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
# An epoch number at or above this is in milliseconds: as seconds it would be after the year 5000,
# as milliseconds it is March 1973.
EPOCH_MS_THRESHOLD = Decimal(100_000_000_000)
# Past the year 9999 even as milliseconds: no instant Python can hold.
EPOCH_LIMIT = Decimal(253_402_300_800_000)
_EPOCH_TEXT = re.compile(r"^-?[0-9]{9,}(\.[0-9]+)?$")
# A date with an offset and no time: Python 3.11 reads "2026-01-01+01:00" as 01:00 UTC, so the
# midnight it means is written out before parsing.
_DATE_WITH_OFFSET = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})([+-][0-9]{2}:?[0-9]{2})$")
_EXAMPLE_CHARS = 80
# Bounds on a cursor value (cursor_tracker.py): longer text, or a number of more digits, is never
# adopted: every later request would carry it (a 300 KB cursor is an HTTP 414 on every run).
MAX_CURSOR_TEXT = 1024
MAX_CURSOR_DIGITS = 40
DEFAULT_FUTURE_SKEW = "1h"


class IncrementalError(ValueError):
    """API_CONFIG.incremental (or the window an event sends) is invalid. The message names the field.

    Worded as config.ConfigError is, with the same `field` attribute, but not a subclass of it: the
    configuration module imports this one, and importing it back would be circular.
    """

    def __init__(self, field_name: str, problem: str) -> None:
        self.field = f"API_CONFIG.incremental.{field_name}"
        super().__init__(f"invalid configuration: {self.field}: {problem}")


class CursorValueError(ValueError):
    """A cursor value that cannot be read as the configured cursor type."""


# -- durations and time zones ------------------------------------------------------------------------


@dataclass(frozen=True)
class Duration:
    """A window, lag or lookback: s/m/h are absolute, d are calendar days on the zone's wall clock."""

    amount: int
    unit: str  # s | m | h | d

    @property
    def fixed(self) -> timedelta | None:
        """The absolute length (s, m, h); None for calendar days."""
        seconds = _UNIT_SECONDS.get(self.unit)
        return None if seconds is None else timedelta(seconds=self.amount * seconds)

    @property
    def days(self) -> int:
        """Calendar days (d); 0 for the absolute units."""
        return self.amount if self.unit == "d" else 0

    @property
    def is_zero(self) -> bool:
        return self.amount == 0

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


def parse_duration(text: str, field_name: str = "duration") -> Duration:
    """'15m' -> Duration(15, 'm'); an IncrementalError naming `field_name` otherwise."""
    match = DURATION_PATTERN.match(text) if isinstance(text, str) else None
    if match is None:
        raise IncrementalError(
            field_name,
            f"{text!r} is not a duration: a whole number and a unit, s, m, h or d (e.g. 90s, 15m, 1h, 1d)",
        )
    return Duration(int(match[1]), match[2])


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone `name`; an IncrementalError naming `timezone` when it is unknown."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        pass
    if not zoneinfo.available_timezones():
        problem = (
            f"{name!r} cannot be looked up: this Python has no time zone database "
            "(add the tzdata package to the function's requirements)"
        )
    else:
        problem = f"{name!r} is not an IANA time zone name (e.g. UTC, Europe/Berlin, America/New_York)"
    raise IncrementalError("timezone", problem)


def _utc(instant: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken as UTC (as the event parser does)."""
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def resolve_wall_time(wall: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """A naive wall-clock time in `tz` as a UTC instant.

    An ambiguous time (the repeated hour when clocks go back) is its first occurrence; a time that
    does not exist (the hour skipped when clocks go forward) moves forward by the gap, 02:30 -> 03:30.
    Both are what fold=0 means (PEP 495), and the first occurrence is the one EventBridge Scheduler
    runs a schedule at, so consecutive windows meet.
    """
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def minus(instant: datetime, duration: Duration, tz: zoneinfo.ZoneInfo) -> datetime:
    """`instant` - `duration`: absolute for s/m/h, calendar days on `tz`'s wall clock for d."""
    return _shift(instant, duration, tz, -1)


def plus(instant: datetime, duration: Duration, tz: zoneinfo.ZoneInfo) -> datetime:
    """`instant` + `duration`: absolute for s/m/h, calendar days on `tz`'s wall clock for d."""
    return _shift(instant, duration, tz, 1)


def _shift(instant: datetime, duration: Duration, tz: zoneinfo.ZoneInfo, sign: int) -> datetime:
    fixed = duration.fixed
    if fixed is not None:
        return _utc(instant) + sign * fixed
    local = _utc(instant).astimezone(tz).replace(tzinfo=None)
    return resolve_wall_time(local + sign * timedelta(days=duration.days), tz)


# -- configuration -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncrementalConfig:
    """API_CONFIG.incremental, parsed. `from_dict` checks what the schema cannot (rules across fields)."""

    type: str  # window | cursor
    window: Duration | None = None
    lag: Duration = Duration(0, "s")
    format: str = "iso8601"
    timezone: str = "UTC"
    cursor_path: str = ""
    cursor_type: str = "timestamp"
    initial_value: str | int | float | None = None
    lookback: Duration | float | int | None = None
    # A timestamp cursor value later than the run's start plus this is not adopted (cursor_tracker.py).
    future_skew: Duration = Duration(1, "h")

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zone(self.timezone)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> IncrementalConfig:
        """Parse the `incremental` object. The schema has checked its keys and their JSON types.

        Raises IncrementalError for what only the combination of fields tells: a lookback of the
        wrong kind for the cursor type, an initial value that is not of the cursor type, a format
        for a cursor that is sent as found, an unknown time zone, cursor options on a window source.
        """
        data = {k: v for k, v in d.items() if v is not None}
        kind = data.get("type")
        if kind not in TYPES:
            raise IncrementalError("type", f"{kind!r} is not a type: use one of {', '.join(TYPES)}")
        timezone = str(data.get("timezone", "UTC"))
        zone(timezone)
        window = parse_duration(data["window"], "window") if "window" in data else None
        if window is not None and window.is_zero:
            raise IncrementalError("window", "must be longer than 0 (e.g. 1h or 1d)")
        lag = parse_duration(data.get("lag", "0s"), "lag")
        fmt = str(data.get("format", "iso8601"))
        check_format(fmt)
        if kind == "window":
            for name in ("cursor_path", "cursor_type", "initial_value", "lookback", "future_skew"):
                if name in data:
                    raise IncrementalError(name, 'applies only to type "cursor"')
            return cls(type="window", window=window, lag=lag, format=fmt, timezone=timezone)

        cursor_type = str(data.get("cursor_type", "timestamp"))
        if cursor_type not in CURSOR_TYPES:
            raise IncrementalError("cursor_type", f"{cursor_type!r}: use one of {', '.join(CURSOR_TYPES)}")
        cursor_path = str(data.get("cursor_path", ""))
        if not cursor_path:
            raise IncrementalError(
                "cursor_path", 'is needed with type "cursor": the dot path of the cursor in each record'
            )
        if "format" in data and cursor_type != "timestamp":
            raise IncrementalError(
                "format",
                f"applies only to windows and timestamp cursors; a {cursor_type} cursor is sent as found",
            )
        initial_value = data.get("initial_value")
        if initial_value is None:
            example = {"timestamp": "2026-01-01T00:00:00Z", "number": "0", "string": '""'}[cursor_type]
            raise IncrementalError(
                "initial_value",
                f'is needed with type "cursor": the value the first run sends as {{cursor}} (e.g. {example})',
            )
        try:
            cursor_key(initial_value, cursor_type)
        except CursorValueError as exc:
            raise IncrementalError("initial_value", str(exc)) from None
        lookback = _parse_lookback(data.get("lookback"), cursor_type)
        if "future_skew" in data and cursor_type != "timestamp":
            raise IncrementalError(
                "future_skew", f"applies only to timestamp cursors, not a {cursor_type} cursor"
            )
        future_skew = parse_duration(data.get("future_skew", DEFAULT_FUTURE_SKEW), "future_skew")
        return cls(
            type="cursor",
            window=window,
            lag=lag,
            format=fmt,
            timezone=timezone,
            cursor_path=cursor_path,
            cursor_type=cursor_type,
            initial_value=initial_value,
            lookback=lookback,
            future_skew=future_skew,
        )


def check_format(fmt: str) -> None:
    """An IncrementalError naming `format` unless it is a known name or a strftime pattern."""
    if fmt not in FORMATS and "%" not in fmt:
        raise IncrementalError(
            "format",
            f"{fmt!r}: use one of {', '.join(FORMATS)}, or a strftime pattern such as %Y-%m-%dT%H:%M:%S",
        )


def _parse_lookback(value: Any, cursor_type: str) -> Duration | float | int | None:
    if value is None:
        return None
    if cursor_type == "string":
        raise IncrementalError("lookback", "a string cursor has no order to look back along: leave it out")
    if cursor_type == "timestamp":
        if not isinstance(value, str):
            raise IncrementalError("lookback", "must be a duration for a timestamp cursor (e.g. 10m or 1d)")
        return parse_duration(value, "lookback")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise IncrementalError("lookback", "must be a number for a number cursor (e.g. 100)")
    if value < 0:
        raise IncrementalError("lookback", "must be 0 or more")
    return value


# -- windows -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC."""

    start: datetime
    end: datetime

    def placeholders(self, fmt: str, tz: str) -> dict[str, str]:
        """The values of {window_start} and {window_end}, formatted for the API."""
        return {
            "window_start": format_instant(self.start, fmt, tz),
            "window_end": format_instant(self.end, fmt, tz),
        }

    def as_dict(self) -> dict[str, str]:
        """For a manifest or the state's history: both ends in ISO 8601 UTC."""
        return {"window_start": _iso_utc(self.start), "window_end": _iso_utc(self.end)}


def window_for(
    cfg: IncrementalConfig,
    scheduled_time: datetime | None,
    explicit: tuple[datetime, datetime] | None,
    now: datetime,
) -> Window:
    """The window one run covers.

    An explicit window (sent in the event) wins. Otherwise the window ends at the scheduled time -
    lag. Without a scheduled time (a manual invocation) it is the most recent whole window that
    ended at or before now - lag: days end at local midnight; s/m/h end on a multiple of the window
    on the zone's wall clock at that moment (from local midnight when the window divides a day).
    """
    if explicit is not None:
        start, end = _utc(explicit[0]), _utc(explicit[1])
        if not start < end:
            raise IncrementalError(
                "window", f"the window's start ({_iso_utc(start)}) must be before its end ({_iso_utc(end)})"
            )
        return Window(start, end)
    if cfg.window is None:
        raise IncrementalError(
            "window",
            "is needed: set API_CONFIG.incremental.window (e.g. 1h), or send the window in the event",
        )
    tz = cfg.zone
    if scheduled_time is not None:
        end = minus(scheduled_time, cfg.lag, tz)
    else:
        end = _aligned_end(minus(now, cfg.lag, tz), cfg.window, tz)
    return Window(minus(end, cfg.window, tz), end)


def _aligned_end(reference: datetime, window: Duration, tz: zoneinfo.ZoneInfo) -> datetime:
    """The latest window boundary at or before `reference`."""
    local = reference.astimezone(tz).replace(tzinfo=None)
    fixed = window.fixed
    if fixed is None:
        return resolve_wall_time(datetime.combine(local.date(), time()), tz)
    # Subtracting the wall-clock remainder from the instant keeps the result at or before it
    # even next to a clock change.
    return reference - (local - _NAIVE_EPOCH) % fixed


# -- formatting and placeholders ---------------------------------------------------------------------


def _iso_utc(instant: datetime) -> str:
    return _utc(instant).isoformat().replace("+00:00", "Z")


def format_instant(dt: datetime, fmt: str, tz: str) -> str:
    """An instant as the API expects it: iso8601 (in `tz`, 'Z' for a zero offset), date (in `tz`),
    epoch (whole seconds), epoch_ms, or a strftime pattern (in `tz`). Epochs round down, so a lower
    bound never moves later than the instant."""
    instant = _utc(dt)
    if fmt == "epoch":
        return str((instant - EPOCH) // timedelta(seconds=1))
    if fmt == "epoch_ms":
        return str((instant - EPOCH) // timedelta(milliseconds=1))
    local = instant.astimezone(zone(tz))
    if fmt == "iso8601":
        text = local.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if fmt == "date":
        return local.date().isoformat()
    check_format(fmt)
    return local.strftime(fmt)


def placeholders_in(value: Any) -> set[str]:
    """The placeholder names used in a string, or in the values of a dict or list at any depth."""
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, Mapping):
        return set().union(*(placeholders_in(v) for v in value.values()))
    if isinstance(value, (list, tuple)):
        return set().union(*(placeholders_in(v) for v in value))
    return set()


def substitute(value: Any, values: Mapping[str, str]) -> Any:
    """A copy of `value` with each known {placeholder} present in `values` replaced, in strings at
    any depth (dict values, list items). Other braces, and names not in `values`, stay as written."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), value)
    if isinstance(value, Mapping):
        return {k: substitute(v, values) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [substitute(v, values) for v in value]
    return value


def substitute_url(url: str, values: Mapping[str, str]) -> str:
    """The endpoint with placeholders in its path and query replaced by the percent-encoded values.

    Scheme and host are never touched, and a value is encoded whole (`/` in a path segment, `&`, `=`
    and `#` in a query value), so it can neither change where the request goes nor add a parameter.
    """
    parts = urlsplit(url)

    def fill(text: str, safe: str) -> str:
        return _PLACEHOLDER.sub(lambda m: quote(values[m[1]], safe=safe) if m[1] in values else m[0], text)

    path, query = fill(parts.path, _PATH_SAFE), fill(parts.query, _QUERY_SAFE)
    if (path, query) == (parts.path, parts.query):
        return url
    return urlunsplit(parts._replace(path=path, query=query))


# -- cursor values -----------------------------------------------------------------------------------


def excerpt(value: Any) -> str:
    """A value as text, at most 80 characters (for messages and manifests)."""
    try:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
    except (ValueError, RecursionError):  # an integer past Python's digit limit, a value nested too deep
        text = f"<{type(value).__name__}>"
    return text if len(text) <= _EXAMPLE_CHARS else text[: _EXAMPLE_CHARS - 1] + "…"


_excerpt = excerpt


def _from_epoch(number: Decimal, original: Any) -> datetime:
    if not number.is_finite():
        raise CursorValueError(f"{_excerpt(original)!r} is not a timestamp")
    if abs(number) >= EPOCH_LIMIT:
        raise CursorValueError(f"{_excerpt(original)!r} is out of range for a timestamp")
    seconds = number / 1000 if abs(number) >= EPOCH_MS_THRESHOLD else number
    micros = int((seconds * 1_000_000).to_integral_value(rounding=ROUND_FLOOR))
    try:
        return EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        raise CursorValueError(f"{_excerpt(original)!r} is out of range for a timestamp") from None


def _decimal(value: int | float | Decimal) -> Decimal:
    """A number as a Decimal; an integer past Python's int-to-text digit limit (4300) is not one."""
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except ValueError:
        raise CursorValueError(
            f"a number of more than {MAX_CURSOR_DIGITS} digits is not a cursor value"
        ) from None


def _timestamp_key(value: Any) -> datetime:
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return _from_epoch(_decimal(value), value)
    if isinstance(value, str) and len(value) <= MAX_CURSOR_TEXT:
        text = value.strip()
        if _EPOCH_TEXT.match(text):
            return _from_epoch(Decimal(text), value)
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        text = _DATE_WITH_OFFSET.sub(r"\1T00:00:00\2", text)
        try:
            return _utc(datetime.fromisoformat(text))
        except ValueError:
            pass
        except OverflowError:  # 9999-12-31T23:00:00-05:00 is past the last instant Python can hold in UTC
            raise CursorValueError(f"{_excerpt(value)!r} is out of range for a timestamp") from None
    raise CursorValueError(
        f"{_excerpt(value)!r} is not a timestamp (ISO 8601 such as 2026-01-31T06:00:00Z, "
        "or epoch seconds or milliseconds)"
    )


def _number_key(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = _decimal(value)
    elif isinstance(value, str) and len(value) <= MAX_CURSOR_TEXT:
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = Decimal("NaN")
    else:
        number = Decimal("NaN")
    if not number.is_finite():
        raise CursorValueError(f"{_excerpt(value)!r} is not a number")
    return number


def _unknown_type(cursor_type: str) -> CursorValueError:
    return CursorValueError(f"{cursor_type!r} is not a cursor type (use one of {', '.join(CURSOR_TYPES)})")


def cursor_key(value: Any, cursor_type: str) -> Any:
    """What cursor values are compared by: an aware UTC datetime (timestamp: ISO 8601 with Z, an
    offset or none (UTC), or epoch seconds/milliseconds), a Decimal (number) or the text (string).
    A CursorValueError for a value that is not of the type."""
    if cursor_type == "timestamp":
        return _timestamp_key(value)
    if cursor_type == "number":
        return _number_key(value)
    if cursor_type == "string":
        if not isinstance(value, str):
            raise CursorValueError(f"{_excerpt(value)!r} is not a string")
        return value
    raise _unknown_type(cursor_type)


def apply_lookback(
    value: Any, cursor_type: str, lookback: Duration | float | int | None, tz: str = "UTC"
) -> Any:
    """The cursor key moved back by the lookback (timestamp: a duration, days on `tz`'s wall clock;
    number: an amount), so records updated while the previous run read its pages are fetched again."""
    key = cursor_key(value, cursor_type)
    if lookback is None:
        return key
    if cursor_type == "timestamp" and isinstance(lookback, Duration):
        return minus(key, lookback, zone(tz))
    if cursor_type == "number" and not isinstance(lookback, (Duration, bool)):
        return key - Decimal(str(lookback))
    raise CursorValueError(f"a lookback of {lookback!r} does not apply to a {cursor_type} cursor")


def format_cursor(value: Any, cursor_type: str, fmt: str = "iso8601", tz: str = "UTC") -> str:
    """The {cursor} text: a timestamp as format_instant writes it, a number in plain digits (never
    an exponent), a string as it is."""
    key = cursor_key(value, cursor_type)
    if cursor_type == "timestamp":
        return format_instant(key, fmt, tz)
    if cursor_type == "number":
        return format(key, "f")
    return str(key)
