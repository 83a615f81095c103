"""Erlang C and Erlang A staffing models (DESIGN.md section 3, "Staffing").

Notation: ``A`` offered traffic in erlangs (= arrival rate × AHT), ``N`` agents, ``T`` the
service-level threshold, ``μ = 1/AHT``, ``θ = 1/patience``.

**Erlang C** (M/M/N, nobody abandons), exactly the formulas of the design::

    P(wait) = N·B / (N − A·(1 − B))          B = Erlang B(N, A)
    SL(T)   = 1 − P(wait)·e^(−(N − A)·T / AHT)
    ASA     = P(wait)·AHT / (N − A)
    occupancy = A / N

B comes from the recursion ``B(n) = A·B(n−1) / (n + A·B(n−1))``, which never overflows
(no ``A^N`` or ``N!``) and only underflows towards 0 where the true value is below 1e-300 too.
``A ≥ N`` (with ``A > 0``) is unstable: the queue grows without bound. That is a result, not an
error: ``stable=False``, P(wait) 1, SL 0, occupancy 1 and no ASA.

**Erlang A** (M/M/N+M: exponential patience) from its birth–death chain: state ``n`` is the
number of contacts in the system, births at rate λ, deaths at ``min(n, N)·μ + max(n − N, 0)·θ``.
The chain is always stable, so ``stable`` is always true. The states ``n ≤ N`` are summed with
the Erlang B recursion in log space; the queue states ``N + j`` are summed term by term, in
log space with a running scale, until the mass left in the tail is provably below
:data:`TAIL_TOLERANCE` of the mass so far. By PASTA an arrival sees the stationary
distribution; one that finds ``j`` contacts queued ahead of it (state ``N + j``) waits while
those ahead are served or abandon. Following only that contact, its queue position drops at
rate ``N·μ + i·θ`` (``i`` still ahead) and it abandons at rate θ, so (derived here from the
chain; every step is checked against an independent simulation in the tests):

- it is answered with probability ``N·μ / (N·μ + (j + 1)·θ)`` (the stepwise odds telescope);
- competing exponential clocks make the kind of each step independent of its duration, so
  P(answered within T) = that probability × P(sum of Exp(N·μ + k·θ), k = 1…j+1, ≤ T);
- that sum of exponentials with rates in arithmetic progression has the tail
  ``I_x(N·μ/θ + 1, j + 1)`` with ``x = e^(−θ·T)`` (regularised incomplete beta). Its second
  argument is a whole number, so the tail is the negative-binomial sum
  ``Σ_{k=0..j} x^a·(a)_k/k!·(1 − x)^k`` with ``a = N·μ/θ + 1``: positive terms, summed in log
  space, cumulative in ``j`` so one pass over the chain gives every state's value;
- the mean wait of an answered contact is ``Σ_{k=1..j+1} 1/(N·μ + k·θ)``.

The measures, as ratios of all offered contacts like DESIGN's default ``answered_of_offered``:
P(wait) (an arrival finds all agents busy), P(abandon), SL(T) = P(answered with wait ≤ T),
ASA = mean wait of *answered* contacts (DESIGN's ASA), occupancy = A·(1 − P(abandon)) / N.
With no traffic every measure is its limit as traffic goes to 0 (nobody waits, SL 1).

**Required agents** is the smallest ``N`` whose SL reaches the target (and whose occupancy is
at most the cap, if given). The **fractional requirement** interpolates linearly between
``N − 1`` and ``N``: for each goal that ``N − 1`` misses, the point where its measure (SL, or
occupancy for the cap) reaches the goal on the straight line between the two; the largest such
point. So ``N − 1 < agents_fractional ≤ N`` and ``ceil(agents_fractional) == N``. An unstable
``N − 1`` counts as SL 0. **Shrinkage** turns agents on the phones into agents to schedule:
``ceil(N / (1 − shrinkage))``.

Bad arguments (a negative AHT, a target of 1.2…) are programming errors here and raise
``ValueError`` naming the argument and the value; the command line checks them first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

TAIL_TOLERANCE: Final = 1e-12
"""The Erlang A chain is cut where the mass of every state left out is provably below this
fraction of the mass summed so far (the tail is bounded by a geometric series)."""
MAX_QUEUE_STATES: Final = 5_000_000
"""Queue states the Erlang A chain may sum before giving up (``ValueError``): only reached
with traffic far above the agents and a patience far above the handle time."""
SHRINKAGE_SLACK: Final = 1e-9
"""``N / (1 − shrinkage)`` within this of a whole number is that number: ``21 / (1 − 0.3)``
is 30, not the 31 that ``ceil`` of its binary float (30.000000000000004) would give."""

ERLANG_C: Final = "erlang_c"
ERLANG_A: Final = "erlang_a"


@dataclass(frozen=True, slots=True)
class Staffing:
    """How a queue performs with ``agents`` on the phones, according to ``model``."""

    model: str
    """:data:`ERLANG_C` or :data:`ERLANG_A`."""
    traffic_erlangs: float
    agents: int
    aht_s: float
    threshold_s: float
    patience_s: float | None
    """Mean customer patience (Erlang A); ``None`` in Erlang C."""
    stable: bool
    """False when traffic ≥ agents in Erlang C: the queue grows without bound."""
    probability_wait: float
    service_level: float
    """P(answered with wait ≤ threshold), a ratio of all offered contacts."""
    asa_s: float | None
    """Mean wait of answered contacts; ``None`` when unstable or when nobody is answered."""
    occupancy: float
    probability_abandon: float | None
    """Erlang A only; ``None`` in Erlang C, where nobody abandons."""


@dataclass(frozen=True, slots=True)
class Requirement:
    """Agents a queue needs to meet a service-level target, and how it performs with them."""

    agents: int
    """Smallest number on the phones meeting the target and the occupancy cap."""
    agents_fractional: float
    """Interpolated requirement: ``agents − 1 < agents_fractional ≤ agents``."""
    agents_with_shrinkage: int
    """Agents to schedule so that ``agents`` are on the phones: ceil(N / (1 − shrinkage))."""
    target: float
    max_occupancy: float | None
    shrinkage: float
    staffing: Staffing
    """The performance with ``agents``."""


# --- inputs ----------------------------------------------------------------------------------


def traffic_erlangs(contacts: float, interval_s: float, aht_s: float) -> float:
    """Offered traffic of ``contacts`` arriving over ``interval_s`` with handle time ``aht_s``."""
    _check("contacts", contacts, contacts >= 0, "a number ≥ 0")
    _check("interval_s", interval_s, interval_s > 0, "a number > 0")
    _check("aht_s", aht_s, aht_s > 0, "a number > 0")
    return contacts * aht_s / interval_s


def estimate_patience_s(wait_s_sum: float, abandoned: int) -> float | None:
    """Mean customer patience, from what the queue saw: total wait over number of abandons.

    ``wait_s_sum`` must be the time waited by *every* contact that queued, whatever became of
    it: an abandon reveals its patience exactly, an answered (or flowed-out) contact only that
    its patience was longer than its wait. For exponential patience with such censored
    observations, the maximum-likelihood estimate of the mean is exactly this ratio (total
    exposure / events, as for any censored exponential lifetime). ``None`` when nobody
    abandoned: the data says only that patience is long, not how long.
    """
    _check("wait_s_sum", wait_s_sum, wait_s_sum >= 0, "a number ≥ 0")
    _check("abandoned", abandoned, abandoned >= 0, "a count ≥ 0")
    return wait_s_sum / abandoned if abandoned > 0 else None


def with_shrinkage(agents: int, shrinkage: float) -> int:
    """Agents to schedule so that ``agents`` are on the phones: ceil(agents / (1 − shrinkage))."""
    _check("agents", agents, agents >= 0, "a count ≥ 0")
    _check("shrinkage", shrinkage, 0 <= shrinkage < 1, "a ratio in [0, 1)")
    return math.ceil(agents / (1 - shrinkage) - SHRINKAGE_SLACK)


# --- Erlang B and C --------------------------------------------------------------------------


def erlang_b(traffic_erlangs: float, agents: int) -> float:
    """Blocking probability of ``agents`` servers offered ``traffic_erlangs`` (no queue)."""
    _check_load(traffic_erlangs, agents)
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic_erlangs * b / (n + traffic_erlangs * b)
    return b


def erlang_c(traffic_erlangs: float, agents: int, *, aht_s: float, threshold_s: float) -> Staffing:
    """Erlang C performance of ``agents`` (unstable, not an error, when traffic ≥ agents)."""
    _check_load(traffic_erlangs, agents)
    _check_times(aht_s, threshold_s)
    a = float(traffic_erlangs)
    return _erlang_c(a, agents, erlang_b(a, agents), aht_s, threshold_s)


def _erlang_c(a: float, n: int, b: float, aht_s: float, threshold_s: float) -> Staffing:
    if a == 0:
        return _idle(ERLANG_C, n, aht_s, threshold_s, None)
    if a >= n:
        return Staffing(ERLANG_C, a, n, aht_s, threshold_s, None, False, 1.0, 0.0, None, 1.0, None)
    p_wait = min(1.0, n * b / (n - a * (1 - b)))
    service_level = 1 - p_wait * math.exp(-(n - a) * threshold_s / aht_s)
    asa_s = p_wait * aht_s / (n - a)
    return Staffing(
        ERLANG_C, a, n, aht_s, threshold_s, None, True, p_wait, service_level, asa_s, a / n, None
    )


def _idle(model: str, n: int, aht_s: float, threshold_s: float, patience: float | None) -> Staffing:
    """No traffic: the limits as traffic goes to 0."""
    abandon = None if patience is None else 0.0
    return Staffing(model, 0.0, n, aht_s, threshold_s, patience, True, 0.0, 1.0, 0.0, 0.0, abandon)


# --- Erlang A --------------------------------------------------------------------------------


def erlang_a(
    traffic_erlangs: float,
    agents: int,
    *,
    aht_s: float,
    threshold_s: float,
    patience_s: float,
) -> Staffing:
    """Erlang A (M/M/N+M) performance of ``agents`` with mean customer patience ``patience_s``."""
    _check_load(traffic_erlangs, agents)
    _check_times(aht_s, threshold_s)
    _check("patience_s", patience_s, patience_s > 0, "a number > 0")
    a, n = float(traffic_erlangs), agents
    if a == 0:
        return _idle(ERLANG_A, n, aht_s, threshold_s, patience_s)
    arrival = a / aht_s
    theta = 1 / patience_s
    n_mu = n / aht_s
    sums = _Sums()

    # states 0 … N−1 relative to state N: an arrival there is answered at once
    if n > 0:
        sums.add_answered_at_once(math.log(n / a) + _log_erlang_b_inverse(a, n - 1))

    # the NB terms of P(not answered within T | j ahead), in log space
    nb_a = n_mu / theta + 1
    log_nb = -(n_mu + theta) * threshold_s
    one_minus_x = -math.expm1(-theta * threshold_s)  # 0 for T = 0 (or a T that tiny)
    log_one_minus_x = math.log(one_minus_x) if one_minus_x > 0 else None
    tail = 0.0  # P(the contact's own clock, killed by its patience, runs past T)
    mean_wait = 0.0
    log_weight = 0.0  # state N + j relative to state N
    log_tolerance = math.log(TAIL_TOLERANCE)
    for j in range(MAX_QUEUE_STATES):
        if log_one_minus_x is None:
            tail = 1.0
        else:
            tail = min(1.0, tail + math.exp(log_nb))
            log_nb += math.log((nb_a + j) / (j + 1)) + log_one_minus_x
        leave_rate = n_mu + (j + 1) * theta
        mean_wait += 1 / leave_rate
        answered = n_mu / leave_rate
        sums.add_queued(log_weight, answered, answered * (1 - tail), answered * mean_wait)

        ratio = arrival / leave_rate  # weight of state N+j+1 over state N+j
        if ratio < 1 and (
            log_weight + math.log(ratio / (1 - ratio)) < log_tolerance + sums.log_mass()
        ):
            break
        log_weight += math.log(ratio)
    else:
        raise ValueError(
            f"patience_s: the Erlang A chain did not converge within {MAX_QUEUE_STATES} queue "
            f"states (traffic {a:g} erlangs, {n} agents, patience {patience_s:g} s); "
            "use Erlang C for such long patience"
        )

    p_answered = sums.answered / sums.mass
    return Staffing(
        model=ERLANG_A,
        traffic_erlangs=a,
        agents=n,
        aht_s=aht_s,
        threshold_s=threshold_s,
        patience_s=patience_s,
        stable=True,
        probability_wait=sums.queued / sums.mass,
        service_level=sums.within / sums.mass,
        asa_s=sums.answered_wait / sums.answered if sums.answered > 0 else None,
        occupancy=a * p_answered / n if n > 0 else 0.0,
        probability_abandon=max(0.0, 1 - p_answered),
    )


class _Sums:
    """Sums over chain states weighted by their stationary mass, scaled by ``e^scale`` so that
    neither a huge state (traffic ≫ agents) overflows nor a tiny one underflows the rest."""

    __slots__ = ("answered", "answered_wait", "mass", "queued", "scale", "within")

    def __init__(self) -> None:
        self.scale = 0.0
        self.mass = self.queued = self.answered = self.within = self.answered_wait = 0.0

    def _weight(self, log_weight: float) -> float:
        if log_weight > self.scale:
            factor = math.exp(self.scale - log_weight)
            self.mass *= factor
            self.queued *= factor
            self.answered *= factor
            self.within *= factor
            self.answered_wait *= factor
            self.scale = log_weight
        return math.exp(log_weight - self.scale)

    def add_answered_at_once(self, log_weight: float) -> None:
        """States where an arrival finds a free agent: answered with no wait."""
        w = self._weight(log_weight)
        self.mass += w
        self.answered += w
        self.within += w

    def add_queued(self, log_weight: float, answered: float, within: float, wait: float) -> None:
        """A state where an arrival queues: P(answered), P(answered within T), E[wait; answered]."""
        w = self._weight(log_weight)
        self.mass += w
        self.queued += w
        self.answered += w * answered
        self.within += w * within
        self.answered_wait += w * wait

    def log_mass(self) -> float:
        return math.log(self.mass) + self.scale


def _log_erlang_b_inverse(a: float, n: int) -> float:
    """log(1 / Erlang B(n, a)) = log Σ_{k≤n} (a^k/k!) / (a^n/n!), by the recursion
    ``R(n) = 1 + (n/a)·R(n−1)`` in log space: finite for any n, where 1/B itself overflows."""
    log_r = 0.0
    for k in range(1, n + 1):
        t = math.log(k / a) + log_r
        log_r = t + math.log1p(math.exp(-t)) if t > 0 else math.log1p(math.exp(t))
    return log_r


# --- the requirement -------------------------------------------------------------------------


def evaluate(
    traffic_erlangs: float,
    agents: int,
    *,
    aht_s: float,
    threshold_s: float,
    patience_s: float | None = None,
) -> Staffing:
    """Erlang A when a patience is given, else Erlang C."""
    if patience_s is None:
        return erlang_c(traffic_erlangs, agents, aht_s=aht_s, threshold_s=threshold_s)
    return erlang_a(
        traffic_erlangs, agents, aht_s=aht_s, threshold_s=threshold_s, patience_s=patience_s
    )


def required_agents(
    traffic_erlangs: float,
    *,
    aht_s: float,
    threshold_s: float,
    target: float,
    max_occupancy: float | None = None,
    shrinkage: float = 0.0,
    patience_s: float | None = None,
) -> Requirement:
    """The smallest number of agents whose service level at ``threshold_s`` reaches ``target``
    (and whose occupancy is at most ``max_occupancy``), by Erlang A when ``patience_s`` is given,
    else Erlang C; with the fractional requirement and shrinkage (see the module docstring)."""
    _check_load(traffic_erlangs, 0)
    _check_times(aht_s, threshold_s)
    _check("target", target, 0 < target < 1, "a ratio in (0, 1)")
    if max_occupancy is not None:
        _check("max_occupancy", max_occupancy, 0 < max_occupancy <= 1, "a ratio in (0, 1]")
    _check("shrinkage", shrinkage, 0 <= shrinkage < 1, "a ratio in [0, 1)")
    if patience_s is not None:
        _check("patience_s", patience_s, patience_s > 0, "a number > 0")

    a = float(traffic_erlangs)
    if a == 0:
        idle = evaluate(0.0, 0, aht_s=aht_s, threshold_s=threshold_s, patience_s=patience_s)
        return Requirement(0, 0.0, 0, target, max_occupancy, shrinkage, idle)

    def meets(staffing: Staffing) -> bool:
        return (
            staffing.stable
            and staffing.service_level >= target
            and (max_occupancy is None or staffing.occupancy <= max_occupancy)
        )

    if patience_s is None:
        below, found = _search_erlang_c(a, aht_s, threshold_s, meets)
    else:
        below, found = _search_erlang_a(a, aht_s, threshold_s, patience_s, meets)

    n = found.agents
    crossings = []  # N − 1 misses at least one goal; the last one reached binds
    if below.service_level < target:
        crossings.append(_crossing(n, below.service_level, found.service_level, target))
    if max_occupancy is not None and below.occupancy > max_occupancy:
        crossings.append(_crossing(n, below.occupancy, found.occupancy, max_occupancy))
    fractional = max(crossings, default=float(n))
    return Requirement(
        agents=n,
        agents_fractional=fractional,
        agents_with_shrinkage=with_shrinkage(n, shrinkage),
        target=target,
        max_occupancy=max_occupancy,
        shrinkage=shrinkage,
        staffing=found,
    )


def _search_erlang_c(
    a: float, aht_s: float, threshold_s: float, meets: Callable[[Staffing], bool]
) -> tuple[Staffing, Staffing]:
    """(performance with N − 1, performance with N) for the smallest N that ``meets``.

    Upwards from the first stable N, carrying Erlang B along: O(N) in all."""
    n = math.floor(a)  # the largest unstable N (a > 0)
    b = erlang_b(a, n)
    below = _erlang_c(a, n, b, aht_s, threshold_s)
    while True:
        n += 1
        b = a * b / (n + a * b)
        current = _erlang_c(a, n, b, aht_s, threshold_s)
        if meets(current):
            return below, current
        below = current


def _search_erlang_a(
    a: float, aht_s: float, threshold_s: float, patience_s: float, meets: Callable[[Staffing], bool]
) -> tuple[Staffing, Staffing]:
    """(performance with N − 1, performance with N) for the smallest N that ``meets``.

    Erlang A is stable for any N, and its SL rises and its occupancy falls with N, so doubling
    then bisecting finds N in O(log N) evaluations. N = 0 never meets a target > 0."""
    cache: dict[int, Staffing] = {}

    def at(n: int) -> Staffing:
        if n not in cache:
            cache[n] = erlang_a(a, n, aht_s=aht_s, threshold_s=threshold_s, patience_s=patience_s)
        return cache[n]

    low, high = 0, max(1, math.ceil(a))
    while not meets(at(high)):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if meets(at(middle)):
            high = middle
        else:
            low = middle
    return at(high - 1), at(high)


def _crossing(n: int, below: float, at_n: float, goal: float) -> float:
    """Where the straight line from (n − 1, below) to (n, at_n) reaches ``goal``."""
    if at_n == below:
        return float(n)
    share = (goal - below) / (at_n - below)
    return n - 1 + min(1.0, max(0.0, share))


# --- argument checks -------------------------------------------------------------------------


def _check(name: str, value: float, ok: bool, expected: str) -> None:
    if not ok or not math.isfinite(value):
        raise ValueError(f"{name}: expected {expected}, got {value!r}")


def _check_load(traffic: float, agents: int) -> None:
    _check("traffic_erlangs", traffic, traffic >= 0, "a number ≥ 0")
    _check("agents", agents, isinstance(agents, int) and agents >= 0, "a whole number ≥ 0")


def _check_times(aht_s: float, threshold_s: float) -> None:
    _check("aht_s", aht_s, aht_s > 0, "a number > 0")
    _check("threshold_s", threshold_s, threshold_s >= 0, "a number ≥ 0")
