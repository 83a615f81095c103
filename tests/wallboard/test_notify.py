"""Notifiers against real HTTP receivers on 127.0.0.1: delivery, retries, dead ends, drops."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from config.settings import NotifierSettings
from streams.alert_payloads import slack_payload, webhook_payload
from streams.alert_rules import Scope
from streams.alerts import AlertChange
from wallboard.notify import Notifier, NotifierCollector, Notifiers

pytestmark = pytest.mark.asyncio

T0 = 1_714_557_600_000  # 2024-05-01 10:00:00 UTC

FIRING = AlertChange(
    alert_id="sl:queue:billing",
    rule="sl",
    scope=Scope("queue", "billing"),
    state="firing",
    severity="critical",
    metric="service_level",
    window="interval",
    definition="answered_of_offered",
    value=0.62,
    threshold=0.70,
    comparison="<",
    since_ms=T0,
    fired_ms=T0 + 60_000,
    at_ms=T0 + 60_000,
    notify=True,
    labels=(("client", "acme"), ("site", "london")),
    description="Queue service level below its target",
    message="queue billing: service level (interval, answered_of_offered) 62.0 % < 70.0 % "
    "(critical)",
)
RESOLVED = replace(FIRING, state="resolved", value=0.85, at_ms=T0 + 600_000, message="ok")


@dataclass
class Receiver:
    """A tiny HTTP receiver: answers each POST with the next scripted status (then 200)."""

    statuses: list[int] = field(default_factory=list)
    hang: bool = False
    """Hold every request until the test ends."""
    headers: dict[str, str] = field(default_factory=dict)
    received: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    attempts: int = 0
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        body = await request.read()
        if self.hang:
            await self.released.wait()
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            self.received.append((dict(request.headers), orjson.loads(body)))
        return web.Response(status=status, headers=self.headers)


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[Callable[[Receiver], Awaitable[str]]]:
    runners: list[web.AppRunner] = []
    receivers: list[Receiver] = []

    async def start(receiver: Receiver) -> str:
        receivers.append(receiver)
        app = web.Application()
        app.router.add_post("/hook", receiver.handle)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/hook"

    yield start
    for receiver in receivers:
        receiver.released.set()
    for runner in runners:
        await runner.cleanup()


def settings(url: str, **overrides: Any) -> NotifierSettings:
    base = NotifierSettings(
        name="ops",
        kind="webhook",
        url=url,
        headers=(("Authorization", "Bearer s3cr3t"),),
        retries=3,
        backoff_s=0.01,
        max_backoff_s=0.05,
        timeout_s=2.0,
        queue_size=10,
    )
    return replace(base, **overrides)


class Waits:
    """A sleep that records the backoff asked for and yields without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


async def eventually(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def dead_url() -> str:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


async def test_webhook_posts_the_change_as_json_with_the_configured_headers(
    serve: Callable[[Receiver], Awaitable[str]],
) -> None:
    receiver = Receiver()
    notifier = Notifier(settings(await serve(receiver)))
    await notifier.start()

    assert notifier.submit(FIRING)
    await eventually(lambda: notifier.stats.sent == 1)
    await notifier.stop()

    ((headers, body),) = receiver.received
    assert headers["Authorization"] == "Bearer s3cr3t"
    assert headers["Content-Type"] == "application/json"
    assert headers["Idempotency-Key"] == f"sl:queue:billing/firing/{T0 + 60_000}"
    assert body == webhook_payload(FIRING)
    assert body["event"] == "alert.firing"
    assert body["alert"]["value"] == 0.62
    assert (notifier.stats.failed, notifier.stats.dropped, notifier.stats.up) == (0, 0, True)


async def test_receiver_failing_twice_then_succeeding_gets_one_delivery_after_backoff(
    serve: Callable[[Receiver], Awaitable[str]],
) -> None:
    receiver = Receiver(statuses=[503, 500])
    waits = Waits()
    notifier = Notifier(settings(await serve(receiver)), sleep=waits)
    await notifier.start()

    notifier.submit(FIRING)
    await eventually(lambda: notifier.stats.sent == 1)
    await notifier.stop()

    assert receiver.attempts == 3
    assert len(receiver.received) == 1
    assert waits.waits == [0.01, 0.02]  # exponential backoff
    assert (notifier.stats.retries, notifier.stats.failed, notifier.stats.up) == (2, 0, True)


async def test_retry_after_of_a_throttling_receiver_is_respected_up_to_the_cap(
    serve: Callable[[Receiver], Awaitable[str]],
) -> None:
    receiver = Receiver(statuses=[429], headers={"Retry-After": "30"})
    waits = Waits()
    notifier = Notifier(settings(await serve(receiver)), sleep=waits)
    await notifier.start()

    notifier.submit(FIRING)
    await eventually(lambda: notifier.stats.sent == 1)
    await notifier.stop()

    assert waits.waits == [0.05]  # max(0.01, 30) capped at max_backoff_s


async def test_dead_receiver_is_counted_logged_and_reported_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    waits = Waits()
    notifiers = Notifiers([settings(dead_url())], sleep=waits)
    (notifier,) = notifiers.notifiers
    await notifiers.start()

    with caplog.at_level(logging.WARNING, logger="wallboard.notify"):
        assert notifiers.dispatch([FIRING]) == 1
        await eventually(lambda: notifier.stats.failed == 1)
    await notifiers.stop()

    assert waits.waits == [0.01, 0.02, 0.04]  # 3 retries after the first attempt
    assert (notifier.stats.sent, notifier.stats.retries, notifier.stats.up) == (0, 3, False)
    assert notifier.stats.last_error is not None
    assert notifier.stats.last_error.endswith("after 4 attempts")
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].startswith("notifier ops: gave up sending firing of alert sl:queue:billing")
    metrics = scrape(notifiers)
    assert metrics["floorwatch_notifications_failed_total"] == 1
    assert metrics["floorwatch_notifier_up"] == 0
    assert metrics["floorwatch_notifications_sent_total"] == 0


