"""Snapshots: what the wallboard, the alerts and Prometheus read, built from core state.

A *queue view* is one queue's live figures and its metrics per window (current interval,
each rolling window, day-to-date). Views carry their additive counts, so group roll-ups (site,
client, floor) are weighted exactly — sums of counts, never averages of ratios — and can be
rebuilt by anyone holding the views (the gateway does, from the snapshot topic).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from streams.agent_states import (
    AFTER_CONTACT_WORK,
    AVAILABLE,
    LOGGED_OUT,
    NOT_READY,
    ON_CONTACT,
    UNSPECIFIED_REASON,
)
from streams.forecast import Forecast
from streams.queues import QueueState
from streams.service_level import ratio_of, service_level_parts
from streams.staffing import floor_staffing
from streams.stats import QueueStats, metrics

INTERVAL = "interval"
DAY = "day"


ROLLING_PREFIX = "rolling_"


def rolling_label(minutes: int) -> str:
    return f"{ROLLING_PREFIX}{minutes}"


def staffing_window(labels: Iterable[str]) -> str | None:
    """The window live staffing is measured over: the shortest rolling window (``rolling_30``
    by default, the one the built-in alert rules judge), None without a rolling window."""
    rolling = []
    for label in labels:
        suffix = label[len(ROLLING_PREFIX) :] if label.startswith(ROLLING_PREFIX) else ""
        if suffix.isdigit():
            rolling.append((int(suffix), label))
    return min(rolling)[1] if rolling else None


def window_bounds(
    q: QueueState, now_ms: int, rolling_windows_min: Iterable[int]
) -> list[tuple[str, int, int]]:
    """(label, start, end) of every window of a queue at ``now_ms``."""
    start = q.calendar.interval_start(now_ms, q.settings.interval_min)
    out = [(INTERVAL, start, q.interval_end(start))]
    minute = now_ms // 60_000
    for minutes in rolling_windows_min:
        out.append((rolling_label(minutes), (minute - minutes) * 60_000, (minute + 1) * 60_000))
    day = q.calendar.day_start(now_ms)
    out.append((DAY, day, q.calendar.day_end(day)))
    return out


def queue_view(q: QueueState, now_ms: int, rolling_windows_min: Iterable[int]) -> dict[str, Any]:
    """One queue's board tile: settings, live figures and metrics per window."""
    settings = q.settings
    windows: dict[str, Any] = {}
    for label, start, end in window_bounds(q, now_ms, rolling_windows_min):
        if label == INTERVAL:
            stats = q.current_interval(now_ms)[1]
        elif label == DAY:
            stats = q.day(now_ms)
        else:
            stats = q.window(start, end)
        window = metrics(stats, settings.definitions, settings.include_flowouts)
        window["start_ms"] = start
        window["end_ms"] = end
        windows[label] = window
    handling = q.handling()
    return {
        "queue": settings.name,
        "site": settings.site,
        "client": settings.client,
        "channel": settings.channel,
        "threshold_s": settings.threshold_s,
        "short_abandon_s": settings.short_abandon_s,
        "target": settings.target,
        "definitions": list(settings.definitions),
        "include_flowouts": settings.include_flowouts,
        "watermark_ms": q.watermark_ms,
        **q.live(now_ms),
        "handling": len(handling),
        "handling_agents": handling,
        "windows": windows,
    }


def rollup(views: Iterable[Mapping[str, Any]], window: str) -> dict[str, Any]:
    """Exact group metrics of one window over several queue views.

    Counts and sums add; each service-level definition is Σ numerators / Σ denominators of
    the queues that compute it (each with its own threshold and flow-out rule).
    """
    total = QueueStats()
    parts: dict[str, tuple[int, int]] = {}
    waiting = at_risk = 0
    oldest: int | None = None
    for view in views:
        counts = view["windows"][window]
        stats = QueueStats.from_counts(counts)
        total.add(stats)
        for name, (num, den) in service_level_parts(
            view["definitions"],
            answered=stats.answered,
            answered_within_threshold=stats.answered_within_threshold,
            abandoned=stats.abandoned,
            abandoned_within_threshold=stats.abandoned_within_threshold,
            flowed_out=stats.flowed_out,
            include_flowouts=view["include_flowouts"],
        ).items():
            before = parts.get(name, (0, 0))
            parts[name] = (before[0] + num, before[1] + den)
        waiting += view["waiting"]
        at_risk += view["at_risk"]
        queued = view.get("oldest_queued_ms")
        if queued is not None and (oldest is None or queued < oldest):
            oldest = queued
    out = metrics(total, (), False)
    out["service_level"] = {name: ratio_of(value) for name, value in parts.items()}
    out["waiting"] = waiting
    out["at_risk"] = at_risk
    out["oldest_queued_ms"] = oldest
    return out


