"""What a screen is sent: the floor state cut to what the page shows, whole or as a patch.

The hub's state is everything the REST API offers (for 300 agents and 20 queues ~0.5 MB of
JSON, most of it per-agent occupancy, contact ids and raw sums the page never shows). A screen
gets a *screen state* instead: sections of items by key,

- ``queues``: queue name → the queue's live figures, per-window figures and colour bands;
- ``agents``: agent id → the board row (logged-out agents are left out);
- ``groups``: ``floor`` / ``site:<name>`` / ``client:<name>`` → exact roll-ups of the queues
  shown (sums of counts, never averages of ratios: :func:`streams.snapshot.rollup`);
- ``staff``: ``floor`` / ``site:<name>`` / ``team:<name>`` → agents by state;
- ``alerts``: alert id → alert;
- ``settings``: ``agents`` → agent highlight bands, ``filter`` → the view's filter;

plus ``meta`` (clock, freshness) in every message. A new screen gets the whole state
(``{"type": "state", …}``); after that, each push is a patch from the edition the screen holds
(``{"type": "patch", "base": …}``: the items that changed and the keys that went). A screen
that missed an edition gets the whole state again, so a slow screen never needs a backlog.

Items are encoded once per edition and compared as bytes, and an edition is built once per
filter and push, whatever the number of screens showing it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final
from urllib.parse import unquote

import orjson

from streams.settings import CoreSettings
from streams.snapshot import agent_counts, group_views, rollup
from wallboard.colours import Band, Colours, bands_json
from wallboard.hub import Hub

JSON = dict[str, Any]

SECTIONS: Final = ("queues", "agents", "groups", "staff", "alerts", "settings")
WINDOW_COUNTS: Final = ("offered", "answered", "abandoned")
WINDOW_RATIOS: Final = ("abandon_rate",)
WINDOW_SECONDS: Final = ("asa_s", "aht_s")
"""Per-window figures a screen shows (the raw sums and the other counts stay in the REST
state). A screen shows one service-level definition, the queue's first."""
RATIO_DIGITS: Final = 4
"""Ratios to 0.01 % and seconds to 0.1 s: finer than any screen shows, a third of the bytes."""
SECONDS_DIGITS: Final = 1
QUEUE_FIELDS: Final = (
    "queue",
    "site",
    "client",
    "channel",
    "threshold_s",
    "target",
    "waiting",
    "at_risk",
    "oldest_queued_ms",
    "handling",
)
AGENT_FIELDS: Final = ("agent_id", "name", "team", "site", "state", "reason", "since_ms", "queue")
"""Board row fields; ``time_in_state_s`` and ``occupancy`` move with the clock alone (the page
ticks time in state from ``since_ms``), so leaving them out keeps patches small."""
FILTER_PARAMETERS: Final = ("site", "queues", "team")


@dataclass(frozen=True)
class ViewFilter:
    """The part of the floor a screen shows (empty sets: everything).

    - ``sites``: queues and agents of these sites;
    - ``queues``: these queues, and the agents skilled for (or handling a contact of) one;
    - ``teams``: agents of these teams (the queue tiles stay: add ``queues`` to narrow them).

    Roll-ups and agent counts are of what the filter keeps.
    """

    sites: frozenset[str] = frozenset()
    queues: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()

    @classmethod
    def from_query(cls, query: str) -> ViewFilter:
        """The filter of a query string: ``site``, ``queues`` and ``team``, each a
        comma-separated list and possibly repeated; other parameters are ignored."""
        found: dict[str, set[str]] = {name: set() for name in FILTER_PARAMETERS}
        for part in query.split("&"):
            name, _, value = part.partition("=")
            name = unquote(name)
            if name in found:
                found[name].update(v for v in (unquote(x).strip() for x in value.split(",")) if v)
        return cls(frozenset(found["site"]), frozenset(found["queues"]), frozenset(found["team"]))

    @property
    def everything(self) -> bool:
        return not (self.sites or self.queues or self.teams)

    def keeps_queue(self, view: Mapping[str, Any]) -> bool:
        return (not self.sites or view.get("site") in self.sites) and (
            not self.queues or view.get("queue") in self.queues
        )

    def keeps_agent(self, row: Mapping[str, Any]) -> bool:
        if self.sites and row.get("site") not in self.sites:
            return False
        if self.teams and row.get("team") not in self.teams:
            return False
        if self.queues:
            serves = set(row.get("queues") or ())
            serves.add(row.get("queue"))
            return not serves.isdisjoint(self.queues)
        return True

    def as_json(self) -> JSON:
        return {
            "site": sorted(self.sites),
            "queues": sorted(self.queues),
            "team": sorted(self.teams),
        }


