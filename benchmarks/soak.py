"""Soak benchmark: the simulator at ten times a large centre's rate against one worker and one
gateway on the embedded broker, for a long run; does memory stay flat and lag bounded?

Real processes, as ``floorwatch demo`` runs them: the embedded broker, ``floorwatch worker``,
``floorwatch gateway`` (with one websocket screen connected and reading every push) and
``floorwatch simulate`` producing in real time from now. The simulator's ``--rate`` is the
mean of a weekday's 12 busiest hours, so it is scaled with the simulator's own forecast
(:func:`streams.simulation.expected_arrivals`) to give ``--rate`` events/s over the hours the
run actually covers.

Measured while it runs:

- RSS of the worker, the gateway, the simulator and the broker every ``--sample-s``; after
  the warm-up (the first ``--warmup`` share of the run) a least-squares slope, in MiB/hour.
  The embedded broker keeps every message in memory (it never applies compaction or
  retention), so its growth is the broker's, not Floorwatch's: it is reported apart;
- lag: events produced (the input topics' end offsets, every second) against events folded
  (``consumed`` + ``rejected`` + ``duplicates`` of the worker's heartbeat on
  ``floor-snapshots``, key ``worker:<id>``), as a count and as seconds behind (how long ago
  the last folded event was produced); its maximum, last value and slope after warm-up;
- ERROR / CRITICAL / Traceback lines in the worker's and the gateway's output (during the
  run, and apart from those, at shutdown), and warnings grouped;
- the gateway's ``/healthz`` status and the screen's messages; the records written to
  ``floor-snapshots`` and the machine's load average (the figures depend on what else runs).

The simulator's floor grows with its rate: at 2,000 events/s it rosters about 200,000
agents (14,000 teams), so per-agent work (agent rows, timelines) weighs as much as events.
The worker's state fills until its horizons pass (60-minute rolling windows, the one-hour
lateness horizon, contacts open up to four hours): memory is expected to level off only
after the first hour, so read the slope of a 30-minute run with that in mind.

Prints a table; the exit code is 0 whatever was measured (it reports, never gates).

    python -m benchmarks.soak [--duration-s 1800] [--rate 2000] [--sample-s 5] [--logs DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import socket
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition

from benchmarks.pipeline import (
    READY_LINE,
    WORKER_PREFIX,
    Child,
    child_env,
    input_partitions,
    log,
    warnings_summary,
)
from config.settings import TopicSettings
from floorwatch.broker import EmbeddedBroker
from floorwatch.kafka import ensure_topics
from streams.simulation import EVENTS_PER_CONTACT, expected_arrivals, scenario_for_rate

TARGET_RATE = 2_000.0
"""Events/s: ten times a large centre (about 1 M events a day, 200 events/s at the peak)."""
GATEWAY_LINE = "floorwatch gateway: "
SCREEN_PROTOCOL = "floorwatch.screen.v1"
START_TIMEOUT_S = 120.0
DRAIN_S = 30.0
"""After the simulator stops: how long the worker may take to fold what is left."""
PROBLEM_WORDS = ("ERROR", "CRITICAL", "Traceback")
MIB = 1024 * 1024


# -- measurements ----------------------------------------------------------------------------


@dataclass
class Series:
    """(seconds since the start of the run, value) samples."""

    points: list[tuple[float, float]] = field(default_factory=list)

    def add(self, at: float, value: float) -> None:
        self.points.append((at, value))

    def after(self, start: float) -> list[tuple[float, float]]:
        return [(t, v) for t, v in self.points if t >= start]

    def slope_per_hour(self, start: float) -> float | None:
        """Least-squares slope of the samples from ``start`` on, per hour."""
        points = self.after(start)
        if len(points) < 3:
            return None
        n = len(points)
        mean_t = sum(t for t, _ in points) / n
        mean_v = sum(v for _, v in points) / n
        var_t = sum((t - mean_t) ** 2 for t, _ in points)
        if var_t == 0:
            return None
        cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
        return cov / var_t * 3600

    def first(self, start: float = 0.0) -> float | None:
        points = self.after(start)
        return points[0][1] if points else None

    def last(self) -> float | None:
        return self.points[-1][1] if self.points else None

    def max(self, start: float = 0.0) -> float | None:
        points = self.after(start)
        return max(v for _, v in points) if points else None


@dataclass
class Run:
    started: float = field(default_factory=time.time)
    rss: dict[str, Series] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)
    produced: list[tuple[float, int]] = field(default_factory=list)
    """(epoch s, events in the input topics since the start), every second."""
    folded: list[tuple[float, int]] = field(default_factory=list)
    """(heartbeat published, epoch s; consumed + rejected + duplicates), by time."""
    lag_events: Series = field(default_factory=Series)
    lag_s: Series = field(default_factory=Series)
    health: dict[int | str, int] = field(default_factory=dict)
    health_reason: str | None = None
    """The last reason /healthz gave for not answering 200."""
    screen_messages: int = 0
    screen_bytes: int = 0
    screen_error: str | None = None
    rejected: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    snapshot_records: int = 0
    """Records the worker wrote to ``floor-snapshots`` during the run (views, rows, beats)."""
    load: list[float] = field(default_factory=list)
    """The machine's 1-minute load average at each RSS sample."""
    run_end: float | None = None
    drained_s: float | None = None
    errors: list[str] = field(default_factory=list)

    def at(self, epoch_s: float) -> float:
        return epoch_s - self.started

    def produced_at(self, epoch_s: float) -> float | None:
        """Events produced by ``epoch_s``, interpolated between end-offset samples."""
        times = [t for t, _ in self.produced]
        i = bisect.bisect_right(times, epoch_s)
        if i == 0:
            return None
        if i == len(times):
            return float(self.produced[-1][1])
        (t0, c0), (t1, c1) = self.produced[i - 1], self.produced[i]
        return c0 + (c1 - c0) * (epoch_s - t0) / (t1 - t0) if t1 > t0 else float(c1)

    def produced_when(self, count: float) -> float | None:
        """When (epoch s) the ``count``-th event had been produced, interpolated."""
        previous: tuple[float, int] | None = None
        for t, c in self.produced:
            if c >= count:
                if previous is None or c == previous[1]:
                    return t
                t0, c0 = previous
                return t0 + (count - c0) / (c - c0) * (t - t0)
            previous = (t, c)
        return None


