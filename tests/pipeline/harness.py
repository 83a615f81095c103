"""Real processes for pipeline tests: the embedded broker, workers, gateways, producers."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from agents.worker import READY_LINE
from config.loader import load_config
from config.settings import FloorwatchConfig
from floorwatch.broker import EmbeddedBroker
from floorwatch.kafka import EventProducer, ensure_topics
from floorwatch.processes import spawn, stop
from streams.calendar import to_epoch_ms
from streams.intervals import is_empty_record

ROOT = Path(__file__).resolve().parents[2]


def environment(broker: EmbeddedBroker, data_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FLOORWATCH_CONFIG", None)
    env["FLOORWATCH_BROKER"] = broker.url
    env["FLOORWATCH_WORKER__DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def free_port() -> int:
    """A loopback port nobody listens on now (for a gateway or metrics server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config_for(broker: EmbeddedBroker) -> FloorwatchConfig:
    return load_config(env={"FLOORWATCH_BROKER": broker.url})


class Process:
    """A ``floorwatch`` command run as a child, its output kept in a file."""

    def __init__(self, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = spawn(
            [sys.executable, "-m", "floorwatch", *args],
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def wait_for_line(self, text: str, timeout_s: float = 60.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            output = self.log.read_text(errors="replace")
            for line in output.splitlines():
                if text in line:
                    return line
            if self.proc.poll() is not None:
                raise AssertionError(f"process exited {self.proc.returncode}:\n{output[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} within {timeout_s} s:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> int:
        return stop(self.proc)


def start_worker(broker: EmbeddedBroker, tmp: Path, name: str) -> Process:
    worker = Process(["worker"], environment(broker, tmp / f"data-{name}"), tmp / f"{name}.log")
    worker.wait_for_line(READY_LINE)
    return worker


def produce(broker: EmbeddedBroker, config: FloorwatchConfig, raws: Iterable[bytes]) -> int:
    async def run() -> int:
        await ensure_topics(broker.url, config.topics)
        async with EventProducer(broker.url, config.topics) as producer:
            for raw in raws:
                await producer.send(raw)
            await producer.flush()
            return producer.sent

    return asyncio.run(run())


def read_topic(broker: EmbeddedBroker, topic: str, partitions: int) -> list[Any]:
    """Every message of ``topic`` so far (all partitions)."""

    async def run() -> list[Any]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=broker.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            out: list[Any] = []
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                batches = await consumer.getmany(timeout_ms=500)
                for messages in batches.values():
                    out.extend(messages)
            return out
        finally:
            await consumer.stop()

    return asyncio.run(run())


def latest_intervals(broker: EmbeddedBroker, config: FloorwatchConfig) -> dict[str, Any]:
    """The compacted view of floor-intervals: the latest non-empty record per key."""
    latest: dict[str, Any] = {}
    for message in read_topic(broker, config.topics.intervals, config.topics.partitions):
        latest[message.key.decode()] = orjson.loads(message.value)
    return {key: record for key, record in latest.items() if not is_empty_record(record)}


def keyed(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    out = {}
    for record in records:
        start = to_epoch_ms(datetime.fromisoformat(record["interval_start"]))
        out[f"{record['queue']}|{start}"] = dict(record)
    return out


def wait_until(condition: Any, timeout_s: float, what: str, interval_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@contextmanager
def embedded_broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as broker:
        yield broker
