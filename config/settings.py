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
class WorkerSettings:
    """How a Faust worker runs (``worker:`` section)."""

    snapshot_ms: int = 250
    """Cadence of snapshot publishing to the snapshots topic (only what changed)."""
    fetch_wait_ms: int = 20
    """Consumer fetch wait: how long an empty fetch may wait for data (Faust hard-codes 1500)."""
    session_timeout_s: int = 6
    """Consumer group session timeout; joins and failover take about this long."""
    heartbeat_s: int = 1
    persist_ms: int = 100
    """Folded state is written to the changelog this often (and the interval records that
    changed published before it): what a crash replays is at most this much."""
    batch_max: int = 2000
    """Events folded but not yet persisted that make the worker persist at once (and
    pause consuming until the broker has the state)."""
    data_dir: str = ".floorwatch"
    """Directory for the worker's local files (Faust data directory)."""


@dataclass(frozen=True)
class GatewaySettings:
    """The wallboard gateway (``gateway:`` section). Tokens come from the environment."""

    host: str = "127.0.0.1"
    port: int = 8080
    stale_s: float = 5.0
    """No snapshot for this long: the page shows a stale-data banner, /healthz fails."""
    allowed_origins: tuple[str, ...] = ()
    """Origins allowed to open the websocket; empty allows any origin."""


@dataclass(frozen=True)
class FloorwatchConfig:
    """A validated configuration: where it came from, the broker, the topics, the core."""

    source: str
    """The file path, or ``"<defaults>"`` when no file was read."""
    broker: str | None
    """``kafka://host:port``; None means the embedded broker."""
    topics: TopicSettings
    core: CoreSettings
    worker: WorkerSettings = WorkerSettings()
    gateway: GatewaySettings = GatewaySettings()
