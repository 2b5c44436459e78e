"""lake_ingest.incremental: durations, windows across daylight saving changes, formats, placeholders,
cursor values and the tracker. Pure functions: no AWS, no clock (every `now` is given)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from lake_ingest.cursor_tracker import CursorTracker
from lake_ingest.incremental import (
    PLACEHOLDERS,
    CursorValueError,
    Duration,
    IncrementalConfig,
    IncrementalError,
    Window,
    apply_lookback,
    cursor_key,
    format_cursor,
    format_instant,
    parse_duration,
    placeholders_in,
    substitute,
    substitute_url,
    window_for,
)

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # far from the windows below unless a test says otherwise


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def window_cfg(**options: object) -> IncrementalConfig:
    return IncrementalConfig.from_dict({"type": "window", **options})


def cursor_cfg(**options: object) -> IncrementalConfig:
    return IncrementalConfig.from_dict(
        {"type": "cursor", "cursor_path": "updated_at", "initial_value": "2026-01-01T00:00:00Z", **options}
    )


# -- durations ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fixed", "days"),
    [
        ("0s", timedelta(0), 0),
        ("90s", timedelta(seconds=90), 0),
        ("15m", timedelta(minutes=15), 0),
        ("1h", timedelta(hours=1), 0),
        ("24h", timedelta(hours=24), 0),
        ("1d", None, 1),
        ("7d", None, 7),
    ],
)
def test_durations(text, fixed, days):
    duration = parse_duration(text)
    assert duration.fixed == fixed
    assert duration.days == days
    assert str(duration) == text


@pytest.mark.parametrize("text", ["", "1", "h", "1.5h", "-1h", "1w", "1 h", " 1h", "1H", "1h ", "1hh"])
def test_a_malformed_duration_names_its_field(text):
    with pytest.raises(IncrementalError, match=r"^invalid configuration: API_CONFIG\.incremental\.lag: "):
        parse_duration(text, "lag")


# -- windows from the scheduled time -----------------------------------------------------------------


def test_a_window_ends_at_the_scheduled_time_minus_the_lag():
    cfg = window_cfg(window="1h", lag="15m")
    window = window_for(cfg, utc(2026, 5, 4, 10, 0), None, NOW)
    assert window == Window(utc(2026, 5, 4, 8, 45), utc(2026, 5, 4, 9, 45))


def test_a_scheduled_time_with_seconds_is_taken_as_it_is():
    """EventBridge Scheduler sends the slot's time; the window follows it exactly, unaligned."""
    window = window_for(window_cfg(window="15m"), utc(2026, 5, 4, 10, 7, 30), None, NOW)
    assert (window.start, window.end) == (utc(2026, 5, 4, 9, 52, 30), utc(2026, 5, 4, 10, 7, 30))


def daily_windows(first_midnight: datetime, days: int, lag: str = "0s") -> list[Window]:
    """The windows of a daily schedule at local midnight, as EventBridge Scheduler sends them."""
    cfg = window_cfg(window="1d", timezone="Europe/Berlin", lag=lag)
    schedule = [(first_midnight + timedelta(days=n)).astimezone(UTC) for n in range(days)]
    # datetime + timedelta on an aware local time is wall-clock arithmetic: midnight stays midnight.
    return [window_for(cfg, scheduled, None, NOW) for scheduled in schedule]


@pytest.mark.parametrize(
    ("first_midnight", "odd_day", "odd_length"),
    [
        (berlin(2026, 3, 26), berlin(2026, 3, 29), timedelta(hours=23)),  # spring forward, 29 March
        (berlin(2026, 10, 22), berlin(2026, 10, 25), timedelta(hours=25)),  # fall back, 25 October
    ],
)
def test_daily_windows_stay_on_local_midnight_across_daylight_saving_changes(
    first_midnight, odd_day, odd_length
):
    windows = daily_windows(first_midnight, 8)
    for window in windows:
        local_start, local_end = window.start.astimezone(BERLIN), window.end.astimezone(BERLIN)
        assert (local_start.hour, local_start.minute) == (0, 0), window
        assert (local_end.hour, local_end.minute) == (0, 0), window
        assert window.start.tzinfo == UTC and window.end.tzinfo == UTC
    for earlier, later in pairwise(windows):
        assert earlier.end == later.start  # contiguous, no overlap
    lengths = {w.start.astimezone(BERLIN).date(): w.end - w.start for w in windows}
    assert lengths[odd_day.date()] == odd_length
    assert [d for d, length in lengths.items() if length != timedelta(hours=24)] == [odd_day.date()]


