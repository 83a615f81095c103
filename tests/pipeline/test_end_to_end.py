"""End to end: real embedded broker, real ``floorwatch`` worker / gateway / replay / demo
processes, and the in-process core as the oracle.

1. live path: events produced now reach ``/api/state`` and a websocket screen within 1 s;
2. real data: the Anonymous Bank day replayed gives, through ``/api/intervals``, exactly the
   core's interval records;
3. bad input: every rejection class is dead-lettered with its reason and original bytes,
   changes nothing, and the worker keeps going;
4. demo: ``floorwatch demo`` shows live numbers within 15 s and Ctrl-C leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import psutil
import pytest
from aiokafka import AIOKafkaProducer
from websockets.asyncio.client import connect

from agents.worker import READY_LINE
from config.loader import load_config
from config.settings import FloorwatchConfig
from floorwatch.broker import EmbeddedBroker
from floorwatch.kafka import EventProducer, ensure_topics
from floorwatch.processes import spawn
from streams.floor import Floor
from streams.intervals import is_empty_record
from tests.anonymous_bank import TIMEZONE, contract_events
from tests.pipeline.harness import (
    Process,
    config_for,
    environment,
    free_port,
    keyed,
    latest_intervals,
    produce,
    read_topic,
    wait_until,
)

pytestmark = pytest.mark.integration

GATEWAY_LINE = "floorwatch gateway: http://"
LIVE_BUDGET_S = 1.0
DEMO_BUDGET_S = 15.0


@pytest.fixture()
def broker() -> Iterator[EmbeddedBroker]:
    """A broker of this test alone: the worker's group and changelog names are fixed."""
    with EmbeddedBroker() as running:
        yield running


# --- helpers ---------------------------------------------------------------------------------


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Stack:
    """One worker and one gateway on ``broker``, both real ``floorwatch`` processes."""

    def __init__(self, broker: EmbeddedBroker, tmp: Path, **extra_env: str) -> None:
        env = environment(broker, tmp / "worker-data", **extra_env)
        asyncio.run(ensure_topics(broker.url, load_config(env=env).topics))
        self.port = free_port()  # `gateway --port` takes 1-65535 only: no port 0
        self.worker = Process(["worker"], env, tmp / "worker.log")
        self.gateway = Process(["gateway", "--port", str(self.port)], env, tmp / "gateway.log")
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self) -> Stack:
        self.gateway.wait_for_line(GATEWAY_LINE)
        self.worker.wait_for_line(READY_LINE, timeout_s=90)
        return self

    def stop(self) -> None:
        for process in (self.gateway, self.worker):
            if process.proc.poll() is None:
                process.stop()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.log.name} ---\n{p.log.read_text(errors='replace')[-2000:]}"
            for p in (self.worker, self.gateway)
        )

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=5) as reply:
            return orjson.loads(reply.read())

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.base + "/healthz", timeout=5) as reply:
                return bool(reply.status == 200)
        except (urllib.error.URLError, OSError):
            return False


