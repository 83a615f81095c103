"""Crash exactness and rebalancing against the real broker and real worker processes.

A recorded stream (a few simulated hours in the past) is produced to ``acd-events``; the
``floor-intervals`` topic must end up (latest record per key) exactly as the core computes
in-process for the same events, however the workers are killed, restarted or rebalanced.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from floorwatch.broker import EmbeddedBroker
from streams.calendar import to_epoch_ms
from streams.floor import Floor
from streams.simulation import default_scenario, simulate
from tests.pipeline.harness import (
    config_for,
    keyed,
    latest_intervals,
    produce,
    start_worker,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def recorded() -> list[bytes]:
    """About 20k events: four simulated hours of a mid-sized floor, ending an hour ago."""
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    start = end - timedelta(hours=4)
    events = simulate(
        default_scenario(0.8), seed=11, start_ms=to_epoch_ms(start), end_ms=to_epoch_ms(end)
    )
    return [orjson.dumps(event) for event in events]


@pytest.fixture()
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


def expected_records(raws: list[bytes], config: Any) -> dict[str, Any]:
    floor = Floor(config.core)
    for raw in raws:
        floor.ingest(raw)
    return keyed(floor.records())


def wait_for_records(broker: EmbeddedBroker, config: Any, expected: dict[str, Any]) -> None:
    seen: dict[str, Any] = {}

    def done() -> bool:
        seen.clear()
        seen.update(latest_intervals(broker, config))
        return seen == expected

    try:
        wait_until(done, timeout_s=120, what="floor-intervals to match the core", interval_s=2)
    except AssertionError:
        missing = sorted(expected.keys() - seen.keys())[:5]
        extra = sorted(seen.keys() - expected.keys())[:5]
        differ = [k for k in expected.keys() & seen.keys() if expected[k] != seen[k]][:3]
        detail = {
            k: {
                f: (seen[k][f], expected[k][f]) for f in expected[k] if seen[k][f] != expected[k][f]
            }
            for k in differ
        }
        raise AssertionError(f"missing {missing}, extra {extra}, differing {detail}") from None


def test_sigkilled_workers_end_with_the_records_of_an_uninterrupted_run(
    broker: EmbeddedBroker, recorded: list[bytes], tmp_path: Path
) -> None:
    config = config_for(broker)
    expected = expected_records(recorded, config)
    assert len(expected) > 100
    produce(broker, config, recorded)
    rng = random.Random(5)
    for attempt in range(3):
        worker = start_worker(broker, tmp_path, f"worker-{attempt}")
        time.sleep(rng.uniform(0.5, 3.0))  # somewhere in the middle of folding
        worker.kill()
    worker = start_worker(broker, tmp_path, "worker-final")
    try:
        wait_for_records(broker, config, expected)
    finally:
        worker.stop()


def test_a_worker_joining_and_leaving_changes_nothing(
    broker: EmbeddedBroker, recorded: list[bytes], tmp_path: Path
) -> None:
    config = config_for(broker)
    expected = expected_records(recorded, config)
    half = len(recorded) // 2
    first = start_worker(broker, tmp_path, "first")
    try:
        produce(broker, config, recorded[:half])
        second = start_worker(broker, tmp_path, "second")  # joins: partitions move to it
        produce(broker, config, recorded[half:])
        time.sleep(2)
        assert second.stop() == 0  # leaves: its partitions come back, state from changelog
        wait_for_records(broker, config, expected)
    finally:
        first.stop()