def test_the_23_and_25_hour_days_in_utc():
    """The run scheduled at local midnight covers the day that just ended."""
    spring = daily_windows(berlin(2026, 3, 30), 1)[0]
    assert (spring.start, spring.end) == (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))
    autumn = daily_windows(berlin(2026, 10, 26), 1)[0]
    assert (autumn.start, autumn.end) == (utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))


@pytest.mark.parametrize("first", [utc(2026, 3, 28, 22), utc(2026, 10, 24, 22)])
def test_hourly_windows_are_one_hour_across_daylight_saving_changes(first):
    cfg = window_cfg(window="1h", timezone="Europe/Berlin")
    windows = [window_for(cfg, first + timedelta(hours=n), None, NOW) for n in range(8)]
    assert all(w.end - w.start == timedelta(hours=1) for w in windows)
    assert all(a.end == b.start for a, b in pairwise(windows))


def test_a_daily_lag_is_calendar_days_too():
    """A lag of 1d on the day after the clocks go forward ends the window at local midnight."""
    cfg = window_cfg(window="1d", lag="1d", timezone="Europe/Berlin")
    window = window_for(cfg, berlin(2026, 3, 31).astimezone(UTC), None, NOW)
    assert window == Window(berlin(2026, 3, 29).astimezone(UTC), berlin(2026, 3, 30).astimezone(UTC))
    assert window.end - window.start == timedelta(hours=23)


def test_a_day_start_that_does_not_exist_moves_forward_by_the_gap():
    """Schedules at 02:30 local: on 29 March 02:30 does not exist in Berlin, and is read as 03:30."""
    cfg = window_cfg(window="1d", timezone="Europe/Berlin")
    window = window_for(cfg, berlin(2026, 3, 30, 2, 30).astimezone(UTC), None, NOW)
    assert window.start == utc(2026, 3, 29, 1, 30)  # 03:30 CEST
    assert window.start.astimezone(BERLIN).strftime("%H:%M %Z") == "03:30 CEST"


def test_an_ambiguous_day_start_is_its_first_occurrence():
    """02:30 on 25 October happens twice in Berlin; the window starts at the first (CEST)."""
    cfg = window_cfg(window="1d", timezone="Europe/Berlin")
    window = window_for(cfg, berlin(2026, 10, 26, 2, 30).astimezone(UTC), None, NOW)
    assert window.start == utc(2026, 10, 25, 0, 30)
    assert window.end - window.start == timedelta(hours=25)


# -- explicit windows and the missing window ---------------------------------------------------------


def test_an_explicit_window_wins_over_the_schedule():
    explicit = (utc(2025, 1, 1), utc(2025, 2, 1))
    assert window_for(window_cfg(window="1h"), utc(2026, 5, 4, 10), explicit, NOW) == Window(*explicit)


def test_an_explicit_window_needs_no_configured_length_and_naive_times_are_utc():
    window = window_for(window_cfg(), None, (datetime(2025, 1, 1), datetime(2025, 1, 2)), NOW)
    assert window == Window(utc(2025, 1, 1), utc(2025, 1, 2))


@pytest.mark.parametrize("end", [utc(2025, 1, 1), utc(2024, 12, 31)])
def test_an_explicit_window_must_end_after_it_starts(end):
    with pytest.raises(IncrementalError, match=r"incremental\.window: the window's start .* before its end"):
        window_for(window_cfg(window="1h"), None, (utc(2025, 1, 1), end), NOW)


