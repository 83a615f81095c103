"""Alert rules over floor views: lifecycle, hysteresis, guards, notifications, scopes, state.

Most tests drive one rule with a series of values (seconds after T0, value) through
floor views built by the core's own :func:`streams.snapshot.floor_view`, so group roll-ups
are the real ones, and read back (second, state, severity, notify) per change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.alert_rules import AlertRule, Guard, Scope, alert_id, rule_problems
from streams.alerts import (
    ACKNOWLEDGED,
    FIRING,
    INACTIVE,
    PENDING,
    RESOLVED,
    AlertChange,
    AlertTracker,
)
from streams.floor import Floor
from streams.projection import project, projected_service_levels
from streams.settings import SL_DEFINITIONS, CoreSettings, QueueSettings
from streams.snapshot import floor_view
from streams.stats import QueueStats, metrics
from tests.factory import agent_state, at, contact

T0 = at("2024-05-01T10:00:00")
WINDOWS = ("interval", "rolling_30", "rolling_60", "day")


def ms(seconds: float) -> int:
    return T0 + round(seconds * 1000)


def view(
    name: str = "billing",
    *,
    site: str | None = "london",
    client: str | None = "acme",
    channel: str = "voice",
    target: float = 0.80,
    answered: int = 0,
    within: int = 0,
    abandoned: int = 0,
    abandoned_within: int = 0,
    waiting: int = 0,
    at_risk: int = 0,
    oldest_queued_ms: int | None = None,
    definitions: Sequence[str] = SL_DEFINITIONS,
) -> dict[str, Any]:
    """A queue view shaped as :func:`streams.snapshot.queue_view` builds it."""
    stats = QueueStats()
    stats.offered = answered + abandoned + waiting
    stats.answered = answered
    stats.answered_within_threshold = within
    stats.abandoned = abandoned
    stats.abandoned_within_threshold = abandoned_within
    figures = metrics(stats, definitions, False)
    return {
        "queue": name,
        "site": site,
        "client": client,
        "channel": channel,
        "threshold_s": 20.0,
        "short_abandon_s": 5.0,
        "target": target,
        "definitions": list(definitions),
        "include_flowouts": False,
        "watermark_ms": T0,
        "waiting": waiting,
        "longest_wait_s": 0.0,
        "oldest_queued_ms": oldest_queued_ms,
        "at_risk": at_risk,
        "handling": 0,
        "handling_agents": {},
        "windows": {label: dict(figures, start_ms=T0, end_ms=T0 + 900_000) for label in WINDOWS},
    }


def agent(
    agent_id: str,
    state: str = "available",
    *,
    since_s: float = 0,
    reason: str | None = None,
    team: str | None = "red",
    site: str | None = "london",
    queues: Sequence[str] = ("billing",),
) -> dict[str, Any]:
    """An agent row shaped as :meth:`streams.agent_states.AgentTimeline.snapshot` builds it."""
    return {
        "agent_id": agent_id,
        "name": agent_id.title(),
        "team": team,
        "site": site,
        "queues": list(queues),
        "client": None,
        "state": state,
        "reason": reason if state == "not_ready" else None,
        "since_ms": ms(since_s),
        "time_in_state_s": 0.0,
        "occupancy": dict.fromkeys(WINDOWS),
    }


def floor(*views: dict[str, Any], agents: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    return floor_view([dict(v) for v in views], [dict(a) for a in agents], T0)


WAITING = AlertRule(
    "waiting", "waiting", ">", warning=10, critical=20, clear=8, for_s=30, cooldown_s=0
)


def run(
    rule: AlertRule, series: Iterable[tuple[float, float]], tracker: AlertTracker | None = None
) -> list[tuple[float, str, str | None, bool]]:
    """Drive ``rule`` on one queue whose ``waiting`` is each value at each second."""
    tracker = tracker or AlertTracker([rule])
    out = []
    for second, value in series:
        for change in tracker.evaluate(floor(view(waiting=int(value))), ms(second)):
            out.append(((change.at_ms - T0) / 1000, change.state, change.severity, change.notify))
    return out


def every(step: float, *values: float, start: float = 0) -> list[tuple[float, float]]:
    return [(start + i * step, value) for i, value in enumerate(values)]


# -- the `for` duration -------------------------------------------------------------------------


def test_breach_that_returns_before_for_elapses_never_fires() -> None:
    # above 10 from 0 s to 20 s, `for` is 30 s
    changes = run(WAITING, every(10, 12, 15, 25, 3, 3))

    assert changes == [(0, PENDING, "warning", False), (30, INACTIVE, "critical", False)]


def test_breach_that_lasts_for_fires_once_and_notifies_once() -> None:
    changes = run(WAITING, every(10, 12, 12, 12, 12, 12, 12, 12))

    assert changes == [(0, PENDING, "warning", False), (30, FIRING, "warning", True)]


def test_a_gap_in_the_breach_restarts_the_for_duration() -> None:
    changes = run(WAITING, every(10, 12, 12, 9, 12, 12, 12, 12))

    assert [c[:2] for c in changes] == [
        (0, PENDING),
        (20, INACTIVE),
        (30, PENDING),
        (60, FIRING),
    ]


def test_zero_for_fires_at_the_first_breach() -> None:
    changes = run(replace(WAITING, for_s=0), every(10, 5, 12))

    assert changes == [(10, FIRING, "warning", True)]


# -- hysteresis ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clear", "expected_firings", "expected_resolves"),
    [
        pytest.param(8, 1, 1, id="band-8-to-10-fires-once"),
        pytest.param(None, 3, 3, id="no-band-flaps"),
    ],
)
def test_value_oscillating_inside_the_band_fires_once_and_resolves_once(
    clear: float | None, expected_firings: int, expected_resolves: int
) -> None:
    rule = replace(WAITING, for_s=0, clear=clear)
    # 11 breaches warning 10; 9 is inside the band (not above 10, not at or below 8)
    series = every(10, 11, 9, 11, 9, 11, 9, 7, 7)

    changes = run(rule, series)

    notified = [(state, severity) for _, state, severity, notify in changes if notify]
    assert notified.count((FIRING, "warning")) == expected_firings
    assert sum(state == RESOLVED for state, _ in notified) == expected_resolves
    assert changes[-1][1] == RESOLVED


def test_clear_for_keeps_an_alert_firing_until_the_value_stayed_clear() -> None:
    rule = replace(WAITING, for_s=0, clear_for_s=30)

    changes = run(rule, every(10, 12, 5, 5, 12, 5, 5, 5, 5))

    assert [c[:2] for c in changes] == [(0, FIRING), (70, RESOLVED)]


# -- severity -----------------------------------------------------------------------------------


def test_escalation_to_critical_notifies_and_deescalation_does_not() -> None:
    rule = replace(WAITING, for_s=0)

    changes = run(rule, every(10, 12, 25, 15, 9, 25, 5))

    assert changes == [
        (0, FIRING, "warning", True),
        (10, FIRING, "critical", True),
        # 15 is still in the warning zone: stays critical; 9 leaves it (in the band)
        (30, FIRING, "warning", False),
        (40, FIRING, "critical", False),  # already notified critical in this episode
        (50, RESOLVED, "critical", True),
    ]


def test_critical_must_last_for_the_for_duration_too() -> None:
    changes = run(WAITING, every(10, 12, 12, 30, 12, 12, 30, 30, 30, 30))

    assert changes == [
        (0, PENDING, "warning", False),
        (30, FIRING, "warning", True),  # the 20 s spike did not last 30 s
        (80, FIRING, "critical", True),
    ]


def test_a_critical_only_rule_fires_critical() -> None:
    rule = AlertRule("c", "waiting", ">", critical=20)

    assert run(rule, every(10, 25, 5)) == [
        (0, FIRING, "critical", True),
        (10, RESOLVED, "critical", True),
    ]


# -- acknowledgement and snooze -----------------------------------------------------------------


def drive(
    tracker: AlertTracker, series: Iterable[tuple[float, float]]
) -> list[tuple[float, str, str | None, bool]]:
    return run(tracker.rules[0], series, tracker)


KEY = "waiting:queue:billing"


def test_acknowledgement_suppresses_renotification_until_resolved() -> None:
    tracker = AlertTracker([replace(WAITING, for_s=0)])
    assert drive(tracker, every(10, 12)) == [(0, FIRING, "warning", True)]

    ack = tracker.acknowledge(KEY, ms(15), "alice", "moving two agents")

    assert ack is not None
    assert (ack.state, ack.acknowledged_by, ack.acknowledged_note, ack.notify) == (
        ACKNOWLEDGED,
        "alice",
        "moving two agents",
        False,
    )
    assert drive(tracker, every(10, 12, 9, 12, 12, start=20)) == []
    resolved = drive(tracker, every(10, 5, start=60))
    assert resolved == [(60, RESOLVED, "warning", True)]


def test_escalation_of_an_acknowledged_alert_notifies_and_needs_a_new_acknowledgement() -> None:
    tracker = AlertTracker([replace(WAITING, for_s=0)])
    drive(tracker, every(10, 12))
    tracker.acknowledge(KEY, ms(5), "alice")

    changes = drive(tracker, every(10, 25, start=10))

    assert changes == [(10, FIRING, "critical", True)]
    current = tracker.get(KEY, ms(11))
    assert current is not None
    assert current.acknowledged_by is None


def test_acknowledging_what_is_not_firing_is_refused() -> None:
    tracker = AlertTracker([WAITING])
    drive(tracker, every(10, 12))  # pending only

    assert tracker.acknowledge(KEY, ms(5), "alice") is None
    assert tracker.acknowledge("nothing:queue:x", ms(5), "alice") is None


def test_snooze_suppresses_notification_and_notifies_once_when_it_ends_still_firing() -> None:
    tracker = AlertTracker([replace(WAITING, for_s=0)])
    assert drive(tracker, every(10, 12)) == [(0, FIRING, "warning", True)]
    snoozed = tracker.snooze(KEY, ms(5), ms(100), by="bob", note="known outage")
    assert snoozed is not None
    assert snoozed.snoozed_until_ms == ms(100)

    # resolves and fires again during the snooze: the resolve closes the notified firing,
    # the second firing is not notified until the snooze ends
    changes = drive(tracker, every(10, 5, 12, 12, 25, 25, 25, 25, 25, 25, 25, start=10))

    assert changes == [
        (10, RESOLVED, "warning", True),
        (20, FIRING, "warning", False),
        (40, FIRING, "critical", False),
        (100, FIRING, "critical", True),
    ]


def test_alert_that_fires_and_resolves_inside_a_snooze_is_never_notified() -> None:
    tracker = AlertTracker([replace(WAITING, for_s=0)])
    drive(tracker, every(10, 12))
    tracker.snooze(KEY, ms(5), ms(1000))

    changes = drive(tracker, every(10, 5, 12, 5, start=10))

    assert [c[3] for c in changes] == [True, False, False]  # only the first resolve


def test_lifting_a_snooze() -> None:
    tracker = AlertTracker([replace(WAITING, for_s=0)])
    drive(tracker, every(10, 5, 12, 5))
    drive(tracker, every(10, 12, start=40))
    tracker.snooze(KEY, ms(41), ms(1000))
    drive(tracker, every(10, 5, 12, start=50))

    lifted = tracker.snooze(KEY, ms(65), ms(65))

    assert lifted is not None
    assert lifted.snoozed_until_ms is None
    assert drive(tracker, every(10, 12, start=70)) == [(70, FIRING, "warning", True)]


# -- guard and no data --------------------------------------------------------------------------

SL_RULE = AlertRule(
    "sl",
    "service_level",
    "<",
    window="interval",
    warning=0.80,
    critical=0.70,
    clear=0.82,
    guard=Guard("service_level_contacts", 10),
)


@pytest.mark.parametrize(
    ("answered", "within", "fires"),
    [
        pytest.param(3, 0, False, id="3-contacts-at-0-percent-not-judged"),
        pytest.param(9, 0, False, id="9-contacts-not-judged"),
        pytest.param(10, 5, True, id="10-contacts-at-50-percent-fire"),
        pytest.param(40, 36, False, id="40-contacts-at-90-percent-fine"),
    ],
)
def test_guard_blocks_judging_service_level_on_too_few_contacts(
    answered: int, within: int, fires: bool
) -> None:
    tracker = AlertTracker([SL_RULE])

    changes = tracker.evaluate(floor(view(answered=answered, within=within)), ms(0))

    assert [c.state for c in changes] == ([FIRING] if fires else [])


def test_guard_failing_holds_a_firing_alert_then_no_data_resolves_it() -> None:
    tracker = AlertTracker([SL_RULE], resolve_no_data_s=600)
    assert [c.state for c in tracker.evaluate(floor(view(answered=10)), ms(0))] == [FIRING]

    # a new interval begins with 2 contacts: not judged, the alert holds
    assert tracker.evaluate(floor(view(answered=2, within=2)), ms(60)) == []
    assert tracker.evaluate(floor(view(answered=2, within=2)), ms(659)) == []
    (resolved,) = tracker.evaluate(floor(view(answered=2, within=2)), ms(660))

    assert (resolved.state, resolved.value, resolved.notify) == (RESOLVED, None, True)
    assert resolved.message.endswith("resolved (no data)")


def test_scope_leaving_the_snapshot_holds_its_alert() -> None:
    tracker = AlertTracker([replace(WAITING, for_s=0)], resolve_no_data_s=60)
    tracker.evaluate(floor(view(waiting=12)), ms(0))

    assert tracker.evaluate(floor(view("other")), ms(10)) == []
    (resolved,) = tracker.evaluate(floor(view("other")), ms(70))
    assert (resolved.alert_id, resolved.state) == (KEY, RESOLVED)


def test_guard_failing_cancels_a_pending_alert() -> None:
    rule = replace(SL_RULE, for_s=60)
    tracker = AlertTracker([rule])
    tracker.evaluate(floor(view(answered=10)), ms(0))

    (change,) = tracker.evaluate(floor(view(answered=4)), ms(30))

    assert change.state == INACTIVE


# -- cooldown -----------------------------------------------------------------------------------


def test_cooldown_holds_a_new_firing_until_it_ends() -> None:
    rule = replace(WAITING, for_s=0, cooldown_s=60)

    changes = run(rule, every(10, 12, 5, 12, 12, 12, 12, 12, 12, 12, 5, 12))

    assert changes == [
        (0, FIRING, "warning", True),
        (10, RESOLVED, "warning", True),
        (20, PENDING, "warning", False),
        (70, FIRING, "warning", True),  # cooldown ended at 10 + 60
        (90, RESOLVED, "warning", True),
        (100, PENDING, "warning", False),
    ]


# -- ids and scopes -----------------------------------------------------------------------------


def test_alert_ids_are_stable_readable_and_one_url_segment() -> None:
    assert alert_id("sl", Scope("queue", "billing")) == "sl:queue:billing"
    assert alert_id("sl", Scope("queue", "sales/uk east")) == "sl:queue:sales%2Fuk%20east"
    assert alert_id("sl", Scope("floor", "floor")) == "sl:floor"


def test_reevaluation_never_duplicates_an_alert() -> None:
    tracker = AlertTracker([replace(WAITING, for_s=0)])
    ids = []
    for second in range(0, 100, 10):
        ids += [c.alert_id for c in tracker.evaluate(floor(view(waiting=12)), ms(second))]

    assert ids == [KEY]
    assert [a.alert_id for a in tracker.active(ms(100))] == [KEY]


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        pytest.param((), ["acme_billing", "acme_sales", "globex_support"], id="everything"),
        pytest.param((("queues", ("*",)),), ["acme_billing", "acme_sales", "globex_support"]),
        pytest.param((("queues", ("acme_*",)),), ["acme_billing", "acme_sales"], id="prefix"),
        pytest.param((("queues", ("*_s*",)),), ["acme_sales", "globex_support"], id="infix"),
        pytest.param((("clients", ("globex",)),), ["globex_support"], id="by-client"),
        pytest.param((("sites", ("paris",)), ("channels", ("chat",))), [], id="and-of-keys"),
        pytest.param((("channels", ("chat",)),), ["acme_sales"], id="by-channel"),
    ],
)
def test_wildcard_scopes_select_the_matching_queues(
    match: tuple[tuple[str, tuple[str, ...]], ...], expected: list[str]
) -> None:
    rule = AlertRule("busy", "waiting", ">", warning=1, match=match)
    snapshot = floor(
        view("acme_billing", client="acme", waiting=5),
        view("acme_sales", client="acme", channel="chat", waiting=5),
        view("globex_support", client="globex", site="paris", waiting=5),
    )

    changes = AlertTracker([rule]).evaluate(snapshot, ms(0))

    assert [c.scope.name for c in changes] == expected


def test_site_scope_judges_the_exact_rollup_not_an_average_of_queues() -> None:
    # 10 % of 10 and 100 % of 90: the mean of ratios is 55 %, the site is 91 %
    snapshot = floor(
        view("a", site="london", answered=10, within=1),
        view("b", site="london", answered=90, within=90),
        view("c", site="paris", answered=10, within=1),
    )
    rule = replace(SL_RULE, id="site_sl", scope="site")

    changes = AlertTracker([rule]).evaluate(snapshot, ms(0))

    assert [(c.scope.name, c.value) for c in changes] == [("paris", pytest.approx(0.1))]
    assert snapshot["groups"]["site"]["london"]["interval"]["service_level"][
        "answered_of_offered"
    ] == pytest.approx(0.91)


def test_team_scope_judges_agents_by_state() -> None:
    rows = [
        agent("a1", "not_ready", reason="break"),
        agent("a2", "on_contact"),
        agent("b1", "available", team="blue"),
    ]
    rule = AlertRule("nobody_free", "agents_available", "<", scope="team", warning=1)

    changes = AlertTracker([rule]).evaluate(floor(view(), agents=rows), ms(0))

    assert [(c.alert_id, c.value) for c in changes] == [("nobody_free:team:red", 0.0)]


def test_floor_and_client_scopes() -> None:
    snapshot = floor(view("a", client="acme", waiting=3), view("b", client="globex", waiting=4))
    rules = [
        AlertRule("floor_waiting", "waiting", ">=", scope="floor", warning=7),
        AlertRule("client_waiting", "waiting", ">=", scope="client", warning=4),
    ]

    changes = AlertTracker(rules).evaluate(snapshot, ms(0))

    assert [(c.alert_id, c.value) for c in changes] == [
        ("floor_waiting:floor", 7.0),
        ("client_waiting:client:globex", 4.0),
    ]


# -- agents -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "reasons", "expected_s"),
    [
        pytest.param(agent("a", "not_ready", reason="break"), (), 1000.0, id="any-reason"),
        pytest.param(agent("a", "not_ready", reason="lunch"), ("break",), 0.0, id="other-reason"),
        pytest.param(agent("a", "not_ready", reason="break"), ("break",), 1000.0, id="reason"),
        pytest.param(agent("a", "available"), (), 0.0, id="not-in-not-ready"),
    ],
)
def test_not_ready_duration_is_measured_to_now(
    row: dict[str, Any], reasons: tuple[str, ...], expected_s: float
) -> None:
    rule = AlertRule("nr", "not_ready_s", ">=", scope="agent", warning=0, reasons=reasons, for_s=0)

    (change,) = AlertTracker([rule]).evaluate(floor(agents=[row]), ms(1000))

    assert change.value == expected_s


def test_agent_not_ready_too_long_fires_with_the_agent_labels_and_resolves_when_back() -> None:
    rule = AlertRule("nr", "not_ready_s", ">", scope="agent", warning=900, critical=1800)
    tracker = AlertTracker([rule])
    rows = [agent("a1", "not_ready", reason="break", since_s=0)]

    assert tracker.evaluate(floor(agents=rows), ms(899)) == []
    (fired,) = tracker.evaluate(floor(agents=rows), ms(901))
    (escalated,) = tracker.evaluate(floor(agents=rows), ms(1801))
    (back,) = tracker.evaluate(floor(agents=[agent("a1", since_s=1900)]), ms(1901))

    assert (fired.state, fired.severity, fired.notify) == (FIRING, "warning", True)
    assert dict(fired.labels) == {"name": "A1", "team": "red", "site": "london"}
    assert fired.message == "agent a1: time not ready 15.0 min > 15.0 min (warning)"
    assert (escalated.severity, escalated.notify) == ("critical", True)
    assert (back.state, back.notify) == (RESOLVED, True)


# -- relative thresholds, values, messages ------------------------------------------------------


def test_thresholds_relative_to_the_queue_target_are_reported_absolute() -> None:
    rule = AlertRule(
        "sl",
        "service_level",
        "<",
        window="interval",
        relative_to="target",
        warning=0.0,
        critical=-0.10,
        clear=0.02,
    )
    snapshot = floor(
        view("gold", target=0.90, answered=100, within=85),  # 85 %: below 90, not below 80
        view("bronze", target=0.70, answered=100, within=85),  # fine
    )

    (change,) = AlertTracker([rule]).evaluate(snapshot, ms(0))

    assert (change.scope.name, change.severity) == ("gold", "warning")
    assert change.value == pytest.approx(0.85)
    assert change.threshold == pytest.approx(0.90)
    assert change.message == (
        "queue gold: service level (interval, answered_of_offered) 85.0 % < 90.0 % (warning)"
    )


def test_longest_wait_is_the_age_at_evaluation_time() -> None:
    rule = AlertRule("lw", "longest_wait_s", ">", warning=60)
    snapshot = floor(view(waiting=1, oldest_queued_ms=ms(0)))
    tracker = AlertTracker([rule])

    assert tracker.evaluate(snapshot, ms(59)) == []
    (change,) = tracker.evaluate(snapshot, ms(61))
    assert change.value == 61.0


def test_change_round_trips_through_json() -> None:
    tracker = AlertTracker([replace(WAITING, for_s=0)])
    drive(tracker, every(10, 12))
    change = tracker.acknowledge(KEY, ms(5), "alice", "on it")
    assert change is not None

    assert AlertChange.from_json(orjson.loads(orjson.dumps(change.to_json()))) == change


# -- persistence --------------------------------------------------------------------------------


def round_trip(tracker: AlertTracker) -> AlertTracker:
    restored = AlertTracker(tracker.rules)
    restored.restore(orjson.loads(orjson.dumps(tracker.to_state())))
    return restored


def test_restart_mid_firing_neither_renotifies_nor_forgets() -> None:
    tracker = AlertTracker([WAITING])
    assert drive(tracker, every(10, 12, 12, 12, 12)) == [
        (0, PENDING, "warning", False),
        (30, FIRING, "warning", True),
    ]

    restored = round_trip(tracker)

    assert restored.to_state() == tracker.to_state()
    assert drive(restored, every(10, 12, 12, start=40)) == []
    assert [a.state for a in restored.active(ms(60))] == [FIRING]
    assert drive(restored, every(10, 5, start=60)) == [(60, RESOLVED, "warning", True)]


def test_restart_keeps_pending_time_snooze_and_cooldown() -> None:
    rules = [
        replace(WAITING, for_s=30),
        AlertRule("risk", "at_risk", ">", warning=0, cooldown_s=300),
    ]
    tracker = AlertTracker(rules)
    tracker.evaluate(floor(view(waiting=12, at_risk=1)), ms(0))
    tracker.snooze("risk:queue:billing", ms(0), ms(500), by="bob")
    tracker.evaluate(floor(view(waiting=12)), ms(1))  # "risk" resolves: cooldown to 301 s

    restored = round_trip(tracker)
    changes = restored.evaluate(floor(view(waiting=12)), ms(30))

    assert [(c.alert_id, c.state) for c in changes] == [(KEY, FIRING)]  # for_s counted from 0
    state = restored.to_state()
    assert state["cooldown_until"] == {"risk:queue:billing": ms(301)}
    assert state["snoozes"] == {
        "risk:queue:billing": {"until_ms": ms(500), "by": "bob", "note": None}
    }


def test_restored_alert_of_a_removed_rule_resolves() -> None:
    tracker = AlertTracker([replace(WAITING, for_s=0)])
    drive(tracker, every(10, 12))
    other = AlertTracker([replace(WAITING, id="renamed", for_s=0)])
    other.restore(orjson.loads(orjson.dumps(tracker.to_state())))

    changes = other.evaluate(floor(view(waiting=12)), ms(10))

    assert [(c.alert_id, c.state, c.notify) for c in changes] == [
        ("renamed:queue:billing", FIRING, True),
        (KEY, RESOLVED, True),
    ]
    assert changes[1].message.endswith("resolved (rule removed)")


def test_restoring_an_unknown_state_version_fails() -> None:
    with pytest.raises(ValueError, match="version 99"):
        AlertTracker([WAITING]).restore({"version": 99})


# -- properties ---------------------------------------------------------------------------------

values = st.lists(st.integers(0, 30), min_size=1, max_size=60)
actions = st.lists(st.sampled_from(["none", "none", "none", "ack", "snooze", "restart"]))


@settings(max_examples=300, deadline=None)
@given(
    series=values,
    acts=actions,
    for_s=st.sampled_from([0, 10, 30]),
    cooldown_s=st.sampled_from([0, 20]),
    clear=st.sampled_from([None, 8, 5]),
)
def test_notifications_of_one_alert_are_episodes_of_firing_closed_by_one_resolve(
    series: list[int],
    acts: list[str],
    for_s: int,
    cooldown_s: int,
    clear: int | None,
) -> None:
    rule = replace(WAITING, for_s=for_s, cooldown_s=cooldown_s, clear=clear)
    tracker = AlertTracker([rule])
    notified: list[AlertChange] = []
    for step, value in enumerate(series):
        now = ms(step * 10)
        action = acts[step] if step < len(acts) else "none"
        if action == "ack":
            tracker.acknowledge(KEY, now, "op")
        elif action == "snooze":
            tracker.snooze(KEY, now, now + 25_000)
        elif action == "restart":
            tracker = round_trip(tracker)
        for change in tracker.evaluate(floor(view(waiting=value)), now):
            assert change.alert_id == KEY
            if change.notify:
                notified.append(change)

    open_severity: str | None = None
    for change in notified:
        if change.state == RESOLVED:
            assert open_severity is not None, "a resolve without a notified firing"
            open_severity = None
        else:
            assert change.state == FIRING
            rank = ["warning", "critical"].index(change.severity or "")
            # never two firings of one level in a row: only a higher severity notifies again
            assert open_severity is None or rank > ["warning", "critical"].index(open_severity)
            open_severity = change.severity


@settings(max_examples=200, deadline=None)
@given(series=values)
def test_single_threshold_rule_notifications_strictly_alternate(series: list[int]) -> None:
    rule = AlertRule("w", "waiting", ">", warning=10, clear=6)
    tracker = AlertTracker([rule])
    states = [
        change.state
        for step, value in enumerate(series)
        for change in tracker.evaluate(floor(view(waiting=value)), ms(step))
        if change.notify
    ]

    assert states == [FIRING, RESOLVED] * (len(states) // 2) + [FIRING] * (len(states) % 2)


# -- rule checks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        pytest.param(
            AlertRule("r", "servce_level", "<", warning=1),
            ("metric", "expected one of: service_level, service_level_contacts,"),
            id="unknown-metric",
        ),
        pytest.param(
            AlertRule("r", "service_level", "<", warning=0.8),
            ("window", "metric 'service_level' needs a window"),
            id="missing-window",
        ),
        pytest.param(
            AlertRule("r", "waiting", ">", warning=1, window="interval"),
            ("window", "metric 'waiting' has no window"),
            id="window-on-a-live-metric",
        ),
        pytest.param(
            AlertRule("r", "not_ready_s", ">", warning=1),
            ("scope", "metric 'not_ready_s' is measured on: agent"),
            id="agent-metric-on-queues",
        ),
        pytest.param(
            AlertRule("r", "waiting", ">", warning=1, scope="team"),
            ("scope", "metric 'waiting' is measured on: queue, site, client, floor"),
            id="queue-metric-on-teams",
        ),
        pytest.param(
            AlertRule("r", "waiting", ">"),
            ("warning", "expected a warning or a critical threshold (or both)"),
            id="no-threshold",
        ),
        pytest.param(
            AlertRule("r", "waiting", ">", warning=10, critical=5),
            ("critical", "expected a value above warning (10)"),
            id="critical-on-the-wrong-side",
        ),
        pytest.param(
            AlertRule("r", "waiting", ">", warning=10, clear=12),
            ("clear", "expected a value below or at warning (10)"),
            id="clear-on-the-wrong-side",
        ),
        pytest.param(
            AlertRule("r", "waiting", ">", warning=10, match=(("teams", ("red",)),)),
            ("match.teams", "a queue scope can match on queues, sites, clients, channels"),
            id="match-on-an-attribute-queues-lack",
        ),
        pytest.param(
            AlertRule("r", "waiting", ">", warning=10, relative_to="target"),
            ("relative_to", "metric 'waiting' has no target"),
            id="relative-waiting",
        ),
        pytest.param(
            AlertRule(
                "r",
                "service_level",
                "<",
                warning=0,
                window="day",
                scope="site",
                relative_to="target",
            ),
            ("relative_to", "only a queue has a service-level target"),
            id="relative-site",
        ),
        pytest.param(
            AlertRule("r", "waiting", ">", warning=1, guard=Guard("offered", 10)),
            ("guard.window", "metric 'offered' needs a window"),
            id="guard-without-window",
        ),
        pytest.param(
            AlertRule("r", "waiting", ">", warning=1, reasons=("break",)),
            ("reasons", "only the metric 'not_ready_s' takes reasons"),
            id="reasons-on-waiting",
        ),
    ],
)
def test_rule_problems_name_the_field(rule: AlertRule, problem: tuple[str, str]) -> None:
    found = rule_problems(rule)

    assert found
    assert found[0][0] == problem[0]
    assert found[0][1].startswith(problem[1])


def test_tracker_refuses_a_bad_rule_or_a_repeated_id() -> None:
    with pytest.raises(ValueError, match="alert rule 'r': window: metric 'service_level'"):
        AlertTracker([AlertRule("r", "service_level", "<", warning=0.8)])
    with pytest.raises(ValueError, match="alert rule id 'waiting' is used twice"):
        AlertTracker([WAITING, WAITING])


def test_window_must_be_one_the_snapshots_carry() -> None:
    rule = AlertRule("r", "asa_s", ">", warning=30, window="rolling_15")

    assert rule_problems(rule, WINDOWS) == [
        ("window", "expected one of: interval, rolling_30, rolling_60, day")
    ]


# -- projected end-of-interval service level ----------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "waiting", "at_risk", "expected"),
    [
        pytest.param((5, 10), 0, 0, (5, 10), id="nothing-waiting-is-the-interval"),
        pytest.param((5, 10), 4, 1, (8, 14), id="3-in-time-1-lost"),
        pytest.param((5, 10), 4, 4, (5, 14), id="all-at-risk"),
        pytest.param((0, 0), 3, 0, (3, 3), id="empty-interval-with-waiting"),
        pytest.param((0, 0), 0, 0, (0, 0), id="no-data"),
        pytest.param((5, 10), 2, 5, (5, 12), id="at-risk-clamped-to-waiting"),
    ],
)
def test_projection_counts_waiting_contacts_in_time_unless_at_risk(
    parts: tuple[int, int], waiting: int, at_risk: int, expected: tuple[int, int]
) -> None:
    assert project(parts, waiting, at_risk) == expected


def test_projection_of_the_design_worked_example_with_callers_waiting() -> None:
    # DESIGN.md section 3 example (T = 20, S = 5): 5/10, 5/8, 6/10, 5/9; plus 4 waiting,
    # one of them at risk: every definition gains 3 in time out of 4
    snapshot = view(answered=8, within=5, abandoned=2, abandoned_within=1, waiting=4, at_risk=1)

    projected = projected_service_levels(snapshot)

    assert projected == pytest.approx(
        {
            "answered_of_offered": 8 / 14,
            "answered_only": 8 / 12,
            "abandons_positive": 9 / 14,
            "ignore_early_abandons": 8 / 13,
        }
    )


def test_projected_service_level_warns_while_the_interval_still_looks_fine() -> None:
    """On the real core: 10 answered in 10 s (100 %), then 6 callers waiting."""
    settings_ = CoreSettings(queue_defaults=QueueSettings(name="*", threshold_s=20))
    core = Floor(settings_)
    for n in range(10):
        for ev in contact(f"c{n}", "billing", ms(n), answered_ms=ms(n + 10), agent="a1"):
            core.apply(ev)
    for n in range(6):
        for ev in contact(f"w{n}", "billing", ms(100 + n)):
            core.apply(ev)
    core.apply(agent_state("a1", ms(0), "on_contact", site="default", queues=["billing"]))
    rules = [
        replace(SL_RULE, id="sl", relative_to="target", warning=0, critical=-0.1, clear=0.02),
        AlertRule(
            "projected",
            "projected_service_level",
            "<",
            relative_to="target",
            warning=0.0,
            guard=Guard("projected_contacts", 10),
        ),
        AlertRule("site_projected", "projected_service_level", "<", scope="site", warning=0.8),
    ]
    tracker = AlertTracker(rules)

    calm = core.snapshot(ms(114))  # waiting 9..14 s: none at risk yet (15 s = 0.75 T)
    tense = core.snapshot(ms(118))  # waiting 13..18 s: four at risk

    assert calm["queues"][0]["windows"]["interval"]["service_level"]["answered_of_offered"] == 1
    assert tracker.evaluate(calm, ms(114)) == []
    changes = tracker.evaluate(tense, ms(118))
    assert [(c.alert_id, c.value) for c in changes] == [
        ("projected:queue:billing", pytest.approx(12 / 16)),
        ("site_projected:site:default", pytest.approx(12 / 16)),
    ]
