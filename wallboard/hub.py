"""The gateway's pure hub: the latest record of every key, and the floor state built from them.

The gateway reads three topics from the beginning (DESIGN.md section 1):

- ``snapshots``: key ``queue:<name>`` → queue view, ``agent:<id>`` → agent row,
  ``worker:<id>`` → worker heartbeat (:mod:`streams.wire`);
- ``intervals``: key ``<queue>|<interval start ms>`` → interval record;
- ``alerts``: key alert id → alert.

The broker never compacts, so the hub keeps only the latest value per key; a ``None`` value
(a tombstone) deletes the key. :meth:`Hub.apply` only stores the raw bytes, and values are
decoded when the state is next read: replaying hours of history at start-up then costs one
dictionary store per message, not one JSON parse.

No I/O and no clock: every read that depends on time takes ``now_ms``.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, get_args

import orjson

from streams.calendar import to_epoch_ms
from streams.forecast import Forecast
from streams.snapshot import agent_counts, floor_view, rollup
from streams.wire import split_snapshot_key

log = logging.getLogger(__name__)

Topic = Literal["snapshots", "intervals", "alerts"]
"""Which output topic a message came from (named as the fields of ``config.topics``)."""
TOPICS: Final[tuple[Topic, ...]] = get_args(Topic)
SNAPSHOTS: Final = "snapshots"
INTERVALS: Final = "intervals"
ALERTS: Final = "alerts"

JSON = dict[str, Any]


@dataclass(frozen=True)
class Freshness:
    """How recent the newest snapshot or heartbeat is, and whether that is too old."""

    last_update_ms: int | None
    """Newest ``published_ms`` among the snapshots and heartbeats held; None before any."""
    stale: bool
    reason: str | None
    """Why the state is stale (for ``/healthz`` and logs); None when fresh."""


@dataclass(frozen=True)
class _Interval:
    queue: str
    start_ms: int
    end_ms: int
    record: JSON


class Hub:
    """Latest values of the output topics and the floor state derived from them."""

    def __init__(self, stale_s: float = 5.0, forecast: Forecast | None = None) -> None:
        self.stale_ms = round(stale_s * 1000)
        self.forecast = forecast
        """Compared with each queue's current interval in the floor state (``forecasts:``)."""
        self.version = 0
        """Increases on every applied message: a reader that saw this version has seen all."""
        self.received: Counter[str] = Counter()
        """Messages applied, by topic."""
        self.rejected: Counter[tuple[str, str]] = Counter()
        """Messages that could not be used, by (topic, reason). The key's previous value stays."""
        self._pending: dict[Topic, dict[str, bytes | None]] = {topic: {} for topic in TOPICS}
        self._queues: dict[str, JSON] = {}
        self._agents: dict[str, JSON] = {}
        self._workers: dict[str, JSON] = {}
        self._intervals: dict[str, _Interval] = {}
        self._alerts: dict[str, JSON] = {}
        self._last_update_ms: int | None = None
        self._floor: tuple[int, JSON] | None = None
        """The floor view and the version it was built at."""

    # -- input -------------------------------------------------------------------------------

    def apply(self, topic: Topic, key: str | None, value: bytes | None) -> None:
        """Take one message: the latest value for ``key`` (``None``: delete the key).

        Values are decoded at the next read; one that cannot be used then is counted in
        :attr:`rejected` and the key keeps the value it had at the previous read.
        """
        if topic not in self._pending:
            raise ValueError(f"unknown topic kind {topic!r}; expected one of {TOPICS}")
        self.received[topic] += 1
        if key is None:
            self._reject(topic, "no_key", "<none>")
            return
        self._pending[topic][key] = value
        self.version += 1

    # -- reads -------------------------------------------------------------------------------

    def state(self, now_ms: int) -> JSON:
        """The whole floor at ``now_ms``: :func:`streams.snapshot.floor_view` of the queue views
        and agent rows held (queues by name, agents by id), plus ``alerts``, ``workers`` (each
        heartbeat with its own ``stale`` flag), freshness and the hub ``version``.

        The result shares nested values with the hub: read it, do not change it.
        """
        fresh = self.freshness(now_ms)
        floor = self._floor_view(now_ms)
        return {
            **floor,
            "now_ms": now_ms,
            "version": self.version,
            "last_update_ms": fresh.last_update_ms,
            "stale": fresh.stale,
            "stale_reason": fresh.reason,
            "stale_s": self.stale_ms / 1000,
            "workers": [
                {**beat, "stale": self._too_old(beat.get("published_ms"), now_ms)}
                for _, beat in sorted(self._workers.items())
            ],
            "alerts": self.alerts(),
        }

    def message(self, now_ms: int) -> bytes:
        """The websocket message carrying the whole state: ``{"type": "state", "state": …}``."""
        return orjson.dumps({"type": "state", "state": self.state(now_ms)})

    def freshness(self, now_ms: int) -> Freshness:
        """Stale when no snapshot or heartbeat was published in the last ``stale_s``."""
        self._fold()
        last = self._last_update_ms
        if last is None:
            return Freshness(None, True, "no snapshot or worker heartbeat received yet")
        if self._too_old(last, now_ms):
            age_s = (now_ms - last) / 1000
            reason = (
                f"no snapshot or worker heartbeat for {age_s:.1f} s "
                f"(stale after {self.stale_ms / 1000:g} s)"
            )
            return Freshness(last, True, reason)
        return Freshness(last, False, None)

    def intervals(
        self, queue: str | None = None, from_ms: int | None = None, to_ms: int | None = None
    ) -> list[JSON]:
        """Interval records overlapping ``[from_ms, to_ms)`` (open-ended where None), of one
        queue or all, sorted by queue and interval start."""
        self._fold()
        found = [
            item
            for item in self._intervals.values()
            if (queue is None or item.queue == queue)
            and (from_ms is None or item.end_ms > from_ms)
            and (to_ms is None or item.start_ms < to_ms)
        ]
        found.sort(key=lambda item: (item.queue, item.start_ms))
        return [item.record for item in found]

    def alerts(self) -> list[JSON]:
        """Every alert held, by alert id (their lifecycle is the alert rules' business)."""
        self._fold()
        return [alert for _, alert in sorted(self._alerts.items())]

    # -- folding pending messages ------------------------------------------------------------

    def _fold(self) -> None:
        for topic, pending in self._pending.items():
            if not pending:
                continue
            self._pending[topic] = {}
            for key, raw in pending.items():
                if topic == SNAPSHOTS:
                    self._fold_snapshot(key, raw)
                elif topic == INTERVALS:
                    self._fold_interval(key, raw)
                else:
                    self._fold_alert(key, raw)

    def _fold_snapshot(self, key: str, raw: bytes | None) -> None:
        split = split_snapshot_key(key)
        if split is None:
            self._reject(SNAPSHOTS, "unknown_key", key)
            return
        kind, name = split
        table = {"queue": self._queues, "agent": self._agents, "worker": self._workers}[kind]
        if raw is None:
            table.pop(name, None)
            return
        value = self._decode(SNAPSHOTS, key, raw)
        if value is None:
            return
        problem = _check_snapshot(kind, value)
        if problem is not None:
            self._reject(SNAPSHOTS, f"bad_{kind}", key, problem)
            return
        table[name] = value
        published = _ms(value.get("published_ms"))
        if published is not None and (
            self._last_update_ms is None or published > self._last_update_ms
        ):
            self._last_update_ms = published

    def _fold_interval(self, key: str, raw: bytes | None) -> None:
        if raw is None:
            self._intervals.pop(key, None)
            return
        record = self._decode(INTERVALS, key, raw)
        if record is None:
            return
        try:
            item = _Interval(
                queue=str(record["queue"]),
                start_ms=_epoch_ms(record["interval_start"]),
                end_ms=_epoch_ms(record["interval_end"]),
                record=record,
            )
        except (KeyError, TypeError, ValueError) as exc:
            self._reject(INTERVALS, "bad_interval", key, repr(exc))
            return
        self._intervals[key] = item

    def _fold_alert(self, key: str, raw: bytes | None) -> None:
        if raw is None:
            self._alerts.pop(key, None)
            return
        alert = self._decode(ALERTS, key, raw)
        if alert is not None:
            self._alerts[key] = alert

    def _decode(self, topic: Topic, key: str, raw: bytes) -> JSON | None:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self._reject(topic, "bad_json", key)
            return None
        if not isinstance(value, dict):
            self._reject(topic, "not_an_object", key)
            return None
        return value

    def _reject(self, topic: Topic, reason: str, key: str, detail: str = "") -> None:
        first = (topic, reason) not in self.rejected
        self.rejected[topic, reason] += 1
        # the first of a kind is worth a warning; a producer repeating it is not worth a flood
        log.log(
            logging.WARNING if first else logging.DEBUG,
            "ignored %s message %r: %s %s",
            topic,
            key,
            reason,
            detail,
        )

    # -- derived state -----------------------------------------------------------------------

    def _floor_view(self, now_ms: int) -> JSON:
        self._fold()
        if self._floor is not None and self._floor[0] == self.version:
            return self._floor[1]
        # floor_view adds keys to the rows it is given: hand it shallow copies
        views = [dict(self._queues[name]) for name in sorted(self._queues)]
        rows = [dict(self._agents[agent_id]) for agent_id in sorted(self._agents)]
        floor = floor_view(_common_windows(views), rows, now_ms, self.forecast)
        self._floor = (self.version, floor)
        return floor

    def _too_old(self, published_ms: object, now_ms: int) -> bool:
        published = _ms(published_ms)
        return published is None or now_ms - published > self.stale_ms


