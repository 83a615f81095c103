"""Interval records (DESIGN.md section 6): building them, and merging them into longer periods.

A record carries every count and sum needed to recompute every metric, so any longer period
(an hour, a day, a week, a group of queues) is the merge of its records, and
:func:`merge_records` gives exactly what folding the raw events over that period would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from streams.calendar import SiteCalendar
from streams.errors import RecordError
from streams.settings import QueueSettings
from streams.stats import QueueStats, metrics


def build_record(
    settings: QueueSettings,
    calendar: SiteCalendar,
    start_ms: int,
    end_ms: int,
    *,
    final: bool,
    stats: QueueStats,
) -> dict[str, Any]:
    """An interval record with exactly the fields of DESIGN.md section 6."""
    record: dict[str, Any] = {
        "queue": settings.name,
        "site": settings.site,
        "client": settings.client,
        "interval_start": calendar.isoformat(start_ms),
        "interval_end": calendar.isoformat(end_ms),
        "final": final,
    }
    record.update(metrics(stats, settings.definitions, settings.include_flowouts))
    record["threshold_s"] = settings.threshold_s
    record["short_abandon_s"] = settings.short_abandon_s
    return _in_record_order(record)


RECORD_FIELDS: Final = (
    "queue",
    "site",
    "client",
    "interval_start",
    "interval_end",
    "final",
    "offered",
    "answered",
    "answered_within_threshold",
    "abandoned",
    "short_abandoned",
    "abandoned_within_threshold",
    "flowed_out",
    "wait_answered_s_sum",
    "wait_answered_s_max",
    "handled",
    "talk_s_sum",
    "hold_s_sum",
    "acw_s_sum",
    "consult_s_sum",
    "threshold_s",
    "short_abandon_s",
    "service_level",
    "asa_s",
    "aht_s",
    "abandon_rate",
)
"""The interval record's fields, in the order of DESIGN.md section 6."""


def _in_record_order(record: dict[str, Any]) -> dict[str, Any]:
    return {name: record[name] for name in RECORD_FIELDS}


def merge_records(
    records: Iterable[Mapping[str, Any]], *, include_flowouts: bool = False
) -> dict[str, Any]:
    """One record for the union of ``records`` (e.g. a day of 15-minute intervals).

    Counts and sums add, the longest wait is the maximum, and every ratio is recomputed from
    the sums — never averaged. ``queue``, ``site``, ``client``, ``threshold_s`` and
    ``short_abandon_s`` keep their value when all records share it, else become ``None``
    (a group of queues: each queue's answers were already judged against its own
    threshold). Service levels are computed for the definitions every record has.
    ``include_flowouts`` must be the flow-out rule of the queues merged.
    """
    items = list(records)
    if not items:
        raise RecordError("no interval records to merge")
    total = QueueStats()
    for item in items:
        total.add(QueueStats.from_counts(item))
    definitions = [
        name
        for name in items[0]["service_level"]
        if all(name in item["service_level"] for item in items)
    ]
    first = min(items, key=lambda r: datetime.fromisoformat(r["interval_start"]))
    last = max(items, key=lambda r: datetime.fromisoformat(r["interval_end"]))
    merged: dict[str, Any] = {
        "queue": _common(items, "queue"),
        "site": _common(items, "site"),
        "client": _common(items, "client"),
        "interval_start": first["interval_start"],
        "interval_end": last["interval_end"],
        "final": all(item["final"] for item in items),
        "threshold_s": _common(items, "threshold_s"),
        "short_abandon_s": _common(items, "short_abandon_s"),
    }
    merged.update(metrics(total, definitions, include_flowouts))
    return _in_record_order(merged)


def _common(items: list[Mapping[str, Any]], key: str) -> Any:
    values = {item[key] for item in items}
    return values.pop() if len(values) == 1 else None


def is_empty_record(record: Mapping[str, Any]) -> bool:
    """True when no contact contributed to the record (nothing offered, left or handled)."""
    return not any(
        record[name]
        for name in ("offered", "answered", "abandoned", "short_abandoned", "flowed_out", "handled")
    )
