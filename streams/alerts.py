"""Alert lifecycles over floor snapshots: feed snapshots and ``now_ms`` in, collect changes.

:class:`AlertTracker` holds the rules (:mod:`streams.alert_rules`) and the state of every
alert. Each :meth:`AlertTracker.evaluate` takes a *floor view* — the dict of
:func:`streams.snapshot.floor_view` (``queues``, ``agents``, ``groups``,
``agents_by_state``), as ``Floor.snapshot(now_ms)`` and ``Hub.state(now_ms)`` return it —
judges every rule on every entity in its scope (:mod:`streams.alert_scopes`) and returns
the :class:`AlertChange` of each alert whose state changed. No clock, no I/O: the caller
publishes the changes (``floor-alerts``, keyed by ``alert_id``), hands those with
``notify`` set to the notifiers, and keeps :meth:`AlertTracker.to_state` in a table so that
a restart neither re-fires nor forgets an alert.

Lifecycle of one alert (one rule on one scope; its id is
:func:`streams.alert_rules.alert_id`, so re-evaluation never duplicates it)::

             breach                breach lasted for_s
    (none) ─────────► pending ─────────────────────────► firing ◄───────┐
                         │ back before for_s /             │  │          │ escalation
                         ▼ no data                         │  │ ack      │ to critical
                      inactive                             │  ▼          │
                                     resolved ◄────────────┴─ acknowledged
                                        │  value beyond `clear` for clear_for_s,
                                        │  or no data for resolve_no_data_s
                                        └─ cooldown_s: no new firing before it ends

- **Thresholds and hysteresis.** An alert becomes pending when the value breaches the
  least severe threshold, fires once the breach has lasted ``for_s`` without a break, and
  resolves only once the value is on the good side of ``clear`` (default: that threshold),
  so a value wandering in the band between them never flaps. It escalates to critical once
  the critical threshold has been breached for ``for_s``, and stays critical until the value
  leaves the warning zone too.
- **No data.** A value that cannot be judged (the guard is not met, an empty denominator,
  the scope left the snapshot) cancels a pending alert and holds a firing one; a firing
  alert without data for ``resolve_no_data_s`` resolves.
- **Notifications** (``AlertChange.notify``): once when an alert fires, once for each
  escalation to a higher severity, and once when a notified alert resolves. Acknowledged and
  snoozed alerts are not notified again; an alert that fired during a snooze is notified when
  the snooze ends if it still fires unacknowledged. The notified changes of one alert id are
  thus episodes of firing (strictly rising severity) each closed by exactly one resolved.
- **Operators.** :meth:`AlertTracker.acknowledge` (who, note) and
  :meth:`AlertTracker.snooze` (until when) return the change to publish.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from streams.alert_rules import (
    CRITICAL,
    METRICS,
    WARNING,
    AlertRule,
    Comparison,
    Scope,
    Severity,
    alert_id,
    check_rules,
)
from streams.alert_scopes import Entity, FloorEntities, matches, measure

AlertStatus = Literal["pending", "firing", "acknowledged", "resolved", "inactive"]
PENDING: Final = "pending"
FIRING: Final = "firing"
ACKNOWLEDGED: Final = "acknowledged"
RESOLVED: Final = "resolved"
INACTIVE: Final = "inactive"
"""A pending alert that ended without firing."""
ACTIVE: Final[tuple[AlertStatus, ...]] = (PENDING, FIRING, ACKNOWLEDGED)
STATE_VERSION: Final = 1

_RANK: Final[Mapping[str | None, int]] = {None: 0, WARNING: 1, CRITICAL: 2}


@dataclass(frozen=True)
class AlertChange:
    """One lifecycle change of one alert, as published on ``floor-alerts`` and notified.

    ``value`` and ``threshold`` are in the metric's unit and absolute (also for rules
    relative to the target); ``threshold`` is that of ``severity``. ``since_ms`` is when the
    breach began, ``fired_ms`` when the alert fired, ``at_ms`` when this change happened.
    """

    alert_id: str
    rule: str
    scope: Scope
    state: AlertStatus
    severity: Severity | None
    metric: str
    value: float | None
    threshold: float | None
    comparison: Comparison
    since_ms: int
    at_ms: int
    notify: bool = False
    fired_ms: int | None = None
    window: str | None = None
    definition: str | None = None
    acknowledged_by: str | None = None
    acknowledged_note: str | None = None
    acknowledged_ms: int | None = None
    snoozed_until_ms: int | None = None
    snoozed_by: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    """Attributes of the scope (site, client, channel, team, agent name), for routing."""
    description: str | None = None
    message: str = ""
    """One line saying what and why, e.g. ``queue billing: service level (interval,
    answered_of_offered) 62.0 % < 70.0 % (critical)``."""

    @property
    def active(self) -> bool:
        """Pending, firing or acknowledged: still an alert."""
        return self.state in ACTIVE

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict: the ``floor-alerts`` value, the REST and webhook payload."""
        return {
            "alert_id": self.alert_id,
            "rule": self.rule,
            "scope": {"kind": self.scope.kind, "name": self.scope.name},
            "state": self.state,
            "severity": self.severity,
            "metric": self.metric,
            "window": self.window,
            "definition": self.definition,
            "value": self.value,
            "threshold": self.threshold,
            "comparison": self.comparison,
            "since_ms": self.since_ms,
            "fired_ms": self.fired_ms,
            "at_ms": self.at_ms,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_note": self.acknowledged_note,
            "acknowledged_ms": self.acknowledged_ms,
            "snoozed_until_ms": self.snoozed_until_ms,
            "snoozed_by": self.snoozed_by,
            "notify": self.notify,
            "labels": dict(self.labels),
            "description": self.description,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AlertChange:
        """Inverse of :meth:`to_json`."""
        scope = data["scope"]
        return cls(
            alert_id=data["alert_id"],
            rule=data["rule"],
            scope=Scope(scope["kind"], scope["name"]),
            state=data["state"],
            severity=data["severity"],
            metric=data["metric"],
            window=data.get("window"),
            definition=data.get("definition"),
            value=data["value"],
            threshold=data["threshold"],
            comparison=data["comparison"],
            since_ms=data["since_ms"],
            fired_ms=data.get("fired_ms"),
            at_ms=data["at_ms"],
            acknowledged_by=data.get("acknowledged_by"),
            acknowledged_note=data.get("acknowledged_note"),
            acknowledged_ms=data.get("acknowledged_ms"),
            snoozed_until_ms=data.get("snoozed_until_ms"),
            snoozed_by=data.get("snoozed_by"),
            notify=bool(data.get("notify", False)),
            labels=tuple(sorted((data.get("labels") or {}).items())),
            description=data.get("description"),
            message=data.get("message", ""),
        )


@dataclass
class _Alert:
    """The mutable state of one active alert (pending, firing or acknowledged)."""

    alert_id: str
    rule: str
    scope: Scope
    metric: str
    comparison: Comparison
    window: str | None
    definition: str | None
    state: AlertStatus
    since_ms: int
    severity: Severity | None = None
    value: float | None = None
    target: float | None = None
    """The queue's target when the rule is relative to it (thresholds are offsets)."""
    fired_ms: int | None = None
    critical_since_ms: int | None = None
    clear_since_ms: int | None = None
    no_data_since_ms: int | None = None
    acknowledged_by: str | None = None
    acknowledged_note: str | None = None
    acknowledged_ms: int | None = None
    notified: Severity | None = None
    """The highest severity notified in this episode (None: nothing notified yet)."""
    labels: tuple[tuple[str, str], ...] = ()

    def to_state(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "rule": self.rule,
            "scope": [self.scope.kind, self.scope.name],
            "metric": self.metric,
            "comparison": self.comparison,
            "window": self.window,
            "definition": self.definition,
            "state": self.state,
            "since_ms": self.since_ms,
            "severity": self.severity,
            "value": self.value,
            "target": self.target,
            "fired_ms": self.fired_ms,
            "critical_since_ms": self.critical_since_ms,
            "clear_since_ms": self.clear_since_ms,
            "no_data_since_ms": self.no_data_since_ms,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_note": self.acknowledged_note,
            "acknowledged_ms": self.acknowledged_ms,
            "notified": self.notified,
            "labels": [list(pair) for pair in self.labels],
        }

    @classmethod
    def from_state(cls, data: Mapping[str, Any]) -> _Alert:
        kind, name = data["scope"]
        return cls(
            alert_id=data["alert_id"],
            rule=data["rule"],
            scope=Scope(kind, name),
            metric=data["metric"],
            comparison=data["comparison"],
            window=data["window"],
            definition=data["definition"],
            state=data["state"],
            since_ms=data["since_ms"],
            severity=data["severity"],
            value=data["value"],
            target=data["target"],
            fired_ms=data["fired_ms"],
            critical_since_ms=data["critical_since_ms"],
            clear_since_ms=data["clear_since_ms"],
            no_data_since_ms=data["no_data_since_ms"],
            acknowledged_by=data["acknowledged_by"],
            acknowledged_note=data["acknowledged_note"],
            acknowledged_ms=data["acknowledged_ms"],
            notified=data["notified"],
            labels=tuple((str(key), str(value)) for key, value in data["labels"]),
        )


@dataclass(frozen=True)
class _Snooze:
    until_ms: int
    by: str | None
    note: str | None


Judgement = tuple[float, float, float | None]
"""(value, value compared with the thresholds, the target it is relative to)."""


class AlertTracker:
    """The rules and the state of every alert; see the module for the lifecycle.

    Not thread-safe: one owner calls :meth:`evaluate`, :meth:`acknowledge` and
    :meth:`snooze` in turn, with a ``now_ms`` that does not go backwards.
    """

    def __init__(self, rules: Iterable[AlertRule], *, resolve_no_data_s: float = 900.0) -> None:
        """Raises ValueError for a rule :func:`streams.alert_rules.rule_problems` rejects
        or an id used twice."""
        self.rules = check_rules(rules)
        self._rules = {rule.id: rule for rule in self.rules}
        self.resolve_no_data_ms = round(resolve_no_data_s * 1000)
        self._alerts: dict[str, _Alert] = {}
        self._snoozes: dict[str, _Snooze] = {}
        self._cooldown_until: dict[str, int] = {}

    # -- evaluating --------------------------------------------------------------------------

    def evaluate(self, floor: Mapping[str, Any], now_ms: int) -> list[AlertChange]:
        """Judge every rule on ``floor`` (a :func:`streams.snapshot.floor_view` dict) at
        ``now_ms``: the changes, at most one per alert, in rule then scope order."""
        entities = FloorEntities(floor)
        changes: list[AlertChange] = []
        seen: set[str] = set()
        holding = {alert.rule for alert in self._alerts.values()}
        for rule in self.rules:
            quiet = rule.id not in holding
            for entity in entities.entities(rule.scope):
                if rule.match and not matches(rule, entity):
                    continue
                judged = self._judge(rule, entity, now_ms)
                if quiet and (judged is None or rule.severity_of(judged[1]) is None):
                    continue  # the common case: nothing breached, nothing held by the rule
                key = alert_id(rule.id, entity.scope)
                seen.add(key)
                if judged is None and key not in self._alerts:
                    continue
                self._step(rule, key, entity, judged, now_ms, changes)
        for key in sorted(k for k in self._alerts if k not in seen):
            alert = self._alerts[key]
            rule_of = self._rules.get(alert.rule)
            if rule_of is None:  # the rule was removed from the configuration
                changes.append(self._resolve(alert, now_ms))
            else:  # the scope left the snapshot or the rule's match
                self._step(rule_of, key, None, None, now_ms, changes)
        self._expire(now_ms)
        return changes

    def _judge(self, rule: AlertRule, entity: Entity, now_ms: int) -> Judgement | None:
        """What to compare, or None when the rule cannot judge now (guard, no data)."""
        guard = rule.guard
        if guard is not None:
            windowed = METRICS[guard.metric].windowed
            guard_value = measure(
                entity,
                guard.metric,
                now_ms,
                window=(guard.window or rule.window) if windowed else None,
                definition=rule.definition,
            )
            if guard_value is None or guard_value < guard.min:
                return None
        value = measure(
            entity,
            rule.metric,
            now_ms,
            window=rule.window,
            definition=rule.definition,
            reasons=rule.reasons,
        )
        if value is None or not math.isfinite(value):
            return None
        if rule.relative_to is None:
            return value, value, None
        target = entity.target
        if target is None:
            return None
        return value, value - target, target

    def _step(
        self,
        rule: AlertRule,
        key: str,
        entity: Entity | None,
        judged: Judgement | None,
        now_ms: int,
        changes: list[AlertChange],
    ) -> None:
        """Move one alert along its lifecycle; append its change, if any."""
        alert = self._alerts.get(key)
        before = None if alert is None else (alert.state, alert.severity)
        if judged is None:
            if alert is None:
                return
            if alert.state == PENDING:
                del self._alerts[key]
                changes.append(self._change(alert, now_ms, state=INACTIVE))
                return
            if alert.no_data_since_ms is None:
                alert.no_data_since_ms = now_ms
            if now_ms - alert.no_data_since_ms >= self.resolve_no_data_ms:
                alert.value = None
                changes.append(self._resolve(alert, now_ms))
            return
        value, compared, target = judged
        level = rule.severity_of(compared)
        if alert is None:
            if level is None:
                return
            assert entity is not None
            spec = rule.spec
            alert = self._alerts[key] = _Alert(
                alert_id=key,
                rule=rule.id,
                scope=entity.scope,
                metric=rule.metric,
                comparison=rule.comparison,
                window=rule.window,
                definition=rule.definition if spec.definition else None,
                state=PENDING,
                since_ms=now_ms,
                labels=entity.labels,
            )
        alert.value = value
        alert.target = target
        alert.no_data_since_ms = None
        if alert.state == PENDING:
            if level is None:
                del self._alerts[key]
                changes.append(self._change(alert, now_ms, state=INACTIVE))
                return
            _track_critical(alert, level, now_ms)
            alert.severity = level
            cooling = now_ms < self._cooldown_until.get(key, now_ms)
            if now_ms - alert.since_ms >= rule.for_ms and not cooling:
                alert.state = FIRING
                alert.fired_ms = now_ms
                alert.severity = _sustained(rule, alert, now_ms)
        else:
            if rule.clears(compared):
                if alert.clear_since_ms is None:
                    alert.clear_since_ms = now_ms
                if now_ms - alert.clear_since_ms >= rule.clear_for_ms:
                    changes.append(self._resolve(alert, now_ms))
                    return
            else:
                alert.clear_since_ms = None
            _track_critical(alert, level, now_ms)
            sustained = _sustained(rule, alert, now_ms)
            if _RANK[sustained] > _RANK[alert.severity]:
                alert.severity = sustained
                if alert.state == ACKNOWLEDGED:  # news: it needs a new acknowledgement
                    alert.state = FIRING
                    alert.acknowledged_by = alert.acknowledged_note = None
                    alert.acknowledged_ms = None
            elif alert.severity == CRITICAL and level is None and rule.warning is not None:
                alert.severity = WARNING
        notify = self._due(alert, now_ms)
        if notify:
            alert.notified = alert.severity
        moved = before is None or before[0] != alert.state
        # a pending alert's level may change every evaluation: only its state is news
        regraded = alert.state != PENDING and before is not None and before[1] != alert.severity
        if notify or moved or regraded:
            changes.append(self._change(alert, now_ms, notify=notify))

    def _due(self, alert: _Alert, now_ms: int) -> bool:
        """Whether a firing alert is to be notified now (see the module)."""
        if alert.state != FIRING or self._snoozed(alert.alert_id, now_ms):
            return False
        return _RANK[alert.severity] > _RANK[alert.notified]

    def _snoozed(self, key: str, now_ms: int) -> bool:
        snooze = self._snoozes.get(key)
        return snooze is not None and now_ms < snooze.until_ms

    def _resolve(self, alert: _Alert, now_ms: int) -> AlertChange:
        del self._alerts[alert.alert_id]
        rule = self._rules.get(alert.rule)
        if rule is not None and rule.cooldown_ms > 0:
            self._cooldown_until[alert.alert_id] = now_ms + rule.cooldown_ms
        notify = alert.notified is not None
        return self._change(alert, now_ms, state=RESOLVED, notify=notify)

    def _expire(self, now_ms: int) -> None:
        for key in [k for k, snooze in self._snoozes.items() if snooze.until_ms <= now_ms]:
            del self._snoozes[key]
        for key in [k for k, until in self._cooldown_until.items() if until <= now_ms]:
            del self._cooldown_until[key]

    def _change(
        self,
        alert: _Alert,
        now_ms: int,
        *,
        state: AlertStatus | None = None,
        notify: bool = False,
    ) -> AlertChange:
        rule = self._rules.get(alert.rule)
        threshold = None if rule is None else rule.threshold_of(alert.severity)
        if threshold is not None and alert.target is not None:
            threshold += alert.target
        snooze = self._snoozes.get(alert.alert_id)
        if snooze is not None and snooze.until_ms <= now_ms:
            snooze = None
        change = AlertChange(
            alert_id=alert.alert_id,
            rule=alert.rule,
            scope=alert.scope,
            state=state or alert.state,
            severity=alert.severity,
            metric=alert.metric,
            window=alert.window,
            definition=alert.definition,
            value=alert.value,
            threshold=threshold,
            comparison=alert.comparison,
            since_ms=alert.since_ms,
            fired_ms=alert.fired_ms,
            at_ms=now_ms,
            acknowledged_by=alert.acknowledged_by,
            acknowledged_note=alert.acknowledged_note,
            acknowledged_ms=alert.acknowledged_ms,
            snoozed_until_ms=None if snooze is None else snooze.until_ms,
            snoozed_by=None if snooze is None else snooze.by,
            notify=notify,
            labels=alert.labels,
            description=None if rule is None else rule.description,
        )
        clear = None if rule is None else rule.clear_level + (alert.target or 0.0)
        return replace(change, message=describe(change, clear))

    # -- operator actions --------------------------------------------------------------------

    def acknowledge(
        self, key: str, now_ms: int, by: str, note: str | None = None
    ) -> AlertChange | None:
        """Acknowledge firing alert ``key`` (again: update who and the note). None when it is
        not firing or acknowledged. An acknowledged alert is not notified again, except
        when it escalates (which needs a new acknowledgement)."""
        alert = self._alerts.get(key)
        if alert is None or alert.state not in (FIRING, ACKNOWLEDGED):
            return None
        alert.state = ACKNOWLEDGED
        alert.acknowledged_by = by
        alert.acknowledged_note = note
        alert.acknowledged_ms = now_ms
        return self._change(alert, now_ms)

    def snooze(
        self,
        key: str,
        now_ms: int,
        until_ms: int,
        by: str | None = None,
        note: str | None = None,
    ) -> AlertChange | None:
        """No notifications of alert ``key`` until ``until_ms`` — also of a new firing after
        it resolves; ``until_ms <= now_ms`` lifts the snooze. None when ``key`` is not an
        active alert."""
        alert = self._alerts.get(key)
        if alert is None:
            return None
        if until_ms <= now_ms:
            self._snoozes.pop(key, None)
        else:
            self._snoozes[key] = _Snooze(until_ms, by, note)
        return self._change(alert, now_ms)

    # -- reading -----------------------------------------------------------------------------

    def get(self, key: str, now_ms: int) -> AlertChange | None:
        """The current state of alert ``key`` (``notify`` False); None when not active."""
        alert = self._alerts.get(key)
        return None if alert is None else self._change(alert, now_ms)

    def active(self, now_ms: int) -> list[AlertChange]:
        """Every active alert (pending, firing, acknowledged) with its latest value, by id."""
        return [self._change(self._alerts[key], now_ms) for key in sorted(self._alerts)]

    # -- persistence -------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Every alert, snooze and cooldown as JSON-able values (not the rules)."""
        return {
            "version": STATE_VERSION,
            "alerts": [self._alerts[key].to_state() for key in sorted(self._alerts)],
            "snoozes": {
                key: {"until_ms": snooze.until_ms, "by": snooze.by, "note": snooze.note}
                for key, snooze in sorted(self._snoozes.items())
            },
            "cooldown_until": dict(sorted(self._cooldown_until.items())),
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Replace the alert state with a :meth:`to_state` (after a JSON round trip).

        Alerts of rules no longer configured resolve at the next :meth:`evaluate`.
        """
        version = state.get("version")
        if version != STATE_VERSION:
            raise ValueError(f"alert state version {version!r}; expected {STATE_VERSION}")
        alerts = [_Alert.from_state(item) for item in state["alerts"]]
        self._alerts = {alert.alert_id: alert for alert in alerts}
        self._snoozes = {
            key: _Snooze(int(item["until_ms"]), item.get("by"), item.get("note"))
            for key, item in state["snoozes"].items()
        }
        self._cooldown_until = {key: int(v) for key, v in state["cooldown_until"].items()}


def _track_critical(alert: _Alert, level: Severity | None, now_ms: int) -> None:
    if level == CRITICAL:
        if alert.critical_since_ms is None:
            alert.critical_since_ms = now_ms
    else:
        alert.critical_since_ms = None


def _sustained(rule: AlertRule, alert: _Alert, now_ms: int) -> Severity:
    """The highest severity breached for ``for_s`` (the least severe one otherwise)."""
    since = alert.critical_since_ms
    if since is not None and now_ms - since >= rule.for_ms:
        return CRITICAL
    return WARNING if rule.warning is not None else CRITICAL


# -- text -------------------------------------------------------------------------------------


def format_value(value: float | None, unit: str) -> str:
    """A value as the floor reads it: ratios in per cent, long durations in minutes."""
    if value is None:
        return "no data"
    if unit == "ratio":
        return f"{value * 100:.1f} %"
    if unit == "seconds":
        return f"{value / 60:.1f} min" if abs(value) >= 120 else f"{value:.0f} s"
    return f"{value:g}"


def describe(change: AlertChange, clear: float | None = None) -> str:
    """One line saying what the alert is about and why it is in its state; ``clear`` is
    the rule's absolute clear threshold (shown when the alert resolves)."""
    spec = METRICS.get(change.metric)
    unit = "count" if spec is None else spec.unit
    what = change.metric if spec is None else spec.label
    details = [part for part in (change.window, change.definition) if part]
    if details:
        what += f" ({', '.join(details)})"
    head = f"{change.scope}: {what} {format_value(change.value, unit)}"
    if change.state == RESOLVED:
        if change.value is None:
            return f"{head}, resolved (no data)"
        if clear is None:
            return f"{head}, resolved (rule removed)"
        return f"{head}, resolved (clear at {format_value(clear, unit)})"
    if change.state == INACTIVE:
        return f"{head}, back before the alert fired"
    threshold = format_value(change.threshold, unit)
    return f"{head} {change.comparison} {threshold} ({change.severity})"


__all__ = [
    "ACKNOWLEDGED",
    "ACTIVE",
    "FIRING",
    "INACTIVE",
    "PENDING",
    "RESOLVED",
    "STATE_VERSION",
    "AlertChange",
    "AlertStatus",
    "AlertTracker",
    "describe",
    "format_value",
]
