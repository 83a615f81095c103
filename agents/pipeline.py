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
   :meth:`~streams.partition.PartitionState.changes`, and wait until the broker has them
   and the batch's dead letters.

Faust acknowledges the batch's messages only after this returns, and commits acknowledged
offsets, so the changelog always holds at least what the committed offsets account for;
anything replayed after a crash is recognised by the legs' facts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import faust
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from config.settings import FloorwatchConfig
from streams.calendar import to_epoch_ms
from streams.events import Event, Rejection, parse_event
from streams.partition import PartitionState, event_owner
from streams.queues import DUPLICATE
from streams.wire import agent_key, interval_key, queue_key, worker_key

log = logging.getLogger(__name__)

CHECKPOINT = "O"
MISROUTED = "misrouted"
"""Rejection reason of an event whose message key is not its queue / agent id."""
REFRESH_MS = 5_000
"""An unchanged snapshot is re-sent this often (so a new gateway never waits long)."""
HEARTBEAT_MS = 1_000
VOLATILE_QUEUE_FIELDS = ("longest_wait_s",)
VOLATILE_AGENT_FIELDS = ("time_in_state_s", "occupancy")
"""Fields that change with the clock alone (the page ticks them itself)."""


def checkpoint_key(partition: int) -> str:
    """Table key of a partition's checkpoint: the offset its state accounts for."""
    return f"{CHECKPOINT}|{partition}"


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

    async def write(self, partition: int, key: str, value: Any) -> Awaitable[Any]:
        """Update the local store and send the change to the changelog; returns the
        delivery future (Faust's own ``send_changelog`` buffers, and its flush before a
        commit may return with messages still buffered, so the pipeline waits itself)."""
        store = self._store
        raw_key = key.encode()
        raw_value = None if value is None else orjson.dumps(value)
        if raw_value is None:
            store.data.pop(raw_key, None)
            store._key_partition.pop(raw_key, None)
        else:
            store.data[raw_key] = raw_value
            store._key_partition[raw_key] = partition
        return await self.table.changelog_topic.send(
            key=raw_key, value=raw_value, partition=partition
        )

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
        self.bootstrap = config.broker.split("://", 1)[-1] if config.broker else ""
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
        self._agent_markers: dict[str, tuple[Any, int]] = {}
        """Agent snapshot key → (last entry and attributes when its row was built, when)."""
        self._read_to: dict[int, int] = {}
        """Offset of the last message folded, per partition (written as the checkpoint)."""
        self._lock = asyncio.Lock()
        """Held while a batch is folded and persisted, and while partitions are restored or
        revoked: a rebalance waits for the batch in flight to be on the broker."""
        self._undelivered: list[Awaitable[Any]] = []
        """Sends of the current batch not yet confirmed by the broker."""
        self.on_ready: list[Callable[[], None]] = []
        """Called once, after the first table recovery (the worker is consuming)."""

    # -- folding ------------------------------------------------------------------------------

    def _parse(self, message: Any, now: int) -> Event | Rejection:
        return parse_event(
            message.value,
            max_bytes=self.processing.max_event_bytes,
            now_ms=now,
            future_tolerance_ms=self.processing.future_tolerance_s * 1000,
        )

    async def fold_batch(self, events: Sequence[faust.EventT[bytes]]) -> None:
        async with self._lock:
            await self._fold_messages([event.message for event in events])

    async def _fold_messages(self, messages: Sequence[Any]) -> None:
        """Fold Kafka messages (Faust's or aiokafka's: topic, partition, offset, key, value)."""
        now = now_ms()
        states = self.states
        touched: set[int] = set()
        read_to = self._read_to
        for message in messages:
            state = states.get(message.partition)
            if state is None:
                continue  # revoked while buffered: its new owner replays it
            read_to[message.partition] = message.offset
            touched.add(message.partition)
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
            outcome = state.apply(parsed)
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
        pending, self._undelivered = self._undelivered, []
        if pending:
            await asyncio.gather(*pending)

    async def _persist(self, partitions: Iterable[int]) -> None:
        """Records first, then the state; returns once the broker has all of it (and the
        batch's dead letters), so the offsets Faust commits next are covered."""
        partitions = sorted(partitions)
        await self._publish_records(partitions)
        pending = self._undelivered
        for partition in partitions:
            for key, value in self.states[partition].changes():
                pending.append(await self.mirror.write(partition, key, value))
            # last: the state written before it accounts for every message up to here
            offset = {"offset": self._read_to[partition]}
            pending.append(await self.mirror.write(partition, checkpoint_key(partition), offset))
        self._undelivered = []
        if pending:
            await asyncio.gather(*pending)

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
        self._undelivered.append(
            await self.dead_letters.send(key=message.key, value=message.value, headers=headers)
        )

    # -- rebalancing --------------------------------------------------------------------------

    async def restore(self, active: set[int]) -> None:
        """After table recovery: build the state of every newly assigned partition."""
        async with self._lock:
            await self._restore(active)

    async def _restore(self, active: set[int]) -> None:
        restored = []
        for partition in sorted(active - self.states.keys()):
            records = self.mirror.records(partition)
            checkpoint = dict(records).get(checkpoint_key(partition))
            state = self.states[partition] = PartitionState(self.settings)
            state.restore(records)
            self._read_to[partition] = -1 if checkpoint is None else checkpoint["offset"]
            restored.append(partition)
        if restored:
            log.info("restored partitions %s", restored)
            await self._publish_records(restored)  # open intervals, as rebuilt
            for partition in restored:
                await self._catch_up(partition)

    async def _catch_up(self, partition: int) -> None:
        """Fold what the partition holds after the state's checkpoint.

        Faust resumes from the group's committed offset, which can be ahead of the state
        (offsets of a batch cut short by a rebalance may be committed by the old owner).
        The state's own checkpoint decides: everything after it is read here, in order;
        what Faust then delivers again is recognised as duplicates.
        """
        topic = self.config.topics.acd_events
        tp = TopicPartition(topic, partition)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
        )
        await consumer.start()
        try:
            consumer.assign([tp])
            end = (await consumer.end_offsets([tp]))[tp]
            consumer.seek(tp, self._read_to[partition] + 1)
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=5000)
                await self._fold_messages(batch.get(tp, []))
        finally:
            await consumer.stop()

        callbacks, self.on_ready = self.on_ready, []
        for callback in callbacks:
            callback()

    async def revoke(self, partitions: set[int]) -> None:
        """Forget revoked partitions, once the batch in flight is on the broker."""
        async with self._lock:
            for partition in partitions:
                self.states.pop(partition, None)

    # -- snapshots ----------------------------------------------------------------------------

    async def publish_snapshots(self) -> None:
        """Changed queue views and agent rows; unchanged ones every :data:`REFRESH_MS`."""
        now = now_ms()
        for state in list(self.states.values()):
            for name in list(state.queues):
                view = state.queue_view(name, now)
                await self._offer(queue_key(name), view, VOLATILE_QUEUE_FIELDS, now)
            for agent_id, timeline in list(state.agents.items()):
                key = agent_key(agent_id)
                last = timeline.entries[-1] if timeline.entries else None
                marker = (last, tuple(timeline.attributes.items()))
                sent = self._agent_markers.get(key)
                if sent is not None and sent[0] == marker and now - sent[1] < REFRESH_MS:
                    continue  # nothing but the clock moved: the page ticks time in state
                self._agent_markers[key] = (marker, now)
                row = state.agent_row(agent_id, now)
                await self._offer(key, row, VOLATILE_AGENT_FIELDS, now)
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
