"""Crash exactness of the persisted partition state, without Kafka.

A "worker" folds a recorded stream in batches; after each batch it writes
:meth:`PartitionState.changes` to a store (the changelog table) and commits its offset only
every few batches, like Faust. A crash keeps only a random prefix of the crashed batch's
writes and nothing after the last commit; the restarted worker restores the store and
replays from the committed offset. Its interval records must equal an uninterrupted run's.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from streams.calendar import to_epoch_ms
from streams.partition import PartitionState, StateRecord
from streams.simulation import core_settings, default_scenario, simulate
from streams.snapshot import DAY

START = to_epoch_ms(datetime(2024, 5, 1, 6, 0, tzinfo=UTC))


def day_stream(hours: float, seed: int) -> tuple[list[bytes], Any]:
    scenario = default_scenario(0.6)
    end = START + int(hours * 3_600_000)
    raws = [orjson.dumps(e) for e in simulate(scenario, seed=seed, start_ms=START, end_ms=end)]
    return raws, core_settings(scenario)


def through_json(records: list[StateRecord]) -> list[StateRecord]:
    """What a changelog hands back: every value through a JSON round trip."""
    return [(key, orjson.loads(orjson.dumps(value))) for key, value in records]


class Worker:
    """The persistence protocol of agents/: fold a batch, publish, write changes, commit."""

    def __init__(self, settings: Any, store: dict[str, Any]) -> None:
        self.state = PartitionState(settings)
        self.state.restore(list(store.items()))
        self.store = store
        self.published: dict[tuple[str, str], dict[str, Any]] = {}
        self.publish()  # a restored worker republishes its open intervals

    def publish(self) -> None:
        for record in self.state.drain_records():
            self.published[(record["queue"], record["interval_start"])] = record

    def batch(self, raws: list[bytes], keep: int | None = None) -> None:
        for raw in raws:
            self.state.ingest(raw)
        self.publish()
        changes = through_json(self.state.changes())
        for key, value in changes[:keep]:
            if value is None:
                self.store.pop(key, None)
            else:
                self.store[key] = value


def run(raws: list[bytes], settings: Any, batch: int, crashes: set[int], seed: int) -> Any:
    rng = random.Random(seed)
    store: dict[str, Any] = {}
    published: dict[tuple[str, str], dict[str, Any]] = {}
    worker = Worker(settings, store)
    committed = position = batches = 0
    while position < len(raws):
        chunk = raws[position : position + batch]
        if batches in crashes:
            crashes.discard(batches)
            worker.batch(chunk, keep=rng.randrange(0, 40))  # cut anywhere in the writes
            published.update(worker.published)
            worker = Worker(settings, store)
            position = committed
            continue
        worker.batch(chunk)
        position += len(chunk)
        batches += 1
        if batches % 3 == 0:
            committed = position
    published.update(worker.published)
    final = {key: record for key, record in published.items() if record_counts(record)}
    return final, worker.state


def record_counts(record: dict[str, Any]) -> bool:
    return any(record[name] for name in ("offered", "answered", "abandoned", "handled"))


@pytest.fixture(scope="module")
def stream() -> tuple[list[bytes], Any]:
    return day_stream(hours=5, seed=3)


def test_a_restored_state_equals_the_state_it_was_written_from(
    stream: tuple[list[bytes], Any],
) -> None:
    raws, settings = stream
    state = PartitionState(settings)
    for raw in raws[: len(raws) // 2]:
        state.ingest(raw)
    state.drain_records()
    twin = PartitionState(settings)
    twin.restore(through_json(state.changes()))
    now = orjson.loads(raws[len(raws) // 2 - 1])["ts"]
    assert twin.snapshot(now) == state.snapshot(now)
    # final records were handed out before; the open ones are rebuilt from the legs
    open_records = [r for r in state.records() if not r["final"]]
    assert len(open_records) > 10
    assert twin.records() == open_records


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_crashes_anywhere_give_the_records_of_an_uninterrupted_run(
    stream: tuple[list[bytes], Any], seed: int
) -> None:
    raws, settings = stream
    batch = 500
    expected, clean = run(raws, settings, batch, set(), seed)
    batches = len(raws) // batch
    crashes = set(random.Random(seed).sample(range(1, batches), 8))
    actual, restarted = run(raws, settings, batch, crashes, seed)
    assert len(expected) > 50
    assert actual == expected
    now = orjson.loads(raws[-1])["ts"]
    assert (
        restarted.snapshot(now)["groups"]["floor"][DAY]
        == clean.snapshot(now)["groups"]["floor"][DAY]
    )
