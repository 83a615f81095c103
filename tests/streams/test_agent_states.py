"""Agent timelines: time in state, occupancy, order independence, bounded memory."""

from __future__ import annotations

import random

import pytest

from streams.agent_states import AgentTimeline, occupancy
from streams.calendar import SiteCalendar
from streams.events import Rejection
from streams.floor import Floor
from streams.settings import ProcessingSettings
from tests.factory import agent_state, at, contact

T0 = at("2024-05-01T09:00:00")
MIN = 60_000


def shift() -> list:
    """09:00 available 10 min, on contact 20, ACW 5, available 5, break 10, on contact 10."""
    return [
        agent_state(
            "ann", T0, "available", name="Ann Lee", team="red", site="default", queues=["billing"]
        ),
        agent_state("ann", T0 + 10 * MIN, "on_contact"),
        agent_state("ann", T0 + 30 * MIN, "after_contact_work"),
        agent_state("ann", T0 + 35 * MIN, "available"),
        agent_state("ann", T0 + 40 * MIN, "not_ready", reason="break"),
        agent_state("ann", T0 + 50 * MIN, "on_contact"),
    ]


def fold(events: list) -> AgentTimeline:
    timeline = AgentTimeline("ann", SiteCalendar())
    for e in events:
        timeline.fold(e)
    return timeline


def test_time_in_each_state_over_a_window() -> None:
    totals = fold(shift()).totals(T0, T0 + 60 * MIN)
    assert totals == {
        ("available", None): 15 * MIN,
        ("on_contact", None): 30 * MIN,
        ("after_contact_work", None): 5 * MIN,
        ("not_ready", "break"): 10 * MIN,
    }


def test_occupancy_excludes_not_ready_time() -> None:
    totals = fold(shift()).totals(T0, T0 + 60 * MIN)
    assert occupancy(totals) == pytest.approx(35 / 50)


def test_occupancy_without_productive_time_is_no_data() -> None:
    assert occupancy({("not_ready", "lunch"): 5 * MIN}) is None


def test_state_reason_and_time_in_state_are_current() -> None:
    timeline = fold(shift())
    assert (timeline.state, timeline.reason) == ("on_contact", None)
    row = timeline.snapshot(T0 + 57 * MIN, [("interval", T0 + 45 * MIN, T0 + 57 * MIN)])
    assert row["time_in_state_s"] == 7 * 60
    assert row["name"] == "Ann Lee" and row["team"] == "red" and row["queues"] == ["billing"]
    assert row["occupancy"]["interval"] == pytest.approx(7 / 7)


def test_repeated_same_state_does_not_reset_time_in_state() -> None:
    timeline = fold([*shift()[:5], agent_state("ann", T0 + 45 * MIN, "not_ready", reason="break")])
    assert timeline.since_ms() == T0 + 40 * MIN
    changed = fold([*shift()[:5], agent_state("ann", T0 + 45 * MIN, "not_ready", reason="lunch")])
    assert changed.since_ms() == T0 + 45 * MIN
    assert changed.reason == "lunch"


def test_not_ready_without_reason_is_unspecified() -> None:
    timeline = fold([agent_state("ann", T0, "not_ready")])
    assert timeline.reason == "unspecified"


@pytest.mark.parametrize("seed", range(5))
def test_agent_events_in_any_order_give_the_same_timeline(seed: int) -> None:
    events = shift()
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    a, b = fold(events), fold(shuffled + events[:2])
    assert a.entries == b.entries
    assert a.attributes == b.attributes
    assert a.totals(T0, T0 + 70 * MIN) == b.totals(T0, T0 + 70 * MIN)
    assert b.counts["duplicate"] == 2


def test_agent_event_older_than_the_horizon_is_too_late() -> None:
    timeline = AgentTimeline("ann", SiteCalendar(), ProcessingSettings(lateness_horizon_s=600))
    timeline.fold(agent_state("ann", T0 + 60 * MIN, "available"))
    late = timeline.fold(agent_state("ann", T0, "available"))
    assert isinstance(late, Rejection) and late.reason == "too_late"


def test_day_to_date_survives_folding_old_entries_into_day_totals() -> None:
    timeline = AgentTimeline("ann", SiteCalendar(), ProcessingSettings(lateness_horizon_s=600))
    events = []
    for hour in range(8):  # 09:00-17:00: 45 min on contact, 15 min available, every hour
        start = T0 + hour * 60 * MIN
        events.append(agent_state("ann", start, "on_contact"))
        events.append(agent_state("ann", start + 45 * MIN, "available"))
    events.append(agent_state("ann", T0 + 8 * 60 * MIN, "logged_out"))
    before = fold(events).day_to_date(T0 + 9 * 60 * MIN)
    for e in events:
        timeline.fold(e)
    timeline.expire(T0 + 9 * 60 * MIN)
    assert len(timeline.entries) <= 4
    assert timeline.day_to_date(T0 + 9 * 60 * MIN) == before
    assert before[("on_contact", None)] == 8 * 45 * MIN


def test_floor_shows_agents_by_state_and_their_current_queue() -> None:
    floor = Floor()
    now = T0 + 12 * MIN
    for e in [
        *shift()[:2],
        agent_state("bob", T0, "available", team="red", queues=["billing"]),
        agent_state("cat", T0, "not_ready", reason="lunch", team="blue", queues=["billing"]),
        agent_state("dan", T0, "logged_out", team="blue"),
        *contact("c1", "billing", T0 + 9 * MIN, answered_ms=T0 + 10 * MIN, agent="ann"),
    ]:
        assert floor.apply(e) == "accepted"
    view = floor.snapshot(now)
    counts = view["agents_by_state"]["floor"]
    assert counts["logged_in"] == 3
    assert counts["staffed"] == 2
    assert (counts["available"], counts["on_contact"], counts["not_ready"]) == (1, 1, 1)
    assert counts["not_ready_by_reason"] == {"lunch": 1}
    assert view["agents_by_state"]["team"]["blue"]["logged_in"] == 1
    ann = next(row for row in view["agents"] if row["agent_id"] == "ann")
    assert ann["queue"] == "billing"
    (billing,) = view["queues"]
    assert billing["agents"]["staffed"] == 2 and billing["agents"]["available"] == 1
