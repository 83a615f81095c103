"""Live staffing in the floor view: observed load, required agents, staffed agents, gap,
projected service level; per queue, per group, against a forecast.

Hand-worked Erlang C cases use A = 1 erlang with the threshold equal to the AHT, where the
formulas of DESIGN.md section 3 come out by hand: Erlang B(1) = 1/2, B(2) = 1/5,
B(3) = 1/16, so P(wait) is 1/3 with 2 agents and 1/11 with 3, and
SL(T = AHT) = 1 − P(wait)·e^(−(N − A)). The known answer of issue 7 (100 contacts in 30 min,
AHT 180 s, 80 % in 20 s → 14 agents; SL with 11…14 agents 0.3896, 0.6402, 0.7956, 0.8884)
must come out of the live computation, from hand-made views and from folded events.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest

from streams.alert_rules import AlertRule, rule_problems
from streams.alert_scopes import FloorEntities, measure
from streams.floor import Floor
from streams.forecast import Forecast, ForecastInterval
from streams.snapshot import floor_view, staffing_window
from streams.staffing import observed_load, window_s
from streams.stats import COUNT_FIELDS, MS_SUM_FIELDS, QueueStats

MINUTE = 60_000
NOW = 1_714_986_000_000  # 2024-05-06T09:00:00Z, a minute (and interval) boundary
INTERVAL_START = NOW - 15 * MINUTE  # the interval that ends at NOW is "current" at NOW - 1


# --- hand-made views ------------------------------------------------------------------------


def figures(start_ms: int, end_ms: int, **counts: float) -> dict[str, Any]:
    """One window of a queue view: every count and sum 0 unless given."""
    out: dict[str, Any] = {name: 0 for name in COUNT_FIELDS}
    out.update({exported: 0.0 for _, exported in MS_SUM_FIELDS})
    out["wait_answered_s_max"] = 0.0
    out["wait_abandoned_s_sum"] = 0.0
    out.update(counts)
    out["service_level"] = {}
    out["start_ms"] = start_ms
    out["end_ms"] = end_ms
    return out


def view(
    queue: str = "sales",
    *,
    offered: int = 0,
    handled: int = 0,
    aht_s: float = 180.0,
    abandoned: int = 0,
    wait_answered_s: float = 0.0,
    wait_abandoned_s: float = 0.0,
    threshold_s: float = 20.0,
    target: float = 0.80,
    site: str = "london",
    client: str | None = None,
    interval: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A queue view whose rolling_30 window (ending with the minute of NOW) shows the load."""
    rolling = figures(
        NOW - 30 * MINUTE,
        NOW + MINUTE,
        offered=offered,
        handled=handled,
        talk_s_sum=handled * aht_s,
        abandoned=abandoned,
        wait_answered_s_sum=wait_answered_s,
        wait_abandoned_s_sum=wait_abandoned_s,
    )
    return {
        "queue": queue,
        "site": site,
        "client": client,
        "channel": "voice",
        "threshold_s": threshold_s,
        "short_abandon_s": 5.0,
        "target": target,
        "definitions": ["answered_of_offered"],
        "include_flowouts": False,
        "waiting": 0,
        "longest_wait_s": 0.0,
        "oldest_queued_ms": None,
        "at_risk": 0,
        "handling": 0,
        "handling_agents": {},
        "windows": {
            "interval": interval or figures(NOW, NOW + 15 * MINUTE),
            "rolling_30": rolling,
            "rolling_60": figures(NOW - 60 * MINUTE, NOW + MINUTE),
            "day": figures(NOW - 9 * 60 * MINUTE, NOW + 15 * 60 * MINUTE),
        },
    }


def agent(agent_id: str, state: str, *queues: str, reason: str | None = None) -> dict[str, Any]:
    return {
        "agent_id": agent_id,
        "state": state,
        "reason": reason,
        "queues": list(queues) if queues else None,
        "site": "london",
        "team": "red",
    }


def staffed(count: int, queue: str = "sales") -> list[dict[str, Any]]:
    return [agent(f"a{i}", "on_contact", queue) for i in range(count)]


def staffing_of(
    queue_view: dict[str, Any], rows: list[dict[str, Any]], now_ms: int = NOW
) -> dict[str, Any]:
    block: dict[str, Any] = floor_view([queue_view], rows, now_ms)["queues"][0]["staffing"]
    return block


