"""Producing adapter output: contract events to Kafka, rejections to the log and counters."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from config.settings import TopicSettings
from floorwatch.kafka import EventProducer, encode
from streams.adapters.common import AdapterCounts, Result
from streams.events import Rejection

log = logging.getLogger(__name__)

_REPORT_EVERY_S = 60.0
_LOG_REJECTIONS = 20
"""Rejections logged one by one per reporting period; the rest are only counted."""


class Sink:
    """Queues adapter results on an :class:`EventProducer`; :meth:`flush` delivers them.

    Rejections are logged (the first few of each period with their reason, message and
    where the input came from) and counted by the adapter; a summary line is logged every
    minute and by :meth:`report`.
    """

    def __init__(self, broker: str, topics: TopicSettings, counts: AdapterCounts, what: str):
        self.producer = EventProducer(broker, topics)
        self.counts = counts
        self.what = what
        self._logged = 0
        self._reported = time.monotonic()
        self.queued = 0
        """Events queued since the last flush."""
        self.saved_at_inputs = 0
        """The adapter's input count when its owner last saved its state."""

    async def __aenter__(self) -> Sink:
        await self.producer.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.producer.__aexit__(kind, error, traceback)

    async def put(self, result: Result, where: str, raw: bytes | str | None = None) -> None:
        """Queue one input's events; or log its rejection and, given the input ``raw``,
        queue that for the dead-letter topic with the reason."""
        if isinstance(result, Rejection):
            if raw is not None:
                data = raw.encode() if isinstance(raw, str) else raw
                await self.producer.dead_letter(
                    data, result.reason, result.message, f"{self.what}: {where}"
                )
            if self._logged < _LOG_REJECTIONS:
                log.warning(
                    "%s: rejected %s (%s): %s", self.what, where, result.reason, result.message
                )
            self._logged += 1
            return
        await self.send(result)

    async def send(self, events: Iterable[dict[str, Any]]) -> None:
        for event in events:
            await self.producer.send(encode(event), event)
            self.queued += 1

    async def flush(self) -> int:
        """Deliver what is queued; returns when the broker has acknowledged all of it."""
        delivered = await self.producer.flush()
        self.queued = 0
        if time.monotonic() - self._reported >= _REPORT_EVERY_S:
            self.report()
        return delivered

    def report(self) -> None:
        self._reported = time.monotonic()
        self._logged = 0
        log.info("%s: %s; %d produced", self.what, self.counts.summary(), self.producer.sent)

    def summary(self) -> str:
        return (
            f"{self.counts.summary()}; {self.producer.sent} events produced, "
            f"{self.producer.dead_lettered} inputs dead-lettered"
        )