# -- the processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def simulator_rate(target: float, duration_s: float) -> float:
    """The ``--rate`` giving ``target`` events/s over the next ``duration_s`` from now."""
    now_ms = int(time.time() * 1000)
    scenario = scenario_for_rate(1.0)
    window_s = max(60.0, duration_s)
    per_unit = (
        expected_arrivals(scenario, now_ms, now_ms + int(window_s * 1000))
        * EVENTS_PER_CONTACT
        / window_s
    )
    return target / per_unit


async def wait_line(child: Child, text: str) -> str:
    _, line = await child.wait_for(lambda line: text in line, START_TIMEOUT_S)
    return line


# -- watchers --------------------------------------------------------------------------------


async def watch_heartbeats(bootstrap: str, topics: TopicSettings, run: Run) -> None:
    """Follow ``floor-snapshots`` from its current end; keep the worker's heartbeats.

    Once the first heartbeat shows which partition its key goes to, only that partition is
    read: the topic carries every agent row too, and reading all of it would make this
    process compete with the worker for the CPU."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topics.snapshots, p) for p in range(topics.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        narrowed = False
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            for tp, messages in batch.items():
                for message in messages:
                    if message.key and message.key.startswith(WORKER_PREFIX) and message.value:
                        if not narrowed:
                            narrowed = True
                            consumer.assign([tp])
                            consumer.seek(tp, message.offset + 1)
                        beat = orjson.loads(message.value)
                        run.rejected = dict(beat.get("rejected") or {})
                        run.duplicates = int(beat.get("duplicates") or 0)
                        folded = (
                            sum(beat.get("consumed", {}).values())
                            + sum(run.rejected.values())
                            + run.duplicates
                        )
                        bisect.insort(run.folded, (beat["published_ms"] / 1000, folded))
    finally:
        await consumer.stop()


async def sample(
    bootstrap: str,
    topics: TopicSettings,
    run: Run,
    processes: dict[str, psutil.Process],
    sample_s: float,
    gateway_url: str,
) -> None:
    """Every second the input topics' end offsets (and the lag they give against the latest
    heartbeat); every ``sample_s`` each process's RSS and the gateway's /healthz."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    tps = input_partitions(topics)
    snapshot_tps = [TopicPartition(topics.snapshots, p) for p in range(topics.partitions)]
    base = sum((await consumer.end_offsets(tps)).values())
    snapshots_base = sum((await consumer.end_offsets(snapshot_tps)).values())
    next_rss = time.time()
    try:
        while True:
            now = time.time()
            ends = await consumer.end_offsets(tps)
            run.produced.append((time.time(), sum(ends.values()) - base))
            snapshot_ends = await consumer.end_offsets(snapshot_tps)
            run.snapshot_records = sum(snapshot_ends.values()) - snapshots_base
            if run.folded:
                beat_at, folded = run.folded[-1]
                produced = run.produced_at(beat_at)
                if produced is not None:
                    run.lag_events.add(run.at(beat_at), max(0.0, produced - folded))
                    caught_up_to = run.produced_when(folded)
                    if caught_up_to is not None:
                        run.lag_s.add(run.at(beat_at), max(0.0, beat_at - caught_up_to))
            if now >= next_rss:
                next_rss = now + sample_s
                for name, process in processes.items():
                    try:
                        rss = process.memory_info().rss
                        cpu = process.cpu_times()
                    except psutil.Error:
                        continue
                    run.rss.setdefault(name, Series()).add(run.at(now), rss)
                    run.cpu_s[name] = cpu.user + cpu.system
                status, reason = await asyncio.to_thread(healthz, gateway_url)
                run.health[status] = run.health.get(status, 0) + 1
                if reason:
                    run.health_reason = reason
                run.load.append(os.getloadavg()[0])
            await asyncio.sleep(max(0.0, 1.0 - (time.time() - now)))
    finally:
        await consumer.stop()