# --- the window ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now_ms", "seconds"),
    [
        (NOW, 1800.0),  # exactly on the minute: 30 whole minutes, nothing of the current one
        (NOW + 1, 1805.0),  # the elapsed part is counted in steps of 5 s, rounded up
        (NOW + 30_000, 1830.0),
        (NOW + 59_999, 1860.0),
        (NOW + 10 * MINUTE, 1860.0),  # an old view: never more than its span
        (NOW - 10 * MINUTE, 1800.0),  # a clock behind the view's: never less than its minutes
    ],
)
def test_window_length_is_its_whole_minutes_plus_the_elapsed_part_of_the_current_one(
    now_ms: int, seconds: float
) -> None:
    assert window_s(figures(NOW - 30 * MINUTE, NOW + MINUTE), now_ms) == seconds


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["interval", "rolling_30", "rolling_60", "day"], "rolling_30"),
        (["interval", "rolling_60", "rolling_15", "day"], "rolling_15"),
        (["interval", "day"], None),
    ],
)
def test_staffing_is_measured_over_the_shortest_rolling_window(
    labels: list[str], expected: str | None
) -> None:
    assert staffing_window(labels) == expected


# --- observed load ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "rate", "aht", "traffic", "patience"),
    [
        # 100 in 1800 s, all handled in 180 s: λ = 1/18 per s, A = 10 erlangs
        ({"offered": 100, "handled": 90}, 100 / 1800, 180.0, 10.0, None),
        # patience = (waits answered + waits abandoned) / abandoned = (300 + 500) / 4
        (
            {
                "offered": 36,
                "handled": 30,
                "abandoned": 4,
                "wait_answered_s": 300.0,
                "wait_abandoned_s": 500.0,
            },
            36 / 1800,
            180.0,
            3.6,
            200.0,
        ),
        # arrivals but nothing handled yet: no AHT, so no traffic
        ({"offered": 12, "handled": 0}, 12 / 1800, None, None, None),
    ],
)
def test_observed_load_is_rate_times_aht_with_patience_from_abandons(
    counts: dict[str, Any],
    rate: float,
    aht: float | None,
    traffic: float | None,
    patience: float | None,
) -> None:
    load = observed_load(view(**counts), "rolling_30", NOW)
    assert load is not None
    assert load.arrival_rate_per_s == pytest.approx(rate)
    assert load.aht_s == (None if aht is None else pytest.approx(aht))
    assert load.traffic_erlangs == (None if traffic is None else pytest.approx(traffic))
    assert load.patience_s == (None if patience is None else pytest.approx(patience))


def test_a_view_without_the_window_has_no_load() -> None:
    assert observed_load(view(offered=10, handled=10), "rolling_15", NOW) is None


# --- one queue: hand-worked Erlang C -----------------------------------------------------------

E = math.e
ONE_ERLANG = {"offered": 10, "handled": 10, "aht_s": 180.0, "threshold_s": 180.0}


@pytest.mark.parametrize(
    ("agents", "target", "required", "gap", "service_level", "stable"),
    [
        (1, 0.80, 2, -1, 0.0, False),  # A = N: unstable, nobody is answered in time
        (2, 0.80, 2, 0, 1 - 1 / (3 * E), True),  # P(wait) 1/3, SL 1 − e^−1/3 = 0.8774
        (3, 0.80, 2, 1, 1 - 1 / (11 * E**2), True),  # P(wait) 1/11, SL 1 − e^−2/11
        (2, 0.90, 3, -1, 1 - 1 / (3 * E), True),  # 0.8774 < 0.90: a third agent is needed
        (0, 0.80, 2, -2, 0.0, False),
    ],
)
def test_one_erlang_needs_two_agents_for_80_percent_within_one_aht(
    agents: int,
    target: float,
    required: int,
    gap: int,
    service_level: float,
    stable: bool,
) -> None:
    block = staffing_of(view(target=target, **ONE_ERLANG), staffed(agents))
    assert block["traffic_erlangs"] == pytest.approx(1.0)
    assert block["model"] == "erlang_c"
    assert block["required_agents"] == required
    assert block["staffed_agents"] == agents
    assert block["gap"] == gap
    assert block["projected_service_level"] == pytest.approx(service_level, abs=1e-12)
    assert block["stable"] is stable


