"""The lifecycle of one contact leg in one queue, as order-independent facts.

A leg (a contact in a queue) is a set of facts: when it queued, when it was answered and by
whom, when it was abandoned, flowed out, held, resumed, ended, wrapped… Each event adds one
fact. Single facts keep the earliest event (by time, then event id); repeated facts (holds,
consults, offers) keep every distinct event. Adding a fact is therefore commutative,
associative and idempotent: whatever order a leg's events arrive in, and however often, the
facts end up the same.

Everything a leg contributes to the queue's buckets is a pure function of its facts
(:func:`summarize`), split in three *parts*, each placed at one time as the attribution rules
of DESIGN.md section 3 demand:

- ``entry``: offered, at the time the contact entered the queue (short abandons excluded);
- ``exit``: answered / abandoned / short-abandoned / flowed-out with the wait, at the time it
  left the queue;
- ``handle``: handled with talk, hold, ACW and consult time, at the time ACW finished.

When a fact changes a part, the queue removes the old part and adds the new one, so the
buckets always equal the sum over legs of their current parts, in any arrival order.

Conflicts are resolved by rule, never by arrival order: the leg's outcome is the earliest of
answered / abandoned / flowed out (ties: answered, then abandoned, then flowed out); a wait
below zero (clock skew between sources) counts as zero.
"""

from __future__ import annotations

from bisect import insort
from typing import Any, Final

from streams.events import ContactEvent

ANSWERED: Final = 0
ABANDONED: Final = 1
SHORT_ABANDONED: Final = 2
FLOWED_OUT: Final = 3


# The parts are plain tuples, not NamedTuples: they are built for most events and a named
# tuple's constructor costs several times a tuple display. Index names are below.
Exit = tuple[int, int, int]
"""How and when the contact left the queue: (ts_ms, kind, wait_ms)."""
Handle = tuple[int, int, int, int, int]
"""A completed handle (ACW finished): (ts_ms, talk_ms, hold_ms, acw_ms, consult_ms)."""
Summary = tuple[int | None, Exit | None, Handle | None]
"""Everything a leg contributes to its queue's buckets: (entry_ms, exit, handle)."""

EMPTY_SUMMARY: Final[Summary] = (None, None, None)

_NONE: Final[list[Any]] = []
"""Shared empty list of a leg with no repeated fact of a kind yet. Never mutated."""

# A single fact: (ts_ms, event_id, detail) — min() over these picks the earliest event,
# ties broken by event id, so the choice never depends on arrival order.
Fact = tuple[int, str, str | None]
Token = tuple[str, Any, bool] | str
REPEATED: Final = "repeated"
"""merge(): this very event (same id) was merged before."""
UNCHANGED: Final = "unchanged"
"""merge(): a new event whose fact loses to one already held; nothing changes."""


