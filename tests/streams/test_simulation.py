"""The simulator: deterministic, contract-clean, and shaped like a real contact centre."""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import orjson
import pytest

from streams.calendar import to_epoch_ms
from streams.events import (
    AgentEvent,
    CaseEvent,
    ContactEvent,
    Rejection,
    SurveyEvent,
    parse_event,
)
from streams.floor import Floor
from streams.intervals import merge_records
from streams.simulation import (
    QueueProfile,
    Scenario,
    TeamProfile,
    core_settings,
    default_scenario,
    expected_arrivals,
    scenario_for_rate,
    simulate,
    understaffed_scenario,
)

Event = dict[str, Any]
HOUR = 3_600_000
WED = to_epoch_ms(datetime(2025, 1, 15, tzinfo=UTC))
"""A Wednesday in January: London local time is UTC, New York is UTC−5."""
OUTCOMES = ("contact.answered", "contact.abandoned", "contact.flowed_out")
DAY_RATE = 1.5


@pytest.fixture(scope="module")
def day() -> list[Event]:
    """A whole simulated weekday (about 85 000 events)."""
    scenario = scenario_for_rate(DAY_RATE)
    return list(simulate(scenario, seed=11, start_ms=WED, end_ms=WED + 24 * HOUR))


@pytest.fixture(scope="module")
def staffing_pair() -> tuple[list[Event], list[Event]]:
    """New York's morning (08:00–14:00 local), normally staffed and with 60 % of the team of
    ``nw_cards_voice`` missing, same seed."""
    start, end = WED + 13 * HOUR, WED + 19 * HOUR
    normal = list(simulate(default_scenario(1.0), seed=5, start_ms=start, end_ms=end))
    short = understaffed_scenario("nw_cards_voice", 0.4, 1.0)
    return normal, list(simulate(short, seed=5, start_ms=start, end_ms=end))


def run(seed: int, hours: float = 2.0, start: int = WED + 9 * HOUR) -> list[Event]:
    scenario = default_scenario(0.3)
    return list(simulate(scenario, seed=seed, start_ms=start, end_ms=start + int(hours * HOUR)))


def legs(events: list[Event]) -> dict[tuple[str, str], list[Event]]:
    out: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for e in events:
        if e["type"].startswith("contact."):
            out[(e["contact_id"], e["queue"])].append(e)
    return out


def waits_ms(events: list[Event]) -> Counter[str]:
    """Each contact's total wait over its answered legs."""
    queued: dict[tuple[str, str], int] = {}
    waits: Counter[str] = Counter()
    for e in events:
        if e["type"] == "contact.queued":
            queued[(e["contact_id"], e["queue"])] = e["ts"]
        elif e["type"] == "contact.answered":
            waits[e["contact_id"]] += e["ts"] - queued[(e["contact_id"], e["queue"])]
    return waits


# --- determinism and the contract ------------------------------------------------------------


def test_same_seed_and_range_give_identical_events() -> None:
    assert run(seed=1) == run(seed=1)


def test_different_seeds_give_different_events() -> None:
    first, second = run(seed=1), run(seed=2)
    assert [e["ts"] for e in first] != [e["ts"] for e in second]


def test_a_longer_run_only_appends_events() -> None:
    short, long = run(seed=3, hours=1), run(seed=3, hours=2)
    assert long[: len(short)] == short
    assert all(e["ts"] >= WED + 10 * HOUR for e in long[len(short) :])


def test_event_ids_are_unique_within_and_across_runs(day: list[Event]) -> None:
    ids = [e["event_id"] for e in day]
    assert len(set(ids)) == len(ids)
    other_seed = {e["event_id"] for e in run(seed=12)}
    other_start = {e["event_id"] for e in run(seed=12, start=WED + 9 * HOUR + 1)}
    assert not other_seed & other_start
    assert not other_seed & set(ids)


