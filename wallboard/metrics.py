"""Prometheus exposition of the hub, built at scrape time.

A custom collector reads the hub's state on every scrape, so the series of a queue, team or
alert that is gone disappear with it (a labelled ``Gauge`` would keep its last value
forever). Names follow STYLE.md: ``floorwatch_`` prefix, base units, ``_seconds``,
``_ratio``, ``_total`` for counters. Counts within a window (``offered``, ``answered`` …)
are gauges: they restart with every interval and day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from wallboard.hub import Hub

QUEUE_LABELS = ("queue", "site", "client")

WINDOW_COUNTS: tuple[tuple[str, str, str], ...] = (
    ("offered", "offered", "Contacts offered (entered the queue) in the window."),
    ("answered", "answered", "Contacts answered in the window."),
    (
        "answered_within_threshold",
        "answered_within_threshold",
        "Contacts answered within the service-level threshold in the window.",
    ),
    ("abandoned", "abandoned", "Contacts abandoned (short abandons excluded) in the window."),
    ("short_abandoned", "short_abandoned", "Short abandons in the window."),
    (
        "abandoned_within_threshold",
        "abandoned_within_threshold",
        "Contacts abandoned within the service-level threshold in the window.",
    ),
    ("flowed_out", "flowed_out", "Contacts that left the queue unanswered otherwise."),
    ("handled", "handled", "Contacts whose after-contact work finished in the window."),
    (
        "answered_wait_seconds",
        "wait_answered_s_sum",
        "Sum of the waits of answered contacts in the window.",
    ),
    (
        "answered_wait_max_seconds",
        "wait_answered_s_max",
        "Longest wait of a contact answered in the window.",
    ),
    ("talk_seconds", "talk_s_sum", "Talk time (hold excluded) in the window."),
    ("hold_seconds", "hold_s_sum", "Hold time in the window."),
    ("after_contact_work_seconds", "acw_s_sum", "After-contact work time in the window."),
    ("consult_seconds", "consult_s_sum", "Consult time in the window."),
    ("asa_seconds", "asa_s", "Average speed of answer in the window."),
    ("aht_seconds", "aht_s", "Average handle time (talk + hold + ACW) in the window."),
    ("abandon_ratio", "abandon_rate", "Abandoned / offered in the window."),
)
"""(metric suffix, view field, help) of every per-window queue figure."""

AGENT_STATES = (
    "logged_in",
    "staffed",
    "available",
    "on_contact",
    "after_contact_work",
    "not_ready",
)


@dataclass(frozen=True)
class GatewayHealth:
    """What the server knows about itself at scrape time."""

    websocket_clients: int
    consuming: bool
    pushes: int = 0
    """Push rounds (the state offered to every screen) so far."""
    full_messages: int = 0
    patch_messages: int = 0
    skipped: int = 0
    """Times a backed-up screen was passed over."""


class HubCollector(Collector):
    """Metric families of the hub's state and the gateway's health, built per scrape."""

    def __init__(
        self, hub: Hub, clock: Callable[[], int], health: Callable[[], GatewayHealth]
    ) -> None:
        self._hub = hub
        self._clock = clock
        self._health = health

    def describe(self) -> Iterable[Metric]:
        # nothing fixed to describe: the series follow the state
        return ()

    def collect(self) -> Iterator[Metric]:
        now_ms = self._clock()
        state = self._hub.state(now_ms)
        yield from queue_metrics(state["queues"], now_ms)
        yield from group_metrics(state["groups"])
        yield from staffing_metrics(state["queues"], state.get("staffing") or {})
        yield from agent_metrics(state["agents_by_state"])
        yield from agent_row_metrics(state["agents"], now_ms)
        yield from occupancy_metrics(state["agents_by_state"])
        yield from contact_counters(state["queues"])
        yield from alert_metrics(state["alerts"])
        yield from gateway_metrics(self._hub, state, now_ms, self._health())


def registry_for(
    hub: Hub, clock: Callable[[], int], health: Callable[[], GatewayHealth]
) -> CollectorRegistry:
    """A dedicated registry holding only the hub collector (no process or GC metrics of
    the default registry, which describe the gateway process rather than the floor)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector(hub, clock, health))
    return registry


