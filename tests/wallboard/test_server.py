"""The real gateway against an embedded broker: topics in, HTTP, /metrics and websockets out."""

from __future__ import annotations

import asyncio
import copy
import socket
import time
from typing import Any

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from config.settings import FloorwatchConfig
from streams.wire import queue_key, worker_key
from tests.wallboard.live import (
    HttpReply,
    Publisher,
    create_topics,
    eventually,
    http,
    now_ms,
    with_gateway,
)
from tests.wallboard.records import (
    MIN,
    SEC,
    T0,
    folded,
    heartbeat,
    interval_records,
    morning,
    snapshot_records,
)
from wallboard.server import Gateway

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

NOW = T0 + 29 * MIN + 30 * SEC


async def state_of(gateway: Gateway) -> dict[str, Any]:
    reply = await http(gateway.port, "/api/state")
    assert reply.status == 200
    state: dict[str, Any] = reply.json()
    return state


async def publish_morning(publisher: Publisher, published_ms: int) -> dict[str, Any]:
    """The records of :func:`morning` plus one heartbeat per partition; the core's floor."""
    floor = folded(morning())
    await publisher.snapshots(snapshot_records(floor, NOW, published_ms))
    for partition in range(3):
        await publisher.send(
            publisher.topics.snapshots,
            worker_key(f"w{partition}"),
            heartbeat(f"w{partition}", published_ms, [partition]),
            partition=partition,
        )
    return floor.snapshot(NOW)


async def healthz_when(gateway: Gateway, status: int, reason_part: str = "") -> HttpReply:
    async def check() -> HttpReply | None:
        reply = await http(gateway.port, "/healthz")
        body = reply.json()
        ok = reply.status == status and reason_part in body.get("reason", "")
        return reply if ok else None

    return await eventually(check, what=f"/healthz {status} {reason_part!r}")


# -- topics, state, intervals -------------------------------------------------------------------


async def test_gateway_waits_for_its_topics_without_creating_them(
    config: FloorwatchConfig,
) -> None:
    assert config.broker is not None
    async with Gateway(config, host="127.0.0.1", port=0) as gateway:
        waiting = await healthz_when(gateway, 503, "waiting for topics")
        assert config.topics.snapshots in waiting.json()["reason"]
        admin = AIOKafkaAdminClient(bootstrap_servers=config.broker.removeprefix("kafka://"))
        await admin.start()
        try:
            assert config.topics.snapshots not in await admin.list_topics()
            await create_topics(config)
            await healthz_when(gateway, 503, "no snapshot or worker heartbeat received yet")
            described = await admin.describe_topics([config.topics.snapshots])
            assert len(described[0]["partitions"]) == config.topics.partitions
        finally:
            await admin.close()


async def test_state_is_the_floor_of_the_snapshots_of_every_partition(
    gateway: Gateway, publisher: Publisher
) -> None:
    expected = await publish_morning(publisher, now_ms())

    async def full() -> dict[str, Any] | None:
        state = await state_of(gateway)
        return state if len(state["queues"]) == 2 and len(state["workers"]) == 3 else None

    state = await eventually(full, what="two queues and three workers")
    assert state["groups"] == orjson.loads(orjson.dumps(expected["groups"]))
    assert state["agents_by_state"] == expected["agents_by_state"]
    assert [w["partitions"] for w in state["workers"]] == [[0], [1], [2]]
    assert state["stale"] is False

    await publisher.send(publisher.topics.snapshots, queue_key("sales"), None)

    async def sales_gone() -> dict[str, Any] | None:
        state = await state_of(gateway)
        return state if [q["queue"] for q in state["queues"]] == ["billing"] else None

    state = await eventually(sales_gone, what="tombstoned queue removed")
    assert state["groups"]["floor"]["day"]["offered"] == 6


