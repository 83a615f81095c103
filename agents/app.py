"""The Faust app: topics, the state table, the agents and the snapshot timer.

Everything here is wiring; what a batch of events does is :class:`agents.pipeline.Pipeline`.

- ``track_floor`` subscribes the group to ``acd-events`` (contact events keyed by queue, agent
  events keyed by agent id): Faust assigns the partitions and recovers their state, and the
  pipeline's reader (``read_acd``) reads them in batches and folds them into the worker's
  partition states (:meth:`agents.pipeline.Pipeline.read_forever`);
- a timer persists what was folded to the ``floor-state`` table every ``worker.persist_ms``
  (its changelog topic has as many partitions as ``acd-events``; a partition's state goes to
  the same partition number);
- ``fold_crm`` consumes ``crm-events``: validated and counted (CRM tables come with the CRM
  KPIs), bad ones dead-lettered;
- a timer publishes changed queue and agent snapshots to ``floor-snapshots`` every
  ``worker.snapshot_ms`` and a worker heartbeat every second.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.types import TP, TransportT

from agents.alerting import AlertEvaluator
from agents.pipeline import Pipeline
from agents.transport import FastFetchTransport
from config.settings import FloorwatchConfig

log = logging.getLogger(__name__)

APP_ID = "floorwatch"
STATE_TABLE = "floor-state"
BATCH_WITHIN_S = 0.005
"""How long a batch waits for more events once it has one (adds at most this latency)."""


class FloorwatchApp(faust.App):
    """Faust app with the fast-fetch transport (see :mod:`agents.transport`)."""

    fetch_wait_ms: int = 20
    pipeline: Pipeline | None = None

    def _new_transport(self) -> TransportT:
        return FastFetchTransport(self.conf.broker_consumer, self)

    def hot_path_partitions(self) -> set[TP]:
        """Assigned partitions the pipeline reads itself (Faust must not fetch them)."""
        if self.pipeline is None:
            return set()
        topic = self.pipeline.topics.acd_events
        return {tp for tp in self.consumer.assignment() if tp.topic == topic}


def broker_address(config: FloorwatchConfig) -> str:
    if config.broker is None:
        raise ValueError("no broker configured: set FLOORWATCH_BROKER=kafka://host:port")
    return config.broker if "://" in config.broker else f"kafka://{config.broker}"


def worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def create_app(config: FloorwatchConfig) -> tuple[FloorwatchApp, Pipeline]:
    """The app and the pipeline its agents drive."""
    worker = config.worker
    topics = config.topics
    session = worker.session_timeout_s
    app = FloorwatchApp(
        APP_ID,
        broker=broker_address(config),
        store="memory://",
        topic_partitions=topics.partitions,
        topic_allow_declare=True,
        processing_guarantee="at_least_once",
        broker_session_timeout=session,
        broker_heartbeat_interval=worker.heartbeat_s,
        broker_request_timeout=max(session * 2, 30),
        broker_rebalance_timeout=max(session * 2, 30),
        broker_commit_interval=0.5,
        consumer_auto_offset_reset="earliest",
        producer_linger=0.005,
        stream_wait_empty=False,
        web_enabled=False,
        datadir=worker.data_dir,
        table_standby_replicas=0,
        logging_config=None,
    )
    app.fetch_wait_ms = worker.fetch_wait_ms

    def topic(name: str, **options: Any) -> faust.TopicT:
        return app.topic(
            name,
            partitions=topics.partitions,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            **options,
        )

    # no acks: Faust hands no message of this topic on (see track_floor), so it has no
    # offsets to commit, and must not report its partitions as stuck for not committing
    acd = topic(topics.acd_events, acks=False)
    crm = topic(topics.crm_events)
    table = app.Table(
        STATE_TABLE,
        default=None,
        partitions=topics.partitions,
        key_type=bytes,  # raw bytes both ways: the values are orjson documents
        value_type=bytes,
    )
    pipeline = app.pipeline = Pipeline(config, table=table, worker_id=worker_id())
    evaluator = pipeline.alerts = AlertEvaluator(config, pipeline)

    @app.agent(acd)
    async def track_floor(stream: faust.StreamT[bytes]) -> None:
        """Subscribes the group to ``acd-events``: Faust assigns its partitions to workers and
        recovers their ``floor-state`` partitions; the pipeline then reads and folds them
        itself (``read_acd``). Faust's per-message path costs more than the fold: it caps a
        worker at about Faust's stateless rate (PLATFORM.md), the hot path does not."""
        async for _ in stream:
            pass  # fetched before the partition was handed to the pipeline: it reads it too

    @app.task
    async def read_acd() -> None:
        await _or_crash(app, pipeline.read_forever())

    @app.agent(crm)
    async def fold_crm(stream: faust.StreamT[bytes]) -> None:
        async for events in stream.take_events(worker.batch_max, within=BATCH_WITHIN_S):
            await _or_crash(app, pipeline.check_batch(events))

    @table.on_recover
    async def restore() -> None:
        await pipeline.restore(_active(app, topics.acd_events))

    @app.task
    async def persist() -> None:
        await _every(app, worker.persist_ms, pipeline.persist)

    @app.task
    async def publish() -> None:
        await _every(app, worker.snapshot_ms, pipeline.publish_snapshots)

    @app.task
    async def evaluate_alerts() -> None:
        await _every(app, config.alerts.evaluate_ms, evaluator.evaluate)

    @app.on_before_shutdown.connect
    async def close(_sender: Any, **_: Any) -> None:
        await pipeline.close()

    @app.on_partitions_revoked.connect
    async def revoked(_sender: Any, revoked: set[TP], **_: Any) -> None:
        await pipeline.revoke({tp.partition for tp in revoked if tp.topic == topics.acd_events})

    return app, pipeline


async def _every(app: faust.App, interval_ms: int, action: Callable[[], Awaitable[None]]) -> None:
    """Run ``action`` every ``interval_ms`` from the start of one run to the next; a run that
    takes longer delays the next instead of overlapping it (a slow broker is not an error)."""
    loop = asyncio.get_running_loop()
    interval = interval_ms / 1000
    while not app.should_stop:
        started = loop.time()
        await _or_crash(app, action())
        await asyncio.sleep(max(0.0, interval - (loop.time() - started)))


async def _or_crash(app: faust.App, batch: Awaitable[None]) -> None:
    """A bug must stop the worker (a supervisor restarts it and the state is exact), not
    leave it running with a dead agent."""
    try:
        await batch
    except Exception as exc:
        log.exception("batch failed; stopping the worker")
        await app.crash(exc)
        raise


def _active(app: faust.App, topic: str) -> set[int]:
    return {tp.partition for tp in app.consumer.assignment() if tp.topic == topic}