def _gauge(name: str, documentation: str, labels: Iterable[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"floorwatch_{name}", documentation, labels=list(labels))


def _queue_labels(view: Mapping[str, Any]) -> list[str]:
    return [str(view["queue"]), str(view.get("site") or ""), str(view.get("client") or "")]


def queue_metrics(views: Iterable[Mapping[str, Any]], now_ms: int) -> Iterator[Metric]:
    """Per-queue gauges: live figures, settings, figures per window, agents by state."""
    views = list(views)
    live = {
        "waiting": _gauge("queue_waiting", "Contacts waiting now.", QUEUE_LABELS),
        "at_risk": _gauge(
            "queue_at_risk",
            "Waiting contacts whose wait has reached the risk share of the threshold.",
            QUEUE_LABELS,
        ),
        "handling": _gauge("queue_handling", "Contacts being handled now.", QUEUE_LABELS),
    }
    longest = _gauge(
        "queue_longest_wait_seconds", "Age of the oldest contact waiting now.", QUEUE_LABELS
    )
    threshold = _gauge(
        "queue_threshold_seconds", "Service-level threshold T of the queue.", QUEUE_LABELS
    )
    target = _gauge(
        "queue_service_level_target_ratio", "Service-level target of the queue.", QUEUE_LABELS
    )
    windowed = {
        field: _gauge(f"queue_{suffix}", doc, (*QUEUE_LABELS, "window"))
        for suffix, field, doc in WINDOW_COUNTS
    }
    service_level = _gauge(
        "queue_service_level_ratio",
        "Service level of the window by definition (DESIGN.md section 3).",
        (*QUEUE_LABELS, "window", "definition"),
    )
    agents = _gauge("queue_agents", "Agents serving the queue, by state.", (*QUEUE_LABELS, "state"))
    info = _gauge(
        "queue_info",
        "1 per queue, labelled with its channel (join on queue, site, client to filter by it).",
        (*QUEUE_LABELS, "channel"),
    )
    for view in views:
        labels = _queue_labels(view)
        info.add_metric([*labels, str(view.get("channel") or "")], 1.0)
        for field, family in live.items():
            family.add_metric(labels, float(view.get(field) or 0))
        oldest = view.get("oldest_queued_ms")
        longest.add_metric(labels, 0.0 if oldest is None else max(0, now_ms - oldest) / 1000)
        threshold.add_metric(labels, float(view["threshold_s"]))
        target.add_metric(labels, float(view["target"]))
        for window, figures in view["windows"].items():
            for field, family in windowed.items():
                value = figures.get(field)
                if value is not None:  # null means "no data": no sample rather than 0
                    family.add_metric([*labels, window], float(value))
            for definition, ratio in figures["service_level"].items():
                if ratio is not None:
                    service_level.add_metric([*labels, window, definition], float(ratio))
        counts = view.get("agents") or {}
        for state in AGENT_STATES:
            agents.add_metric([*labels, state], float(counts.get(state, 0)))
    yield from live.values()
    yield longest
    yield threshold
    yield target
    yield from windowed.values()
    yield service_level
    yield agents
    yield info


def group_metrics(groups: Mapping[str, Any]) -> Iterator[Metric]:
    """Exact service level of the floor, each site and each client (Prometheus cannot
    average ratios of different denominators correctly, so these are exported ready-made)."""
    floor = _gauge(
        "floor_service_level_ratio",
        "Service level of the whole floor by window and definition.",
        ("window", "definition"),
    )
    for window, figures in groups["floor"].items():
        for definition, ratio in figures["service_level"].items():
            if ratio is not None:
                floor.add_metric([window, definition], float(ratio))
    yield floor
    for key in ("site", "client"):
        family = _gauge(
            f"{key}_service_level_ratio",
            f"Service level of each {key} by window and definition.",
            (key, "window", "definition"),
        )
        for name, windows in groups[key].items():
            for window, figures in windows.items():
                for definition, ratio in figures["service_level"].items():
                    if ratio is not None:
                        family.add_metric([name, window, definition], float(ratio))
        yield family


QUEUE_STAFFING: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "queue_arrivals_per_second",
        ("arrival_rate_per_s",),
        "Arrival rate over the staffing window.",
    ),
    ("queue_traffic_erlangs", ("traffic_erlangs",), "Offered traffic: arrival rate x AHT."),
    ("queue_patience_seconds", ("patience_s",), "Customer patience estimated from abandons."),
    ("queue_required_agents", ("required_agents",), "Agents the load needs for the target."),
    ("queue_staffing_gap_agents", ("gap",), "Staffed agents serving the queue minus required."),
    (
        "queue_projected_service_level_staffed_ratio",
        ("projected_service_level",),
        "Service level the staffed agents give at the observed load (Erlang C or A).",
    ),
    ("queue_forecast_contacts", ("forecast", "contacts"), "Forecast contacts of the interval."),
    (
        "queue_forecast_contacts_to_date",
        ("forecast", "contacts_to_date"),
        "Forecast contacts pro rata to the elapsed part of the interval.",
    ),
    ("queue_forecast_aht_seconds", ("forecast", "aht_s"), "Forecast AHT of the interval."),
    (
        "queue_forecast_volume_deviation_ratio",
        ("forecast", "volume_deviation"),
        "Offered in the interval / forecast contacts to date - 1.",
    ),
    (
        "queue_forecast_aht_deviation_ratio",
        ("forecast", "aht_deviation"),
        "AHT of the interval / forecast AHT - 1.",
    ),
    (
        "queue_forecast_required_agents",
        ("forecast", "required_agents"),
        "Agents the forecast load needs for the target (Erlang C).",
    ),
    (
        "queue_forecast_staffing_gap_agents",
        ("forecast", "gap"),
        "Staffed agents serving the queue minus those the forecast requires.",
    ),
)
"""(metric suffix, path in a queue's staffing block, help) of the live staffing figures
(streams/staffing.py); a null figure is no sample."""

