"""A running demo stack for browser tests: embedded broker, a real worker process, a real
gateway process and (optionally) the simulator, configured like the simulated floor.

The configuration file gives the simulator's sites, clients, queues and teams, so tiles say
which site and channel a queue is, plus a ``lab`` site (the default) for the queues tests
produce events for. The colour thresholds file makes ``wb_red`` turn amber at one waiting
contact and red at two.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from agents.worker import READY_LINE
from config.loader import load_config
from config.settings import FloorwatchConfig
from floorwatch.broker import EmbeddedBroker
from floorwatch.kafka import EventProducer, ensure_topics
from streams.simulation import core_settings, scenario_for_rate
from tests.pipeline.harness import Process, environment

GATEWAY_LINE = "floorwatch gateway: http://"
RED_QUEUE = "wb_red"
LIVE_QUEUE = "wb_live"
LAB_TEAM = "wb_team"
_stacks = itertools.count(1)
_events = itertools.count(1)

COLOURS = {
    "defaults": {"abandon_rate": {"amber": 0.15, "red": 0.25}},
    "queues": {RED_QUEUE: {"waiting": {"amber": 1, "red": 2}}},
    "agents": {"not_ready_s": {"amber": 300, "red": 600}},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def floor_config(prefix: str, rate: float) -> dict[str, Any]:
    """A configuration file (as data) for the simulated floor at ``rate`` events/s."""
    core = core_settings(scenario_for_rate(rate))
    return {
        "topics": {
            "acd_events": f"{prefix}-acd-events",
            "crm_events": f"{prefix}-crm-events",
            "dead_letters": f"{prefix}-dead-letters",
            "snapshots": f"{prefix}-floor-snapshots",
            "intervals": f"{prefix}-floor-intervals",
            "alerts": f"{prefix}-floor-alerts",
            "partitions": 2,
        },
        "worker": {"snapshot_ms": 250},
        "gateway": {"stale_s": 2},
        "sites": [
            *(
                {"name": s.name, "timezone": s.timezone, "day_reset": "00:00"}
                for s in core.sites.values()
            ),
            {"name": "lab", "timezone": "UTC", "day_reset": "00:00"},
        ],
        "clients": [{"name": name} for name in core.clients],
        "defaults": {"site": "lab"},
        "queues": [
            {
                "name": q.name,
                "site": q.site,
                "client": q.client,
                "channel": q.channel,
                "threshold_s": q.threshold_s,
                "short_abandon_s": q.short_abandon_s,
            }
            for q in core.queues.values()
        ],
        "teams": [
            *({"name": t.name, "site": t.site} for t in core.teams.values()),
            {"name": LAB_TEAM, "site": "lab"},
        ],
    }


def event(etype: str, ts_ms: int, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"wb-{next(_events)}-{ts_ms}", "type": etype, "ts": ts_ms, **fields}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Stack:
    """The processes of one stack and how to reach them."""

    broker: EmbeddedBroker
    config: FloorwatchConfig
    env: dict[str, str]
    directory: Path
    port: int
    processes: dict[str, Process] = field(default_factory=dict)
    gateway_runs: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start_worker(self) -> None:
        worker = Process(["worker"], self.env, self.directory / "worker.log")
        self.processes["worker"] = worker
        worker.wait_for_line(READY_LINE, timeout_s=90)

    def start_gateway(self) -> None:
        self.gateway_runs += 1
        log = self.directory / f"gateway-{self.gateway_runs}.log"
        gateway = Process(["gateway", "--port", str(self.port)], self.env, log)
        self.processes["gateway"] = gateway
        gateway.wait_for_line(GATEWAY_LINE, timeout_s=30)

    def stop_gateway(self) -> None:
        assert self.processes.pop("gateway").stop() == 0

    def start_simulator(self, rate: float, history_s: float = 0) -> None:
        args = ["simulate", "--rate", f"{rate:g}"]
        if history_s:
            args += ["--start", str(now_ms() - int(history_s * 1000)), "--speed", "max"]
        self.processes["simulator"] = Process(args, self.env, self.directory / "simulator.log")

    def pause_worker(self) -> None:
        os.kill(self.processes["worker"].proc.pid, signal.SIGSTOP)

    def resume_worker(self) -> None:
        os.kill(self.processes["worker"].proc.pid, signal.SIGCONT)

    def produce(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Produce contract events to the input topics and wait until the broker has them."""
        raws = [orjson.dumps(dict(e)) for e in events]

        async def run() -> None:
            assert self.config.broker is not None
            async with EventProducer(self.config.broker, self.config.topics) as producer:
                for raw in raws:
                    await producer.send(raw)
                await producer.flush()

        # a thread of its own: Playwright's sync API keeps an event loop running in this one
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, run()).result()

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted(self.directory.glob("*.log"))
        )

    def stop(self) -> None:
        for name in ("simulator", "gateway", "worker"):
            process = self.processes.pop(name, None)
            if process is None:
                continue
            if name == "worker":  # a paused worker would not hear SIGTERM
                os.kill(process.proc.pid, signal.SIGCONT)
            process.stop()


def start_stack(broker: EmbeddedBroker, directory: Path, *, rate: float = 5.0) -> Stack:
    """Write the configuration, create the topics, start the worker and the gateway."""
    prefix = f"page-{next(_stacks)}-{os.getpid()}"
    config_path = directory / "floorwatch.yaml"
    config_path.write_text(yaml.safe_dump(floor_config(prefix, rate), sort_keys=False))
    colours_path = directory / "colours.yaml"
    colours_path.write_text(yaml.safe_dump(COLOURS))
    env = environment(
        broker,
        directory / "data",
        FLOORWATCH_CONFIG=str(config_path),
        FLOORWATCH_WALLBOARD_COLOURS=str(colours_path),
    )
    config = load_config(env=env)
    assert config.broker is not None
    asyncio.run(ensure_topics(config.broker, config.topics))
    stack = Stack(broker, config, env, directory, free_port())
    try:
        stack.start_worker()
        stack.start_gateway()
    except BaseException:
        stack.stop()
        raise
    return stack