@pytest.mark.parametrize(
    ("agents", "service_level"),
    [(11, 0.3896), (12, 0.6402), (13, 0.7956), (14, 0.8884), (15, 0.9415)],
)
def test_the_worked_example_comes_out_of_the_live_computation(
    agents: int, service_level: float
) -> None:
    """100 contacts in the last 30 minutes handled in 180 s, 80 % in 20 s: 14 agents."""
    block = staffing_of(view(offered=100, handled=95), staffed(agents))
    assert block["traffic_erlangs"] == pytest.approx(10.0)
    assert block["required_agents"] == 14
    assert 13 < block["required_agents_fractional"] <= 14
    assert block["gap"] == agents - 14
    assert block["projected_service_level"] == pytest.approx(service_level, abs=5e-5)


def test_abandons_switch_to_erlang_a_with_the_patience_they_show() -> None:
    """Patience (500 + 100) / 2 = 300 s on the worked example's load, 14 agents: the issue's
    Erlang A answer, P(abandon) 0.0140 and SL 0.917."""
    queue_view = view(
        offered=100, handled=95, abandoned=2, wait_answered_s=500.0, wait_abandoned_s=100.0
    )
    block = staffing_of(queue_view, staffed(14))
    assert block["patience_s"] == pytest.approx(300.0)
    assert block["model"] == "erlang_a"
    assert block["projected_probability_abandon"] == pytest.approx(0.0140, abs=5e-4)
    assert block["projected_service_level"] == pytest.approx(0.917, abs=5e-4)
    assert block["required_agents"] <= 14  # abandons take load off: never more than C's


def test_a_patience_beyond_twenty_ahts_is_modelled_as_infinite() -> None:
    """One abandon over 4000 s of waits: patience 4000 s > 20 × 180 s, so Erlang C (whose
    answer for the worked example is 14) rather than a chain thousands of states long."""
    queue_view = view(offered=100, handled=95, abandoned=1, wait_answered_s=4000.0)
    block = staffing_of(queue_view, staffed(14))
    assert (block["patience_s"], block["model"]) == (4000.0, "erlang_c")
    assert block["required_agents"] == 14
    assert block["projected_service_level"] == pytest.approx(0.8884, abs=5e-5)


@pytest.mark.parametrize(
    ("counts", "agents", "required", "gap", "projected"),
    [
        # no demand: nobody required, and no contacts to project a service level for
        ({"offered": 0}, 3, 0, 3, None),
        # arrivals but no AHT yet: no traffic, so no staffing figures at all
        ({"offered": 12, "handled": 0}, 3, None, None, None),
        # a 100 % target has no finite requirement; the projection still stands
        ({"offered": 100, "handled": 95, "target": 1.0}, 14, None, None, 0.8884),
    ],
)
def test_staffing_without_enough_data_says_no_data_rather_than_guessing(
    counts: dict[str, Any],
    agents: int,
    required: int | None,
    gap: int | None,
    projected: float | None,
) -> None:
    block = staffing_of(view(**counts), staffed(agents) + staffed(20, "other")[agents:])
    assert block["staffed_agents"] == agents  # those serving 'other' are not counted here
    assert block["required_agents"] == required
    assert block["gap"] == gap
    if projected is None:
        assert block["projected_service_level"] is None
    else:
        assert block["projected_service_level"] == pytest.approx(projected, abs=5e-5)


def test_a_malformed_view_has_empty_staffing_and_leaves_the_floor_intact() -> None:
    broken = view("broken", offered=10, handled=10)
    del broken["windows"]["rolling_30"]["start_ms"]
    floor = floor_view([broken, view(offered=100, handled=95)], staffed(14), NOW)
    by_name = {q["queue"]: q["staffing"] for q in floor["queues"]}
    assert by_name["broken"]["required_agents"] is None
    assert by_name["sales"]["required_agents"] == 14


# --- agents serving queues and groups ----------------------------------------------------------