def _ms(value: object) -> int | None:
    """A time in epoch ms from JSON (a number, not a boolean); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _check_snapshot(kind: str, value: Mapping[str, Any]) -> str | None:
    """Why ``value`` cannot be used as a ``kind`` snapshot; None when it can.

    Queue views and agent rows are checked by folding them alone exactly as the roll-ups
    will, so one malformed message cannot break the state of the whole floor.
    """
    unsafe = _unsafe_number(value)
    if unsafe is not None:
        return f"expected finite numbers within ±2^53, got {unsafe!r}"
    try:
        if kind == "queue":
            if not isinstance(value.get("queue"), str) or not isinstance(value["windows"], dict):
                return "expected a queue view with 'queue' and 'windows'"
            for field in ("site", "client", "channel"):
                if not isinstance(value.get(field), str | None):
                    return f"expected a name or null in {field!r}"
            for window in value["windows"]:
                rollup([value], window)
            if not all(isinstance(agent, str) for agent in value["handling_agents"]):
                return "expected agent ids in 'handling_agents'"
        elif kind == "agent":
            if not isinstance(value.get("agent_id"), str):
                return "expected an agent row with 'agent_id'"
            queues = value.get("queues")
            if queues is not None and not (
                isinstance(queues, list) and all(isinstance(q, str) for q in queues)
            ):
                return "expected a list of queue names"
            for field in ("site", "team", "client", "name", "state", "reason"):
                if not isinstance(value.get(field), str | None):
                    return f"expected a name or null in {field!r}"
            agent_counts([value])
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        return repr(exc)
    return None


_SAFE_INTEGER = 2**53


def _unsafe_number(value: object, depth: int = 0) -> object | None:
    """A number no worker produces (not finite, or beyond what a browser's JSON keeps exact),
    anywhere in ``value``; None when there is none. Roll-ups add such numbers up and the
    page could not show them, so the whole snapshot is refused."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if isinstance(value, int):
        return value if abs(value) > _SAFE_INTEGER else None
    if isinstance(value, float):
        return value if not math.isfinite(value) or abs(value) > _SAFE_INTEGER else None
    if depth > 32:
        return "nested deeper than 32 levels"
    if isinstance(value, dict):
        items: Iterable[object] = value.values()
    elif isinstance(value, list):
        items = value
    else:
        return None
    for item in items:
        found = _unsafe_number(item, depth + 1)
        if found is not None:
            return found
    return None


def _common_windows(views: list[JSON]) -> list[JSON]:
    """The views, restricted to the windows all of them carry.

    floor_view rolls up the windows of the first view; workers running different
    configurations (during a rolling upgrade, say) must not make a roll-up miss a window.
    """
    if not views:
        return views
    labels = list(views[0]["windows"])
    common = [w for w in labels if all(w in view["windows"] for view in views)]
    if all(len(view["windows"]) == len(common) for view in views):
        return views
    for view in views:
        view["windows"] = {w: view["windows"][w] for w in common}
    return views


def _epoch_ms(text: object) -> int:
    """Epoch ms of an ISO-8601 time with offset."""
    if not isinstance(text, str):
        raise TypeError(f"expected an ISO-8601 string, got {text!r}")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"expected an offset in {text!r}")
    return to_epoch_ms(moment)


__all__ = ["ALERTS", "INTERVALS", "SNAPSHOTS", "TOPICS", "Freshness", "Hub", "Topic"]