def test_without_a_window_length_a_run_needs_the_window_in_its_event():
    with pytest.raises(IncrementalError) as error:
        window_for(window_cfg(), utc(2026, 5, 4, 10), None, NOW)
    assert str(error.value) == (
        "invalid configuration: API_CONFIG.incremental.window: is needed: set "
        "API_CONFIG.incremental.window (e.g. 1h), or send the window in the event"
    )


# -- windows without a scheduled time (a manual invocation) ------------------------------------------


@pytest.mark.parametrize(
    ("window", "lag", "tz", "now", "expected"),
    [
        # the most recent whole hour before now
        ("1h", "0s", "UTC", utc(2026, 5, 4, 10, 59, 59), (utc(2026, 5, 4, 9), utc(2026, 5, 4, 10))),
        # a window that ends exactly now is whole
        ("1h", "0s", "UTC", utc(2026, 5, 4, 10), (utc(2026, 5, 4, 9), utc(2026, 5, 4, 10))),
        # the lag moves the reference back before aligning
        ("15m", "10m", "UTC", utc(2026, 5, 4, 10, 5), (utc(2026, 5, 4, 9, 30), utc(2026, 5, 4, 9, 45))),
        # India is UTC+05:30: 10:20 UTC is 15:50 there, so the last whole hour on its wall clock
        # is 14:00-15:00, which is 08:30-09:30 UTC
        (
            "1h",
            "0s",
            "Asia/Kolkata",
            utc(2026, 5, 4, 10, 20),
            (utc(2026, 5, 4, 8, 30), utc(2026, 5, 4, 9, 30)),
        ),
        # days end at local midnight: 01:30 UTC on 29 March is 03:30 CEST, so the last whole day is
        # 28 March, a 24 h day that ends at 23:00 UTC
        ("1d", "0s", "Europe/Berlin", utc(2026, 3, 29, 1, 30), (utc(2026, 3, 27, 23), utc(2026, 3, 28, 23))),
        # and the day after, 29 March is the 23 h day
        ("1d", "0s", "Europe/Berlin", utc(2026, 3, 30, 9), (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))),
        ("7d", "0s", "UTC", utc(2026, 5, 4, 10), (utc(2026, 4, 27), utc(2026, 5, 4))),
    ],
)
def test_without_a_scheduled_time_the_most_recent_whole_window(window, lag, tz, now, expected):
    cfg = window_cfg(window=window, lag=lag, timezone=tz)
    assert window_for(cfg, None, None, now) == Window(*expected)


def test_without_a_scheduled_time_the_window_never_ends_after_now_minus_lag():
    cfg = window_cfg(window="1h", lag="5m", timezone="Europe/Berlin")
    start = utc(2026, 10, 24, 23)
    for minute in range(0, 6 * 60, 7):  # across the fall-back night, every 7 minutes
        now = start + timedelta(minutes=minute)
        window = window_for(cfg, None, None, now)
        assert window.end <= now - timedelta(minutes=5) < window.end + timedelta(hours=1)
        assert window.end - window.start == timedelta(hours=1)


# -- formats -----------------------------------------------------------------------------------------

INSTANT = utc(2026, 3, 29, 1, 0)  # 03:00 CEST, the first hour of summer time in Berlin


@pytest.mark.parametrize(
    ("fmt", "tz", "expected"),
    [
        ("iso8601", "UTC", "2026-03-29T01:00:00Z"),
        ("iso8601", "Europe/Berlin", "2026-03-29T03:00:00+02:00"),
        ("iso8601", "America/New_York", "2026-03-28T21:00:00-04:00"),
        ("iso8601", "Europe/London", "2026-03-29T02:00:00+01:00"),
        ("date", "UTC", "2026-03-29"),
        ("date", "America/New_York", "2026-03-28"),
        ("epoch", "UTC", "1774746000"),
        ("epoch", "Europe/Berlin", "1774746000"),  # an epoch has no zone
        ("epoch_ms", "UTC", "1774746000000"),
        ("%Y%m%d", "Europe/Berlin", "20260329"),
        ("%Y-%m-%d %H:%M", "Europe/Berlin", "2026-03-29 03:00"),
        ("%d/%m/%Y", "America/New_York", "28/03/2026"),
    ],
)
def test_format_instant(fmt, tz, expected):
    assert format_instant(INSTANT, fmt, tz) == expected


