"""Projected end-of-interval service level: what the current interval is heading for.

The interval service level counts contacts when they *leave* the queue (DESIGN.md section 3),
so the contacts waiting now are not in it yet, however old they are. An interval can show
90 % while ten callers have been waiting for a minute: once they are answered, the interval
falls far below target. The projection puts them in now, so the alert can fire while there
is still time to move agents.

Definition. For one queue, service-level definition ``d`` with threshold ``T`` and risk
fraction ``r`` (``risk_fraction``, default 0.75), at the moment the queue view was built:

- ``num``, ``den`` — the numerator and denominator of ``d`` over the contacts that have
  already left the queue in the current interval (:func:`streams.service_level
  .service_level_parts` of the interval counts);
- ``W`` — the contacts waiting now (``waiting``);
- ``R`` — those of them at risk: age ≥ ``r × T`` (``at_risk``).

::

    projected(d) = (num + (W − R)) / (den + W)           None when den + W = 0

That is the service level the interval ends with **if no further contact arrives before it
ends and every contact waiting now is answered in this interval — the ones already at risk
too late, the others in time**. Every definition treats an answered contact alike, so the
same formula holds for all four. With ``r = 1`` a waiting contact counts as in time exactly
when its age is still < T; the default ``r = 0.75`` also counts as lost the contacts that
have less than a quarter of ``T`` left, which is what the at-risk tile already tells the
floor. It is a *committed* projection, not a forecast: the contacts still to arrive are
unknown here (a forecast-driven projection would add them with the Erlang C service level of
the staffed agents).

Groups (site, client, floor) add the queues' ``(num + W − R, den + W)`` parts, each queue
with its own threshold, exactly as :func:`streams.snapshot.rollup` weights service levels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from streams.service_level import Parts, Ratio, ratio_of, service_level_parts
from streams.snapshot import INTERVAL


def project(parts: Parts, waiting: int, at_risk: int) -> Parts:
    """The projected ``(numerator, denominator)`` of a service level (see the module).

    ``at_risk`` is clamped to ``[0, waiting]``: a view built a moment apart from its counts
    can never make the projection leave [0, 1].
    """
    waiting = max(0, waiting)
    lost = min(max(0, at_risk), waiting)
    numerator, denominator = parts
    return numerator + waiting - lost, denominator + waiting


def projected_parts(view: Mapping[str, Any]) -> dict[str, Parts]:
    """Projected ``(numerator, denominator)`` per definition of one queue view
    (:func:`streams.snapshot.queue_view`), from its current interval and live figures."""
    counts = view["windows"][INTERVAL]
    parts = service_level_parts(
        view["definitions"],
        answered=int(counts["answered"]),
        answered_within_threshold=int(counts["answered_within_threshold"]),
        abandoned=int(counts["abandoned"]),
        abandoned_within_threshold=int(counts["abandoned_within_threshold"]),
        flowed_out=int(counts["flowed_out"]),
        include_flowouts=bool(view["include_flowouts"]),
    )
    waiting = int(view.get("waiting") or 0)
    at_risk = int(view.get("at_risk") or 0)
    return {name: project(value, waiting, at_risk) for name, value in parts.items()}


def group_projected_parts(views: Iterable[Mapping[str, Any]]) -> dict[str, Parts]:
    """Projected parts of several queues added per definition (a site, a client, the floor)."""
    total: dict[str, Parts] = {}
    for view in views:
        for name, (num, den) in projected_parts(view).items():
            before = total.get(name, (0, 0))
            total[name] = (before[0] + num, before[1] + den)
    return total


def projected_service_levels(view: Mapping[str, Any]) -> dict[str, Ratio]:
    """The projected end-of-interval service level per definition of one queue view."""
    return {name: ratio_of(parts) for name, parts in projected_parts(view).items()}


__all__ = [
    "group_projected_parts",
    "project",
    "projected_parts",
    "projected_service_levels",
]
