"""Talking to a live gateway and broker from tests: publishing records, HTTP, polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import orjson
from aiokafka import AIOKafkaProducer

from config.settings import FloorwatchConfig
from floorwatch.kafka import ensure_topics

T = TypeVar("T")


def with_gateway(config: FloorwatchConfig, **changes: Any) -> FloorwatchConfig:
    return replace(config, gateway=replace(config.gateway, **changes))


async def create_topics(config: FloorwatchConfig) -> None:
    assert config.broker is not None
    await ensure_topics(config.broker, config.topics)


class Publisher:
    """Writes records to the output topics the way the workers do (JSON, keyed)."""

    def __init__(self, config: FloorwatchConfig) -> None:
        assert config.broker is not None
        self.topics = config.topics
        self._producer = AIOKafkaProducer(
            bootstrap_servers=config.broker.removeprefix("kafka://"), linger_ms=0
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, topic: str, key: str, value: Any, partition: int | None = None) -> None:
        raw = None if value is None else orjson.dumps(value)
        await self._producer.send_and_wait(topic, raw, key=key.encode(), partition=partition)

    async def send_all(self, topic: str, items: list[tuple[str, Any]]) -> None:
        """Send many records in order without waiting for each (one partition per key)."""
        sent = [
            await self._producer.send(topic, orjson.dumps(value), key=key.encode())
            for key, value in items
        ]
        await asyncio.gather(*sent)

    async def snapshots(self, records: dict[str, Any]) -> None:
        for key, value in records.items():
            await self.send(self.topics.snapshots, key, value)

    async def intervals(self, records: dict[str, Any]) -> None:
        for key, value in records.items():
            await self.send(self.topics.intervals, key, value)


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


async def http(port: int, path: str, method: str = "GET", **headers: str) -> HttpReply:
    """One HTTP/1.1 request to the gateway on loopback (it closes after each answer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return HttpReply(int(status_line.split()[1]), parsed, body)


async def eventually(
    check: Callable[[], Awaitable[T | None]], timeout_s: float = 5.0, what: str = "condition"
) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout_s} s (last: {result!r})")
        await asyncio.sleep(0.02)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class ScreenView:
    """What a page holds: the screen state rebuilt from ``state`` and ``patch`` messages
    exactly as ``app.js`` does, checking that every patch applies to the edition held."""

    def __init__(self) -> None:
        self.sections: dict[str, dict[str, Any]] = {}
        self.meta: dict[str, Any] = {}
        self.seq: int | None = None
        self.kinds: list[str] = []
        """The type of every message applied, in order."""

    def apply(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "state":
            self.sections = {name: dict(items) for name, items in message["set"].items()}
        elif kind == "patch":
            assert message["base"] == self.seq, (message["base"], self.seq)
            for name, items in message["set"].items():
                self.sections.setdefault(name, {}).update(items)
            for name, keys in message["del"].items():
                for key in keys:
                    del self.sections[name][key]
        else:
            raise AssertionError(f"unexpected message type {kind!r}")
        self.kinds.append(kind)
        self.seq = message["seq"]
        self.meta = message["meta"]

    def section(self, name: str) -> dict[str, Any]:
        return self.sections.get(name, {})

    def queue(self, name: str) -> dict[str, Any] | None:
        return self.section("queues").get(name)


async def receive(client: Any, view: ScreenView, timeout_s: float = 2.0) -> ScreenView:
    """Apply the next message of a websocket ``client`` to ``view``."""
    view.apply(orjson.loads(await asyncio.wait_for(client.recv(), timeout_s)))
    return view


async def screen_where(
    client: Any,
    view: ScreenView,
    predicate: Callable[[ScreenView], bool],
    timeout_s: float = 2.0,
    what: str = "screen condition",
) -> ScreenView:
    """Apply messages until ``predicate(view)`` holds; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate(view):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{what}: not met within {timeout_s} s (meta {view.meta})")
        try:
            await receive(client, view, left)
        except TimeoutError:
            continue
    return view
