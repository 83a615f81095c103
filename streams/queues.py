"""One queue's state: its contact legs, its minute / interval / day buckets, who is waiting.

:class:`QueueState` folds the contact events of one queue (they all share a Kafka partition,
keyed by queue). Each accepted event changes one leg's facts; the change of the leg's parts
(see :mod:`streams.contacts`) is applied to three bucket granularities at once:

- epoch *minutes*, the atom of rolling windows (kept for the longest rolling window and the
  lateness horizon);
- fixed *intervals* aligned to the site's time zone (15/30/60 min), which become the interval
  records of DESIGN.md section 6;
- site *days* from the configured reset time, for day-to-date figures.

Event time drives everything. The *watermark* is the newest event time seen by this queue;
an event older than ``watermark − lateness horizon`` is rejected as ``too_late``, and so is
one whose change would reach a part older than that, so an interval past the horizon
(``final``) never changes again. Waiting contacts with no outcome ``max_open_contact_s`` after
they queued are closed as flowed out (``orphaned``) when the watermark passes that time.

The clock appears only as the ``now_ms`` argument of live figures (waiting, longest wait,
rolling windows) and of :meth:`QueueState.expire`.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Any, Final

from streams.calendar import MINUTE_MS, SiteCalendar
from streams.contacts import (
    ABANDONED,
    ANSWERED,
    EMPTY_SUMMARY,
    FLOWED_OUT,
    SHORT_ABANDONED,
    SUMMARY_FACTS,
    Exit,
    Handle,
    Leg,
    Summary,
    summarize,
)
from streams.events import TOO_LATE, ContactEvent, Rejection
from streams.intervals import build_record
from streams.settings import ProcessingSettings, QueueSettings
from streams.stats import QueueStats, merge

ACCEPTED: Final = "accepted"
DUPLICATE: Final = "duplicate"
Outcome = str | Rejection
"""What folding one event did: :data:`ACCEPTED`, :data:`DUPLICATE` or a :class:`Rejection`."""


class MinuteBucket(QueueStats):
    """A minute's stats plus its answered waits, so a retracted longest wait is exact."""

    __slots__ = ("waits",)

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[int] = []


