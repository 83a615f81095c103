"""The real gateway against an embedded broker: topics in, HTTP, /metrics and websockets out."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import socket
import time
from dataclasses import replace
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
    ScreenView,
    create_topics,
    eventually,
    http,
    now_ms,
    receive,
    screen_where,
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
from wallboard.access import Tokens
from wallboard.screen import ViewFilter
from wallboard.server import SCREEN_PROTOCOL, WRITE_BACKLOG_LIMIT, Gateway, Screen

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

NOW = T0 + 29 * MIN + 30 * SEC
UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec_WebSocket_Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec_WebSocket_Version": "13",
}


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


async def test_healthz_is_503_naming_the_broker_when_it_is_unreachable(
    config: FloorwatchConfig,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]  # nothing listens there once the socket closes
    config = replace(config, broker=f"kafka://127.0.0.1:{closed_port}")
    async with Gateway(config, host="127.0.0.1", port=0) as gateway:
        down = await healthz_when(gateway, 503, f"broker 127.0.0.1:{closed_port}")
        assert down.json()["consuming"] is False


# -- websockets ---------------------------------------------------------------------------------


def screen(url: str, **kwargs: Any) -> Any:
    """A websocket connection as the page opens it (the screen subprotocol)."""
    return connect(url, subprotocols=[SCREEN_PROTOCOL], **kwargs)


async def first_view(client: ClientConnection) -> ScreenView:
    view = await receive(client, ScreenView())
    assert view.kinds == ["state"]
    return view


def billing_waiting(view: ScreenView) -> int | None:
    billing = view.queue("billing")
    return None if billing is None else billing["waiting"]


async def test_websocket_sends_the_whole_screen_state_then_patches_within_a_second(
    gateway: Gateway, publisher: Publisher
) -> None:
    published = now_ms()
    records = snapshot_records(folded(morning()), NOW, published)
    await publisher.snapshots(records)
    await eventually(lambda: _has_floor(gateway, 2, 3), what="queues and agents consumed")

    async with screen(f"ws://127.0.0.1:{gateway.port}/ws") as client:
        view = await first_view(client)
        assert sorted(view.section("queues")) == ["billing", "sales"]
        assert view.section("groups")["floor"]["windows"]["day"]["offered"] == 8
        assert sorted(view.section("agents")) == ["ann", "bob", "cat"]
        # the board row, without the figures that move with the clock alone
        assert view.section("agents")["cat"] == {
            "agent_id": "cat",
            "name": "Cat Roy",
            "team": "red",
            "site": None,
            "state": "not_ready",
            "reason": "break",
            "since_ms": T0 + 20 * MIN,
            "queue": None,
        }
        assert view.section("staff")["team:red"]["not_ready"] == 1
        rest = {q["queue"]: q for q in (await state_of(gateway))["queues"]}
        assert (
            view.queue("billing")["required_agents"]
            == (  # type: ignore[index]
                rest["billing"]["staffing"]["required_agents"]
            )
        )
        billing = view.queue("billing")
        assert billing is not None
        assert billing["colours"]["service_level"] == [0.8, 0.7]
        assert billing["colours"]["longest_wait_s"] == [15.0, 20.0]
        # one definition, the queue's first: 2 answered within 20 s of 4 answered + 1 abandoned
        assert billing["definition"] == "answered_of_offered"
        assert billing["windows"]["day"] == {
            "offered": 6,
            "answered": 4,
            "abandoned": 1,
            "abandon_rate": 0.1667,
            "asa_s": 21.2,
            "aht_s": 240.0,
            "service_level": 0.4,
        }

        changed = copy.deepcopy(records[queue_key("billing")])
        changed["waiting"] = 5
        changed["published_ms"] = now_ms()
        sent_at = time.monotonic()
        await publisher.send(publisher.topics.snapshots, queue_key("billing"), changed)
        raw_patch = None
        while billing_waiting(view) != 5:
            raw = orjson.loads(await asyncio.wait_for(client.recv(), 2.0))
            view.apply(raw)
            raw_patch = raw
        assert time.monotonic() - sent_at < 1.0
        assert raw_patch is not None and raw_patch["type"] == "patch"
        # only what changed travels: billing and the roll-ups, not sales nor the agents
        assert sorted(raw_patch["set"]) == ["groups", "queues"]
        assert list(raw_patch["set"]["queues"]) == ["billing"]
        assert view.section("groups")["floor"]["waiting"] == 5
        assert view.meta["last_update_ms"] >= changed["published_ms"]


async def test_a_script_without_the_screen_protocol_gets_the_whole_rest_state_each_time(
    gateway: Gateway, publisher: Publisher
) -> None:
    records = snapshot_records(folded(morning()), NOW, now_ms())
    await publisher.snapshots(records)
    await eventually(lambda: _has_floor(gateway, 2, 3), what="queues and agents consumed")

    async with connect(f"ws://127.0.0.1:{gateway.port}/ws") as client:
        assert client.subprotocol is None
        first = orjson.loads(await asyncio.wait_for(client.recv(), 2))
        assert first["type"] == "state"
        assert first["state"] == (await state_of(gateway)) | {"now_ms": first["state"]["now_ms"]}
        changed = {**records[queue_key("billing")], "waiting": 7, "published_ms": now_ms()}
        await publisher.send(publisher.topics.snapshots, queue_key("billing"), changed)
        deadline = time.monotonic() + 2
        while True:
            message = orjson.loads(await asyncio.wait_for(client.recv(), 2))
            assert message["type"] == "state"
            queues = {q["queue"]: q for q in message["state"]["queues"]}
            if queues["billing"]["waiting"] == 7:
                break
            assert time.monotonic() < deadline
        assert (
            queues["billing"]["handling_agents"] == records[queue_key("billing")]["handling_agents"]
        )


async def test_websocket_filter_keeps_its_queues_and_agents_and_rolls_up_only_those(
    gateway: Gateway, publisher: Publisher
) -> None:
    await publisher.snapshots(snapshot_records(folded(morning()), NOW, now_ms()))
    await eventually(lambda: _has_floor(gateway, 2, 3), what="queues and agents consumed")
    base = f"ws://127.0.0.1:{gateway.port}/ws"

    async with screen(f"{base}?queues=billing") as client:
        view = await first_view(client)
        assert sorted(view.section("queues")) == ["billing"]
        assert sorted(view.section("agents")) == ["ann", "cat"]  # skilled for billing
        floor = view.section("groups")["floor"]
        assert floor["queues"] == 1
        assert floor["windows"]["day"]["offered"] == 6
        assert floor["windows"]["day"]["service_level"] == 0.4
        assert view.section("staff")["floor"]["logged_in"] == 2
        assert view.section("settings")["filter"] == {
            "site": [],
            "queues": ["billing"],
            "team": [],
        }

    async with screen(f"{base}?team=blue") as client:
        view = await first_view(client)
        assert sorted(view.section("queues")) == ["billing", "sales"]
        assert sorted(view.section("agents")) == ["bob"]
        assert view.section("staff")["floor"]["logged_in"] == 1
        assert sorted(k for k in view.section("staff") if k.startswith("team:")) == ["team:blue"]

    async with screen(f"{base}?site=default,elsewhere&queues=sales") as client:
        view = await first_view(client)
        assert sorted(view.section("queues")) == ["sales"]
        assert view.section("agents") == {}  # no agent row names a site

    async with screen(f"{base}?site=elsewhere") as client:
        view = await first_view(client)
        assert view.section("queues") == {}
        assert view.section("groups")["floor"]["windows"] == {}


async def test_screens_are_told_when_the_state_goes_stale_without_news(
    config: FloorwatchConfig, publisher: Publisher
) -> None:
    config = with_gateway(config, stale_s=0.5)
    await create_topics(config)
    gateway = Gateway(config, host="127.0.0.1", port=0)
    async with gateway, screen(f"ws://127.0.0.1:{gateway.port}/ws") as client:
        view = await first_view(client)
        assert view.meta["stale"] is True  # nothing read yet
        await publisher.send(config.topics.snapshots, worker_key("w1"), heartbeat("w1", now_ms()))
        await screen_where(client, view, lambda v: not v.meta["stale"], what="fresh")
        fresh_version = view.meta["version"]
        await screen_where(client, view, lambda v: v.meta["stale"], what="stale again")
        assert view.meta["version"] == fresh_version  # time alone made it stale
        assert view.meta["stale_reason"].startswith("no snapshot or worker heartbeat for")
        assert view.kinds[-1] == "patch"


async def _screens(gateway: Gateway) -> list[Screen]:
    return gateway.screens


async def _has_floor(gateway: Gateway, queues: int, agents: int) -> bool:
    state = await state_of(gateway)
    return len(state["queues"]) == queues and len(state["agents"]) >= agents


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
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Protocol: floorwatch.screen.v1\r\n\r\n"
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    return reader, writer


async def read_text_frame(reader: asyncio.StreamReader) -> bytes:
    """The payload of the next unfragmented server frame (servers do not mask)."""
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    return await reader.readexactly(length)


async def test_a_screen_that_stops_reading_does_not_delay_the_others_nor_pile_up(
    gateway: Gateway, publisher: Publisher
) -> None:
    # a big floor, so every state is large enough to fill the slow screen's buffers
    records = snapshot_records(folded(morning()), NOW, now_ms())
    agent = records["agent:ann"]
    for n in range(1500):
        records[f"agent:x{n}"] = {**agent, "agent_id": f"x{n}", "name": f"Agent {n:04d}"}
    await publisher.snapshots(records)
    await eventually(lambda: _has_floor(gateway, 2, 1503), what="queues and agents consumed")

    slow_reader, slow_writer = await open_slow_screen(gateway.port)
    (slow_screen,) = await eventually(lambda: _screens(gateway), what="slow screen registered")
    # a slow network: the gateway's kernel holds little for it (loopback would take MBs)
    slow_socket = slow_screen.connection.transport.get_extra_info("socket")
    slow_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    async with screen(f"ws://127.0.0.1:{gateway.port}/ws", max_size=None) as fast:
        view = await first_view(fast)
        billing_view = records[queue_key("billing")]
        latencies = []
        for waiting in range(10, 40):
            # agents change too, so every patch is big
            await publisher.send_all(
                publisher.topics.snapshots,
                [
                    (f"agent:x{n}", {**agent, "agent_id": f"x{n}", "name": f"A{waiting} {n}"})
                    for n in range(300)
                ],
            )
            changed = {**billing_view, "waiting": waiting, "published_ms": now_ms()}
            sent_at = time.monotonic()
            await publisher.send(publisher.topics.snapshots, queue_key("billing"), changed)
            await screen_where(fast, view, lambda v, w=waiting: billing_waiting(v) == w)
            latencies.append(time.monotonic() - sent_at)
        assert slow_screen.backlog() > 0, "the slow screen never backed up: proves nothing"
        assert gateway.counters.skipped > 0
        # bounded: what waits for the slow screen is at most the limit plus one message
        full_size = len(gateway.audiences[ViewFilter()].edition.full_message(b"{}"))  # type: ignore[union-attr]
        assert slow_screen.backlog() <= WRITE_BACKLOG_LIMIT + full_size
        assert max(latencies) < 1.0, latencies
        assert len(gateway.screens) == 2
        assert view.kinds[1:] == ["patch"] * (len(view.kinds) - 1)

        # the slow screen reads again: after what was queued, it gets the latest state whole
        final = {**billing_view, "waiting": 99, "published_ms": now_ms()}
        await publisher.send(publisher.topics.snapshots, queue_key("billing"), final)
        await screen_where(fast, view, lambda v: billing_waiting(v) == 99)
        seen = ScreenView()
        deadline = time.monotonic() + 5
        while billing_waiting(seen) != 99:
            assert time.monotonic() < deadline, "the slow screen never caught up"
            seen.apply(orjson.loads(await asyncio.wait_for(read_text_frame(slow_reader), 5)))
        assert "state" in seen.kinds[1:], "caught up without a whole state: a backlog was kept"
    slow_writer.close()


async def test_a_screen_backed_up_for_too_long_is_disconnected(
    config: FloorwatchConfig, publisher: Publisher
) -> None:
    await create_topics(config)
    records = snapshot_records(folded(morning()), NOW, now_ms())
    agent = records["agent:ann"]
    async with Gateway(config, host="127.0.0.1", port=0, drop_stalled_s=1.0) as gateway:
        await publisher.snapshots(records)
        await eventually(lambda: _has_floor(gateway, 2, 3), what="queues and agents consumed")
        slow_reader, slow_writer = await open_slow_screen(gateway.port)
        (slow_screen,) = await eventually(lambda: _screens(gateway), what="slow screen registered")
        slow_socket = slow_screen.connection.transport.get_extra_info("socket")
        slow_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        async with screen(f"ws://127.0.0.1:{gateway.port}/ws", max_size=None) as fast:
            view = await first_view(fast)
            n = 0

            async def slow_gone() -> bool:
                # keep the floor moving: agents renamed in bulk make every patch big
                nonlocal n
                n += 1
                await publisher.send_all(
                    publisher.topics.snapshots,
                    [(f"agent:y{i}", {**agent, "agent_id": f"y{i}", "name": f"Y{n} {i}"})
                     for i in range(300)],
                )  # fmt: skip
                await screen_where(fast, view, lambda v, k=n: _named(v, "y0", f"Y{k} 0"))
                return slow_screen not in gateway.screens

            await eventually(slow_gone, timeout_s=20, what="stalled screen disconnected")
            assert [s.connection for s in gateway.screens] != []  # the fast one stays
            assert gateway.counters.skipped > 0
        # the stalled client finds its connection ended after what was already sent
        with contextlib.suppress(ConnectionError):
            while await asyncio.wait_for(slow_reader.read(2**16), 5):
                pass
        slow_writer.close()


def _named(view: ScreenView, agent_id: str, name: str) -> bool:
    row = view.section("agents").get(agent_id)
    return row is not None and row["name"] == name


async def test_websocket_from_an_origin_not_allowed_is_refused(
    config: FloorwatchConfig,
) -> None:
    config = with_gateway(config, allowed_origins=("https://board.example",))
    await create_topics(config)
    async with Gateway(config, host="127.0.0.1", port=0) as gateway:
        url = f"ws://127.0.0.1:{gateway.port}/ws"
        refused = await http(gateway.port, "/ws", Origin="https://evil.example", **UPGRADE)
        assert refused.status == 403
        async with screen(url, origin=Origin("https://board.example")) as client:
            assert (await first_view(client)).meta["stale"] is True


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
    assert ack.status == 404
    assert ack.json()["error"] == "no such alert: 'a-1'"
    alerts = await http(gateway.port, "/api/alerts")
    assert alerts.json() == {"alerts": []}
    plain = await http(gateway.port, "/ws")
    assert plain.status == 426


# -- tokens -------------------------------------------------------------------------------------

VIEWER = "viewer-secret"
OPERATOR = "operator-secret"


async def ws_status(port: int, path: str, **headers: str) -> int:
    """The status of a websocket handshake on ``path`` (101 when it is accepted)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in {**UPGRADE, **headers}.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.close()
    return int(head.split()[1])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/api/state"),
        ("GET", "/api/intervals"),
        ("GET", "/api/alerts"),
        ("POST", "/api/alerts/a-1/ack"),
        ("GET", "/ws"),
    ],
)
async def test_with_tokens_configured_a_missing_token_is_401_and_a_wrong_one_403(
    config: FloorwatchConfig, method: str, path: str
) -> None:
    await create_topics(config)
    tokens = Tokens(viewer=VIEWER, operator=OPERATOR)
    async with Gateway(config, host="127.0.0.1", port=0, tokens=tokens) as gateway:
        extra = UPGRADE if path == "/ws" else {}
        missing = await http(gateway.port, path, method=method, **extra)
        assert missing.status == 401
        assert missing.headers["www-authenticate"] == 'Bearer realm="floorwatch"'
        assert "token required" in missing.json()["error"]
        sep = "&" if "?" in path else "?"
        wrong_query = await http(gateway.port, f"{path}{sep}token=guess", method=method, **extra)
        assert wrong_query.status == 403
        wrong_header = await http(
            gateway.port, path, method=method, Authorization="Bearer guess", **extra
        )
        assert wrong_header.status == 403
        assert "guess" not in wrong_header.body.decode()


