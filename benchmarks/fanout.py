"""Fan-out benchmark: one gateway process pushing the floor to 1,000 websocket screens.

One run on a fresh embedded broker:

1. the floor: one simulated weekday hour (``streams.simulation``) folded by the real core
   (:class:`streams.floor.Floor`) gives queue views and agent rows in the shape a worker
   publishes them (``agents/pipeline.py`` ``publish_snapshots``); its 10 queues are
   published twice (as ``<name>`` and ``<name>_b``) to make 20, and 300 logged-in agents;
2. a gateway (``python -m floorwatch gateway``, a child process) reads them from the
   ``floor-snapshots`` topic;
3. a feeder in this process publishes a round every 250 ms, as a worker does: the queue
   views that changed (about two in three: waiting, oldest contact, counts), a few agents
   changing state, the 5-second refresh of unchanged agents, a heartbeat every second; every
   record of a round carries the round's ``published_ms``;
4. 1,000 websocket clients in two child processes (500 each; the gateway has a core of its
   own, more or less: the machine has two) open ``/ws`` as the page does (subprotocol
   ``floorwatch.screen.v1``) and note when each message arrived and the ``last_update_ms``
   it carries. A round is delivered to a client by the first message whose
   ``last_update_ms`` is at or after the round's ``published_ms``; its delivery latency is
   that message's arrival minus ``published_ms`` (broker, gateway fetch, coalescing to the
   push cadence, fan-out and the client's own reading, all included);
5. two phases: the 1,000 clients alone (``--phase-s``), then with one more client that
   completes the handshake and never reads again (``--stalled-s``: on loopback the kernel
   takes a few MB before the gateway's own buffer backs up; from then on the gateway skips
   it, and drops it after ``wallboard.server.DROP_STALLED_S``);
   per phase the CPU (``psutil``) of the gateway, the client processes and the broker; every
   second the gateway's RSS, its websocket clients and the times it skipped a backed-up
   screen (from its ``/metrics``). "First client" is, per round, the delivery to whichever
   client got it first: the pipeline and push without the fan-out spread.

Prints a table, measured figures beside the target (p99 ≤ 500 ms), and never gates: the
exit code is 0 whatever was measured.

    python -m benchmarks.fanout [--clients N] [--phase-s S] [--stalled-s S] [--queues Q]
                                [--agents A] [--warmup-s S]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psutil
from aiokafka import AIOKafkaProducer

from config.loader import load_config
from config.settings import FloorwatchConfig
from floorwatch import processes
from floorwatch.broker import EmbeddedBroker
from floorwatch.kafka import ensure_topics
from streams.calendar import to_epoch_ms
from streams.events import Rejection, parse_event
from streams.floor import Floor
from streams.simulation import core_settings, scenario_for_rate, simulate
from streams.wire import agent_key, queue_key, worker_key

TARGET_P99_MS = 500.0
CADENCE_MS = 250
REFRESH_MS = 5_000
"""A worker re-sends an unchanged snapshot this often (agents/pipeline.py)."""
HEARTBEAT_MS = 1_000
SCREEN_PROTOCOL = "floorwatch.screen.v1"
CLIENT_PROCESSES = 2
CONNECT_BATCH = 50
GATEWAY_LINE = "floorwatch gateway: http://"
_LAST_UPDATE = re.compile(rb'"last_update_ms":(\d+)')

REPO = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# -- the floor ------------------------------------------------------------------------------


def simulated_floor(
    queues: int, agents: int, now: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Queue views and agent rows as a worker publishes them at ``now`` (without
    ``published_ms``): an hour of a simulated weekday folded by the core."""
    scenario = scenario_for_rate(6.0)
    # the same hour of the day on a Wednesday, so the floor is busy and staffed
    wall = datetime.fromtimestamp(now / 1000, UTC)
    wednesday = wall + timedelta(days=(2 - wall.weekday()) % 7)
    end = to_epoch_ms(wednesday.replace(hour=14, minute=0, second=0, microsecond=0))
    floor = Floor(core_settings(scenario))
    for raw in simulate(scenario, seed=7, start_ms=end - 3_600_000, end_ms=end):
        event = parse_event(orjson.dumps(raw))
        if not isinstance(event, Rejection):
            floor.apply(event)
    snapshot = floor.snapshot(end)
    shift = now - end  # the hour happened just now
    views: list[dict[str, Any]] = []
    for copy_no in range(-(-queues // len(snapshot["queues"]))):
        for original in snapshot["queues"]:
            view = copy.deepcopy(original)
            view.pop("agents", None)
            if copy_no:
                view["queue"] = f"{view['queue']}_{chr(ord('a') + copy_no)}"
            _shift_view(view, shift)
            views.append(view)
    rows = []
    for original in snapshot["agents"]:
        if original.get("state") in (None, "logged_out"):
            continue
        row = copy.deepcopy(original)
        row.pop("queue", None)
        row["since_ms"] = row["since_ms"] + shift
        rows.append(row)
    if len(rows) < agents:
        raise ValueError(f"the simulated floor has {len(rows)} agents logged in, not {agents}")
    return views[:queues], rows[:agents]


def _shift_view(view: dict[str, Any], shift: int) -> None:
    if view.get("oldest_queued_ms") is not None:
        view["oldest_queued_ms"] += shift
    if view.get("watermark_ms") is not None:
        view["watermark_ms"] += shift
    for window in view["windows"].values():
        window["start_ms"] += shift
        window["end_ms"] += shift


class FloorChanges:
    """What a worker publishes each round: changed queues, agents changing state, refreshes."""

    STATES = ("available", "on_contact", "after_contact_work")

    def __init__(self, views: list[dict[str, Any]], rows: list[dict[str, Any]], seed: int = 1):
        self.views = {view["queue"]: view for view in views}
        self.rows = {row["agent_id"]: row for row in rows}
        self.random = random.Random(seed)
        self.sent_ms: dict[str, int] = {}
        self.state_changes_per_round = max(1, len(rows) // 100)

    def everything(self, now: int) -> list[tuple[str, dict[str, Any]]]:
        records = [(queue_key(n), v) for n, v in self.views.items()]
        records += [(agent_key(a), r) for a, r in self.rows.items()]
        for key, _ in records:
            self.sent_ms[key] = now
        return records

    def round(self, now: int) -> list[tuple[str, dict[str, Any]]]:
        rng = self.random
        records: list[tuple[str, dict[str, Any]]] = []
        for name, view in self.views.items():
            if rng.random() > 2 / 3:
                continue
            view["waiting"] = max(0, view["waiting"] + rng.choice((-1, 0, 1)))
            view["oldest_queued_ms"] = now - rng.randint(0, 15_000) if view["waiting"] else None
            view["at_risk"] = min(view["waiting"], rng.choice((0, 0, 0, 1)))
            if rng.random() < 0.5:
                for label in (
                    "interval",
                    "day",
                    *[w for w in view["windows"] if w.startswith("rolling")],
                ):
                    window = view["windows"][label]
                    window["offered"] += 1
                    window["answered"] += 1
                    window["answered_within_threshold"] += 1
            view["watermark_ms"] = now
            records.append((queue_key(name), view))
        for agent_id in rng.sample(sorted(self.rows), self.state_changes_per_round):
            row = self.rows[agent_id]
            row["state"] = rng.choice([s for s in self.STATES if s != row["state"]])
            row["reason"] = None
            row["since_ms"] = now
            records.append((agent_key(agent_id), row))
        changed = {key for key, _ in records}
        for key in changed:
            self.sent_ms[key] = now
        # unchanged snapshots are re-sent every REFRESH_MS, as the worker does
        for agent_id, row in self.rows.items():
            key = agent_key(agent_id)
            if key not in changed and now - self.sent_ms.get(key, 0) >= REFRESH_MS:
                self.sent_ms[key] = now
                records.append((key, row))
        return records


class Feeder:
    """Publishes the floor to the snapshot topic every ``CADENCE_MS``, like one worker."""

    def __init__(self, config: FloorwatchConfig, changes: FloorChanges) -> None:
        assert config.broker is not None
        self.topic = config.topics.snapshots
        self.changes = changes
        self.producer = AIOKafkaProducer(
            bootstrap_servers=config.broker.removeprefix("kafka://"),
            linger_ms=2,
            acks=1,
            enable_idempotence=False,
        )
        self.rounds: list[int] = []
        """``published_ms`` of every round, in order."""
        self.records = 0
        self._heartbeat_due = 0

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def publish(self, records: Iterable[tuple[str, dict[str, Any]]], now: int) -> None:
        sent = []
        for key, value in records:
            value["published_ms"] = now
            sent.append(await self.producer.send(self.topic, orjson.dumps(value), key=key.encode()))
        if now >= self._heartbeat_due:
            self._heartbeat_due = now + HEARTBEAT_MS
            beat = {"worker": "bench", "published_ms": now, "partitions": [0, 1, 2, 3]}
            sent.append(
                await self.producer.send(
                    self.topic, orjson.dumps(beat), key=worker_key("bench").encode()
                )
            )
        await asyncio.gather(*sent)
        self.records += len(sent)

    async def run(self, until: float) -> None:
        """One round every ``CADENCE_MS`` until ``time.monotonic() >= until``."""
        next_at = time.monotonic()
        while next_at < until:
            now = now_ms()
            await self.publish(self.changes.round(now), now)
            self.rounds.append(now)
            next_at += CADENCE_MS / 1000
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


# -- clients (child processes) --------------------------------------------------------------


async def run_clients(port: int, count: int, until_epoch_s: float, out: Path) -> None:
    """``count`` screens on ``ws://127.0.0.1:port/ws``; writes, per client, the arrival
    time and ``last_update_ms`` of every message to ``out`` (JSON)."""
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    url = f"ws://127.0.0.1:{port}/ws"
    arrivals: list[list[tuple[int, int]]] = [[] for _ in range(count)]
    closed: list[str | None] = [None] * count
    connected = asyncio.Event()
    opened = 0

    async def screen(n: int) -> None:
        nonlocal opened
        seen = arrivals[n]
        try:
            async with connect(
                url, subprotocols=[Subprotocol(SCREEN_PROTOCOL)], max_size=None, open_timeout=60
            ) as client:
                opened += 1
                if opened == count:
                    connected.set()
                while True:
                    left = until_epoch_s - time.time()
                    if left <= 0:
                        return
                    try:
                        message = await asyncio.wait_for(client.recv(decode=False), left)
                    except TimeoutError:
                        return
                    at = now_ms()
                    found = _LAST_UPDATE.search(message, 0, 400)
                    seen.append((at, int(found.group(1)) if found else 0))
        except Exception as exc:  # a benchmark reports, it does not crash
            closed[n] = repr(exc)

    tasks = []
    for start in range(0, count, CONNECT_BATCH):
        batch = [
            asyncio.create_task(screen(n)) for n in range(start, min(count, start + CONNECT_BATCH))
        ]
        tasks += batch
        # open the next batch once this one is in (a floor of TVs does not all dial at once)
        deadline = time.monotonic() + 30
        while opened < min(count, start + CONNECT_BATCH) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    print(f"connected {opened}", flush=True)
    await asyncio.gather(*tasks)
    out.write_bytes(orjson.dumps({"arrivals": arrivals, "errors": closed}))


def clients_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.fanout clients")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--until", type=float, required=True, help="epoch seconds")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(run_clients(args.port, args.count, args.until, args.out))
    return 0


# -- the stalled client ---------------------------------------------------------------------


def open_stalled_client(port: int) -> socket.socket:
    """A screen that completes the handshake and never reads again."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Protocol: " + SCREEN_PROTOCOL.encode() + b"\r\n\r\n"
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # byte by byte: nothing after the handshake is read
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"stalled client refused: {head!r}")
    return sock


# -- measuring ------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    start_ms: int
    end_ms: int
    cpu_s: float = 0.0
    wall_s: float = 0.0
    rss: list[tuple[float, int, float, float]] = field(default_factory=list)
    """Every second: (seconds into the phase, gateway RSS, websocket clients, skips so far)."""
    pushes: float = 0.0
    skips: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    delivered: int = 0
    expected: int = 0
    messages_per_client: list[int] = field(default_factory=list)
    clients_at_end: float = 0.0
    first_ms: list[float] = field(default_factory=list)
    """Per round, the delivery latency to the first client to get it (pipeline + push)."""
    client_cpu_s: float = 0.0
    broker_cpu_s: float = 0.0
    rounds: int = 0


def metrics_of(port: int) -> dict[str, float]:
    """The gateway's own counters from /metrics (samples without labels, plus kinds)."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("floorwatch_gateway_"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


def deliveries(
    rounds: Sequence[int], arrivals: Sequence[tuple[int, int]], start_ms: int, end_ms: int
) -> tuple[list[float], int, int]:
    """Latencies of the rounds published in ``[start_ms, end_ms)`` to one client, the
    number delivered and the number expected."""
    latencies: list[float] = []
    chosen = [r for r in rounds if start_ms <= r < end_ms]
    updates = [last for _, last in arrivals]
    for published in chosen:
        i = bisect_left(updates, published)  # last_update_ms never decreases for one client
        if i < len(arrivals):
            latencies.append(arrivals[i][0] - published)
    return latencies, len(latencies), len(chosen)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def run(args: argparse.Namespace) -> list[Phase]:
    workdir = Path(tempfile.mkdtemp(prefix="fanout-"))
    phases: list[Phase] = []
    with EmbeddedBroker() as broker:
        env = {**os.environ, "FLOORWATCH_BROKER": broker.url, "PYTHONUNBUFFERED": "1"}
        env.pop("FLOORWATCH_CONFIG", None)
        for name in ("FLOORWATCH_VIEWER_TOKEN", "FLOORWATCH_OPERATOR_TOKEN"):
            env.pop(name, None)
        config = load_config(env={"FLOORWATCH_BROKER": broker.url})
        assert config.broker is not None
        await ensure_topics(config.broker, config.topics)

        log(f"building the floor: {args.queues} queues, {args.agents} agents")
        now = now_ms()
        views, rows = simulated_floor(args.queues, args.agents, now)
        changes = FloorChanges(views, rows)
        feeder = Feeder(config, changes)
        await feeder.start()
        await feeder.publish(changes.everything(now), now)

        port = _free_port()
        gateway_log = (workdir / "gateway.log").open("wb")
        gateway = processes.spawn(
            [sys.executable, "-m", "floorwatch", "gateway", "--port", str(port)],
            env=env,
            stdout=gateway_log,
            stderr=subprocess.STDOUT,
        )
        clients: list[subprocess.Popen[bytes]] = []
        stalled: socket.socket | None = None
        try:
            await _wait_for_line(workdir / "gateway.log", GATEWAY_LINE, 30)
            proc = psutil.Process(gateway.pid)
            total_s = args.warmup_s + args.phase_s + args.stalled_s
            connect_allowance_s = 60.0
            until = time.time() + connect_allowance_s + total_s
            per_process = -(-args.clients // CLIENT_PROCESSES)
            outs = []
            for n in range(CLIENT_PROCESSES):
                count = min(per_process, args.clients - n * per_process)
                out = workdir / f"clients-{n}.json"
                outs.append(out)
                clients.append(
                    processes.spawn(
                        [sys.executable, "-m", "benchmarks.fanout", "clients", "--port",
                         str(port), "--count", str(count), "--until", str(until),
                         "--out", str(out)],
                        env=env,
                        stdout=(workdir / f"clients-{n}.log").open("wb"),
                        stderr=subprocess.STDOUT,
                    )
                )  # fmt: skip
            # feed while the clients connect, as a live floor would
            log(f"connecting {args.clients} websocket clients in {CLIENT_PROCESSES} processes")
            deadline = time.monotonic() + connect_allowance_s
            while time.monotonic() < deadline:
                await feeder.run(time.monotonic() + 1.0)
                connected = metrics_of(port).get("floorwatch_gateway_websocket_clients", 0)
                if connected >= args.clients:
                    break
            log(f"{connected:.0f} clients connected; warming up {args.warmup_s:g} s")
            await feeder.run(time.monotonic() + args.warmup_s)

            for name, length_s in (
                (f"{args.clients:,} clients", args.phase_s),
                ("+ 1 stalled client", args.stalled_s),
            ):
                if name.startswith("+"):
                    stalled = open_stalled_client(port)
                phase = Phase(name, now_ms(), 0)
                before = metrics_of(port)
                cpu_before = sum(proc.cpu_times()[:2])
                others = [psutil.Process(c.pid) for c in clients]
                broker_proc = _broker_process(broker)
                clients_before = sum(sum(o.cpu_times()[:2]) for o in others)
                broker_before = sum(broker_proc.cpu_times()[:2]) if broker_proc else 0.0
                wall_before = time.monotonic()
                log(f"phase {name!r}: {length_s:g} s")
                end = time.monotonic() + length_s
                sampler = asyncio.create_task(_sample(proc, port, phase, wall_before))
                await feeder.run(end)
                sampler.cancel()
                phase.end_ms = now_ms()
                phase.cpu_s = sum(proc.cpu_times()[:2]) - cpu_before
                phase.client_cpu_s = sum(sum(o.cpu_times()[:2]) for o in others) - clients_before
                if broker_proc is not None:
                    phase.broker_cpu_s = sum(broker_proc.cpu_times()[:2]) - broker_before
                phase.wall_s = time.monotonic() - wall_before
                after = metrics_of(port)
                phase.pushes = after.get("floorwatch_gateway_pushes_total", 0) - before.get(
                    "floorwatch_gateway_pushes_total", 0
                )
                phase.skips = after.get("floorwatch_gateway_screen_skips_total", 0) - before.get(
                    "floorwatch_gateway_screen_skips_total", 0
                )
                phase.clients_at_end = after.get("floorwatch_gateway_websocket_clients", 0)
                phases.append(phase)
            # the clients stop at ``until``; keep the floor moving until then
            await feeder.run(time.monotonic() + max(0.0, until - time.time()))
            for child in clients:
                child.wait(timeout=120)
        finally:
            await feeder.stop()
            if stalled is not None:
                stalled.close()
            processes.stop_all([*clients, gateway], 10)
            gateway_log.close()

        arrivals: list[list[tuple[int, int]]] = []
        errors: list[str] = []
        for out in outs:
            if not out.exists():
                errors.append(f"{out.name}: no results; see {out.with_suffix('.log')}")
                continue
            data = orjson.loads(out.read_bytes())
            arrivals += [[tuple(pair) for pair in client] for client in data["arrivals"]]
            errors += [e for e in data["errors"] if e]
        for phase in phases:
            chosen = [r for r in feeder.rounds if phase.start_ms <= r < phase.end_ms]
            phase.rounds = len(chosen)
            first: dict[int, float] = {}
            for client in arrivals:
                updates = [last for _, last in client]
                for published in chosen:
                    i = bisect_left(updates, published)
                    if i < len(client):
                        latency = client[i][0] - published
                        first[published] = min(first.get(published, latency), latency)
            phase.first_ms = list(first.values())
            for client in arrivals:
                latencies, delivered, expected = deliveries(
                    feeder.rounds, client, phase.start_ms, phase.end_ms
                )
                phase.latencies_ms += latencies
                phase.delivered += delivered
                phase.expected += expected
                phase.messages_per_client.append(
                    sum(1 for at, _ in client if phase.start_ms <= at < phase.end_ms)
                )
        if errors:
            log(f"{len(errors)} client errors, first: {errors[0]}")
        log(f"logs in {workdir}")
    return phases


def _broker_process(broker: EmbeddedBroker) -> psutil.Process | None:
    """The embedded broker's process, found by the port it listens on."""
    port = int(broker.url.rsplit(":", 1)[1])
    for conn in psutil.net_connections("tcp"):
        if (
            conn.status == psutil.CONN_LISTEN
            and conn.laddr
            and conn.laddr.port == port
            and conn.pid
        ):
            return psutil.Process(conn.pid)
    return None


async def _sample(proc: psutil.Process, port: int, phase: Phase, start: float) -> None:
    while True:
        found = await asyncio.to_thread(metrics_of, port)
        phase.rss.append(
            (
                time.monotonic() - start,
                proc.memory_info().rss,
                found.get("floorwatch_gateway_websocket_clients", 0),
                found.get("floorwatch_gateway_screen_skips_total", 0),
            )
        )
        await asyncio.sleep(1.0)


async def _wait_for_line(path: Path, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no {text!r} in {path} within {timeout_s} s:\n{path.read_text()[-2000:]}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- report ---------------------------------------------------------------------------------


def print_report(phases: list[Phase], args: argparse.Namespace) -> None:
    print()
    print(
        f"Fan-out: {args.clients:,} websocket clients on one gateway process, "
        f"{args.queues} queues, {args.agents} agents, a round every {CADENCE_MS} ms "
        f"({os.cpu_count()} cores, clients in {CLIENT_PROCESSES} other processes)"
    )
    width = 44
    header = f"{'':{width}}" + "".join(f"{p.name:>22}" for p in phases) + f"{'target':>14}"
    print(header)
    print("-" * len(header))

    def row(label: str, values: Iterable[str], target: str = "") -> None:
        print(f"{label:{width}}" + "".join(f"{v:>22}" for v in values) + f"{target:>14}")

    row("delivery p50 (ms)", (f"{percentile(p.latencies_ms, 0.5):.0f}" for p in phases))
    row("delivery p99 (ms)", (f"{percentile(p.latencies_ms, 0.99):.0f}" for p in phases),
        f"≤ {TARGET_P99_MS:.0f}")  # fmt: skip
    row("delivery max (ms)", (f"{max(p.latencies_ms, default=float('nan')):.0f}" for p in phases))
    row("first client p50 / p99 (ms)",
        (f"{percentile(p.first_ms, 0.5):.0f} / {percentile(p.first_ms, 0.99):.0f}"
         for p in phases))  # fmt: skip
    row("rounds published", (f"{p.rounds}" for p in phases))
    row("rounds delivered / expected (all clients)",
        (f"{p.delivered:,}/{p.expected:,}" for p in phases), "all")  # fmt: skip
    row("gateway pushes", (f"{p.pushes:.0f}" for p in phases))
    row("messages per client (min / median)",
        (f"{min(p.messages_per_client, default=0)} / "
         f"{statistics.median(p.messages_per_client or [0]):.0f}" for p in phases))  # fmt: skip
    row("gateway CPU (% of one core)", (f"{100 * p.cpu_s / p.wall_s:.0f} %" for p in phases))
    row("client processes CPU (% of one core)",
        (f"{100 * p.client_cpu_s / p.wall_s:.0f} %" for p in phases))  # fmt: skip
    row("broker CPU (% of one core)", (f"{100 * p.broker_cpu_s / p.wall_s:.0f} %" for p in phases))
    row("gateway RSS start → end (MB)",
        (f"{p.rss[0][1] / 2**20:.0f} → {p.rss[-1][1] / 2**20:.0f}" if p.rss else "–"
         for p in phases))  # fmt: skip
    row("gateway RSS max (MB)",
        (f"{max(r[1] for r in p.rss) / 2**20:.0f}" if p.rss else "–" for p in phases))  # fmt: skip
    row("backed-up screens skipped (times)", (f"{p.skips:.0f}" for p in phases))
    row("websocket clients at the end", (f"{p.clients_at_end:.0f}" for p in phases))
    stalled = phases[-1] if phases else None
    if stalled is not None and stalled.rss:
        print("\nwith the stalled client, every 5 s: seconds, gateway RSS (MB), clients, skips")
        print(
            "  "
            + " | ".join(
                f"{t:.0f} s: {rss / 2**20:.0f} MB, {clients:.0f}, {skips:.0f}"
                for t, rss, clients, skips in stalled.rss[::5]
            )
        )
    if phases:
        p99 = max(percentile(p.latencies_ms, 0.99) for p in phases)
        verdict = "met" if p99 <= TARGET_P99_MS else "MISSED"
        print(f"target p99 ≤ {TARGET_P99_MS:.0f} ms: {verdict} (worst phase p99 {p99:.0f} ms)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["clients"]:
        return clients_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fanout", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--queues", type=int, default=20)
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--phase-s", type=float, default=30.0, help="the clients alone")
    parser.add_argument(
        "--stalled-s",
        type=float,
        default=80.0,
        help="with the stalled client: long enough for the kernel's buffers to fill (some "
        "MB on loopback) and for the gateway to drop it 30 s later",
    )
    parser.add_argument("--warmup-s", type=float, default=5.0)
    args = parser.parse_args(argv)
    try:
        phases = asyncio.run(run(args))
    except Exception as exc:  # report, never gate
        print(f"fan-out benchmark failed: {exc!r}", file=sys.stderr)
        return 0
    print_report(phases, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
