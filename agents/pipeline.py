"""What the agents do with a batch of events; the only code between Faust and the core.

Per batch of ``acd-events`` messages (any mix of partitions):

1. parse and validate each message, check it is keyed as DESIGN.md says (queue / agent
   id), and fold it into the :class:`~streams.partition.PartitionState` of its partition;
   rejects go to ``dead-letters`` with the reason;
2. publish the interval records that changed to ``floor-intervals`` and wait until the
   broker has them (a record handed out as final is never sent again, so it must be out
   before the state that says so);
3. write the state changes to the ``floor-state`` table: the local mirror and the changelog
   partition of the source partition, in the order of
   :meth:`~streams.partition.PartitionState.changes`.

Faust acknowledges the batch's messages after this returns and commits their offsets only
after the producer has flushed, so the changelog always holds at least what the committed
offsets account for; anything replayed after a crash is recognised by the legs' facts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import faust
import orjson

from config.settings import FloorwatchConfig
from streams.calendar import to_epoch_ms
from streams.events import Event, Rejection, parse_event
from streams.partition import PartitionState, event_owner
from streams.queues import DUPLICATE
from streams.wire import agent_key, interval_key, queue_key, worker_key

log = logging.getLogger(__name__)

MISROUTED = "misrouted"
"""Rejection reason of an event whose message key is not its queue / agent id."""
REFRESH_MS = 5_000
"""An unchanged snapshot is re-sent this often (so a new gateway never waits long)."""
HEARTBEAT_MS = 1_000
VOLATILE_QUEUE_FIELDS = ("longest_wait_s",)
VOLATILE_AGENT_FIELDS = ("time_in_state_s", "occupancy")
"""Fields that change with the clock alone (the page ticks them itself)."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class _StateMirror:
    """The ``floor-state`` table's local store, used as a plain dict of bytes per partition.

    Faust's in-memory store keeps the partition of keys it recovered from the changelog in
    ``_key_partition``; keys written by this worker are recorded there too, so a partition
    that comes back after a rebalance is rebuilt from exactly its own keys.
    """

    def __init__(self, table: faust.Table) -> None:
        self.table = table

    @property
    def _store(self) -> Any:
        return self.table.data

    def write(self, partition: int, key: str, value: Any) -> None:
        store = self._store
        raw_key = key.encode()
        raw_value = None if value is None else orjson.dumps(value)
        if raw_value is None:
            store.data.pop(raw_key, None)
            store._key_partition.pop(raw_key, None)
        else:
            store.data[raw_key] = raw_value
            store._key_partition[raw_key] = partition
        self.table.send_changelog(partition, raw_key, raw_value)

    def records(self, partition: int) -> list[tuple[str, Any]]:
        store = self._store
        owner = store._key_partition
        return [
            (key.decode(), orjson.loads(value))
            for key, value in store.data.items()
            if owner.get(key) == partition and value is not None
        ]


