"""The alert evaluator: rules judged on the whole floor, on exactly one worker at a time.

Alert rules look at the whole floor (site and client roll-ups, any queue, any agent), while a
worker holds only its partitions. So the evaluator reads what the gateways read — every
partition of ``floor-snapshots`` (and ``floor-alerts``) into a :class:`wallboard.hub.Hub` —
and runs on the worker that owns partition :data:`LEADER_PARTITION` of ``acd-events``:
Faust's assignment is the leader election, and a rebalance moves the evaluator with the
partition.

Its :class:`~streams.alerts.AlertTracker` state lives in the ``floor-state`` table under
:data:`STATE_KEY` in that partition, so the next owner (after a crash, a restart or a
rebalance) continues every alert where it was: nothing fires twice, nothing is forgotten.
Each evaluation (every ``alerts.evaluate_ms``):

1. read what is new on the snapshot, alert and command topics;
2. apply operators' commands (:mod:`streams.alert_commands`) and evaluate the rules;
3. write the tracker state to the table and wait for the broker;
4. publish the changes on ``floor-alerts`` (keyed by alert id; a pending alert that ended
   without firing is deleted with a tombstone, resolved ones after :data:`RESOLVED_KEEP_MS`);
5. hand the changes to the notifiers (:mod:`wallboard.notify`: bounded queues, retries, never
   waiting here).

State before notification: a crash between 3 and 5 loses a notification rather than sending
one twice (the alert itself is on the board either way: a new owner republishes every active
alert when it takes over).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from agents.pipeline import Pipeline, now_ms
from config.settings import FloorwatchConfig
from streams.alert_commands import AlertCommandError, apply_command, decode_command
from streams.alerts import INACTIVE, RESOLVED, AlertChange, AlertTracker
from wallboard.hub import ALERTS, SNAPSHOTS, Hub
from wallboard.notify import Notifiers

log = logging.getLogger(__name__)

LEADER_PARTITION = 0
STATE_KEY = "T|alerts"
"""Key of the tracker state in the ``floor-state`` table (partition :data:`LEADER_PARTITION`)."""
RESOLVED_KEEP_MS = 15 * 60_000
"""How long a resolved alert stays on ``floor-alerts`` (and so on the page) before deletion."""
DRAIN_MAX = 50_000
"""Most messages read per evaluation (the rest waits for the next one)."""


def _judge(hub: Hub, tracker: AlertTracker, now: int) -> list[AlertChange] | None:
    """The rules' changes on the floor now; None when the floor is stale (not judged)."""
    state = hub.state(now)
    if state["stale"]:
        return None
    return tracker.evaluate(state, now)