GROUP_STAFFING: tuple[tuple[str, str, str], ...] = (
    ("required_agents", "required_agents", "Agents the load needs (sum over the queues)"),
    ("staffing_gap_agents", "gap", "Staffed agents (each once) minus required"),
    (
        "projected_service_level_staffed_ratio",
        "projected_service_level",
        "Staffed projection of the service level, weighted by arrivals",
    ),
)


def staffing_metrics(
    views: Iterable[Mapping[str, Any]], groups: Mapping[str, Any]
) -> Iterator[Metric]:
    """Live staffing and forecast figures per queue, and per floor, site and client."""
    families = [(_gauge(name, doc, QUEUE_LABELS), path) for name, path, doc in QUEUE_STAFFING]
    for view in views:
        block = view.get("staffing")
        if not isinstance(block, Mapping):
            continue
        labels = _queue_labels(view)
        for family, path in families:
            value = _at(block, path)
            if value is not None:
                family.add_metric(labels, value)
    yield from (family for family, _ in families)
    for suffix, field, doc in GROUP_STAFFING:
        floor = _gauge(f"floor_{suffix}", f"{doc}, whole floor.", ())
        value = _at(groups.get("floor") or {}, (field,))
        if value is not None:
            floor.add_metric([], value)
        yield floor
        for key in ("site", "client"):
            family = _gauge(f"{key}_{suffix}", f"{doc}, per {key}.", (key,))
            for name, block in (groups.get(key) or {}).items():
                value = _at(block, (field,))
                if value is not None:
                    family.add_metric([str(name)], value)
            yield family


