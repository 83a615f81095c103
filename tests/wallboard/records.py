"""Snapshot and interval records as the workers publish them, built with the real core."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson

from streams.calendar import to_epoch_ms
from streams.events import Event
from streams.floor import Floor
from streams.wire import agent_key, interval_key, queue_key
from tests.factory import agent_state, at, contact

T0 = at("2024-05-01T09:00:00")
"""A Wednesday morning, UTC (the default site)."""
SEC = 1000
MIN = 60_000


def folded(events: Iterable[Event]) -> Floor:
    floor = Floor()
    for event in sorted(events, key=lambda e: e.ts_ms):
        floor.apply(event)
    return floor


def snapshot_records(floor: Floor, now_ms: int, published_ms: int) -> dict[str, dict[str, Any]]:
    """Key → value of every queue view and agent row, as a worker publishes them at now_ms.

    Floor.snapshot builds them through floor_view, which adds the roll-up keys ``agents``
    (to views) and ``queue`` (to rows): they are not part of the published records.
    """
    snapshot = copy.deepcopy(floor.snapshot(now_ms))
    out: dict[str, dict[str, Any]] = {}
    for view in snapshot["queues"]:
        view.pop("agents")
        out[queue_key(view["queue"])] = {**view, "published_ms": published_ms}
    for row in snapshot["agents"]:
        row.pop("queue")
        out[agent_key(row["agent_id"])] = {**row, "published_ms": published_ms}
    return out


def heartbeat(worker: str, published_ms: int, partitions: Iterable[int] = (0,)) -> dict[str, Any]:
    return {"worker": worker, "published_ms": published_ms, "partitions": list(partitions)}


def interval_records(floor: Floor) -> dict[str, dict[str, Any]]:
    """Key → interval record of every interval with a contribution."""
    out = {}
    for record in floor.records():
        start = to_epoch_ms(datetime.fromisoformat(record["interval_start"]))
        out[interval_key(record["queue"], start)] = record
    return out


def encode(value: Any) -> bytes:
    return orjson.dumps(value)


def morning(start_ms: int = T0) -> list[Event]:
    """Two queues and three agents over the first half hour after ``start_ms``.

    billing: 4 answered (waits 5, 10, 30, 40 s), 1 abandoned after 60 s, 1 still waiting;
    sales: 2 answered (waits 2, 3 s).
    """
    events: list[Event] = []
    waits = [5, 10, 30, 40]
    for i, wait in enumerate(waits):
        queued = start_ms + i * 2 * MIN
        events += contact(
            f"b{i}",
            "billing",
            queued,
            answered_ms=queued + wait * SEC,
            ended_ms=queued + wait * SEC + 3 * MIN,
            wrapped_ms=queued + wait * SEC + 4 * MIN,
            agent="ann",
        )
    events += contact("b-ab", "billing", start_ms + 10 * MIN, abandoned_ms=start_ms + 11 * MIN)
    events += contact("b-wait", "billing", start_ms + 29 * MIN)
    for i, wait in enumerate([2, 3]):
        queued = start_ms + 5 * MIN + i * MIN
        events += contact(
            f"s{i}",
            "sales",
            queued,
            answered_ms=queued + wait * SEC,
            ended_ms=queued + wait * SEC + MIN,
            wrapped_ms=queued + wait * SEC + 2 * MIN,
            agent="bob",
        )
    events += [
        agent_state("ann", start_ms, "available", name="Ann Lee", team="red", queues=["billing"]),
        agent_state("bob", start_ms, "available", name="Bob Ng", team="blue", queues=["sales"]),
        agent_state(
            "cat", start_ms, "available", name="Cat Roy", team="red", queues=["billing", "sales"]
        ),
        agent_state("cat", start_ms + 20 * MIN, "not_ready", reason="break"),
    ]
    return events
