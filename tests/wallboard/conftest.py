"""Integration fixtures: one embedded broker per session, fresh topics and a real gateway per
test, and a producer writing what the workers would."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from config.settings import FloorwatchConfig, GatewaySettings, TopicSettings, WorkerSettings
from floorwatch.broker import EmbeddedBroker
from streams.settings import CoreSettings
from tests.wallboard.live import Publisher, create_topics
from wallboard.server import Gateway

_runs = itertools.count(1)


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """``kafka://127.0.0.1:PORT`` of an embedded broker shared by the session."""
    with EmbeddedBroker() as embedded:
        yield embedded.url


@pytest.fixture
def config(broker: str) -> FloorwatchConfig:
    """A configuration on the session broker with topic names of this test alone."""
    run = next(_runs)
    topics = TopicSettings(
        acd_events=f"acd-events-{run}",
        crm_events=f"crm-events-{run}",
        dead_letters=f"dead-letters-{run}",
        snapshots=f"floor-snapshots-{run}",
        intervals=f"floor-intervals-{run}",
        alerts=f"floor-alerts-{run}",
        partitions=3,
    )
    return FloorwatchConfig(
        source="<test>",
        broker=broker,
        topics=topics,
        core=CoreSettings(),
        worker=WorkerSettings(snapshot_ms=100),
        gateway=GatewaySettings(stale_s=5.0),
    )


@pytest_asyncio.fixture
async def gateway(config: FloorwatchConfig) -> AsyncIterator[Gateway]:
    """A running gateway on a free loopback port, its topics created first."""
    await create_topics(config)
    async with Gateway(config, host="127.0.0.1", port=0) as running:
        yield running


@pytest_asyncio.fixture
async def publisher(config: FloorwatchConfig) -> AsyncIterator[Publisher]:
    published = Publisher(config)
    await published.start()
    try:
        yield published
    finally:
        await published.stop()