def healthz(gateway_url: str) -> tuple[int | str, str | None]:
    """The gateway's /healthz status, and its reason when it is not 200."""
    try:
        with urllib.request.urlopen(f"{gateway_url}/healthz", timeout=5) as response:
            return int(response.status), None
    except urllib.error.HTTPError as error:
        try:
            reason = orjson.loads(error.read()).get("reason")
        except (ValueError, AttributeError):
            reason = None
        return int(error.code), reason
    except OSError as error:
        return type(error).__name__, str(error)


async def screen(gateway_url: str, run: Run) -> None:
    """One wallboard screen, reading every push until cancelled."""
    import websockets

    url = gateway_url.replace("http://", "ws://") + "/ws"
    try:
        async with websockets.connect(
            url, subprotocols=[websockets.Subprotocol(SCREEN_PROTOCOL)], max_size=None
        ) as connection:
            async for message in connection:
                run.screen_messages += 1
                run.screen_bytes += len(message)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # reported, not fatal: the soak is about the pipeline
        run.screen_error = f"{type(exc).__name__}: {exc}"


# -- the run ---------------------------------------------------------------------------------


async def soak(args: argparse.Namespace, run: Run, children: dict[str, Child]) -> None:
    topics = TopicSettings()
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="fw-soak-") as data:
        await ensure_topics(broker.url, topics)
        env = child_env(FLOORWATCH_BROKER=broker.url, FLOORWATCH_WORKER__DATA_DIR=data)
        python = [sys.executable, "-m", "floorwatch"]
        port = free_port()
        try:
            children["worker"] = Child("worker", [*python, "worker"], env)
            await wait_line(children["worker"], READY_LINE)
            children["gateway"] = Child("gateway", [*python, "gateway", "--port", str(port)], env)
            line = await wait_line(children["gateway"], GATEWAY_LINE)
            gateway_url = line.split(GATEWAY_LINE, 1)[1].strip().rstrip("/")
            rate = simulator_rate(args.rate, args.duration_s)
            log(f"simulator --rate {rate:,.0f} gives {args.rate:,.0f} ev/s over the run")
            simulate = ["simulate", "--rate", f"{rate:.3f}", "--seed", str(args.seed)]
            run.started = time.time()
            children["simulator"] = Child("simulator", [*python, *simulate], env)
            processes = {name: psutil.Process(c.process.pid) for name, c in children.items()}
            assert broker.pid is not None
            processes["broker (embedded)"] = psutil.Process(broker.pid)
            tasks = [
                asyncio.create_task(watch_heartbeats(broker.bootstrap, topics, run)),
                asyncio.create_task(
                    sample(broker.bootstrap, topics, run, processes, args.sample_s, gateway_url)
                ),
                asyncio.create_task(screen(gateway_url, run)),
            ]
            try:
                await run_for(args.duration_s, run, children, tasks)
                run.run_end = time.time()
                children["simulator"].stop()
                await drain(run)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for name in ("simulator", "gateway", "worker"):
                if name in children:
                    children[name].stop()