def test_agents_serving_several_queues_count_in_each_queue_and_once_per_group() -> None:
    rows = [
        agent("a1", "available", "sales"),
        agent("a2", "on_contact", "sales", "support"),
        agent("a3", "not_ready", "sales", reason="break"),  # not staffed
        agent("a4", "logged_out", "support"),  # not staffed
        agent("a5", "after_contact_work", "support"),
        agent("a6", "available"),  # serves no queue
        agent("a7", "available", "billing"),  # a queue not on the board
    ]
    sales = view("sales", offered=10, handled=10, threshold_s=180.0)  # A = 1
    support = view("support", offered=20, handled=20, threshold_s=180.0)  # A = 2
    floor = floor_view([sales, support], rows, NOW)
    by_name = {q["queue"]: q["staffing"] for q in floor["queues"]}
    assert (by_name["sales"]["staffed_agents"], by_name["sales"]["available_agents"]) == (2, 1)
    assert (by_name["support"]["staffed_agents"], by_name["support"]["available_agents"]) == (2, 0)
    group = floor["staffing"]["floor"]
    assert group["staffed_agents"] == 3  # a1, a2, a5: a2 once although it serves both
    assert group["available_agents"] == 1
    assert group["traffic_erlangs"] == pytest.approx(3.0)
    assert group["arrival_rate_per_s"] == pytest.approx(30 / 1800)
    required = by_name["sales"]["required_agents"] + by_name["support"]["required_agents"]
    assert group["required_agents"] == required
    assert group["gap"] == 3 - required
    # weighted by arrivals: (10 × SL(sales) + 20 × SL(support)) / 30
    expected = (
        10 * by_name["sales"]["projected_service_level"]
        + 20 * by_name["support"]["projected_service_level"]
    ) / 30
    assert group["projected_service_level"] == pytest.approx(expected)
    assert floor["staffing"]["site"]["london"] == group
    assert floor["staffing"]["window"] == "rolling_30"


def test_site_and_client_groups_hold_their_own_queues_only() -> None:
    views = [
        view("acme_sales", offered=10, handled=10, threshold_s=180.0, client="acme"),
        view("globex_sales", offered=10, handled=10, threshold_s=180.0, site="ny", client="gx"),
    ]
    rows = [agent("a1", "available", "acme_sales"), agent("a2", "available", "globex_sales")]
    staffing = floor_view(views, rows, NOW)["staffing"]
    assert sorted(staffing["site"]) == ["london", "ny"]
    assert sorted(staffing["client"]) == ["acme", "gx"]
    for group in (staffing["site"]["london"], staffing["client"]["gx"]):
        assert (group["queues"], group["staffed_agents"], group["required_agents"]) == (1, 1, 2)
        assert group["gap"] == -1
    assert staffing["floor"]["gap"] == -2


# --- forecast against actual -------------------------------------------------------------------


def forecast_of(*items: tuple[str, float, float], start_ms: int = NOW) -> Forecast:
    return Forecast.of(
        ForecastInterval(queue, start_ms, contacts, aht) for queue, contacts, aht in items
    )


def interval(start_ms: int = NOW, **counts: float) -> dict[str, Any]:
    return figures(start_ms, start_ms + 15 * MINUTE, **counts)


def test_forecast_deviation_is_pro_rata_to_the_elapsed_part_of_the_interval() -> None:
    """Halfway through a 15-minute interval forecast at 5 contacts of 180 s (1 erlang): 2.5
    expected so far, 3 arrived (+20 %); 2 handled in 400 s, AHT 200 s (+11.1 %); 1 erlang
    at 80 % within 180 s needs 2 agents, 1 staffed."""
    queue_view = view(
        threshold_s=180.0, interval=interval(offered=3, handled=2, talk_s_sum=300, acw_s_sum=100)
    )
    floor = floor_view([queue_view], staffed(1), NOW + 450_000, forecast_of(("sales", 5, 180.0)))
    block = floor["queues"][0]["staffing"]["forecast"]
    assert block["elapsed_ratio"] == 0.5
    assert block["contacts_to_date"] == 2.5
    assert block["actual_contacts"] == 3
    assert block["volume_deviation"] == pytest.approx(0.2)
    assert block["actual_aht_s"] == 200.0
    assert block["aht_deviation"] == pytest.approx(200 / 180 - 1)
    assert block["traffic_erlangs"] == pytest.approx(1.0)
    assert (block["required_agents"], block["staffed_agents"], block["gap"]) == (2, 1, -1)


