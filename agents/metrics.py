"""The worker's own ``/metrics``: pipeline health, read from the pipeline at scrape time.

Served by prometheus-client's HTTP server in a thread on ``worker.metrics_host`` /
``worker.metrics_port`` (0: not served). Floor KPIs are the gateway's business (it has the
whole floor); a worker says how its part of the pipeline is doing:

- ``floorwatch_worker_events_total{topic,type}``, ``floorwatch_worker_rejected_total{reason}``,
  ``floorwatch_worker_duplicates_total``;
- ``floorwatch_worker_processing_lag_seconds``: event time to fold, a histogram (replayed
  history lands in the last buckets);
- ``floorwatch_worker_consumer_lag{partition}`` (messages on the broker not yet folded) and
  ``floorwatch_worker_unpersisted_lag{partition}`` (folded, not yet in the changelog);
- ``floorwatch_worker_persist_seconds`` and ``floorwatch_worker_snapshot_publish_seconds``;
- alert evaluations and the notifiers' counters (:mod:`wallboard.notify`), when this worker
  evaluates the alerts.

The fold observes one lag per event, so the histogram is a plain bucket count
(:class:`Buckets`, a bisect and an increment) rather than a prometheus-client ``Histogram``
with its lock per observation.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client import start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from wallboard.notify import notifier_metrics

if TYPE_CHECKING:
    from agents.pipeline import Pipeline

log = logging.getLogger(__name__)

LAG_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
DURATION_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Buckets:
    """A histogram as cumulative-later bucket counts: cheap enough to observe every event."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def family(self, name: str, documentation: str) -> HistogramMetricFamily:
        running = 0
        buckets = []
        counts = list(self.counts)  # a copy: the loop thread keeps observing
        for bound, count in zip((*self.bounds, float("inf")), counts, strict=True):
            running += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
        family = HistogramMetricFamily(name, documentation)
        family.add_metric([], buckets, self.total)
        return family


class WorkerCollector(Collector):
    """Pipeline counters and gauges, built at every scrape."""

    def __init__(self, pipeline: Pipeline, highwater: Callable[[int], int | None]) -> None:
        self.pipeline = pipeline
        self.highwater = highwater

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        pipeline = self.pipeline
        topics = pipeline.topics
        events = CounterMetricFamily(
            "floorwatch_worker_events",
            "Events folded (accepted), by source topic and event type.",
            labels=["topic", "type"],
        )
        for kind, count in sorted(dict(pipeline.consumed).items()):
            topic = (
                topics.acd_events if kind.startswith(("contact.", "agent.")) else topics.crm_events
            )
            events.add_metric([topic, kind], count)
        yield events
        rejected = CounterMetricFamily(
            "floorwatch_worker_rejected",
            "Events sent to the dead-letter topic, by reason.",
            labels=["reason"],
        )
        for reason, count in sorted(dict(pipeline.rejected).items()):
            rejected.add_metric([reason], count)
        yield rejected
        yield CounterMetricFamily(
            "floorwatch_worker_duplicates",
            "Events dropped as duplicates (same event_id, or replayed after a restart).",
            value=pipeline.duplicates,
        )
        yield pipeline.processing_lag.family(
            "floorwatch_worker_processing_lag_seconds",
            "Event time to the moment the worker folded the event.",
        )
        yield pipeline.persist_duration.family(
            "floorwatch_worker_persist_seconds",
            "Time to write interval records and state changes and have the broker confirm them.",
        )
        yield pipeline.snapshot_duration.family(
            "floorwatch_worker_snapshot_publish_seconds",
            "Time to build and hand over one round of queue and agent snapshots.",
        )
        consumer_lag = GaugeMetricFamily(
            "floorwatch_worker_consumer_lag",
            "Messages of an assigned acd-events partition not yet folded.",
            labels=["partition"],
        )
        unpersisted = GaugeMetricFamily(
            "floorwatch_worker_unpersisted_lag",
            "Messages folded but not yet covered by the state in the changelog.",
            labels=["partition"],
        )
        read_to = dict(pipeline.read_offsets)
        persisted = dict(pipeline.persisted_offsets)
        for partition in sorted(read_to):
            high = self.highwater(partition)
            if high is not None:
                consumer_lag.add_metric([str(partition)], max(0, high - read_to[partition] - 1))
            if partition in persisted:
                unpersisted.add_metric(
                    [str(partition)], max(0, read_to[partition] - persisted[partition])
                )
        yield consumer_lag
        yield unpersisted
        yield GaugeMetricFamily(
            "floorwatch_worker_partitions",
            "acd-events partitions this worker owns.",
            value=len(read_to),
        )
        evaluator = pipeline.alerts
        if evaluator is not None:
            yield GaugeMetricFamily(
                "floorwatch_worker_alert_evaluator",
                "1 while this worker evaluates the alert rules (one worker at a time).",
                value=1 if evaluator.active else 0,
            )
            yield CounterMetricFamily(
                "floorwatch_worker_alert_evaluations",
                "Alert rule evaluations run by this worker.",
                value=evaluator.evaluations,
            )
            yield CounterMetricFamily(
                "floorwatch_worker_alert_commands_rejected",
                "Messages on the alert commands topic that were not commands.",
                value=evaluator.rejected_commands,
            )
            yield from notifier_metrics(evaluator.notifiers.notifiers)


def serve(
    pipeline: Pipeline, highwater: Callable[[int], int | None], host: str, port: int
) -> CollectorRegistry:
    """Start the metrics HTTP server (a daemon thread); returns its registry."""
    registry = CollectorRegistry()
    registry.register(WorkerCollector(pipeline, highwater))
    start_http_server(port, addr=host, registry=registry)
    log.info("worker metrics on http://%s:%d/metrics", host, port)
    return registry
