"""Alert notifiers: POST alert changes to webhooks without ever blocking the evaluation.

The I/O shell around :mod:`streams.alert_payloads`. Each :class:`Notifier` owns a bounded
queue and one sender task:

- :meth:`Notifier.submit` formats the payload and enqueues it at once (never awaits); when
  the queue is full the change is *dropped*, counted and logged;
- the sender POSTs one payload at a time, in order (a resolve never overtakes its firing),
  with ``retries`` more attempts after connection errors, timeouts, 429 and 5xx answers,
  waiting ``backoff_s``, then twice that, … up to ``max_backoff_s`` (or the receiver's
  ``Retry-After`` when it is longer); other 4xx answers are permanent. A payload that is not
  delivered in the end is *failed*, counted and logged with the reason.

Counters per notifier (:class:`NotifierStats`) are exported by :func:`notifier_metrics`,
a collector the gateway's ``/metrics`` registry can include::

    floorwatch_notifications_sent_total{notifier, kind}
    floorwatch_notifications_failed_total{notifier, kind}
    floorwatch_notifications_dropped_total{notifier, kind}
    floorwatch_notification_retries_total{notifier, kind}
    floorwatch_notifications_queued{notifier, kind}
    floorwatch_notifier_up{notifier, kind}          0 once the last delivery failed

A dead notifier thus shows as ``up == 0`` and growing ``failed_total`` / ``dropped_total``
(``config/prometheus/alerts.yml`` alerts on both), and in the log as errors naming the
notifier, the alert and the reason.

Usage (one event loop)::

    notifiers = Notifiers(config.alerts.notifiers)
    await notifiers.start()
    ...
    notifiers.dispatch(tracker.evaluate(floor, now_ms))   # sends those with notify set
    ...
    await notifiers.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Final

import aiohttp
import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from config.settings import NotifierSettings
from streams.alert_payloads import delivery_key, slack_payload, webhook_payload
from streams.alert_rules import SEVERITIES
from streams.alerts import AlertChange

log = logging.getLogger(__name__)

RETRY_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
"""Answers worth another attempt; any other non-2xx answer is permanent."""
USER_AGENT: Final = "floorwatch-notifier/1"

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class NotifierStats:
    """What one notifier did since it started."""

    sent: int = 0
    failed: int = 0
    """Payloads given up on: retries exhausted or a permanent error answer."""
    dropped: int = 0
    """Payloads never attempted: the queue was full, or the notifier stopped first."""
    retries: int = 0
    last_error: str | None = None
    last_success_s: float | None = None
    """Wall-clock time (epoch seconds) of the last delivery."""
    up: bool = True
    """False once the last delivery failed, until one succeeds."""


@dataclass(frozen=True)
class _Delivery:
    key: str
    """:func:`streams.alert_payloads.delivery_key` (the ``Idempotency-Key`` header)."""
    alert_id: str
    state: str
    body: bytes


class Notifier:
    """One configured notifier (``webhook`` or ``slack``): a bounded queue and a sender."""

    def __init__(
        self,
        settings: NotifierSettings,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.stats = NotifierStats()
        self._queue: asyncio.Queue[_Delivery] = asyncio.Queue(maxsize=settings.queue_size)
        self._sleep = sleep
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._min_rank = SEVERITIES.index(settings.min_severity)
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        headers.update(settings.headers)
        self._headers = headers

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def wants(self, change: AlertChange) -> bool:
        """Only changes to notify, of alerts at ``min_severity`` or above."""
        if not change.notify:
            return False
        severity = change.severity or SEVERITIES[-1]
        return SEVERITIES.index(severity) >= self._min_rank

    def submit(self, change: AlertChange) -> bool:
        """Queue ``change`` for sending (whether it is wanted is the caller's business, see
        :meth:`wants`). Never waits: False when the queue is full and it was dropped."""
        payload = (
            slack_payload(change) if self.settings.kind == "slack" else webhook_payload(change)
        )
        delivery = _Delivery(
            delivery_key(change), change.alert_id, change.state, orjson.dumps(payload)
        )
        try:
            self._queue.put_nowait(delivery)
        except asyncio.QueueFull:
            self.stats.dropped += 1
            log.error(
                "notifier %s: queue full (%d waiting), dropped %s of alert %s",
                self.name,
                self._queue.qsize(),
                change.state,
                change.alert_id,
            )
            return False
        return True

    async def start(self) -> None:
        """Start the sender (in the running event loop)."""
        if self._task is not None:
            return
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s)
        self._session = aiohttp.ClientSession(timeout=timeout)
        self._task = asyncio.create_task(self._run(), name=f"notifier-{self.name}")

    async def stop(self, drain_s: float = 5.0) -> None:
        """Give the queue ``drain_s`` to empty, then stop; what is left is counted dropped."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), drain_s)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        left = 0
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()
            left += 1
        if left:
            self.stats.dropped += left
            log.error("notifier %s: stopped with %d notifications unsent", self.name, left)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        while True:
            delivery = await self._queue.get()
            try:
                await self._deliver(delivery)
            except asyncio.CancelledError:
                raise
            except Exception:  # the sender must outlive any one payload
                self._failed(delivery, "unexpected error")
                log.exception("notifier %s: unexpected error", self.name)
            finally:
                self._queue.task_done()

    async def _deliver(self, delivery: _Delivery) -> None:
        settings = self.settings
        headers = {**self._headers, "Idempotency-Key": delivery.key}
        attempts = settings.retries + 1
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            try:
                assert self._session is not None
                async with self._session.post(
                    settings.url, data=delivery.body, headers=headers
                ) as response:
                    status = response.status
                    if 200 <= status < 300:
                        self._succeeded(delivery, attempt)
                        return
                    reason = f"HTTP {status}"
                    retry_after = _retry_after(response.headers.get("Retry-After"))
                    if status not in RETRY_STATUSES:
                        self._failed(delivery, f"{reason} (not retried)")
                        return
            except (aiohttp.ClientError, TimeoutError) as error:
                reason = f"{type(error).__name__}: {error}".rstrip(": ")
            if attempt == attempts:
                self._failed(delivery, f"{reason} after {attempts} attempts")
                return
            wait = min(settings.backoff_s * 2 ** (attempt - 1), settings.max_backoff_s)
            if retry_after is not None:
                wait = min(max(wait, retry_after), settings.max_backoff_s)
            self.stats.retries += 1
            log.warning(
                "notifier %s: %s of alert %s: %s; retry %d/%d in %.1f s",
                self.name,
                delivery.state,
                delivery.alert_id,
                reason,
                attempt,
                settings.retries,
                wait,
            )
            await self._sleep(wait)

    def _succeeded(self, delivery: _Delivery, attempt: int) -> None:
        stats = self.stats
        stats.sent += 1
        stats.up = True
        stats.last_success_s = self._clock()
        log.info(
            "notifier %s: sent %s of alert %s (attempt %d)",
            self.name,
            delivery.state,
            delivery.alert_id,
            attempt,
        )

    def _failed(self, delivery: _Delivery, reason: str) -> None:
        stats = self.stats
        stats.failed += 1
        stats.up = False
        stats.last_error = reason
        log.error(
            "notifier %s: gave up sending %s of alert %s: %s",
            self.name,
            delivery.state,
            delivery.alert_id,
            reason,
        )


