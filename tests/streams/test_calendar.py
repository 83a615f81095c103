"""Site calendars: intervals and days in local time, across DST (Europe/London)."""

from __future__ import annotations

import pytest

from streams.calendar import SiteCalendar
from tests.factory import at

LONDON = SiteCalendar("Europe/London")


def intervals_of_day(calendar: SiteCalendar, day_ms: int, length_min: int) -> list[int]:
    start = calendar.day_start(day_ms)
    end = calendar.day_end(start)
    starts = []
    ts = start
    while ts < end:
        starts.append(calendar.interval_start(ts, length_min))
        ts = starts[-1] + length_min * 60_000
    return starts


@pytest.mark.parametrize(
    ("day", "hours", "intervals_15", "intervals_60"),
    [
        ("2024-03-30T12:00:00", 24, 96, 24),  # an ordinary day
        ("2024-03-31T12:00:00", 23, 92, 23),  # spring forward: 01:00 GMT -> 02:00 BST
        ("2024-10-27T12:00:00", 25, 100, 25),  # fall back: 02:00 BST -> 01:00 GMT
    ],
)
def test_london_day_length_and_interval_count_follow_dst(
    day: str, hours: int, intervals_15: int, intervals_60: int
) -> None:
    start = LONDON.day_start(at(day))
    assert LONDON.day_end(start) - start == hours * 3_600_000
    assert len(intervals_of_day(LONDON, at(day), 15)) == intervals_15
    assert len(intervals_of_day(LONDON, at(day), 60)) == intervals_60


def test_spring_forward_day_has_no_interval_in_the_skipped_hour() -> None:
    labels = [LONDON.isoformat(s) for s in intervals_of_day(LONDON, at("2024-03-31T12:00"), 60)]
    assert labels[:3] == [
        "2024-03-31T00:00:00+00:00",
        "2024-03-31T02:00:00+01:00",
        "2024-03-31T03:00:00+01:00",
    ]


def test_fall_back_day_has_the_repeated_hour_twice_with_distinct_offsets() -> None:
    labels = [LONDON.isoformat(s) for s in intervals_of_day(LONDON, at("2024-10-27T12:00"), 60)]
    assert labels[:4] == [
        "2024-10-27T00:00:00+01:00",
        "2024-10-27T01:00:00+01:00",
        "2024-10-27T01:00:00+00:00",
        "2024-10-27T02:00:00+00:00",
    ]


@pytest.mark.parametrize(
    ("ts", "length", "expected"),
    [
        ("2024-07-01T09:07:00+01:00", 15, "2024-07-01T09:00:00+01:00"),
        ("2024-07-01T09:44:59.999+01:00", 30, "2024-07-01T09:30:00+01:00"),
        ("2024-07-01T09:45:00+01:00", 30, "2024-07-01T09:30:00+01:00"),
        ("2024-07-01T10:00:00+01:00", 60, "2024-07-01T10:00:00+01:00"),
        ("2024-10-27T01:20:00+00:00", 15, "2024-10-27T01:15:00+00:00"),  # second 01:xx
        ("2024-10-27T01:20:00+01:00", 15, "2024-10-27T01:15:00+01:00"),  # first 01:xx
    ],
)
def test_interval_start_is_the_local_wall_clock_boundary(
    ts: str, length: int, expected: str
) -> None:
    assert LONDON.isoformat(LONDON.interval_start(at(ts), length)) == expected


def test_hour_intervals_align_to_local_time_not_utc_in_a_half_hour_zone() -> None:
    kolkata = SiteCalendar("Asia/Kolkata")  # UTC+05:30
    start = kolkata.interval_start(at("2024-07-01T10:10:00+05:30"), 60)
    assert kolkata.isoformat(start) == "2024-07-01T10:00:00+05:30"


@pytest.mark.parametrize(
    ("ts", "expected_start"),
    [
        ("2024-07-01T05:59:59+01:00", "2024-06-30T06:00:00+01:00"),
        ("2024-07-01T06:00:00+01:00", "2024-07-01T06:00:00+01:00"),
        ("2024-07-01T23:00:00+01:00", "2024-07-01T06:00:00+01:00"),
    ],
)
def test_day_starts_at_the_configured_reset_time(ts: str, expected_start: str) -> None:
    calendar = SiteCalendar("Europe/London", day_reset_min=6 * 60)
    assert calendar.isoformat(calendar.day_start(at(ts))) == expected_start


def test_day_with_reset_after_the_change_spans_the_dst_shift() -> None:
    calendar = SiteCalendar("Europe/London", day_reset_min=6 * 60)
    start = calendar.day_start(at("2024-10-27T12:00:00+00:00"))
    assert calendar.isoformat(start) == "2024-10-27T06:00:00+00:00"
    # from 06:00 BST on the 26th to 06:00 GMT on the 27th is 25 hours
    previous = calendar.day_start(start - 1)
    assert calendar.isoformat(previous) == "2024-10-26T06:00:00+01:00"
    assert start - previous == 25 * 3_600_000


def test_isoformat_keeps_milliseconds_only_when_present() -> None:
    assert LONDON.isoformat(at("2024-01-01T00:00:00Z")) == "2024-01-01T00:00:00+00:00"
    assert LONDON.isoformat(at("2024-01-01T00:00:00.250Z")) == "2024-01-01T00:00:00.250+00:00"
