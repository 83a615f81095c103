"""Acceptance (issue 7): on the embedded broker, with a real worker and a real gateway, a queue
driven into understaffing shows it in the staffing figures of ``/api/state`` — the gap
negative and growing, the projected service level with the agents staffed falling below
target — while the measured service level is still on target; it falls only afterwards.

The events are crafted, not simulated, so each step is known: three agents serve ``sales``;
the last 20 minutes saw 10 contacts (1 erlang at an AHT of 180 s), all answered in 5 s.
Then contacts arrive in batches of 10 and wait (the load rises by an erlang per batch,
the agents stay three). Only at the end are the waiting contacts answered, late.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agents.worker import READY_LINE
from config.loader import load_config
from floorwatch.broker import EmbeddedBroker
from floorwatch.kafka import ensure_topics
from tests.pipeline.harness import Process, embedded_broker, environment, free_port, produce

pytestmark = pytest.mark.integration

GATEWAY_LINE = "floorwatch gateway: http://"
QUEUE = "sales"
AGENTS = 3
AHT_S = 180
TARGET = 0.80
SL = "answered_of_offered"
BATCHES = 4
BATCH = 10
STEP_TIMEOUT_S = 30.0


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture()
def broker() -> Iterator[EmbeddedBroker]:
    """A fresh broker: the worker's consumer group and changelog names are fixed."""
    with embedded_broker() as running:
        yield running


