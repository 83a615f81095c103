"""Alert rules: what a rule measures, on which scope, against which thresholds.

An :class:`AlertRule` names a metric of :data:`METRICS` (a queue, group or agent figure, or a
leading indicator such as ``at_risk``, ``projected_service_level``, ``staffing_gap`` and
``projected_service_level_staffed``), the scope it is
judged on (every queue, site, client, team, agent, or the floor, narrowed by ``match``
patterns with ``*`` wildcards), a comparison, ``warning`` / ``critical`` thresholds, a
``clear`` threshold for hysteresis, durations (``for_s``, ``clear_for_s``, ``cooldown_s``)
and an optional minimum-count :class:`Guard`. :func:`rule_problems` says what is wrong with
a rule field by field, so the configuration loader can name the path of each problem.

How rules are judged over time is :mod:`streams.alerts`; how a metric is read from a floor
view is :mod:`streams.alert_scopes`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal, get_args
from urllib.parse import quote

from streams.settings import SL_DEFINITIONS

Comparison = Literal["<", "<=", ">", ">="]
COMPARISONS: Final[tuple[Comparison, ...]] = get_args(Comparison)
ScopeKind = Literal["queue", "site", "client", "team", "agent", "floor"]
SCOPE_KINDS: Final[tuple[ScopeKind, ...]] = get_args(ScopeKind)
Severity = Literal["warning", "critical"]
WARNING: Final = "warning"
CRITICAL: Final = "critical"
SEVERITIES: Final[tuple[Severity, ...]] = (WARNING, CRITICAL)
"""Least severe first."""
FLOOR: Final = "floor"

QUEUE_LIKE: Final[tuple[ScopeKind, ...]] = ("queue", "site", "client", "floor")
AGENT_GROUPS: Final[tuple[ScopeKind, ...]] = ("queue", "site", "team", "floor")

MATCH_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "queue": ("queues", "sites", "clients", "channels"),
    "site": ("sites",),
    "client": ("clients",),
    "team": ("teams",),
    "agent": ("agents", "teams", "sites", "clients", "queues"),
    "floor": (),
}
"""Attributes a rule's ``match`` may filter each scope on (patterns with ``*`` wildcards)."""

Unit = Literal["ratio", "seconds", "count"]


@dataclass(frozen=True)
class MetricSpec:
    """What a metric is measured on and which rule parameters it takes."""

    name: str
    unit: Unit
    scopes: tuple[ScopeKind, ...]
    label: str
    windowed: bool = False
    """Takes ``window`` (``interval``, ``rolling_<min>``, ``day``)."""
    definition: bool = False
    """Takes ``definition`` (a service-level definition id)."""
    relative: bool = False
    """May be judged ``relative_to: target`` (the queue's service-level target)."""


def _metrics(*specs: MetricSpec) -> Mapping[str, MetricSpec]:
    return {spec.name: spec for spec in specs}


_COUNTS: Final = (
    ("offered", "contacts offered"),
    ("answered", "contacts answered"),
    ("answered_within_threshold", "contacts answered within threshold"),
    ("abandoned", "contacts abandoned"),
    ("short_abandoned", "short abandons"),
    ("abandoned_within_threshold", "contacts abandoned within threshold"),
    ("flowed_out", "contacts flowed out"),
    ("handled", "contacts handled"),
)
_AGENT_STATES: Final = (
    ("logged_in", "agents logged in"),
    ("staffed", "agents staffed"),
    ("available", "agents available"),
    ("on_contact", "agents on contact"),
    ("after_contact_work", "agents in after-contact work"),
    ("not_ready", "agents not ready"),
)
_STAFFING: Final[tuple[tuple[str, Unit, str], ...]] = (
    ("traffic_erlangs", "count", "offered traffic (erlangs)"),
    ("required_agents", "count", "agents required"),
    ("staffing_gap", "count", "staffed minus required agents"),
    ("forecast_volume_deviation", "ratio", "contacts against forecast"),
    ("forecast_aht_deviation", "ratio", "AHT against forecast"),
    ("forecast_staffing_gap", "count", "staffed minus forecast-required agents"),
)
"""Live staffing and forecast figures (:mod:`streams.staffing`), on queues and groups."""