def test_forecast_at_the_very_start_of_the_interval_has_no_deviation_yet() -> None:
    floor = floor_view([view()], [], NOW, forecast_of(("sales", 5, 180.0)))
    block = floor["queues"][0]["staffing"]["forecast"]
    assert (block["contacts_to_date"], block["volume_deviation"]) == (0.0, None)
    assert block["aht_deviation"] is None


def test_queues_without_a_forecast_for_this_interval_have_none() -> None:
    other_interval = Forecast.of([ForecastInterval("sales", NOW + 15 * MINUTE, 5, 180.0)])
    floor = floor_view([view(), view("support")], [], NOW + 1, other_interval)
    assert [q["staffing"]["forecast"] for q in floor["queues"]] == [None, None]
    assert floor["staffing"]["floor"]["forecast"] is None


def test_group_forecast_adds_contacts_and_weights_aht_by_contacts() -> None:
    """sales 5 × 180 s and support 15 × 300 s, a third of the way in: 20 contacts, AHT
    (900 + 4500) / 20 = 270 s, 20/3 to date; actual 4 + 6 = 10 (+50 %); 4 handled in
    1200 s: AHT 300 s (+11.1 %)."""
    views = [
        view("sales", interval=interval(offered=4, handled=1, talk_s_sum=150)),
        view("support", interval=interval(offered=6, handled=3, talk_s_sum=1050)),
    ]
    rows = [agent("a1", "available", "sales", "support"), agent("a2", "available", "support")]
    forecast = forecast_of(("sales", 5, 180.0), ("support", 15, 300.0))
    group = floor_view(views, rows, NOW + 300_000, forecast)["staffing"]["floor"]["forecast"]
    assert group["contacts"] == 20
    assert group["aht_s"] == pytest.approx(270.0)
    assert group["contacts_to_date"] == pytest.approx(20 / 3)
    assert group["volume_deviation"] == pytest.approx(10 / (20 / 3) - 1)
    assert group["actual_aht_s"] == pytest.approx(300.0)
    assert group["aht_deviation"] == pytest.approx(300 / 270 - 1)
    assert group["staffed_agents"] == 2
    assert group["gap"] == 2 - group["required_agents"]


# --- folded events: the whole pure path --------------------------------------------------------


def fold_worked_example(floor: Floor, agents: int, abandon_waits_s: tuple[int, ...] = ()) -> None:
    """100 contacts queued evenly over the 30 minutes before NOW, each answered after 5 s and
    wrapped 180 s later (those still in progress at NOW are not handled yet), plus abandons
    with the given waits; ``agents`` agents staffed on sales."""
    start = NOW - 30 * MINUTE

    def event(**fields: Any) -> None:
        floor.ingest(orjson.dumps(fields))

    for i in range(100):
        queued, cid = start + i * 18_000, f"c{i}"
        event(event_id=f"{cid}q", type="contact.queued", ts=queued, contact_id=cid, queue="sales")
        for kind, at in (("answered", 5_000), ("ended", 155_000), ("wrapped", 185_000)):
            if queued + at < NOW:
                event(
                    event_id=f"{cid}{kind}",
                    type=f"contact.{kind}",
                    ts=queued + at,
                    contact_id=cid,
                    queue="sales",
                    agent_id="x",
                )
    for i, wait_s in enumerate(abandon_waits_s):
        queued, cid = start + 60_000 + i * 1_000, f"ab{i}"
        event(event_id=f"{cid}q", type="contact.queued", ts=queued, contact_id=cid, queue="sales")
        event(
            event_id=f"{cid}a",
            type="contact.abandoned",
            ts=queued + wait_s * 1000,
            contact_id=cid,
            queue="sales",
        )
    for j in range(agents):
        event(
            event_id=f"s{j}",
            type="agent.state",
            ts=start,
            agent_id=f"agent{j}",
            state="available" if j < 2 else "on_contact",
            queues=["sales"],
        )


def test_folded_events_of_the_worked_example_require_14_agents() -> None:
    floor = Floor()
    fold_worked_example(floor, agents=12)
    snapshot = floor.snapshot(NOW)
    block = snapshot["queues"][0]["staffing"]
    assert (block["contacts"], block["window_s"], block["aht_s"]) == (100, 1800.0, 180.0)
    assert block["required_agents"] == 14
    assert (block["staffed_agents"], block["available_agents"], block["gap"]) == (12, 2, -2)
    assert block["projected_service_level"] == pytest.approx(0.6402, abs=5e-5)
    floor_block = snapshot["staffing"]["floor"]
    assert (floor_block["required_agents"], floor_block["gap"]) == (14, -2)


