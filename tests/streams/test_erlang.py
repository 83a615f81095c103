"""Erlang C and Erlang A: the known answers of issue 7, independent references, invariants.

The Erlang C answers (100 contacts per 30 min, AHT 180 s, 80 % in 20 s) are the published
worked example the issue and DESIGN.md quote. The Erlang A answers are checked against two
computations that share no code or formula with ``streams.erlang``: the birth–death chain solved
by plain products with the waiting-time law by uniformisation, and a seeded discrete-event
simulation of the M/M/N+M queue.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.erlang import (
    ERLANG_A,
    ERLANG_C,
    Staffing,
    erlang_a,
    erlang_b,
    erlang_c,
    estimate_patience_s,
    evaluate,
    required_agents,
    traffic_erlangs,
    with_shrinkage,
)

# the worked example: 100 contacts per 30 min, AHT 180 s, 80 % answered within 20 s
CONTACTS, INTERVAL_S, AHT_S, THRESHOLD_S, TARGET = 100, 1800, 180, 20, 0.80
LOAD = 10.0


def c(agents: int, traffic: float = LOAD, threshold_s: float = THRESHOLD_S) -> Staffing:
    return erlang_c(traffic, agents, aht_s=AHT_S, threshold_s=threshold_s)


# --- Erlang C: the worked example ------------------------------------------------------------


def test_worked_example_is_ten_erlangs() -> None:
    assert traffic_erlangs(CONTACTS, INTERVAL_S, AHT_S) == LOAD


@pytest.mark.parametrize(
    ("agents", "service_level"),
    [(11, 0.3896), (12, 0.6402), (13, 0.7956), (14, 0.8884), (15, 0.9415)],
)
def test_service_level_of_the_worked_example_matches_the_published_table(
    agents: int, service_level: float
) -> None:
    assert round(c(agents).service_level, 4) == service_level


def test_fourteen_agents_wait_with_the_published_probability_and_asa() -> None:
    staffing = c(14)

    assert staffing.model == ERLANG_C
    assert staffing.stable
    assert round(staffing.probability_wait, 4) == 0.1741
    assert round(staffing.service_level, 4) == 0.8884
    assert staffing.asa_s is not None
    assert round(staffing.asa_s, 2) == 7.84
    assert staffing.occupancy == pytest.approx(10 / 14)
    assert staffing.probability_abandon is None


def test_worked_example_needs_fourteen_agents_and_twenty_with_thirty_percent_shrinkage() -> None:
    need = required_agents(
        LOAD, aht_s=AHT_S, threshold_s=THRESHOLD_S, target=TARGET, shrinkage=0.30
    )

    assert need.agents == 14
    assert need.agents_with_shrinkage == 20
    assert round(need.staffing.service_level, 4) == 0.8884
    # straight line between the published SL of 13 (0.7956) and 14 (0.8884) agents
    assert need.agents_fractional == pytest.approx(
        13 + (0.80 - 0.7956) / (0.8884 - 0.7956), abs=2e-3
    )


def test_occupancy_cap_of_seventy_percent_needs_fifteen_agents_and_twenty_two_scheduled() -> None:
    need = required_agents(
        LOAD,
        aht_s=AHT_S,
        threshold_s=THRESHOLD_S,
        target=TARGET,
        max_occupancy=0.70,
        shrinkage=0.30,
    )

    assert need.agents == 15
    assert need.agents_with_shrinkage == 22
    assert round(need.staffing.service_level, 3) == 0.941
    # occupancy 10/14 = 0.7143 to 10/15 = 0.6667 crosses 0.70 three tenths of the way
    assert need.agents_fractional == pytest.approx(14.3)


@pytest.mark.parametrize("agents", [0, 5, 9, 10])
def test_traffic_at_or_above_the_agents_is_unstable_not_an_error(agents: int) -> None:
    staffing = c(agents)

    assert staffing.stable is False
    assert staffing.probability_wait == 1.0
    assert staffing.service_level == 0.0
    assert staffing.asa_s is None
    assert staffing.occupancy == 1.0


def test_no_traffic_needs_no_agents_and_nobody_waits() -> None:
    need = required_agents(0, aht_s=AHT_S, threshold_s=THRESHOLD_S, target=TARGET, shrinkage=0.3)

    assert (need.agents, need.agents_fractional, need.agents_with_shrinkage) == (0, 0.0, 0)
    assert need.staffing.stable
    assert c(3, traffic=0).probability_wait == 0.0
    assert c(3, traffic=0).service_level == 1.0


def test_threshold_zero_is_the_share_answered_without_waiting() -> None:
    assert c(14, threshold_s=0).service_level == pytest.approx(1 - c(14).probability_wait)


@pytest.mark.parametrize(
    ("agents", "shrinkage", "scheduled"),
    [(14, 0.30, 20), (15, 0.30, 22), (21, 0.30, 30), (10, 0.0, 10), (1, 0.5, 2), (0, 0.3, 0)],
)
def test_shrinkage_rounds_up_the_agents_to_schedule(
    agents: int, shrinkage: float, scheduled: int
) -> None:
    assert with_shrinkage(agents, shrinkage) == scheduled


# --- Erlang C: large floors against an exact reference -------------------------------------


def exact_erlang_c(traffic: int, agents: int, aht_s: int, threshold_s: int) -> tuple[float, ...]:
    """P(wait), SL and ASA by the textbook formula in exact rationals (A^N/N! and all)."""
    a = Fraction(traffic)
    term = Fraction(1)
    below = Fraction(0)
    for k in range(agents):
        below += term
        term = term * a / (k + 1)
    top = term * agents / (agents - a)  # (A^N / N!) · N / (N − A)
    p_wait = top / (below + top)
    with localcontext() as context:
        context.prec = 60
        p = Decimal(p_wait.numerator) / Decimal(p_wait.denominator)
        decay = (Decimal(-(agents - traffic) * threshold_s) / Decimal(aht_s)).exp()
        service_level = 1 - p * decay
        asa_s = p * aht_s / (agents - traffic)
        return float(p), float(service_level), float(asa_s)


@pytest.mark.parametrize(("traffic", "agents"), [(450, 500), (480, 500), (495, 500), (300, 500)])
def test_five_hundred_agents_agree_with_exact_arithmetic_to_a_tenth_of_a_percent(
    traffic: int, agents: int
) -> None:
    p_wait, service_level, asa_s = exact_erlang_c(traffic, agents, AHT_S, THRESHOLD_S)
    staffing = erlang_c(traffic, agents, aht_s=AHT_S, threshold_s=THRESHOLD_S)

    assert math.factorial(agents) > 10**1000  # far beyond a float: the naive formula overflows
    for got, expected in [
        (staffing.probability_wait, p_wait),
        (staffing.service_level, service_level),
        (staffing.asa_s, asa_s),
    ]:
        assert got is not None
        assert abs(got - expected) <= 1e-3 * expected


def test_required_agents_for_a_large_floor_is_the_first_that_meets_exactly() -> None:
    need = required_agents(480, aht_s=AHT_S, threshold_s=THRESHOLD_S, target=TARGET)

    _, just_enough, _ = exact_erlang_c(480, need.agents, AHT_S, THRESHOLD_S)
    _, one_short, _ = exact_erlang_c(480, need.agents - 1, AHT_S, THRESHOLD_S)
    assert one_short < TARGET <= just_enough
    assert need.agents_fractional == pytest.approx(
        need.agents - 1 + (TARGET - one_short) / (just_enough - one_short), abs=1e-9
    )


@pytest.mark.parametrize("patience_s", [None, 300.0])
def test_thousands_of_agents_stay_finite(patience_s: float | None) -> None:
    need = required_agents(
        4_900, aht_s=AHT_S, threshold_s=THRESHOLD_S, target=TARGET, patience_s=patience_s
    )
    staffing = evaluate(4_900, 5_000, aht_s=AHT_S, threshold_s=THRESHOLD_S, patience_s=patience_s)

    assert 4_600 < need.agents < 5_100
    assert need.staffing.service_level >= TARGET
    for value in (staffing.probability_wait, staffing.service_level, staffing.occupancy):
        assert 0.0 <= value <= 1.0
    assert staffing.asa_s is not None and math.isfinite(staffing.asa_s)
    assert erlang_b(10.0, 3_000) == 0.0  # underflows to 0 where the true value is < 1e-300


# --- Erlang A --------------------------------------------------------------------------------


class Outcome(NamedTuple):
    probability_abandon: float
    service_level: float
    probability_wait: float
    asa_s: float


def chain_reference(
    traffic: float, agents: int, aht_s: float, patience_s: float, threshold_s: float
) -> Outcome:
    """M/M/N+M by brute force: the truncated chain by products, abandons by Little's law,
    and each waiting contact's fate by uniformising its own absorbing chain."""
    arrival, mu, theta = traffic / aht_s, 1 / aht_s, 1 / patience_s
    queue_states = 400
    weights = [1.0]
    for n in range(1, agents + queue_states + 1):
        death = min(n, agents) * mu + max(n - agents, 0) * theta
        weights.append(weights[-1] * arrival / death)
    total = sum(weights)
    p = [w / total for w in weights]
    queued = sum((n - agents) * p[n] for n in range(agents, len(p)))

    # the arriving contact with j ahead moves up at N·mu + j·theta and abandons at theta
    fastest = agents * mu + (queue_states + 1) * theta
    within = [0.0] * queue_states  # P(answered by T | j ahead)
    done = [0.0] * queue_states  # P(answered within k jumps | j ahead)
    mean = fastest * threshold_s
    poisson = math.exp(-mean)  # P(k jumps by T), k = 0, 1, …: far past its mass below
    for k in range(1, int(mean + 15 * math.sqrt(mean) + 40)):
        within = [w + poisson * d for w, d in zip(within, done, strict=True)]
        poisson *= mean / k
        done = [
            (agents * mu + j * theta) / fastest * (1.0 if j == 0 else done[j - 1])
            + (1 - (agents * mu + (j + 1) * theta) / fastest) * done[j]
            for j in range(queue_states)
        ]
    service_level = sum(p[:agents]) + sum(p[agents + j] * within[j] for j in range(queue_states))
    return Outcome(
        probability_abandon=theta * queued / arrival,
        service_level=service_level,
        probability_wait=sum(p[agents:]),
        asa_s=math.nan,  # not computed here; the simulation checks it
    )