def _retry_after(value: str | None) -> float | None:
    """Seconds of a ``Retry-After`` header in its seconds form (the date form is ignored)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


class Notifiers:
    """Every configured notifier; :meth:`dispatch` hands each one the changes it wants."""

    def __init__(
        self,
        settings: Iterable[NotifierSettings],
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.notifiers = [Notifier(item, sleep=sleep, clock=clock) for item in settings]

    def dispatch(self, changes: Iterable[AlertChange]) -> int:
        """Queue every change with ``notify`` set on the notifiers that want it; the number
        queued (drops are counted by each notifier). Never waits."""
        queued = 0
        for change in changes:
            if not change.notify:
                continue
            for notifier in self.notifiers:
                if notifier.wants(change) and notifier.submit(change):
                    queued += 1
        return queued

    async def start(self) -> None:
        for notifier in self.notifiers:
            await notifier.start()

    async def stop(self, drain_s: float = 5.0) -> None:
        await asyncio.gather(*(notifier.stop(drain_s) for notifier in self.notifiers))


def notifier_metrics(notifiers: Iterable[Notifier]) -> Iterator[Metric]:
    """The notifiers' counters as Prometheus metric families (see the module)."""
    labels = ["notifier", "kind"]
    counters = {
        "sent": CounterMetricFamily(
            "floorwatch_notifications_sent", "Alert notifications delivered.", labels=labels
        ),
        "failed": CounterMetricFamily(
            "floorwatch_notifications_failed",
            "Alert notifications given up on (retries exhausted or refused).",
            labels=labels,
        ),
        "dropped": CounterMetricFamily(
            "floorwatch_notifications_dropped",
            "Alert notifications never attempted (queue full, or stopped first).",
            labels=labels,
        ),
        "retries": CounterMetricFamily(
            "floorwatch_notification_retries", "Delivery attempts retried.", labels=labels
        ),
    }
    queued = GaugeMetricFamily(
        "floorwatch_notifications_queued", "Alert notifications waiting.", labels=labels
    )
    up = GaugeMetricFamily(
        "floorwatch_notifier_up",
        "0 once the last delivery failed, until one succeeds.",
        labels=labels,
    )
    for notifier in notifiers:
        values = [notifier.name, notifier.settings.kind]
        stats = notifier.stats
        for field, family in counters.items():
            family.add_metric(values, getattr(stats, field))
        queued.add_metric(values, notifier.queued)
        up.add_metric(values, 1.0 if stats.up else 0.0)
    yield from counters.values()
    yield queued
    yield up


class NotifierCollector(Collector):
    """A collector of :func:`notifier_metrics`, for registering beside the hub's."""

    def __init__(self, notifiers: Notifiers) -> None:
        self._notifiers = notifiers

    def describe(self) -> Iterable[Metric]:
        return ()

    def collect(self) -> Iterator[Metric]:
        yield from notifier_metrics(self._notifiers.notifiers)


__all__ = [
    "Notifier",
    "NotifierCollector",
    "NotifierStats",
    "Notifiers",
    "notifier_metrics",
]