class Gateway:
    """A real worker and a real gateway on ``broker``, and reads of ``/api/state``."""

    def __init__(self, broker: EmbeddedBroker, tmp: Path) -> None:
        env = environment(broker, tmp / "worker-data")
        self.config = load_config(env=env)
        asyncio.run(ensure_topics(broker.url, self.config.topics))
        self.port = free_port()
        self.worker = Process(["worker"], env, tmp / "worker.log")
        self.gateway = Process(["gateway", "--port", str(self.port)], env, tmp / "gateway.log")
        self.gateway.wait_for_line(GATEWAY_LINE)
        self.worker.wait_for_line(READY_LINE, timeout_s=90)

    def stop(self) -> None:
        for process in (self.gateway, self.worker):
            if process.proc.poll() is None:
                process.stop()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.log.name} ---\n{p.log.read_text(errors='replace')[-2000:]}"
            for p in (self.worker, self.gateway)
        )

    def queue(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/state", timeout=5) as r:
                state = orjson.loads(r.read())
        except (urllib.error.URLError, OSError):
            return None
        return next((q for q in state.get("queues", ()) if q["queue"] == QUEUE), None)

    def scrape(self) -> dict[str, float]:
        """The queue's samples in ``/metrics``, by metric name."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            text = r.read().decode()
        return {
            sample.name: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.labels.get("queue") == QUEUE
        }

    def wait_for(self, what: str, ready: Any) -> dict[str, Any]:
        """Poll ``/api/state`` until ``ready(queue view)``; the view that satisfied it."""
        deadline = time.monotonic() + STEP_TIMEOUT_S
        seen = None
        while time.monotonic() < deadline:
            seen = self.queue()
            if seen is not None and ready(seen):
                return seen
            time.sleep(0.1)
        shown = None if seen is None else {k: seen.get(k) for k in ("staffing", "windows")}
        raise AssertionError(f"no {what} within {STEP_TIMEOUT_S} s; last: {shown}\n{self.logs()}")


@pytest.fixture()
def gateway(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Gateway]:
    running = Gateway(broker, tmp_path)
    yield running
    running.stop()


def contact(kind: str, contact_id: str, ts: int, **fields: Any) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"{contact_id}-{kind}",
            "type": f"contact.{kind}",
            "ts": ts,
            "contact_id": contact_id,
            "queue": QUEUE,
            **fields,
        }
    )


def baseline(start: int) -> list[bytes]:
    """Three agents on sales; 10 contacts over the last 20 minutes, answered in 5 s, talked
    150 s, wrapped 30 s later (AHT 180 s)."""
    raws = [
        orjson.dumps(
            {
                "event_id": f"agent{i}-on",
                "type": "agent.state",
                "ts": start - 25 * 60_000,
                "agent_id": f"agent{i}",
                "state": "available",
                "queues": [QUEUE],
            }
        )
        for i in range(AGENTS)
    ]
    for i in range(10):
        queued, cid = start - 20 * 60_000 + i * 90_000, f"base{i}"
        agent = {"agent_id": f"agent{i % AGENTS}"}
        raws += [
            contact("queued", cid, queued),
            contact("answered", cid, queued + 5_000, **agent),
            contact("ended", cid, queued + 155_000, **agent),
            contact("wrapped", cid, queued + 185_000, **agent),
        ]
    return raws


def measured(view: dict[str, Any]) -> float | None:
    level: float | None = view["windows"]["rolling_30"]["service_level"][SL]
    return level


def test_gap_and_staffed_projection_move_before_the_measured_service_level_falls(
    broker: EmbeddedBroker, gateway: Gateway
) -> None:
    start = now_ms()
    produce(broker, gateway.config, baseline(start))
    calm = gateway.wait_for(
        "baseline",
        lambda q: (
            q["staffing"]["contacts"] == 10
            and q["staffing"]["handled"] == 10
            and q["staffing"]["staffed_agents"] == AGENTS
        ),
    )
    steps = [(time.monotonic(), calm)]

    waiting: list[tuple[str, int]] = []
    for batch in range(BATCHES):
        queued = now_ms() - 60_000  # each has waited a minute already
        ids = [f"rise{batch}-{i}" for i in range(BATCH)]
        produce(broker, gateway.config, [contact("queued", cid, queued) for cid in ids])
        waiting += [(cid, queued) for cid in ids]
        offered = 10 + len(waiting)
        view = gateway.wait_for(
            f"{offered} offered", lambda q, n=offered: q["staffing"]["contacts"] == n
        )
        steps.append((time.monotonic(), view))

    # late answers: the contacts that waited leave the queue now, far beyond 20 s
    answered = now_ms()
    produce(
        broker,
        gateway.config,
        [contact("answered", cid, answered, agent_id="agent0") for cid, _ in waiting],
    )
    fallen = gateway.wait_for(
        "the measured service level below target",
        lambda q: (measured(q) or 1.0) < TARGET,
    )
    fell_at = time.monotonic()

    staffing = [view["staffing"] for _, view in steps]
    gaps = [s["gap"] for s in staffing]
    projected = [s["projected_service_level"] for s in staffing]
    traffic = [s["traffic_erlangs"] for s in staffing]
    report = {"gap": gaps, "projected": projected, "traffic": traffic}

    # the baseline is staffed for its load: three agents for one erlang, on target
    assert staffing[0]["required_agents"] == AGENTS, report
    assert gaps[0] == 0 and projected[0] >= TARGET, report
    # every batch raises the load, and with it the requirement; the agents stay three
    assert all(b > a for a, b in pairwise(traffic)), report
    assert all(s["staffed_agents"] == AGENTS for s in staffing), report
    # the gap is negative and growing, the staffed projection falling below target ...
    assert all(b <= a for a, b in pairwise(gaps)), report
    assert gaps[1] < 0 and gaps[-1] <= -3, report
    assert all(b <= a for a, b in pairwise(projected)), report
    assert projected[1] < TARGET and projected[-1] < projected[1], report
    # ... each figure consistent with the others ...
    for s in staffing:
        assert s["gap"] == s["staffed_agents"] - s["required_agents"], s
        assert s["aht_s"] == AHT_S and s["model"] == "erlang_c", s
    # ... while the measured service level is still on target: nobody has left the queue late
    assert [measured(view) for _, view in steps] == [1.0] * len(steps), report
    first_understaffed = next(t for t, view in steps if view["staffing"]["gap"] < 0)
    assert first_understaffed < fell_at
    # and only once the waiting contacts are answered late does it fall
    assert measured(fallen) == pytest.approx(10 / (10 + len(waiting)))

    # Prometheus shows the same figures as the state
    def exported() -> dict[str, Any] | None:
        view, samples = gateway.queue(), gateway.scrape()
        if view is None:
            return None
        figures = view["staffing"]
        pairs = {
            "floorwatch_queue_staffing_gap_agents": figures["gap"],
            "floorwatch_queue_required_agents": figures["required_agents"],
            "floorwatch_queue_traffic_erlangs": figures["traffic_erlangs"],
            "floorwatch_queue_projected_service_level_staffed_ratio": (
                figures["projected_service_level"]
            ),
        }
        return pairs if all(samples.get(k) == v for k, v in pairs.items()) else None

    deadline = time.monotonic() + STEP_TIMEOUT_S
    pairs = exported()
    while pairs is None and time.monotonic() < deadline:
        time.sleep(0.2)
        pairs = exported()
    assert pairs is not None, (gateway.scrape(), gateway.queue())
    assert pairs["floorwatch_queue_staffing_gap_agents"] <= -3
