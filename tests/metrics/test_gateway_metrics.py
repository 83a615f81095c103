"""The gateway's scrape-time collector on a hub fed with records built by the real core:
the metrics the alert rules and dashboards need exist, hold the state's numbers, pass
``promtool check metrics``, and vanish with their queue or agent."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams.alert_rules import Scope
from streams.alerts import AlertChange
from streams.wire import agent_key, queue_key
from tests.wallboard.records import MIN, T0, encode, folded, morning, snapshot_records
from wallboard.hub import Hub
from wallboard.metrics import GatewayHealth, registry_for

NOW = T0 + 30 * MIN
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def hub_with_morning() -> Hub:
    hub = Hub(stale_s=60)
    for key, value in snapshot_records(folded(morning()), NOW, NOW).items():
        hub.apply("snapshots", key, encode(value))
    return hub


def exposition(hub: Hub) -> str:
    registry = registry_for(hub, lambda: NOW, lambda: GatewayHealth(3, True))
    return generate_latest(registry).decode()


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


def billing(**extra: str) -> frozenset[tuple[str, str]]:
    return labels(queue="billing", site="default", client="", **extra)


SALES_VOICE = labels(queue="sales", site="default", client="", channel="voice")


def alert(alert_id: str, state: str, severity: str | None) -> bytes:
    change = AlertChange(
        alert_id=alert_id,
        rule="longest_wait",
        scope=Scope("queue", "billing"),
        state=state,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        metric="longest_wait_s",
        value=90.0,
        threshold=60.0,
        comparison=">",
        since_ms=NOW - MIN,
        at_ms=NOW,
    )
    return encode(change.to_json())


def test_queue_info_names_the_channel_of_every_queue() -> None:
    found = samples(exposition(hub_with_morning()))

    assert found["floorwatch_queue_info", billing(channel="voice")] == 1
    assert ("floorwatch_queue_info", SALES_VOICE) in found


def test_agent_time_in_state_is_per_logged_in_agent_with_its_reason() -> None:
    found = samples(exposition(hub_with_morning()))

    # cat went on a break at 09:20; it is 09:30
    key = labels(agent="cat", team="red", site="", state="not_ready", reason="break")
    assert found["floorwatch_agent_time_in_state_seconds", key] == 600
    ann_day = labels(agent="ann", team="red", site="", window="day")
    assert ("floorwatch_agent_occupancy_ratio", ann_day) in found


def test_team_gauges_count_agents_by_state_and_reason_and_occupancy_now() -> None:
    found = samples(exposition(hub_with_morning()))

    assert found["floorwatch_team_agents", labels(team="red", state="not_ready")] == 1
    assert found["floorwatch_team_agents", labels(team="red", state="staffed")] == 1
    assert found["floorwatch_team_agents_not_ready", labels(team="red", reason="break")] == 1
    # at 09:30 ann and bob are available: nobody busy
    assert found["floorwatch_team_occupancy_ratio", labels(team="red")] == 0
    assert found["floorwatch_floor_occupancy_ratio", frozenset()] == 0


def test_contact_counters_are_the_day_figures() -> None:
    found = samples(exposition(hub_with_morning()))

    assert found["floorwatch_queue_contacts_total", billing(outcome="offered")] == 6
    assert found["floorwatch_queue_contacts_total", billing(outcome="answered")] == 4
    assert found["floorwatch_queue_contacts_total", billing(outcome="abandoned")] == 1
    assert found["floorwatch_queue_offered", billing(window="day")] == 6


def test_alerts_count_active_ones_only_by_state_and_severity() -> None:
    hub = hub_with_morning()
    hub.apply("alerts", "a1", alert("a1", "firing", "critical"))
    hub.apply("alerts", "a2", alert("a2", "acknowledged", "warning"))
    hub.apply("alerts", "a3", alert("a3", "resolved", "warning"))

    found = samples(exposition(hub))
    active = {k: v for k, v in found.items() if k[0] == "floorwatch_alerts_active"}

    assert active == {
        ("floorwatch_alerts_active", labels(state="firing", severity="critical")): 1,
        ("floorwatch_alerts_active", labels(state="acknowledged", severity="warning")): 1,
    }


def test_a_queue_and_an_agent_that_disappear_take_their_series_with_them() -> None:
    hub = hub_with_morning()
    hub.apply("snapshots", queue_key("billing"), None)
    hub.apply("snapshots", agent_key("cat"), None)

    found = samples(exposition(hub))

    assert not [key for key in found if dict(key[1]).get("queue") == "billing"]
    assert not [key for key in found if dict(key[1]).get("agent") == "cat"]
    assert ("floorwatch_queue_info", SALES_VOICE) in found


def test_promtool_check_metrics_is_clean() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: install Debian's prometheus package (make system)")
    hub = hub_with_morning()
    hub.apply("alerts", "a1", alert("a1", "firing", "critical"))

    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition(hub),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