async def run_for(
    duration_s: float, run: Run, children: dict[str, Child], tasks: list[asyncio.Task[None]]
) -> None:
    """Wait ``duration_s``, logging progress each minute; stop early if a child dies."""
    end = run.started + duration_s
    next_note = run.started + 60
    while time.time() < end:
        for name, child in children.items():
            if child.process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {child.process.returncode}:\n{child.tail()}"
                )
        for task in tasks[:2]:
            if task.done() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        if time.time() >= next_note:
            next_note += 60
            produced = run.produced[-1][1] if run.produced else 0
            folded = run.folded[-1][1] if run.folded else 0
            worker = run.rss.get("worker", Series()).last() or 0
            log(
                f"+{run.at(time.time()):.0f} s: produced {produced:,}, folded {folded:,}, "
                f"lag {run.lag_s.last() or 0:.1f} s, worker RSS {worker / MIB:.0f} MiB"
            )
        await asyncio.sleep(0.5)


async def drain(run: Run) -> None:
    """Wait until the worker has folded everything produced (at most :data:`DRAIN_S`)."""
    deadline = time.time() + DRAIN_S
    await asyncio.sleep(2)  # the simulator's last deliveries reach the end offsets
    while time.time() < deadline:
        produced = run.produced[-1][1] if run.produced else 0
        if run.folded and run.folded[-1][1] >= produced:
            assert run.run_end is not None
            run.drained_s = run.folded[-1][0] - run.run_end
            return
        await asyncio.sleep(0.5)


# -- report ----------------------------------------------------------------------------------


def problem_lines(child: Child, until: float | None) -> tuple[list[str], list[str]]:
    """ERROR / CRITICAL / Traceback lines during the run, and after ``until`` (shutdown)."""
    during, after = [], []
    for at, line in child.lines:
        if any(word in line for word in PROBLEM_WORDS):
            (after if until is not None and at > until else during).append(line)
    return during, after


def mib(value: float | None) -> str:
    return "-" if value is None else f"{value / MIB:,.0f}"


