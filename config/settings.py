"""The loaded configuration: what the shells (agents, wallboard, CLI) start from.

The metric core only ever sees :class:`streams.settings.CoreSettings`; the broker and the
topic names matter only to the layers that talk to Kafka.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from streams.alert_rules import AlertRule, Guard, Severity
from streams.forecast import Forecast
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
    alert_commands: str = "floor-alert-commands"
    """Operators' acknowledgements and snoozes, from any gateway to the alert evaluator."""
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
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0
    """The worker's own ``/metrics`` (pipeline health); 0: not served."""


@dataclass(frozen=True)
class GatewaySettings:
    """The wallboard gateway (``gateway:`` section). Tokens come from the environment."""

    host: str = "127.0.0.1"
    port: int = 8080
    stale_s: float = 5.0
    """No snapshot for this long: the page shows a stale-data banner, /healthz fails."""
    allowed_origins: tuple[str, ...] = ()
    """Origins allowed to open the websocket; empty allows any origin."""


NotifierKind = Literal["webhook", "slack"]
NOTIFIER_KINDS: Final[tuple[NotifierKind, ...]] = ("webhook", "slack")


@dataclass(frozen=True)
class NotifierSettings:
    """Where alert notifications go (one entry of ``alerts.notifiers``).

    ``webhook`` POSTs the alert change as JSON; ``slack`` POSTs a Slack-compatible
    incoming-webhook message (Slack, Mattermost, Rocket.Chat, Discord's ``/slack``). The URL
    and the headers are secrets (tokens, Slack's URL itself): never shown in ``repr``.
    """

    name: str
    kind: NotifierKind
    url: str = field(repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    min_severity: Severity = "warning"
    """Changes of alerts below this severity are not sent."""
    retries: int = 5
    """Attempts after the first one, for connection errors, timeouts, 429 and 5xx."""
    backoff_s: float = 1.0
    """Wait before the first retry; doubled for each next one, at most ``max_backoff_s``."""
    max_backoff_s: float = 60.0
    timeout_s: float = 10.0
    """Per attempt: connecting, sending and reading the answer."""
    queue_size: int = 1000
    """Notifications waiting to be sent; when full, new ones are dropped and counted."""


def default_alert_rules(rolling_windows_min: Iterable[int] = (30, 60)) -> tuple[AlertRule, ...]:
    """The built-in rules, written out in ``config/floorwatch.yaml`` and mirrored by
    ``config/prometheus/alerts.yml``.

    Service level and abandon rate are judged on the shortest rolling window (the site's
    service level on the longest), so that a new interval never starts an alert afresh.
    """
    windows = sorted(rolling_windows_min)
    short, long = f"rolling_{windows[0]}", f"rolling_{windows[-1]}"
    return (
        AlertRule(
            id="service_level_below_target",
            description="Queue service level below its target",
            metric="service_level",
            window=short,
            comparison="<",
            relative_to="target",
            warning=0.0,
            critical=-0.10,
            clear=0.02,
            for_s=120,
            guard=Guard("service_level_contacts", 10),
            cooldown_s=300,
        ),
        AlertRule(
            id="projected_service_level_below_target",
            description="Interval heading below target: contacts waiting now will pull it down",
            metric="projected_service_level",
            comparison="<",
            relative_to="target",
            warning=0.0,
            critical=-0.10,
            clear=0.02,
            for_s=60,
            guard=Guard("projected_contacts", 10),
            cooldown_s=300,
        ),
        AlertRule(
            id="contacts_at_risk",
            description="Contacts waiting close to the service-level threshold",
            metric="at_risk",
            comparison=">=",
            warning=3,
            critical=8,
            clear=2,
            for_s=30,
            cooldown_s=120,
        ),
        AlertRule(
            id="longest_wait",
            description="A voice caller has been waiting too long",
            metric="longest_wait_s",
            match=(("channels", ("voice",)),),
            comparison=">",
            warning=60,
            critical=180,
            clear=45,
            clear_for_s=300,
            cooldown_s=300,
        ),
        AlertRule(
            id="abandon_rate_high",
            description="Too many callers hang up while waiting",
            metric="abandon_rate",
            window=short,
            comparison=">",
            warning=0.10,
            critical=0.20,
            clear=0.08,
            for_s=120,
            guard=Guard("offered", 20),
            cooldown_s=300,
        ),
        AlertRule(
            id="site_service_level_low",
            description="Site service level low",
            metric="service_level",
            scope="site",
            window=long,
            comparison="<",
            warning=0.80,
            critical=0.70,
            clear=0.82,
            for_s=300,
            guard=Guard("service_level_contacts", 20),
            cooldown_s=600,
        ),
        AlertRule(
            id="agent_not_ready_too_long",
            description="Agent on a break, or not ready without a reason, for too long",
            metric="not_ready_s",
            scope="agent",
            reasons=("break", "unspecified"),
            comparison=">",
            warning=1200,
            critical=1800,
        ),
    )


@dataclass(frozen=True)
class AlertSettings:
    """Alert rules and notifiers (``alerts:`` section)."""

    rules: tuple[AlertRule, ...] = default_alert_rules()
    notifiers: tuple[NotifierSettings, ...] = ()
    evaluate_ms: int = 1000
    """Cadence of rule evaluation."""
    resolve_no_data_s: float = 900.0
    """A firing alert that cannot be judged (no data, guard not met) this long resolves."""


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
    alerts: AlertSettings = AlertSettings()
    forecast: Forecast = field(default_factory=Forecast)
    """Contacts and AHT expected per queue and interval (``forecasts:``); empty: none."""