async def test_intervals_api_answers_records_overlapping_the_range(
    gateway: Gateway, publisher: Publisher
) -> None:
    await publisher.intervals(interval_records(folded(morning())))

    async def all_three() -> list[Any] | None:
        records = (await http(gateway.port, "/api/intervals")).json()["intervals"]
        return records if len(records) == 3 else None

    records = await eventually(all_three, what="three interval records")
    assert [(r["queue"], r["interval_start"]) for r in records] == [
        ("billing", "2024-05-01T09:00:00+00:00"),
        ("billing", "2024-05-01T09:15:00+00:00"),
        ("sales", "2024-05-01T09:00:00+00:00"),
    ]
    # an offset written with a raw '+', as people type it
    reply = await http(gateway.port, "/api/intervals?queue=billing&from=2024-05-01T11:15:00+02:00")
    assert [r["interval_start"] for r in reply.json()["intervals"]] == ["2024-05-01T09:15:00+00:00"]
    reply = await http(gateway.port, f"/api/intervals?to={T0 + 15 * MIN}")
    assert [(r["queue"], r["offered"]) for r in reply.json()["intervals"]] == [
        ("billing", 5),
        ("sales", 2),
    ]
    bad = await http(gateway.port, "/api/intervals?from=2024-05-01T09:00:00")
    assert bad.status == 400
    assert bad.json()["error"] == (
        "from: ISO-8601 time needs an offset (e.g. Z or +01:00), got '2024-05-01T09:00:00'"
    )


async def test_gateway_reports_healthy_only_once_it_has_read_the_history(
    config: FloorwatchConfig, publisher: Publisher
) -> None:
    await create_topics(config)
    records = snapshot_records(folded(morning()), NOW, now_ms())
    await publisher.snapshots(records)
    await publisher.send(config.topics.snapshots, worker_key("w1"), heartbeat("w1", now_ms()))
    # the broker never compacts: all versions are read again, over several fetches
    billing = records[queue_key("billing")]
    versions = [{**billing, "waiting": n, "published_ms": now_ms()} for n in range(2000)]
    await publisher.send_all(config.topics.snapshots, [(queue_key("billing"), v) for v in versions])
    async with Gateway(config, host="127.0.0.1", port=0) as gateway:
        await healthz_when(gateway, 200)
        state = await state_of(gateway)
        assert [(q["queue"], q["waiting"]) for q in state["queues"]] == [
            ("billing", 1999),
            ("sales", 0),
        ]


# -- metrics and health -------------------------------------------------------------------------


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name, frozenset(sample.labels.items())] = sample.value
    return out