class AlertEvaluator:
    """Evaluates the configured rules while this worker owns the leader partition."""

    def __init__(self, config: FloorwatchConfig, pipeline: Pipeline) -> None:
        self.config = config
        self.topics = config.topics
        self.pipeline = pipeline
        self.notifiers = Notifiers(config.alerts.notifiers)
        self.evaluations = 0
        self.rejected_commands = 0
        self._rules = config.alerts.rules
        self._resolve_no_data_s = config.alerts.resolve_no_data_s
        self._tracker: AlertTracker | None = None
        self._hub: Hub | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._caught_up = False
        self._commands: list[bytes | None] = []
        self._deleted: set[str] = set()
        self._lock = asyncio.Lock()
        self._notifiers_started = False

    partition = LEADER_PARTITION
    state_key = STATE_KEY

    @property
    def active(self) -> bool:
        return self._tracker is not None

    # -- ownership ----------------------------------------------------------------------------

    async def activate(self, state: dict[str, Any] | None) -> None:
        """This worker now owns the leader partition; ``state`` is the tracker state found
        in the table (None: no alert yet)."""
        async with self._lock:
            tracker = AlertTracker(self._rules, resolve_no_data_s=self._resolve_no_data_s)
            if state is not None:
                try:
                    tracker.restore(state)
                except (KeyError, TypeError, ValueError):
                    log.exception(
                        "alert state in %s unreadable; starting without alerts", STATE_KEY
                    )
            self._tracker = tracker
            self._hub = Hub(stale_s=self.config.gateway.stale_s, forecast=self.config.forecast)
            self._caught_up = False
            self._deleted = set()
            if not self._notifiers_started:
                await self.notifiers.start()
                self._notifiers_started = True
            log.info("alert evaluator active with %d rules", len(self._rules))

    async def deactivate(self) -> None:
        """The leader partition was revoked: the new owner continues from the table."""
        async with self._lock:
            if self._tracker is not None:
                await self._save(self._tracker)
            self._tracker = None
            self._hub = None
            await self._stop_consumer()

    async def close(self) -> None:
        await self.deactivate()
        if self._notifiers_started:
            await self.notifiers.stop()
            self._notifiers_started = False

    # -- evaluation ---------------------------------------------------------------------------

    async def evaluate(self) -> None:
        """One evaluation (see the module); nothing while another worker is the leader."""
        async with self._lock:
            tracker, hub = self._tracker, self._hub
            if tracker is None or hub is None:
                return
            await self._read(hub)
            now = now_ms()
            if not self._caught_up:
                self._caught_up = True
                # a new owner republishes every active alert it continues
                await self._publish(tracker.active(now))
            changes: list[AlertChange] = []
            for raw in self._commands:
                try:
                    command = decode_command(raw)
                except AlertCommandError as exc:
                    self.rejected_commands += 1
                    log.warning("ignored alert command %r: %s", raw[:200] if raw else raw, exc)
                    continue
                change = apply_command(tracker, command, now)
                if change is not None:
                    changes.append(change)
            self._commands = []
            # the floor view and the rules take milliseconds per hundred agents: in a thread,
            # so the worker's event loop keeps folding meanwhile (nothing else touches this
            # hub or tracker while the lock is held)
            judged = await asyncio.to_thread(_judge, hub, tracker, now)
            if judged is None:
                log.debug("alert evaluation skipped: the floor is stale")
            else:
                changes.extend(judged)
                self.evaluations += 1
            if changes:
                await self._save(tracker)
                await self._publish(changes)
                self.notifiers.dispatch(changes)
            await self._delete_resolved(hub, now)

    async def _save(self, tracker: AlertTracker) -> None:
        out = await self.pipeline.producer()
        raw_key, raw_value = self.pipeline.mirror.put(
            LEADER_PARTITION, STATE_KEY, tracker.to_state()
        )
        sent = await out.send(
            self.pipeline.mirror.topic, raw_value, key=raw_key, partition=LEADER_PARTITION
        )
        await sent

    async def _publish(self, changes: list[AlertChange]) -> None:
        if not changes:
            return
        out = await self.pipeline.producer()
        pending = []
        for change in changes:
            key = change.alert_id.encode()
            value = None if change.state == INACTIVE else orjson.dumps(change.to_json())
            if value is None:
                self._deleted.add(change.alert_id)
            else:
                self._deleted.discard(change.alert_id)
            pending.append(await out.send(self.topics.alerts, value, key=key))
        await asyncio.gather(*pending)

    async def _delete_resolved(self, hub: Hub, now: int) -> None:
        old = [
            str(alert["alert_id"])
            for alert in hub.alerts()
            if alert.get("state") in (RESOLVED, INACTIVE)
            and isinstance(alert.get("at_ms"), int)
            and now - alert["at_ms"] >= RESOLVED_KEEP_MS
            and alert.get("alert_id") not in self._deleted
        ]
        if not old:
            return
        out = await self.pipeline.producer()
        pending = [await out.send(self.topics.alerts, None, key=key.encode()) for key in old]
        await asyncio.gather(*pending)
        self._deleted.update(old)

    # -- reading the floor --------------------------------------------------------------------

    async def _read(self, hub: Hub) -> None:
        consumer = await self._start_consumer()
        kinds = {self.topics.snapshots: SNAPSHOTS, self.topics.alerts: ALERTS}
        read = 0
        while read < DRAIN_MAX:
            # until caught up once, wait a little for each fetch: an empty answer then means
            # the end of the topics, not a fetch still on its way
            batch = await consumer.getmany(timeout_ms=0 if self._caught_up else 500)
            if not batch:
                return
            for tp, messages in batch.items():
                read += len(messages)
                if tp.topic == self.topics.alert_commands:
                    self._commands.extend(message.value for message in messages)
                    continue
                kind = kinds[tp.topic]
                for message in messages:
                    key = message.key.decode(errors="replace") if message.key else None
                    hub.apply(kind, key, message.value)

    async def _start_consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            topics = [self.topics.snapshots, self.topics.alerts, self.topics.alert_commands]
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.pipeline.bootstrap,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=20,
            )
            await consumer.start()
            # the worker created them all with this partition count (floorwatch worker)
            count = self.topics.partitions
            partitions = [TopicPartition(topic, p) for topic in topics for p in range(count)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            self._consumer = consumer
        return self._consumer

    async def _stop_consumer(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await consumer.stop()
