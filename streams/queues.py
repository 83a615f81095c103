"""One queue's state: its contact legs, its minute / interval / day buckets, who is waiting.

:class:`QueueState` folds the contact events of one queue (they all share a Kafka partition,
keyed by queue). Each accepted event changes one leg's facts; the change of the leg's parts
(see :mod:`streams.contacts`) is applied to one bucket, the epoch *minute* of the part. Every
real UTC offset is whole minutes, so minutes compose everything else:

- rolling windows are sums of minutes (minutes are kept for the longest rolling window and
  for every interval that can still change);
- a fixed *interval* aligned to the site's time zone (15/30/60 min) is the sum of its
  minutes, and becomes an interval record of DESIGN.md section 6. Once handed out as final it
  is added to its site *day* (from the configured reset time, a whole number of intervals),
  so day-to-date = the day's final intervals + its open ones.

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
from collections.abc import Iterable, Mapping
from typing import Any, Final

from streams.calendar import MINUTE_MS, SiteCalendar
from streams.contacts import (
    ABANDONED,
    ANSWERED,
    EMPTY_SUMMARY,
    FLOWED_OUT,
    QUEUE_FACTS,
    REPEATED,
    SHORT_ABANDONED,
    Exit,
    Handle,
    Leg,
    Summary,
    handle_part,
    queue_parts,
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
        self.open_intervals: set[int] = set()
        """Starts of intervals with contributions not yet handed out as final; an interval's
        stats are the sum of its minutes."""
        self.day_final: dict[int, QueueStats] = {}
        """Per site day (by start): the sum of its intervals already handed out as final."""
        self._orphan_due: list[tuple[int, str]] = []
        self._touched: deque[tuple[int, str]] = deque()
        """(event time, contact) once per leg, in creation order; re-queued while the leg is
        still fresh, so each leg has exactly one entry and eviction costs O(1) per leg."""
        self._lingering: set[str] = set()
        """Legs past the horizon that are not complete yet (long calls, missing events)."""
        self._changed: set[int] = set()
        self._final_until = -(2**62)
        """End of the latest interval handed out as final."""
        self._bucket_cache: dict[int, tuple[MinuteBucket, int]] = {}
        """minute → (its bucket, its interval's start); cleared whenever a minute is dropped."""
        self.changed_legs: set[str] | None = None
        """When a set (the workers make it one), every contact whose facts changed or whose
        leg was forgotten is added, so the owner can persist exactly those legs."""
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
            known = self.legs.get(event.contact_id)
            if known is not None and known.contains(event):  # a replayed event, not a late one
                self.counts[DUPLICATE] += 1
                return DUPLICATE
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
        token = leg.merge(event)
        if token.__class__ is tuple:
            if self.changed_legs is not None:
                self.changed_legs.add(contact_id)
            old = leg.summary
            kind = event.type
            if kind in QUEUE_FACTS:
                entry, exit_ = queue_parts(leg, self._short_ms, self._orphan_ms, self.watermark_ms)
                new: Summary = (entry, exit_, old[2])
            elif kind == "contact.answered":
                entry, exit_ = queue_parts(leg, self._short_ms, self._orphan_ms, self.watermark_ms)
                new = (entry, exit_, handle_part(leg))
            elif leg.wrapped is not None:  # any other fact matters once the leg is wrapped
                new = (old[0], old[1], handle_part(leg))
            else:
                new = old
            if new != old:
                # every part lies at or after the leg's oldest fact: usually nothing to check
                if leg.oldest_ms < horizon and not _changes_after(old, new, horizon):
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
        elif token is REPEATED:
            self.counts[DUPLICATE] += 1
            # a replayed event still moves event time, as it did the first time: state
            # restored after a crash must see the same watermark at every event as before
            self.advance_watermark(ts)
            return DUPLICATE
        if ts > leg.newest_ms:
            leg.newest_ms = ts
        if ts < leg.oldest_ms:
            leg.oldest_ms = ts
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
            entry, exit_ = queue_parts(leg, self._short_ms, self._orphan_ms, ts_ms)
            new: Summary = (entry, exit_, leg.summary[2])
            self.counts["orphaned"] += 1
            self._replace(leg, leg.summary, new)

    def _replace(self, leg: Leg, old: Summary, new: Summary) -> None:
        old_entry, old_exit, old_handle = old
        new_entry, new_exit, new_handle = new
        if old_entry != new_entry:
            if old_entry is not None:
                self._entry(old_entry, -1)
            if new_entry is not None:
                self._entry(new_entry, 1)
        if old_exit != new_exit:
            if old_exit is not None:
                self._exit(old_exit, -1)
            if new_exit is not None:
                self._exit(new_exit, 1)
        if old_handle != new_handle:
            if old_handle is not None:
                self._handle(old_handle, -1)
            if new_handle is not None:
                self._handle(new_handle, 1)
        leg.summary = new
        contact_id = leg.contact_id
        if new_exit is None and leg.queued is not None:
            queued_ms = leg.queued[0]
            if self.waiting.get(contact_id) != queued_ms:
                self.waiting[contact_id] = queued_ms
                heapq.heappush(self._orphan_due, (queued_ms + self._orphan_ms, contact_id))
        else:
            self.waiting.pop(contact_id, None)

    # -- buckets ------------------------------------------------------------------------------

    def _bucket(self, ts_ms: int) -> MinuteBucket:
        """The minute bucket of ``ts_ms``; marks its interval changed."""
        minute = ts_ms // MINUTE_MS
        cached = self._bucket_cache.get(minute)
        if cached is not None:
            self._changed.add(cached[1])
            return cached[0]
        bucket = self.minutes.get(minute)
        if bucket is None:
            bucket = self.minutes[minute] = MinuteBucket()
        start = self.calendar.interval_start(ts_ms, self._interval_min)
        if start not in self.open_intervals:
            # never reopen an interval handed out as final: the lateness rules forbid it
            assert start + self._interval_ms > self._final_until, (self.name, start)
            self.open_intervals.add(start)
        self._changed.add(start)
        self._bucket_cache[minute] = (bucket, start)
        return bucket

    def _entry(self, ts_ms: int, sign: int) -> None:
        self._bucket(ts_ms).offered += sign

    def _exit(self, part: Exit, sign: int) -> None:
        ts, kind, wait = part
        bucket = self._bucket(ts)
        if kind == ANSWERED:
            bucket.answered += sign
            bucket.wait_ms_sum += sign * wait
            if wait <= self._threshold_ms:
                bucket.answered_within_threshold += sign
            if sign > 0:
                bucket.waits.append(wait)
                if wait > bucket.wait_ms_max:
                    bucket.wait_ms_max = wait
            else:
                bucket.waits.remove(wait)
                if wait == bucket.wait_ms_max:
                    bucket.wait_ms_max = max(bucket.waits, default=0)
        elif kind == ABANDONED:
            bucket.abandoned += sign
            bucket.wait_abandoned_ms_sum += sign * wait
            if wait <= self._threshold_ms:
                bucket.abandoned_within_threshold += sign
        elif kind == SHORT_ABANDONED:
            bucket.short_abandoned += sign
        else:
            assert kind == FLOWED_OUT
            bucket.flowed_out += sign

    def _handle(self, part: Handle, sign: int) -> None:
        ts, talk, hold, acw, consult = part
        bucket = self._bucket(ts)
        bucket.handled += sign
        bucket.talk_ms += sign * talk
        bucket.hold_ms += sign * hold
        bucket.acw_ms += sign * acw
        bucket.consult_ms += sign * consult

    # -- housekeeping -------------------------------------------------------------------------

    @property
    def horizon_ms(self) -> int:
        """Event times before this are past the lateness horizon."""
        return self.watermark_ms - self._horizon_ms

    def expire(self, now_ms: int) -> None:
        """Forget what can no longer change or be shown: finished legs and old buckets.

        ``now_ms`` is the clock (rolling windows are kept relative to it). Intervals leave
        only through :meth:`drain_records`, once handed out as final.
        """
        horizon = self.horizon_ms
        stale = self.watermark_ms - max(self._horizon_ms, self._orphan_ms)
        legs = self.legs
        touched = self._touched
        lingering = self._lingering
        for contact_id in list(lingering):  # legs past the horizon that were not complete
            leg = legs.get(contact_id)
            if leg is None or leg.newest_ms >= horizon:
                lingering.discard(contact_id)
                if leg is not None:  # touched again: back in the eviction queue
                    touched.append((leg.newest_ms, contact_id))
            elif self._evictable(leg, stale):
                self._forget(contact_id)
                lingering.discard(contact_id)
        while touched and touched[0][0] < horizon:
            _, contact_id = touched.popleft()
            leg = legs.get(contact_id)
            if leg is None:
                continue
            if leg.newest_ms >= horizon:
                touched.append((leg.newest_ms, contact_id))  # still fresh: look again later
            elif self._evictable(leg, stale):
                self._forget(contact_id)
            else:
                lingering.add(contact_id)
        # keep the rolling windows, and every minute of an interval not yet handed out
        keep_minutes_from = min(
            now_ms - self._rolling_ms - MINUTE_MS,
            horizon - self._interval_ms,
            min(self.open_intervals, default=horizon),
        )
        old_minutes = [m for m in self.minutes if (m + 1) * MINUTE_MS <= keep_minutes_from]
        for minute in old_minutes:
            del self.minutes[minute]
        if old_minutes:
            self._bucket_cache.clear()
        today = self.calendar.day_start(max(now_ms, self.watermark_ms))
        for day in [d for d in self.day_final if d < today]:
            if self.calendar.day_end(day) <= horizon:
                del self.day_final[day]

    def _forget(self, contact_id: str) -> None:
        del self.legs[contact_id]
        if self.changed_legs is not None:
            self.changed_legs.add(contact_id)

    def _evictable(self, leg: Leg, stale_ms: int) -> bool:
        """A leg past the horizon can go once complete, or once silent for too long, and
        only once every part it contributed lies in an interval handed out as final (so
        the open intervals can always be rebuilt from the legs still held, see
        :meth:`restore`)."""
        if not _parts_before(leg.summary, self._final_until):
            return False
        if leg.is_complete():
            return True
        if leg.newest_ms < stale_ms:
            self.counts["evicted_incomplete"] += 1
            self.waiting.pop(leg.contact_id, None)
            return True
        return False

    # -- persistence --------------------------------------------------------------------------

    def meta_state(self) -> dict[str, Any]:
        """Everything of the queue's state that is not in its legs (JSON-able).

        With :meth:`Leg.to_state` of every leg held, it is the whole state: the open
        intervals are rebuilt from the legs, the final ones are in their day totals.
        """
        return {
            "watermark_ms": self.watermark_ms,
            "final_until_ms": self._final_until,
            "day_final": [[day, list(stats.as_tuple())] for day, stats in self.day_final.items()],
        }

    def restore(self, meta: Mapping[str, Any], legs: Iterable[tuple[str, list[Any]]]) -> None:
        """Rebuild a fresh queue from :meth:`meta_state` and the legs' states.

        Each leg's parts in intervals not yet final go back into the minute buckets; parts
        in final intervals are already in the day totals (and can no longer change).
        """
        assert not self.legs and not self.minutes, "restore() needs a fresh QueueState"
        self.watermark_ms = meta["watermark_ms"]
        self._final_until = final_until = meta["final_until_ms"]
        self.day_final = {day: QueueStats.from_tuple(values) for day, values in meta["day_final"]}
        restored = [Leg.from_state(contact_id, state) for contact_id, state in legs]
        restored.sort(key=lambda leg: leg.newest_ms)
        for leg in restored:
            contact_id = leg.contact_id
            self.legs[contact_id] = leg
            self._touched.append((leg.newest_ms, contact_id))
            summary = summarize(
                leg, self._threshold_ms, self._short_ms, self._orphan_ms, self.watermark_ms
            )
            entry, exit_, handle = summary
            open_parts: Summary = (
                entry if entry is not None and entry >= final_until else None,
                exit_ if exit_ is not None and exit_[0] >= final_until else None,
                handle if handle is not None and handle[0] >= final_until else None,
            )
            self._replace(leg, EMPTY_SUMMARY, open_parts)
            leg.summary = summary
            if exit_ is not None:
                self.waiting.pop(contact_id, None)

    # -- outputs ------------------------------------------------------------------------------

    def interval_end(self, start_ms: int) -> int:
        return start_ms + self._interval_ms

    def record(self, start_ms: int) -> dict[str, Any]:
        """The interval record (DESIGN.md section 6) of the interval starting at ``start_ms``."""
        stats = self.interval_stats(start_ms)
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
        """Records of intervals changed, or become final, since the last drain (oldest first).

        An interval handed out as final is added to its day and forgotten.
        """
        horizon = self.horizon_ms
        due = self._changed | {s for s in self.open_intervals if s + self._interval_ms <= horizon}
        self._changed = set()
        out = []
        for start in sorted(due):
            stats = self.interval_stats(start)
            end = self.interval_end(start)
            final = end <= horizon
            out.append(
                build_record(self.settings, self.calendar, start, end, final=final, stats=stats)
            )
            if final:
                self._finalize(start, stats)
        return out

    def _finalize(self, start_ms: int, stats: QueueStats) -> None:
        self.open_intervals.discard(start_ms)
        self._final_until = max(self._final_until, start_ms + self._interval_ms)
        day = self.calendar.day_start(start_ms)
        total = self.day_final.get(day)
        if total is None:
            total = self.day_final[day] = QueueStats()
        total.add(stats)

    def records(self) -> list[dict[str, Any]]:
        """Current records of every open interval with any contribution (after a drain, the
        final ones are gone: they were handed out)."""
        out = []
        for start in sorted(self.open_intervals):
            record = self.record(start)
            if not self.interval_stats(start).is_empty():
                out.append(record)
        return out

    def interval_stats(self, start_ms: int) -> QueueStats:
        """Stats of the (open) interval starting at ``start_ms``: the sum of its minutes."""
        return self.window(start_ms, start_ms + self._interval_ms)

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
        day = self.calendar.day_start(now_ms)
        day_end = self.calendar.day_end(day)
        total = QueueStats()
        final = self.day_final.get(day)
        if final is not None:
            total.add(final)
        for start in self.open_intervals:
            if day <= start < day_end:
                total.add(self.interval_stats(start))
        return total

    def current_interval(self, now_ms: int) -> tuple[int, QueueStats]:
        start = self.calendar.interval_start(now_ms, self._interval_min)
        return start, self.interval_stats(start)

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
            exit_ = leg.summary[1]
            if exit_ is None or exit_[1] != ANSWERED or leg.wrapped is not None:
                continue
            agent = leg.agent_id
            if agent is not None:
                out[agent] = leg.contact_id
        return out


def _parts_before(summary: Summary, end_ms: int) -> bool:
    entry, exit_, handle = summary
    return (
        (entry is None or entry < end_ms)
        and (exit_ is None or exit_[0] < end_ms)
        and (handle is None or handle[0] < end_ms)
    )


def _changes_after(old: Summary, new: Summary, horizon_ms: int) -> bool:
    """True when every part that differs between ``old`` and ``new`` lies at or after the
    horizon (so no final interval changes)."""
    old_entry, new_entry = old[0], new[0]
    if old_entry != new_entry and (
        (old_entry is not None and old_entry < horizon_ms)
        or (new_entry is not None and new_entry < horizon_ms)
    ):
        return False
    for before, after in ((old[1], new[1]), (old[2], new[2])):
        if before != after and (
            (before is not None and before[0] < horizon_ms)
            or (after is not None and after[0] < horizon_ms)
        ):
            return False
    return True


__all__ = [
    "ACCEPTED",
    "DUPLICATE",
    "EMPTY_SUMMARY",
    "MinuteBucket",
    "Outcome",
    "QueueState",
]
