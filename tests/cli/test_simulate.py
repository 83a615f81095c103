"""``floorwatch simulate`` against the embedded broker: deterministic, routed, never early."""

from __future__ import annotations

import time
from collections import defaultdict

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from config.settings import TopicSettings
from floorwatch.broker import EmbeddedBroker
from streams import wire
from streams.simulation import scenario_for_rate, simulate
from tests.cli.support import Record, environment, floorwatch, fresh_topics, read_topics

pytestmark = pytest.mark.integration

START = "2025-01-15T10:00:00Z"
START_MS = 1_736_935_200_000
HISTORY = ("--speed", "max", "--duration", "600", "--seed", "1", "--start", START, "--rate", "20")


def by_partition(
    records: list[Record], topics: TopicSettings
) -> dict[tuple[str, int], list[tuple[bytes | None, object]]]:
    """(kind, partition) → the (key, decoded event) sequence, in offset order."""
    kinds = {topics.acd_events: wire.ACD, topics.crm_events: wire.CRM}
    placed: dict[tuple[str, int], list[tuple[bytes | None, object]]] = defaultdict(list)
    for record in records:
        placed[kinds[record.topic], record.partition].append(
            (record.key, orjson.loads(record.value))
        )
    return dict(placed)


def run_history(broker: EmbeddedBroker) -> tuple[TopicSettings, list[Record]]:
    topics = fresh_topics(partitions=3)
    result = floorwatch("simulate", *HISTORY, env=environment(broker, topics))
    assert result.returncode == 0, result.stderr
    return topics, read_topics(broker.bootstrap, [topics.acd_events, topics.crm_events])


@pytest.fixture(scope="module")
def history(broker: EmbeddedBroker) -> tuple[TopicSettings, list[Record]]:
    """Ten simulated minutes produced at full speed."""
    return run_history(broker)


def test_simulated_history_is_the_core_simulation_routed_by_wire_route(
    history: tuple[TopicSettings, list[Record]],
) -> None:
    topics, records = history
    expected: dict[tuple[str, int], list[tuple[bytes | None, object]]] = defaultdict(list)
    events = simulate(scenario_for_rate(20), seed=1, start_ms=START_MS, end_ms=START_MS + 600_000)
    for event in events:
        kind, key = wire.route(event)
        key_bytes = None if key is None else key.encode()
        assert key_bytes is not None  # the simulator only makes routable events
        partition = DefaultPartitioner()(key_bytes, [0, 1, 2], [0, 1, 2])
        expected[kind, partition].append((key_bytes, event))

    assert sum(map(len, expected.values())) > 1000
    assert by_partition(records, topics) == dict(expected)


def test_same_seed_produces_the_same_messages(
    broker: EmbeddedBroker, history: tuple[TopicSettings, list[Record]]
) -> None:
    topics, records = history
    again_topics, again = run_history(broker)

    assert by_partition(again, again_topics) == by_partition(records, topics)


def test_real_time_simulation_never_produces_an_event_before_its_time(
    broker: EmbeddedBroker,
) -> None:
    topics = fresh_topics(partitions=1)
    start_ms = int(time.time() * 1000) - 1000
    args = ("--speed", "max", "--start", str(start_ms), "--duration", "4", "--rate", "200")

    result = floorwatch("simulate", *args, env=environment(broker, topics))

    assert result.returncode == 0, result.stderr
    records = read_topics(broker.bootstrap, [topics.acd_events, topics.crm_events])
    times = [(orjson.loads(r.value), r.timestamp) for r in records]
    assert sum(1 for event, _ in times if event["ts"] > start_ms + 2000) > 10
    # a record's timestamp is when the producer took it: never before the event happened
    assert all(sent_ms >= event["ts"] for event, sent_ms in times)