class Pipeline:
    """The worker's partition states and everything it publishes."""

    def __init__(
        self,
        config: FloorwatchConfig,
        *,
        table: faust.Table,
        worker_id: str,
        dead_letters: faust.TopicT,
        snapshots: faust.TopicT,
        intervals: faust.TopicT,
        alerts: faust.TopicT,
    ) -> None:
        self.config = config
        self.settings = config.core
        self.processing = config.core.processing
        self.worker_id = worker_id
        self.mirror = _StateMirror(table)
        self.dead_letters = dead_letters
        self.snapshots = snapshots
        self.intervals = intervals
        self.alerts = alerts
        self.states: dict[int, PartitionState] = {}
        self.consumed: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.duplicates = 0
        self._sent: dict[str, tuple[bytes, int]] = {}
        """Snapshot key → (fingerprint of what was sent, when)."""
        self._heartbeat_due_ms = 0
        self.on_ready: list[Callable[[], None]] = []
        """Called once, after the first table recovery (the worker is consuming)."""

    def state(self, partition: int) -> PartitionState:
        state = self.states.get(partition)
        if state is None:
            state = self.states[partition] = PartitionState(self.settings)
        return state

    # -- folding ------------------------------------------------------------------------------

    def _parse(self, message: Any, now: int) -> Event | Rejection:
        return parse_event(
            message.value,
            max_bytes=self.processing.max_event_bytes,
            now_ms=now,
            future_tolerance_ms=self.processing.future_tolerance_s * 1000,
        )

    async def fold_batch(self, events: Sequence[faust.EventT[bytes]]) -> None:
        now = now_ms()
        touched: set[int] = set()
        for event in events:
            message = event.message
            parsed = self._parse(message, now)
            if isinstance(parsed, Rejection):
                await self._dead_letter(message, parsed)
                continue
            owner = event_owner(parsed)
            key = message.key.decode(errors="replace") if message.key is not None else None
            if owner is None or key != owner:
                what = "queue" if parsed.type.startswith("contact.") else "agent id"
                await self._dead_letter(
                    message,
                    Rejection(
                        MISROUTED,
                        f"message key {key!r} is not the event's {what} {owner!r}: "
                        f"{parsed.type} events must be keyed by {what}",
                        parsed.event_id,
                        parsed.type,
                    ),
                )
                continue
            partition = message.partition
            outcome = self.state(partition).apply(parsed)
            touched.add(partition)
            if isinstance(outcome, Rejection):
                await self._dead_letter(message, outcome)
            elif outcome is DUPLICATE:
                self.duplicates += 1
            else:
                self.consumed[parsed.type] += 1
        await self._persist(touched)

    async def check_batch(self, events: Sequence[faust.EventT[bytes]]) -> None:
        """CRM events: validated and counted (their tables come with the CRM KPIs)."""
        now = now_ms()
        for event in events:
            parsed = self._parse(event.message, now)
            if isinstance(parsed, Rejection):
                await self._dead_letter(event.message, parsed)
            else:
                self.consumed[parsed.type] += 1

    async def _persist(self, partitions: Iterable[int]) -> None:
        partitions = sorted(partitions)
        await self._publish_records(partitions)
        for partition in partitions:
            for key, value in self.states[partition].changes():
                self.mirror.write(partition, key, value)

    async def _publish_records(self, partitions: Iterable[int]) -> None:
        pending = []
        for partition in partitions:
            for record in self.states[partition].drain_records():
                start_ms = to_epoch_ms(datetime.fromisoformat(record["interval_start"]))
                pending.append(
                    await self.intervals.send(
                        key=interval_key(record["queue"], start_ms).encode(),
                        value=orjson.dumps(record),
                    )
                )
        if pending:
            await asyncio.gather(*pending)

    async def _dead_letter(self, message: Any, rejection: Rejection) -> None:
        self.rejected[rejection.reason] += 1
        headers = [
            ("floorwatch.reason", rejection.reason.encode()),
            ("floorwatch.message", rejection.message.encode()),
            ("floorwatch.topic", str(message.topic).encode()),
            ("floorwatch.partition", str(message.partition).encode()),
            ("floorwatch.offset", str(message.offset).encode()),
        ]
        await self.dead_letters.send(key=message.key, value=message.value, headers=headers)

    # -- rebalancing --------------------------------------------------------------------------

    async def restore(self, active: set[int]) -> None:
        """After table recovery: build the state of every newly assigned partition."""
        restored = []
        for partition in sorted(active - self.states.keys()):
            state = self.states[partition] = PartitionState(self.settings)
            state.restore(self.mirror.records(partition))
            restored.append(partition)
        if restored:
            log.info("restored partitions %s", restored)
            await self._publish_records(restored)  # open intervals, as rebuilt
        callbacks, self.on_ready = self.on_ready, []
        for callback in callbacks:
            callback()

    def revoke(self, partitions: set[int]) -> None:
        for partition in partitions:
            self.states.pop(partition, None)

    # -- snapshots ----------------------------------------------------------------------------

    async def publish_snapshots(self) -> None:
        now = now_ms()
        for state in list(self.states.values()):
            view = state.snapshot(now)
            for queue in view["queues"]:
                await self._offer(queue_key(queue["queue"]), queue, VOLATILE_QUEUE_FIELDS, now)
            for row in view["agents"]:
                await self._offer(agent_key(row["agent_id"]), row, VOLATILE_AGENT_FIELDS, now)
        if now >= self._heartbeat_due_ms:
            self._heartbeat_due_ms = now + HEARTBEAT_MS
            await self.snapshots.send(
                key=worker_key(self.worker_id).encode(),
                value=orjson.dumps(self.heartbeat(now)),
            )

    async def _offer(
        self, key: str, value: dict[str, Any], volatile: Sequence[str], now: int
    ) -> None:
        fingerprint = orjson.dumps(
            {name: item for name, item in value.items() if name not in volatile},
            option=orjson.OPT_SORT_KEYS,
        )
        sent = self._sent.get(key)
        if sent is not None and sent[0] == fingerprint and now - sent[1] < REFRESH_MS:
            return
        self._sent[key] = (fingerprint, now)
        value["published_ms"] = now
        await self.snapshots.send(key=key.encode(), value=orjson.dumps(value))

    def heartbeat(self, now: int) -> dict[str, Any]:
        watermarks = [q.watermark_ms for s in self.states.values() for q in s.queues.values()]
        return {
            "worker": self.worker_id,
            "published_ms": now,
            "partitions": sorted(self.states),
            "consumed": dict(self.consumed),
            "rejected": dict(self.rejected),
            "duplicates": self.duplicates,
            "watermark_ms": max(watermarks, default=None),
        }
