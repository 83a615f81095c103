"""The gateway's Kafka side: every partition of the output topics, from the beginning, into
the hub.

No consumer group: each gateway reads everything (any number of gateways can serve any
number of screens), and it assigns partitions itself, so nothing waits for a group join.
The topics are created by the workers and the command line with their intended partition
counts; the gateway only waits for them. It never names a missing topic in a metadata
request, because the embedded broker would auto-create it with the wrong partition count
(PLATFORM.md): topics are listed with an all-topics metadata request until all exist.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError  # type: ignore[import-untyped]
from aiokafka.structs import TopicPartition  # type: ignore[import-untyped]

from config.settings import TopicSettings
from wallboard.hub import ALERTS, INTERVALS, SNAPSHOTS, Hub, Topic

log = logging.getLogger(__name__)

CLIENT_ID = "floorwatch-gateway"
RETRY_S = 0.5
"""Pause between looks for missing topics."""
ERROR_PAUSE_S = 1.0
"""Pause before reconnecting after a broker error."""


def bootstrap_servers(broker: str) -> str:
    """``host:port`` of a ``kafka://host:port`` broker address."""
    return broker.removeprefix("kafka://")


class Feed:
    """Reads the snapshot, interval and alert topics into a hub until cancelled."""

    def __init__(
        self,
        broker: str,
        topics: TopicSettings,
        hub: Hub,
        on_change: Callable[[], None],
        *,
        fetch_wait_ms: int = 20,
    ) -> None:
        """``on_change`` is called after each batch of messages has been applied."""
        self._bootstrap = bootstrap_servers(broker)
        self._kinds: dict[str, Topic] = {
            topics.snapshots: SNAPSHOTS,
            topics.intervals: INTERVALS,
            topics.alerts: ALERTS,
        }
        self._hub = hub
        self._on_change = on_change
        self._fetch_wait_ms = fetch_wait_ms
        self._positions: dict[TopicPartition, int] = {}
        """Next offset per partition, so a reconnect resumes instead of replaying."""
        self.problem: str | None = "not started"
        """Why the feed is not consuming right now; None while it is."""

    async def run(self) -> None:
        """Consume until cancelled, reconnecting after broker errors."""
        while True:
            try:
                partitions = await self._wait_for_topics()
                await self._consume(partitions)
            except (KafkaError, OSError) as exc:
                self.problem = f"broker {self._bootstrap}: {exc!r}"
                log.warning("gateway feed: %s; retrying in %.1f s", self.problem, ERROR_PAUSE_S)
                await asyncio.sleep(ERROR_PAUSE_S)

    async def _wait_for_topics(self) -> list[TopicPartition]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=CLIENT_ID)
        await admin.start()
        try:
            while True:
                # no topic names: an all-topics request, which creates nothing
                described = await admin.describe_topics()
                found = {
                    item["topic"]: [p["partition"] for p in item["partitions"]]
                    for item in described
                    if item["topic"] in self._kinds and item["error_code"] == 0
                }
                missing = sorted(set(self._kinds) - {t for t, parts in found.items() if parts})
                if not missing:
                    return [TopicPartition(t, p) for t, parts in found.items() for p in parts]
                problem = f"waiting for topics {', '.join(missing)} to be created"
                if problem != self.problem:
                    log.info("gateway feed: %s", problem)
                self.problem = problem
                await asyncio.sleep(RETRY_S)
        finally:
            await admin.close()

    async def _consume(self, partitions: list[TopicPartition]) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            client_id=CLIENT_ID,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self._fetch_wait_ms,
        )
        try:
            await consumer.start()
            consumer.assign(partitions)
            for partition in partitions:
                position = self._positions.get(partition)
                if position is not None:
                    consumer.seek(partition, position)
            # until every partition is read up to where it ended at start, the state mixes
            # the present with the past: not yet something to show as the current floor
            behind = {
                partition: end
                for partition, end in (await consumer.end_offsets(partitions)).items()
                if end > self._positions.get(partition, 0)
            }
            log.info(
                "gateway feed: consuming %d partitions from %s (%d to catch up)",
                len(partitions),
                self._bootstrap,
                len(behind),
            )
            this_task = asyncio.current_task()
            while True:
                # aiokafka can swallow a cancellation that lands while it awaits its own
                # tasks (seen in getmany/position): stop when asked, whatever it did with it
                if this_task is not None and this_task.cancelling():
                    raise asyncio.CancelledError
                if behind:
                    self.problem = f"catching up: {len(behind)} partitions not read to the end"
                    for partition, end in list(behind.items()):
                        if await consumer.position(partition) >= end:
                            del behind[partition]
                if not behind:
                    self.problem = None
                batches = await consumer.getmany(timeout_ms=1000)
                for partition, records in batches.items():
                    kind = self._kinds[partition.topic]
                    for record in records:
                        key = record.key
                        text = None if key is None else key.decode("utf-8", "replace")
                        self._hub.apply(kind, text, record.value)
                    self._positions[partition] = records[-1].offset + 1
                if batches:
                    self._on_change()
        finally:
            self.problem = "stopped consuming"
            await consumer.stop()


__all__ = ["Feed", "bootstrap_servers"]
