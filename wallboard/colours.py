"""Red / amber / green on the wallboard: thresholds per metric, per queue, and for agents.

Every queue gets built-in bands from its own settings, so a board is coloured with no
configuration at all:

- ``service_level`` (current interval, the queue's first definition): amber below the
  queue's target, red more than :data:`SL_RED_MARGIN` below it;
- ``longest_wait_s``: amber from ``risk_fraction`` × T (the at-risk age), red from T.

A YAML file named by ``FLOORWATCH_WALLBOARD_COLOURS`` overrides and extends them::

    defaults:                          # every queue (and the floor / site / client roll-ups)
      service_level: {amber: 0.80, red: 0.70}
      waiting: {amber: 5, red: 10}
    queues:
      billing:                         # one queue: these metrics replace the defaults
        longest_wait_s: {amber: 30, red: 60}
        abandon_rate: {red: 0.1}
    agents:                            # highlights on the agent board (time in state)
      not_ready_s: {amber: 600, red: 900}
      after_contact_work_s: {amber: 120, red: 300}
      reasons: {lunch: {amber: 3600, red: 4200}}

A band names the value at which a metric turns amber and the one at which it turns red
(either may be left out). For ``service_level`` lower is worse: a value *below* the band
colours; for every other metric higher is worse: a value *at or above* it colours.
Ratios are 0–1, times are seconds. A wrong file fails the gateway at start with the file,
the path and the value, like the configuration does.

The page receives the bands resolved per queue (``colours`` in each queue of the screen
state) and the agent bands once, and compares the live values itself, because the longest
wait and the time in state tick on the page between updates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

import yaml

from streams.errors import ConfigError
from streams.settings import QueueSettings

COLOURS_VARIABLE: Final = "FLOORWATCH_WALLBOARD_COLOURS"
"""Environment variable naming the colour thresholds file (not part of the YAML
configuration, which rejects unknown sections)."""

Direction = Literal["below", "above"]
QUEUE_METRICS: Final[Mapping[str, Direction]] = MappingProxyType(
    {
        "service_level": "below",
        "longest_wait_s": "above",
        "waiting": "above",
        "at_risk": "above",
        "abandon_rate": "above",
        "asa_s": "above",
    }
)
"""Metrics a queue tile is coloured by, and which side of a band is bad."""
RATIO_METRICS: Final = frozenset({"service_level", "abandon_rate"})
AGENT_METRICS: Final = ("not_ready_s", "after_contact_work_s", "on_contact_s", "available_s")
"""Time in state that highlights an agent, per state (``reasons`` refine ``not_ready_s``)."""
SL_RED_MARGIN: Final = 0.10
"""Built-in: service level turns red this far (absolute) below the queue's target."""


@dataclass(frozen=True)
class Band:
    """Where a metric turns amber and red (None: never)."""

    amber: float | None = None
    red: float | None = None

    def as_json(self) -> list[float | None]:
        return [self.amber, self.red]


Bands = Mapping[str, Band]
"""Metric name → band."""

BUILT_IN_AGENT_BANDS: Final[Bands] = MappingProxyType(
    {
        "not_ready_s": Band(600, 900),
        "after_contact_work_s": Band(120, 300),
    }
)
BUILT_IN_REASON_BANDS: Final[Mapping[str, Band]] = MappingProxyType(
    {
        "break": Band(900, 1200),
        "lunch": Band(3600, 4200),
    }
)


@dataclass(frozen=True)
class Colours:
    """The configured bands (built-ins are added per queue by :meth:`for_queue`)."""

    defaults: Bands = field(default_factory=lambda: MappingProxyType({}))
    queues: Mapping[str, Bands] = field(default_factory=lambda: MappingProxyType({}))
    agents: Bands = field(default_factory=lambda: BUILT_IN_AGENT_BANDS)
    reasons: Mapping[str, Band] = field(default_factory=lambda: BUILT_IN_REASON_BANDS)
    source: str = "<built-in>"

    def for_queue(self, settings: QueueSettings) -> dict[str, Band]:
        """Every band of one queue: built-in from its settings, then the file's defaults,
        then its own entries (each metric replaced whole)."""
        bands = built_in_bands(settings)
        bands.update(self.defaults)
        bands.update(self.queues.get(settings.name, {}))
        return bands

    def for_group(self, defaults: QueueSettings) -> dict[str, Band]:
        """Bands of a roll-up (floor, site, client): the queue defaults' built-in service
        level and the file's defaults. Per-queue entries do not apply to a group of queues,
        nor does a built-in longest wait: queues with thresholds of 20 s and of an hour
        share a roll-up, and its longest wait may belong to either."""
        bands = {"service_level": built_in_bands(defaults)["service_level"]}
        bands.update(self.defaults)
        return bands

    def agents_json(self) -> dict[str, Any]:
        """The agent highlight bands as the page reads them."""
        return {
            "states": {name: band.as_json() for name, band in self.agents.items()},
            "reasons": {name: band.as_json() for name, band in self.reasons.items()},
        }