@pytest.fixture()
def stack_factory(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    stacks: list[Stack] = []

    def make(**extra_env: str) -> Stack:
        stack = Stack(broker, tmp_path, **extra_env)
        stacks.append(stack)
        return stack.start()

    yield make
    for stack in stacks:
        stack.stop()


def core_records(config: FloorwatchConfig, raws: list[bytes]) -> dict[str, Any]:
    """What the in-process core publishes for ``raws``: non-empty records by key."""
    floor = Floor(config.core)
    for raw in raws:
        floor.ingest(raw)
    return keyed(floor.records())


def describe_difference(seen: Mapping[str, Any], expected: Mapping[str, Any]) -> str:
    missing = sorted(expected.keys() - seen.keys())
    extra = sorted(seen.keys() - expected.keys())
    differ = sorted(k for k in expected.keys() & seen.keys() if expected[k] != seen[k])
    detail = {
        k: {
            f: (seen[k].get(f), expected[k][f])
            for f in expected[k].keys() | seen[k].keys()
            if seen[k].get(f) != expected[k].get(f)
        }
        for k in differ[:3]
    }
    return (
        f"{len(seen)} seen, {len(expected)} expected; missing {missing[:5]} "
        f"({len(missing)}), extra {extra[:5]} ({len(extra)}), differing {len(differ)}: "
        f"(seen, expected) {detail}"
    )


def wait_for_equal(
    fetch: Callable[[], dict[str, Any]], expected: dict[str, Any], what: str, timeout_s: float
) -> None:
    seen: dict[str, Any] = {}

    def done() -> bool:
        seen.clear()
        seen.update(fetch())
        return seen == expected

    try:
        wait_until(done, timeout_s=timeout_s, what=what, interval_s=0.5)
    except AssertionError as error:
        raise AssertionError(f"{error}: {describe_difference(seen, expected)}") from None


def contact(kind: str, contact_id: str, queue: str, ts: int, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": f"{contact_id}-{kind}-{ts}",
        "type": f"contact.{kind}",
        "ts": ts,
        "contact_id": contact_id,
        "queue": queue,
        **fields,
    }


def agent_state(agent_id: str, state: str, ts: int, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": f"{agent_id}-{state}-{ts}",
        "type": "agent.state",
        "ts": ts,
        "agent_id": agent_id,
        "state": state,
        **fields,
    }


# --- 1. live path ----------------------------------------------------------------------------


def billing_is_live(state: Mapping[str, Any]) -> bool:
    """The state shows queue billing with the contact still waiting."""
    return any(q["queue"] == "billing" and q["waiting"] >= 1 for q in state.get("queues", ()))


async def measure_live_path(
    broker: EmbeddedBroker, config: FloorwatchConfig, stack: Stack, raws: list[bytes]
) -> dict[str, float]:
    """Produce ``raws`` and time (from the produce call returning) until the queue shows up
    in ``/api/state`` (polled every 20 ms) and in a websocket message."""
    async with (
        connect(f"ws://127.0.0.1:{stack.port}/ws") as screen,
        EventProducer(broker.url, config.topics) as producer,
    ):
        first = orjson.loads(await asyncio.wait_for(screen.recv(), 5))
        assert first["type"] == "state", first
        assert not billing_is_live(first["state"]), "billing was live before any event"
        seen: dict[str, float] = {}
        produced = asyncio.Event()

        async def watch_screen() -> None:
            while True:
                message = orjson.loads(await screen.recv())
                if message["type"] == "state" and billing_is_live(message["state"]):
                    seen["websocket"] = time.monotonic()
                    return

        async def poll_rest() -> None:
            await produced.wait()
            while True:
                state = await asyncio.to_thread(stack.get, "/api/state")
                if billing_is_live(state):
                    seen["rest"] = time.monotonic()
                    return
                await asyncio.sleep(0.02)

        watchers = asyncio.gather(watch_screen(), poll_rest())
        sent = time.monotonic()
        for raw in raws:
            await producer.send(raw)
        await producer.flush()
        returned = time.monotonic()
        produced.set()
        try:
            await asyncio.wait_for(watchers, timeout=10)
        except TimeoutError:
            raise AssertionError(
                f"billing not live within 10 s (seen: {seen}, produce took "
                f"{returned - sent:.3f} s)\n{stack.logs()}"
            ) from None
    return {
        "produce_s": returned - sent,
        **{f"{name}_s": max(0.0, at - returned) for name, at in seen.items()},
        **{f"{name}_from_send_s": at - sent for name, at in seen.items()},
    }


def test_live_events_reach_rest_and_websocket_within_a_second(
    broker: EmbeddedBroker, stack_factory: Callable[..., Stack]
) -> None:
    config = config_for(broker)
    stack = stack_factory()
    wait_until(stack.healthy, timeout_s=30, what="gateway /healthz 200 (worker heartbeats)")
    now = now_ms()
    events = [
        agent_state("a-live-1", "available", now - 4_000, queues=["billing"]),
        contact("queued", "c-live-1", "billing", now - 3_000, channel="voice"),
        contact("answered", "c-live-1", "billing", now - 1_000, agent_id="a-live-1"),
        agent_state("a-live-1", "on_contact", now - 1_000, queues=["billing"]),
        contact("queued", "c-live-2", "billing", now),
    ]
    raws = [orjson.dumps(event) for event in events]

    latency = asyncio.run(measure_live_path(broker, config, stack, raws))

    print(f"\nlive path latencies (s): {latency}")
    assert latency["rest_s"] < LIVE_BUDGET_S, latency
    assert latency["websocket_s"] < LIVE_BUDGET_S, latency
    expected = core_records(config, raws)
    assert expected, "the core publishes no record for the live events"
    wait_for_equal(
        lambda: latest_intervals(broker, config),
        expected,
        "floor-intervals to equal the core's records",
        timeout_s=15,
    )


# --- 2. real data ----------------------------------------------------------------------------


def test_replayed_anonymous_bank_day_gives_the_cores_interval_records(
    broker: EmbeddedBroker, stack_factory: Callable[..., Stack], tmp_path: Path
) -> None:
    config_file = tmp_path / "bank.yaml"
    config_file.write_text(
        f"sites:\n  - name: default\n    timezone: {TIMEZONE}\n    day_reset: '00:00'\n"
    )
    raws = [orjson.dumps(event) for event in contract_events()]
    day_file = tmp_path / "anonymous-bank-1999-08-01.jsonl"
    day_file.write_bytes(b"".join(raw + b"\n" for raw in raws))
    config = load_config(config_file, env={"FLOORWATCH_BROKER": broker.url})
    expected = core_records(config, raws)
    assert len(expected) > 50 and all(
        r["interval_start"].endswith("+03:00") for r in expected.values()
    )
    stack = stack_factory(FLOORWATCH_CONFIG=str(config_file))

    replay = subprocess.run(
        [sys.executable, "-m", "floorwatch", "replay", str(day_file), "--speed", "max"],
        env=environment(broker, tmp_path / "unused", FLOORWATCH_CONFIG=str(config_file)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert replay.returncode == 0, replay.stderr[-3000:]
    print(f"\nreplay: {replay.stderr.strip().splitlines()[-1]}")

    def served() -> dict[str, Any]:
        records = stack.get("/api/intervals")["intervals"]
        return keyed(r for r in records if not is_empty_record(r))

    started = time.monotonic()
    wait_for_equal(served, expected, "/api/intervals to equal the core's records", timeout_s=90)
    print(
        f"/api/intervals matched {len(expected)} records {time.monotonic() - started:.1f} s "
        "after the replay exited"
    )


# --- 3. bad input ----------------------------------------------------------------------------


def test_every_rejection_is_dead_lettered_and_changes_nothing(
    broker: EmbeddedBroker, stack_factory: Callable[..., Stack]
) -> None:
    config = config_for(broker)
    stack = stack_factory()
    now = now_ms()
    queued = contact("queued", "c-ok-1", "billing", now - 120_000)
    valid = [
        orjson.dumps(agent_state("a-ok-1", "available", now - 130_000, queues=["billing"])),
        orjson.dumps(queued),
        orjson.dumps(contact("answered", "c-ok-1", "billing", now - 100_000, agent_id="a-ok-1")),
        orjson.dumps(contact("queued", "c-ok-2", "sales", now - 90_000)),
        orjson.dumps(contact("abandoned", "c-ok-2", "sales", now - 30_000)),
    ]
    bad: dict[str, bytes] = {
        "invalid_json": b'{"event_id": "x1", "type": "contact.queued", ',
        "oversized": orjson.dumps(
            {**contact("queued", "c-big", "billing", now - 60_000), "note": "x" * 70_000}
        ),
        "missing_field": orjson.dumps(
            {
                k: v
                for k, v in contact("queued", "c-nf", "billing", now).items()
                if k != "contact_id"
            }
        ),
        "bad_type": orjson.dumps(contact("queued", "c-bt", "billing", now, priority="high")),
        "bad_value": orjson.dumps(agent_state("a-ok-1", "sleeping", now - 50_000)),
        "unknown_type": orjson.dumps(contact("teleported", "c-ut", "billing", now)),
        "bad_timestamp": orjson.dumps(
            {**contact("queued", "c-ts", "billing", now), "ts": "yesterday at noon"}
        ),
        "from_future": orjson.dumps(contact("queued", "c-ff", "billing", now + 86_400_000)),
        # two hours behind the billing event produced before it (horizon 1 h)
        "too_late": orjson.dumps(contact("queued", "c-tl", "billing", now - 7_200_000 - 120_000)),
    }
    misrouted = orjson.dumps(contact("queued", "c-mr", "billing", now - 10_000))
    assert len(bad["oversized"]) > config.core.processing.max_event_bytes

    # valid and bad interleaved, each bad one after the valid billing events
    produce(broker, config, [*valid[:3], *bad.values(), *valid[3:]])
    asyncio.run(produce_with_key(broker, config.topics.acd_events, b"sales", misrouted))
    bad["misrouted"] = misrouted

    expected_letters = {raw: reason for reason, raw in bad.items()}
    letters: dict[bytes, Any] = {}

    def all_dead_lettered() -> bool:
        letters.clear()
        for message in read_topic(broker, config.topics.dead_letters, config.topics.partitions):
            letters[message.value] = message
        return len(letters) >= len(expected_letters)

    try:
        wait_until(all_dead_lettered, timeout_s=30, what="every bad input in dead-letters")
    except AssertionError as error:
        got = {dict(m.headers).get("floorwatch.reason", b"?").decode() for m in letters.values()}
        raise AssertionError(f"{error}: got reasons {sorted(got)}\n{stack.logs()}") from None
    assert set(letters) == set(expected_letters), (
        "dead-letters hold other bytes than the bad inputs: "
        f"{[v[:120] for v in set(letters) ^ set(expected_letters)]}"
    )
    for raw, reason in expected_letters.items():
        headers = {name: value.decode() for name, value in letters[raw].headers}
        assert headers["floorwatch.reason"] == reason, (reason, headers)
        assert headers["floorwatch.topic"] == config.topics.acd_events, headers
        assert headers["floorwatch.message"], headers
        assert int(headers["floorwatch.offset"]) >= 0, headers
        assert int(headers["floorwatch.partition"]) in range(config.topics.partitions), headers
    assert letters[misrouted].key == b"sales"

    counted = {reason: 1 for reason in bad}
    rejected: dict[str, int] = {}

    def heartbeat_counts_them() -> bool:
        workers = stack.get("/api/state")["workers"]
        rejected.clear()
        rejected.update(workers[0]["rejected"] if workers else {})
        return rejected == counted

    try:
        wait_until(heartbeat_counts_them, timeout_s=10, what="the heartbeat to count rejections")
    except AssertionError as error:
        raise AssertionError(f"{error}: {rejected} != {counted}") from None

    expected = core_records(config, valid)
    wait_for_equal(
        lambda: latest_intervals(broker, config),
        expected,
        "floor-intervals to equal the core's records of the valid events",
        timeout_s=15,
    )

    assert stack.worker.proc.poll() is None, stack.logs()
    later = orjson.dumps(contact("queued", "c-ok-3", "billing", now_ms()))
    produce(broker, config, [later])
    expected_later = core_records(config, [*valid, later])
    assert expected_later != expected
    wait_for_equal(
        lambda: latest_intervals(broker, config),
        expected_later,
        "floor-intervals to take a valid event produced after the bad ones",
        timeout_s=15,
    )
    assert stack.worker.proc.poll() is None, stack.logs()


async def produce_with_key(broker: EmbeddedBroker, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


# --- 4. demo ---------------------------------------------------------------------------------


def live_numbers(state: Mapping[str, Any]) -> bool:
    """Some queue has contacts offered in some window, or waiting now."""
    for view in state.get("queues", ()):
        if view.get("waiting", 0) > 0:
            return True
        if any(window.get("offered", 0) > 0 for window in view.get("windows", {}).values()):
            return True
    return False


def fetch_state(port: int) -> Any:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/state", timeout=2) as reply:
            return orjson.loads(reply.read())
    except (urllib.error.URLError, OSError):
        return None


def test_demo_shows_live_numbers_within_fifteen_seconds_and_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOORWATCH_")}
    env["PYTHONUNBUFFERED"] = "1"
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        started = time.monotonic()
        demo = spawn(
            [sys.executable, "-m", "floorwatch", "demo", "--port", str(port), "--rate", "20"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = started + 60
        state: Any = None
        while time.monotonic() < deadline:
            assert demo.poll() is None, f"demo exited {demo.returncode}:\n{log.read_text()}"
            state = fetch_state(port)
            if state is not None and live_numbers(state):
                break
            time.sleep(0.1)
        else:
            raise AssertionError(
                f"no live numbers within 60 s; last state {state}\n{log.read_text()[-3000:]}"
            )
        took = time.monotonic() - started
        print(f"\ndemo: live numbers {took:.1f} s after start")
        assert took < DEMO_BUDGET_S, f"live numbers only after {took:.1f} s"

        children = psutil.Process(demo.pid).children(recursive=True)
        commands = sorted(" ".join(child.cmdline()[1:4]) for child in children)
        assert len(children) >= 4, commands  # broker, worker, gateway, simulator

        demo.send_signal(signal.SIGINT)
        code = demo.wait(30)
        assert code == 0, f"demo exited {code} on SIGINT:\n{log.read_text()[-3000:]}"
        alive = still_running(children, timeout_s=10)
        assert not alive, f"left running after SIGINT: {alive}"
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)


def still_running(processes: list[psutil.Process], timeout_s: float) -> list[str]:
    """Processes still running after ``timeout_s`` (zombies count as ended)."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = []
        for process in processes:
            try:
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(f"{process.pid} {' '.join(process.cmdline()[:4])}")
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)
