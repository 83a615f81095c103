"""Alerts through the real worker and gateway: a rule fires once and shows on a websocket
client within 2 s of its ``for`` duration, survives a SIGKILL of the evaluating worker
without notifying again, is acknowledged by an operator through the gateway (the other
client sees who), and resolves once.

Real embedded broker (its own, so no other test's queues are judged), real ``floorwatch
worker`` and ``floorwatch gateway`` processes, a real websocket client, a real HTTP receiver
for the webhook notifier.
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from config.loader import load_config
from floorwatch.broker import EmbeddedBroker
from floorwatch.kafka import ensure_topics
from tests.pipeline.harness import (
    Process,
    embedded_broker,
    environment,
    free_port,
    read_topic,
    wait_until,
)

QUEUE = "alerts_q"
RULE = "sl_low"
ALERT_ID = f"{RULE}:queue:{QUEUE}"

CONFIG = """
queues:
  - name: alerts_q
    threshold_s: 20
alerts:
  evaluate_ms: 250
  rules:
    - id: sl_low
      metric: service_level
      window: rolling_30
      comparison: "<"
      warning: 0.8
      clear: 0.85
      for_s: 1
      guard: {{metric: service_level_contacts, min: 3}}
  notifiers:
    hook: {{kind: webhook, url: "http://127.0.0.1:{port}/hook", retries: 2, backoff_s: 0.2}}