def simulate(
    traffic: float,
    agents: int,
    aht_s: float,
    patience_s: float,
    threshold_s: float,
    *,
    contacts: int = 400_000,
    seed: int = 7,
) -> Outcome:
    """M/M/N+M, first come first served, one contact at a time: a contact takes the agent that
    frees first after everyone queued before it, unless its patience runs out first."""
    rng = random.Random(seed)
    free_at = [0.0] * agents
    now = 0.0
    warm_up = contacts // 20
    counted = waited = abandoned = within = answered = 0
    answered_wait = 0.0
    for i in range(contacts):
        now += rng.expovariate(traffic / aht_s)
        patience = rng.expovariate(1 / patience_s)
        service = rng.expovariate(1 / aht_s)
        start = max(now, free_at[0])
        wait = start - now
        gives_up = wait > patience
        if not gives_up:
            heapq.heapreplace(free_at, start + service)
        if i < warm_up:
            continue
        counted += 1
        waited += wait > 0
        if gives_up:
            abandoned += 1
        else:
            answered += 1
            within += wait <= threshold_s
            answered_wait += wait
    return Outcome(
        abandoned / counted, within / counted, waited / counted, answered_wait / answered
    )


def test_patience_of_five_minutes_with_fourteen_agents_matches_the_issue() -> None:
    staffing = erlang_a(LOAD, 14, aht_s=AHT_S, threshold_s=THRESHOLD_S, patience_s=300)

    assert staffing.model == ERLANG_A
    assert staffing.stable
    assert staffing.probability_abandon is not None
    assert round(staffing.probability_abandon, 4) == 0.0140
    assert round(staffing.service_level, 3) == 0.917