def test_every_event_passes_the_contract_with_only_contract_fields(day: list[Event]) -> None:
    fields = {
        kind: {"ts" if name == "ts_ms" else name for name in cls._fields}
        for kind, cls in (
            ("contact", ContactEvent),
            ("agent", AgentEvent),
            ("case", CaseEvent),
            ("survey", SurveyEvent),
        )
    }
    for event in day:
        parsed = parse_event(orjson.dumps(event))
        assert not isinstance(parsed, Rejection), (parsed, event)
        assert event["source"] == "sim"
        assert type(event["ts"]) is int
        assert set(event) <= fields[event["type"].split(".")[0]], event
    by_queue = {q.name: q.client for q in default_scenario().queues}
    contact_events = [e for e in day if e["type"].startswith("contact.")]
    assert all(e["client"] == by_queue[e["queue"]] for e in contact_events)


def test_events_are_in_time_order_within_the_range(day: list[Event]) -> None:
    times = [e["ts"] for e in day]
    assert times == sorted(times)
    assert times[0] >= WED and times[-1] < WED + 24 * HOUR


# --- contact lifecycle -----------------------------------------------------------------------


def _alternates(kinds: list[str], start: str, stop: str) -> bool:
    pairs = [k for k in kinds if k in (start, stop)]
    return all(k == (start if i % 2 == 0 else stop) for i, k in enumerate(pairs))


def test_every_leg_follows_the_contact_lifecycle(day: list[Event]) -> None:
    open_legs = 0
    all_legs = legs(day)
    for leg, events in all_legs.items():
        kinds = [e["type"] for e in events]
        assert kinds[0] == "contact.queued" and kinds.count("contact.queued") == 1, leg
        outcomes = [k for k in kinds if k in OUTCOMES]
        assert len(outcomes) <= 1, (leg, kinds)
        assert kinds.count("contact.missed") <= kinds.count("contact.offered")
        if not outcomes:
            open_legs += 1
            assert set(kinds) <= {"contact.queued", "contact.offered", "contact.missed"}
        elif outcomes[0] != "contact.answered":
            assert kinds[-1] == outcomes[0], (leg, kinds)  # nothing after leaving unanswered
        else:
            answered = kinds.index("contact.answered")
            assert kinds[answered - 1] == "contact.offered"
            agent = events[answered]["agent_id"]
            assert {e["agent_id"] for e in events[answered - 1 :]} == {agent}
            after = kinds[answered + 1 :]
            assert _alternates(after, "contact.held", "contact.resumed"), (leg, kinds)
            assert _alternates(after, "contact.consult_started", "contact.consult_ended")
            if "contact.ended" in after:
                ended = after.index("contact.ended")
                assert after[ended + 1 :] in ([], ["contact.wrapped"]), (leg, kinds)
                assert after[:ended].count("contact.held") == after.count("contact.resumed")
                if "contact.transferred" in after:
                    assert after.index("contact.transferred") == ended - 1
            else:
                assert "contact.wrapped" not in after and "contact.transferred" not in after
    assert open_legs < 0.01 * len(all_legs)  # only contacts still in progress at end_ms


def test_customers_without_patience_never_abandon(day: list[Event]) -> None:
    patient = {q.name for q in default_scenario().queues if q.patience_mean_s is None}
    queued = Counter(e["queue"] for e in day if e["type"] == "contact.queued")
    abandoned = Counter(e["queue"] for e in day if e["type"] == "contact.abandoned")
    assert all(queued[q] > 100 and abandoned[q] == 0 for q in patient)
    assert sum(abandoned.values()) > 100


def test_transfers_requeue_the_same_contact_in_another_queue(day: list[Event]) -> None:
    transfers = [e for e in day if e["type"] == "contact.transferred"]
    assert len(transfers) > 50
    queued = {(e["contact_id"], e["queue"]): e["ts"] for e in day if e["type"] == "contact.queued"}
    all_legs = legs(day)
    for t in transfers:
        assert t["to_queue"] != t["queue"]
        assert queued[(t["contact_id"], t["to_queue"])] == t["ts"]
        source = all_legs[(t["contact_id"], t["queue"])]
        ended = next(e for e in source if e["type"] == "contact.ended")
        assert (ended["ts"], ended["agent_id"]) == (t["ts"], t["agent_id"])
        wrapped = [e for e in source if e["type"] == "contact.wrapped"]
        assert all(e["agent_id"] == t["agent_id"] for e in wrapped)


