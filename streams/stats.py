"""Additive queue statistics and the metrics derived from them.

:class:`QueueStats` holds the counts and sums of one bucket (a minute, an interval, a day or
any merge of those). Sums are integer milliseconds inside the core, so adding and removing a
contact's contribution is exact and merging buckets equals computing on the raw events. The
exported form (:func:`metrics`) uses seconds, as the interval record of DESIGN.md section 6.

``wait_abandoned_ms_sum`` (the waits of abandoned contacts, short abandons excluded) is not
part of the interval record: it exists for the customer patience of live staffing
(:mod:`streams.staffing`) and is shown in the queue views' windows only. Records and views
written before it existed read as 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from streams.service_level import service_levels

COUNT_FIELDS: tuple[str, ...] = (
    "offered",
    "answered",
    "answered_within_threshold",
    "abandoned",
    "short_abandoned",
    "abandoned_within_threshold",
    "flowed_out",
    "handled",
)
"""Counts of the interval record, in record order (``handled`` is placed later there)."""

MS_SUM_FIELDS: tuple[tuple[str, str], ...] = (
    ("wait_ms_sum", "wait_answered_s_sum"),
    ("talk_ms", "talk_s_sum"),
    ("hold_ms", "hold_s_sum"),
    ("acw_ms", "acw_s_sum"),
    ("consult_ms", "consult_s_sum"),
)
"""Internal millisecond sums and the record's seconds field for each."""

EXTRA_MS_SUM_FIELDS: tuple[tuple[str, str], ...] = (
    ("wait_abandoned_ms_sum", "wait_abandoned_s_sum"),
)
"""Sums shown in queue views but not in the interval record (absent: 0)."""


class QueueStats:
    """Counts and millisecond sums of one bucket. Mutable; copy before sharing."""

    __slots__ = (
        "abandoned",
        "abandoned_within_threshold",
        "acw_ms",
        "answered",
        "answered_within_threshold",
        "consult_ms",
        "flowed_out",
        "handled",
        "hold_ms",
        "offered",
        "short_abandoned",
        "talk_ms",
        "wait_abandoned_ms_sum",
        "wait_ms_max",
        "wait_ms_sum",
    )

    def __init__(self) -> None:
        self.offered = 0
        self.answered = 0
        self.answered_within_threshold = 0
        self.abandoned = 0
        self.short_abandoned = 0
        self.abandoned_within_threshold = 0
        self.flowed_out = 0
        self.wait_ms_sum = 0
        self.wait_ms_max = 0
        self.wait_abandoned_ms_sum = 0
        self.handled = 0
        self.talk_ms = 0
        self.hold_ms = 0
        self.acw_ms = 0
        self.consult_ms = 0

    def add(self, other: QueueStats) -> None:
        """Add ``other`` into this bucket (max for the longest wait)."""
        self.offered += other.offered
        self.answered += other.answered
        self.answered_within_threshold += other.answered_within_threshold
        self.abandoned += other.abandoned
        self.short_abandoned += other.short_abandoned
        self.abandoned_within_threshold += other.abandoned_within_threshold
        self.flowed_out += other.flowed_out
        self.wait_ms_sum += other.wait_ms_sum
        self.wait_ms_max = max(self.wait_ms_max, other.wait_ms_max)
        self.wait_abandoned_ms_sum += other.wait_abandoned_ms_sum
        self.handled += other.handled
        self.talk_ms += other.talk_ms
        self.hold_ms += other.hold_ms
        self.acw_ms += other.acw_ms
        self.consult_ms += other.consult_ms

    def copy(self) -> QueueStats:
        twin = QueueStats()
        twin.add(self)
        return twin

    def is_empty(self) -> bool:
        return not (
            self.offered
            or self.answered
            or self.abandoned
            or self.short_abandoned
            or self.flowed_out
            or self.handled
        )

    def as_tuple(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in _TUPLE_FIELDS)

    @classmethod
    def from_tuple(cls, values: Iterable[int]) -> QueueStats:
        """Inverse of :meth:`as_tuple` (exact; used to persist state). A tuple persisted
        before the fields added later at its end were known leaves them 0."""
        stats = cls()
        values = list(values)
        if len(values) not in (len(_LEGACY_TUPLE_FIELDS), len(_TUPLE_FIELDS)):
            raise ValueError(f"expected {len(_TUPLE_FIELDS)} values, got {len(values)}")
        for name, value in zip(_TUPLE_FIELDS, values, strict=False):
            setattr(stats, name, value)
        return stats

    def __eq__(self, other: object) -> bool:
        return isinstance(other, QueueStats) and self.as_tuple() == other.as_tuple()

    def __hash__(self) -> int:  # mutable: hash by identity would lie, so forbid it
        raise TypeError("QueueStats is mutable and unhashable")

    def __repr__(self) -> str:
        parts = ", ".join(f"{name}={getattr(self, name)}" for name in sorted(self.__slots__))
        return f"QueueStats({parts})"

    def to_counts(self) -> dict[str, int | float]:
        """The additive part of the interval record (counts, seconds sums, max wait), plus
        :data:`EXTRA_MS_SUM_FIELDS` (the record leaves those out)."""
        return {
            "offered": self.offered,
            "answered": self.answered,
            "answered_within_threshold": self.answered_within_threshold,
            "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned,
            "abandoned_within_threshold": self.abandoned_within_threshold,
            "flowed_out": self.flowed_out,
            "wait_answered_s_sum": self.wait_ms_sum / 1000,
            "wait_answered_s_max": self.wait_ms_max / 1000,
            "wait_abandoned_s_sum": self.wait_abandoned_ms_sum / 1000,
            "handled": self.handled,
            "talk_s_sum": self.talk_ms / 1000,
            "hold_s_sum": self.hold_ms / 1000,
            "acw_s_sum": self.acw_ms / 1000,
            "consult_s_sum": self.consult_ms / 1000,
        }

    @classmethod
    def from_counts(cls, record: Mapping[str, Any]) -> QueueStats:
        """Inverse of :meth:`to_counts` (exact: record sums are whole milliseconds)."""
        stats = cls()
        for name in COUNT_FIELDS:
            setattr(stats, name, int(record[name]))
        for internal, exported in MS_SUM_FIELDS:
            setattr(stats, internal, round(float(record[exported]) * 1000))
        stats.wait_ms_max = round(float(record["wait_answered_s_max"]) * 1000)
        for internal, exported in EXTRA_MS_SUM_FIELDS:
            setattr(stats, internal, round(float(record.get(exported, 0)) * 1000))
        return stats


