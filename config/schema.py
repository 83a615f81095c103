"""The configuration schema: which keys each section takes and how it becomes settings.

Sections are read in file order (broker, topics, processing, windows, sites, clients,
defaults, queues, teams) so that references always point backwards: a queue names a site
and a client that are already known, and inherits from ``defaults`` already checked.
``alerts`` (:mod:`config.alerts`) comes next: its rules name the windows configured, and
``forecasts`` (:mod:`config.forecasts`) last: its intervals belong to the queues configured.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import fields, replace
from types import MappingProxyType
from typing import Protocol, TypeVar

from config import checks
from config.alerts import ALERTS_KEYS, read_alerts
from config.checks import KeyPath
from config.forecasts import FORECAST_KEYS, read_forecasts
from config.reader import Reader, Section, dotted
from config.settings import FloorwatchConfig, GatewaySettings, TopicSettings, WorkerSettings
from streams.settings import (
    DEFAULT_SITE,
    INTERVAL_MINUTES,
    ClientSettings,
    CoreSettings,
    ProcessingSettings,
    QueueSettings,
    SiteSettings,
    TeamSettings,
)

TOPIC_KEYS = tuple(field.name for field in fields(TopicSettings))
TOPIC_NAME_KEYS = tuple(key for key in TOPIC_KEYS if key != "partitions")
PROCESSING_KEYS = (
    "lateness_horizon_s",
    "max_open_contact_s",
    "future_tolerance_s",
    "max_event_bytes",
)
WINDOW_KEYS = ("rolling_min",)
SITE_KEYS = ("name", "timezone", "day_reset")
CLIENT_KEYS = ("name", "display_name")
SERVICE_LEVEL_KEYS = ("definitions", "target", "include_flowouts")
DEFAULTS_KEYS = (
    "site",
    "client",
    "channel",
    "threshold_s",
    "short_abandon_s",
    "interval_min",
    "risk_fraction",
    "service_level",
)
QUEUE_KEYS = ("name", *DEFAULTS_KEYS)
TEAM_KEYS = ("name", "site", "leader")
WORKER_KEYS = tuple(field.name for field in fields(WorkerSettings))
GATEWAY_KEYS = tuple(field.name for field in fields(GatewaySettings))
TOP_LEVEL_KEYS = (
    "broker",
    "topics",
    "worker",
    "gateway",
    "processing",
    "windows",
    "sites",
    "clients",
    "defaults",
    "queues",
    "teams",
    "alerts",
    "forecasts",
)

QUEUE_NESTED: Mapping[str, Collection[str]] = {"service_level": SERVICE_LEVEL_KEYS}
TOP_LEVEL_NESTED: Mapping[str, Collection[str]] = {
    "topics": TOPIC_KEYS,
    "worker": WORKER_KEYS,
    "gateway": GATEWAY_KEYS,
    "processing": PROCESSING_KEYS,
    "windows": WINDOW_KEYS,
    "defaults": DEFAULTS_KEYS,
    "alerts": ALERTS_KEYS,
    "forecasts": FORECAST_KEYS,
}


def read_config(reader: Reader, data: Mapping[object, object]) -> FloorwatchConfig:
    """Check the whole configuration ``data`` and build its settings.

    Raises :class:`streams.errors.ConfigError` for the first wrong value found.
    """
    top = reader.section(data, (), TOP_LEVEL_KEYS, TOP_LEVEL_NESTED)
    broker = top.get("broker", checks.broker, None)
    topics = _read_topics(top.section("topics", TOPIC_KEYS))
    processing = _read_processing(
        top.section("processing", PROCESSING_KEYS), top.section("windows", WINDOW_KEYS)
    )
    sites = _read_named(reader, top.items("sites"), SITE_KEYS, _read_site)
    if not sites:
        sites = {DEFAULT_SITE: ((), SiteSettings())}
    clients = _read_named(reader, top.items("clients"), CLIENT_KEYS, _read_client)
    refs = _References(reader, sites, list(clients))

    first_site = next(iter(sites))
    defaults_section = top.section("defaults", DEFAULTS_KEYS, QUEUE_NESTED)
    defaults = refs.read_queue(
        defaults_section, QueueSettings(name="*", site=first_site), "the built-in default"
    )
    queues = _read_named(
        reader,
        top.items("queues"),
        QUEUE_KEYS,
        lambda section: refs.read_queue(
            section, replace(defaults, name=section.require("name", checks.text)), "defaults"
        ),
        QUEUE_NESTED,
    )
    teams = _read_named(
        reader, top.items("teams"), TEAM_KEYS, lambda section: refs.read_team(section, defaults)
    )
    core = CoreSettings(
        sites=_frozen(sites),
        queues=_frozen(queues),
        queue_defaults=defaults,
        teams=_frozen(teams),
        clients=_frozen(clients),
        processing=processing,
    )
    return FloorwatchConfig(
        source=reader.source,
        broker=broker,
        topics=topics,
        core=core,
        worker=_read_worker(top.section("worker", WORKER_KEYS)),
        gateway=_read_gateway(top.section("gateway", GATEWAY_KEYS)),
        alerts=read_alerts(reader, top.section("alerts", ALERTS_KEYS), processing),
        forecast=read_forecasts(reader, top.section("forecasts", FORECAST_KEYS), core),
    )


def _read_worker(section: Section) -> WorkerSettings:
    default = WorkerSettings()
    return WorkerSettings(
        snapshot_ms=section.get("snapshot_ms", checks.integer(10, 60_000), default.snapshot_ms),
        fetch_wait_ms=section.get("fetch_wait_ms", checks.integer(1, 5_000), default.fetch_wait_ms),
        session_timeout_s=section.get(
            "session_timeout_s", checks.integer(2, 300), default.session_timeout_s
        ),
        heartbeat_s=section.get("heartbeat_s", checks.integer(1, 100), default.heartbeat_s),
        persist_ms=section.get("persist_ms", checks.integer(10, 60_000), default.persist_ms),
        batch_max=section.get("batch_max", checks.integer(1, 100_000), default.batch_max),
        data_dir=section.get("data_dir", checks.text, default.data_dir),
        metrics_host=section.get("metrics_host", checks.text, default.metrics_host),
        metrics_port=section.get("metrics_port", checks.integer(0, 65_535), default.metrics_port),
    )


def _read_gateway(section: Section) -> GatewaySettings:
    default = GatewaySettings()
    return GatewaySettings(
        host=section.get("host", checks.text, default.host),
        port=section.get("port", checks.integer(0, 65535), default.port),
        stale_s=section.get("stale_s", checks.number(gt=0, le=3600), default.stale_s),
        allowed_origins=section.get("allowed_origins", _origins, default.allowed_origins),
    )


def _read_topics(section: Section) -> TopicSettings:
    default = TopicSettings()
    topics = TopicSettings(
        acd_events=section.get("acd_events", checks.topic, default.acd_events),
        crm_events=section.get("crm_events", checks.topic, default.crm_events),
        dead_letters=section.get("dead_letters", checks.topic, default.dead_letters),
        snapshots=section.get("snapshots", checks.topic, default.snapshots),
        intervals=section.get("intervals", checks.topic, default.intervals),
        alerts=section.get("alerts", checks.topic, default.alerts),
        alert_commands=section.get("alert_commands", checks.topic, default.alert_commands),
        partitions=section.get("partitions", checks.integer(1, 1024), default.partitions),
    )
    # Two kinds of record on one topic would be read by consumers of both.
    first_key_of: dict[str, str] = {}
    for key in TOPIC_NAME_KEYS:
        name = getattr(topics, key)
        if name in first_key_of:
            where = dotted(section.at(first_key_of[name]))
            raise section.reader.error(
                section.at(key), f"expected a unique topic name, {where} has it too", name
            )
        first_key_of[name] = key
    return topics


def _read_processing(processing: Section, windows: Section) -> ProcessingSettings:
    default = ProcessingSettings()
    positive = checks.integer(1)
    return ProcessingSettings(
        lateness_horizon_s=processing.get(
            "lateness_horizon_s", positive, default.lateness_horizon_s
        ),
        max_open_contact_s=processing.get(
            "max_open_contact_s", positive, default.max_open_contact_s
        ),
        future_tolerance_s=processing.get(
            "future_tolerance_s", positive, default.future_tolerance_s
        ),
        max_event_bytes=processing.get("max_event_bytes", positive, default.max_event_bytes),
        rolling_windows_min=windows.get(
            "rolling_min", checks.rolling_windows_min, default.rolling_windows_min
        ),
    )


def _read_site(section: Section) -> SiteSettings:
    default = SiteSettings()
    return SiteSettings(
        name=section.require("name", checks.text),
        timezone=section.get("timezone", checks.timezone, default.timezone),
        day_reset_min=section.get("day_reset", checks.day_reset, default.day_reset_min),
    )


def _read_client(section: Section) -> ClientSettings:
    return ClientSettings(
        name=section.require("name", checks.text),
        display_name=section.get("display_name", checks.optional(checks.text), None),
    )


class _References:
    """Reads the entries that refer to sites and clients, checking each reference."""

    def __init__(
        self,
        reader: Reader,
        sites: Mapping[str, tuple[KeyPath, SiteSettings]],
        client_names: Sequence[str],
    ) -> None:
        self.reader = reader
        self.sites = sites
        self.site = checks.member(list(sites), "site")
        # Without a clients list, client is a free label; with one, it must be listed.
        self.client = checks.optional(
            checks.member(client_names, "client") if client_names else checks.text
        )

    def read_queue(self, section: Section, base: QueueSettings, origin: str) -> QueueSettings:
        """``base`` with the keys ``section`` sets (its name is already in ``base``).

        ``origin`` says where the values ``section`` leaves out come from, for messages.
        """
        service_level = section.section("service_level", SERVICE_LEVEL_KEYS)
        queue = replace(
            base,
            site=section.get("site", self.site, base.site),
            client=section.get("client", self.client, base.client),
            channel=section.get("channel", checks.channel, base.channel),
            threshold_s=section.get("threshold_s", checks.number(gt=0), base.threshold_s),
            short_abandon_s=section.get(
                "short_abandon_s", checks.number(ge=0), base.short_abandon_s
            ),
            interval_min=section.get("interval_min", checks.interval_min, base.interval_min),
            risk_fraction=section.get(
                "risk_fraction", checks.number(gt=0, le=1), base.risk_fraction
            ),
            definitions=service_level.get("definitions", checks.definitions, base.definitions),
            target=service_level.get("target", checks.number(gt=0, le=1), base.target),
            include_flowouts=service_level.get(
                "include_flowouts", checks.boolean, base.include_flowouts
            ),
        )
        self._check_day_alignment(queue, section, origin)
        return queue

    def read_team(self, section: Section, defaults: QueueSettings) -> TeamSettings:
        """A team; without a site of its own it sits at the defaults' site."""
        return TeamSettings(
            name=section.require("name", checks.text),
            site=section.get("site", self.site, defaults.site),
            leader=section.get("leader", checks.optional(checks.text), None),
        )

    def _check_day_alignment(self, queue: QueueSettings, section: Section, origin: str) -> None:
        # Day-to-date figures are sums of whole intervals, so the day must start on one.
        site_path, site = self.sites[queue.site]
        reset = site.day_reset_min
        if reset % queue.interval_min == 0:
            return
        fitting = [minutes for minutes in INTERVAL_MINUTES if reset % minutes == 0]
        remedy = (
            f"expected {checks.quoted(fitting)} or a different day_reset"
            if fitting
            else "expected a day_reset on a quarter hour"
        )
        inherited = "" if "interval_min" in section else f" (from {origin})"
        problem = (
            f"site {site.name!r} starts its day at {checks.hh_mm(reset)} "
            f"({dotted((*site_path, 'day_reset'))}), not on a {queue.interval_min}-minute "
            f"boundary{inherited}; {remedy}"
        )
        raise self.reader.error(section.at("interval_min"), problem, queue.interval_min)


class _Named(Protocol):
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=_Named)


def _read_named(
    reader: Reader,
    items: list[tuple[KeyPath, object]],
    keys: Collection[str],
    read: Callable[[Section], N],
    nested: Mapping[str, Collection[str]] | None = None,
) -> dict[str, tuple[KeyPath, N]]:
    """A list of named entries, by name in file order, each with its path; names are unique."""
    found: dict[str, tuple[KeyPath, N]] = {}
    for path, raw in items:
        section = reader.section(raw, path, keys, nested)
        entry = read(section)
        if entry.name in found:
            first = dotted(found[entry.name][0])
            raise reader.error(
                section.at("name"), f"expected a unique name, {first} has it too", entry.name
            )
        found[entry.name] = (path, entry)
    return found


def _frozen(entries: Mapping[str, tuple[KeyPath, N]]) -> Mapping[str, N]:
    return MappingProxyType({name: entry for name, (_, entry) in entries.items()})


def _origins(value: object) -> tuple[str, ...]:
    """A list (possibly empty) of websocket origins such as ``https://board.example.com``."""
    if value == []:
        return ()
    return checks.distinct_list(checks.text, "expected a list of origins")(value)
