"""The whole floor folded in one process: parse, route, fold, expire, report.

:class:`Floor` composes the per-queue and per-agent states exactly as the Faust workers do
per partition (contact events by queue, agent events by agent), so a test, a benchmark or a
replay can compute in-process the result the distributed pipeline must reach.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from streams.agent_states import PRUNE_BATCH, AgentTimeline
from streams.calendar import MINUTE_MS, SiteCalendar
from streams.events import (
    AgentEvent,
    ContactEvent,
    Event,
    Rejection,
    parse_event,
)
from streams.forecast import Forecast
from streams.intervals import is_empty_record
from streams.queues import ACCEPTED, DUPLICATE, Outcome, QueueState
from streams.settings import DEFAULT_SITE, CoreSettings
from streams.snapshot import DAY, INTERVAL, floor_view, queue_view, rolling_label

HOUSEKEEPING_MS = 5 * MINUTE_MS
"""Event time between housekeeping rounds (records published, old state forgotten)."""


class Floor:
    """Every queue and agent of the floor, folded from one ordered stream of events."""

    def __init__(self, settings: CoreSettings | None = None) -> None:
        self.settings = settings or CoreSettings()
        self.processing = self.settings.processing
        self.calendars: dict[str, SiteCalendar] = {}
        self.queues: dict[str, QueueState] = {}
        self.agents: dict[str, AgentTimeline] = {}
        self.events_by_type: dict[str, int] = {}
        """Accepted events by type (a plain dict: a Counter is slower on this hot path)."""
        self.rejected: Counter[str] = Counter()
        self.duplicates = 0
        self.published: dict[tuple[str, str], dict[str, Any]] = {}
        """Latest record per (queue, interval start): what a compacted topic would hold."""
        self._unsent: dict[tuple[str, str], dict[str, Any]] = {}
        """Records changed since the last :meth:`drain_records` (latest per interval),
        including those collected by housekeeping in between."""
        self._next_housekeeping_ms = -(2**62)
        self._agents_to_prune: set[AgentTimeline] = set()

    def calendar(self, site: str) -> SiteCalendar:
        calendar = self.calendars.get(site)
        if calendar is None:
            config = self.settings.site(site)
            calendar = self.calendars[site] = SiteCalendar(config.timezone, config.day_reset_min)
        return calendar

    def queue(self, name: str) -> QueueState:
        state = self.queues.get(name)
        if state is None:
            config = self.settings.queue(name)
            state = self.queues[name] = QueueState(
                config, self.calendar(config.site), self.processing
            )
        return state

    def agent(self, agent_id: str, site: str | None = None) -> AgentTimeline:
        timeline = self.agents.get(agent_id)
        if timeline is None:
            timeline = self.agents[agent_id] = AgentTimeline(
                agent_id, self.calendar(site or DEFAULT_SITE), self.processing
            )
        return timeline

    def ingest(self, raw: bytes, now_ms: int | None = None) -> Outcome:
        """Parse one message and fold it; count what happened."""
        parsed = parse_event(
            raw,
            max_bytes=self.processing.max_event_bytes,
            now_ms=now_ms,
            future_tolerance_ms=self.processing.future_tolerance_s * 1000,
        )
        if isinstance(parsed, Rejection):
            self.rejected[parsed.reason] += 1
            return parsed
        return self.apply(parsed)

    def apply(self, event: Event) -> Outcome:
        """Fold one valid event into the state that owns it."""
        if isinstance(event, ContactEvent):
            queue = self.queues.get(event.queue)
            if queue is None:
                queue = self.queue(event.queue)
            outcome = queue.fold(event)
        elif isinstance(event, AgentEvent):
            agent = self.agents.get(event.agent_id)
            if agent is None:
                agent = self.agent(event.agent_id, event.site)
            outcome = agent.fold(event)
            if len(agent.entries) >= PRUNE_BATCH:
                self._agents_to_prune.add(agent)
        else:
            outcome = ACCEPTED  # CRM events: validated here, folded by the CRM tables
        if outcome is ACCEPTED:
            kind = event.type
            by_type = self.events_by_type
            by_type[kind] = by_type.get(kind, 0) + 1
            ts = event.ts_ms
            if ts >= self._next_housekeeping_ms:
                self._next_housekeeping_ms = ts + HOUSEKEEPING_MS
                self.expire(ts)
        elif outcome is DUPLICATE:
            self.duplicates += 1
        else:
            assert isinstance(outcome, Rejection)
            self.rejected[outcome.reason] += 1
        return outcome

    def expire(self, now_ms: int) -> None:
        """Housekeeping; collects interval records first so none is dropped unseen."""
        self._collect_records()
        for state in self.queues.values():
            state.expire(now_ms)
        # only agents holding enough entries have anything to fold away
        for timeline in self._agents_to_prune:
            timeline.expire(now_ms)
        self._agents_to_prune = set()

    def drain_records(self) -> list[dict[str, Any]]:
        """Records changed since the last drain (the latest of each interval), also kept in
        :attr:`published`."""
        self._collect_records()
        out = list(self._unsent.values())
        self._unsent = {}
        return out

    def _collect_records(self) -> None:
        for state in self.queues.values():
            for record in state.drain_records():
                key = (record["queue"], record["interval_start"])
                self.published[key] = record
                self._unsent[key] = record

    def records(self) -> list[dict[str, Any]]:
        """The latest record of every interval with any contribution, by queue and time."""
        self.drain_records()
        return sorted(
            (r for r in self.published.values() if not is_empty_record(r)),
            key=lambda r: (r["queue"], datetime.fromisoformat(r["interval_start"])),
        )

    def queue_view(self, name: str, now_ms: int) -> dict[str, Any]:
        return queue_view(self.queues[name], now_ms, self.processing.rolling_windows_min)

    def agent_row(self, agent_id: str, now_ms: int) -> dict[str, Any]:
        """The agent's board row with occupancy over the same windows as the queues."""
        timeline = self.agents[agent_id]
        rolling = self.processing.rolling_windows_min
        interval_min = self.settings.queue_defaults.interval_min
        start = timeline.calendar.interval_start(now_ms, interval_min)
        bounds = [(INTERVAL, start, now_ms)]
        bounds += [(rolling_label(m), now_ms - m * MINUTE_MS, now_ms) for m in rolling]
        bounds.append((DAY, 0, now_ms))
        return timeline.snapshot(now_ms, bounds)

    def snapshot(self, now_ms: int, forecast: Forecast | None = None) -> dict[str, Any]:
        views = [self.queue_view(name, now_ms) for name in sorted(self.queues)]
        rows = [self.agent_row(agent_id, now_ms) for agent_id in sorted(self.agents)]
        return floor_view(views, rows, now_ms, forecast)