METRICS: Final[Mapping[str, MetricSpec]] = _metrics(
    MetricSpec("service_level", "ratio", QUEUE_LIKE, "service level", True, True, relative=True),
    MetricSpec("service_level_contacts", "count", QUEUE_LIKE, "service-level contacts", True, True),
    *(MetricSpec(name, "count", QUEUE_LIKE, label, windowed=True) for name, label in _COUNTS),
    MetricSpec("asa_s", "seconds", QUEUE_LIKE, "ASA", windowed=True),
    MetricSpec("aht_s", "seconds", QUEUE_LIKE, "AHT", windowed=True),
    MetricSpec("abandon_rate", "ratio", QUEUE_LIKE, "abandon rate", windowed=True),
    MetricSpec(
        "answered_wait_max_s", "seconds", QUEUE_LIKE, "longest answered wait", windowed=True
    ),
    MetricSpec("waiting", "count", QUEUE_LIKE, "contacts waiting"),
    MetricSpec("at_risk", "count", QUEUE_LIKE, "contacts at risk"),
    MetricSpec("longest_wait_s", "seconds", QUEUE_LIKE, "longest wait"),
    MetricSpec(
        "projected_service_level",
        "ratio",
        QUEUE_LIKE,
        "projected interval service level",
        definition=True,
        relative=True,
    ),
    MetricSpec(
        "projected_contacts", "count", QUEUE_LIKE, "projected interval contacts", definition=True
    ),
    *(MetricSpec(name, unit, QUEUE_LIKE, label) for name, unit, label in _STAFFING),
    MetricSpec(
        "projected_service_level_staffed",
        "ratio",
        QUEUE_LIKE,
        "projected service level with the agents staffed",
        relative=True,
    ),
    *(
        MetricSpec(f"agents_{state}", "count", AGENT_GROUPS, label)
        for state, label in _AGENT_STATES
    ),
    MetricSpec("time_in_state_s", "seconds", ("agent",), "time in state"),
    MetricSpec("not_ready_s", "seconds", ("agent",), "time not ready"),
    MetricSpec("on_contact_s", "seconds", ("agent",), "time on contact"),
    MetricSpec("after_contact_work_s", "seconds", ("agent",), "time in after-contact work"),
    MetricSpec("occupancy", "ratio", ("agent",), "occupancy", windowed=True),
)
"""Every metric a rule or a guard can name."""

RELATIVE_TO: Final = ("target",)


@dataclass(frozen=True)
class Scope:
    """What one alert is about: a queue, site, client, team, agent, or the whole floor."""

    kind: ScopeKind
    name: str

    def __str__(self) -> str:
        return FLOOR if self.kind == FLOOR else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Guard:
    """The rule is judged only while ``metric`` (same scope) is at least ``min``."""

    metric: str
    min: float
    window: str | None = None
    """Window of a windowed guard metric; default: the rule's window."""


