"""Site calendars: intervals and days aligned to a site's local time, correct across DST.

All times are integer epoch milliseconds. A fixed interval starts on a local wall-clock
boundary (00:00, 00:15, …) of the site's time zone; on a fall-back day the repeated local hour
gives distinct intervals (01:00+01:00 and 01:00+00:00), on a spring-forward day the skipped
hour gives none. Every real time zone offset is a whole number of minutes, so epoch minutes
are the common atom of intervals, rolling windows and days.

Assumption: DST transitions fall on an interval boundary of the site (true for every zone
with whole-hour transitions and 15/30/60-minute intervals, e.g. Europe/London).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MINUTE_MS = 60_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_CACHE_LIMIT = 200_000


def to_epoch_ms(moment: datetime) -> int:
    """Exact epoch milliseconds of an aware datetime (floor of sub-millisecond parts)."""
    return (moment - _EPOCH) // _MS


def from_epoch_ms(ts_ms: int) -> datetime:
    """The UTC datetime of epoch milliseconds, exactly."""
    return _EPOCH + timedelta(milliseconds=ts_ms)


class SiteCalendar:
    """Interval and day arithmetic for one site's time zone and day-reset time."""

    __slots__ = ("_day", "_offsets", "_starts", "day_reset_min", "timezone", "tz")

    def __init__(self, timezone: str = "UTC", day_reset_min: int = 0) -> None:
        self.timezone = timezone
        self.tz = ZoneInfo(timezone)
        self.day_reset_min = day_reset_min
        self._offsets: dict[int, int] = {}
        self._starts: dict[tuple[int, int], int] = {}
        self._day: tuple[int, int] = (1, 0)  # [start, end) of the last day looked up

    def utc_offset_ms(self, ts_ms: int) -> int:
        """The site's UTC offset in force at ``ts_ms``."""
        minute = ts_ms // MINUTE_MS
        offset = self._offsets.get(minute)
        if offset is None:
            if len(self._offsets) > _CACHE_LIMIT:
                self._offsets.clear()
            moment = datetime.fromtimestamp(minute * 60, self.tz)
            delta = moment.utcoffset()
            offset = 0 if delta is None else delta // _MS
            self._offsets[minute] = offset
        return offset

    def interval_start(self, ts_ms: int, length_min: int) -> int:
        """Start of the fixed interval of ``length_min`` minutes that contains ``ts_ms``."""
        key = (ts_ms // MINUTE_MS, length_min)
        start = self._starts.get(key)
        if start is None:
            if len(self._starts) > _CACHE_LIMIT:
                self._starts.clear()
            offset = self.utc_offset_ms(ts_ms)
            local = key[0] * MINUTE_MS + offset
            length_ms = length_min * MINUTE_MS
            start = local - local % length_ms - offset
            self._starts[key] = start
        return start

    def day_start(self, ts_ms: int) -> int:
        """Start of the site day (from the reset time) that contains ``ts_ms``."""
        start, end = self._day
        if start <= ts_ms < end:
            return start
        day = from_epoch_ms(ts_ms).astimezone(self.tz).date()
        start = self._reset_on(day)
        if start > ts_ms:
            day -= timedelta(days=1)
            start = self._reset_on(day)
        end = self._reset_on(day + timedelta(days=1))
        while end <= ts_ms:  # a reset time inside a DST gap can shift by an hour
            day += timedelta(days=1)
            start, end = end, self._reset_on(day + timedelta(days=1))
        self._day = (start, end)
        return start

    def day_end(self, day_start_ms: int) -> int:
        """Start of the next site day after the day starting at ``day_start_ms``."""
        self.day_start(day_start_ms)
        return self._day[1]

    def _reset_on(self, day: date) -> int:
        hours, minutes = divmod(self.day_reset_min, 60)
        local = datetime.combine(day, time(hours, minutes), tzinfo=self.tz)
        return to_epoch_ms(local)

    def isoformat(self, ts_ms: int) -> str:
        """ISO-8601 with the site's offset in force at that instant, e.g. ``…T01:00:00+01:00``."""
        moment = from_epoch_ms(ts_ms).astimezone(self.tz)
        return moment.isoformat(timespec="seconds" if ts_ms % 1000 == 0 else "milliseconds")
