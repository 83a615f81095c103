"""Pipeline benchmark: consume paths side by side on the embedded broker, and live latency.

One run, a fresh embedded broker per measurement (topics and groups never interfere), the
same N simulated contract events (``streams.simulation``, event times in the past) for every
consume path, produced with :class:`floorwatch.kafka.EventProducer` before the consumer
starts, so each path reads a full topic:

1. ceiling: a raw aiokafka ``getmany`` + ``orjson.loads`` loop (best of 3 rounds);
2. the usual Faust approach (:mod:`benchmarks.naive_faust`, a child process): one agent,
   ``async for value in stream``, a changelogged table write per event; events/s from its
   first to its last event;
3. Floorwatch's worker (``python -m floorwatch worker``, a child process), cold start on the
   full topics: events/s from its first persisted batch (the first ``floor-state`` changelog
   record; the events that batch covers are not counted) until its heartbeat says every
   event was folded (consumed + rejected ≥ N, interpolated between heartbeats), plus when
   its persisted state accounted for every message (the heartbeat's checkpoint offsets);
4. the same worker already running when the N events arrive in one burst: events/s from
   the start of the burst until every event was folded;
5. latency: a running worker fed synthetic live traffic (~1,000 events/s, ``ts`` = now:
   contact lifecycles on 10 queues with their agents' state changes) plus one
   ``contact.queued`` probe every 100 ms into one of 10 probe queues (one probe in flight
   per probe queue): time from handing the probe to the producer to the first
   ``floor-snapshots`` record of ``queue:<probe>`` whose ``waiting`` counts it.

Prints a table and whether the targets (Floorwatch ≥ 2× naive, p99 ≤ 300 ms) are met; it
reports and never gates: the exit code is 0 whatever was measured or failed.

    python -m benchmarks.pipeline [--events N] [--rate EV_PER_S] [--latency-s S] [--no-burst]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import heapq
import math
import os
import queue
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from config.settings import TopicSettings
from floorwatch import processes
from floorwatch.broker import EmbeddedBroker
from floorwatch.kafka import EventProducer, ensure_topics
from streams.calendar import to_epoch_ms
from streams.simulation import SCALE_FOR_A_MILLION_EVENTS_A_DAY, default_scenario, simulate

TARGET_SPEEDUP = 2.0
TARGET_P99_MS = 300.0
READY_LINE = "floorwatch worker: ready"
CHANGELOG = "floorwatch-floor-state-changelog"
NAIVE_TOPIC = "naive-events"
CHECKPOINT_PREFIX = b"O|"
WORKER_PREFIX = b"worker:"

START_TIMEOUT_S = 90.0
CONSUME_TIMEOUT_S = 150.0
STOP_TIMEOUT_S = 10.0
PROBE_QUEUES = 10
PROBE_EVERY_S = 0.1
PROBE_TIMEOUT_S = 5.0
TICK_S = 0.01

REPO = Path(__file__).resolve().parent.parent
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b-\x1f]")
"""Terminal escapes and control characters (Faust's spinner writes some to stdout)."""


def log(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


# -- events --------------------------------------------------------------------------------


def simulated_events(n: int, seed: int) -> list[dict[str, Any]]:
    """The first ``n`` events of a simulated weekday afternoon (about 76 k events an hour)."""
    start = to_epoch_ms(datetime(2024, 5, 1, 13, tzinfo=UTC))
    scenario = default_scenario(SCALE_FOR_A_MILLION_EVENTS_A_DAY)
    events: list[dict[str, Any]] = []
    hours = max(1, -(-n // 60_000))
    while len(events) < n:
        if hours > 24 * 14:
            raise ValueError(f"{n:,} events: more than two simulated weeks hold")
        events = list(
            simulate(scenario, seed=seed, start_ms=start, end_ms=start + hours * 3_600_000)
        )
        hours *= 2
    return events[:n]


async def produce(url: str, topics: TopicSettings, events: Iterable[dict[str, Any]]) -> int:
    async with EventProducer(url, topics) as producer:
        for event in events:
            await producer.send(orjson.dumps(event), event)
    return producer.sent


def input_partitions(topics: TopicSettings) -> list[TopicPartition]:
    return [
        TopicPartition(topic, p)
        for topic in (topics.acd_events, topics.crm_events)
        for p in range(topics.partitions)
    ]


# -- child processes -----------------------------------------------------------------------


class Child:
    """A child process whose output lines are collected (with their arrival time) by a thread."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str]) -> None:
        self.name = name
        self.lines: list[tuple[float, str]] = []
        self._new: queue.Queue[tuple[float, str]] = queue.Queue()
        self.started = time.time()
        self.process = processes.spawn(
            args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self._reader = threading.Thread(target=self._read, name=f"{name}-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = _CONTROL.sub("", raw.decode("utf-8", "replace")).rstrip()
            item = (time.time(), line)
            self.lines.append(item)
            self._new.put(item)

    async def wait_for(
        self, predicate: Callable[[str], bool], timeout_s: float
    ) -> tuple[float, str]:
        """The first new line matching ``predicate``; raises TimeoutError or if the child exits."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                item = self._new.get_nowait()
            except queue.Empty:
                if self.process.poll() is not None and self._new.empty():
                    await asyncio.sleep(0.2)  # let the reader pass on the last lines
                    if self._new.empty():
                        raise RuntimeError(
                            f"{self.name} exited with code {self.process.returncode}:\n"
                            + self.tail()
                        ) from None
                    continue
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{self.name}: no expected line after {timeout_s:.0f} s:\n{self.tail()}"
                    ) from None
                await asyncio.sleep(0.02)
                continue
            if predicate(item[1]):
                return item

    def tail(self, lines: int = 15) -> str:
        return "\n".join(f"    | {line}" for _, line in self.lines[-lines:])

    def stop(self) -> None:
        processes.stop(self.process, STOP_TIMEOUT_S)
        self._reader.join(timeout=2)


def child_env(**extra: str) -> dict[str, str]:
    """This environment without any Floorwatch configuration, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOORWATCH_")}
    env["PYTHONUNBUFFERED"] = "1"
    # ``-m benchmarks.naive_faust`` from any working directory
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def start_worker(broker: EmbeddedBroker, data_dir: str) -> Child:
    env = child_env(FLOORWATCH_BROKER=broker.url, FLOORWATCH_WORKER__DATA_DIR=data_dir)
    return Child("floorwatch worker", [sys.executable, "-m", "floorwatch", "worker"], env)


# -- results -------------------------------------------------------------------------------


@dataclass
class Throughput:
    label: str
    rate: float | None = None
    detail: str = ""
    error: str | None = None


@dataclass
class Latency:
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    samples: int = 0
    lost: int = 0
    traffic_rate: float = 0.0
    detail: str = ""
    error: str | None = None


@dataclass
class Report:
    throughputs: dict[str, Throughput] = field(default_factory=dict)
    latency: Latency = field(default_factory=Latency)
    worker_logs: list[tuple[str, Child]] = field(default_factory=list)


R = TypeVar("R", Throughput, Latency)


async def guarded(result: R, what: str, action: Awaitable[R]) -> R:
    """``action``'s result, or ``result`` with the error recorded (never raises)."""
    try:
        return await action
    except Exception as exc:  # a benchmark reports; it never stops half way
        log(f"{what} failed: {exc!r}")
        traceback.print_exc(file=sys.stderr)
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        result.error = f"{type(exc).__name__}: {first_line}"
        return result


# -- 1. ceiling ----------------------------------------------------------------------------


async def measure_ceiling(events: list[dict[str, Any]], rounds: int = 3) -> Throughput:
    result = Throughput("raw aiokafka + orjson (ceiling)")
    n = len(events)
    topics = TopicSettings()
    with EmbeddedBroker() as broker:
        await ensure_topics(broker.url, topics)
        await produce(broker.url, topics, events)
        rates = []
        for _ in range(rounds):
            consumer = AIOKafkaConsumer(
                bootstrap_servers=broker.bootstrap,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=20,
            )
            await consumer.start()
            try:
                tps = input_partitions(topics)
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
                loads = orjson.loads
                seen = 0
                started = time.perf_counter()
                deadline = started + CONSUME_TIMEOUT_S
                while seen < n and time.perf_counter() < deadline:
                    batch = await consumer.getmany(timeout_ms=500)
                    for messages in batch.values():
                        for message in messages:
                            loads(message.value)
                        seen += len(messages)
                elapsed = time.perf_counter() - started
            finally:
                await consumer.stop()
            if seen < n:
                raise TimeoutError(f"read {seen} of {n} events in {CONSUME_TIMEOUT_S:.0f} s")
            rates.append(n / elapsed)
    result.rate = max(rates)
    result.detail = "best of " + ", ".join(f"{r / 1000:.0f}k" for r in rates)
    return result


# -- 2. naive Faust ------------------------------------------------------------------------


async def measure_naive(events: list[dict[str, Any]]) -> Throughput:
    result = Throughput("naive Faust agent, table per event")
    n = len(events)
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="naive-") as data_dir:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(NAIVE_TOPIC, 4, 1)])
        finally:
            await admin.close()
        # both input kinds to the one topic, keyed as Floorwatch keys them
        own = TopicSettings(acd_events=NAIVE_TOPIC, crm_events=NAIVE_TOPIC)
        await produce(broker.url, own, events)
        env = child_env(
            NAIVE_BROKER=broker.bootstrap,
            NAIVE_TOPIC=NAIVE_TOPIC,
            NAIVE_EXPECTED=str(n),
            NAIVE_DATADIR=data_dir,
        )
        child = Child("naive Faust app", [sys.executable, "-m", "benchmarks.naive_faust"], env)
        try:
            first_at, _ = await child.wait_for(lambda line: "naive: first" in line, START_TIMEOUT_S)
            _, done = await child.wait_for(lambda line: "naive: done" in line, CONSUME_TIMEOUT_S)
        finally:
            child.stop()
        _count, first, last = done.split("naive: done", 1)[1].split()
        elapsed = float(last) - float(first)
        result.rate = (n - 1) / elapsed
        result.detail = (
            f"first event {first_at - child.started:.1f} s after start, "
            f"all {n:,} in {elapsed:.1f} s"
        )
    return result


