"""Agents (the people on the phones): state timelines, time in state, occupancy.

Each agent's ``agent.state`` events form a timeline sorted by event time (ties by event id),
so events arriving out of order land where they belong and the result never depends on
arrival order. A state lasts from its event to the next one; the last state lasts until
``now``. Consecutive events with the same state and reason are one stretch (time in state is
measured from the first).

Old entries are folded into per-day totals once they are past both the lateness horizon and
the longest rolling window, so memory per agent stays bounded however long the run.

Occupancy = (on contact + ACW) / (on contact + ACW + available) over a window; ``None`` when
the agent spent no time in any of those states.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import Any, Final

from streams.calendar import SiteCalendar
from streams.events import TOO_LATE, AgentEvent, Rejection
from streams.queues import ACCEPTED, DUPLICATE, Outcome
from streams.settings import ProcessingSettings

LOGGED_OUT: Final = "logged_out"
AVAILABLE: Final = "available"
NOT_READY: Final = "not_ready"
ON_CONTACT: Final = "on_contact"
AFTER_CONTACT_WORK: Final = "after_contact_work"
UNSPECIFIED_REASON: Final = "unspecified"

StateKey = tuple[str, str | None]
"""(state, reason); reason only for ``not_ready``."""

Entry = tuple[int, str, str, str | None]
"""(ts_ms, event_id, state, reason)."""

_ATTRIBUTES: Final = ("name", "team", "site", "queues", "client")
PRUNE_BATCH: Final = 16
"""Entries an agent keeps before old ones are folded into day totals (then half at least)."""


def state_key(state: str, reason: str | None) -> StateKey:
    if state == NOT_READY:
        return (state, reason or UNSPECIFIED_REASON)
    return (state, None)


def occupancy(totals: dict[StateKey, int]) -> float | None:
    """(on contact + ACW) / (on contact + ACW + available), or ``None`` with no such time."""
    busy = totals.get((ON_CONTACT, None), 0) + totals.get((AFTER_CONTACT_WORK, None), 0)
    denominator = busy + totals.get((AVAILABLE, None), 0)
    return busy / denominator if denominator > 0 else None


class AgentTimeline:
    """One agent's state history within the retention span, plus per-day totals before it."""

    def __init__(
        self,
        agent_id: str,
        calendar: SiteCalendar,
        processing: ProcessingSettings | None = None,
    ) -> None:
        processing = processing or ProcessingSettings()
        self.agent_id = agent_id
        self.calendar = calendar
        self._horizon_ms = processing.lateness_horizon_ms
        self._retain_ms = max(processing.rolling_windows_min, default=0) * 60_000 + 60_000
        self.watermark_ms = -(2**62)
        self.entries: list[Entry] = []
        self.attributes: dict[str, Any] = {}
        self._attribute_keys: dict[str, tuple[int, str]] = {}
        self._newest_attribute_key: tuple[int, str] = (-(2**62), "")
        self.day_totals: dict[int, dict[StateKey, int]] = {}
        self.counts: dict[str, int] = {DUPLICATE: 0, TOO_LATE: 0}

    def fold(self, event: AgentEvent) -> Outcome:
        ts = event.ts_ms
        horizon = self.watermark_ms - self._horizon_ms
        if ts < horizon:
            self.counts[TOO_LATE] += 1
            return Rejection(
                TOO_LATE,
                f"event time is {(horizon - ts) / 1000:.0f} s behind the lateness horizon of "
                f"agent {self.agent_id!r}",
                event.event_id,
                event.type,
            )
        event_id = event.event_id
        entry: Entry = (ts, event_id, event.state, event.reason)
        entries = self.entries
        # the timeline itself knows every event id within the horizon: a repeat has the same
        # time and id as an entry (older repeats are too late)
        if not entries or entry[:2] > entries[-1][:2]:
            entries.append(entry)
        else:
            at = bisect_left(entries, entry[:2])
            if at < len(entries) and entries[at][:2] == entry[:2]:
                self.counts[DUPLICATE] += 1
                return DUPLICATE
            entries.insert(at, entry)
        if (
            event.name is not None
            or event.team is not None
            or event.site is not None
            or event.queues is not None
            or event.client is not None
        ):
            self._take_attributes(event)
        if ts > self.watermark_ms:
            self.watermark_ms = ts
        return ACCEPTED

    def _take_attributes(self, event: AgentEvent) -> None:
        """Keep each attribute from the newest event carrying it (order-independent)."""
        key = (event.ts_ms, event.event_id)
        _, _, _, _, _, _, name, team, site, queues, _, client = event
        if key > self._newest_attribute_key:
            # in order (the usual case): this event's values are the newest of all
            self._newest_attribute_key = key
            known = self._attribute_keys
            attributes = self.attributes
            if name is not None:
                known["name"] = key
                attributes["name"] = name
            if team is not None:
                known["team"] = key
                attributes["team"] = team
            if site is not None:
                known["site"] = key
                attributes["site"] = site
            if queues is not None:
                known["queues"] = key
                attributes["queues"] = queues
            if client is not None:
                known["client"] = key
                attributes["client"] = client
            return
        for attribute, value in (
            ("name", name),
            ("team", team),
            ("site", site),
            ("queues", queues),
            ("client", client),
        ):
            if value is not None:
                seen = self._attribute_keys.get(attribute)
                if seen is None or key > seen:
                    self._attribute_keys[attribute] = key
                    self.attributes[attribute] = value

    # -- persistence --------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """The whole timeline as plain JSON-able values (see :meth:`restore`)."""
        return {
            "watermark_ms": self.watermark_ms,
            "entries": self.entries,
            "attributes": self.attributes,
            "attribute_keys": self._attribute_keys,
            "newest_attribute_key": self._newest_attribute_key,
            "day_totals": [
                [day, [[state, reason, ms] for (state, reason), ms in totals.items()]]
                for day, totals in self.day_totals.items()
            ],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Load :meth:`to_state` (after a JSON round trip: lists back to tuples)."""
        self.watermark_ms = state["watermark_ms"]
        self.entries = [tuple(entry) for entry in state["entries"]]
        attributes = dict(state["attributes"])
        if attributes.get("queues") is not None:
            attributes["queues"] = tuple(attributes["queues"])
        self.attributes = attributes
        self._attribute_keys = {k: tuple(v) for k, v in state["attribute_keys"].items()}
        self._newest_attribute_key = tuple(state["newest_attribute_key"])
        self.day_totals = {
            day: {(name, reason): ms for name, reason, ms in totals}
            for day, totals in state["day_totals"]
        }

    # -- reading ------------------------------------------------------------------------------

    @property
    def state(self) -> str | None:
        return self.entries[-1][2] if self.entries else None

    @property
    def reason(self) -> str | None:
        if not self.entries:
            return None
        _, _, state, reason = self.entries[-1]
        return (reason or UNSPECIFIED_REASON) if state == NOT_READY else reason

    def since_ms(self) -> int | None:
        """Start of the current stretch of the same state and reason."""
        if not self.entries:
            return None
        _, _, state, reason = self.entries[-1]
        since = self.entries[-1][0]
        for ts, _, other_state, other_reason in reversed(self.entries):
            if other_state != state or other_reason != reason:
                break
            since = ts
        return since

    def totals(self, start_ms: int, end_ms: int) -> dict[StateKey, int]:
        """Milliseconds in each (state, reason) within ``[start_ms, end_ms)``.

        Exact for windows inside the retained span; earlier parts of the span are covered
        only when they start at a day start (see :meth:`day_to_date`).
        """
        out: dict[StateKey, int] = {}
        entries = self.entries
        if not entries or end_ms <= start_ms:
            return out
        first = bisect_right(entries, (start_ms, "\U0010ffff")) - 1
        first = max(first, 0)
        for i in range(first, len(entries)):
            ts, _, state, reason = entries[i]
            if ts >= end_ms:
                break
            stop = entries[i + 1][0] if i + 1 < len(entries) else end_ms
            lo = max(ts, start_ms)
            hi = min(stop, end_ms)
            if hi > lo:
                key = state_key(state, reason)
                out[key] = out.get(key, 0) + hi - lo
        return out

    def day_to_date(self, now_ms: int) -> dict[StateKey, int]:
        """Milliseconds in each state since the start of the site day containing ``now_ms``."""
        day = self.calendar.day_start(now_ms)
        out = dict(self.day_totals.get(day, {}))
        for key, ms in self.totals(day, now_ms).items():
            out[key] = out.get(key, 0) + ms
        return out

    # -- housekeeping -------------------------------------------------------------------------

    def expire(self, now_ms: int) -> None:
        """Fold entries older than both the horizon and the rolling windows into day totals.

        Works in batches (only once a few entries are foldable) so the cost per state event
        stays small.
        """
        entries = self.entries
        if len(entries) < PRUNE_BATCH:
            return
        cutoff = min(self.watermark_ms - self._horizon_ms, now_ms - self._retain_ms)
        if entries[PRUNE_BATCH // 2][0] > cutoff:
            return
        calendar = self.calendar
        day_start = day_end = 0
        totals: dict[StateKey, int] = {}
        drop = 0
        while drop + 1 < len(entries) and entries[drop + 1][0] <= cutoff:
            start, _, state, reason = entries[drop]
            stop = entries[drop + 1][0]
            key = (state, reason or UNSPECIFIED_REASON) if state == NOT_READY else (state, None)
            while start < stop:
                if not day_start <= start < day_end:
                    day_start = calendar.day_start(start)
                    day_end = calendar.day_end(day_start)
                    totals = self.day_totals.setdefault(day_start, {})
                end = day_end if day_end < stop else stop
                totals[key] = totals.get(key, 0) + end - start
                start = end
            drop += 1
        del entries[:drop]
        if len(self.day_totals) > 1:
            today = calendar.day_start(now_ms)
            for day in [d for d in self.day_totals if calendar.day_end(d) <= min(cutoff, today)]:
                del self.day_totals[day]

    def snapshot(self, now_ms: int, windows: Iterable[tuple[str, int, int]]) -> dict[str, Any]:
        """The agent's board row: state, reason, time in state and occupancy per window."""
        since = self.since_ms()
        row: dict[str, Any] = {"agent_id": self.agent_id}
        for name in _ATTRIBUTES:
            value = self.attributes.get(name)
            row[name] = list(value) if name == "queues" and value is not None else value
        row["state"] = self.state
        row["reason"] = self.reason
        row["since_ms"] = since
        row["time_in_state_s"] = None if since is None else max(0, now_ms - since) / 1000
        row["occupancy"] = {
            label: occupancy(
                self.day_to_date(now_ms) if label == "day" else self.totals(start, end)
            )
            for label, start, end in windows
        }
        return row