class QueueState:
    """All state of one queue. Not thread-safe; one owner folds its events in order."""

    def __init__(
        self,
        settings: QueueSettings,
        calendar: SiteCalendar,
        processing: ProcessingSettings | None = None,
    ) -> None:
        processing = processing or ProcessingSettings()
        self.settings = settings
        self.calendar = calendar
        self.name = settings.name
        self._threshold_ms = settings.threshold_ms
        self._short_ms = settings.short_abandon_ms
        self._interval_min = settings.interval_min
        self._interval_ms = settings.interval_min * MINUTE_MS
        self._horizon_ms = processing.lateness_horizon_ms
        self._orphan_ms = processing.max_open_contact_ms
        self._rolling_ms = max(processing.rolling_windows_min, default=0) * MINUTE_MS
        self.watermark_ms = -(2**62)
        self.legs: dict[str, Leg] = {}
        self.waiting: dict[str, int] = {}
        self.minutes: dict[int, MinuteBucket] = {}
        self.intervals: dict[int, QueueStats] = {}
        self.days: dict[int, QueueStats] = {}
        self._orphan_due: list[tuple[int, str]] = []
        self._touched: deque[tuple[int, str]] = deque()
        """(event time, contact) once per leg, in creation order; re-queued while the leg is
        still fresh, so each leg has exactly one entry and eviction costs O(1) per leg."""
        self._lingering: set[str] = set()
        """Legs past the horizon that are not complete yet (long calls, missing events)."""
        self._changed: set[int] = set()
        self._bucket_cache: dict[int, tuple[MinuteBucket, QueueStats, QueueStats, int]] = {}
        """minute → its minute, interval and day buckets (and interval start); cleared
        whenever a bucket is dropped."""
        self._unfinal: set[int] = set()
        self.counts: dict[str, int] = {
            DUPLICATE: 0,
            TOO_LATE: 0,
            "orphaned": 0,
            "evicted_incomplete": 0,
        }

    # -- folding ------------------------------------------------------------------------------

    def fold(self, event: ContactEvent) -> Outcome:
        """Apply one contact event of this queue."""
        ts = event.ts_ms
        horizon = self.watermark_ms - self._horizon_ms
        if ts < horizon:
            self.counts[TOO_LATE] += 1
            return Rejection(
                TOO_LATE,
                f"event time is {(horizon - ts) / 1000:.0f} s behind the lateness horizon of "
                f"queue {self.name!r}",
                event.event_id,
                event.type,
            )
        contact_id = event.contact_id
        leg = self.legs.get(contact_id)
        created = leg is None
        if leg is None:
            leg = self.legs[contact_id] = Leg(contact_id)
            self._touched.append((ts, contact_id))
        elif event.event_id in leg.seen:
            self.counts[DUPLICATE] += 1
            return DUPLICATE
        token = leg.merge(event)
        # a fact of the handle stage (hold, consult, end…) matters only once the leg is wrapped
        if token is not None and (event.type in SUMMARY_FACTS or leg.wrapped is not None):
            old = leg.summary
            new = summarize(
                leg, self._threshold_ms, self._short_ms, self._orphan_ms, self.watermark_ms
            )
            if new != old:
                if not _changes_after(old, new, horizon):
                    leg.undo(token)
                    if created:
                        del self.legs[contact_id]
                    self.counts[TOO_LATE] += 1
                    return Rejection(
                        TOO_LATE,
                        f"contact {contact_id!r} would change an interval of queue {self.name!r} "
                        "that is past the lateness horizon",
                        event.event_id,
                        event.type,
                    )
                self._replace(leg, old, new)
        leg.seen.add(event.event_id)
        if ts > leg.newest_ms:
            leg.newest_ms = ts
        if ts > self.watermark_ms:
            self.watermark_ms = ts
            due = self._orphan_due
            if due and due[0][0] <= ts:
                self._close_orphans(ts)
        return ACCEPTED

    def advance_watermark(self, ts_ms: int) -> None:
        """Move event time forward (never back); closes contacts that became orphans."""
        if ts_ms <= self.watermark_ms:
            return
        self.watermark_ms = ts_ms
        self._close_orphans(ts_ms)

    def _close_orphans(self, ts_ms: int) -> None:
        due = self._orphan_due
        while due and due[0][0] <= ts_ms:
            due_ms, contact_id = heapq.heappop(due)
            leg = self.legs.get(contact_id)
            if leg is None or contact_id not in self.waiting:
                continue
            if leg.queued is None or leg.queued[0] + self._orphan_ms != due_ms:
                continue  # the leg's queue time changed since; a newer entry is in the heap
            new = summarize(leg, self._threshold_ms, self._short_ms, self._orphan_ms, ts_ms)
            self.counts["orphaned"] += 1
            self._replace(leg, leg.summary, new)

    def _replace(self, leg: Leg, old: Summary, new: Summary) -> None:
        if old.entry_ms != new.entry_ms:
            if old.entry_ms is not None:
                self._entry(old.entry_ms, -1)
            if new.entry_ms is not None:
                self._entry(new.entry_ms, 1)
        if old.exit != new.exit:
            if old.exit is not None:
                self._exit(old.exit, -1)
            if new.exit is not None:
                self._exit(new.exit, 1)
        if old.handle != new.handle:
            if old.handle is not None:
                self._handle(old.handle, -1)
            if new.handle is not None:
                self._handle(new.handle, 1)
        leg.summary = new
        contact_id = leg.contact_id
        if new.exit is None and leg.queued is not None:
            queued_ms = leg.queued[0]
            if self.waiting.get(contact_id) != queued_ms:
                self.waiting[contact_id] = queued_ms
                heapq.heappush(self._orphan_due, (queued_ms + self._orphan_ms, contact_id))
        else:
            self.waiting.pop(contact_id, None)

    # -- buckets ------------------------------------------------------------------------------

    def _buckets(self, ts_ms: int) -> tuple[MinuteBucket, QueueStats, QueueStats]:
        minute = ts_ms // MINUTE_MS
        cached = self._bucket_cache.get(minute)
        if cached is not None:
            self._changed.add(cached[3])
            return cached[0], cached[1], cached[2]
        m_bucket = self.minutes.get(minute)
        if m_bucket is None:
            m_bucket = self.minutes[minute] = MinuteBucket()
        start = self.calendar.interval_start(ts_ms, self._interval_min)
        i_bucket = self.intervals.get(start)
        if i_bucket is None:
            i_bucket = self.intervals[start] = QueueStats()
            self._unfinal.add(start)
        self._changed.add(start)
        day = self.calendar.day_start(ts_ms)
        d_bucket = self.days.get(day)
        if d_bucket is None:
            d_bucket = self.days[day] = QueueStats()
        self._bucket_cache[minute] = (m_bucket, i_bucket, d_bucket, start)
        return m_bucket, i_bucket, d_bucket

    def _entry(self, ts_ms: int, sign: int) -> None:
        for bucket in self._buckets(ts_ms):
            bucket.offered += sign

    def _exit(self, part: Exit, sign: int) -> None:
        kind = part.kind
        wait = part.wait_ms
        buckets = self._buckets(part.ts_ms)
        if kind == ANSWERED:
            within = wait <= self._threshold_ms
            for bucket in buckets:
                bucket.answered += sign
                bucket.wait_ms_sum += sign * wait
                if within:
                    bucket.answered_within_threshold += sign
            if sign > 0:
                buckets[0].waits.append(wait)
                for bucket in buckets:
                    bucket.wait_ms_max = max(bucket.wait_ms_max, wait)
            else:
                self._retract_wait(part.ts_ms, wait, buckets)
        elif kind == ABANDONED:
            within = wait <= self._threshold_ms
            for bucket in buckets:
                bucket.abandoned += sign
                if within:
                    bucket.abandoned_within_threshold += sign
        elif kind == SHORT_ABANDONED:
            for bucket in buckets:
                bucket.short_abandoned += sign
        else:
            assert kind == FLOWED_OUT
            for bucket in buckets:
                bucket.flowed_out += sign

    def _retract_wait(
        self, ts_ms: int, wait: int, buckets: tuple[MinuteBucket, QueueStats, QueueStats]
    ) -> None:
        minute, interval, day = buckets
        minute.waits.remove(wait)
        if wait == minute.wait_ms_max:
            minute.wait_ms_max = max(minute.waits, default=0)
        if wait == interval.wait_ms_max:
            start = self.calendar.interval_start(ts_ms, self._interval_min)
            first = start // MINUTE_MS
            interval.wait_ms_max = max(
                (
                    self.minutes[m].wait_ms_max
                    for m in range(first, first + self._interval_min)
                    if m in self.minutes
                ),
                default=0,
            )
        if wait == day.wait_ms_max:
            day_start = self.calendar.day_start(ts_ms)
            day_end = self.calendar.day_end(day_start)
            day.wait_ms_max = max(
                (b.wait_ms_max for s, b in self.intervals.items() if day_start <= s < day_end),
                default=0,
            )

    def _handle(self, part: Handle, sign: int) -> None:
        for bucket in self._buckets(part.ts_ms):
            bucket.handled += sign
            bucket.talk_ms += sign * part.talk_ms
            bucket.hold_ms += sign * part.hold_ms
            bucket.acw_ms += sign * part.acw_ms
            bucket.consult_ms += sign * part.consult_ms

    # -- housekeeping -------------------------------------------------------------------------

    @property
    def horizon_ms(self) -> int:
        """Event times before this are past the lateness horizon."""
        return self.watermark_ms - self._horizon_ms

    def expire(self, now_ms: int) -> None:
        """Forget what can no longer change or be shown: finished legs and old buckets.

        ``now_ms`` is the clock (rolling windows are kept relative to it). Interval records
        must be drained (:meth:`drain_records`) before their buckets are dropped; this method
        keeps every interval that has not yet been handed out as final.
        """
        horizon = self.horizon_ms
        stale = self.watermark_ms - max(self._horizon_ms, self._orphan_ms)
        legs = self.legs
        touched = self._touched
        while touched and touched[0][0] < horizon:
            _, contact_id = touched.popleft()
            leg = legs.get(contact_id)
            if leg is None:
                continue
            if leg.newest_ms >= horizon:
                touched.append((leg.newest_ms, contact_id))  # still fresh: look again later
            else:
                self._lingering.add(contact_id)
        for contact_id in list(self._lingering):
            leg = legs.get(contact_id)
            if leg is None:
                self._lingering.discard(contact_id)
            elif leg.newest_ms >= horizon:  # touched again: back in the eviction queue
                self._lingering.discard(contact_id)
                touched.append((leg.newest_ms, contact_id))
            elif leg.is_complete() or leg.newest_ms < stale:
                if not leg.is_complete():
                    self.counts["evicted_incomplete"] += 1
                del legs[contact_id]
                self.waiting.pop(contact_id, None)
                self._lingering.discard(contact_id)
        keep_minutes_from = min(now_ms - self._rolling_ms - MINUTE_MS, horizon - self._interval_ms)
        old_minutes = [m for m in self.minutes if (m + 1) * MINUTE_MS <= keep_minutes_from]
        for minute in old_minutes:
            del self.minutes[minute]
        if old_minutes:
            self._bucket_cache.clear()
        current_day = self.calendar.day_start(max(now_ms, self.watermark_ms))
        for day in list(self.days):
            day_end = self.calendar.day_end(day)
            if day >= current_day or day_end > horizon:
                continue
            starts = [s for s in self.intervals if day <= s < day_end]
            if any(s in self._unfinal for s in starts):
                continue
            for start in starts:
                del self.intervals[start]
            del self.days[day]
            self._bucket_cache.clear()

    # -- outputs ------------------------------------------------------------------------------

    def interval_end(self, start_ms: int) -> int:
        return start_ms + self._interval_ms

    def record(self, start_ms: int) -> dict[str, Any]:
        """The interval record (DESIGN.md section 6) of the interval starting at ``start_ms``."""
        stats = self.intervals.get(start_ms) or QueueStats()
        end = self.interval_end(start_ms)
        return build_record(
            self.settings,
            self.calendar,
            start_ms,
            end,
            final=end <= self.horizon_ms,
            stats=stats,
        )

    def drain_records(self) -> list[dict[str, Any]]:
        """Records of intervals changed, or become final, since the last drain (oldest first)."""
        horizon = self.horizon_ms
        due = self._changed | {s for s in self._unfinal if s + self._interval_ms <= horizon}
        self._changed = set()
        out = []
        for start in sorted(due):
            record = self.record(start)
            if record["final"]:
                self._unfinal.discard(start)
            out.append(record)
        return out

    def records(self) -> list[dict[str, Any]]:
        """Current records of every retained interval with any contribution."""
        return [
            self.record(start)
            for start in sorted(self.intervals)
            if not self.intervals[start].is_empty()
        ]

    def window(self, start_ms: int, end_ms: int) -> QueueStats:
        """Stats of the minutes in ``[start_ms, end_ms)`` (minute granularity)."""
        first = start_ms // MINUTE_MS
        last = (end_ms - 1) // MINUTE_MS
        if last - first + 1 <= len(self.minutes):
            return merge(self.minutes[m] for m in range(first, last + 1) if m in self.minutes)
        return merge(b for m, b in self.minutes.items() if first <= m <= last)

    def rolling(self, now_ms: int, minutes: int) -> QueueStats:
        """The last ``minutes`` whole minutes plus the current partial minute."""
        current = now_ms // MINUTE_MS
        return self.window((current - minutes) * MINUTE_MS, (current + 1) * MINUTE_MS)

    def day(self, now_ms: int) -> QueueStats:
        """Day-to-date stats for the site day containing ``now_ms``."""
        bucket = self.days.get(self.calendar.day_start(now_ms))
        return bucket.copy() if bucket is not None else QueueStats()

    def current_interval(self, now_ms: int) -> tuple[int, QueueStats]:
        start = self.calendar.interval_start(now_ms, self._interval_min)
        bucket = self.intervals.get(start)
        return start, (bucket.copy() if bucket is not None else QueueStats())

    def live(self, now_ms: int) -> dict[str, Any]:
        """Right-now figures: waiting, longest wait and contacts at risk of the threshold."""
        oldest = min(self.waiting.values(), default=None)
        risk_ms = self.settings.risk_fraction * self._threshold_ms
        at_risk = sum(1 for q in self.waiting.values() if now_ms - q >= risk_ms)
        return {
            "waiting": len(self.waiting),
            "longest_wait_s": 0.0 if oldest is None else max(0, now_ms - oldest) / 1000,
            "oldest_queued_ms": oldest,
            "at_risk": at_risk,
        }

    def handling(self) -> dict[str, str]:
        """Agents handling a contact of this queue now: agent id → contact id."""
        out: dict[str, str] = {}
        for leg in self.legs.values():
            exit_ = leg.summary.exit
            if exit_ is None or exit_.kind != ANSWERED or leg.wrapped is not None:
                continue
            agent = leg.agent_id
            if agent is not None:
                out[agent] = leg.contact_id
        return out


def _changes_after(old: Summary, new: Summary, horizon_ms: int) -> bool:
    """True when every part that differs between ``old`` and ``new`` lies at or after the
    horizon (so no final interval changes)."""
    if old.entry_ms != new.entry_ms and (
        (old.entry_ms is not None and old.entry_ms < horizon_ms)
        or (new.entry_ms is not None and new.entry_ms < horizon_ms)
    ):
        return False
    if old.exit != new.exit and (
        (old.exit is not None and old.exit.ts_ms < horizon_ms)
        or (new.exit is not None and new.exit.ts_ms < horizon_ms)
    ):
        return False
    return not (
        old.handle != new.handle
        and (
            (old.handle is not None and old.handle.ts_ms < horizon_ms)
            or (new.handle is not None and new.handle.ts_ms < horizon_ms)
        )
    )


__all__ = [
    "ACCEPTED",
    "DUPLICATE",
    "EMPTY_SUMMARY",
    "MinuteBucket",
    "Outcome",
    "QueueState",
]