@dataclass(frozen=True)
class AlertRule:
    """One alert rule. Durations in seconds; thresholds in the metric's unit (ratios 0–1).

    With ``relative_to="target"`` the thresholds (and ``clear``) are offsets from the
    queue's service-level target: ``warning: 0`` is "below target", ``critical: -0.1`` is
    "ten points below target".
    """

    id: str
    metric: str
    comparison: Comparison
    scope: ScopeKind = "queue"
    warning: float | None = None
    critical: float | None = None
    clear: float | None = None
    """Resolve only once the value is on the good side of this (default: the least severe
    threshold, i.e. no hysteresis band)."""
    window: str | None = None
    definition: str = SL_DEFINITIONS[0]
    relative_to: str | None = None
    reasons: tuple[str, ...] = ()
    """For ``not_ready_s``: count only these not-ready reasons (empty: any)."""
    match: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(attribute, patterns) filters of the scope; an entity must match each attribute."""
    guard: Guard | None = None
    for_s: float = 0.0
    clear_for_s: float = 0.0
    cooldown_s: float = 0.0
    description: str | None = None

    @property
    def spec(self) -> MetricSpec:
        return METRICS[self.metric]

    @property
    def for_ms(self) -> int:
        return round(self.for_s * 1000)

    @property
    def clear_for_ms(self) -> int:
        return round(self.clear_for_s * 1000)

    @property
    def cooldown_ms(self) -> int:
        return round(self.cooldown_s * 1000)

    @property
    def least_severe(self) -> float:
        """The threshold whose breach starts an alert."""
        level = self.warning if self.warning is not None else self.critical
        assert level is not None, f"rule {self.id!r} has no threshold"
        return level

    @property
    def clear_level(self) -> float:
        return self.clear if self.clear is not None else self.least_severe

    def breaches(self, value: float, threshold: float | None) -> bool:
        return threshold is not None and _compare(self.comparison, value, threshold)

    def severity_of(self, value: float) -> Severity | None:
        """The highest severity whose threshold ``value`` breaches; None for none."""
        if self.breaches(value, self.critical):
            return CRITICAL
        if self.breaches(value, self.warning):
            return WARNING
        return None

    def clears(self, value: float) -> bool:
        """True when ``value`` is on the good side of the clear threshold."""
        return not _compare(self.comparison, value, self.clear_level)

    def threshold_of(self, severity: Severity | None) -> float | None:
        if severity == CRITICAL:
            return self.critical
        if severity == WARNING:
            return self.warning
        return None


def _compare(comparison: Comparison, value: float, threshold: float) -> bool:
    if comparison == "<":
        return value < threshold
    if comparison == "<=":
        return value <= threshold
    if comparison == ">":
        return value > threshold
    return value >= threshold


def rule_problems(rule: AlertRule, windows: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """What is wrong with ``rule``, as (field, problem) pairs; empty when it can be used.

    ``windows`` are the window labels the snapshots carry (e.g. ``interval``,
    ``rolling_30``, ``rolling_60``, ``day``); None skips that check.
    """
    problems: list[tuple[str, str]] = []
    spec = METRICS.get(rule.metric)
    if spec is None:
        return [("metric", f"expected one of: {', '.join(METRICS)}")]
    if rule.comparison not in COMPARISONS:
        problems.append(("comparison", "expected one of '<', '<=', '>' or '>='"))
        return problems
    if rule.scope not in spec.scopes:
        problems.append(
            ("scope", f"metric {rule.metric!r} is measured on: {', '.join(spec.scopes)}")
        )
    allowed = MATCH_KEYS.get(rule.scope, ())
    for key, patterns in rule.match:
        if key not in allowed:
            shown = ", ".join(allowed) if allowed else "nothing"
            problems.append((f"match.{key}", f"a {rule.scope} scope can match on {shown}"))
        elif not patterns:
            problems.append((f"match.{key}", "expected at least one name or pattern"))
    known = None if windows is None else list(windows)
    problems += _window_problems("window", spec, rule.window, known)
    if spec.definition and rule.definition not in SL_DEFINITIONS:
        problems.append(("definition", f"expected one of: {', '.join(SL_DEFINITIONS)}"))
    if rule.relative_to is not None:
        if rule.relative_to not in RELATIVE_TO:
            problems.append(("relative_to", "expected 'target'"))
        elif not spec.relative:
            problems.append(("relative_to", f"metric {rule.metric!r} has no target"))
        elif rule.scope != "queue":
            problems.append(("relative_to", "only a queue has a service-level target"))
    if rule.reasons and rule.metric != "not_ready_s":
        problems.append(("reasons", "only the metric 'not_ready_s' takes reasons"))
    problems += _threshold_problems(rule)
    for name in ("for_s", "clear_for_s", "cooldown_s"):
        value = getattr(rule, name)
        if not (math.isfinite(value) and value >= 0):
            problems.append((name, "expected a number of seconds >= 0"))
    if rule.guard is not None:
        guard_spec = METRICS.get(rule.guard.metric)
        if guard_spec is None:
            problems.append(("guard.metric", f"expected one of: {', '.join(METRICS)}"))
        else:
            if rule.scope not in guard_spec.scopes:
                problems.append(
                    (
                        "guard.metric",
                        f"metric {rule.guard.metric!r} is measured on: "
                        f"{', '.join(guard_spec.scopes)}",
                    )
                )
            guard_window = rule.guard.window
            if guard_window is None and guard_spec.windowed:
                guard_window = rule.window
                if guard_window is None:
                    problems.append(
                        ("guard.window", f"metric {rule.guard.metric!r} needs a window")
                    )
            elif rule.guard.window is not None:
                problems += _window_problems("guard.window", guard_spec, guard_window, known)
    return problems


def _window_problems(
    where: str, spec: MetricSpec, window: str | None, known: list[str] | None
) -> list[tuple[str, str]]:
    if spec.windowed and window is None:
        return [(where, f"metric {spec.name!r} needs a window")]
    if not spec.windowed and window is not None:
        return [(where, f"metric {spec.name!r} has no window")]
    if window is not None and known is not None and window not in known:
        return [(where, f"expected one of: {', '.join(known)}")]
    return []


def _threshold_problems(rule: AlertRule) -> list[tuple[str, str]]:
    values = [("warning", rule.warning), ("critical", rule.critical), ("clear", rule.clear)]
    for name, value in values:
        if value is not None and not math.isfinite(value):
            return [(name, "expected a finite number")]
    if rule.warning is None and rule.critical is None:
        return [("warning", "expected a warning or a critical threshold (or both)")]
    below = rule.comparison in ("<", "<=")
    side = "below" if below else "above"
    if rule.warning is not None and rule.critical is not None:
        worse = rule.critical < rule.warning if below else rule.critical > rule.warning
        if not worse:
            return [("critical", f"expected a value {side} warning ({rule.warning:g})")]
    if rule.clear is not None:
        least = rule.least_severe
        which = "warning" if rule.warning is not None else "critical"
        good = rule.clear >= least if below else rule.clear <= least
        if not good:
            other = "above" if below else "below"
            return [("clear", f"expected a value {other} or at {which} ({least:g})")]
    return []


def check_rules(rules: Iterable[AlertRule]) -> tuple[AlertRule, ...]:
    """The rules, each usable and with a unique id; raises ValueError naming the first problem."""
    seen: set[str] = set()
    out = []
    for rule in rules:
        if rule.id in seen:
            raise ValueError(f"alert rule id {rule.id!r} is used twice")
        seen.add(rule.id)
        problems = rule_problems(rule)
        if problems:
            where, problem = problems[0]
            raise ValueError(f"alert rule {rule.id!r}: {where}: {problem}")
        out.append(rule)
    return tuple(out)


def alert_id(rule_id: str, scope: Scope) -> str:
    """The stable id of ``rule_id`` on ``scope``: ``rule:kind:name`` (``rule:floor`` for the
    floor), the name percent-encoded so the id is one URL path segment."""
    if scope.kind == FLOOR:
        return f"{rule_id}:{FLOOR}"
    return f"{rule_id}:{scope.kind}:{_quoted(scope.name)}"


@lru_cache(maxsize=65_536)
def _quoted(name: str) -> str:
    # the same few thousand names every evaluation: quote each once
    return quote(name, safe="")


__all__ = [
    "AGENT_GROUPS",
    "COMPARISONS",
    "CRITICAL",
    "FLOOR",
    "MATCH_KEYS",
    "METRICS",
    "QUEUE_LIKE",
    "RELATIVE_TO",
    "SCOPE_KINDS",
    "SEVERITIES",
    "WARNING",
    "AlertRule",
    "Comparison",
    "Guard",
    "MetricSpec",
    "Scope",
    "ScopeKind",
    "Severity",
    "Unit",
    "alert_id",
    "check_rules",
    "rule_problems",
]
