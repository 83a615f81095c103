"""Live staffing: the agents each queue needs for the load it sees now, against those serving it.

A queue view (:func:`streams.snapshot.queue_view`) is built where the queue's contacts are;
the agents serving it live in other partitions. So staffing is computed where the whole floor
is known, in :func:`streams.snapshot.floor_view`, from the queue views and the agent rows.

Definitions, for one queue, its *staffing window* (the shortest rolling window of the views,
``rolling_30`` by default) and the queue's threshold ``T`` and target:

- **window length** ``W`` = the window's whole minutes + the elapsed part of the current
  minute at ``now_ms`` (rounded up to :data:`ELAPSED_STEP_MS`, so a floor view built a
  second later reuses the Erlang results), never more than the window's span;
- **arrival rate** λ = offered in the window / ``W`` (short abandons are not offered);
- **AHT** = (talk + hold + ACW) / handled, of the contacts handled in the window;
- **traffic** ``A`` = λ × AHT (erlangs); null while nothing was handled in the window;
- **patience** = (waits of answered + waits of abandoned contacts in the window) / abandoned
  (:func:`streams.erlang.estimate_patience_s`: the maximum-likelihood mean of exponential
  patience, answered contacts counting as censored observations); only with at least one
  abandon. Contacts still waiting and flowed-out contacts are left out (a flow-out's wait
  includes orphan closes hours long, which would swamp the estimate);
- **model**: Erlang A with that patience when the window has abandons, else Erlang C
  (Erlang A's limit for infinite patience). Erlang C also stands in when the patience is
  more than :data:`MAX_PATIENCE_AHTS` AHTs: the Erlang A chain then grows with the ratio
  and would take up to seconds per queue on every floor view;
- **required agents** = :func:`streams.erlang.required_agents` for ``A`` at ``T`` and the
  target: the smallest N whose service level reaches the target (no occupancy cap, no
  shrinkage: live staffed agents are already the ones not in not-ready). 0 with no arrivals;
  null for a target of 100 % (no finite N reaches it);
- **staffed agents** = agents logged in and not in not-ready whose ``queues`` attribute (from
  their ``agent.state`` events) names the queue; **available** = those of them available.
  An agent serving several queues counts in full in each of them;
- **gap** = staffed − required (negative: short of agents);
- **projected service level** = the model's SL(T) with ``A`` and N = staffed agents: the
  share of the contacts arriving for the rest of the interval that will be answered within
  ``T`` if the load and the staffing stay as they are now. 0 when ``A`` ≥ N in Erlang C;
  null with no arrivals in the window (no contacts, no service level) or no AHT.

Groups (each site, each client, the floor) add up their queues: λ, traffic and required
agents add; staffed and available agents are the distinct agents serving at least one of the
group's queues (an agent serving several queues counts once per group, so a group's gap can
be shorter than the sum of its queues' gaps); the projected service level is the queues'
projections weighted by their arrival rates. Teams have no demand of their own, so they get
no staffing figures (their agents by state are in ``agents_by_state``).

A queue with a forecast for its current interval also gets the forecast block of
:func:`streams.forecast.compare`, with the agents the forecast traffic requires (Erlang C, as
a plan staffs it), the queue's staffed agents and their gap.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from streams.agent_states import AVAILABLE, LOGGED_OUT, NOT_READY
from streams.erlang import (
    ERLANG_A,
    ERLANG_C,
    Staffing,
    erlang_c,
    estimate_patience_s,
    evaluate,
    required_agents,
)
from streams.forecast import Forecast, compare, group_compare

ELAPSED_STEP_MS: Final = 5_000
"""The elapsed part of the window's current minute is counted in steps of this."""
MAX_TRAFFIC_ERLANGS: Final = 2_000.0
"""Traffic beyond this gets no staffing figures: far beyond any queue (and a sign of a
malformed view), and the Erlang search would take seconds."""
MAX_PATIENCE_AHTS: Final = 20.0
"""Patience longer than this many AHTs is modelled by Erlang C (see the module)."""
CACHE_SIZE: Final = 4096

