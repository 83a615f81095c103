"""Forecast against actual: the contacts and AHT planned per queue and interval, live.

A :class:`Forecast` holds, per queue and interval start (epoch ms, the start of one of the
queue's fixed intervals in its site's time zone), the contacts expected in the whole
interval and their AHT. The configuration loader (``config/forecasts.py``) builds it from a
CSV file and / or inline YAML; the core never reads files.

:func:`compare` sets the current interval of a queue against its forecast at ``now_ms``:

- ``elapsed_ratio`` = (now − interval start) / interval length, clamped to [0, 1];
- ``contacts_to_date`` = forecast contacts × ``elapsed_ratio`` (arrivals spread evenly over
  the interval: the forecast has no finer grain);
- ``volume_deviation`` = actual contacts / ``contacts_to_date`` − 1 (a ratio: +0.25 is
  25 % above forecast); actual contacts = the interval's ``offered``; null while
  ``contacts_to_date`` is 0;
- ``aht_deviation`` = actual AHT / forecast AHT − 1, actual AHT = the interval's AHT
  (talk + hold + ACW of the contacts handled in it / handled); null with nothing handled;
- ``traffic_erlangs`` = forecast contacts × forecast AHT / interval length; the agents it
  requires and the gap to the staffed agents are added by :mod:`streams.staffing`.

Early in an interval the volume deviation rests on few contacts and swings widely; it
settles as the interval fills.

:func:`group_compare` adds queues up: Σ contacts, Σ to date, Σ actual; the forecast AHT is
weighted by forecast contacts, the actual one is Σ handle time / Σ handled, traffic adds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class ForecastInterval:
    """Contacts expected in one interval of one queue, and their AHT."""

    queue: str
    start_ms: int
    contacts: float
    aht_s: float


@dataclass(frozen=True)
class Forecast:
    """Forecast intervals by (queue, interval start ms). Empty: no forecast at all."""

    intervals: Mapping[tuple[str, int], ForecastInterval] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @classmethod
    def of(cls, items: Iterable[ForecastInterval]) -> Forecast:
        """A forecast of ``items``; raises ValueError when a queue's interval is given twice."""
        found: dict[tuple[str, int], ForecastInterval] = {}
        for item in items:
            key = (item.queue, item.start_ms)
            if key in found:
                raise ValueError(f"queue {item.queue!r} has two forecasts for {item.start_ms}")
            found[key] = item
        return cls(MappingProxyType(found))

    def get(self, queue: str, start_ms: int) -> ForecastInterval | None:
        return self.intervals.get((queue, start_ms))

    def __len__(self) -> int:
        return len(self.intervals)


def compare(
    planned: ForecastInterval,
    interval: Mapping[str, Any],
    *,
    now_ms: int,
) -> dict[str, Any]:
    """The forecast block of one queue (see the module): ``interval`` is the queue view's
    current-interval window (counts, ``start_ms``, ``end_ms``)."""
    start, end = int(interval["start_ms"]), int(interval["end_ms"])
    length_s = (end - start) / 1000
    elapsed = min(1.0, max(0.0, (now_ms - start) / (end - start)))
    to_date = planned.contacts * elapsed
    actual = int(interval["offered"])
    handled = int(interval["handled"])
    handle_s = _handle_s(interval)
    actual_aht = handle_s / handled if handled > 0 else None
    return {
        "interval_start_ms": start,
        "interval_end_ms": end,
        "contacts": planned.contacts,
        "aht_s": planned.aht_s,
        "elapsed_ratio": elapsed,
        "contacts_to_date": to_date,
        "actual_contacts": actual,
        "volume_deviation": actual / to_date - 1 if to_date > 0 else None,
        "actual_handled": handled,
        "actual_handle_s": handle_s,
        "actual_aht_s": actual_aht,
        "aht_deviation": None if actual_aht is None else actual_aht / planned.aht_s - 1,
        "traffic_erlangs": planned.contacts * planned.aht_s / length_s,
    }


def group_compare(blocks: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The forecast of a group from its queues' forecast blocks; None when none has one."""
    items = list(blocks)
    if not items:
        return None
    contacts = sum(float(b["contacts"]) for b in items)
    to_date = sum(float(b["contacts_to_date"]) for b in items)
    actual = sum(int(b["actual_contacts"]) for b in items)
    handled = sum(int(b["actual_handled"]) for b in items)
    handle_s = sum(float(b["actual_handle_s"]) for b in items)
    planned_s = sum(float(b["contacts"]) * float(b["aht_s"]) for b in items)
    aht = planned_s / contacts if contacts > 0 else None
    actual_aht = handle_s / handled if handled > 0 else None
    return {
        "queues": len(items),
        "contacts": contacts,
        "aht_s": aht,
        "contacts_to_date": to_date,
        "actual_contacts": actual,
        "volume_deviation": actual / to_date - 1 if to_date > 0 else None,
        "actual_handled": handled,
        "actual_handle_s": handle_s,
        "actual_aht_s": actual_aht,
        "aht_deviation": None if actual_aht is None or not aht else actual_aht / aht - 1,
        "traffic_erlangs": sum(float(b["traffic_erlangs"]) for b in items),
    }


def _handle_s(counts: Mapping[str, Any]) -> float:
    return float(counts["talk_s_sum"]) + float(counts["hold_s_sum"]) + float(counts["acw_s_sum"])


__all__ = ["Forecast", "ForecastInterval", "compare", "group_compare"]
