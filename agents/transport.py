"""A Faust transport whose worker consumer answers empty fetches in milliseconds.

Faust 0.15 builds its worker consumer with ``fetch_max_wait_ms=1500`` hard-coded
(``faust/transport/drivers/aiokafka.py``, ``_create_worker_consumer``), so on a quiet topic
an event waits up to 1.5 s before an agent sees it. It is not a setting; this module is the
extension point instead of a patched install: :class:`FastFetchTransport` is returned by
:meth:`agents.app.FloorwatchApp._new_transport` and builds Faust's consumer unchanged except
for the fetch wait, set before the consumer starts (aiokafka reads it when it builds its
fetcher in ``start()``).

The same consumer leaves the partitions the pipeline reads itself paused after each recovery
(:meth:`agents.app.FloorwatchApp.hot_path_partitions`).
"""

from __future__ import annotations

import logging
from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka

log = logging.getLogger(__name__)

_FETCH_WAIT_ATTRIBUTE = "_fetch_max_wait_ms"
DEFAULT_FETCH_WAIT_MS = 20


class _FastFetchConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        if not hasattr(consumer, _FETCH_WAIT_ATTRIBUTE):
            raise RuntimeError(
                "aiokafka no longer keeps the fetch wait in "
                f"AIOKafkaConsumer.{_FETCH_WAIT_ATTRIBUTE}: update agents/transport.py"
            )
        wait_ms = getattr(self.app, "fetch_wait_ms", DEFAULT_FETCH_WAIT_MS)
        setattr(consumer, _FETCH_WAIT_ATTRIBUTE, wait_ms)
        return consumer


class _FastFetchConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _FastFetchConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        """Seek to the committed offsets (Faust), then stop fetching the partitions the
        pipeline reads itself (:meth:`agents.app.FloorwatchApp.hot_path_partitions`). Faust
        resumes every partition at the end of each recovery and seeks right after; pausing
        here keeps them paused until the next rebalance."""
        await super().perform_seek()
        hot = getattr(self.app, "hot_path_partitions", set)()
        if hot:
            self.pause_partitions(hot)


class FastFetchTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with a configurable consumer fetch wait."""

    Consumer = _FastFetchConsumer