GROUP_KEYS: Final = ("site", "client")


@dataclass(frozen=True, slots=True)
class Load:
    """What a queue saw over the staffing window."""

    window: str
    window_s: float
    contacts: int
    arrival_rate_per_s: float
    handled: int
    aht_s: float | None
    traffic_erlangs: float | None
    abandoned: int
    patience_s: float | None


def window_s(figures: Mapping[str, Any], now_ms: int) -> float:
    """Seconds the rolling window ``figures`` (with ``start_ms`` and ``end_ms``) covers at
    ``now_ms``: its whole minutes plus the elapsed part of its last minute (see the module)."""
    start, end = int(figures["start_ms"]), int(figures["end_ms"])
    stepped = -(-now_ms // ELAPSED_STEP_MS) * ELAPSED_STEP_MS
    covered = min(end, max(end - 60_000, stepped))
    return max(covered - start, ELAPSED_STEP_MS) / 1000


def observed_load(view: Mapping[str, Any], window: str, now_ms: int) -> Load | None:
    """The load of one queue view over ``window``; None when the view lacks the window."""
    figures = view.get("windows", {}).get(window)
    if figures is None:
        return None
    seconds = window_s(figures, now_ms)
    contacts = int(figures["offered"])
    handled = int(figures["handled"])
    abandoned = int(figures["abandoned"])
    if contacts < 0 or handled < 0 or abandoned < 0:
        return None  # not a view a worker builds
    rate = contacts / seconds
    aht: float | None = None
    if handled > 0:
        handle_s = (
            float(figures["talk_s_sum"])
            + float(figures["hold_s_sum"])
            + float(figures["acw_s_sum"])
        )
        aht = handle_s / handled if math.isfinite(handle_s) and handle_s > 0 else None
    traffic = None if aht is None else rate * aht
    exposure = float(figures["wait_answered_s_sum"]) + float(figures.get("wait_abandoned_s_sum", 0))
    patience = estimate_patience_s(max(0.0, exposure), abandoned) if abandoned > 0 else None
    if patience is not None and patience <= 0:
        patience = None  # abandons at the instant of queuing: nothing to model with
    return Load(window, seconds, contacts, rate, handled, aht, traffic, abandoned, patience)


def queue_staffing(
    view: Mapping[str, Any], load: Load | None, staffed: int, available: int
) -> dict[str, Any]:
    """The staffing block of one queue view (see the module for every figure)."""
    block: dict[str, Any] = {
        "window": None if load is None else load.window,
        "window_s": None if load is None else load.window_s,
        "contacts": None if load is None else load.contacts,
        "arrival_rate_per_s": None if load is None else load.arrival_rate_per_s,
        "handled": None if load is None else load.handled,
        "aht_s": None if load is None else load.aht_s,
        "traffic_erlangs": None if load is None else load.traffic_erlangs,
        "abandoned": None if load is None else load.abandoned,
        "patience_s": None if load is None else load.patience_s,
        "model": None,
        "required_agents": None,
        "required_agents_fractional": None,
        "staffed_agents": staffed,
        "available_agents": available,
        "gap": None,
        "projected_service_level": None,
        "projected_asa_s": None,
        "projected_occupancy": None,
        "projected_probability_abandon": None,
        "stable": None,
        "forecast": None,
    }
    threshold, target = _number(view.get("threshold_s")), _number(view.get("target"))
    if load is None or threshold is None or threshold < 0 or target is None:
        return block
    if load.contacts == 0:
        block["required_agents"] = 0
        block["required_agents_fractional"] = 0.0
        block["gap"] = staffed
        return block
    traffic, aht = load.traffic_erlangs, load.aht_s
    if traffic is None or aht is None or traffic > MAX_TRAFFIC_ERLANGS:
        return block
    patience = load.patience_s
    if patience is not None and patience > MAX_PATIENCE_AHTS * aht:
        patience = None
    need = _requirement(traffic, aht, threshold, target, patience)
    if need is not None:
        block["model"] = need[2]
        block["required_agents"] = need[0]
        block["required_agents_fractional"] = need[1]
        block["gap"] = staffed - need[0]
    now = _performance(traffic, staffed, aht, threshold, patience)
    block["model"] = now.model
    block["projected_service_level"] = now.service_level
    block["projected_asa_s"] = now.asa_s
    block["projected_occupancy"] = now.occupancy
    block["projected_probability_abandon"] = now.probability_abandon
    block["stable"] = now.stable
    return block


def forecast_staffing(
    view: Mapping[str, Any],
    forecast: Forecast,
    interval_window: str,
    now_ms: int,
    staffed: int,
) -> dict[str, Any] | None:
    """The forecast block of one queue view, or None when it has no forecast for the view's
    current interval."""
    figures = view.get("windows", {}).get(interval_window)
    if figures is None:
        return None
    planned = forecast.get(str(view["queue"]), int(figures["start_ms"]))
    if planned is None:
        return None
    block = compare(planned, figures, now_ms=now_ms)
    threshold, target = _number(view.get("threshold_s")), _number(view.get("target"))
    need = None
    if threshold is not None and threshold >= 0 and target is not None:
        traffic = float(block["traffic_erlangs"])
        if traffic <= MAX_TRAFFIC_ERLANGS:
            need = _requirement(traffic, planned.aht_s, threshold, target, None)
    block["required_agents"] = None if need is None else need[0]
    block["required_agents_fractional"] = None if need is None else need[1]
    block["staffed_agents"] = staffed
    block["gap"] = None if need is None else staffed - need[0]
    return block


@dataclass
class _Serving:
    staffed: set[str]
    available: set[str]


def agents_serving(rows: Iterable[Mapping[str, Any]]) -> dict[str, _Serving]:
    """Per queue, the ids of the staffed and of the available agents whose ``queues`` name it."""
    out: dict[str, _Serving] = {}
    for row in rows:
        state = row.get("state")
        if state is None or state in (LOGGED_OUT, NOT_READY):
            continue
        agent_id = str(row["agent_id"])
        for name in row.get("queues") or ():
            if not isinstance(name, str):
                continue  # not a queue name: a row no worker builds
            serving = out.get(name)
            if serving is None:
                serving = out[name] = _Serving(set(), set())
            serving.staffed.add(agent_id)
            if state == AVAILABLE:
                serving.available.add(agent_id)
    return out


def group_staffing(
    views: Sequence[Mapping[str, Any]], serving: Mapping[str, _Serving]
) -> dict[str, Any]:
    """The staffing block of a group from its queue views (each carrying ``staffing``)."""
    blocks = [view["staffing"] for view in views if view.get("staffing") is not None]
    rates = [b["arrival_rate_per_s"] for b in blocks if b["arrival_rate_per_s"] is not None]
    traffic = [b["traffic_erlangs"] for b in blocks if b["traffic_erlangs"] is not None]
    needs = [b["required_agents"] for b in blocks if b["required_agents"] is not None]
    weighted = [
        (b["arrival_rate_per_s"], b["projected_service_level"])
        for b in blocks
        if b["projected_service_level"] is not None and b["arrival_rate_per_s"]
    ]
    weight = sum(rate for rate, _ in weighted)
    staffed = _distinct(serving, views, lambda s: s.staffed)
    need = sum(needs) if needs else None
    forecasts = [view for view in views if (view.get("staffing") or {}).get("forecast")]
    forecast = group_compare(view["staffing"]["forecast"] for view in forecasts)
    if forecast is not None:
        forecast_needs = [
            view["staffing"]["forecast"]["required_agents"]
            for view in forecasts
            if view["staffing"]["forecast"]["required_agents"] is not None
        ]
        forecast_need = sum(forecast_needs) if forecast_needs else None
        forecast_staffed = _distinct(serving, forecasts, lambda s: s.staffed)
        forecast["required_agents"] = forecast_need
        forecast["staffed_agents"] = forecast_staffed
        forecast["gap"] = None if forecast_need is None else forecast_staffed - forecast_need
    return {
        "queues": len(views),
        "arrival_rate_per_s": sum(rates) if rates else None,
        "traffic_erlangs": sum(traffic) if traffic else None,
        "required_agents": need,
        "staffed_agents": staffed,
        "available_agents": _distinct(serving, views, lambda s: s.available),
        "gap": None if need is None else staffed - need,
        "projected_service_level": (
            sum(rate * sl for rate, sl in weighted) / weight if weight > 0 else None
        ),
        "forecast": forecast,
    }


def floor_staffing(
    views: Sequence[dict[str, Any]],
    rows: Iterable[Mapping[str, Any]],
    now_ms: int,
    *,
    window: str | None,
    interval_window: str,
    forecast: Forecast | None = None,
) -> dict[str, Any]:
    """Adds ``staffing`` to every queue view and returns the groups' staffing: ``window``,
    ``floor``, and ``site`` / ``client`` by name."""
    serving = agents_serving(rows)
    for view in views:
        agents = serving.get(str(view["queue"]))
        staffed = 0 if agents is None else len(agents.staffed)
        available = 0 if agents is None else len(agents.available)
        # a view from the snapshot topic passed the hub's checks of its counts, not of its
        # window bounds: one malformed view must leave its own figures empty, not the floor's
        try:
            load = None if window is None else observed_load(view, window, now_ms)
        except (KeyError, TypeError, ValueError):
            load = None
        block = queue_staffing(view, load, staffed, available)
        if forecast:
            try:
                block["forecast"] = forecast_staffing(
                    view, forecast, interval_window, now_ms, staffed
                )
            except (KeyError, TypeError, ValueError):
                block["forecast"] = None
        view["staffing"] = block
    out: dict[str, Any] = {"window": window, "floor": group_staffing(views, serving)}
    for key in GROUP_KEYS:
        members: dict[str, list[dict[str, Any]]] = {}
        for view in views:
            if view.get(key) is not None:
                members.setdefault(str(view[key]), []).append(view)
        out[key] = {name: group_staffing(group, serving) for name, group in sorted(members.items())}
    return out


def _distinct(
    serving: Mapping[str, _Serving],
    views: Iterable[Mapping[str, Any]],
    which: Callable[[_Serving], set[str]],
) -> int:
    agents: set[str] = set()
    for view in views:
        found = serving.get(str(view["queue"]))
        if found is not None:
            agents |= which(found)
    return len(agents)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


@lru_cache(maxsize=CACHE_SIZE)
def _requirement(
    traffic: float, aht_s: float, threshold_s: float, target: float, patience_s: float | None
) -> tuple[int, float, str] | None:
    """(agents, fractional agents, model) meeting ``target``; None for a target of 100 %.

    Cached: the floor view is rebuilt many times a second, its queues' loads change less."""
    if not 0 < target < 1:
        return None
    if patience_s is not None:
        try:
            need = required_agents(
                traffic, aht_s=aht_s, threshold_s=threshold_s, target=target, patience_s=patience_s
            )
            return need.agents, need.agents_fractional, ERLANG_A
        except ValueError:  # the chain is too long to sum: patience ≫ AHT, i.e. Erlang C
            pass
    need = required_agents(traffic, aht_s=aht_s, threshold_s=threshold_s, target=target)
    return need.agents, need.agents_fractional, ERLANG_C


@lru_cache(maxsize=CACHE_SIZE)
def _performance(
    traffic: float, agents: int, aht_s: float, threshold_s: float, patience_s: float | None
) -> Staffing:
    """How the queue performs with ``agents`` at ``traffic`` (cached like the requirement)."""
    if patience_s is not None:
        try:
            return evaluate(
                traffic, agents, aht_s=aht_s, threshold_s=threshold_s, patience_s=patience_s
            )
        except ValueError:
            pass
    return erlang_c(traffic, agents, aht_s=aht_s, threshold_s=threshold_s)


__all__ = [
    "ELAPSED_STEP_MS",
    "MAX_PATIENCE_AHTS",
    "MAX_TRAFFIC_ERLANGS",
    "Load",
    "agents_serving",
    "floor_staffing",
    "forecast_staffing",
    "group_staffing",
    "observed_load",
    "queue_staffing",
    "window_s",
]