"""


VIEWER = "viewer-secret"
OPERATOR = "operator-secret"


class Watcher:
    """A websocket client of the gateway (a script: the whole state in every message) that
    notes when it first saw each state of the alert, in a thread of its own."""

    def __init__(self, port: int) -> None:
        self.url = f"ws://127.0.0.1:{port}/ws?token={VIEWER}"
        self.seen: dict[str, tuple[float, dict[str, Any]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                async with connect(self.url, open_timeout=5) as client:
                    while not self._stop.is_set():
                        try:
                            raw = await asyncio.wait_for(client.recv(), 0.5)
                        except TimeoutError:
                            continue
                        at = time.time()
                        state = orjson.loads(raw).get("state", {})
                        for alert in state.get("alerts", []):
                            if alert.get("alert_id") == ALERT_ID:
                                self.seen.setdefault(alert["state"], (at, alert))
            except (OSError, ConnectionClosed, TimeoutError):
                await asyncio.sleep(0.2)  # the gateway is starting: try again

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def post(url: str, token: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, method="POST", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, orjson.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read())


class Receiver:
    """A webhook endpoint on loopback that keeps every JSON body it is sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(orjson.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[str]:
        return [body["event"] for body in self.bodies]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.server.shutdown()


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    with embedded_broker() as broker:
        yield broker


def contacts(first: int, count: int, wait_s: float) -> list[dict[str, Any]]:
    """``count`` contacts that queued recently and were answered after ``wait_s``."""
    now = int(time.time() * 1000)
    events = []
    for n in range(first, first + count):
        answered = now - 5_000 + n  # distinct times, all in the past
        queued = answered - int(wait_s * 1000)
        common = {"contact_id": f"c{n}", "queue": QUEUE}
        events.append({"event_id": f"q{n}", "type": "contact.queued", "ts": queued, **common})
        events.append(
            {
                "event_id": f"a{n}",
                "type": "contact.answered",
                "ts": answered,
                "agent_id": "a1",
                **common,
            }
        )
    return events


def produce(broker: EmbeddedBroker, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            for key, value in items:
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()

    asyncio.run(run())


def alert_records(broker: EmbeddedBroker, topic: str) -> list[dict[str, Any] | None]:
    return [
        None if m.value is None else orjson.loads(m.value)
        for m in read_topic(broker, topic, 4)
        if m.key == ALERT_ID.encode()
    ]


def test_an_alert_fires_once_survives_a_kill_is_acknowledged_and_resolves_once(
    own_broker: EmbeddedBroker, receiver: Receiver, tmp_path: Path
) -> None:
    config_file = tmp_path / "floorwatch.yaml"
    config_file.write_text(CONFIG.format(port=receiver.port))
    env_extra = {"FLOORWATCH_CONFIG": str(config_file)}
    config = load_config(config_file, env={"FLOORWATCH_BROKER": own_broker.url})
    topics = config.topics
    asyncio.run(ensure_topics(own_broker.url, topics))

    def start(name: str) -> Process:
        worker = Process(
            ["worker"],
            environment(own_broker, tmp_path / f"data-{name}", **env_extra),
            tmp_path / f"{name}.log",
        )
        worker.wait_for_line("floorwatch worker: ready")
        return worker

    def send_events(events: list[dict[str, Any]]) -> None:
        produce(own_broker, topics.acd_events, [(QUEUE.encode(), orjson.dumps(e)) for e in events])

    port = free_port()
    gateway = Process(
        ["gateway", "--port", str(port)],
        environment(
            own_broker,
            tmp_path / "data-gateway",
            FLOORWATCH_VIEWER_TOKEN=VIEWER,
            FLOORWATCH_OPERATOR_TOKEN=OPERATOR,
            **env_extra,
        ),
        tmp_path / "gateway.log",
    )
    watcher = Watcher(port)
    try:
        run_alert_lifecycle(start, send_events, own_broker, topics, receiver, watcher, port)
    finally:
        watcher.stop()
        assert gateway.stop() == 0


def run_alert_lifecycle(
    start: Any,
    send_events: Any,
    own_broker: EmbeddedBroker,
    topics: Any,
    receiver: Receiver,
    watcher: Watcher,
    port: int,
) -> None:
    first = start("first")
    try:
        send_events(contacts(0, 5, wait_s=40))  # every answer late: service level 0 %
        wait_until(lambda: receiver.events() == ["alert.firing"], 30, "one firing webhook")
        fired = receiver.bodies[0]["alert"]
        assert fired["alert_id"] == ALERT_ID
        assert fired["value"] == 0.0
        assert fired["threshold"] == 0.8
        wait_until(lambda: "firing" in watcher.seen, 10, "the firing alert on the websocket")
        seen_at, shown = watcher.seen["firing"]
        due_s = (shown["since_ms"] / 1000) + 1  # for_s: 1
        assert seen_at - due_s <= 2.0, f"shown {seen_at - due_s:.2f} s after its for duration"
        first.kill()
    finally:
        first.stop()

    published = len(alert_records(own_broker, topics.alerts))
    second = start("second")
    try:
        # the new owner republishes the alert it continues, without notifying again
        wait_until(
            lambda: len(alert_records(own_broker, topics.alerts)) > published,
            30,
            "the alert republished by the new evaluator",
        )
        latest = alert_records(own_broker, topics.alerts)[-1]
        assert latest is not None
        assert latest["state"] == "firing"
        assert latest["fired_ms"] == fired["fired_ms"]
        time.sleep(1.5)  # six evaluations: long enough for a wrong second firing to show
        assert receiver.events() == ["alert.firing"]

        base = f"http://127.0.0.1:{port}/api/alerts/{ALERT_ID.replace(':', '%3A')}/ack"
        assert post(f"{base}?by=sam&note=on+it", VIEWER)[0] == 403  # viewers cannot
        status, body = post(f"{base}?by=sam&note=on+it", OPERATOR)
        assert status == 202, body
        wait_until(lambda: "acknowledged" in watcher.seen, 10, "the ack on the websocket")
        assert watcher.seen["acknowledged"][1]["acknowledged_by"] == "sam"
        wait_until(
            lambda: (
                (alert_records(own_broker, topics.alerts)[-1] or {}).get("state") == "acknowledged"
            ),
            10,
            "the acknowledgement on floor-alerts",
        )
        acknowledged = alert_records(own_broker, topics.alerts)[-1]
        assert acknowledged is not None
        assert (acknowledged["acknowledged_by"], acknowledged["acknowledged_note"]) == (
            "sam",
            "on it",
        )

        send_events(contacts(100, 60, wait_s=2))  # 60 of 65 in time: 92 % > clear 85 %
        wait_until(
            lambda: receiver.events() == ["alert.firing", "alert.resolved"],
            30,
            "one resolved webhook",
        )
        time.sleep(1.0)  # four more evaluations: nothing else may be sent
        assert receiver.events() == ["alert.firing", "alert.resolved"]
        assert (alert_records(own_broker, topics.alerts)[-1] or {}).get("state") == "resolved"
    finally:
        assert second.stop() == 0
