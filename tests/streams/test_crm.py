"""Customer outcomes: NPS, CSAT, complaints and first-contact resolution on hand-made events.

Every expected figure is worked out by hand in the comments next to it.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.crm import (
    DAY_MS,
    CrmCounts,
    CrmState,
    Key,
    by_agent,
    by_client,
    by_queue,
    by_team,
    crm_metrics,
    merge_counts,
    nps_score,
    survey_counts,
    whole_floor,
)
from streams.events import CaseEvent, ContactEvent, Event, SurveyEvent
from tests.factory import at, event

T0 = at("2024-05-06T09:00:00")  # a Monday
HOUR_MS = 3_600_000
LATER = T0 + 60 * DAY_MS  # every repeat window long over

CrmEvent = ContactEvent | CaseEvent | SurveyEvent


def crm(e: Event) -> CrmEvent:
    assert isinstance(e, ContactEvent | CaseEvent | SurveyEvent)
    return e


def queued(contact_id: str, ts_ms: int, queue: str, customer: str | None) -> CrmEvent:
    return crm(
        event("contact.queued", ts_ms, contact_id=contact_id, queue=queue, customer_id=customer)
    )


def handled(
    contact_id: str, ts_ms: int, queue: str, agent: str, customer: str | None = None
) -> list[CrmEvent]:
    """A contact queued at ``ts_ms`` and answered, ended and wrapped by ``agent``."""
    common = {"contact_id": contact_id, "queue": queue, "agent_id": agent}
    return [
        queued(contact_id, ts_ms, queue, customer),
        crm(event("contact.answered", ts_ms + 10_000, **common)),
        crm(event("contact.ended", ts_ms + 200_000, **common)),
        crm(event("contact.wrapped", ts_ms + 230_000, **common)),
    ]


def case(etype: str, ts_ms: int, case_id: str, **fields: object) -> CrmEvent:
    return crm(event(etype, ts_ms, case_id=case_id, **fields))


def survey(ts_ms: int, survey_id: str, **fields: object) -> CrmEvent:
    return crm(event("survey.completed", ts_ms, survey_id=survey_id, **fields))


def day(n: int) -> int:
    return T0 + n * DAY_MS


def fold(events: list[CrmEvent], window_days: int = 7) -> CrmState:
    state = CrmState(repeat_window_ms=window_days * DAY_MS)
    for e in events:
        state.fold(e)
    return state


# --- NPS and CSAT ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("promoters", "passives", "detractors", "expected"),
    [
        (2, 2, 7, -45.45),  # scores 0…10 once each: 9, 10 | 7, 8 | 0…6 → (2 − 7) / 11
        (100, 30, 80, 9.52),  # (100 − 80) / 210
        (5, 0, 0, 100.0),
        (0, 0, 5, -100.0),
        (0, 4, 0, 0.0),
    ],
)
def test_nps_is_promoters_minus_detractors_in_percent(
    promoters: int, passives: int, detractors: int, expected: float
) -> None:
    responses = promoters + passives + detractors
    score = nps_score(promoters, detractors, responses)
    assert score is not None
    assert round(score, 2) == expected


def test_nps_of_every_score_once_from_surveys_is_minus_45_45() -> None:
    state = fold([survey(T0 + i, f"s{i}", nps=i, queue="sales") for i in range(11)])

    (counts,) = state.counts(now_ms=LATER).values()
    assert (counts.nps_promoters, counts.nps_passives, counts.nps_detractors) == (2, 2, 7)
    assert counts.nps is not None
    assert round(counts.nps, 2) == -45.45


def test_no_answers_is_no_data_not_zero() -> None:
    empty = CrmCounts()
    assert nps_score(0, 0, 0) is None
    assert (empty.nps, empty.csat_mean, empty.csat_satisfied_ratio) == (None, None, None)
    assert (empty.fcr_ratio, empty.complaints_escalated_ratio) == (None, None)


def test_csat_is_the_mean_and_the_share_of_fours_and_fives_per_agent() -> None:
    scores = {"ann": [5, 4, 3], "bob": [5, 1, 2, 4]}
    events = [
        survey(T0 + i * HOUR_MS, f"{agent}-{i}", csat=score, agent_id=agent, nps=None)
        for agent, agent_scores in scores.items()
        for i, score in enumerate(agent_scores)
    ]
    state = fold(events)

    per_agent = state.counts(now_ms=LATER, key=by_agent)
    floor = state.counts(now_ms=LATER)["floor"]
    # ann: (5 + 4 + 3) / 3 = 4.0, two of three are 4–5; bob: 12 / 4 = 3.0, two of four
    assert per_agent["ann"].csat_mean == 4.0
    assert per_agent["ann"].csat_satisfied_ratio == pytest.approx(2 / 3)
    assert per_agent["bob"].csat_mean == 3.0
    assert per_agent["bob"].csat_satisfied_ratio == 0.5
    # floor: 24 / 7 = 3.43, four of seven satisfied
    assert floor.csat_mean == pytest.approx(24 / 7)
    assert floor.csat_satisfied_ratio == pytest.approx(4 / 7)
    assert floor.nps_responses == 0


def test_survey_without_queue_or_agent_takes_them_from_its_contact() -> None:
    events = [
        *handled("c1", T0, "billing", "ann"),
        survey(T0 + HOUR_MS, "s1", contact_id="c1", csat=2),
    ]

    assert state_counts(fold(events), by_queue) == {"billing": (1, 2, 0)}
    assert state_counts(fold(events), by_agent) == {"ann": (1, 2, 0)}


def state_counts(state: CrmState, key: Key) -> dict[str, tuple[int, int, int]]:
    counts = state.counts(now_ms=LATER, key=key)
    return {k: (v.csat_responses, v.csat_sum, v.csat_satisfied) for k, v in counts.items()}


def test_a_survey_counted_twice_counts_once() -> None:
    once = survey(T0, "s1", csat=5, queue="sales")
    again = survey(T0 + 5_000, "s1", csat=5, queue="sales")  # resent with a new event id

    counts = fold([once, again, once]).counts(now_ms=LATER)["floor"]
    assert (counts.csat_responses, counts.csat_sum) == (1, 5)


# --- complaints ------------------------------------------------------------------------------


def complaint_events() -> list[CrmEvent]:
    return [
        # k1: complaint, escalated day 1, resolved day 2
        case("case.opened", day(0), "k1", complaint=True, queue="billing", agent_id="ann"),
        case("case.escalated", day(1), "k1", level="2"),
        case("case.resolved", day(2), "k1"),
        # k2: complaint resolved the day it was opened, never escalated
        case("case.opened", day(0) + HOUR_MS, "k2", complaint=True, queue="billing"),
        case("case.resolved", day(0) + 2 * HOUR_MS, "k2"),
        # k3: complaint escalated twice (day 1 and day 3): one escalated complaint
        case("case.opened", day(1), "k3", complaint=True, queue="sales", agent_id="bob"),
        case("case.escalated", day(1) + HOUR_MS, "k3", level="1"),
        case("case.escalated", day(3), "k3", level="2"),
        # k4: an ordinary case, escalated: not a complaint
        case("case.opened", day(1), "k4", complaint=False, queue="sales"),
        case("case.escalated", day(2), "k4"),
        # k5: complaint opened day 2, still open
        case("case.opened", day(2), "k5", complaint=True, queue="sales"),
    ]


def complaints(counts: CrmCounts) -> tuple[int, int, int]:
    return counts.complaints_opened, counts.complaints_resolved, counts.complaints_escalated


def test_complaints_opened_resolved_escalated_and_the_share_escalated() -> None:
    state = fold(complaint_events())

    floor = state.counts(now_ms=LATER)["floor"]
    # opened k1 k2 k3 k5 = 4, resolved k1 k2 = 2, escalated k1 k3 = 2 → 2 / 4
    assert complaints(floor) == (4, 2, 2)
    assert floor.complaints_escalated_ratio == 0.5
    per_queue = state.counts(now_ms=LATER, key=by_queue)
    # billing: k1 k2 opened and resolved, k1 escalated; sales: k3 k5 opened, k3 escalated
    assert complaints(per_queue["billing"]) == (2, 2, 1)
    assert complaints(per_queue["sales"]) == (2, 0, 1)
    assert per_queue["sales"].complaints_escalated_ratio == 0.5


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (0, (2, 1, 0)),  # k1 and k2 opened, k2 resolved
        (1, (1, 0, 2)),  # k3 opened; k1 and k3 escalated
        (2, (1, 1, 0)),  # k5 opened; k1 resolved
        (3, (0, 0, 0)),  # k3's second escalation is not a new escalated complaint
    ],
)
def test_each_complaint_event_counts_on_its_own_day(
    day: int, expected: tuple[int, int, int]
) -> None:
    state = fold(complaint_events())

    start = T0 - 9 * HOUR_MS + day * DAY_MS  # midnight UTC
    counts = state.counts(now_ms=LATER, start_ms=start, end_ms=start + DAY_MS)
    assert complaints(counts.get("floor", CrmCounts())) == expected


def test_escalation_before_its_case_opened_still_counts() -> None:
    events = complaint_events()

    assert fold(events[::-1]).counts(now_ms=LATER) == fold(events).counts(now_ms=LATER)


# --- first-contact resolution ----------------------------------------------------------------


def fcr_events() -> list[CrmEvent]:
    return [
        # customer u1: c1 (billing, ann) is followed by c2 three days later → c1 not resolved;
        # c2 (billing, bob) is followed by c3 eight days later → c2 resolved; c3 abandoned
        *handled("c1", day(0), "billing", "ann", "u1"),
        *handled("c2", day(3), "billing", "bob", "u1"),
        queued("c3", day(11), "billing", "u1"),
        crm(event("contact.abandoned", day(11) + 30_000, contact_id="c3", queue="billing")),
        # customer u2: c4 (sales, ann) never calls again → resolved
        *handled("c4", day(1), "sales", "ann", "u2"),
        # customer u3: c6 (sales, bob) then c7 exactly 7 days later → the window includes its
        # end: c6 not resolved; c7 (sales, ann) resolved
        *handled("c6", day(2), "sales", "bob", "u3"),
        *handled("c7", day(9), "sales", "ann", "u3"),
        # customer u4: c8 (billing, ann) has a case resolved with first_contact true, so the
        # repeat c9 a day later does not count against it; c9 (billing, bob) resolved
        *handled("c8", day(4), "billing", "ann", "u4"),
        case("case.opened", day(4), "k8", contact_id="c8", customer_id="u4"),
        case("case.resolved", day(4) + HOUR_MS, "k8", first_contact=True),
        *handled("c9", day(5), "billing", "bob", "u4"),
        # customer u5: c10 answered by ann in billing, transferred to sales and handled by bob:
        # one contact, credited to the leg that handled it last → sales, bob, resolved
        *handled("c10", day(6), "billing", "ann", "u5"),
        *handled("c10", day(6) + 300_000, "sales", "bob", "u5")[1:],
        queued("c10", day(6) + 250_000, "sales", "u5"),
        # a case resolved with first_contact false for a contact never seen → sales, bob, no
        case("case.opened", day(7), "k11", contact_id="c-old", queue="sales", agent_id="bob"),
        case("case.resolved", day(7), "k11", first_contact=False),
        # c12: handled, but nobody knows the customer → cannot be judged
        *handled("c12", day(8), "sales", "ann", None),
    ]


FCR_OUTCOMES = {
    "c1": False,
    "c2": True,
    "c3": None,
    "c4": True,
    "c6": False,
    "c7": True,
    "c8": True,
    "c9": True,
    "c10": True,
    "c12": None,
}


@pytest.mark.parametrize(("contact_id", "expected"), sorted(FCR_OUTCOMES.items()))
def test_each_contact_gets_the_outcome_worked_out_by_hand(
    contact_id: str, expected: bool | None
) -> None:
    assert fold(fcr_events()).fcr_outcome(contact_id, now_ms=LATER) is expected


def fcr(counts: CrmCounts) -> tuple[int, int, int]:
    return counts.fcr_resolved, counts.fcr_not_resolved, counts.fcr_pending


def test_fcr_per_queue_agent_and_team() -> None:
    state = fold(fcr_events())

    # billing: c1 no, c2 yes, c8 yes, c9 yes; sales: c4 c7 c10 yes, c6 no, case k11 no
    per_queue = state.counts(now_ms=LATER, key=by_queue)
    assert {q: fcr(c) for q, c in per_queue.items()} == {"billing": (3, 1, 0), "sales": (3, 2, 0)}
    assert per_queue["billing"].fcr_ratio == 0.75
    assert per_queue["sales"].fcr_ratio == 0.6
    # ann: c1 no, c4 c7 c8 yes; bob: c2 c9 c10 yes, c6 no, k11 no
    per_agent = state.counts(now_ms=LATER, key=by_agent)
    assert {a: fcr(c) for a, c in per_agent.items()} == {"ann": (3, 1, 0), "bob": (3, 2, 0)}
    per_team = state.counts(now_ms=LATER, key=by_team({"ann": "red", "bob": "red"}))
    assert fcr(per_team["red"]) == (6, 3, 0)
    assert per_team["red"].fcr_ratio == pytest.approx(6 / 9)


def test_contact_is_pending_until_its_window_passes_without_a_repeat() -> None:
    first = handled("c1", T0, "sales", "ann", "u1")
    state = fold(first)

    assert fcr(state.counts(now_ms=T0 + 7 * DAY_MS - 1)["floor"]) == (0, 0, 1)
    assert state.counts(now_ms=T0 + 7 * DAY_MS - 1)["floor"].fcr_ratio is None
    assert fcr(state.counts(now_ms=T0 + 7 * DAY_MS)["floor"]) == (1, 0, 0)

    state.fold(queued("c2", T0 + 7 * DAY_MS - 1, "sales", "u1"))  # a late repeat, just inside
    assert fcr(state.counts(now_ms=T0 + 7 * DAY_MS)["floor"]) == (0, 1, 0)


@pytest.mark.parametrize(("window_days", "expected"), [(1, True), (2, False)])
def test_repeat_window_is_configurable(window_days: int, expected: bool) -> None:
    events = [
        *handled("c1", T0, "sales", "ann", "u1"),
        queued("c2", T0 + 36 * HOUR_MS, "sales", "u1"),  # a day and a half later
    ]

    assert fold(events, window_days).fcr_outcome("c1", now_ms=LATER) is expected


def test_fcr_counts_in_the_interval_the_contact_entered_the_queue() -> None:
    state = fold(fcr_events())

    # c1 (day 0) and c4 (day 1) are the only contacts of the first two days
    first_two_days = state.counts(now_ms=LATER, start_ms=T0, end_ms=T0 + 2 * DAY_MS)
    assert fcr(first_two_days["floor"]) == (1, 1, 0)


def test_client_comes_from_the_contact() -> None:
    events = [
        crm(
            event(
                "contact.queued",
                T0,
                contact_id="c1",
                queue="sales",
                customer_id="u1",
                client="acme",
            )
        ),
        *handled("c1", T0, "sales", "ann")[1:],
    ]

    counts = fold(events).counts(now_ms=LATER, key=by_client)
    assert fcr(counts["acme"]) == (1, 0, 0)


# --- additivity and order --------------------------------------------------------------------


def all_events() -> list[CrmEvent]:
    surveys = [
        survey(T0 + i * 7 * HOUR_MS, f"s{i}", csat=1 + i % 5, nps=i % 11, queue="sales")
        for i in range(30)
    ]
    return [*fcr_events(), *complaint_events(), *surveys]


KEYS = [whole_floor, by_queue, by_agent]


def test_days_add_up_to_the_whole_period() -> None:
    state = fold(all_events())

    for key in KEYS:
        days = [
            state.counts(
                now_ms=LATER, key=key, start_ms=T0 + n * DAY_MS, end_ms=T0 + (n + 1) * DAY_MS
            )
            for n in range(-1, 30)
        ]
        whole = state.counts(now_ms=LATER, key=key)
        for group, counts in whole.items():
            assert merge_counts(day.get(group, CrmCounts()) for day in days) == counts


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), repeats=st.integers(0, 20))
def test_order_and_duplicates_do_not_change_any_count(seed: int, repeats: int) -> None:
    events = all_events()
    rng = random.Random(seed)
    shuffled = events + [rng.choice(events) for _ in range(repeats)]
    rng.shuffle(shuffled)

    expected, got = fold(events), fold(shuffled)
    for key in KEYS:
        for now_ms in (T0 + 5 * DAY_MS, LATER):
            assert got.counts(now_ms=now_ms, key=key) == expected.counts(now_ms=now_ms, key=key)


def test_discarding_old_facts_keeps_later_periods() -> None:
    state = fold(all_events())
    cut = T0 + 20 * DAY_MS
    before = state.counts(now_ms=LATER, key=by_queue, start_ms=cut)

    state.discard_before(cut)

    assert state.counts(now_ms=LATER, key=by_queue, start_ms=cut) == before


# --- the exported form -----------------------------------------------------------------------


def test_metrics_carry_every_count_and_every_ratio() -> None:
    counts = survey_counts(csat=4, nps=10) + survey_counts(csat=2, nps=5)

    metrics = crm_metrics(counts)
    assert metrics["csat_responses"] == 2
    assert metrics["csat_mean"] == 3.0
    assert metrics["csat_satisfied_ratio"] == 0.5
    assert metrics["nps"] == 0.0  # one promoter, one detractor
    assert metrics["nps_passives"] == 0
    assert metrics["fcr_ratio"] is None
    assert all(type(v) is int for k, v in metrics.items() if k in CrmCounts.__dataclass_fields__)


def test_repeat_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"^repeat_window_ms: expected"):
        CrmState(repeat_window_ms=0)