def built_in_bands(settings: QueueSettings) -> dict[str, Band]:
    return {
        "service_level": Band(settings.target, round(max(0.0, settings.target - SL_RED_MARGIN), 6)),
        "longest_wait_s": Band(settings.risk_fraction * settings.threshold_s, settings.threshold_s),
    }


def bands_json(bands: Mapping[str, Band]) -> dict[str, list[float | None]]:
    return {name: band.as_json() for name, band in sorted(bands.items())}


def colour_of(metric: str, value: float | None, band: Band) -> str:
    """``red``, ``amber``, ``green`` or ``""`` (no value) of one figure. The page has the same
    rule in JavaScript; this one is the reference its tests compare with."""
    if value is None:
        return ""
    below = QUEUE_METRICS.get(metric, "above") == "below"
    for name, edge in (("red", band.red), ("amber", band.amber)):
        if edge is not None and (value < edge if below else value >= edge):
            return name
    return "green"


# -- reading the file ------------------------------------------------------------------------


def load_colours(env: Mapping[str, str]) -> Colours:
    """The colours the file named by ``FLOORWATCH_WALLBOARD_COLOURS`` sets (built-ins when
    the variable is unset or empty). Raises :class:`ConfigError` naming file, path, value."""
    name = env.get(COLOURS_VARIABLE)
    if not name:
        return Colours()
    path = Path(name)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"env {COLOURS_VARIABLE}", "", f"cannot read the file ({exc.strerror})", name
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "", f"expected YAML ({exc})") from None
    return read_colours(data, str(path))


def read_colours(data: object, source: str) -> Colours:
    """Check ``data`` (the parsed file) and build its :class:`Colours`."""
    if data is None:
        return Colours(source=source)
    top = _mapping(data, source, "", ("defaults", "queues", "agents"))
    defaults = _queue_bands(top.get("defaults"), source, "defaults")
    queues_data = _mapping(top.get("queues", {}), source, "queues", None)
    queues = {
        str(name): _queue_bands(entry, source, f"queues.{name}")
        for name, entry in queues_data.items()
    }
    agents_data = _mapping(top.get("agents", {}), source, "agents", (*AGENT_METRICS, "reasons"))
    agents = dict(BUILT_IN_AGENT_BANDS)
    for metric in AGENT_METRICS:
        if metric in agents_data:
            agents[metric] = _band(agents_data[metric], source, f"agents.{metric}", "above", False)
    reasons = dict(BUILT_IN_REASON_BANDS)
    reasons_data = _mapping(agents_data.get("reasons", {}), source, "agents.reasons", None)
    for reason, entry in reasons_data.items():
        reasons[str(reason)] = _band(entry, source, f"agents.reasons.{reason}", "above", False)
    return Colours(
        defaults=MappingProxyType(defaults),
        queues=MappingProxyType({name: MappingProxyType(b) for name, b in queues.items()}),
        agents=MappingProxyType(agents),
        reasons=MappingProxyType(reasons),
        source=source,
    )


def _mapping(
    value: object, source: str, path: str, keys: tuple[str, ...] | None
) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(source, path, "expected a mapping", value)
    for key in value:
        if keys is not None and key not in keys:
            where = f"{path}.{key}" if path else str(key)
            raise ConfigError(source, where, f"unknown key; expected one of {', '.join(keys)}")
    return value


def _queue_bands(value: object, source: str, path: str) -> dict[str, Band]:
    entries = _mapping(value, source, path, tuple(QUEUE_METRICS))
    return {
        metric: _band(
            entry, source, f"{path}.{metric}", QUEUE_METRICS[metric], metric in RATIO_METRICS
        )
        for metric, entry in entries.items()
    }


def _band(value: object, source: str, path: str, direction: Direction, ratio: bool) -> Band:
    entry = _mapping(value, source, path, ("amber", "red"))
    edges: dict[str, float | None] = {}
    for key in ("amber", "red"):
        edge = entry.get(key)
        if edge is not None and (isinstance(edge, bool) or not isinstance(edge, int | float)):
            raise ConfigError(source, f"{path}.{key}", "expected a number", edge)
        if edge is not None and (edge < 0 or (ratio and edge > 1)):
            expected = "a ratio from 0 to 1" if ratio else "a number >= 0"
            raise ConfigError(source, f"{path}.{key}", f"expected {expected}", edge)
        edges[key] = None if edge is None else float(edge)
    amber, red = edges["amber"], edges["red"]
    if amber is not None and red is not None:
        if direction == "below" and red > amber:
            raise ConfigError(
                source,
                f"{path}.red",
                f"expected at most amber ({amber:g}): lower is worse",
                entry["red"],
            )
        if direction == "above" and red < amber:
            raise ConfigError(
                source,
                f"{path}.red",
                f"expected at least amber ({amber:g}): higher is worse",
                entry["red"],
            )
    return Band(amber, red)


__all__ = [
    "COLOURS_VARIABLE",
    "QUEUE_METRICS",
    "Band",
    "Colours",
    "bands_json",
    "built_in_bands",
    "colour_of",
    "load_colours",
    "read_colours",
]
