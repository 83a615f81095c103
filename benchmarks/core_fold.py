"""Core benchmark: fold a realistic simulated day (≥ 1 M events) in one thread.

Prints, side by side, events/s for parsing alone, folding pre-parsed events, and both (what a
worker does per message), against the target of 150 k events/s, then the core's memory by
hour of the day next to the number of contacts already closed: memory must follow the
floor's activity (open contacts, the lateness horizon, rolling windows), not the day's total.

    python -m benchmarks.core_fold [--scale X] [--seed N] [--hours H]
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from agents.worker import GC_THRESHOLD
from streams.calendar import to_epoch_ms
from streams.events import Event, Rejection, parse_event
from streams.floor import Floor
from streams.simulation import core_settings, default_scenario, simulate

TARGET_EVENTS_PER_S = 150_000
WORKER_GC_THRESHOLD = GC_THRESHOLD
"""The collector thresholds ``floorwatch worker`` runs with (agents.worker.GC_THRESHOLD)."""


def generate(scale: float, seed: int, hours: float) -> list[bytes]:
    from datetime import UTC, datetime

    start = to_epoch_ms(datetime(2024, 5, 1, tzinfo=UTC))
    end = start + int(hours * 3_600_000)
    return [
        orjson.dumps(e)
        for e in simulate(default_scenario(scale), seed=seed, start_ms=start, end_ms=end)
    ]


def timed(label: str, n: int, action: Callable[[], Any], rounds: int) -> float:
    """Best of ``rounds`` (CPU time): this kind of machine varies by ±15 % between runs."""
    times = []
    for _ in range(rounds):
        gc.collect()
        started = time.process_time()
        action()
        times.append(time.process_time() - started)
    best = min(times)
    rate = n / best
    spread = ", ".join(f"{n / t / 1000:.0f}k" for t in times)
    print(
        f"  {label:<34} {rate:>10,.0f} ev/s  {rate / TARGET_EVENTS_PER_S:5.2f}× target"
        f"   (rounds: {spread})"
    )
    return rate


def fold_all(floor: Floor, events: Iterable[Event]) -> None:
    apply = floor.apply
    for event in events:
        apply(event)


def ingest_all(floor: Floor, raws: Iterable[bytes]) -> None:
    ingest = floor.ingest
    for raw in raws:
        ingest(raw)


def memory_by_hour(settings: Any, events: list[Event]) -> list[tuple[int, int, int, float]]:
    """(hour, contacts closed, legs held, traced MiB of core state) at each hour boundary."""
    floor = Floor(settings)
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    rows = []
    first = events[0].ts_ms
    next_hour = first - first % 3_600_000 + 3_600_000
    closed = 0
    for event in events:
        if event.ts_ms >= next_hour:
            floor.expire(event.ts_ms)
            held = sum(len(q.legs) for q in floor.queues.values())
            mib = (tracemalloc.get_traced_memory()[0] - baseline) / 2**20
            rows.append(((next_hour // 3_600_000) % 24, closed, held, mib))
            next_hour += 3_600_000
        floor.apply(event)
        if event.type in ("contact.wrapped", "contact.abandoned", "contact.flowed_out"):
            closed += 1
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rows.append((-1, closed, 0, (peak - baseline) / 2**20))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=None, help="simulator scale (default: ~1 M events a day)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per figure (best wins)")
    args = parser.parse_args(argv)

    from streams.simulation import SCALE_FOR_A_MILLION_EVENTS_A_DAY

    scale = args.scale or SCALE_FOR_A_MILLION_EVENTS_A_DAY
    started = time.perf_counter()
    raws = generate(scale, args.seed, args.hours)
    print(
        f"simulated {args.hours:g} h at scale {scale:g}: {len(raws):,} events "
        f"({time.perf_counter() - started:.1f} s to generate, not counted)"
    )
    settings = core_settings(default_scenario(scale))
    parsed = [parse_event(raw) for raw in raws]
    bad = [p for p in parsed if isinstance(p, Rejection)]
    if bad:
        print(f"  {len(bad)} simulated events were rejected: {bad[:3]}", file=sys.stderr)
        return 1
    events: list[Event] = [p for p in parsed if not isinstance(p, Rejection)]
    # the pre-built inputs are not the fold's state: keep the collector off them
    gc.collect()
    gc.freeze()

    print(
        f"\nthroughput, one thread, CPU time, best of {args.rounds}"
        f" (target {TARGET_EVENTS_PER_S:,} ev/s):"
    )
    n = len(events)
    rounds = args.rounds
    timed("parse (bytes -> typed event)", n, lambda: [parse_event(r) for r in raws], rounds)
    timed("fold, default gc", n, lambda: fold_all(Floor(settings), events), rounds)
    gc.set_threshold(*WORKER_GC_THRESHOLD)
    fold_rate = timed(
        "fold, worker gc settings", n, lambda: fold_all(Floor(settings), events), rounds
    )
    timed("parse + fold, worker gc settings", n, lambda: ingest_all(Floor(settings), raws), rounds)
    verdict = "meets" if fold_rate >= TARGET_EVENTS_PER_S else "is BELOW"
    print(f"  => the core fold {verdict} the target of {TARGET_EVENTS_PER_S:,} ev/s")

    print("\ncore state memory by hour (traced allocations, inputs excluded):")
    print(f"  {'hour':>4} {'contacts closed':>16} {'legs held':>10} {'state MiB':>10}")
    rows = memory_by_hour(settings, events)
    for hour, closed, held, mib in rows[:-1]:
        print(f"  {hour:>4} {closed:>16,} {held:>10,} {mib:>10.1f}")
    print(
        f"  peak state {rows[-1][3]:.1f} MiB after {rows[-1][1]:,} closed contacts; "
        f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
        "(includes the pre-generated events)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