def test_format_instant_keeps_fractions_and_rounds_epochs_down():
    instant = utc(2026, 3, 29, 1, 0, 0) + timedelta(microseconds=987_654)
    assert format_instant(instant, "iso8601", "UTC") == "2026-03-29T01:00:00.987654Z"
    assert format_instant(instant, "epoch", "UTC") == "1774746000"
    assert format_instant(instant, "epoch_ms", "UTC") == "1774746000987"


def test_a_zero_offset_is_written_z_and_a_date_follows_the_zone():
    winter = utc(2026, 1, 15, 23, 30)
    assert format_instant(winter, "iso8601", "Europe/London") == "2026-01-15T23:30:00Z"
    assert format_instant(winter, "date", "Europe/Berlin") == "2026-01-16"


def test_window_placeholders_and_record():
    window = Window(utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))
    assert window.placeholders("iso8601", "Europe/Berlin") == {
        "window_start": "2026-03-29T00:00:00+01:00",
        "window_end": "2026-03-30T00:00:00+02:00",
    }
    assert window.placeholders("date", "Europe/Berlin") == {
        "window_start": "2026-03-29",
        "window_end": "2026-03-30",
    }
    assert window.as_dict() == {"window_start": "2026-03-28T23:00:00Z", "window_end": "2026-03-29T22:00:00Z"}


# -- placeholders ------------------------------------------------------------------------------------

VALUES = {"window_start": "2026-03-29T00:00:00+01:00", "window_end": "2026-03-30", "cursor": "c/1 2"}


def test_placeholders_in_query_values_and_nested_bodies():
    assert PLACEHOLDERS == ("window_start", "window_end", "cursor")
    body = {
        "filter": {"range": {"gte": "{window_start}", "lt": "{window_end}"}, "size": 100},
        "after": ["{cursor}", 5, None, {"deep": ["x-{cursor}-y"]}],
    }
    assert placeholders_in(body) == {"window_start", "window_end", "cursor"}
    assert placeholders_in({"since": "{window_start}", "limit": "100"}) == {"window_start"}
    assert placeholders_in("{page} {cursors} {Cursor} cursor") == set()
    assert substitute(body, VALUES) == {
        "filter": {"range": {"gte": "2026-03-29T00:00:00+01:00", "lt": "2026-03-30"}, "size": 100},
        "after": ["c/1 2", 5, None, {"deep": ["x-c/1 2-y"]}],
    }
    assert body["after"][0] == "{cursor}"  # the configuration itself is not changed


def test_substitute_leaves_other_braces_and_missing_values_alone():
    text = '{"q": "{window_start}"} {page} {window_end} {cursor}'
    assert substitute(text, {"window_start": "A"}) == '{"q": "A"} {page} {window_end} {cursor}'
    assert substitute({"since": "{window_start}"}, {"unrelated": "x"}) == {"since": "{window_start}"}
    assert substitute(42, VALUES) == 42


def test_substitute_url_quotes_values_into_the_path_and_query():
    url = "https://api.example.com/v1/changes/{cursor}/{window_end}?since={cursor}&x={page}#{cursor}"
    assert substitute_url(url, VALUES) == (
        "https://api.example.com/v1/changes/c%2F1%202/2026-03-30?since=c%2F1%202&x={page}#{cursor}"
    )
    offset = substitute_url("https://h.example/{window_start}", VALUES)
    assert offset == "https://h.example/2026-03-29T00:00:00%2B01:00"  # '+' would read as a space


def test_substitute_url_never_changes_the_host_or_adds_a_query():
    values = {"cursor": "../../evil.example/?admin=1#"}
    result = substitute_url("https://api.example.com/v1/{cursor}/items", values)
    assert result == "https://api.example.com/v1/..%2F..%2Fevil.example%2F%3Fadmin%3D1%23/items"
    unchanged = "https://{cursor}.example.com/v1/items?page={page}"
    assert substitute_url(unchanged, values) == unchanged
    query = substitute_url("https://api.example.com/v1/items?since={cursor}&limit=5", values)
    assert query == "https://api.example.com/v1/items?since=..%2F..%2Fevil.example%2F%3Fadmin%3D1%23&limit=5"


