"""Integration fixtures on the shared session broker (tests/conftest.py): fresh topics and a
real gateway per test, and a producer writing what the workers would."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from config.settings import FloorwatchConfig, GatewaySettings, TopicSettings, WorkerSettings
from floorwatch.broker import EmbeddedBroker
from streams.settings import CoreSettings
from tests.wallboard.live import Publisher, create_topics
from wallboard.server import Gateway

_runs = itertools.count(1)


@pytest.fixture
def config(broker: EmbeddedBroker) -> FloorwatchConfig:
    """A configuration on the shared session broker with topic names of this test alone."""
    prefix = f"wallboard-{next(_runs)}"  # the broker is shared with other test packages
    topics = TopicSettings(
        acd_events=f"{prefix}-acd-events",
        crm_events=f"{prefix}-crm-events",
        dead_letters=f"{prefix}-dead-letters",
        snapshots=f"{prefix}-floor-snapshots",
        intervals=f"{prefix}-floor-intervals",
        alerts=f"{prefix}-floor-alerts",
        partitions=3,
    )
    return FloorwatchConfig(
        source="<test>",
        broker=broker.url,
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