@pytest.mark.parametrize(
    ("traffic", "agents", "patience_s", "threshold_s"),
    [(LOAD, 14, 300, 20), (LOAD, 11, 120, 30), (12.0, 11, 300, 20), (LOAD, 14, 300, 0)],
)
def test_erlang_a_agrees_with_the_brute_force_chain(
    traffic: float, agents: int, patience_s: float, threshold_s: float
) -> None:
    expected = chain_reference(traffic, agents, AHT_S, patience_s, threshold_s)
    staffing = erlang_a(
        traffic, agents, aht_s=AHT_S, threshold_s=threshold_s, patience_s=patience_s
    )

    assert staffing.probability_abandon == pytest.approx(expected.probability_abandon, rel=1e-9)
    assert staffing.service_level == pytest.approx(expected.service_level, rel=1e-9)
    assert staffing.probability_wait == pytest.approx(expected.probability_wait, rel=1e-9)


class Spread(NamedTuple):
    """Standard deviation of each simulated figure over 24 seeds (measured once)."""

    probability_abandon: float
    service_level: float
    probability_wait: float
    asa_s: float


@pytest.mark.parametrize(
    ("traffic", "agents", "spread"),
    [
        (LOAD, 14, Spread(0.00035, 0.0018, 0.0022, 0.10)),  # the issue's load
        (12.0, 11, Spread(0.0010, 0.0026, 0.0025, 0.33)),  # more traffic than agents
    ],
)
def test_erlang_a_agrees_with_a_simulated_queue(
    traffic: float, agents: int, spread: Spread
) -> None:
    simulated = simulate(traffic, agents, AHT_S, 300, THRESHOLD_S)
    staffing = erlang_a(traffic, agents, aht_s=AHT_S, threshold_s=THRESHOLD_S, patience_s=300)

    # four standard deviations: any seed passes, a wrong formula does not
    for name in Spread._fields:
        assert getattr(staffing, name) == pytest.approx(
            getattr(simulated, name), abs=4 * getattr(spread, name)
        ), name
    assert staffing.occupancy == pytest.approx(
        traffic * (1 - simulated.probability_abandon) / agents,
        abs=4 * spread.probability_abandon * traffic / agents,
    )