class Leg:
    """The facts of one contact leg. Mutated only through :meth:`merge` / :meth:`undo`."""

    __slots__ = (
        "abandoned",
        "answered",
        "consult_ends",
        "consults",
        "contact_id",
        "ended",
        "flowed",
        "holds",
        "misses",
        "newest_ms",
        "offers",
        "oldest_ms",
        "outvoted",
        "queued",
        "resumes",
        "summary",
        "transferred",
        "wrapped",
    )

    def __init__(self, contact_id: str) -> None:
        self.contact_id = contact_id
        self.outvoted: tuple[str, ...] = ()
        """Ids of single-fact events that lost to an earlier event of the same type (rare):
        with the facts themselves they make every accepted event id known, for dedupe."""
        self.queued: Fact | None = None
        self.answered: Fact | None = None
        self.abandoned: Fact | None = None
        self.flowed: Fact | None = None
        self.ended: Fact | None = None
        self.wrapped: Fact | None = None
        self.transferred: Fact | None = None
        # repeated facts are rare: the lists are created on first use
        self.holds: list[tuple[int, str]] = _NONE
        self.resumes: list[tuple[int, str]] = _NONE
        self.consults: list[tuple[int, str]] = _NONE
        self.consult_ends: list[tuple[int, str]] = _NONE
        self.offers: list[tuple[int, str, str]] = _NONE
        self.misses: list[tuple[int, str, str]] = _NONE
        self.newest_ms = -(2**62)
        self.oldest_ms = 2**62
        self.summary: Summary = EMPTY_SUMMARY

    # -- adding facts -----------------------------------------------------------------------

    def merge(self, event: ContactEvent) -> Token:
        """Add the event's fact.

        Returns an undo token, :data:`UNCHANGED` when the event is new but changes no fact
        (a later repeat of a single fact), or :data:`REPEATED` when the event itself is
        already here (same event id): that is how duplicates are recognised, without a
        separate set of ids.
        """
        attribute, detail_at, single = _FACTS[event[1]]
        event_id = event[0]
        if single:
            previous: Fact | None = getattr(self, attribute)
            if previous is None:
                # the detail fields (customer, reason, queue, agent) are all str | None
                setattr(self, attribute, (event[2], event_id, event[detail_at]))
                return (attribute, None, False)
            if previous[1] == event_id or event_id in self.outvoted:
                return REPEATED
            fact: Fact = (event[2], event_id, event[detail_at])  # type: ignore[assignment]
            if previous <= fact:
                self.outvoted += (event_id,)
                return UNCHANGED
            self.outvoted += (previous[1],)
            setattr(self, attribute, fact)
            return (attribute, previous, True)
        items: list[Any] = getattr(self, attribute)
        item: Any = (event[2], event_id, event[detail_at]) if detail_at else (event[2], event_id)
        if items is _NONE:
            items = []
            setattr(self, attribute, items)
        elif item in items:
            return REPEATED
        insort(items, item)
        return (attribute, item, False)

    def undo(self, token: tuple[str, Any, bool]) -> None:
        """Take back the fact :meth:`merge` added (used when the change would be too late)."""
        attribute, value, outvoted = token
        if attribute in _SINGLE_ATTRIBUTES:
            setattr(self, attribute, value)
            if outvoted:
                self.outvoted = self.outvoted[:-1]
        else:
            getattr(self, attribute).remove(value)

    def contains(self, event: ContactEvent) -> bool:
        """True when this very event (same id) is already merged, whatever its time."""
        token = self.merge(event)
        if token.__class__ is tuple:
            self.undo(token)
            return False
        if token is UNCHANGED:
            self.outvoted = self.outvoted[:-1]
            return False
        return token is REPEATED

    # -- persistence --------------------------------------------------------------------------

    def to_state(self) -> list[Any]:
        """The leg's facts as plain JSON-able values (see :meth:`from_state`)."""
        return [
            list(self.outvoted),
            *(getattr(self, name) for name in _STATE_SINGLES),
            *(getattr(self, name) for name in _STATE_MULTIS),
            self.newest_ms,
            self.oldest_ms,
        ]

    @classmethod
    def from_state(cls, contact_id: str, state: list[Any]) -> Leg:
        """A leg with the facts of :meth:`to_state` (lists back to tuples); ``summary`` is
        left empty for the owner to compute."""
        leg = cls(contact_id)
        leg.outvoted = tuple(state[0])
        at = 1
        for name in _STATE_SINGLES:
            value = state[at]
            setattr(leg, name, None if value is None else tuple(value))
            at += 1
        for name in _STATE_MULTIS:
            items = state[at]
            if items:
                setattr(leg, name, [tuple(item) for item in items])
            at += 1
        leg.newest_ms, leg.oldest_ms = state[at], state[at + 1]
        return leg

    @property
    def queued_ms(self) -> int | None:
        return None if self.queued is None else self.queued[0]

    @property
    def agent_id(self) -> str | None:
        """The agent who answered the leg (from the earliest answer)."""
        return None if self.answered is None else self.answered[2]

    def is_complete(self) -> bool:
        """No further event can change this leg: it queued, left the queue and, if answered,
        finished its ACW."""
        exit_ = self.summary[1]
        if self.queued is None or exit_ is None:
            return False
        return exit_[1] != ANSWERED or self.wrapped is not None


_SINGLE: Final = {
    "contact.queued": "queued",
    "contact.answered": "answered",
    "contact.abandoned": "abandoned",
    "contact.flowed_out": "flowed",
    "contact.ended": "ended",
    "contact.wrapped": "wrapped",
    "contact.transferred": "transferred",
}
_SINGLE_ATTRIBUTES: Final = frozenset(_SINGLE.values())
_STATE_SINGLES: Final = tuple(_SINGLE.values())
_DETAIL: Final = {
    "contact.queued": ContactEvent._fields.index("customer_id"),
    "contact.flowed_out": ContactEvent._fields.index("reason"),
    "contact.transferred": ContactEvent._fields.index("to_queue"),
    "contact.offered": ContactEvent._fields.index("agent_id"),
    "contact.missed": ContactEvent._fields.index("agent_id"),
}
_AGENT_AT: Final = ContactEvent._fields.index("agent_id")
QUEUE_FACTS: Final = frozenset({"contact.queued", "contact.abandoned", "contact.flowed_out"})
"""Facts that change only the entry and exit parts (answered changes the handle part too)."""
_MULTI: Final = {
    "contact.held": "holds",
    "contact.resumed": "resumes",
    "contact.consult_started": "consults",
    "contact.consult_ended": "consult_ends",
    "contact.offered": "offers",
    "contact.missed": "misses",
}
_STATE_MULTIS: Final = tuple(_MULTI.values())
_FACTS: Final[dict[str, tuple[str, int, bool]]] = {
    **{kind: (name, _DETAIL.get(kind, _AGENT_AT), True) for kind, name in _SINGLE.items()},
    **{kind: (name, _DETAIL.get(kind, 0), False) for kind, name in _MULTI.items()},
}
"""event type → (leg attribute, index of the detail kept with the fact (0: none), single)."""
assert ContactEvent._fields[:3] == ("event_id", "type", "ts_ms")