# -- cursor values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2026-03-29T01:00:00Z",
        "2026-03-29T01:00:00z",
        "2026-03-29T01:00:00+00:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:00:00+0200",
        "2026-03-28T21:00:00-04:00",
        "2026-03-29T01:00:00",  # naive: UTC
        "2026-03-29 01:00:00",
        "2026-03-29T01:00:00.000Z",
        1774746000,  # epoch seconds
        1774746000.0,
        1774746000000,  # epoch milliseconds
        "1774746000",
        "1774746000000",
    ],
)
def test_timestamp_keys_read_every_form_as_the_same_instant(value):
    assert cursor_key(value, "timestamp") == INSTANT


def test_timestamp_keys_keep_fractions_and_dates_are_midnight():
    assert cursor_key("2026-03-29T01:00:00.5Z", "timestamp") == INSTANT + timedelta(milliseconds=500)
    assert cursor_key(1774746000123, "timestamp") == INSTANT + timedelta(milliseconds=123)
    assert cursor_key("2026-03-29", "timestamp") == utc(2026, 3, 29)
    assert cursor_key("2026-03-29+02:00", "timestamp") == utc(2026, 3, 28, 22)


def test_number_and_string_keys():
    assert cursor_key(10, "number") == Decimal(10)
    assert cursor_key(0.1, "number") == Decimal("0.1")  # exactly what the JSON said, not binary 0.1
    assert cursor_key("-12.50", "number") == Decimal("-12.5")
    assert cursor_key("abc", "string") == "abc"
    assert sorted(["9", "10", "100"], key=lambda v: cursor_key(v, "number")) == ["9", "10", "100"]
    assert sorted(["9", "10", "100"], key=lambda v: cursor_key(v, "string")) == ["10", "100", "9"]


@pytest.mark.parametrize(
    ("value", "cursor_type"),
    [
        ("yesterday", "timestamp"),
        ("2026-13-01T00:00:00Z", "timestamp"),
        (True, "timestamp"),
        ({"at": 1}, "timestamp"),
        ("", "timestamp"),
        (float("inf"), "timestamp"),
        (10**30, "timestamp"),
        ("ten", "number"),
        ("NaN", "number"),
        (False, "number"),
        ([1], "number"),
        (12, "string"),
        ("x", "uuid"),
    ],
)
def test_values_that_are_not_of_the_cursor_type(value, cursor_type):
    with pytest.raises(CursorValueError):
        cursor_key(value, cursor_type)


def test_lookback():
    assert apply_lookback("2026-03-29T01:00:00Z", "timestamp", Duration(10, "m")) == utc(2026, 3, 29, 0, 50)
    # a day of lookback on the wall clock of the zone: 03:00 CEST back to 03:00 CET, 23 h earlier
    day_back = apply_lookback("2026-03-29T01:00:00Z", "timestamp", Duration(1, "d"), "Europe/Berlin")
    assert day_back == utc(2026, 3, 28, 2)
    assert apply_lookback(1000, "number", 100) == Decimal(900)
    assert apply_lookback("10.5", "number", 0.5) == Decimal("10.0")
    assert apply_lookback("abc", "string", None) == "abc"
    assert apply_lookback(5, "number", None) == Decimal(5)
    with pytest.raises(CursorValueError):
        apply_lookback("abc", "string", 5)


def test_format_cursor():
    assert format_cursor("2026-03-29T03:00:00+02:00", "timestamp") == "2026-03-29T01:00:00Z"
    assert format_cursor(1774746000, "timestamp", "iso8601", "Europe/Berlin") == "2026-03-29T03:00:00+02:00"
    assert format_cursor("2026-03-29T01:00:00Z", "timestamp", "epoch_ms") == "1774746000000"
    assert format_cursor(utc(2026, 3, 29, 0, 50), "timestamp", "%Y-%m-%dT%H:%M") == "2026-03-29T00:50"
    assert format_cursor(1e20, "number") == "100000000000000000000"  # never 1E+20
    assert format_cursor(Decimal("1E+3"), "number") == "1000"
    assert format_cursor("12.50", "number") == "12.50"
    assert format_cursor("after:abc", "string") == "after:abc"
    # the next run's {cursor}: the stored maximum, minus the lookback, as the API expects it
    since = apply_lookback("2026-03-29T01:00:00Z", "timestamp", Duration(15, "m"))
    assert format_cursor(since, "timestamp", "epoch") == "1774745100"