def test_endless_patience_turns_erlang_a_into_erlang_c() -> None:
    patient = erlang_a(LOAD, 14, aht_s=AHT_S, threshold_s=THRESHOLD_S, patience_s=1e9)

    assert patient.service_level == pytest.approx(c(14).service_level, abs=1e-6)
    assert patient.probability_wait == pytest.approx(c(14).probability_wait, abs=1e-6)
    assert patient.asa_s == pytest.approx(c(14).asa_s, abs=1e-4)
    assert patient.probability_abandon == pytest.approx(0, abs=1e-6)


def test_erlang_a_is_stable_with_more_traffic_than_agents() -> None:
    staffing = erlang_a(1_000, 900, aht_s=AHT_S, threshold_s=THRESHOLD_S, patience_s=300)

    assert staffing.stable
    # everyone beyond what 900 agents can carry abandons: 1 − 900/1000
    assert staffing.probability_abandon == pytest.approx(0.10, abs=1e-3)
    assert staffing.occupancy == pytest.approx(1.0, abs=1e-3)


def test_no_agents_means_everyone_abandons() -> None:
    staffing = erlang_a(LOAD, 0, aht_s=AHT_S, threshold_s=THRESHOLD_S, patience_s=300)

    assert (staffing.probability_abandon, staffing.service_level, staffing.asa_s) == (1.0, 0, None)


def test_patience_lets_fewer_agents_meet_the_target_than_erlang_c() -> None:
    need = required_agents(
        LOAD, aht_s=AHT_S, threshold_s=THRESHOLD_S, target=TARGET, patience_s=300
    )
    one_short = erlang_a(
        LOAD, need.agents - 1, aht_s=AHT_S, threshold_s=THRESHOLD_S, patience_s=300
    )

    assert need.agents == 13
    assert need.staffing.service_level >= TARGET > one_short.service_level
    assert 12 < need.agents_fractional <= 13


# --- patience from observed abandons ---------------------------------------------------------


def test_patience_is_total_wait_over_abandons() -> None:
    # 3 answered after 10, 20, 30 s; 2 abandoned after 60 and 80 s: 200 s of wait, 2 abandons
    assert estimate_patience_s(10 + 20 + 30 + 60 + 80, 2) == 100.0
    assert estimate_patience_s(500.0, 0) is None


def test_patience_estimate_recovers_the_true_mean_from_censored_waits() -> None:
    rng = random.Random(3)
    total_wait, abandons = 0.0, 0
    for _ in range(20_000):
        patience = rng.expovariate(1 / 240)  # what we want to recover
        answered_after = rng.expovariate(1 / 60)
        total_wait += min(patience, answered_after)
        abandons += patience < answered_after

    assert estimate_patience_s(total_wait, abandons) == pytest.approx(240, rel=0.05)


