"""What the agents do with events; the only code between Faust and the core.

Folding and persisting are separate steps, so a worker's cost per event is the fold and
not a round trip to the broker:

- **fold** (per batch Faust hands an agent, no I/O): parse and validate each message, check
  it is keyed as DESIGN.md says (queue / agent id), fold it into the
  :class:`~streams.partition.PartitionState` of its partition and note the offset; rejects
  are queued for ``dead-letters`` with the reason. Queues whose snapshot has not been sent
  for a cadence are published at once (leading edge), the others wait for the timer.
- **persist** (every ``worker.persist_ms``, or at once when ``worker.batch_max`` events are
  waiting): under one lock, take everything folded since the last persist in one step, then
  (1) send the dead letters and the interval records that changed, and wait until the broker
  has them (a record handed out as final is never sent again, so it must be out before the
  state that says so); (2) send the state changes to the ``floor-state`` changelog partition
  of their source partition, in the order of :meth:`~streams.partition.PartitionState.changes`,
  ending with the partition's checkpoint (the offset the state accounts for), and wait.

The state, not the consumer group, says where a partition resumes. Faust assigns the
``acd-events`` partitions to workers and recovers their ``floor-state`` partitions; the
pipeline then reads exactly those partitions with its own aiokafka consumer (outside the
group, :meth:`Pipeline.read_forever`), each from right after its state's checkpoint, and
Faust's consumer leaves them paused (:mod:`agents.transport`). Faust's per-message machinery
(a task per message, a lock, an ack) caps a worker near Faust's stateless rate, a few
thousand events a second on this hardware (PLATFORM.md); read in batches, the fold is the
cost. Events read twice after a crash are recognised by the legs' facts, and no event after
the checkpoint can be skipped. The worker writes with its own aiokafka producer too, and
stops it only after a last persist.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import faust
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from agents.metrics import DURATION_BUCKETS_S, LAG_BUCKETS_S, Buckets
from config.settings import FloorwatchConfig
from floorwatch.kafka import bootstrap_of
from streams.calendar import to_epoch_ms
from streams.events import AgentEvent, ContactEvent, Event, Rejection, parse_event
from streams.partition import PartitionState, event_owner
from streams.queues import ACCEPTED, DUPLICATE
from streams.wire import agent_key, interval_key, queue_key, worker_key

if TYPE_CHECKING:
    from agents.alerting import AlertEvaluator

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
PRODUCER_LINGER_MS = 2

Headers = list[tuple[str, bytes]]


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
    def topic(self) -> str:
        name: str = self.table.changelog_topic.get_topic_name()
        return name

    @property
    def _store(self) -> Any:
        return self.table.data

    def put(self, partition: int, key: str, value: Any) -> tuple[bytes, bytes | None]:
        """Update the local store; returns the changelog record (key, value or tombstone)."""
        store = self._store
        raw_key = key.encode()
        if value is None:
            store.data.pop(raw_key, None)
            store._key_partition.pop(raw_key, None)
            return raw_key, None
        raw_value = orjson.dumps(value)
        store.data[raw_key] = raw_value
        store._key_partition[raw_key] = partition
        return raw_key, raw_value

    def records(self, partition: int) -> list[tuple[str, Any]]:
        store = self._store
        owner = store._key_partition
        return [
            (key.decode(), orjson.loads(value))
            for key, value in store.data.items()
            if owner.get(key) == partition and value is not None
        ]


class Pipeline:
    """The worker's partition states, how they are persisted and everything it publishes."""

    def __init__(self, config: FloorwatchConfig, *, table: faust.Table, worker_id: str) -> None:
        self.config = config
        self.settings = config.core
        self.processing = config.core.processing
        self.topics = config.topics
        self.worker = config.worker
        self.worker_id = worker_id
        self.bootstrap = bootstrap_of(config.broker) if config.broker else ""
        self.mirror = _StateMirror(table)
        self.states: dict[int, PartitionState] = {}
        self.consumed: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.duplicates = 0
        self.persisted_offsets: dict[int, int] = {}
        """Per partition, the offset of the last message the persisted state accounts for."""
        self.on_ready: list[Callable[[], None]] = []
        """Called once, after the first table recovery (the worker is consuming)."""
        self.alerts: AlertEvaluator | None = None
        """Runs while this worker owns the evaluator's partition (:mod:`agents.alerting`)."""

        self.processing_lag = Buckets(LAG_BUCKETS_S)
        self.persist_duration = Buckets(DURATION_BUCKETS_S)
        self.snapshot_duration = Buckets(DURATION_BUCKETS_S)

        self._producer: AIOKafkaProducer | None = None
        self._closed = False
        self._lock = asyncio.Lock()
        """Held while state is persisted, restored, revoked or closed: a rebalance waits
        until everything folded so far is on the broker."""
        self._snapshot_lock = asyncio.Lock()
        self._read_to: dict[int, int] = {}
        """Offset of the last message folded, per partition."""
        self._dirty: set[int] = set()
        """Partitions folded into since the last persist."""
        self._unpersisted = 0
        self._dead: list[tuple[bytes | None, bytes, Headers]] = []
        """Dead letters not yet sent."""
        self._reader: AIOKafkaConsumer | None = None
        self._reading: set[int] = set()
        self._generation = 0
        """Changes whenever the reader's assignment does (batches fetched before are dropped)."""
        self._sent: dict[str, tuple[bytes, int]] = {}
        """Snapshot key → (fingerprint of what was sent, when)."""
        self._changed_agents: set[tuple[int, str]] = set()
        """(partition, agent id) of agents folded into since the last snapshot."""
        self._agents_refresh_due_ms = 0
        self._refresh_queue: list[tuple[int, str]] = []
        self._refresh_per_tick = 1
        self._heartbeat_due_ms = 0

    # -- producer -----------------------------------------------------------------------------

    async def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                client_id=f"floorwatch-worker-{self.worker_id}",
                linger_ms=PRODUCER_LINGER_MS,
                max_request_size=16 * 1024 * 1024,
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def close(self) -> None:
        """Persist what was folded and stop publishing (the app is stopping)."""
        if self.alerts is not None:
            await self.alerts.close()
        async with self._snapshot_lock, self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._reader is not None:
                    await self._reader.stop()
                if self._producer is not None:
                    await self._persist()
            finally:
                if self._producer is not None:
                    await self._producer.stop()
                    self._producer = None

    # -- folding ------------------------------------------------------------------------------

    def _parse(self, message: Any, now: int) -> Event | Rejection:
        return parse_event(
            message.value,
            max_bytes=self.processing.max_event_bytes,
            now_ms=now,
            future_tolerance_ms=self.processing.future_tolerance_s * 1000,
        )

    async def fold_batch(self, messages: Sequence[Any]) -> None:
        """Fold a batch of ``acd-events`` messages; persist at once if too much is waiting."""
        now = now_ms()
        touched = self.fold(messages, now)
        if self._unpersisted >= self.worker.batch_max:
            await self.persist()
        if touched:
            await self._publish_leading(touched, now)

    # -- reading acd-events -------------------------------------------------------------------

    async def read_forever(self) -> None:
        """The hot path: read the assigned ``acd-events`` partitions in batches and fold them.

        Faust assigns the partitions (and recovers their tables); this reader, a plain
        aiokafka consumer outside the group, reads exactly those partitions from where each
        state's checkpoint says (see the module). A batch fetched before the assignment
        changed is dropped: the positions were reset and it comes again.
        """
        fetch_wait = self.worker.fetch_wait_ms
        while not self._closed:
            reader = self._reader
            if reader is None or not self._reading:
                await asyncio.sleep(fetch_wait / 1000)
                continue
            generation = self._generation
            batch = await reader.getmany(
                timeout_ms=fetch_wait * 5, max_records=self.worker.batch_max
            )
            if generation != self._generation or not batch:
                continue
            messages = [message for records in batch.values() for message in records]
            await self.fold_batch(messages)

    async def _read_assigned(self) -> None:
        """Point the reader at the partitions held now, each right after what it folded."""
        if self._reader is None:
            reader = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                client_id=f"floorwatch-reader-{self.worker_id}",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=self.worker.fetch_wait_ms,
                max_partition_fetch_bytes=4 * 1024 * 1024,
            )
            await reader.start()
            self._reader = reader
        topic = self.topics.acd_events
        held = sorted(self.states)
        self._generation += 1
        self._reader.assign([TopicPartition(topic, p) for p in held])
        for partition in held:
            self._reader.seek(TopicPartition(topic, partition), self._read_to[partition] + 1)
        self._reading = set(held)

    def fold(self, messages: Sequence[Any], now: int) -> set[tuple[int, str]]:
        """Fold Kafka messages (topic, partition, offset, key, value); returns the
        (partition, queue) pairs whose figures changed."""
        states = self.states
        read_to = self._read_to
        dirty = self._dirty
        observe_lag = self.processing_lag.observe
        touched: set[tuple[int, str]] = set()
        for message in messages:
            partition = message.partition
            state = states.get(partition)
            if state is None:
                continue  # revoked while buffered: its new owner replays it
            read_to[partition] = message.offset
            dirty.add(partition)
            self._unpersisted += 1
            parsed = self._parse(message, now)
            if isinstance(parsed, Rejection):
                self._dead_letter(message, parsed)
                continue
            owner = event_owner(parsed)
            key = message.key.decode(errors="replace") if message.key is not None else None
            if owner is None or key != owner:
                what = "queue" if parsed.type.startswith("contact.") else "agent id"
                self._dead_letter(
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
            if outcome is ACCEPTED:
                self.consumed[parsed.type] += 1
                observe_lag((now - parsed.ts_ms) / 1000)
                if isinstance(parsed, ContactEvent):
                    touched.add((partition, parsed.queue))
                elif isinstance(parsed, AgentEvent):
                    self._changed_agents.add((partition, parsed.agent_id))
            elif outcome is DUPLICATE:
                self.duplicates += 1
            else:
                assert isinstance(outcome, Rejection)
                self._dead_letter(message, outcome)
        return touched

    async def check_batch(self, events: Sequence[faust.EventT[bytes]]) -> None:
        """CRM events: validated and counted (their tables come with the CRM KPIs); the dead
        letters are on the broker before the batch is acknowledged."""
        now = now_ms()
        for event in events:
            parsed = self._parse(event.message, now)
            if isinstance(parsed, Rejection):
                self._dead_letter(event.message, parsed)
            else:
                self.consumed[parsed.type] += 1
        if self._dead:
            async with self._lock:
                await self._send_dead_letters()

    def _dead_letter(self, message: Any, rejection: Rejection) -> None:
        self.rejected[rejection.reason] += 1
        headers = [
            ("floorwatch.reason", rejection.reason.encode()),
            ("floorwatch.message", rejection.message.encode()),
            ("floorwatch.topic", str(message.topic).encode()),
            ("floorwatch.partition", str(message.partition).encode()),
            ("floorwatch.offset", str(message.offset).encode()),
        ]
        self._dead.append((message.key, message.value, headers))

    # -- persisting ---------------------------------------------------------------------------

    @property
    def read_offsets(self) -> dict[int, int]:
        """Per partition, the offset of the last message folded."""
        return self._read_to

    async def persist(self) -> None:
        """Write everything folded so far; returns once the broker has it."""
        async with self._lock:
            if not self._closed and (self._dirty or self._dead):
                started = time.perf_counter()
                await self._persist()
                self.persist_duration.observe(time.perf_counter() - started)

    async def _persist(self) -> None:
        states = self.states
        partitions = sorted(p for p in self._dirty if p in states)
        self._dirty = set()
        self._unpersisted = 0
        # One synchronous step: what is taken here is exactly the state at these offsets.
        records = [record for p in partitions for record in self.states[p].drain_records()]
        writes: list[tuple[int, bytes, bytes | None]] = []
        put = self.mirror.put
        for partition in partitions:
            for key, value in self.states[partition].changes():
                writes.append((partition, *put(partition, key, value)))
            # last: the state written before it accounts for every message up to here
            offset = self._read_to[partition]
            writes.append(
                (partition, *put(partition, checkpoint_key(partition), {"offset": offset}))
            )
        out = await self.producer()
        pending = await self._send_dead_letters(wait=False)
        for record in records:
            start_ms = to_epoch_ms(datetime.fromisoformat(record["interval_start"]))
            key = interval_key(record["queue"], start_ms).encode()
            pending.append(await out.send(self.topics.intervals, orjson.dumps(record), key=key))
        if pending:
            await asyncio.gather(*pending)
        changelog = self.mirror.topic
        pending = [
            await out.send(changelog, value, key=key, partition=partition)
            for partition, key, value in writes
        ]
        if pending:
            await asyncio.gather(*pending)
        for partition in partitions:
            self.persisted_offsets[partition] = self._read_to[partition]

    async def _send_dead_letters(self, *, wait: bool = True) -> list[asyncio.Future[Any]]:
        dead, self._dead = self._dead, []
        if not dead:
            return []
        out = await self.producer()
        topic = self.topics.dead_letters
        pending = [
            await out.send(topic, value, key=key, headers=headers) for key, value, headers in dead
        ]
        if wait:
            await asyncio.gather(*pending)
            return []
        return pending

    # -- rebalancing --------------------------------------------------------------------------

    async def restore(self, active: set[int]) -> None:
        """After table recovery: rebuild every newly assigned partition from its records and
        note where its consumer must resume (right after the state's checkpoint)."""
        async with self._lock:
            restored = []
            for partition in sorted(active - self.states.keys()):
                records = self.mirror.records(partition)
                checkpoint = dict(records).get(checkpoint_key(partition))
                state = self.states[partition] = PartitionState(self.settings)
                state.restore(records)
                offset = -1 if checkpoint is None else int(checkpoint["offset"])
                self._read_to[partition] = offset
                self.persisted_offsets[partition] = offset
                restored.append(partition)
                if self.alerts is not None and partition == self.alerts.partition:
                    await self.alerts.activate(dict(records).get(self.alerts.state_key))
            if restored:
                log.info(
                    "restored partitions %s, reading from %s",
                    restored,
                    {p: self._read_to[p] + 1 for p in restored},
                )
                self._dirty.update(restored)  # re-publishes the open intervals as rebuilt
                self._agents_refresh_due_ms = 0  # and every agent row within REFRESH_MS
                await self._persist()
            if self.states.keys() != self._reading:
                await self._read_assigned()
        callbacks, self.on_ready = self.on_ready, []
        for callback in callbacks:
            callback()

    async def revoke(self, partitions: set[int]) -> None:
        """Persist what was folded, then forget the revoked partitions."""
        async with self._lock:
            if not self._closed and self._producer is not None:
                await self._persist()
            if self.alerts is not None and self.alerts.partition in partitions:
                await self.alerts.deactivate()
            for partition in partitions:
                # folded while that persist was in flight: the new owner replays it
                self._dirty.discard(partition)
                self.states.pop(partition, None)
                self._read_to.pop(partition, None)
                self.persisted_offsets.pop(partition, None)
            if self._reader is not None and self.states.keys() != self._reading:
                await self._read_assigned()

    # -- snapshots ----------------------------------------------------------------------------

    async def _publish_leading(self, touched: set[tuple[int, str]], now: int) -> None:
        """Queues changed by a batch whose snapshot is older than a cadence go out now."""
        cadence = self.worker.snapshot_ms
        sent = self._sent
        due = []
        for partition, name in touched:
            last = sent.get(queue_key(name))
            if last is None or now - last[1] >= cadence:
                due.append((partition, name))
        if not due:
            return
        async with self._snapshot_lock:
            if self._closed:
                return
            for partition, name in due:
                state = self.states.get(partition)
                if state is not None and name in state.queues:
                    view = state.queue_view(name, now)
                    await self._offer(queue_key(name), view, VOLATILE_QUEUE_FIELDS, now)

    async def publish_snapshots(self) -> None:
        """Changed queue views and agent rows; unchanged ones every :data:`REFRESH_MS`."""
        async with self._snapshot_lock:
            if self._closed:
                return
            started = time.perf_counter()
            await self._publish_snapshots()
            self.snapshot_duration.observe(time.perf_counter() - started)

    async def _publish_snapshots(self) -> None:
        now = now_ms()
        for state in list(self.states.values()):
            for name in list(state.queues):
                view = state.queue_view(name, now)
                await self._offer(queue_key(name), view, VOLATILE_QUEUE_FIELDS, now)
        changed, self._changed_agents = self._changed_agents, set()
        # time in state and occupancy move with the clock alone: the page ticks them, and
        # every row is re-sent within REFRESH_MS to correct the drift, a slice per tick (a
        # floor of 2,000 agents at once would hold the loop for a tenth of a second)
        changed |= self._refresh_slice(now)
        for partition, agent_id in changed:
            state = self.states.get(partition)
            if state is not None and agent_id in state.agents:
                row = state.agent_row(agent_id, now)
                await self._offer(agent_key(agent_id), row, VOLATILE_AGENT_FIELDS, now)
        if now >= self._heartbeat_due_ms:
            self._heartbeat_due_ms = now + HEARTBEAT_MS
            out = await self.producer()
            await out.send(
                self.topics.snapshots,
                orjson.dumps(self.heartbeat(now)),
                key=worker_key(self.worker_id).encode(),
            )

    def _refresh_slice(self, now: int) -> set[tuple[int, str]]:
        if now >= self._agents_refresh_due_ms or not self._refresh_queue:
            if now >= self._agents_refresh_due_ms:
                self._agents_refresh_due_ms = now + REFRESH_MS
                self._refresh_queue = [
                    (p, a) for p, state in self.states.items() for a in state.agents
                ]
                ticks = max(1, REFRESH_MS // max(1, self.worker.snapshot_ms) - 1)
                self._refresh_per_tick = -(-len(self._refresh_queue) // ticks)
            else:
                return set()
        taken = self._refresh_queue[-self._refresh_per_tick :]
        del self._refresh_queue[-self._refresh_per_tick :]
        return set(taken)

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
        out = await self.producer()
        await out.send(self.topics.snapshots, orjson.dumps(value), key=key.encode())

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
            "persisted_offsets": {str(p): o for p, o in sorted(self.persisted_offsets.items())},
            "read_offsets": {str(p): o for p, o in sorted(self._read_to.items())},
        }