# -- 3 and 4. the Floorwatch worker --------------------------------------------------------


@dataclass
class Progress:
    """What the worker's heartbeats said, and when."""

    heartbeats: list[tuple[float, int, int]] = field(default_factory=list)
    """(published, epoch s; consumed + rejected; duplicates)"""
    committed: list[tuple[float, int]] = field(default_factory=list)
    """(published, epoch s; events folded if the persisted state accounts for everything
    read, i.e. the heartbeat's ``persisted_offsets`` equal its ``read_offsets``, else 0).
    Offsets are not counts on this broker (they have gaps), so they are compared, not
    summed."""
    snapshot_records: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    """Rejections by reason, as of the last heartbeat."""

    def heartbeat(self, value: bytes) -> None:
        beat = orjson.loads(value)
        self.rejected = dict(beat.get("rejected") or {})
        folded = sum(beat.get("consumed", {}).values()) + sum(self.rejected.values())
        sample = (beat["published_ms"] / 1000, folded, int(beat.get("duplicates", 0)))
        bisect.insort(self.heartbeats, sample)  # partitions may deliver out of order
        read = beat.get("read_offsets") or {}
        synced = bool(read) and beat.get("persisted_offsets") == read
        bisect.insort(self.committed, (beat["published_ms"] / 1000, folded if synced else 0))

    def folded(self) -> int:
        return self.heartbeats[-1][1] if self.heartbeats else 0

    def offsets(self) -> int:
        return self.committed[-1][1] if self.committed else 0


