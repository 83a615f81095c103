"""The worker's own /metrics: what it folded, rejected and dropped, its lag, scraped for real."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from floorwatch.broker import EmbeddedBroker
from floorwatch.kafka import ensure_topics
from tests.pipeline.harness import (
    Process,
    config_for,
    embedded_broker,
    environment,
    free_port,
    wait_until,
)


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    with embedded_broker() as broker:
        yield broker


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_worker_metrics_count_what_was_folded_rejected_and_dropped(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    config = config_for(own_broker)
    topics = config.topics
    asyncio.run(ensure_topics(own_broker.url, topics))
    port = free_port()
    env = environment(own_broker, tmp_path / "data", FLOORWATCH_WORKER__METRICS_PORT=str(port))
    worker = Process(["worker"], env, tmp_path / "worker.log")
    try:
        worker.wait_for_line("floorwatch worker: ready")
        now = int(time.time() * 1000)
        queued = {
            "event_id": "e1",
            "type": "contact.queued",
            "ts": now - 2_000,
            "contact_id": "c1",
            "queue": "m_q",
        }
        state = {
            "event_id": "e2",
            "type": "agent.state",
            "ts": now - 1_000,
            "agent_id": "a1",
            "state": "available",
        }
        messages = [
            (b"m_q", orjson.dumps(queued)),
            (b"m_q", orjson.dumps(queued)),  # the same event again: a duplicate
            (b"a1", orjson.dumps(state)),
            (b"m_q", b"{not json"),
        ]

        async def produce() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=own_broker.bootstrap)
            await producer.start()
            try:
                for key, value in messages:
                    await producer.send_and_wait(topics.acd_events, value, key=key)
            finally:
                await producer.stop()

        asyncio.run(produce())

        def folded() -> bool:
            samples = scrape(port)
            lag = [v for (n, _), v in samples.items() if n == "floorwatch_worker_consumer_lag"]
            return (
                samples.get(("floorwatch_worker_rejected_total", (("reason", "invalid_json"),)))
                == 1
                and bool(lag)
                and sum(lag) == 0
            )

        wait_until(folded, 20, "the worker to fold everything", interval_s=0.2)
        samples = scrape(port)
        acd = topics.acd_events
        assert (
            samples[
                ("floorwatch_worker_events_total", (("topic", acd), ("type", "contact.queued")))
            ]
            == 1
        )
        assert (
            samples[("floorwatch_worker_events_total", (("topic", acd), ("type", "agent.state")))]
            == 1
        )
        assert samples[("floorwatch_worker_duplicates_total", ())] == 1
        assert samples[("floorwatch_worker_processing_lag_seconds_count", ())] == 2
        # both events were 1-2 s old when folded (plus the pipeline's own milliseconds)
        assert samples[("floorwatch_worker_processing_lag_seconds_bucket", (("le", "0.5"),))] == 0
        assert samples[("floorwatch_worker_processing_lag_seconds_bucket", (("le", "5.0"),))] == 2
        assert samples[("floorwatch_worker_partitions", ())] == topics.partitions
        assert samples[("floorwatch_worker_alert_evaluator", ())] == 1
    finally:
        assert worker.stop() == 0