# -- the tracker -------------------------------------------------------------------------------------


def test_the_tracker_keeps_the_largest_value_as_found():
    tracker = CursorTracker("meta.updated_at", "timestamp")
    records = [
        {"id": 1, "meta": {"updated_at": "2026-03-29T01:00:00Z"}},
        {"id": 2, "meta": {"updated_at": "2026-03-29T03:30:00+02:00"}},  # 01:30Z: the largest
        {"id": 3, "meta": {"updated_at": 1774746600}},  # 01:10Z as epoch seconds
        {"id": 4, "meta": {}},
        {"id": 5, "meta": {"updated_at": None}},
        {"id": 6},
        {"id": 7, "meta": "flat"},
        {"id": 8, "meta": {"updated_at": "soon"}},
        {"id": 9, "meta": {"updated_at": "x" * 500}},
        "not a record",
    ]
    for record in records:
        tracker.see(record)
    assert tracker.maximum == "2026-03-29T03:30:00+02:00"
    assert tracker.maximum_key == utc(2026, 3, 29, 1, 30)
    assert tracker.as_dict() == {
        "max_seen": "2026-03-29T03:30:00+02:00",
        "records_without_cursor": 5,
        "unparseable": 2,
        "unparseable_example": "soon",
        "rejected": {},
        "rejected_example": None,
    }


def test_the_tracker_truncates_its_one_example_and_merges_another_maximum():
    tracker = CursorTracker("n", "number")
    tracker.see({"n": "x" * 500})
    tracker.see({"n": 7})
    assert tracker.unparseable_example is not None
    assert len(tracker.unparseable_example) == 80 and tracker.unparseable_example.endswith("…")
    tracker.merge(None)
    assert tracker.maximum == 7
    tracker.merge(12)  # e.g. the maximum of the pages a resumed run landed before
    tracker.merge(3)
    assert tracker.maximum == 12
    tracker.see({"n": "12.0"})  # equal: the first one found stays
    assert tracker.maximum == 12


def test_the_tracker_compares_numbers_as_numbers_and_reads_list_indexes():
    tracker = CursorTracker("ids.0", "number")
    for n in (9, 10, 100, 99.5):
        tracker.see({"ids": [n]})
    tracker.see({"ids": []})
    assert tracker.maximum == 100
    assert tracker.records_without_cursor == 1


def test_a_page_tracker_is_absorbed_into_the_runs():
    """The handler tracks each page on its own and keeps it only once the page is landed as data."""
    run = CursorTracker("at", "timestamp")
    run.see({"at": "2026-03-29T01:00:00Z"})
    run.see({})
    page = CursorTracker(run.path, run.cursor_type)
    assert (page.path, page.cursor_type) == ("at", "timestamp")
    for record in ({"at": "2026-03-29T02:00:00Z"}, {"at": None}, {"at": "later"}, {"at": "never"}):
        page.see(record)
    run.absorb(page)
    assert run.as_dict() == {
        "max_seen": "2026-03-29T02:00:00Z",
        "records_without_cursor": 2,
        "unparseable": 2,
        "unparseable_example": "later",
        "rejected": {},
        "rejected_example": None,
    }
    run.absorb(CursorTracker("at", "timestamp"))  # an empty page changes nothing
    assert run.maximum == "2026-03-29T02:00:00Z" and run.records_without_cursor == 2


def test_an_empty_tracker():
    tracker = CursorTracker("updated_at", "timestamp")
    assert tracker.maximum is None
    assert tracker.as_dict() == {
        "max_seen": None,
        "records_without_cursor": 0,
        "unparseable": 0,
        "unparseable_example": None,
        "rejected": {},
        "rejected_example": None,
    }
    with pytest.raises(CursorValueError):
        CursorTracker("updated_at", "date")