def test_a_timed_out_contact_flows_into_the_overflow_queue() -> None:
    front = QueueProfile(
        "front",
        site="hq",
        client="c1",
        share=0.5,
        patience_mean_s=None,
        max_wait_s=60,
        overflow_to="back",
    )
    back = QueueProfile("back", site="hq", client="c1", share=0.5, patience_mean_s=None)
    team = TeamProfile("Back office", "hq", "Lee Chen", 20, ("back",), 6 * 60, 600)
    scenario = Scenario(
        (front, back),
        (team,),
        MappingProxyType({"hq": "UTC"}),
        contacts_per_hour=120,
        absence_probability=0.0,
    )
    events = list(simulate(scenario, seed=4, start_ms=WED + 8 * HOUR, end_ms=WED + 10 * HOUR))
    by_leg = legs(events)
    fronts = {leg: evs for leg, evs in by_leg.items() if leg[1] == "front"}
    timed_out = 0
    assert len(fronts) > 50
    for (contact_id, _), evs in fronts.items():
        kinds = [e["type"] for e in evs]
        assert kinds in (["contact.queued"], ["contact.queued", "contact.flowed_out"])
        if len(evs) == 2:
            timed_out += 1
            assert evs[1]["reason"] == "timeout"
            assert evs[1]["ts"] - evs[0]["ts"] == 60_000
            assert by_leg[(contact_id, "back")][0]["ts"] == evs[1]["ts"]
    assert timed_out > 50
    answered_back = [e for e in events if e["type"] == "contact.answered"]
    assert len(answered_back) > 100 and {e["queue"] for e in answered_back} == {"back"}


# --- agents ----------------------------------------------------------------------------------


def test_agents_answer_only_when_available_and_stay_on_contact_while_handling(
    day: list[Event],
) -> None:
    state: dict[str, str] = {}
    skills: dict[str, set[str]] = {}
    talking: dict[str, tuple[str, str]] = {}
    wrapping: dict[str, tuple[str, str]] = {}
    answers = 0
    for e in day:
        kind = e["type"]
        if kind == "agent.state":
            agent, now = e["agent_id"], e["state"]
            if agent not in state:
                assert now == "available" and {"name", "team", "site", "queues"} <= set(e)
                skills[agent] = set(e["queues"])
            if now == "on_contact":
                assert agent in talking and state[agent] == "available", e
            elif now == "after_contact_work":
                assert agent in wrapping and state[agent] == "on_contact", e
            else:
                assert agent not in talking and agent not in wrapping, e
            state[agent] = now
        elif kind in ("contact.offered", "contact.answered"):
            agent = e["agent_id"]
            assert state[agent] == "available", e
            assert agent not in talking and agent not in wrapping
            assert e["queue"] in skills[agent]
            if kind == "contact.answered":
                talking[agent] = (e["contact_id"], e["queue"])
                answers += 1
        elif kind == "contact.ended":
            wrapping[e["agent_id"]] = talking.pop(e["agent_id"])
        elif kind == "contact.wrapped":
            assert wrapping.pop(e["agent_id"]) == (e["contact_id"], e["queue"])
            assert state[e["agent_id"]] == "after_contact_work"
    assert answers > 5000


def test_agents_take_breaks_lunch_and_sessions_and_log_out_after_their_shift(
    day: list[Event],
) -> None:
    states = [e for e in day if e["type"] == "agent.state"]
    reasons = Counter(e["reason"] for e in states if e["state"] == "not_ready")
    assert set(reasons) <= {"break", "lunch", "training", "meeting", "coaching", "no_answer"}
    assert reasons["break"] > reasons["lunch"] > reasons["training"] + reasons["meeting"] > 0
    logins = Counter(e["agent_id"] for e in states if "team" in e)
    logouts = Counter(e["agent_id"] for e in states if e["state"] == "logged_out")
    assert len(logouts) > 0.6 * len(logins)
    assert all(logouts[agent] <= logins[agent] for agent in logouts)


# --- behaviour an operations manager would recognise -----------------------------------------