# --- bad arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda: erlang_c(-1, 3, aht_s=180, threshold_s=20), "traffic_erlangs"),
        (lambda: erlang_c(1, -3, aht_s=180, threshold_s=20), "agents"),
        (lambda: erlang_c(1, 3, aht_s=0, threshold_s=20), "aht_s"),
        (lambda: erlang_c(1, 3, aht_s=180, threshold_s=-1), "threshold_s"),
        (lambda: erlang_c(math.nan, 3, aht_s=180, threshold_s=20), "traffic_erlangs"),
        (lambda: erlang_a(1, 3, aht_s=180, threshold_s=20, patience_s=0), "patience_s"),
        (lambda: required_agents(1, aht_s=180, threshold_s=20, target=1.0), "target"),
        (
            lambda: required_agents(1, aht_s=180, threshold_s=20, target=0.8, shrinkage=1),
            "shrinkage",
        ),
        (
            lambda: required_agents(1, aht_s=180, threshold_s=20, target=0.8, max_occupancy=0),
            "max_occupancy",
        ),
        (lambda: traffic_erlangs(10, 0, 180), "interval_s"),
        (lambda: estimate_patience_s(10, -1), "abandoned"),
    ],
)
def test_bad_argument_is_refused_by_name(call: Callable[[], object], named: str) -> None:
    with pytest.raises(ValueError, match=f"^{named}: expected"):
        call()


# --- invariants ------------------------------------------------------------------------------

traffics = st.floats(min_value=0.05, max_value=200.0)
ahts = st.floats(min_value=10.0, max_value=900.0)
thresholds = st.floats(min_value=0.0, max_value=120.0)
patiences = st.floats(min_value=5.0, max_value=3_600.0)


@settings(max_examples=60, deadline=None)
@given(traffic=traffics, extra=st.integers(0, 40), aht_s=ahts, threshold_s=thresholds)
def test_erlang_c_service_level_rises_with_agents_and_ratios_stay_in_range(
    traffic: float, extra: int, aht_s: float, threshold_s: float
) -> None:
    n = math.floor(traffic) + 1 + extra
    fewer = erlang_c(traffic, n, aht_s=aht_s, threshold_s=threshold_s)
    more = erlang_c(traffic, n + 1, aht_s=aht_s, threshold_s=threshold_s)

    assert fewer.stable and more.stable
    assert more.service_level >= fewer.service_level
    assert more.probability_wait <= fewer.probability_wait
    for value in (fewer.probability_wait, fewer.service_level, fewer.occupancy):
        assert 0.0 <= value <= 1.0


@settings(max_examples=40, deadline=None)
@given(
    traffic=traffics,
    agents=st.integers(0, 250),
    aht_s=ahts,
    threshold_s=thresholds,
    patience_s=patiences,
)
def test_erlang_a_service_level_rises_and_abandons_fall_with_agents(
    traffic: float, agents: int, aht_s: float, threshold_s: float, patience_s: float
) -> None:
    def at(n: int) -> Staffing:
        return erlang_a(traffic, n, aht_s=aht_s, threshold_s=threshold_s, patience_s=patience_s)

    fewer, more = at(agents), at(agents + 1)
    assert fewer.probability_abandon is not None and more.probability_abandon is not None

    assert more.service_level >= fewer.service_level - 1e-12
    assert more.probability_abandon <= fewer.probability_abandon + 1e-12
    for value in (
        fewer.probability_wait,
        fewer.service_level,
        fewer.occupancy,
        fewer.probability_abandon,
    ):
        assert 0.0 <= value <= 1.0 + 1e-12
    assert fewer.service_level <= 1 - fewer.probability_abandon + 1e-12


@settings(max_examples=40, deadline=None)
@given(
    traffic=traffics,
    aht_s=ahts,
    threshold_s=thresholds,
    target=st.floats(min_value=0.05, max_value=0.99),
    max_occupancy=st.none() | st.floats(min_value=0.3, max_value=1.0),
    shrinkage=st.floats(min_value=0.0, max_value=0.6),
    patience_s=st.none() | patiences,
)
def test_required_agents_is_the_smallest_that_meets_every_goal(
    traffic: float,
    aht_s: float,
    threshold_s: float,
    target: float,
    max_occupancy: float | None,
    shrinkage: float,
    patience_s: float | None,
) -> None:
    need = required_agents(
        traffic,
        aht_s=aht_s,
        threshold_s=threshold_s,
        target=target,
        max_occupancy=max_occupancy,
        shrinkage=shrinkage,
        patience_s=patience_s,
    )

    def meets(n: int) -> bool:
        s = evaluate(traffic, n, aht_s=aht_s, threshold_s=threshold_s, patience_s=patience_s)
        return (
            s.stable
            and s.service_level >= target
            and (max_occupancy is None or s.occupancy <= max_occupancy)
        )

    assert meets(need.agents)
    assert not meets(need.agents - 1)
    assert math.ceil(need.agents_fractional) == need.agents
    assert need.agents_with_shrinkage >= need.agents
    assert need.agents_with_shrinkage * (1 - shrinkage) >= need.agents - 1e-6