def print_report(args: argparse.Namespace, run: Run, children: dict[str, Child]) -> None:
    elapsed = (run.run_end or time.time()) - run.started
    warm = elapsed * args.warmup
    produced = run.produced_at(run.run_end or time.time()) or 0
    folded_end = [c for t, c in run.folded if t <= (run.run_end or time.time())]
    print()
    print(
        f"soak: {elapsed / 60:.1f} min, target {args.rate:,.0f} ev/s, one worker, one gateway "
        f"(one screen), embedded broker; slopes after the first {args.warmup:.0%} "
        f"({warm:.0f} s)"
    )
    print(
        f"  produced {produced:,.0f} events: {produced / max(elapsed, 1e-9):,.0f} ev/s; "
        f"folded {folded_end[-1] if folded_end else 0:,} "
        f"({(folded_end[-1] if folded_end else 0) / max(elapsed, 1e-9):,.0f} ev/s)"
    )
    print(
        f"  floor-snapshots: {run.snapshot_records:,} records "
        f"({run.snapshot_records / max(elapsed, 1e-9):,.0f}/s: queue views, agent rows, "
        f"heartbeats); 1-minute load average ({os.cpu_count()} cores) "
        f"mean {sum(run.load) / max(len(run.load), 1):.1f}, max {max(run.load, default=0):.1f}"
    )
    print()
    print(f"  {'process':<20} {'RSS start':>10} {'at warm-up':>10} {'end':>8} {'max':>8}"
          f" {'slope MiB/h':>12} {'CPU':>6}")  # fmt: skip
    for name, series in run.rss.items():
        slope = series.slope_per_hour(warm)
        cpu = run.cpu_s.get(name)
        print(
            f"  {name:<20} {mib(series.first()):>10} {mib(series.first(warm)):>10} "
            f"{mib(series.last()):>8} {mib(series.max()):>8} "
            f"{'-' if slope is None else f'{slope / MIB:+,.1f}':>12} "
            f"{'-' if cpu is None else f'{cpu / max(elapsed, 1e-9):.0%}':>6}"
        )
    print("  (MiB; CPU: share of one core over the run; the broker keeps every message)")
    print(
        "  (state fills until its horizons pass: 60-min rolling windows, the 1 h lateness "
        "horizon, contacts open up to 4 h; a flat slope needs a run well past the first hour)"
    )
    print()
    lag_slope = run.lag_events.slope_per_hour(warm)
    print(
        f"  lag (produced − folded): max {run.lag_events.max() or 0:,.0f} events / "
        f"{run.lag_s.max() or 0:.1f} s; after warm-up max {run.lag_events.max(warm) or 0:,.0f} / "
        f"{run.lag_s.max(warm) or 0:.1f} s; last {run.lag_events.last() or 0:,.0f} / "
        f"{run.lag_s.last() or 0:.1f} s; slope after warm-up "
        f"{'-' if lag_slope is None else f'{lag_slope:+,.0f}'} events/h"
    )
    minutes = sorted({int(t // 300) for t, _ in run.lag_s.points})
    by_5min = ", ".join(
        f"{m * 5}′ {max(v for t, v in run.lag_s.points if int(t // 300) == m):.1f}" for m in minutes
    )
    print(f"  lag s, max per 5 min: {by_5min}")
    drained = (
        f"{run.drained_s:+.1f} s after the simulator stopped"
        if run.drained_s is not None
        else f"not within {DRAIN_S:.0f} s of the simulator stopping"
    )
    print(f"  everything produced folded: {drained}")
    print(f"  rejected by reason: {run.rejected or 'none'}; duplicates {run.duplicates:,}")
    health = ", ".join(f"{code}: {count}" for code, count in sorted(run.health.items(), key=str))
    last_reason = f" (last reason: {run.health_reason})" if run.health_reason else ""
    print(f"  gateway /healthz samples: {health or 'none'}{last_reason}")
    screen_error = f", ended: {run.screen_error}" if run.screen_error else ""
    print(
        f"  screen: {run.screen_messages:,} messages, {run.screen_bytes / MIB:,.1f} MiB"
        f"{screen_error}"
    )
    print()
    for name in ("worker", "gateway", "simulator"):
        child = children.get(name)
        if child is None:
            continue
        during, after = problem_lines(child, run.run_end)
        print(
            f"  {name} log: {len(during)} ERROR/CRITICAL/Traceback lines during the run, "
            f"{len(after)} at shutdown; {len(child.lines):,} lines in all"
        )
        for line in (during + after)[:5]:
            print(f"    | {line[:160]}")
        for entry in warnings_summary([line for _, line in child.lines])[:6]:
            print(f"    {entry}")
    for error in run.errors:
        print(f"  run error: {error}")


def write_logs(children: dict[str, Child], directory: Path, started: float) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, child in children.items():
        path = directory / f"soak-{name}.log"
        path.write_text("".join(f"{at - started:9.3f} {line}\n" for at, line in child.lines))
        print(f"  {name} log: {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=1800.0, help="default 30 minutes")
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="events/s to produce")
    parser.add_argument("--sample-s", type=float, default=5.0, help="RSS sampling period")
    parser.add_argument("--warmup", type=float, default=0.2, help="share of the run left out")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--logs", metavar="DIR", help="write each process's output to DIR")
    args = parser.parse_args(argv)
    run = Run()
    children: dict[str, Child] = {}
    try:
        asyncio.run(soak(args, run, children))
    except Exception as exc:  # a benchmark reports; it never stops half way silently
        traceback.print_exc()
        run.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    try:
        print_report(args, run, children)
    except Exception:  # what was measured so far still matters more than a tidy report
        traceback.print_exc()
    if args.logs:
        write_logs(children, Path(args.logs), run.started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