@dataclass(frozen=True)
class Edition:
    """One filter's screen state at push ``seq``: every item encoded, by section and key."""

    seq: int
    items: Mapping[str, Mapping[bytes, bytes]]
    """Section → encoded key → encoded item."""

    def full_message(self, meta: bytes) -> bytes:
        """``{"type":"state","seq":…,"meta":…,"set":{section:{key:item}}}``."""
        return b"".join(
            (b'{"type":"state","seq":', str(self.seq).encode(), b',"meta":', meta,
             b',"set":', _sections(self.items), b"}")
        )  # fmt: skip

    def patch_message(self, base: Edition, meta: bytes) -> bytes:
        """The patch that turns ``base`` into this edition: changed or new items under
        ``set``, keys that went under ``del``."""
        changed: dict[str, dict[bytes, bytes]] = {}
        gone: dict[str, list[bytes]] = {}
        for section, items in self.items.items():
            before = base.items.get(section, {})
            fresh = {key: item for key, item in items.items() if before.get(key) != item}
            if fresh:
                changed[section] = fresh
            removed = [key for key in before if key not in items]
            if removed:
                gone[section] = removed
        deleted = b",".join(
            b'"' + section.encode() + b'":[' + b",".join(keys) + b"]"
            for section, keys in gone.items()
        )
        return b"".join(
            (b'{"type":"patch","seq":', str(self.seq).encode(), b',"base":', str(base.seq).encode(),
             b',"meta":', meta, b',"set":', _sections(changed), b',"del":{', deleted, b"}}")
        )  # fmt: skip


def _sections(items: Mapping[str, Mapping[bytes, bytes]]) -> bytes:
    return (
        b"{"
        + b",".join(
            b'"'
            + section.encode()
            + b'":{'
            + b",".join(key + b":" + item for key, item in entries.items())
            + b"}"
            for section, entries in items.items()
        )
        + b"}"
    )


class ScreenStates:
    """Builds editions and meta from a hub (pure: time is passed in)."""

    def __init__(self, hub: Hub, core: CoreSettings, colours: Colours) -> None:
        self._hub = hub
        self._core = core
        self._colours = colours
        self._queue_bands: dict[tuple[str, float, float], JSON] = {}
        self._group_bands = bands_json(colours.for_group(core.queue_defaults))
        defaults = core.queue_defaults.definitions
        self._group_definition = str(defaults[0]) if defaults else None
        self._keys: dict[str, bytes] = {}

    def meta(self, now_ms: int) -> bytes:
        """What every message carries: the clock and the state's freshness."""
        fresh = self._hub.freshness(now_ms)
        return orjson.dumps(
            {
                "now_ms": now_ms,
                "last_update_ms": fresh.last_update_ms,
                "stale": fresh.stale,
                "stale_reason": fresh.reason,
                "stale_s": self._hub.stale_ms / 1000,
                "version": self._hub.version,
            }
        )

    def edition(self, view_filter: ViewFilter, seq: int, now_ms: int) -> Edition:
        """The screen state of ``view_filter`` now, as edition ``seq``."""
        return Edition(seq, self.encode(self.state(view_filter, now_ms)))

    def state(self, view_filter: ViewFilter, now_ms: int) -> dict[str, dict[str, Any]]:
        """The screen state of ``view_filter`` as plain values (section → key → item)."""
        floor = self._hub.state(now_ms)
        views: list[JSON] = floor["queues"]
        rows: list[JSON] = floor["agents"]
        if view_filter.everything:
            groups, staff = floor["groups"], floor["agents_by_state"]
        else:
            views = [view for view in views if view_filter.keeps_queue(view)]
            rows = [row for row in rows if view_filter.keeps_agent(row)]
            groups, staff = _group_rollups(views), _staff_counts(rows)
        return {
            "queues": {view["queue"]: self._queue(view) for view in views},
            "agents": {
                row["agent_id"]: {name: row.get(name) for name in AGENT_FIELDS}
                for row in rows
                if row.get("state") not in (None, "logged_out")
            },
            "groups": self._groups(groups, views),
            "staff": _staff(staff),
            "alerts": {str(_alert_key(alert, n)): alert for n, alert in enumerate(floor["alerts"])},
            "settings": {
                "agents": self._colours.agents_json(),
                "filter": view_filter.as_json(),
            },
        }

    def encode(self, state: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[bytes, bytes]]:
        return {
            section: {self._key(key): orjson.dumps(item) for key, item in items.items()}
            for section, items in state.items()
        }

    def _key(self, key: str) -> bytes:
        encoded = self._keys.get(key)
        if encoded is None:
            if len(self._keys) > 100_000:  # keys of agents long gone: start afresh
                self._keys.clear()
            encoded = self._keys[key] = orjson.dumps(key)
        return encoded

    def _queue(self, view: Mapping[str, Any]) -> JSON:
        out = {name: view.get(name) for name in QUEUE_FIELDS}
        definitions = view.get("definitions") or []
        definition = str(definitions[0]) if definitions else None
        out["definition"] = definition
        out["agents"] = view.get("agents")
        # Erlang staffing of the current load (streams.staffing), when the hub computed it
        staffing = view.get("staffing") or {}
        out["required_agents"] = staffing.get("required_agents")
        out["windows"] = {
            label: _window(figures, definition) for label, figures in view["windows"].items()
        }
        out["colours"] = self._bands_of(view)
        return out

    def _bands_of(self, view: Mapping[str, Any]) -> JSON:
        name = str(view["queue"])
        target, threshold_s = float(view["target"]), float(view["threshold_s"])
        cache_key = (name, target, threshold_s)
        bands = self._queue_bands.get(cache_key)
        if bands is None:
            # the worker's view says what T and the target are; the rest of the queue's
            # settings (risk fraction) come from this gateway's configuration
            settings = replace(self._core.queue(name), target=target, threshold_s=threshold_s)
            bands = self._queue_bands[cache_key] = bands_json(self._colours.for_queue(settings))
        return bands

    def _groups(self, groups: Mapping[str, Any], views: Sequence[Mapping[str, Any]]) -> JSON:
        counts = {"floor": len(views)}
        for key in ("site", "client"):
            for name, members in group_views(views, key).items():
                counts[f"{key}:{name}"] = len(members)
        bands, definition = self._group_bands, self._group_definition
        out = {"floor": _group(groups["floor"], counts["floor"], bands, definition)}
        for key in ("site", "client"):
            for name, windows in groups[key].items():
                out[f"{key}:{name}"] = _group(
                    windows, counts.get(f"{key}:{name}", 0), bands, definition
                )
        return out