def _at(block: Mapping[str, Any], path: tuple[str, ...]) -> float | None:
    value: object = block
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def agent_metrics(by_state: Mapping[str, Any]) -> Iterator[Metric]:
    """Agents by state: the floor, each site and each team; not-ready agents by reason."""
    floor = _gauge("agents", "Agents on the floor by state.", ("state",))
    counts = by_state["floor"]
    for state in AGENT_STATES:
        floor.add_metric([state], float(counts[state]))
    yield floor
    reasons = _gauge("agents_not_ready", "Not-ready agents by reason.", ("reason",))
    for reason, count in sorted(counts["not_ready_by_reason"].items()):
        reasons.add_metric([str(reason)], float(count))
    yield reasons
    for key in ("site", "team"):
        family = _gauge(f"{key}_agents", f"Agents by {key} and state.", (key, "state"))
        not_ready = _gauge(
            f"{key}_agents_not_ready", f"Not-ready agents by {key} and reason.", (key, "reason")
        )
        for name, group in by_state[key].items():
            for state in AGENT_STATES:
                family.add_metric([str(name), state], float(group[state]))
            for reason, count in sorted(group["not_ready_by_reason"].items()):
                not_ready.add_metric([str(name), str(reason)], float(count))
        yield family
        yield not_ready


AGENT_LABELS = ("agent", "team", "site")


def agent_row_metrics(rows: Iterable[Mapping[str, Any]], now_ms: int) -> Iterator[Metric]:
    """Per-agent time in state and occupancy, for logged-in agents only.

    ``agent`` is an agent id: bounded by the staff of the floor (thousands, not contacts),
    and needed by the per-agent alert rules (``FloorwatchAgentNotReadyTooLong`` in
    config/prometheus/alerts.yml). An agent who logs out or disappears loses its series.
    """
    in_state = _gauge(
        "agent_time_in_state_seconds",
        "Time the agent has been in its current state (and reason).",
        (*AGENT_LABELS, "state", "reason"),
    )
    occupancy = _gauge(
        "agent_occupancy_ratio",
        "(on contact + ACW) / (on contact + ACW + available) of the agent, by window.",
        (*AGENT_LABELS, "window"),
    )
    for row in rows:
        state = row.get("state")
        if not isinstance(state, str) or state == "logged_out":
            continue
        labels = [str(row["agent_id"]), str(row.get("team") or ""), str(row.get("site") or "")]
        since = row.get("since_ms")
        if isinstance(since, int | float) and not isinstance(since, bool):
            seconds = max(0, now_ms - since) / 1000
        else:
            seconds = _at(row, ("time_in_state_s",)) or 0.0
        in_state.add_metric([*labels, state, str(row.get("reason") or "")], seconds)
        windows = row.get("occupancy")
        if isinstance(windows, Mapping):
            for window in windows:
                value = _at(windows, (window,))
                if value is not None:
                    occupancy.add_metric([*labels, str(window)], value)
    yield in_state
    yield occupancy


def occupancy_metrics(by_state: Mapping[str, Any]) -> Iterator[Metric]:
    """Occupancy now of the floor, each site and each team: the share of staffed, working
    agents busy at this moment, (on contact + ACW) / (on contact + ACW + available). Agent
    rows carry ratios only, so a time-weighted group occupancy cannot be rebuilt exactly
    here; per-agent windows are in ``floorwatch_agent_occupancy_ratio``."""

    def ratio(counts: Mapping[str, Any]) -> float | None:
        busy = counts["on_contact"] + counts["after_contact_work"]
        total = busy + counts["available"]
        return busy / total if total else None

    floor = _gauge("floor_occupancy_ratio", "Occupancy of the floor now.", ())
    value = ratio(by_state["floor"])
    if value is not None:
        floor.add_metric([], value)
    yield floor
    for key in ("site", "team"):
        family = _gauge(f"{key}_occupancy_ratio", f"Occupancy now per {key}.", (key,))
        for name, counts in by_state[key].items():
            value = ratio(counts)
            if value is not None:
                family.add_metric([str(name)], value)
        yield family


CONTACT_OUTCOMES = ("offered", "answered", "abandoned", "short_abandoned", "flowed_out", "handled")