def billing(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset({"queue": "billing", "site": "default", "client": "", **labels}.items())


async def test_metrics_follow_the_state_and_drop_a_vanished_queue(
    gateway: Gateway, publisher: Publisher
) -> None:
    await publish_morning(publisher, now_ms())

    async def scraped() -> dict[Any, float] | None:
        reply = await http(gateway.port, "/metrics")
        assert reply.headers["content-type"].startswith("text/plain; version=")
        found = samples(reply.body.decode())
        return found if ("floorwatch_queue_waiting", billing()) in found else None

    found = await eventually(scraped, what="billing in /metrics")
    assert found["floorwatch_queue_waiting", billing()] == 1
    assert found["floorwatch_queue_at_risk", billing()] == 1
    assert found["floorwatch_queue_offered", billing(window="day")] == 6
    assert found["floorwatch_queue_asa_seconds", billing(window="day")] == 21.25
    sl = ("floorwatch_queue_service_level_ratio", billing(window="day", definition="answered_only"))
    assert found[sl] == 0.5
    assert found["floorwatch_queue_agents", billing(state="staffed")] == 1
    assert found["floorwatch_agents", frozenset({("state", "not_ready")})] == 1
    assert found["floorwatch_agents_not_ready", frozenset({("reason", "break")})] == 1
    assert found["floorwatch_gateway_websocket_clients", frozenset()] == 0
    assert found["floorwatch_gateway_stale", frozenset()] == 0
    assert found["floorwatch_gateway_last_update_age_seconds", frozenset()] < 5
    # "no data" is no sample, never a zero: nothing was answered in the 09:15 interval yet
    assert found["floorwatch_queue_offered", billing(window="interval")] == 1
    assert ("floorwatch_queue_asa_seconds", billing(window="interval")) not in found

    await publisher.send(publisher.topics.snapshots, queue_key("billing"), None)

    async def billing_gone() -> dict[Any, float] | None:
        found = samples((await http(gateway.port, "/metrics")).body.decode())
        return None if ("floorwatch_queue_waiting", billing()) in found else found

    found = await eventually(billing_gone, what="billing series gone")
    assert not [key for key in found if dict(key[1]).get("queue") == "billing"]


async def test_healthz_is_503_without_data_200_when_fresh_503_when_stale(
    config: FloorwatchConfig, publisher: Publisher
) -> None:
    config = with_gateway(config, stale_s=0.5)
    await create_topics(config)
    async with Gateway(config, host="127.0.0.1", port=0) as gateway:
        await healthz_when(gateway, 503, "no snapshot or worker heartbeat received yet")
        await publisher.send(config.topics.snapshots, worker_key("w1"), heartbeat("w1", now_ms()))
        ok = await healthz_when(gateway, 200)
        assert ok.json()["consuming"] is True
        stale = await healthz_when(gateway, 503, "no snapshot or worker heartbeat for")
        assert stale.json()["reason"].endswith("(stale after 0.5 s)")


# -- websockets ---------------------------------------------------------------------------------


async def next_state(client: ClientConnection, timeout_s: float = 2.0) -> dict[str, Any]:
    message = orjson.loads(await asyncio.wait_for(client.recv(), timeout_s))
    assert message["type"] == "state"
    state: dict[str, Any] = message["state"]
    return state


async def state_where(
    client: ClientConnection, predicate: Any, timeout_s: float = 2.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        state = await next_state(client, max(0.01, deadline - time.monotonic()))
        if predicate(state):
            return state


def billing_waiting(state: dict[str, Any]) -> int | None:
    return next((q["waiting"] for q in state["queues"] if q["queue"] == "billing"), None)


async def test_websocket_sends_the_full_state_then_an_update_within_a_second(
    gateway: Gateway, publisher: Publisher
) -> None:
    published = now_ms()
    records = snapshot_records(folded(morning()), NOW, published)
    await publisher.snapshots(records)
    await eventually(lambda: _has_queues(gateway, 2), what="queues consumed")

    async with connect(f"ws://127.0.0.1:{gateway.port}/ws") as client:
        first = await next_state(client)
        assert [q["queue"] for q in first["queues"]] == ["billing", "sales"]
        assert first["groups"]["floor"]["day"]["offered"] == 8

        changed = copy.deepcopy(records[queue_key("billing")])
        changed["waiting"] = 5
        changed["published_ms"] = now_ms()
        sent_at = time.monotonic()
        await publisher.send(publisher.topics.snapshots, queue_key("billing"), changed)
        update = await state_where(client, lambda s: billing_waiting(s) == 5)
        assert time.monotonic() - sent_at < 1.0
        assert update["groups"]["floor"]["interval"]["waiting"] == 5
        assert update["version"] > first["version"]


async def test_screens_are_told_when_the_state_goes_stale_without_news(
    config: FloorwatchConfig, publisher: Publisher
) -> None:
    config = with_gateway(config, stale_s=0.5)
    await create_topics(config)
    gateway = Gateway(config, host="127.0.0.1", port=0)
    async with gateway, connect(f"ws://127.0.0.1:{gateway.port}/ws") as client:
        assert (await next_state(client))["stale"] is True  # nothing read yet
        await publisher.send(config.topics.snapshots, worker_key("w1"), heartbeat("w1", now_ms()))
        fresh = await state_where(client, lambda s: not s["stale"])
        stale = await state_where(client, lambda s: s["stale"])
        assert stale["version"] == fresh["version"]  # time alone made it stale
        assert stale["stale_reason"].startswith("no snapshot or worker heartbeat for")


async def _has_queues(gateway: Gateway, count: int) -> bool:
    return len((await state_of(gateway))["queues"]) == count


async def open_slow_screen(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A websocket client that completes the handshake and then never reads, with a tiny
    receive buffer so the server's sends back up quickly."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(
        b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    return reader, writer


async def test_a_screen_that_stops_reading_does_not_delay_the_others(
    gateway: Gateway, publisher: Publisher
) -> None:
    # a big floor, so every state is large enough to fill the slow screen's buffers
    records = snapshot_records(folded(morning()), NOW, now_ms())
    agent = records["agent:ann"]
    for n in range(1500):
        records[f"agent:x{n}"] = {**agent, "agent_id": f"x{n}", "name": f"Agent {n:04d}"}
    await publisher.snapshots(records)
    await eventually(lambda: _has_queues(gateway, 2), what="queues consumed")

    _, slow_writer = await open_slow_screen(gateway.port)
    async with connect(f"ws://127.0.0.1:{gateway.port}/ws", max_size=None) as fast:
        await next_state(fast)
        billing_view = records[queue_key("billing")]
        latencies = []
        for waiting in range(10, 22):
            changed = {**billing_view, "waiting": waiting, "published_ms": now_ms()}
            sent_at = time.monotonic()
            await publisher.send(publisher.topics.snapshots, queue_key("billing"), changed)
            await state_where(fast, lambda s, w=waiting: billing_waiting(s) == w)
            latencies.append(time.monotonic() - sent_at)
        backed_up = [
            screen.connection.transport.get_write_buffer_size()
            for screen in gateway.screens
            if screen.connection.transport.get_write_buffer_size() > 0
        ]
        assert backed_up, "the slow screen never backed up: the test proves nothing"
        assert max(latencies) < 1.0, latencies
        assert len(gateway.screens) == 2
    slow_writer.close()


async def test_websocket_from_an_origin_not_allowed_is_refused(
    config: FloorwatchConfig,
) -> None:
    config = with_gateway(config, allowed_origins=("https://board.example",))
    await create_topics(config)
    async with Gateway(config, host="127.0.0.1", port=0) as gateway:
        url = f"ws://127.0.0.1:{gateway.port}/ws"
        refused = await http(
            gateway.port,
            "/ws",
            Origin="https://evil.example",
            Upgrade="websocket",
            Connection="Upgrade",
            Sec_WebSocket_Key="dGhlIHNhbXBsZSBub25jZQ==",
            Sec_WebSocket_Version="13",
        )
        assert refused.status == 403
        async with connect(url, origin=Origin("https://board.example")) as client:
            assert (await next_state(client))["stale"] is True


# -- the page and the other routes --------------------------------------------------------------


async def test_page_and_static_files_are_served_and_unknown_paths_are_404(
    gateway: Gateway,
) -> None:
    page = await http(gateway.port, "/")
    assert page.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert b'src="static/app.js"' in page.body
    assert "default-src 'self'" in page.headers["content-security-policy"]
    script = await http(gateway.port, "/static/app.js")
    assert script.status == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert b"innerHTML" not in script.body
    assert (await http(gateway.port, "/static/../hub.py")).status == 404
    assert (await http(gateway.port, "/static/missing.js")).status == 404
    ack = await http(gateway.port, "/api/alerts/a-1/ack", method="POST")
    assert ack.status == 501
    assert "not implemented until alerts land" in ack.json()["error"]
    alerts = await http(gateway.port, "/api/alerts")
    assert alerts.json() == {"alerts": []}
    plain = await http(gateway.port, "/ws")
    assert plain.status == 426