_TUPLE_FIELDS: tuple[str, ...] = (
    *sorted(set(QueueStats.__slots__) - {"wait_abandoned_ms_sum"}),
    "wait_abandoned_ms_sum",
)
"""Order of :meth:`QueueStats.as_tuple`: the fields persisted from the start sorted by name,
then the fields added since, so state persisted by an older version still restores."""
_LEGACY_TUPLE_FIELDS: tuple[str, ...] = _TUPLE_FIELDS[:-1]


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or ``None`` ("no data") for an empty denominator."""
    return numerator / denominator if denominator > 0 else None


def metrics(
    stats: QueueStats, definitions: Iterable[str], include_flowouts: bool
) -> dict[str, Any]:
    """The record's counts plus every derived metric: service levels, ASA, AHT, abandon rate."""
    out: dict[str, Any] = stats.to_counts()
    out["service_level"] = service_levels(
        definitions,
        answered=stats.answered,
        answered_within_threshold=stats.answered_within_threshold,
        abandoned=stats.abandoned,
        abandoned_within_threshold=stats.abandoned_within_threshold,
        flowed_out=stats.flowed_out,
        include_flowouts=include_flowouts,
    )
    out["asa_s"] = ratio(stats.wait_ms_sum / 1000, stats.answered)
    out["aht_s"] = ratio((stats.talk_ms + stats.hold_ms + stats.acw_ms) / 1000, stats.handled)
    out["abandon_rate"] = ratio(stats.abandoned, stats.offered)
    return out


def merge(buckets: Iterable[QueueStats]) -> QueueStats:
    """Sum of buckets: counts and sums add, the longest wait is the maximum."""
    total = QueueStats()
    for bucket in buckets:
        total.add(bucket)
    return total
