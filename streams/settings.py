"""Frozen settings the core computes with.

The YAML loader in ``config/`` builds these; the core never reads files or the environment.
Every default here is the "no configuration at all" behaviour of DESIGN.md section 5.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

SL_DEFINITIONS: tuple[str, ...] = (
    "answered_of_offered",
    "answered_only",
    "abandons_positive",
    "ignore_early_abandons",
)
"""Service-level definition ids, the default (shown first) first."""

CHANNELS: tuple[str, ...] = ("voice", "chat", "email", "message", "callback")
INTERVAL_MINUTES: tuple[int, ...] = (15, 30, 60)
DEFAULT_SITE = "default"


@dataclass(frozen=True)
class SiteSettings:
    """A physical or virtual site: its time zone aligns intervals and the day."""

    name: str = DEFAULT_SITE
    timezone: str = "UTC"
    day_reset_min: int = 0
    """Minutes after local midnight at which day-to-date figures restart (e.g. 360 = 06:00)."""


@dataclass(frozen=True)
class QueueSettings:
    """How one queue is measured. Unknown queues use the configured defaults."""

    name: str
    site: str = DEFAULT_SITE
    client: str | None = None
    channel: str = "voice"
    threshold_s: float = 20.0
    short_abandon_s: float = 5.0
    definitions: tuple[str, ...] = SL_DEFINITIONS
    target: float = 0.80
    include_flowouts: bool = False
    interval_min: int = 15
    risk_fraction: float = 0.75

    @property
    def threshold_ms(self) -> int:
        return round(self.threshold_s * 1000)

    @property
    def short_abandon_ms(self) -> int:
        return round(self.short_abandon_s * 1000)


@dataclass(frozen=True)
class TeamSettings:
    """A team of agents and its leader; agents name their team in their state events."""

    name: str
    site: str = DEFAULT_SITE
    leader: str | None = None


@dataclass(frozen=True)
class ClientSettings:
    """A BPO client (tenant) whose queues are reported together."""

    name: str
    display_name: str | None = None


@dataclass(frozen=True)
class ProcessingSettings:
    """Event-time rules shared by every queue and agent."""

    lateness_horizon_s: int = 3600
    """Events older than the newest event time seen minus this are rejected as ``too_late``."""
    max_open_contact_s: int = 4 * 3600
    """A contact with no outcome this long after it queued is closed as ``orphaned``."""
    future_tolerance_s: int = 300
    """Events further than this ahead of the clock are rejected as ``from_future``."""
    max_event_bytes: int = 64 * 1024
    rolling_windows_min: tuple[int, ...] = (30, 60)

    @property
    def lateness_horizon_ms(self) -> int:
        return self.lateness_horizon_s * 1000

    @property
    def max_open_contact_ms(self) -> int:
        return self.max_open_contact_s * 1000


@dataclass(frozen=True)
class CoreSettings:
    """Everything the metric core needs: sites, queues (and their defaults), teams, rules.

    Frozen but not hashable (its mappings are read-only views, which do not hash).
    """

    sites: Mapping[str, SiteSettings] = field(
        default_factory=lambda: MappingProxyType({DEFAULT_SITE: SiteSettings()})
    )
    queues: Mapping[str, QueueSettings] = field(default_factory=lambda: MappingProxyType({}))
    queue_defaults: QueueSettings = field(default_factory=lambda: QueueSettings(name="*"))
    teams: Mapping[str, TeamSettings] = field(default_factory=lambda: MappingProxyType({}))
    clients: Mapping[str, ClientSettings] = field(default_factory=lambda: MappingProxyType({}))
    processing: ProcessingSettings = field(default_factory=ProcessingSettings)

    def queue(self, name: str) -> QueueSettings:
        """The settings of ``name``: configured, or the defaults under that name."""
        configured = self.queues.get(name)
        if configured is not None:
            return configured
        return replace(self.queue_defaults, name=name)

    def site(self, name: str) -> SiteSettings:
        """The settings of site ``name``; an unknown site keeps the clock of the defaults' site."""
        found = self.sites.get(name)
        if found is not None:
            return found
        fallback = self.sites.get(self.queue_defaults.site) or SiteSettings()
        return replace(fallback, name=name)