async def test_with_tokens_the_right_token_opens_page_api_and_websocket_and_only_the_operator_acks(
    config: FloorwatchConfig,
) -> None:
    await create_topics(config)
    tokens = Tokens(viewer=VIEWER, operator=OPERATOR)
    async with Gateway(config, host="127.0.0.1", port=0, tokens=tokens) as gateway:
        port = gateway.port
        assert (await http(port, f"/?token={VIEWER}")).status == 200
        assert (await http(port, "/api/state", Authorization=f"Bearer {VIEWER}")).status == 200
        # the token parameter is the gateway's, not the route's: no "unknown parameter"
        intervals = await http(port, f"/api/intervals?token={VIEWER}&queue=billing")
        assert intervals.status == 200, intervals.body
        assert (await http(port, f"/api/alerts?token={OPERATOR}")).status == 200
        assert await ws_status(port, f"/ws?token={VIEWER}") == 101
        assert await ws_status(port, f"/ws?queues=billing&token={OPERATOR}") == 101
        async with screen(f"ws://127.0.0.1:{port}/ws?token={VIEWER}") as client:
            assert (await first_view(client)).meta["stale"] is True

        viewer_ack = await http(port, f"/api/alerts/a-1/ack?token={VIEWER}", method="POST")
        assert viewer_ack.status == 403
        assert viewer_ack.json()["error"] == "token not valid for operator access"
        operator_ack = await http(
            port, "/api/alerts/a-1/ack", method="POST", Authorization=f"Bearer {OPERATOR}"
        )
        assert operator_ack.status == 404  # past the door: there is no alert a-1

        # what carries no floor data stays open: the page's code, Prometheus, health probes
        assert (await http(port, "/static/app.js")).status == 200
        assert (await http(port, "/metrics")).status == 200
        assert (await http(port, "/healthz")).status == 503  # open, and nothing read yet


async def test_with_only_a_viewer_token_it_also_acknowledges(config: FloorwatchConfig) -> None:
    await create_topics(config)
    async with Gateway(config, host="127.0.0.1", port=0, tokens=Tokens(viewer=VIEWER)) as gateway:
        assert (await http(gateway.port, "/api/alerts/a-1/ack", method="POST")).status == 401
        ack = await http(gateway.port, f"/api/alerts/a-1/ack?token={VIEWER}", method="POST")
        assert ack.status == 404


async def test_a_foreign_origin_is_refused_even_with_the_right_token(
    config: FloorwatchConfig,
) -> None:
    config = with_gateway(config, allowed_origins=("https://board.example",))
    await create_topics(config)
    async with Gateway(config, host="127.0.0.1", port=0, tokens=Tokens(viewer=VIEWER)) as gateway:
        path = f"/ws?token={VIEWER}"
        assert await ws_status(gateway.port, path, Origin="https://evil.example") == 403
        assert await ws_status(gateway.port, path, Origin="https://board.example") == 101
