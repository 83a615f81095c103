"""Reading rule metrics from a floor view: the entities of each scope and their values.

A floor view is the dict of :func:`streams.snapshot.floor_view` (``queues``, ``agents``,
``groups``, ``agents_by_state``). :class:`FloorEntities` turns it into the :class:`Entity`
of every queue, site, client, team, agent and the floor, and :func:`measure` reads one
metric of :data:`streams.alert_rules.METRICS` from an entity at ``now_ms``:

- service levels (and their denominators, ``service_level_contacts``) are Σ numerators /
  Σ denominators of the member queues computing the definition, exactly as the roll-ups;
  other window figures come from the view's windows or the group roll-up;
- live figures add up the member queues; ``longest_wait_s`` is the age at ``now_ms`` of the
  oldest contact waiting (from ``oldest_queued_ms``), not the age when the view was built;
- agent times in state are measured from ``since_ms`` to ``now_ms``;
- the projected service level is :mod:`streams.projection`;
- staffing and forecast figures (``staffing_gap`` …) are read from the ``staffing`` block of
  a queue view or of the floor view's group staffing (:mod:`streams.staffing`).

``None`` means "no data" (an empty denominator, a window the view lacks): never judged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Final

from streams.alert_rules import FLOOR, AlertRule, Scope, ScopeKind
from streams.projection import group_projected_parts, projected_parts
from streams.service_level import Parts, ratio_of, service_level_parts
from streams.settings import SL_DEFINITIONS
from streams.snapshot import INTERVAL, rollup

_TIME_IN_STATE: Final[Mapping[str, str | None]] = {
    "time_in_state_s": None,
    "not_ready_s": "not_ready",
    "on_contact_s": "on_contact",
    "after_contact_work_s": "after_contact_work",
}
"""Agent metrics: time in the current state, counted only in the state named."""


_STAFFING: Final[Mapping[str, tuple[str, ...]]] = {
    "traffic_erlangs": ("traffic_erlangs",),
    "required_agents": ("required_agents",),
    "staffing_gap": ("gap",),
    "projected_service_level_staffed": ("projected_service_level",),
    "forecast_volume_deviation": ("forecast", "volume_deviation"),
    "forecast_aht_deviation": ("forecast", "aht_deviation"),
    "forecast_staffing_gap": ("forecast", "gap"),
}
"""Staffing metrics: the path of each in a staffing block."""

_QUEUE_ATTRIBUTES: Final = (("sites", "site"), ("clients", "client"), ("channels", "channel"))
_AGENT_ATTRIBUTES: Final = (("teams", "team"), ("sites", "site"), ("clients", "client"))
_AGENT_LABELS: Final = ("name", "team", "site", "client")


@dataclass
class Entity:
    """One thing a rule can be judged on, with what the snapshot says about it.

    ``source`` is the queue view or agent row a queue or agent entity is read from; its
    attributes and labels are read only when a rule needs them (an evaluation builds an
    entity for every agent of the floor).
    """

    scope: Scope
    source: Mapping[str, Any] | None = None
    members: Sequence[Mapping[str, Any]] = ()
    """Queue views: the queue itself, or the queues of a group."""
    windows: Mapping[str, Any] | None = None
    """Window label → figures (a queue view's windows or a group roll-up)."""
    agents: Mapping[str, Any] | None = None
    """Agents by state (:func:`streams.snapshot.agent_counts`)."""
    row: Mapping[str, Any] | None = None
    """An agent's board row."""
    target: float | None = None
    staffing: Mapping[str, Any] | None = None
    """The staffing block of a queue view, or of a group in the floor view's ``staffing``."""

    def attribute(self, key: str) -> tuple[str, ...]:
        """The values of a ``match`` attribute (``queues``, ``sites``, ``teams`` …)."""
        kind, name, source = self.scope.kind, self.scope.name, self.source
        if key == f"{kind}s":
            return (name,)
        if source is None:
            return ()
        if key == "queues" and kind == "agent":
            return _text_tuple(source.get("queues"))
        fields = _QUEUE_ATTRIBUTES if kind == "queue" else _AGENT_ATTRIBUTES
        for attribute, field in fields:
            if attribute == key:
                return _text_tuple(source.get(field))
        return ()

    @property
    def labels(self) -> tuple[tuple[str, str], ...]:
        """Sorted (key, text) attributes for routing and display: site, client, channel of
        a queue; name, team, site, client of an agent."""
        source = self.source
        if source is None:
            return ()
        keys = ("site", "client", "channel") if self.scope.kind == "queue" else _AGENT_LABELS
        return tuple(sorted((key, str(source[key])) for key in keys if source.get(key) is not None))


def _text_tuple(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(item) for item in value if item is not None)
    return (str(value),)


class FloorEntities:
    """The entities of one floor view, built per scope kind on first use."""

    def __init__(self, floor: Mapping[str, Any]) -> None:
        self.floor = floor
        self._cache: dict[str, list[Entity]] = {}

    def entities(self, kind: ScopeKind) -> list[Entity]:
        found = self._cache.get(kind)
        if found is None:
            found = self._cache[kind] = list(self._build(kind))
        return found

    def _build(self, kind: ScopeKind) -> Iterator[Entity]:
        floor = self.floor
        views: list[Mapping[str, Any]] = list(floor.get("queues") or ())
        groups: Mapping[str, Any] = floor.get("groups") or {}
        by_state: Mapping[str, Any] = floor.get("agents_by_state") or {}
        staffing: Mapping[str, Any] = floor.get("staffing") or {}
        if kind == "queue":
            for view in views:
                yield Entity(
                    Scope("queue", str(view["queue"])),
                    view,
                    members=(view,),
                    windows=view.get("windows"),
                    agents=view.get("agents"),
                    target=_number(view.get("target")),
                    staffing=view.get("staffing"),
                )
        elif kind in ("site", "client"):
            members: dict[str, list[Mapping[str, Any]]] = {}
            for view in views:
                if view.get(kind) is not None:
                    members.setdefault(str(view[kind]), []).append(view)
            rolled: Mapping[str, Any] = groups.get(kind) or {}
            # agents carry a site but no client: clients have no agent counts
            counted: Mapping[str, Any] = (by_state.get(kind) or {}) if kind == "site" else {}
            staffed: Mapping[str, Any] = staffing.get(kind) or {}
            for name in sorted(set(members) | set(rolled) | set(counted)):
                yield Entity(
                    Scope(kind, name),
                    members=members.get(name, ()),
                    windows=rolled.get(name),
                    agents=counted.get(name),
                    staffing=staffed.get(name),
                )
        elif kind == "team":
            for name, counts in sorted((by_state.get("team") or {}).items()):
                yield Entity(Scope("team", str(name)), agents=counts)
        elif kind == "agent":
            for row in floor.get("agents") or ():
                yield Entity(Scope("agent", str(row["agent_id"])), row, row=row)
        else:
            yield Entity(
                Scope("floor", FLOOR),
                members=views,
                windows=groups.get(FLOOR),
                agents=by_state.get(FLOOR),
                staffing=staffing.get(FLOOR),
            )


def _window(entity: Entity, window: str) -> Mapping[str, Any] | None:
    if entity.windows is not None:
        figures = entity.windows.get(window)
        if figures is not None:
            return figures  # type: ignore[no-any-return]
    members = [view for view in entity.members if window in view.get("windows", {})]
    if not members:
        return None
    if entity.scope.kind == "queue":
        return members[0]["windows"][window]  # type: ignore[no-any-return]
    return rollup(members, window)


def _sl_parts(entity: Entity, window: str, definition: str) -> Parts | None:
    """Σ (numerator, denominator) of ``definition`` over the member queues computing it."""
    total: Parts | None = None
    for view in entity.members:
        if definition not in view.get("definitions", ()):
            continue
        counts = view.get("windows", {}).get(window)
        if counts is None:
            continue
        num, den = service_level_parts(
            (definition,),
            answered=int(counts["answered"]),
            answered_within_threshold=int(counts["answered_within_threshold"]),
            abandoned=int(counts["abandoned"]),
            abandoned_within_threshold=int(counts["abandoned_within_threshold"]),
            flowed_out=int(counts["flowed_out"]),
            include_flowouts=bool(view.get("include_flowouts")),
        )[definition]
        total = (num, den) if total is None else (total[0] + num, total[1] + den)
    return total


def _projected(entity: Entity, definition: str) -> Parts | None:
    members = [
        view
        for view in entity.members
        if definition in view.get("definitions", ()) and INTERVAL in view.get("windows", {})
    ]
    if not members:
        return None
    if entity.scope.kind == "queue":
        return projected_parts(members[0]).get(definition)
    return group_projected_parts(members).get(definition)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def measure(
    entity: Entity,
    metric: str,
    now_ms: int,
    *,
    window: str | None = None,
    definition: str = SL_DEFINITIONS[0],
    reasons: tuple[str, ...] = (),
) -> float | None:
    """The value of ``metric`` for ``entity`` at ``now_ms``; None when there is no data."""
    if metric in ("service_level", "service_level_contacts"):
        assert window is not None
        parts = _sl_parts(entity, window, definition)
        if parts is None:
            return None
        return ratio_of(parts) if metric == "service_level" else float(parts[1])
    if metric in ("projected_service_level", "projected_contacts"):
        parts = _projected(entity, definition)
        if parts is None:
            return None
        return ratio_of(parts) if metric == "projected_service_level" else float(parts[1])
    if metric in ("waiting", "at_risk", "longest_wait_s"):
        return _live(entity, metric, now_ms)
    if metric.startswith("agents_"):
        counts = entity.agents
        return None if counts is None else _number(counts.get(metric[len("agents_") :]))
    if metric in _STAFFING:
        return _staffing(entity.staffing, _STAFFING[metric])
    if metric in _TIME_IN_STATE:
        return _time_in_state(entity.row, _TIME_IN_STATE[metric], reasons, now_ms)
    if metric == "occupancy":
        if entity.row is None or window is None:
            return None
        return _number((entity.row.get("occupancy") or {}).get(window))
    assert window is not None, metric
    figures = _window(entity, window)
    if figures is None:
        return None
    fieldname = "wait_answered_s_max" if metric == "answered_wait_max_s" else metric
    return _number(figures.get(fieldname))


def _staffing(block: Mapping[str, Any] | None, path: tuple[str, ...]) -> float | None:
    value: object = block
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return _number(value)


def _live(entity: Entity, metric: str, now_ms: int) -> float | None:
    if not entity.members:
        return None
    if metric == "longest_wait_s":
        queued = (_number(view.get("oldest_queued_ms")) for view in entity.members)
        oldest = [ms for ms in queued if ms is not None]
        if oldest:
            return max(0.0, (now_ms - min(oldest)) / 1000)
        # views without the queue time: the age they were built with
        return max(_number(view.get("longest_wait_s")) or 0.0 for view in entity.members)
    return float(sum(_number(view.get(metric)) or 0.0 for view in entity.members))


def _time_in_state(
    row: Mapping[str, Any] | None, state: str | None, reasons: tuple[str, ...], now_ms: int
) -> float | None:
    if row is None:
        return None
    if state is not None and row.get("state") != state:
        return 0.0
    if reasons and row.get("reason") not in reasons:
        return 0.0
    since = _number(row.get("since_ms"))
    if since is not None:
        return max(0.0, (now_ms - since) / 1000)
    return _number(row.get("time_in_state_s")) or 0.0


def matches(rule: AlertRule, entity: Entity) -> bool:
    for key, patterns in rule.match:
        values = entity.attribute(key)
        if not any(fnmatchcase(value, pattern) for value in values for pattern in patterns):
            return False
    return True


__all__ = ["Entity", "FloorEntities", "matches", "measure"]