def _group(
    windows: Mapping[str, Mapping[str, Any]], queues: int, bands: JSON, definition: str | None
) -> JSON:
    first = next(iter(windows.values()), {})
    return {
        "queues": queues,
        "waiting": first.get("waiting", 0),
        "at_risk": first.get("at_risk", 0),
        "oldest_queued_ms": first.get("oldest_queued_ms"),
        "definition": definition,
        "windows": {label: _window(figures, definition) for label, figures in windows.items()},
        "colours": bands,
    }


def _window(figures: Mapping[str, Any], definition: str | None) -> JSON:
    """One window as a screen shows it: the counts, rounded ratios and seconds, and the
    service level of ``definition`` (null when it is not computed or has no data)."""
    out: JSON = {name: figures.get(name) for name in WINDOW_COUNTS}
    for name in WINDOW_RATIOS:
        out[name] = _rounded(figures.get(name), RATIO_DIGITS)
    for name in WINDOW_SECONDS:
        out[name] = _rounded(figures.get(name), SECONDS_DIGITS)
    levels = figures.get("service_level") or {}
    out["service_level"] = _rounded(levels.get(definition), RATIO_DIGITS)
    return out


def _rounded(value: object, digits: int) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return round(float(value), digits)


def _group_rollups(views: list[JSON]) -> JSON:
    windows = list(views[0]["windows"]) if views else []
    groups: JSON = {"floor": {w: rollup(views, w) for w in windows}}
    for key in ("site", "client"):
        groups[key] = {
            name: {w: rollup(members, w) for w in windows}
            for name, members in sorted(group_views(views, key).items())
        }
    return groups


def _staff_counts(rows: Iterable[Mapping[str, Any]]) -> JSON:
    rows = list(rows)
    out: JSON = {"floor": agent_counts(rows)}
    for key in ("site", "team"):
        members: dict[str, list[Mapping[str, Any]]] = {}
        for row in rows:
            if row.get(key) is not None:
                members.setdefault(row[key], []).append(row)
        out[key] = {name: agent_counts(group) for name, group in sorted(members.items())}
    return out


def _staff(by_state: Mapping[str, Any]) -> JSON:
    out = {"floor": by_state["floor"]}
    for key in ("site", "team"):
        for name, counts in by_state[key].items():
            if counts["logged_in"]:
                out[f"{key}:{name}"] = counts
    return out


def _alert_key(alert: Mapping[str, Any], position: int) -> object:
    return alert.get("alert_id") or alert.get("id") or f"#{position}"


__all__ = [
    "FILTER_PARAMETERS",
    "SECTIONS",
    "Band",
    "Edition",
    "ScreenStates",
    "ViewFilter",
]
