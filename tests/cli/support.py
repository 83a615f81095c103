"""Helpers of the command-line tests: run ``floorwatch``, read topics back."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from config.settings import TopicSettings
from floorwatch.broker import EmbeddedBroker


@dataclass(frozen=True)
class Record:
    """One Kafka record as read back."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    """Epoch ms: when the producer created the record."""
    key: bytes | None
    value: bytes


def fresh_topics(partitions: int = 3) -> TopicSettings:
    """Topic names no other test uses, so tests can share one broker."""
    tag = uuid.uuid4().hex[:10]
    names = {name: f"{value}-{tag}" for name, value in asdict(TopicSettings()).items()}
    names.pop("partitions")
    return TopicSettings(**names, partitions=partitions)


def environment(broker: EmbeddedBroker | None, topics: TopicSettings | None) -> dict[str, str]:
    """The environment of a ``floorwatch`` process pointed at ``broker`` and ``topics``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOORWATCH_")}
    if broker is not None:
        env["FLOORWATCH_BROKER"] = broker.url
    if topics is not None:
        for name, value in asdict(topics).items():
            env[f"FLOORWATCH_TOPICS__{name.upper()}"] = str(value)
    return env


def floorwatch(
    *args: str, env: dict[str, str], timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m floorwatch ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "floorwatch", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def read_topics(bootstrap: str, topics: list[str]) -> list[Record]:
    """Every record of ``topics``, partition by partition in offset order."""
    return asyncio.run(_read(bootstrap, topics))


async def _read(bootstrap: str, topics: list[str]) -> list[Record]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    partitions = [
        TopicPartition(topic["topic"], p["partition"])
        for topic in described
        for p in topic["partitions"]
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends: dict[Any, int] = await consumer.end_offsets(partitions)
        records: dict[TopicPartition, list[Record]] = {tp: [] for tp in partitions}
        async with asyncio.timeout(30):
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                for tp, batch in (await consumer.getmany(timeout_ms=200)).items():
                    records[tp].extend(
                        Record(r.topic, r.partition, r.offset, r.timestamp, r.key, r.value)
                        for r in batch
                    )
        return [record for tp in partitions for record in records[tp]]
    finally:
        await consumer.stop()


def partition_counts(bootstrap: str, topics: list[str]) -> dict[str, int]:
    async def describe() -> dict[str, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(topics)}
        finally:
            await admin.close()

    return asyncio.run(describe())