def group_views(views: Iterable[Mapping[str, Any]], key: str) -> dict[str, list[Mapping[str, Any]]]:
    """Queue views grouped by ``key`` (``site`` or ``client``); queues without it are left out."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for view in views:
        value = view.get(key)
        if value is not None:
            groups.setdefault(value, []).append(view)
    return groups


def agent_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Agents by state: logged in, available, on contact, ACW, not ready (by reason), staffed."""
    counts: dict[str, Any] = {
        "logged_in": 0,
        "available": 0,
        "on_contact": 0,
        "after_contact_work": 0,
        "not_ready": 0,
        "staffed": 0,
        "not_ready_by_reason": {},
    }
    for row in rows:
        state = row.get("state")
        if state is None or state == LOGGED_OUT:
            continue
        counts["logged_in"] += 1
        if state == NOT_READY:
            counts["not_ready"] += 1
            reasons = counts["not_ready_by_reason"]
            # rows come from other processes: a missing or odd reason is still a count
            reason = row.get("reason")
            if not isinstance(reason, str) or not reason:
                reason = UNSPECIFIED_REASON
            reasons[reason] = reasons.get(reason, 0) + 1
            continue
        counts["staffed"] += 1
        if state == AVAILABLE:
            counts["available"] += 1
        elif state == ON_CONTACT:
            counts["on_contact"] += 1
        elif state == AFTER_CONTACT_WORK:
            counts["after_contact_work"] += 1
    return counts


def floor_view(
    queue_views: list[dict[str, Any]],
    agent_rows: list[dict[str, Any]],
    now_ms: int,
    forecast: Forecast | None = None,
) -> dict[str, Any]:
    """The whole floor: queues (with the agents serving each and their live staffing),
    agents, group roll-ups and group staffing (:mod:`streams.staffing`); with a ``forecast``,
    each queue that has one for its current interval is compared with it."""
    by_queue: dict[str, list[dict[str, Any]]] = {}
    current_queue: dict[str, str] = {}
    for view in queue_views:
        for agent_id in view["handling_agents"]:
            current_queue[agent_id] = view["queue"]
    for row in agent_rows:
        row["queue"] = current_queue.get(row["agent_id"])
        for name in row.get("queues") or ():
            by_queue.setdefault(name, []).append(row)
    for view in queue_views:
        view["agents"] = agent_counts(by_queue.get(view["queue"], ()))
    windows = list(queue_views[0]["windows"]) if queue_views else [INTERVAL, DAY]
    groups: dict[str, Any] = {
        "floor": {w: rollup(queue_views, w) for w in windows},
    }
    for key in ("site", "client"):
        groups[key] = {
            name: {w: rollup(members, w) for w in windows}
            for name, members in sorted(group_views(queue_views, key).items())
        }
    agent_groups: dict[str, Any] = {"floor": agent_counts(agent_rows)}
    for key in ("site", "team"):
        members: dict[str, list[dict[str, Any]]] = {}
        for row in agent_rows:
            if row.get(key) is not None:
                members.setdefault(row[key], []).append(row)
        agent_groups[key] = {name: agent_counts(rows) for name, rows in sorted(members.items())}
    staffing = floor_staffing(
        queue_views,
        agent_rows,
        now_ms,
        window=staffing_window(windows),
        interval_window=INTERVAL,
        forecast=forecast,
    )
    return {
        "now_ms": now_ms,
        "queues": queue_views,
        "agents": agent_rows,
        "groups": groups,
        "agents_by_state": agent_groups,
        "staffing": staffing,
    }
