"""Kafka plumbing of the command line: broker addresses, topic creation, event producing.

- :func:`bootstrap_of` turns ``kafka://host:port`` (the configuration's form) into the
  ``host:port`` Kafka clients take.
- :func:`ensure_topics` creates every Floorwatch topic with its configured partition count.
  Run it before any client touches a topic: a broker that auto-creates topics (Tansu, and
  Kafka by default) would otherwise create it with its own default count.
- :class:`EventProducer` produces encoded contract events to the input topics, routed and
  keyed by :func:`streams.wire.route`, in per-partition batches (``create_batch`` +
  ``send_batch`` is several times faster than one ``send`` per message). A key lands in the
  partition a plain keyed ``send`` would pick (aiokafka's murmur2 ``DefaultPartitioner``),
  so every producer of Floorwatch events agrees on where a queue's events go.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import for_code
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from config.settings import TopicSettings
from streams import wire

log = logging.getLogger(__name__)

KAFKA_SCHEME = "kafka://"
_TOPIC_ALREADY_EXISTS = 36
_MAX_REPLICATION = 3
_BATCH_BYTES = 256 * 1024
_KEY_CACHE_MAX = 100_000


def bootstrap_of(url: str) -> str:
    """``host:port`` from ``kafka://host:port`` or ``host:port``."""
    address = url.removeprefix(KAFKA_SCHEME).strip().rstrip("/")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected kafka://host:port or host:port, got {url!r}")
    return address


def _compacted(topics: TopicSettings) -> set[str]:
    """Topics holding the latest value per key (DESIGN.md section 1)."""
    return {topics.snapshots, topics.intervals}


def topic_names(topics: TopicSettings) -> list[str]:
    """Every topic Floorwatch uses, inputs first."""
    return [
        topics.acd_events,
        topics.crm_events,
        topics.dead_letters,
        topics.snapshots,
        topics.intervals,
        topics.alerts,
        topics.alert_commands,
    ]