def test_folded_abandons_give_the_patience_short_abandons_left_out() -> None:
    """Waits 3 s (a short abandon: S = 5 s), 40 s and 80 s: abandoned waits 120 s over 2
    abandons; the 100 answered contacts waited 5 s each (500 s): patience (500 + 120) / 2."""
    floor = Floor()
    fold_worked_example(floor, agents=14, abandon_waits_s=(3, 40, 80))
    view_ = floor.snapshot(NOW)["queues"][0]
    rolling = view_["windows"]["rolling_30"]
    assert (rolling["answered"], rolling["abandoned"], rolling["short_abandoned"]) == (100, 2, 1)
    assert rolling["wait_abandoned_s_sum"] == 120.0
    assert view_["staffing"]["patience_s"] == 310.0
    assert view_["staffing"]["model"] == "erlang_a"


def test_queue_stats_persisted_before_abandon_waits_existed_still_restore() -> None:
    stats = QueueStats()
    stats.offered, stats.abandoned, stats.wait_abandoned_ms_sum = 3, 1, 40_000
    assert QueueStats.from_tuple(stats.as_tuple()) == stats
    legacy = stats.as_tuple()[:-1]  # what an older worker wrote
    restored = QueueStats.from_tuple(legacy)
    assert (restored.offered, restored.abandoned, restored.wait_abandoned_ms_sum) == (3, 1, 0)
    with pytest.raises(ValueError, match="expected 15 values"):
        QueueStats.from_tuple((0,) * 3)


def test_interval_records_and_older_views_are_unchanged_by_the_abandon_waits() -> None:
    floor = Floor()
    fold_worked_example(floor, agents=1, abandon_waits_s=(40,))
    assert all("wait_abandoned_s_sum" not in record for record in floor.records())
    old_view = view(offered=10, handled=10, threshold_s=180.0)
    for window in old_view["windows"].values():
        del window["wait_abandoned_s_sum"]
    assert floor_view([old_view], [], NOW)["queues"][0]["staffing"]["required_agents"] == 2


# --- alert metrics -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "kind", "expected"),
    [
        ("required_agents", "queue", 14.0),
        ("staffing_gap", "queue", -2.0),
        ("traffic_erlangs", "queue", 10.0),
        ("projected_service_level_staffed", "queue", 0.6402),
        ("staffing_gap", "site", -2.0),
        ("staffing_gap", "floor", -2.0),
        ("projected_service_level_staffed", "floor", 0.6402),
        ("forecast_staffing_gap", "queue", 12.0 - 14.0),
        ("forecast_volume_deviation", "queue", 0.0),
        ("forecast_aht_deviation", "floor", 0.0),
        ("forecast_staffing_gap", "site", 12.0 - 14.0),
    ],
)
def test_staffing_metrics_are_read_by_alert_rules(metric: str, kind: str, expected: float) -> None:
    """The worked example, forecast exactly as it happens: 100 in 30 min at 180 s, so 50
    in a 15-minute interval; measured 7.5 minutes in, with 25 arrived and 25 handled."""
    start = NOW - 450_000
    queue_view = view(
        offered=100,
        handled=95,
        client=None,
        interval=interval(start, offered=25, handled=25, talk_s_sum=25 * 180),
    )
    forecast = forecast_of(("sales", 50, 180.0), start_ms=start)
    floor = floor_view([queue_view], staffed(12), NOW, forecast)
    (entity,) = FloorEntities(floor).entities(kind)  # type: ignore[arg-type]
    value = measure(entity, metric, NOW)
    assert value == pytest.approx(expected, abs=5e-5)


def test_a_rule_may_judge_the_staffed_projection_against_the_queue_target() -> None:
    rule = AlertRule(
        id="understaffed",
        metric="projected_service_level_staffed",
        comparison="<",
        relative_to="target",
        warning=0.0,
    )
    assert rule_problems(rule) == []
    gap_rule = AlertRule(id="gap", metric="staffing_gap", scope="site", comparison="<", warning=0)
    assert rule_problems(gap_rule) == []