# -- configuration -----------------------------------------------------------------------------------


def test_configuration_defaults():
    cfg = window_cfg(window="1h")
    assert cfg == IncrementalConfig(type="window", window=Duration(1, "h"))
    assert (cfg.lag, cfg.format, cfg.timezone) == (Duration(0, "s"), "iso8601", "UTC")
    cursor = cursor_cfg(lookback="10m", timezone="Europe/Berlin", format="%Y%m%d")
    assert cursor.cursor_type == "timestamp"
    assert cursor.lookback == Duration(10, "m")
    assert cursor.zone == BERLIN
    numbers = cursor_cfg(cursor_type="number", initial_value=0, lookback=50, format=None)
    assert (numbers.initial_value, numbers.lookback) == (0, 50)
    strings = cursor_cfg(cursor_type="string", initial_value="")
    assert strings.lookback is None


@pytest.mark.parametrize(
    ("options", "field", "problem"),
    [
        ({"cursor_type": "timestamp", "lookback": 10}, "lookback", "must be a duration"),
        ({"cursor_type": "timestamp", "lookback": "10 minutes"}, "lookback", "is not a duration"),
        ({"cursor_type": "number", "initial_value": 0, "lookback": "10m"}, "lookback", "must be a number"),
        ({"cursor_type": "number", "initial_value": 0, "lookback": -1}, "lookback", "0 or more"),
        ({"cursor_type": "number", "initial_value": 0, "lookback": True}, "lookback", "must be a number"),
        ({"cursor_type": "string", "initial_value": "a", "lookback": 1}, "lookback", "leave it out"),
        ({"initial_value": "last tuesday"}, "initial_value", "is not a timestamp"),
        ({"cursor_type": "number", "initial_value": "zero"}, "initial_value", "is not a number"),
        ({"cursor_type": "string", "initial_value": 5}, "initial_value", "is not a string"),
        ({"initial_value": None}, "initial_value", "is needed"),
        ({"cursor_path": ""}, "cursor_path", "is needed"),
        ({"cursor_type": "number", "initial_value": 0, "format": "%Y"}, "format", "applies only to"),
        ({"cursor_type": "string", "initial_value": "", "format": "epoch"}, "format", "applies only to"),
        ({"format": "yyyy-MM-dd"}, "format", "strftime pattern"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "is not an IANA time zone"),
        ({"timezone": "../../etc/passwd"}, "timezone", "is not an IANA time zone"),
        ({"cursor_type": "uuid"}, "cursor_type", "use one of"),
    ],
)
def test_cursor_configuration_errors_name_the_field(options, field, problem):
    with pytest.raises(IncrementalError) as error:
        cursor_cfg(**options)
    assert error.value.field == f"API_CONFIG.incremental.{field}"
    assert str(error.value).startswith(f"invalid configuration: API_CONFIG.incremental.{field}: ")
    assert problem in str(error.value)
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"type": "window", "cursor_path": "updated_at"}, "cursor_path"),
        ({"type": "window", "initial_value": "2026-01-01"}, "initial_value"),
        ({"type": "window", "lookback": "1h"}, "lookback"),
        ({"type": "window", "window": "0s"}, "window"),
        ({"type": "window", "window": "1 day"}, "window"),
        ({"type": "window", "lag": "-5m"}, "lag"),
        ({"type": "stream"}, "type"),
    ],
)
def test_window_configuration_errors_name_the_field(options, field):
    with pytest.raises(IncrementalError) as error:
        IncrementalConfig.from_dict(options)
    assert error.value.field == f"API_CONFIG.incremental.{field}"


def test_a_missing_time_zone_database_is_named_as_such(monkeypatch):
    """On a runtime without tz data every zone is unknown: say so rather than blame the name."""
    import zoneinfo

    monkeypatch.setattr(zoneinfo, "available_timezones", lambda: set())
    with pytest.raises(IncrementalError, match="no time zone database"):
        cursor_cfg(timezone="No/Such_Zone")