# -- what a leg contributes ---------------------------------------------------------------------


def summarize(
    leg: Leg, threshold_ms: int, short_abandon_ms: int, orphan_after_ms: int, watermark_ms: int
) -> Summary:
    """The leg's parts, a pure function of its facts (and of the watermark for orphans)."""
    entry_ms, exit_ = queue_parts(leg, short_abandon_ms, orphan_after_ms, watermark_ms)
    return (entry_ms, exit_, handle_part(leg))


def queue_parts(
    leg: Leg, short_abandon_ms: int, orphan_after_ms: int, watermark_ms: int
) -> tuple[int | None, Exit | None]:
    """The entry and exit parts: they depend on queued, answered, abandoned and flowed out."""
    queued = leg.queued
    if queued is None:
        return None, None
    queued_ms = queued[0]
    outcome_ms = -1
    kind = -1
    answered = leg.answered
    if answered is not None:
        outcome_ms, kind = answered[0], ANSWERED
    abandoned = leg.abandoned
    if abandoned is not None and (kind < 0 or abandoned[0] < outcome_ms):
        outcome_ms, kind = abandoned[0], ABANDONED
    flowed = leg.flowed
    if flowed is not None and (kind < 0 or flowed[0] < outcome_ms):
        outcome_ms, kind = flowed[0], FLOWED_OUT
    if kind < 0:
        if watermark_ms < queued_ms + orphan_after_ms:
            return queued_ms, None
        outcome_ms, kind = queued_ms + orphan_after_ms, FLOWED_OUT
    wait = outcome_ms - queued_ms
    if wait < 0:  # clock skew between sources
        wait = 0
    if kind == ABANDONED and short_abandon_ms > 0 and wait <= short_abandon_ms:
        return None, (outcome_ms, SHORT_ABANDONED, wait)
    return queued_ms, (outcome_ms, kind, wait)


def handle_part(leg: Leg) -> Handle | None:
    """The handle part: it depends on answered, holds, consults, ended, transferred, wrapped."""
    if leg.wrapped is None or leg.answered is None:
        return None
    return _handle(leg)


def _handle(leg: Leg) -> Handle:
    assert leg.answered is not None and leg.wrapped is not None
    start = leg.answered[0]
    wrapped = leg.wrapped[0]
    wrapped = max(wrapped, start)
    talk_end = wrapped
    if leg.ended is not None:
        talk_end = leg.ended[0]
    if leg.transferred is not None and leg.transferred[0] < talk_end:
        talk_end = leg.transferred[0]
    talk_end = min(max(talk_end, start), wrapped)
    hold = paired_duration(leg.holds, leg.resumes, start, talk_end) if leg.holds else 0
    consult = paired_duration(leg.consults, leg.consult_ends, start, wrapped) if leg.consults else 0
    return (wrapped, talk_end - start - hold, hold, wrapped - talk_end, consult)


def paired_duration(
    starts: list[tuple[int, str]], stops: list[tuple[int, str]], low: int, high: int
) -> int:
    """Total time inside ``[low, high]`` covered by start/stop pairs.

    Both lists hold (ts_ms, event id), sorted. Each start pairs with the first stop at or
    after it; a start with no stop runs to ``high``; a start inside a running span is a
    repeat and is ignored.
    """
    total = 0
    j = 0
    busy_until = -1
    n_stops = len(stops)
    for start, _ in starts:
        if start < busy_until:
            continue
        while j < n_stops and stops[j][0] < start:
            j += 1
        stop = stops[j][0] if j < n_stops else high
        if j < n_stops:
            j += 1
        span_start = max(start, low)
        span_stop = min(stop, high)
        if span_stop > span_start:
            total += span_stop - span_start
        busy_until = max(stop, busy_until)
    return total