def test_arrivals_peak_late_morning_dip_at_lunch_and_are_few_at_3am(day: list[Event]) -> None:
    sites = {q.name: q.site for q in default_scenario().queues}
    utc_offset_h = {"london": 0, "new_york": -5}
    first_queued: dict[str, Event] = {}
    for e in day:
        if e["type"] == "contact.queued":
            first_queued.setdefault(e["contact_id"], e)
    by_hour: dict[str, Counter[int]] = defaultdict(Counter)
    for e in first_queued.values():
        site = sites[e["queue"]]
        by_hour[site][(e["ts"] - WED) // HOUR + utc_offset_h[site]] += 1
    for hours in by_hour.values():
        assert hours[10] > 10 * max(hours[3], 1)
        assert hours[12] + hours[13] < 0.92 * (hours[10] + hours[11])
        assert hours[12] + hours[13] < 0.95 * (hours[14] + hours[15])


def test_arrivals_match_the_scenario_forecast(day: list[Event]) -> None:
    arrived = len({e["contact_id"] for e in day if e["type"] == "contact.queued"})
    expected = expected_arrivals(scenario_for_rate(DAY_RATE), WED, WED + 24 * HOUR)
    assert abs(arrived - expected) < 4 * math.sqrt(expected)


def test_weekends_are_quieter_than_weekdays() -> None:
    scenario = default_scenario()
    saturday = WED + 3 * 24 * HOUR
    weekday = expected_arrivals(scenario, WED, WED + 24 * HOUR)
    assert expected_arrivals(scenario, saturday, saturday + 24 * HOUR) < 0.6 * weekday


def test_voice_is_the_majority_and_chat_takes_longer_to_handle(day: list[Event]) -> None:
    channels = Counter(e["channel"] for e in day if e["type"] == "contact.queued")
    assert channels["voice"] > 0.5 * sum(channels.values())
    assert {"voice", "chat", "email", "callback"} <= set(channels)
    talk: dict[str, list[int]] = defaultdict(list)
    answered: dict[tuple[str, str], int] = {}
    channel_of = {q.name: q.channel for q in default_scenario().queues}
    for e in day:
        leg = (e.get("contact_id"), e.get("queue"))
        if e["type"] == "contact.answered":
            answered[leg] = e["ts"]  # type: ignore[index]
        elif e["type"] == "contact.ended":
            talk[channel_of[e["queue"]]].append(e["ts"] - answered[leg])  # type: ignore[index]
    assert statistics.mean(talk["chat"]) > 1.3 * statistics.mean(talk["voice"])


def _abandon_share(events: list[Event], queue: str) -> tuple[float, int]:
    outcomes = Counter(
        e["type"] for e in events if e.get("queue") == queue and e["type"] in OUTCOMES
    )
    total = sum(outcomes.values())
    return outcomes["contact.abandoned"] / total, total


def test_an_understaffed_queue_abandons_far_more_often(
    staffing_pair: tuple[list[Event], list[Event]],
) -> None:
    normal, short = staffing_pair
    p_normal, n_normal = _abandon_share(normal, "nw_cards_voice")
    p_short, n_short = _abandon_share(short, "nw_cards_voice")
    noise = math.sqrt(p_normal * (1 - p_normal) / n_normal + p_short * (1 - p_short) / n_short)
    assert n_normal > 500 and n_short > 500
    assert p_short > 2.5 * p_normal
    assert p_short - p_normal > 8 * noise


def test_surveys_score_lower_after_long_waits(
    staffing_pair: tuple[list[Event], list[Event]],
) -> None:
    short_waits, long_waits = [], []
    for events in staffing_pair:
        waits = waits_ms(events)
        for e in events:
            if e["type"] == "survey.completed":
                wait = waits[e["contact_id"]]
                if wait <= 20_000:
                    short_waits.append(e["csat"])
                elif wait > 60_000:
                    long_waits.append(e["csat"])
    assert len(long_waits) > 40 and len(short_waits) > 200
    assert statistics.mean(long_waits) < statistics.mean(short_waits) - 0.3


def test_cases_follow_handled_contacts_and_resolve_first_time_or_later(day: list[Event]) -> None:
    wrapped = {
        (e["contact_id"], e["agent_id"], e["queue"]) for e in day if e["type"] == "contact.wrapped"
    }
    opened = {e["case_id"]: e for e in day if e["type"] == "case.opened"}
    assert len(opened) > 1000
    for case in opened.values():
        assert (case["contact_id"], case["agent_id"], case["queue"]) in wrapped
        assert isinstance(case["complaint"], bool) and case["category"]
    complaints = {c for c, e in opened.items() if e["complaint"]}
    assert 0.03 < len(complaints) / len(opened) < 0.2
    escalated = {e["case_id"] for e in day if e["type"] == "case.escalated"}
    assert escalated and escalated <= complaints
    for e in day:
        if e["type"] == "case.resolved":
            lag = e["ts"] - opened[e["case_id"]]["ts"]
            assert (lag <= 1000) if e["first_contact"] else (lag > 0)
            assert not (e["first_contact"] and e["case_id"] in escalated)


def test_some_customers_contact_again_with_the_same_customer_id(day: list[Event]) -> None:
    contacts_of: dict[str, set[str]] = defaultdict(set)
    for e in day:
        if e["type"] == "contact.queued":
            contacts_of[e["customer_id"]].add(e["contact_id"])
    repeats = sum(len(c) - 1 for c in contacts_of.values())
    arrivals = sum(len(c) for c in contacts_of.values())
    assert 0.02 < repeats / arrivals < 0.12


# --- feeding the core ------------------------------------------------------------------------


def test_a_simulated_hour_folds_into_plausible_floor_metrics() -> None:
    scenario = default_scenario(1.0)
    events = list(simulate(scenario, seed=3, start_ms=WED + 9 * HOUR, end_ms=WED + 10 * HOUR))
    floor = Floor(core_settings(scenario))
    for e in events:
        floor.ingest(orjson.dumps(e))
    assert not floor.rejected and floor.duplicates == 0
    assert sum(floor.events_by_type.values()) == len(events)
    by_queue: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in floor.records():
        by_queue[record["queue"]].append(record)
    profiles = {q.name: q for q in scenario.queues}
    checked = 0
    for name, records in by_queue.items():
        hour = merge_records(records)
        for value in hour["service_level"].values():
            assert value is None or 0 <= value <= 1
        if hour["handled"] >= 20:
            configured = profiles[name].talk_mean_s + profiles[name].acw_mean_s
            assert 0.6 * configured < hour["aht_s"] < 1.6 * configured, (name, hour["aht_s"])
            checked += 1
    assert checked >= 5
    floor_hour = merge_records(
        [r for rs in by_queue.values() for r in rs if r["threshold_s"] == 20.0]
    )
    assert 0.5 < floor_hour["service_level"]["answered_of_offered"] <= 1


# --- scenarios -------------------------------------------------------------------------------


def test_scenario_for_rate_hits_the_requested_busy_hour_rate(day: list[Event]) -> None:
    per_hour = Counter((e["ts"] - WED) // HOUR for e in day)
    busiest = sorted(per_hour.values())[-12:]
    assert sum(busiest) / (12 * 3600) == pytest.approx(DAY_RATE, rel=0.1)


def test_scale_grows_arrivals_and_agents_together() -> None:
    one, two = default_scenario(1.0), default_scenario(2.0)
    day = (WED, WED + 24 * HOUR)
    assert expected_arrivals(two, *day) == pytest.approx(2 * expected_arrivals(one, *day))
    agents = sum(t.size for t in two.teams) / sum(t.size for t in one.teams)
    assert 1.6 < agents < 2.1


def test_understaffed_scenario_cuts_only_the_teams_of_that_queue() -> None:
    scenario = understaffed_scenario("acme_chat", 0.6)
    assert dict(scenario.queue_staffing) == {"acme_chat": 0.6}
    assert scenario.teams == default_scenario().teams
    with pytest.raises(ValueError, match="acme_email"):
        understaffed_scenario("acme_email", 0.6)  # no team has email as its primary skill
