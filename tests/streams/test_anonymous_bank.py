"""The real Anonymous Bank day (1999-08-01) folded by the core gives the published counts.

Expected figures come from outside the core: the published daily table (via the data set's
README) and plain arithmetic on the CSV columns here.
"""

from __future__ import annotations

import statistics
from types import MappingProxyType

import orjson
import pytest

from streams.floor import Floor
from streams.intervals import merge_records
from streams.settings import CoreSettings, QueueSettings, SiteSettings
from tests.anonymous_bank import TIMEZONE, contract_events, read_calls


def bank_settings(short_abandon_s: float) -> CoreSettings:
    return CoreSettings(
        sites=MappingProxyType({"default": SiteSettings("default", TIMEZONE)}),
        queue_defaults=QueueSettings(name="*", short_abandon_s=short_abandon_s),
    )


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return read_calls()


def fold_day(short_abandon_s: float) -> Floor:
    floor = Floor(bank_settings(short_abandon_s))
    for event in contract_events():
        assert floor.ingest(orjson.dumps(event)) == "accepted"
    return floor


def test_real_day_gives_the_published_counts_of_answered_and_abandoned_calls() -> None:
    floor = fold_day(short_abandon_s=0)
    day = merge_records(floor.records())
    assert day["answered"] == 1243
    assert day["abandoned"] == 728
    assert day["offered"] == 1243 + 728
    assert day["flowed_out"] == 0
    assert day["handled"] == 1243
    assert floor.rejected == {} and floor.duplicates == 0


def test_real_day_with_a_five_second_short_abandon_rule_moves_hang_ups_not_calls(
    rows: list[dict[str, str]],
) -> None:
    short = sum(
        1
        for r in rows
        if r["outcome"] == "HANG" and r["q_start"] != "0:00:00" and int(r["q_time"]) <= 5
    )
    day = merge_records(fold_day(short_abandon_s=5).records())
    assert (day["abandoned"], day["short_abandoned"]) == (728 - short, short)
    assert day["offered"] == 1243 + 728 - short


def test_real_day_mean_wait_and_handle_time_match_the_csv(rows: list[dict[str, str]]) -> None:
    served = [r for r in rows if r["outcome"] == "AGENT" and r["q_start"] != "0:00:00"]
    mean_wait = statistics.mean(int(r["q_time"]) for r in served)
    mean_service = statistics.mean(int(r["ser_time"]) for r in served)
    longest = max(int(r["q_time"]) for r in served)
    day = merge_records(fold_day(short_abandon_s=0).records())
    assert day["asa_s"] == pytest.approx(mean_wait, abs=1e-9)
    assert day["aht_s"] == pytest.approx(mean_service, abs=1e-9)
    assert day["wait_answered_s_max"] == longest
    assert day["acw_s_sum"] == 0.0


def test_real_day_per_queue_counts_match_the_csv(rows: list[dict[str, str]]) -> None:
    floor = fold_day(short_abandon_s=0)
    for queue in {r["type"] for r in rows}:
        in_queue = [r for r in rows if r["type"] == queue and r["q_start"] != "0:00:00"]
        records = [r for r in floor.records() if r["queue"] == queue]
        answered = sum(r["answered"] for r in records)
        abandoned = sum(r["abandoned"] for r in records)
        assert answered == sum(r["outcome"] == "AGENT" for r in in_queue), queue
        assert abandoned == sum(r["outcome"] == "HANG" for r in in_queue), queue


def test_real_day_intervals_are_labelled_in_israel_time() -> None:
    records = fold_day(short_abandon_s=0).records()
    assert all(r["interval_start"].endswith("+03:00") for r in records)
    assert all(r["interval_start"].startswith("1999-08-0") for r in records)