async def test_refusing_receiver_is_not_retried(
    serve: Callable[[Receiver], Awaitable[str]],
) -> None:
    receiver = Receiver(statuses=[400])
    notifier = Notifier(settings(await serve(receiver)), sleep=Waits())
    await notifier.start()

    notifier.submit(FIRING)
    await eventually(lambda: notifier.stats.failed == 1)
    await notifier.stop()

    assert receiver.attempts == 1
    assert notifier.stats.last_error == "HTTP 400 (not retried)"


async def test_full_queue_drops_counts_and_logs_without_waiting(
    serve: Callable[[Receiver], Awaitable[str]], caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver(hang=True)  # never answers within the test
    notifier = Notifier(settings(await serve(receiver), queue_size=3, timeout_s=60))
    await notifier.start()

    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="wallboard.notify"):
        accepted = [notifier.submit(replace(FIRING, at_ms=T0 + n)) for n in range(5)]
    elapsed = time.monotonic() - started
    await notifier.stop(drain_s=0.05)

    assert elapsed < 0.5
    assert accepted == [True, True, True, False, False]
    # 2 dropped at once; the 3 queued are dropped when the notifier stops (one was in flight)
    assert notifier.stats.dropped == 2 + 2
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("notifier ops: queue full (3 waiting), dropped firing")
    metrics = scrape_one(notifier)
    assert metrics["floorwatch_notifications_dropped_total"] == 4


async def test_firing_and_resolved_arrive_in_order(
    serve: Callable[[Receiver], Awaitable[str]],
) -> None:
    receiver = Receiver(statuses=[503])  # the first delivery is retried: order still kept
    notifier = Notifier(settings(await serve(receiver)), sleep=Waits())
    await notifier.start()

    notifier.submit(FIRING)
    notifier.submit(RESOLVED)
    await eventually(lambda: notifier.stats.sent == 2)
    await notifier.stop()

    assert [body["event"] for _, body in receiver.received] == ["alert.firing", "alert.resolved"]


async def test_slack_notifier_posts_an_incoming_webhook_message(
    serve: Callable[[Receiver], Awaitable[str]],
) -> None:
    receiver = Receiver()
    notifier = Notifier(settings(await serve(receiver), kind="slack", headers=()))
    await notifier.start()

    notifier.submit(FIRING)
    await eventually(lambda: notifier.stats.sent == 1)
    await notifier.stop()

    ((_, body),) = receiver.received
    assert body == slack_payload(FIRING)
    assert body["text"].startswith("FIRING (critical): queue billing: service level")
    (attachment,) = body["attachments"]
    assert attachment["color"] == "#d0312d"
    assert attachment["title"] == "FIRING (critical): Queue service level below its target"
    assert {f["title"]: f["value"] for f in attachment["fields"]} == {
        "Scope": "queue billing",
        "Value": "62.0 %",
        "Threshold": "&lt; 70.0 %",
        "Since": "2024-05-01 10:00:00 UTC",
    }


async def test_dispatch_sends_only_changes_to_notify_at_the_notifier_severity(
    serve: Callable[[Receiver], Awaitable[str]],
) -> None:
    everything, critical = Receiver(), Receiver()
    notifiers = Notifiers(
        [
            settings(await serve(everything), name="all"),
            settings(await serve(critical), name="pager", min_severity="critical"),
        ]
    )
    await notifiers.start()
    warning = replace(FIRING, severity="warning", alert_id="w:queue:a")
    quiet = replace(FIRING, notify=False, alert_id="q:queue:a")

    queued = notifiers.dispatch([warning, quiet, FIRING])
    await eventually(lambda: sum(n.stats.sent for n in notifiers.notifiers) == 3)
    await notifiers.stop()

    assert queued == 3
    assert [b["alert"]["alert_id"] for _, b in everything.received] == [
        "w:queue:a",
        "sl:queue:billing",
    ]
    assert [b["alert"]["alert_id"] for _, b in critical.received] == ["sl:queue:billing"]


def scrape(notifiers: Notifiers) -> dict[str, float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NotifierCollector(notifiers))
    text = generate_latest(registry).decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("notifier") == "ops"
    }


def scrape_one(notifier: Notifier) -> dict[str, float]:
    holder = Notifiers([])
    holder.notifiers = [notifier]
    return scrape(holder)


async def test_slack_message_of_a_resolve_is_green_and_escapes_markup() -> None:
    change = replace(RESOLVED, scope=Scope("queue", "R&D <vip>"), acknowledged_by="alice")

    (attachment,) = slack_payload(change)["attachments"]

    assert attachment["color"] == "#2e8540"
    assert attachment["title"] == "RESOLVED: Queue service level below its target"
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert "Threshold" not in fields
    assert fields["Scope"] == "queue R&amp;D &lt;vip&gt;"
    assert fields["Acknowledged"] == "alice"