def contact_counters(views: Iterable[Mapping[str, Any]]) -> Iterator[Metric]:
    """Contacts per queue and outcome since the site's day start, as counters: they only grow
    during a day and restart at the day reset, which ``rate()`` and ``increase()`` treat as a
    counter reset. The same figures per window are the ``floorwatch_queue_<outcome>`` gauges."""
    family = CounterMetricFamily(
        "floorwatch_queue_contacts",
        "Contacts by outcome since the site's day start (resets at the day reset).",
        labels=[*QUEUE_LABELS, "outcome"],
    )
    for view in views:
        day = view["windows"].get("day")
        if not isinstance(day, Mapping):
            continue
        labels = _queue_labels(view)
        for outcome in CONTACT_OUTCOMES:
            value = _at(day, (outcome,))
            if value is not None:
                family.add_metric([*labels, outcome], value)
    yield family


ACTIVE_ALERT_STATES = ("pending", "firing", "acknowledged")
"""States of an alert that is still an alert (streams.alerts.ACTIVE); resolved alerts stay on
the alerts topic for a while but are not counted."""


def alert_metrics(alerts: Iterable[Mapping[str, Any]]) -> Iterator[Metric]:
    """Active alerts held from the alerts topic, by state and severity."""
    counts: dict[tuple[str, str], int] = {}
    for alert in alerts:
        state = alert.get("state")
        if state not in ACTIVE_ALERT_STATES:
            continue
        key = (str(state), str(alert.get("severity") or "none"))
        counts[key] = counts.get(key, 0) + 1
    family = _gauge(
        "alerts_active",
        "Active alerts (pending, firing, acknowledged) by state and severity.",
        ("state", "severity"),
    )
    for (state, severity), count in sorted(counts.items()):
        family.add_metric([state, severity], float(count))
    yield family


def gateway_metrics(
    hub: Hub, state: Mapping[str, Any], now_ms: int, health: GatewayHealth
) -> Iterator[Metric]:
    """The gateway's own health: clients, consumption, freshness, messages, workers."""
    yield _single(
        "gateway_websocket_clients", "Websocket clients connected.", health.websocket_clients
    )
    yield _single(
        "gateway_consuming", "1 when the gateway is reading its topics.", int(health.consuming)
    )
    yield CounterMetricFamily(
        "floorwatch_gateway_pushes",
        "Rounds in which the state was pushed to the screens.",
        value=health.pushes,
    )
    messages = CounterMetricFamily(
        "floorwatch_gateway_screen_messages",
        "Websocket messages sent to screens: the whole state, or a patch from the last one.",
        labels=["kind"],
    )
    messages.add_metric(["full"], health.full_messages)
    messages.add_metric(["patch"], health.patch_messages)
    yield messages
    yield CounterMetricFamily(
        "floorwatch_gateway_screen_skips",
        "Times a screen was skipped because its connection was backed up (it gets the whole "
        "state once it catches up).",
        value=health.skipped,
    )
    yield _single("gateway_stale", "1 when the floor state is stale.", int(state["stale"]))
    last = state["last_update_ms"]
    if last is not None:
        yield _single(
            "gateway_last_update_age_seconds",
            "Age of the newest snapshot or worker heartbeat.",
            max(0, now_ms - last) / 1000,
        )
    received = CounterMetricFamily(
        "floorwatch_gateway_messages", "Messages read, by topic.", labels=["topic"]
    )
    for topic, count in sorted(hub.received.items()):
        received.add_metric([topic], count)
    yield received
    rejected = CounterMetricFamily(
        "floorwatch_gateway_messages_rejected",
        "Messages ignored, by topic and reason.",
        labels=["topic", "reason"],
    )
    for (topic, reason), count in sorted(hub.rejected.items()):
        rejected.add_metric([topic, reason], count)
    yield rejected
    ages = _gauge(
        "worker_heartbeat_age_seconds", "Age of each worker's latest heartbeat.", ("worker",)
    )
    for beat in state["workers"]:
        published = beat.get("published_ms")
        if isinstance(published, int | float):
            ages.add_metric([str(beat.get("worker"))], max(0, now_ms - published) / 1000)
    yield ages


def _single(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"floorwatch_{name}", documentation, value=value)


__all__ = ["GatewayHealth", "HubCollector", "registry_for"]
