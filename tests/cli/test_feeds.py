"""The pure helpers of the feeds: speed, pacing, broker addresses."""

from __future__ import annotations

import math

import pytest

from floorwatch.feeds import Pace, parse_speed
from floorwatch.kafka import bootstrap_of


@pytest.mark.parametrize(
    ("text", "speed"), [("max", None), ("1x", 1.0), ("10x", 10.0), ("0.5x", 0.5), ("2.5x", 2.5)]
)
def test_speed_reads_max_and_factors(text: str, speed: float | None) -> None:
    assert parse_speed(text) == speed


@pytest.mark.parametrize("text", ["0x", "x", "10", "fast", "-1x", "1e999x", ""])
def test_speed_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="expected max, 1x"):
        parse_speed(text)


def test_pace_spaces_events_by_event_time_over_speed_from_the_first_event() -> None:
    pace = Pace(speed=4.0)
    calls = [(50_000, 1_000.0), (50_000, 1_700.0), (54_000, 1_800.0), (51_000, 1_900.0)]

    assert [pace.due_ms(ts, now) for ts, now in calls] == [1_000.0, 1_000.0, 2_000.0, 1_250.0]


def test_pace_with_an_origin_counts_from_the_origin_not_the_first_event() -> None:
    pace = Pace(speed=1.0, origin_ts_ms=50_000)

    assert pace.due_ms(52_000, now_ms=1_000.0) == 3_000.0


def test_pace_at_max_speed_makes_everything_due_at_once() -> None:
    assert Pace(speed=None).due_ms(10**12, now_ms=1_000.0) == -math.inf


@pytest.mark.parametrize(
    ("url", "bootstrap"),
    [("kafka://127.0.0.1:9092", "127.0.0.1:9092"), ("broker-1:19092", "broker-1:19092")],
)
def test_bootstrap_of_accepts_the_url_and_the_bare_address(url: str, bootstrap: str) -> None:
    assert bootstrap_of(url) == bootstrap


@pytest.mark.parametrize("url", ["kafka://host", "", "host:port"])
def test_bootstrap_of_rejects_an_address_without_a_port(url: str) -> None:
    with pytest.raises(ValueError, match="expected kafka://host:port"):
        bootstrap_of(url)