async def ensure_topics(broker: str, topics: TopicSettings, *, timeout_s: float = 30.0) -> None:
    """Create every Floorwatch topic on ``broker`` (``kafka://h:p`` or ``h:p``).

    Topics get ``topics.partitions`` partitions and a replication factor of the cluster's
    broker count, at most 3; snapshots and intervals are compacted. A topic that already
    exists is left as it is (with a warning if its partition count differs).
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_of(broker), request_timeout_ms=int(timeout_s * 1000)
    )
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
        replication = max(1, min(_MAX_REPLICATION, len(cluster["brokers"])))
        compacted = _compacted(topics)
        wanted = [
            NewTopic(
                name,
                num_partitions=topics.partitions,
                replication_factor=replication,
                topic_configs={"cleanup.policy": "compact"} if name in compacted else {},
            )
            for name in topic_names(topics)
        ]
        response = await admin.create_topics(wanted)
        existing = []
        for result in response.to_object()["topic_errors"]:
            code = result["error_code"]
            if code == _TOPIC_ALREADY_EXISTS:
                existing.append(result["topic"])
            elif code:
                error = for_code(code)
                raise error(f"cannot create topic {result['topic']!r}: {result['error_message']}")
        if existing:
            await _check_partitions(admin, existing, topics.partitions)
    finally:
        await admin.close()


async def _check_partitions(admin: AIOKafkaAdminClient, names: list[str], wanted: int) -> None:
    for topic in await admin.describe_topics(names):
        count = len(topic["partitions"])
        if count != wanted:
            log.warning(
                "topic %s already exists with %d partitions, not the configured %d",
                topic["topic"],
                count,
                wanted,
            )


class EventProducer:
    """Produces encoded contract events to the input topics, batched per partition.

    ::

        async with EventProducer(broker, config.topics) as producer:
            for line in lines:
                await producer.send(line)
        # leaving the block flushed: the broker has every line

    :meth:`send` only queues (and sends batches as they fill); :meth:`flush` sends what is
    left and waits until the broker has acknowledged every message. Acks come from the
    leader only and there is no idempotence: the embedded broker rejects the InitProducerId
    an idempotent producer needs. The topics must exist (:func:`ensure_topics`) before
    :meth:`start`.
    """

    def __init__(self, broker: str, topics: TopicSettings, *, batch_bytes: int = _BATCH_BYTES):
        self._topics: dict[wire.TopicKind, str] = {
            wire.ACD: topics.acd_events,
            wire.CRM: topics.crm_events,
        }
        self._dead_letters = topics.dead_letters
        self.dead_lettered = 0
        """Inputs sent to the dead-letter topic so far (:meth:`dead_letter`)."""
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_of(broker),
            acks=1,
            enable_idempotence=False,
            max_batch_size=batch_bytes,
            max_request_size=max(batch_bytes, 1024 * 1024),
            client_id="floorwatch-producer",
        )
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}
        self._partition_of_key: dict[tuple[str, bytes], int] = {}
        self._round_robin: dict[str, int] = {}
        self._batches: dict[tuple[str, int], BatchBuilder] = {}
        self._in_flight: list[asyncio.Future[Any]] = []
        self.sent = 0
        """Messages delivered and acknowledged so far."""
        self._queued = 0

    async def start(self) -> None:
        await self._producer.start()
        for topic in self._topics.values():
            # sorted ids, as the partitioner of a plain send() sees them
            self._partitions[topic] = sorted(await self._producer.partitions_for(topic))

    async def stop(self) -> None:
        """Flush what is queued and close the connection."""
        try:
            await self.flush()
        finally:
            await self._producer.stop()

    async def __aenter__(self) -> EventProducer:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            await self.stop()
        else:
            # do not wait for deliveries on the way out of an error or a cancellation
            await self._producer.stop()

    async def send(self, value: bytes, event: Mapping[str, Any] | None = None) -> None:
        """Queue one encoded event. ``event`` is ``value`` decoded, when the caller has it.

        A ``value`` that is not a JSON object is produced as it is, without a key, to the
        ACD topic, where a worker dead-letters it.
        """
        if event is None:
            event = _decoded(value)
        kind, key = wire.route(event)
        topic = self._topics[kind]
        key_bytes = None if key is None else key.encode()
        partition = self._partition(topic, key_bytes)
        builder = self._batches.get((topic, partition))
        if builder is None:
            builder = self._batches[topic, partition] = self._producer.create_batch()
        if builder.append(timestamp=None, key=key_bytes, value=value) is None:
            await self._submit(topic, partition, builder)
            builder = self._batches[topic, partition] = self._producer.create_batch()
            # an empty batch takes any one message, however large
            builder.append(timestamp=None, key=key_bytes, value=value)
        self._queued += 1

    async def dead_letter(self, raw: bytes, reason: str, message: str, source: str) -> None:
        """Queue an input an adapter refused for the dead-letter topic: the original bytes,
        with the reason, the message and where it came from as headers (as the workers do
        for contract events). :meth:`flush` waits for it too."""
        headers = [
            ("floorwatch.reason", reason.encode()),
            ("floorwatch.message", message.encode()),
            ("floorwatch.source", source.encode()),
        ]
        future = await self._producer.send(self._dead_letters, raw, headers=headers)
        self._in_flight.append(future)
        self.dead_lettered += 1

    async def flush(self) -> int:
        """Send every queued message and wait until the broker acknowledged them all.

        Returns how many messages this flush delivered. Raises the first delivery error.
        """
        for (topic, partition), builder in list(self._batches.items()):
            await self._submit(topic, partition, builder)
        self._batches.clear()
        in_flight, self._in_flight = self._in_flight, []
        if in_flight:
            await asyncio.gather(*in_flight)
        delivered, self._queued = self._queued, 0
        self.sent += delivered
        return delivered

    async def _submit(self, topic: str, partition: int, builder: BatchBuilder) -> None:
        if builder.record_count():
            future = await self._producer.send_batch(builder, topic, partition=partition)
            self._in_flight.append(future)

    def _partition(self, topic: str, key: bytes | None) -> int:
        partitions = self._partitions[topic]
        if key is None:
            # no key, no order to keep: spread over the partitions in turn
            turn = self._round_robin.get(topic, 0)
            self._round_robin[topic] = turn + 1
            return partitions[turn % len(partitions)]
        cached = self._partition_of_key.get((topic, key))
        if cached is None:
            if len(self._partition_of_key) >= _KEY_CACHE_MAX:
                self._partition_of_key.clear()  # case and survey ids never repeat
            cached = self._partitioner(key, partitions, partitions)
            self._partition_of_key[topic, key] = cached
        return cached


def _decoded(value: bytes) -> Mapping[str, Any]:
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {}
    return event if isinstance(event, dict) else {}


def encode(event: Mapping[str, Any]) -> bytes:
    """The wire form of a contract event (compact UTF-8 JSON)."""
    return orjson.dumps(event)
