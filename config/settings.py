"""The loaded configuration: what the shells (agents, wallboard, CLI) start from.

The metric core only ever sees :class:`streams.settings.CoreSettings`; the broker and the
topic names matter only to the layers that talk to Kafka.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.settings import CoreSettings

DEFAULTS_SOURCE = "<defaults>"
"""The ``source`` of a configuration built without any file."""


@dataclass(frozen=True)
class TopicSettings:
    """Kafka topic names, and the partition count Floorwatch creates them with."""

    acd_events: str = "acd-events"
    crm_events: str = "crm-events"
    dead_letters: str = "dead-letters"
    snapshots: str = "floor-snapshots"
    intervals: str = "floor-intervals"
    alerts: str = "floor-alerts"
    partitions: int = 4
    """Partition count used when Floorwatch creates the topics."""


@dataclass(frozen=True)
class FloorwatchConfig:
    """A validated configuration: where it came from, the broker, the topics, the core."""

    source: str
    """The file path, or ``"<defaults>"`` when no file was read."""
    broker: str | None
    """``kafka://host:port``; None means the embedded broker."""
    topics: TopicSettings
    core: CoreSettings
