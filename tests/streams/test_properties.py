"""Invariants of the fold, checked on generated contacts (hypothesis).

- any permutation of the events, and any duplication, gives identical interval records;
- every service level is in [0, 1] or null;
- merging interval records equals computing on the raw events (an oracle written here from
  the generated contacts, independent of the core).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.calendar import SiteCalendar
from streams.events import Event
from streams.intervals import merge_records
from streams.queues import ACCEPTED, DUPLICATE, QueueState
from streams.settings import QueueSettings
from tests.factory import at, contact

T_S, S_S = 20, 5
BASE = at("2024-05-01T10:00:00")


@dataclass(frozen=True)
class Spec:
    """One generated contact leg (times in seconds after BASE)."""

    queued: int
    outcome: str  # answered | abandoned | flowed | waiting
    wait: int
    talk: int
    hold: int
    acw: int
    wrapped: bool


specs = st.builds(
    Spec,
    queued=st.integers(0, 45 * 60),
    outcome=st.sampled_from(["answered", "answered", "abandoned", "flowed", "waiting"]),
    wait=st.integers(0, 120),
    talk=st.integers(1, 400),
    hold=st.integers(0, 60),
    acw=st.integers(0, 90),
    wrapped=st.booleans(),
)


def events_of(n: int, spec: Spec) -> list[Event]:
    q = BASE + spec.queued * 1000
    out = q + spec.wait * 1000
    kwargs: dict[str, Any] = {}
    if spec.outcome == "answered":
        kwargs["answered_ms"] = out
        if spec.wrapped:
            hold_start = out + 1000
            kwargs["holds"] = ((hold_start, hold_start + spec.hold * 1000),) if spec.hold else ()
            ended = out + (spec.talk + spec.hold) * 1000
            kwargs["ended_ms"] = ended
            kwargs["wrapped_ms"] = ended + spec.acw * 1000
    elif spec.outcome == "abandoned":
        kwargs["abandoned_ms"] = out
    elif spec.outcome == "flowed":
        kwargs["flowed_ms"] = out
    return contact(f"c{n}", "q", q, agent=f"a{n % 7}", **kwargs)


def fold(events: list[Event], interval_min: int = 15) -> QueueState:
    queue = QueueState(
        QueueSettings(name="q", interval_min=interval_min), SiteCalendar("Europe/London")
    )
    for e in events:
        assert queue.fold(e) in (ACCEPTED, DUPLICATE)
    return queue


@settings(max_examples=150, deadline=None)
@given(st.lists(specs, min_size=1, max_size=25), st.randoms(use_true_random=False), st.data())
def test_any_order_and_any_duplication_give_identical_interval_records(
    contacts: list[Spec], rnd: random.Random, data: st.DataObject
) -> None:
    events = [e for n, spec in enumerate(contacts) for e in events_of(n, spec)]
    reference = fold(sorted(events, key=lambda e: e.ts_ms)).records()
    shuffled = list(events)
    rnd.shuffle(shuffled)
    duplicated = shuffled + data.draw(st.lists(st.sampled_from(events), max_size=20))
    rnd.shuffle(duplicated)
    assert fold(duplicated).records() == reference


@settings(max_examples=150, deadline=None)
@given(st.lists(specs, min_size=1, max_size=25))
def test_service_level_is_always_between_zero_and_one_or_null(contacts: list[Spec]) -> None:
    events = [e for n, spec in enumerate(contacts) for e in events_of(n, spec)]
    for record in fold(events).records():
        for value in record["service_level"].values():
            assert value is None or 0.0 <= value <= 1.0
        assert record["abandon_rate"] is None or record["abandon_rate"] >= 0.0


def oracle(contacts: list[Spec]) -> dict[str, Any]:
    """Counts for the whole period straight from the specs, by DESIGN.md section 3."""
    out = dict.fromkeys(
        [
            "offered",
            "answered",
            "answered_within_threshold",
            "abandoned",
            "short_abandoned",
            "abandoned_within_threshold",
            "flowed_out",
            "handled",
        ],
        0,
    )
    wait_sum = talk = hold = acw = 0
    for spec in contacts:
        short = spec.outcome == "abandoned" and spec.wait <= S_S
        out["offered"] += 0 if short else 1
        if spec.outcome == "answered":
            out["answered"] += 1
            out["answered_within_threshold"] += spec.wait <= T_S
            wait_sum += spec.wait
            if spec.wrapped:
                out["handled"] += 1
                talk += spec.talk
                hold += spec.hold
                acw += spec.acw
        elif spec.outcome == "abandoned":
            if short:
                out["short_abandoned"] += 1
            else:
                out["abandoned"] += 1
                out["abandoned_within_threshold"] += spec.wait <= T_S
        elif spec.outcome == "flowed":
            out["flowed_out"] += 1
    out["wait_answered_s_sum"] = float(wait_sum)
    out["talk_s_sum"], out["hold_s_sum"], out["acw_s_sum"] = float(talk), float(hold), float(acw)
    denominator = out["answered"] + out["abandoned"]
    out["answered_of_offered"] = (
        out["answered_within_threshold"] / denominator if denominator else None
    )
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(specs, min_size=1, max_size=25))
def test_merged_interval_records_equal_direct_computation_on_the_raw_events(
    contacts: list[Spec],
) -> None:
    events = [e for n, spec in enumerate(contacts) for e in events_of(n, spec)]
    records = fold(events).records()
    expected = oracle(contacts)
    if not records:
        assert expected["offered"] == expected["short_abandoned"] == 0
        return
    merged = merge_records(records)
    for name, value in expected.items():
        if name == "answered_of_offered":
            assert merged["service_level"][name] == value
        else:
            assert merged[name] == value, name
    # and the same period folded with hour intervals merges to the same thing
    hourly = merge_records(fold(events, interval_min=60).records())
    assert {k: v for k, v in hourly.items() if not k.startswith("interval_")} == {
        k: v for k, v in merged.items() if not k.startswith("interval_")
    }
