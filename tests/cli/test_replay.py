"""``floorwatch replay`` against the embedded broker: every line lands where routing says."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from config.settings import TopicSettings
from floorwatch.broker import EmbeddedBroker
from floorwatch.kafka import EventProducer, ensure_topics
from tests.cli.support import environment, floorwatch, fresh_topics, read_topics

pytestmark = pytest.mark.integration

T0 = 1_736_931_600_000  # 2025-01-15T09:00:00Z


def event(kind: str, offset_ms: int, **fields: object) -> bytes:
    return orjson.dumps(
        {"event_id": f"e-{kind}-{offset_ms}", "type": kind, "ts": T0 + offset_ms, **fields}
    )


LINES = [
    event("contact.queued", 0, contact_id="c1", queue="billing"),
    event("contact.queued", 100, contact_id="c2", queue="moves"),
    event("agent.state", 200, agent_id="a-17", state="available"),
    event("contact.answered", 300, contact_id="c1", queue="billing", agent_id="a-17"),
    event("case.opened", 400, case_id="case-9"),
    event("survey.completed", 500, survey_id="sv-3", csat=4),
    event("contact.queued", 600, contact_id="c3", queue="sales"),
    b"this is not json {",
    b"[1, 2, 3]",
    event("lunch.ordered", 700),
]
"""Keyed ACD and CRM events, and four lines only a dead-letter topic can take."""


def expected_placement(topics: TopicSettings) -> list[tuple[str, bytes | None]]:
    keys: list[tuple[str, bytes | None]] = [
        (topics.acd_events, b"billing"),
        (topics.acd_events, b"moves"),
        (topics.acd_events, b"a-17"),
        (topics.acd_events, b"billing"),
        (topics.crm_events, b"case-9"),
        (topics.crm_events, b"sv-3"),
        (topics.acd_events, b"sales"),
        (topics.acd_events, None),
        (topics.acd_events, None),
        (topics.acd_events, None),
    ]
    return keys


def test_replay_produces_every_line_to_its_topic_key_and_partition(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    topics = fresh_topics(partitions=3)
    path = tmp_path / "events.jsonl"
    # blank lines are skipped; a CRLF line ending is not part of the event
    path.write_bytes(b"\n".join(LINES[:3]) + b"\n\n   \n" + b"\r\n".join(LINES[3:]) + b"\n")

    result = floorwatch("replay", str(path), env=environment(broker, topics))

    assert result.returncode == 0, result.stderr
    assert f"{len(LINES)} events in" in result.stderr
    records = read_topics(broker.bootstrap, [topics.acd_events, topics.crm_events])
    produced = {record.value: record for record in records}
    assert sorted(produced) == sorted(LINES)
    for line, (topic, key) in zip(LINES, expected_placement(topics), strict=True):
        record = produced[line]
        assert (record.topic, record.key) == (topic, key), line
        if key is not None:
            assert record.partition == DefaultPartitioner()(key, [0, 1, 2], [0, 1, 2]), line


def test_replay_keeps_the_order_of_a_key(broker: EmbeddedBroker, tmp_path: Path) -> None:
    topics = fresh_topics(partitions=3)
    lines = [event("contact.queued", i, contact_id=f"c{i}", queue="billing") for i in range(500)]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines))

    result = floorwatch("replay", str(path), "--format", "jsonl", env=environment(broker, topics))

    assert result.returncode == 0, result.stderr
    assert [r.value for r in read_topics(broker.bootstrap, [topics.acd_events])] == lines


def test_replay_paced_by_event_time(broker: EmbeddedBroker, tmp_path: Path) -> None:
    topics = fresh_topics(partitions=1)
    lines = [event("contact.queued", i * 1000, contact_id=f"c{i}", queue="q") for i in range(3)]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines))

    result = floorwatch("replay", str(path), "--speed", "4x", env=environment(broker, topics))

    assert result.returncode == 0, result.stderr
    # the producer stamps each record when it is sent: 1 s of event time is 250 ms at 4x
    stamps = [r.timestamp for r in read_topics(broker.bootstrap, [topics.acd_events])]
    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    assert len(gaps) == 2
    assert all(240 <= gap < 750 for gap in gaps), gaps


def test_replay_rejects_an_unknown_format(tmp_path: Path, broker: EmbeddedBroker) -> None:
    path = tmp_path / "avaya.csv"
    path.write_text("1700000000,1,q\n")

    result = floorwatch("replay", str(path), "--format", "avaya", env=environment(broker, None))

    assert result.returncode == 2
    assert "invalid choice: 'avaya'" in result.stderr


def test_event_producer_puts_a_key_where_a_plain_send_does(broker: EmbeddedBroker) -> None:
    ours, plain = fresh_topics(partitions=5), fresh_topics(partitions=5)
    agents = [f"agent-{n}" for n in range(40)]

    async def produce() -> None:
        await ensure_topics(broker.url, ours)
        await ensure_topics(broker.url, plain)
        async with EventProducer(broker.url, ours) as producer:
            for agent in agents:
                await producer.send(orjson.dumps({"type": "agent.state", "agent_id": agent}))
        baseline = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await baseline.start()
        try:
            for agent in agents:
                await baseline.send_and_wait(plain.acd_events, b"", key=agent.encode())
        finally:
            await baseline.stop()

    asyncio.run(produce())

    def placement(topic: str) -> dict[bytes | None, int]:
        return {r.key: r.partition for r in read_topics(broker.bootstrap, [topic])}

    assert placement(ours.acd_events) == placement(plain.acd_events)
    assert len(set(placement(ours.acd_events).values())) == 5
