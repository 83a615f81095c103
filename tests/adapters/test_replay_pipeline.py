"""Acceptance: a queue_log replayed through the embedded broker by a real ``floorwatch replay
--format asterisk`` process and folded by a real worker ends in exactly the interval records
the adapter + core give in-process (the pattern of tests/pipeline/test_end_to_end.py)."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from floorwatch.broker import EmbeddedBroker
from floorwatch.formats import FormatOptions, read_asterisk
from streams.adapters.asterisk import AsteriskOptions
from streams.floor import Floor
from tests.pipeline.harness import (
    config_for,
    environment,
    keyed,
    latest_intervals,
    start_worker,
    wait_until,
)

pytestmark = pytest.mark.integration

START = 1709539200  # 2024-03-04T08:00:00Z
QUEUES = ("billing", "support", "sales")
AGENTS = tuple(f"PJSIP/{100 + n}" for n in range(8))
WRAPUP_S = 20
REPLAY = (sys.executable, "-m", "floorwatch", "replay")


@pytest.fixture()
def broker() -> Iterator[EmbeddedBroker]:
    """A broker of this test alone: the worker's group and changelog names are fixed."""
    with EmbeddedBroker() as running:
        yield running


def queue_log(seed: int = 8, hours: float = 3) -> bytes:
    """A deterministic queue_log of a small floor: eight agents in three queues; calls are
    answered (some after a ring-no-answer), abandoned, time out, leave by key, find the queue
    empty or are transferred; agents pause for breaks. Lines in time order, as Asterisk
    writes them."""
    rng = random.Random(seed)
    lines: list[tuple[int, int, str]] = []

    def log(ts: int, uid: str, queue: str, agent: str, verb: str, *data: object) -> None:
        fields = "|".join(str(d) for d in data)
        lines.append((ts, len(lines), f"{ts}|{uid}|{queue}|{agent}|{verb}|{fields}"))

    for agent in AGENTS:
        for queue in rng.sample(QUEUES, 2):
            log(START, "MANAGER", queue, agent, "ADDMEMBER", "")
    free_at = dict.fromkeys(AGENTS, START)
    end = START + int(hours * 3600)
    t = START + 5
    n = 0
    while t < end:
        t += max(1, int(rng.expovariate(1 / 25)))
        n += 1
        uid = f"{t}.{n}"
        queue = rng.choice(QUEUES)
        log(t, uid, queue, "NONE", "ENTERQUEUE", "", f"55501{n:04d}", 1)
        fate = rng.random()
        wait = rng.randint(1, 90)
        if fate < 0.72:
            agent = min(AGENTS, key=lambda a: (free_at[a], a))
            connect = max(t + wait, free_at[agent] + WRAPUP_S + 1)
            if connect - t > 300:
                log(t + 300, uid, queue, "NONE", "EXITWITHTIMEOUT", 1, 1, 300)
                continue
            if rng.random() < 0.2:
                other = rng.choice([a for a in AGENTS if a != agent])
                log(connect - 16, uid, queue, other, "RINGNOANSWER", 15000)
            ring = rng.randint(0, 8)
            log(connect, uid, queue, agent, "CONNECT", connect - t, f"{connect}.9{n}", ring)
            talk = rng.randint(20, 420)
            done = connect + talk
            if rng.random() < 0.06:
                log(
                    done,
                    uid,
                    queue,
                    agent,
                    "BLINDTRANSFER",
                    "2000",
                    "internal",
                    connect - t,
                    talk,
                    1,
                )
            else:
                verb = rng.choice(("COMPLETEAGENT", "COMPLETECALLER"))
                log(done, uid, queue, agent, verb, connect - t, talk, 1)
            free_at[agent] = done
            if rng.random() < 0.1:
                pause = done + WRAPUP_S + rng.randint(1, 30)
                log(
                    pause, "NONE", queue, agent, "PAUSE", rng.choice(("Break", "Lunch", "Coaching"))
                )
                log(pause + rng.randint(60, 900), "NONE", queue, agent, "UNPAUSE", "")
                free_at[agent] = pause + 900
        elif fate < 0.88:
            log(t + wait, uid, queue, "NONE", "ABANDON", 1, 1, wait)
        elif fate < 0.94:
            log(t + wait, uid, queue, "NONE", "EXITWITHKEY", 5, 1, 1, wait)
        else:
            log(t + 1, uid, queue, "NONE", "EXITEMPTY", 1, 1, 1)
    log(end, "NONE", "NONE", "NONE", "QUEUESTART", "")
    return b"".join(text.encode() + b"\n" for _, _, text in sorted(lines))


def test_replayed_queue_log_gives_the_interval_records_of_the_adapter_and_core(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    path = tmp_path / "queue_log"
    path.write_bytes(queue_log())
    config = config_for(broker)
    options = FormatOptions(asterisk=AsteriskOptions(wrapup_s=WRAPUP_S))
    floor = Floor(config.core)
    raws = [raw for raw, _ in read_asterisk(path, options)]
    for raw in raws:
        floor.ingest(raw)
    expected = keyed(floor.records())
    assert not floor.rejected, floor.rejected
    assert len(expected) >= 3 * 12  # three queues, three hours of 15-minute intervals
    kinds = {key: sum(r[key] for r in expected.values()) for key in ("abandoned", "flowed_out")}
    assert kinds["abandoned"] > 0 and kinds["flowed_out"] > 0
    assert sum(r["acw_s_sum"] for r in expected.values()) == WRAPUP_S * sum(
        r["handled"] for r in expected.values()
    )

    worker = start_worker(broker, tmp_path, "worker")
    try:
        replay = subprocess.run(
            [*REPLAY, str(path), "--format", "asterisk", "--wrapup-s", str(WRAPUP_S)],
            env=environment(broker, tmp_path / "unused"),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert replay.returncode == 0, replay.stderr[-3000:]
        assert f"{len(raws)} events in" in replay.stderr
        seen: dict[str, Any] = {}

        def equal() -> bool:
            seen.clear()
            seen.update(latest_intervals(broker, config))
            return seen == expected

        try:
            wait_until(equal, timeout_s=90, what="floor-intervals to equal the core's records")
        except AssertionError as error:
            differ = sorted(k for k in expected if seen.get(k) != expected[k])
            raise AssertionError(
                f"{error}: {len(seen)} seen, {len(expected)} expected, differing {differ[:5]}"
            ) from None
    finally:
        worker.stop()