def crossing(samples: Iterable[tuple[float, int]], target: int) -> float | None:
    """When a count sampled at times ``samples`` reached ``target``, linearly interpolated
    between the last sample below it and the first at or above it."""
    previous: tuple[float, int] | None = None
    for at, count in samples:
        if count >= target:
            if previous is None or count == previous[1]:
                return at
            at0, count0 = previous
            return at0 + (target - count0) / (count - count0) * (at - at0)
        previous = (at, count)
    return None


async def watch_heartbeats(bootstrap: str, topics: TopicSettings, progress: Progress) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topics.snapshots, p) for p in range(topics.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                progress.snapshot_records += len(messages)
                for message in messages:
                    if message.key and message.key.startswith(WORKER_PREFIX) and message.value:
                        progress.heartbeat(message.value)
    finally:
        await consumer.stop()


async def first_persist(bootstrap: str) -> tuple[float, int] | None:
    """(when, events covered) of the worker's first persisted batch: the earliest
    ``floor-state`` changelog record and the checkpoint offsets written with it (the empty
    state a partition gets when it is assigned, checkpoint offset -1, does not count)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
    )
    await consumer.start()
    try:
        try:
            partitions = await asyncio.wait_for(_partitions_of(consumer, CHANGELOG), 10)
        except TimeoutError:
            return None
        if not partitions:
            return None
        tps = [TopicPartition(CHANGELOG, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        earliest: dict[int, int] = {}  # partition → timestamp of its first record
        checkpoint: dict[int, tuple[int, int]] = {}  # partition → (timestamp, offset), first
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            if not batch:
                break
            for tp, messages in batch.items():
                for message in messages:
                    key = message.key or b""
                    offset = None
                    if key.startswith(CHECKPOINT_PREFIX) and message.value:
                        offset = int(orjson.loads(message.value).get("offset", -1))
                        if offset < 0:
                            # the empty state written when the partition was assigned
                            earliest.pop(tp.partition, None)
                            continue
                    earliest.setdefault(tp.partition, message.timestamp)
                    if offset is not None and tp.partition not in checkpoint:
                        checkpoint[tp.partition] = (message.timestamp, offset)
        if not earliest:
            return None
        first_ms, first_partition = min((at, p) for p, at in earliest.items())
        if first_partition not in checkpoint:
            return first_ms / 1000, 0
        # the first persist ends with its checkpoints; partitions it began writing before
        # then were in the same batch
        closed_ms = checkpoint[first_partition][0]
        covered = sum(
            offset + 1 for p, (_, offset) in checkpoint.items() if earliest[p] <= closed_ms
        )
        return first_ms / 1000, covered
    finally:
        await consumer.stop()


async def _partitions_of(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    while True:
        topics = await consumer.topics()  # no metadata request for the one topic: no auto-create
        if topic in topics:
            partitions = consumer.partitions_for_topic(topic)
            if partitions:
                return set(partitions)
        await asyncio.sleep(0.2)


async def follow_worker(
    broker: EmbeddedBroker, topics: TopicSettings, n: int, worker: Child
) -> tuple[Progress, float | None, float | None]:
    """Watch until every event is folded and the worker's persisted state accounts for every
    message (or the time is up).

    Returns the progress and when (epoch s) the folded count and the persisted count reached
    ``n``; None for what did not within the time limit."""
    progress = Progress()
    tasks = [asyncio.create_task(watch_heartbeats(broker.bootstrap, topics, progress))]
    try:
        deadline = time.monotonic() + CONSUME_TIMEOUT_S
        while time.monotonic() < deadline:
            if progress.folded() >= n and progress.offsets() >= n:
                break
            if worker.process.poll() is not None:
                raise RuntimeError(f"the worker exited early:\n{worker.tail()}")
            for task in tasks:
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            await asyncio.sleep(0.1)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    folded_at = crossing(((at, c) for at, c, _ in progress.heartbeats), n)
    committed_at = next((at for at, total in progress.committed if total >= n), None)
    return progress, folded_at, committed_at


async def measure_worker_cold(events: list[dict[str, Any]], report: Report) -> Throughput:
    result = Throughput("Floorwatch worker (cold, full topic)")
    n = len(events)
    topics = TopicSettings()
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="fw-cold-") as data_dir:
        await ensure_topics(broker.url, topics)
        await produce(broker.url, topics, events)
        worker = start_worker(broker, data_dir)
        try:
            progress, folded_at, committed_at = await follow_worker(broker, topics, n, worker)
            ready = next((at for at, line in worker.lines if READY_LINE in line), None)
        finally:
            worker.stop()
            report.worker_logs.append(("cold start", worker))
        first = await first_persist(broker.bootstrap)
    if folded_at is None:
        raise TimeoutError(
            f"heartbeats say {progress.folded():,} of {n:,} events folded after "
            f"{CONSUME_TIMEOUT_S:.0f} s"
        )
    if first is None:  # no changelog: count from the first heartbeat instead
        first = next(((at, c) for at, c, _ in progress.heartbeats if c > 0), (folded_at, 0))
    first_at, covered = first
    result.rate = (n - covered) / (folded_at - first_at)
    duplicates = progress.heartbeats[-1][2] if progress.heartbeats else 0
    drained = (
        f"all persisted at +{committed_at - first_at:.1f} s"
        if committed_at is not None
        else f"persisted: {progress.offsets():,} of {n:,}"
    )
    ready_text = f"'ready' at +{ready - first_at:.1f} s, " if ready is not None else ""
    result.detail = (
        f"first batch ({covered:,} ev) persisted {first_at - worker.started:.1f} s after start; "
        f"all folded at +{folded_at - first_at:.1f} s; {ready_text}{drained}; "
        f"{duplicates:,} duplicates folded"
    )
    return result


async def measure_worker_burst(events: list[dict[str, Any]], report: Report) -> Throughput:
    result = Throughput("Floorwatch worker (running, burst)")
    n = len(events)
    topics = TopicSettings()
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="fw-burst-") as data_dir:
        await ensure_topics(broker.url, topics)
        worker = start_worker(broker, data_dir)
        try:
            await worker.wait_for(lambda line: READY_LINE in line, START_TIMEOUT_S)
            await asyncio.sleep(1.0)
            started = time.time()
            watch = asyncio.create_task(follow_worker(broker, topics, n, worker))
            await produce(broker.url, topics, events)
            produced = time.time() - started
            progress, folded_at, committed_at = await watch
        finally:
            worker.stop()
            report.worker_logs.append(("burst", worker))
    if folded_at is None:
        raise TimeoutError(
            f"heartbeats say {progress.folded():,} of {n:,} events folded after "
            f"{CONSUME_TIMEOUT_S:.0f} s"
        )
    result.rate = n / (folded_at - started)
    drained = (
        f"all persisted at +{committed_at - started:.1f} s"
        if committed_at is not None
        else f"persisted: {progress.offsets():,} of {n:,}"
    )
    duplicates = progress.heartbeats[-1][2] if progress.heartbeats else 0
    result.detail = (
        f"produced in {produced:.1f} s; all folded at +{folded_at - started:.1f} s; "
        f"{drained}; {duplicates:,} duplicates"
    )
    return result


# -- 5. latency ----------------------------------------------------------------------------

EVENTS_PER_CONTACT = 8


def live_schedule(rate: float, duration_s: float, seed: int) -> list[tuple[float, dict[str, Any]]]:
    """Synthetic live traffic: (seconds from the start, event without ``ts``), about ``rate``
    events/s over ``duration_s``: contacts queued, offered, answered, ended and wrapped on 10
    queues, with their agents' state changes; each agent logs in (``available``) shortly
    before its first contact."""

    def build(arrivals_per_s: float) -> list[tuple[float, dict[str, Any]]]:
        rng = random.Random(seed)
        queues = [f"live-{q}" for q in range(10)]
        per_queue_s = arrivals_per_s / len(queues)
        # an agent is busy ≤ 1 + 2 + 6 + 2 s per contact; round robin over enough agents
        agents_per_queue = max(4, int(per_queue_s * 14) + 1)
        heap: list[tuple[float, int, dict[str, Any]]] = []
        order = 0

        def at(t: float, event: dict[str, Any]) -> None:
            nonlocal order
            if t < duration_s:
                order += 1
                heapq.heappush(heap, (t, order, event))

        for q_index, name in enumerate(queues):
            t = rng.random() / per_queue_s
            k = 0
            while t < duration_s:
                agent = f"live-{q_index}-{k % agents_per_queue:04d}"
                contact = f"live-ct-{q_index}-{k}"
                if k < agents_per_queue:
                    at(max(0.0, t - 1.0), _agent_event(agent, "available"))
                ring = t + rng.uniform(0.05, 1.0)
                answer = ring + rng.uniform(0.2, 2.0)
                end = answer + rng.uniform(1.0, 6.0)
                wrap = end + rng.uniform(0.5, 2.0)
                ids = {"contact_id": contact, "queue": name}
                at(t, {"type": "contact.queued", **ids, "channel": "voice"})
                at(ring, {"type": "contact.offered", **ids, "agent_id": agent})
                at(answer, {"type": "contact.answered", **ids, "agent_id": agent})
                at(answer, _agent_event(agent, "on_contact"))
                at(end, {"type": "contact.ended", **ids, "agent_id": agent})
                at(end, _agent_event(agent, "after_contact_work"))
                at(wrap, {"type": "contact.wrapped", **ids, "agent_id": agent})
                at(wrap, _agent_event(agent, "available"))
                k += 1
                t += rng.expovariate(per_queue_s)
        return [(t, event) for t, _, event in sorted(heap, key=lambda item: item[:2])]

    arrivals = rate / EVENTS_PER_CONTACT
    schedule = build(arrivals)
    # the first seconds hold only the start of lifecycles: scale arrivals to hit the rate
    arrivals *= rate * duration_s / max(1, len(schedule))
    return build(arrivals)


def _agent_event(agent: str, state: str) -> dict[str, Any]:
    return {"type": "agent.state", "agent_id": agent, "state": state}


async def measure_latency(rate: float, duration_s: float, seed: int, report: Report) -> Latency:
    result = Latency()
    schedule = live_schedule(rate, duration_s, seed)
    topics = TopicSettings()
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="fw-live-") as data_dir:
        await ensure_topics(broker.url, topics)
        worker = start_worker(broker, data_dir)
        try:
            await worker.wait_for(lambda line: READY_LINE in line, START_TIMEOUT_S)
            await _live_run(broker, topics, schedule, duration_s, result, worker)
        finally:
            worker.stop()
            report.worker_logs.append(("latency", worker))
    return result


async def _live_run(
    broker: EmbeddedBroker,
    topics: TopicSettings,
    schedule: list[tuple[float, dict[str, Any]]],
    duration_s: float,
    result: Latency,
    worker: Child,
) -> None:
    probes_sent = [0] * PROBE_QUEUES
    in_flight: dict[int, float] = {}  # probe queue → perf_counter when handed to the producer
    latencies: list[float] = []
    sent_at: list[float] = []  # perf_counter of each measured probe's send
    lost = 0
    observer_ready = asyncio.Event()

    async def observe() -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=broker.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=5
        )
        await consumer.start()
        try:
            tps = [TopicPartition(topics.snapshots, p) for p in range(topics.partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            observer_ready.set()
            while True:
                batch = await consumer.getmany(timeout_ms=50)
                seen = time.perf_counter()
                for messages in batch.values():
                    for message in messages:
                        key = message.key or b""
                        if key.startswith(WORKER_PREFIX) and message.value:
                            progress.heartbeat(message.value)
                        if not key.startswith(b"queue:bench-probe-") or not message.value:
                            continue
                        probe = int(key.rsplit(b"-", 1)[1])
                        sent = in_flight.get(probe)
                        if sent is None:
                            continue
                        view = orjson.loads(message.value)
                        if int(view.get("waiting") or 0) >= probes_sent[probe]:
                            latencies.append(seen - sent)
                            sent_at.append(sent)
                            del in_flight[probe]
        finally:
            await consumer.stop()

    progress = Progress()
    observer = asyncio.create_task(observe())
    cpu_start = time.process_time()
    try:
        await asyncio.wait_for(observer_ready.wait(), 30)
        async with EventProducer(broker.url, topics) as producer:
            start = time.perf_counter()
            wall_start_ms = time.time_ns() // 1_000_000
            next_event = 0
            next_probe = start + 1.0  # a second of traffic first
            probe_turn = 0
            sequence = 0
            end = start + duration_s
            while True:
                now = time.perf_counter()
                if now >= end:
                    break
                ts = wall_start_ms + int((now - start) * 1000)
                while next_event < len(schedule) and schedule[next_event][0] <= now - start:
                    sequence += 1
                    event = {
                        "event_id": f"live-{sequence}",
                        "ts": ts,
                        "source": "bench",
                        **schedule[next_event][1],
                    }
                    await producer.send(orjson.dumps(event), event)
                    next_event += 1
                if now >= next_probe:
                    next_probe += PROBE_EVERY_S
                    probe = probe_turn % PROBE_QUEUES
                    probe_turn += 1
                    sent = in_flight.get(probe)
                    if sent is not None and now - sent > PROBE_TIMEOUT_S:
                        lost += 1  # given up: the queue takes a new probe
                        del in_flight[probe]
                    if probe not in in_flight:
                        sequence += 1
                        probes_sent[probe] += 1
                        event = {
                            "event_id": f"probe-{sequence}",
                            "type": "contact.queued",
                            "ts": time.time_ns() // 1_000_000,
                            "source": "bench",
                            "contact_id": f"probe-ct-{sequence}",
                            "queue": f"bench-probe-{probe}",
                            "channel": "voice",
                        }
                        in_flight[probe] = time.perf_counter()
                        await producer.send(orjson.dumps(event), event)
                await producer.flush()
                await asyncio.sleep(max(0.0, TICK_S - (time.perf_counter() - now)))
            elapsed = time.perf_counter() - start
            harness_cpu = (time.process_time() - cpu_start) / elapsed
        end_wall = time.time()
        grace = time.perf_counter() + PROBE_TIMEOUT_S
        while in_flight and time.perf_counter() < grace:
            if observer.done():
                observer.result()
            await asyncio.sleep(0.05)
        lost += len(in_flight)
    finally:
        observer.cancel()
        await asyncio.gather(observer, return_exceptions=True)
    if worker.process.poll() is not None:
        raise RuntimeError(f"the worker exited during the latency run:\n{worker.tail()}")
    result.traffic_rate = next_event / elapsed
    result.samples = len(latencies)
    result.lost = lost
    if latencies:
        ordered = sorted(latencies)
        result.p50_ms = _percentile(ordered, 0.50) * 1000
        result.p99_ms = _percentile(ordered, 0.99) * 1000
        result.max_ms = ordered[-1] * 1000
    slices: dict[int, list[float]] = {}
    for sent, latency in zip(sent_at, latencies, strict=True):
        slices.setdefault(int((sent - start) // 5), []).append(latency)
    by_slice = ", ".join(
        f"{k * 5}–{k * 5 + 5} s: {_percentile(sorted(v), 0.5) * 1000:.0f}"
        for k, v in sorted(slices.items())
    )
    produced = next_event + sum(probes_sent)
    behind = next((at for at, folded, _ in progress.heartbeats if folded >= produced), None)
    caught_up = (
        f"all folded {behind - end_wall:+.1f} s after the traffic ended"
        if behind is not None
        else f"{progress.folded():,} of {produced:,} folded by the last heartbeat"
    )
    rejected = f", rejected {progress.rejected}" if progress.rejected else ""
    result.detail = (
        f"{next_event:,} events in {elapsed:.1f} s ({result.traffic_rate:,.0f} ev/s) "
        f"+ {sum(probes_sent)} probes; {caught_up}{rejected}; "
        f"this harness used {harness_cpu:.0%} of a CPU; "
        f"p50 ms by send time: {by_slice}"
    )


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(len(ordered), rank) - 1]


# -- report --------------------------------------------------------------------------------


def warnings_summary(lines: list[str]) -> list[str]:
    """The worker's warnings and errors, grouped (numbers stripped), with counts."""
    groups: dict[str, list[str]] = {}
    for line in lines:
        if any(word in line for word in ("WARNING", "ERROR", "CRITICAL", "Traceback")):
            text = re.sub(r"^\[[^\]]*\] \[\d+\] ", "", line)
            shape = re.sub(r"\d+(\.\d+)?", "#", text)[:140]
            groups.setdefault(shape, []).append(text)
    out = []
    for texts in groups.values():
        runtimes = [float(r) for t in texts for r in re.findall(r"runtime=([\d.]+)", t)]
        extra = f", runtime up to {max(runtimes):.2f} s" if runtimes else ""
        out.append(f"{len(texts)}× {texts[0][:160]}{extra}")
    return out


def print_report(report: Report, n: int, rate: float) -> None:
    naive = report.throughputs.get("naive")
    naive_rate = naive.rate if naive else None
    print()
    print(f"pipeline benchmark: {n:,} simulated events, a fresh embedded broker per measurement")
    print(f"  {'consume path':<40} {'events/s':>10}   vs naive")
    for item in report.throughputs.values():
        if item.rate is None:
            print(f"  {item.label:<40} {'failed':>10}   {item.error or ''}")
            continue
        versus = f"{item.rate / naive_rate:5.2f}×" if naive_rate else "   - "
        print(f"  {item.label:<40} {item.rate:>10,.0f}   {versus}")
    for item in report.throughputs.values():
        if item.detail:
            print(f"    {item.label}: {item.detail}")
    lat = report.latency
    if lat.p50_ms is not None and lat.p99_ms is not None and lat.max_ms is not None:
        print(
            f"  event → snapshot latency at {rate:,.0f} ev/s: p50 {lat.p50_ms:.0f} ms, "
            f"p99 {lat.p99_ms:.0f} ms, max {lat.max_ms:.0f} ms (n={lat.samples}"
            f"{f', {lat.lost} lost' if lat.lost else ''})"
        )
    else:
        print(f"  event → snapshot latency at {rate:,.0f} ev/s: failed {lat.error or ''}")
    if lat.detail:
        print(f"    latency traffic: {lat.detail}")
    print()
    workers = {
        key.removeprefix("worker-"): item.rate
        for key, item in report.throughputs.items()
        if key.startswith("worker-") and item.rate is not None
    }
    if naive_rate and workers:
        ratios = {path: rate / naive_rate for path, rate in workers.items()}
        verdict = "met" if min(ratios.values()) >= TARGET_SPEEDUP else "NOT met"
        shown = ", ".join(f"{path} {ratio:.2f}×" for path, ratio in ratios.items())
        print(f"  Floorwatch ≥ {TARGET_SPEEDUP:g}× naive: {verdict} ({shown})")
    else:
        print(f"  Floorwatch ≥ {TARGET_SPEEDUP:g}× naive: not measured")
    if lat.p99_ms is not None:
        verdict = "met" if lat.p99_ms <= TARGET_P99_MS and not lat.lost else "NOT met"
        lost = f", {lat.lost} probes never seen" if lat.lost else ""
        print(f"  p99 ≤ {TARGET_P99_MS:.0f} ms: {verdict} (p99 {lat.p99_ms:.0f} ms{lost})")
    else:
        print(f"  p99 ≤ {TARGET_P99_MS:.0f} ms: not measured")
    for name, child in report.worker_logs:
        summary = warnings_summary([line for _, line in child.lines])
        if summary:
            print(f"  worker log ({name}):")
            for entry in summary:
                print(f"    {entry}")


async def run(args: argparse.Namespace) -> Report:
    report = Report()
    began = time.perf_counter()
    log(f"simulating {args.events:,} events")
    events = simulated_events(args.events, args.seed)
    steps: list[tuple[str, str, Callable[[], Awaitable[Any]]]] = [
        ("ceiling", "raw aiokafka + orjson (ceiling)", lambda: measure_ceiling(events)),
        ("naive", "naive Faust agent, table per event", lambda: measure_naive(events)),
        (
            "worker-cold",
            "Floorwatch worker (cold, full topic)",
            lambda: measure_worker_cold(events, report),
        ),
    ]
    if not args.no_burst:
        steps.append(
            (
                "worker-burst",
                "Floorwatch worker (running, burst)",
                lambda: measure_worker_burst(events, report),
            )
        )
    for key, label, step in steps:
        log(f"{label} … (+{time.perf_counter() - began:.0f} s)")
        report.throughputs[key] = await guarded(Throughput(label), label, step())
    elapsed = time.perf_counter() - began
    log(f"latency at {args.rate:,.0f} ev/s for {args.latency_s:g} s … (+{elapsed:.0f} s)")
    report.latency = await guarded(
        Latency(), "latency", measure_latency(args.rate, args.latency_s, args.seed, report)
    )
    log(f"done in {time.perf_counter() - began:.0f} s")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000, help="N events per consume path")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=1000.0, help="live traffic, events/s")
    parser.add_argument("--latency-s", type=float, default=20.0, help="live traffic duration")
    parser.add_argument(
        "--no-burst", action="store_true", help="skip the running-worker burst measurement"
    )
    parser.add_argument("--logs", metavar="DIR", help="write each worker's output to DIR")
    args = parser.parse_args(argv)
    try:
        report = asyncio.run(run(args))
    except Exception:  # reports, never gates
        traceback.print_exc()
        return 0
    print_report(report, args.events, args.rate)
    if args.logs:
        write_logs(report, Path(args.logs))
    return 0


def write_logs(report: Report, directory: Path) -> None:
    """One file per worker run, each line with its time since the worker was started."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, child in report.worker_logs:
        path = directory / f"worker-{name.replace(' ', '-')}.log"
        path.write_text("".join(f"{at - child.started:8.3f} {line}\n" for at, line in child.lines))
        print(f"  worker log ({name}): {path}")


if __name__ == "__main__":
    sys.exit(main())
