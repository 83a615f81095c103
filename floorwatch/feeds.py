"""Event feeds: simulated traffic and file replays, paced and produced to Kafka.

A feed is a sequence of ``(encoded event, decoded event)`` pairs in event-time order. It is
paced by :class:`Pace`: at ``1x`` an event is produced when as much wall time has passed
since the feed started as event time has since its first event, at ``Nx`` N times sooner,
and at ``max`` at once. The simulator additionally never produces an event before the
wall clock reaches its event time, because workers reject events from the future.

Both feeds stop cleanly on SIGINT / SIGTERM: what has been queued is delivered first.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from config.settings import TopicSettings
from floorwatch.formats import Feed
from floorwatch.kafka import EventProducer, encode, ensure_topics
from streams.events import try_parse_ts
from streams.simulation import Scenario, simulate

log = logging.getLogger(__name__)

_FLUSH_EVERY = 20_000
"""At full speed, wait for deliveries this often: bounds memory, and lets signals in."""
_SPEED = re.compile(r"(?P<factor>\d+(\.\d*)?|\.\d+)x")


def parse_speed(text: str) -> float | None:
    """``"max"`` → None (as fast as possible); ``"1x"``, ``"10x"``, ``"0.5x"`` → the factor."""
    if text == "max":
        return None
    match = _SPEED.fullmatch(text)
    factor = float(match["factor"]) if match else 0.0
    if not factor > 0 or math.isinf(factor):
        raise ValueError(f"expected max, 1x or another factor such as 10x, got {text!r}")
    return factor


@dataclass
class Pace:
    """When each event of a feed is due, in wall-clock epoch ms.

    The first call anchors the pace: its ``now_ms`` is the feed's start, and its event time
    the origin (unless ``origin_ts_ms`` is given). An event ``d`` ms of event time after the
    origin is due ``d / speed`` ms after the start. ``speed=None`` makes everything due at
    once.
    """

    speed: float | None
    origin_ts_ms: int | None = None
    wall_start_ms: float | None = None

    def due_ms(self, ts_ms: int, now_ms: float) -> float:
        if self.speed is None:
            return -math.inf
        if self.origin_ts_ms is None:
            self.origin_ts_ms = ts_ms
        if self.wall_start_ms is None:
            self.wall_start_ms = now_ms
        return self.wall_start_ms + (ts_ms - self.origin_ts_ms) / self.speed


@dataclass(frozen=True)
class FeedStats:
    """What a feed produced: events delivered and the wall seconds it took."""

    events: int
    seconds: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def summary(self, what: str) -> str:
        return (
            f"{what}: {self.events} events in {self.seconds:.2f} s "
            f"({self.events_per_s:,.0f} events/s)"
        )


async def simulate_to(
    broker: str,
    topics: TopicSettings,
    scenario: Scenario,
    *,
    seed: int,
    start_ms: int,
    end_ms: int,
    speed: float | None,
) -> FeedStats:
    """Produce the scenario's events in ``[start_ms, end_ms)``, never ahead of the clock."""
    pace = Pace(speed, origin_ts_ms=start_ms)

    def due_ms(event: Mapping[str, Any] | None, now_ms: float) -> float:
        assert event is not None  # the simulator only makes valid events
        ts_ms: int = event["ts"]
        return max(pace.due_ms(ts_ms, now_ms), ts_ms)

    events = (
        (encode(event), event)
        for event in simulate(scenario, seed=seed, start_ms=start_ms, end_ms=end_ms)
    )
    return await _produce(broker, topics, events, due_ms)


async def replay_to(
    broker: str, topics: TopicSettings, feed: Feed, *, speed: float | None
) -> FeedStats:
    """Produce every event of ``feed``, paced by event time relative to its first event.

    Events without a readable time are produced right after the one before them.
    """
    pace = Pace(speed)

    def due_ms(event: Mapping[str, Any] | None, now_ms: float) -> float | None:
        ts_ms = try_parse_ts(event.get("ts")) if event is not None else None
        return pace.due_ms(ts_ms, now_ms) if isinstance(ts_ms, int) else None

    return await _produce(broker, topics, feed, due_ms)


async def _produce(
    broker: str,
    topics: TopicSettings,
    feed: Feed,
    due_ms: Callable[[Mapping[str, Any] | None, float], float | None],
) -> FeedStats:
    """Produce ``feed``, each event when ``due_ms(event, now_ms)`` says (None: at once), until
    it ends or a signal stops it. The pace starts with the first event, once connected."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    started = time.monotonic()
    try:
        await ensure_topics(broker, topics)
        async with EventProducer(broker, topics) as producer:
            queued = 0
            for value, event in feed:
                due = due_ms(event, _wall_ms())
                if due is not None and due > _wall_ms():
                    # deliver what is due before waiting for the next one
                    await producer.flush()
                    queued = 0
                    if await _stopped(stop, (due - _wall_ms()) / 1000):
                        break
                if stop.is_set():
                    break
                await producer.send(value, event)
                queued += 1
                if queued >= _FLUSH_EVERY:
                    await producer.flush()
                    queued = 0
                    await asyncio.sleep(0)  # let a pending signal handler run
            await producer.flush()
            return FeedStats(producer.sent, time.monotonic() - started)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def _stopped(stop: asyncio.Event, wait_s: float) -> bool:
    """Wait ``wait_s`` seconds; True at once if ``stop`` is set before then."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, wait_s))
    except TimeoutError:
        return False
    return True


def _wall_ms() -> float:
    return time.time() * 1000
