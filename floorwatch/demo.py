"""``floorwatch demo``: the whole stack on one machine, stopped as one.

The demo starts the embedded broker (unless a broker is configured), creates the topics,
then runs one worker, one gateway and the simulator as child processes
(``python -m floorwatch …``) pointed at that broker. It prints the wallboard and metrics
URLs once the gateway listens, and on Ctrl-C or SIGTERM stops the children and then the
broker. If a child dies on its own, the demo says which and stops the rest. Children die
with the demo even if it is SIGKILLed (see :mod:`floorwatch.processes`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import threading

from config.env import BROKER_VARIABLE
from config.settings import FloorwatchConfig
from floorwatch import processes
from floorwatch.broker import EmbeddedBroker
from floorwatch.kafka import ensure_topics

log = logging.getLogger(__name__)

_POLL_S = 0.2
_STOP_TIMEOUT_S = 10.0
_WILDCARD_HOSTS = {"", "0.0.0.0", "::"}


def run_demo(config: FloorwatchConfig, *, port: int, rate: float) -> int:
    """Run the demo until signalled (0) or until a part of it dies (1)."""
    with processes.stop_on_signals() as stop:
        broker: EmbeddedBroker | None = None
        children: dict[str, subprocess.Popen[bytes]] = {}
        try:
            url = config.broker
            if url is None:
                broker = EmbeddedBroker().start()
                url = broker.url
                log.info("embedded broker at %s", url)
            asyncio.run(ensure_topics(url, config.topics))
            if stop.is_set():
                return 0
            env = {**os.environ, BROKER_VARIABLE: url}
            worker_metrics = config.worker.metrics_port or _free_port(config.worker.metrics_host)
            worker_env = {**env, "FLOORWATCH_WORKER__METRICS_PORT": str(worker_metrics)}
            for name, args in (
                ("worker", ["worker"]),
                ("gateway", ["gateway", "--port", str(port)]),
                ("simulator", ["simulate", "--rate", f"{rate:g}"]),
            ):
                command = [sys.executable, "-m", "floorwatch", *args]
                children[name] = processes.spawn(
                    command, env=worker_env if name == "worker" else env
                )
                log.info("%s started (pid %d)", name, children[name].pid)
            worker_url = f"http://{config.worker.metrics_host}:{worker_metrics}/metrics"
            return _supervise(stop, children, broker, _gateway_host(config), port, worker_url)
        finally:
            if children:
                log.info("stopping %s", ", ".join(children))
                processes.stop_all(list(children.values()), _STOP_TIMEOUT_S)
            if broker is not None:
                broker.stop()
            log.info("stopped")


def _supervise(
    stop: threading.Event,
    children: dict[str, subprocess.Popen[bytes]],
    broker: EmbeddedBroker | None,
    host: str,
    port: int,
    worker_metrics_url: str,
) -> int:
    announced = False
    while not stop.wait(_POLL_S):
        for name, child in children.items():
            code = child.poll()
            if code is not None:
                log.error("%s (pid %d) exited with code %d", name, child.pid, code)
                return 1
        if broker is not None and broker.poll() is not None:
            log.error("embedded broker exited with code %s", broker.poll())
            return 1
        if not announced and _listens(host, port):
            print(f"wallboard: http://{host}:{port}/", flush=True)
            print(f"metrics:   http://{host}:{port}/metrics", flush=True)
            print(f"worker:    {worker_metrics_url}", flush=True)
            print("Ctrl-C stops everything.", flush=True)
            announced = True
    return 0


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _gateway_host(config: FloorwatchConfig) -> str:
    host = config.gateway.host
    return "127.0.0.1" if host in _WILDCARD_HOSTS else host


def _listens(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False
