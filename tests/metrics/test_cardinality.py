"""Series count of the gateway's /metrics on a large floor: 500 queues, 5,000 agents.

The bound is a formula, documented here and in the README: every series belongs to a queue,
an agent, a group (site, client, team) or the floor, and each of those has a fixed number of
series. A contact id never becomes a label, so a busy day does not add series; only new
queues, agents and groups do. Removing a queue removes its series.
"""

from __future__ import annotations

from collections import Counter

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams.events import Event
from streams.wire import queue_key
from tests.factory import agent_state, contact
from tests.wallboard.records import MIN, T0, encode, folded, snapshot_records
from wallboard.hub import Hub
from wallboard.metrics import GatewayHealth, registry_for

QUEUES = 500
AGENTS = 5_000
SITES = 5
CLIENTS = 20
TEAMS = 250
NOW = T0 + 8 * 60 * MIN

PER_QUEUE_MAX = 200
"""Series one queue may carry: per-window figures (windows x service-level definitions,
counts, sums, ratios), staffing and forecast gauges, agents by state (85 measured here)."""
PER_AGENT_MAX = 8
"""Series one agent may carry: time in state and occupancy per window (4 measured)."""
PER_GROUP_MAX = 100
"""Series one site, client or team may carry: roll-ups by window and definition, agents by
state and reason (14 measured for a site)."""
FIXED_MAX = 200
"""The floor's roll-ups and the gateway's own health series (23 measured)."""


def big_day() -> list[Event]:
    events: list[Event] = []
    for q in range(QUEUES):
        queue = f"q{q:03d}"
        for n in range(4):  # a few contacts per queue across the day: answered and abandoned
            start = T0 + (q % 60) * MIN + n * 90 * MIN
            agent = f"a{(q * 10 + n) % AGENTS:04d}"
            if n == 3:
                events += contact(f"{queue}-{n}", queue, start, abandoned_ms=start + 40_000)
            else:
                events += contact(
                    f"{queue}-{n}",
                    queue,
                    start,
                    answered_ms=start + 15_000,
                    ended_ms=start + 200_000,
                    wrapped_ms=start + 230_000,
                    agent=agent,
                )
    for a in range(AGENTS):
        state, reason = [("available", None), ("on_contact", None), ("not_ready", "break")][a % 3]
        events.append(
            agent_state(
                f"a{a:04d}",
                T0 + 7 * 60 * MIN + a,
                state,
                reason=reason,
                name=f"Agent {a}",
                team=f"team-{a % TEAMS}",
                site=f"site-{a % SITES}",
                queues=[f"q{(a + k) % QUEUES:03d}" for k in range(3)],
            )
        )
    return events


def series(hub: Hub) -> list[tuple[str, dict[str, str]]]:
    registry = registry_for(hub, lambda: NOW, lambda: GatewayHealth(1_000, True))
    text = generate_latest(registry).decode()
    return [
        (sample.name, dict(sample.labels))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def test_a_large_floor_stays_within_the_documented_series_bound_and_a_removed_queue_goes() -> None:
    floor = folded(big_day())
    records = snapshot_records(floor, NOW, NOW)
    for key, value in list(records.items()):
        if key.startswith("queue:"):
            q = int(value["queue"][1:])
            value["site"], value["client"] = f"site-{q % SITES}", f"client-{q % CLIENTS}"
    hub = Hub(stale_s=60)
    for key, value in records.items():
        hub.apply("snapshots", key, encode(value))

    found = series(hub)

    groups = SITES + CLIENTS + TEAMS
    bound = QUEUES * PER_QUEUE_MAX + AGENTS * PER_AGENT_MAX + groups * PER_GROUP_MAX + FIXED_MAX
    print(f"{len(found):,} series for {QUEUES} queues, {AGENTS:,} agents; bound {bound:,}")
    assert len(found) <= bound
    by_queue = Counter(labels["queue"] for _, labels in found if "queue" in labels)
    assert len(by_queue) == QUEUES
    assert max(by_queue.values()) <= PER_QUEUE_MAX
    by_agent = Counter(labels["agent"] for _, labels in found if "agent" in labels)
    assert len(by_agent) == AGENTS
    assert max(by_agent.values()) <= PER_AGENT_MAX
    assert not [labels for _, labels in found if any("contact" in k for k in labels)]

    hub.apply("snapshots", queue_key("q123"), None)
    after = series(hub)
    assert not [labels for _, labels in after if labels.get("queue") == "q123"]
    assert len(after) == len(found) - by_queue["q123"]
