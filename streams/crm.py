"""Customer outcomes (DESIGN.md section 3, "CRM"): CSAT, NPS, complaints, first-contact resolution.

Definitions:

- **CSAT**: the mean of the 1–5 scores, and the share of 4s and 5s (``csat_satisfied_ratio``).
- **NPS**: % promoters (9–10) minus % detractors (0–6) of the 0–10 answers, a *score* from
  −100 to 100 as the industry quotes it (scores 0…10 once each give −45.45). It is the one
  figure here that is not a 0–1 ratio, because an "NPS of 0.0952" is read by nobody.
- **Complaints**: cases opened with ``complaint: true``; opened, resolved and escalated counts,
  each counted at the time of its own event (first resolution, first escalation), as DESIGN
  attributes contacts: offered where they entered, answered where they left. The share
  escalated is escalated / opened over the same period.
- **First-contact resolution** (FCR), decided per handled contact (answered by an agent):
  an explicit ``first_contact`` flag on the ``case.resolved`` of a case opened for that contact
  is the answer; otherwise the contact was resolved at first contact when the same customer
  (``customer_id``) queued no other contact within the repeat window after it (default 7 days;
  ties in time go by contact id). Until the window has passed with no repeat the contact is
  *pending*; ``fcr_ratio`` counts decided contacts only. A repeat is any other contact that
  queued, answered or not; transfer legs of one contact are one contact. A contact with no
  customer id and no flagged case cannot be judged and is left out. A flagged case whose
  contact Floorwatch never saw counts on its own, at its resolution.

:class:`CrmState` keeps the facts (contacts, cases, surveys), merged so that the order and
repetition of events do not matter, and answers :class:`CrmCounts` for any period and any
grouping. Counts add up: the counts of two periods (or two queues) are the sum of each, like
the interval records. Time is a parameter, never the clock: the FCR outcome depends on
``now_ms``, the newest event time the caller has seen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from streams.events import CaseEvent, ContactEvent, SurveyEvent

DAY_MS: Final = 86_400_000
DEFAULT_REPEAT_WINDOW_MS: Final = 7 * DAY_MS

_HANDLED_TYPES: Final = frozenset({"contact.answered", "contact.ended", "contact.wrapped"})


# --- counts and the metrics derived from them ------------------------------------------------


@dataclass(frozen=True, slots=True)
class CrmCounts:
    """Additive customer-outcome counts of one period and scope; ``+`` merges two."""

    csat_responses: int = 0
    csat_sum: int = 0
    csat_satisfied: int = 0
    """Answers of 4 or 5."""
    nps_responses: int = 0
    nps_promoters: int = 0
    """Answers of 9 or 10."""
    nps_detractors: int = 0
    """Answers of 0 to 6."""
    complaints_opened: int = 0
    complaints_resolved: int = 0
    complaints_escalated: int = 0
    fcr_resolved: int = 0
    """Handled contacts (or flagged cases) resolved at first contact."""
    fcr_not_resolved: int = 0
    fcr_pending: int = 0
    """Handled contacts whose repeat window is still open with no repeat yet."""

    def __add__(self, other: CrmCounts) -> CrmCounts:
        return CrmCounts(
            *(
                getattr(self, field.name) + getattr(other, field.name)
                for field in dataclasses.fields(self)
            )
        )

    @property
    def nps_passives(self) -> int:
        return self.nps_responses - self.nps_promoters - self.nps_detractors

    @property
    def csat_mean(self) -> float | None:
        return _ratio(self.csat_sum, self.csat_responses)

    @property
    def csat_satisfied_ratio(self) -> float | None:
        return _ratio(self.csat_satisfied, self.csat_responses)

    @property
    def nps(self) -> float | None:
        return nps_score(self.nps_promoters, self.nps_detractors, self.nps_responses)

    @property
    def complaints_escalated_ratio(self) -> float | None:
        return _ratio(self.complaints_escalated, self.complaints_opened)

    @property
    def fcr_ratio(self) -> float | None:
        return _ratio(self.fcr_resolved, self.fcr_resolved + self.fcr_not_resolved)


def merge_counts(counts: Iterable[CrmCounts]) -> CrmCounts:
    """The sum of ``counts`` (empty: all zero)."""
    total = CrmCounts()
    for item in counts:
        total += item
    return total


def crm_metrics(counts: CrmCounts) -> dict[str, Any]:
    """Every count, then every derived metric (``None`` when its denominator is empty)."""
    out: dict[str, Any] = dataclasses.asdict(counts)
    out["nps_passives"] = counts.nps_passives
    out["csat_mean"] = counts.csat_mean
    out["csat_satisfied_ratio"] = counts.csat_satisfied_ratio
    out["nps"] = counts.nps
    out["complaints_escalated_ratio"] = counts.complaints_escalated_ratio
    out["fcr_ratio"] = counts.fcr_ratio
    return out


def nps_score(promoters: int, detractors: int, responses: int) -> float | None:
    """Net promoter score, −100 to 100: 100 × (promoters − detractors) / responses."""
    return 100 * (promoters - detractors) / responses if responses > 0 else None


def survey_counts(csat: int | None, nps: int | None) -> CrmCounts:
    """What one survey adds: a CSAT answer (1–5) and an NPS answer (0–10), either optional."""
    return CrmCounts(
        csat_responses=int(csat is not None),
        csat_sum=csat or 0,
        csat_satisfied=int(csat is not None and csat >= 4),
        nps_responses=int(nps is not None),
        nps_promoters=int(nps is not None and nps >= 9),
        nps_detractors=int(nps is not None and nps <= 6),
    )


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator > 0 else None


# --- scopes ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """Where an outcome belongs: the queue, the agent who handled it, the client."""

    queue: str | None = None
    agent_id: str | None = None
    client: str | None = None


Key = Callable[[Scope], str | None]
"""Groups outcomes: the group of a scope, or ``None`` to leave the outcome out."""


def by_queue(scope: Scope) -> str | None:
    return scope.queue


def by_agent(scope: Scope) -> str | None:
    return scope.agent_id


def by_client(scope: Scope) -> str | None:
    return scope.client


def by_team(team_of: Mapping[str, str]) -> Key:
    """Group by the team of the agent (``team_of``: agent id → team, from agent events)."""

    def key(scope: Scope) -> str | None:
        return None if scope.agent_id is None else team_of.get(scope.agent_id)

    return key


def whole_floor(scope: Scope) -> str | None:
    """Everything in one group, ``"floor"``."""
    return "floor"


# --- facts -----------------------------------------------------------------------------------
# Each fact merges its events with commutative, idempotent rules (min, max, or), so any order
# and any repetition of the same events gives the same fact.

_Stamp = tuple[int, str]
"""(event time, event id): orders events totally, even at the same millisecond."""


@dataclass(frozen=True, slots=True)
class _Contact:
    queued: _Stamp | None = None
    customer: tuple[int, str, str] | None = None
    """(time, event id, customer id) of the earliest event that names the customer."""
    client: tuple[int, str, str] | None = None
    handled: tuple[int, str, str, str] | None = None
    """(time, event id, agent id, queue) of the latest handling event: a transferred contact
    belongs to the leg that handled it last."""

    @property
    def queued_ms(self) -> int | None:
        return None if self.queued is None else self.queued[0]

    @property
    def customer_id(self) -> str | None:
        return None if self.customer is None else self.customer[2]


@dataclass(frozen=True, slots=True)
class _Case:
    opened: CaseEvent | None = None
    """The earliest ``case.opened`` (by time, then event id)."""
    escalated_ms: int | None = None
    resolved: CaseEvent | None = None
    """The earliest ``case.resolved``."""


def _earliest_event(old: CaseEvent | None, new: CaseEvent) -> CaseEvent:
    return new if old is None or (new.ts_ms, new.event_id) < (old.ts_ms, old.event_id) else old


def _min(old: Any, new: Any) -> Any:
    return new if old is None or new < old else old


def _max(old: Any, new: Any) -> Any:
    return new if old is None or new > old else old


def _within(ts_ms: int | None, start_ms: int | None, end_ms: int | None) -> bool:
    return (
        ts_ms is not None
        and (start_ms is None or ts_ms >= start_ms)
        and (end_ms is None or ts_ms < end_ms)
    )


class CrmState:
    """The customer-outcome facts of a floor, and their counts for any period and grouping."""

    def __init__(self, repeat_window_ms: int = DEFAULT_REPEAT_WINDOW_MS) -> None:
        if repeat_window_ms <= 0:
            raise ValueError(f"repeat_window_ms: expected a number > 0, got {repeat_window_ms!r}")
        self.repeat_window_ms = repeat_window_ms
        self._contacts: dict[str, _Contact] = {}
        self._cases: dict[str, _Case] = {}
        self._surveys: dict[str, SurveyEvent] = {}

    # --- folding ---------------------------------------------------------------------------

    def fold(self, event: ContactEvent | CaseEvent | SurveyEvent) -> None:
        """Take one event in. Any order, and repeats of an event, give the same state."""
        if isinstance(event, SurveyEvent):
            old = self._surveys.get(event.survey_id)
            if old is None or (event.ts_ms, event.event_id) < (old.ts_ms, old.event_id):
                self._surveys[event.survey_id] = event
        elif isinstance(event, CaseEvent):
            self._fold_case(event)
        else:
            self._fold_contact(event)

    def _fold_contact(self, event: ContactEvent) -> None:
        fact = self._contacts.get(event.contact_id, _Contact())
        stamp = (event.ts_ms, event.event_id)
        if event.type == "contact.queued":
            fact = dataclasses.replace(fact, queued=_min(fact.queued, stamp))
        elif event.type in _HANDLED_TYPES and event.agent_id is not None:
            handled = (*stamp, event.agent_id, event.queue)
            fact = dataclasses.replace(fact, handled=_max(fact.handled, handled))
        else:
            return
        if event.customer_id is not None:
            fact = dataclasses.replace(
                fact, customer=_min(fact.customer, (*stamp, event.customer_id))
            )
        if event.client is not None:
            fact = dataclasses.replace(fact, client=_min(fact.client, (*stamp, event.client)))
        self._contacts[event.contact_id] = fact

    def _fold_case(self, event: CaseEvent) -> None:
        fact = self._cases.get(event.case_id, _Case())
        if event.type == "case.opened":
            fact = dataclasses.replace(fact, opened=_earliest_event(fact.opened, event))
        elif event.type == "case.escalated":
            fact = dataclasses.replace(fact, escalated_ms=_min(fact.escalated_ms, event.ts_ms))
        elif event.type == "case.resolved":
            fact = dataclasses.replace(fact, resolved=_earliest_event(fact.resolved, event))
        self._cases[event.case_id] = fact

    def discard_before(self, ts_ms: int) -> None:
        """Forget contacts, cases and surveys whose latest event is before ``ts_ms``.

        Keeps memory bounded. Counts of periods from ``ts_ms`` on do not change as long as
        ``ts_ms`` is older than the caller's lateness tolerance: a contact's FCR depends only on
        contacts up to one repeat window *after* it, never on earlier ones.
        """
        self._surveys = {k: v for k, v in self._surveys.items() if v.ts_ms >= ts_ms}
        self._contacts = {k: v for k, v in self._contacts.items() if _latest_contact_ms(v) >= ts_ms}
        self._cases = {k: v for k, v in self._cases.items() if _latest_case_ms(v) >= ts_ms}

    # --- answers ---------------------------------------------------------------------------

    def counts(
        self,
        *,
        now_ms: int,
        key: Key = whole_floor,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> dict[str, CrmCounts]:
        """Counts per group of ``key``, of what happened in ``[start_ms, end_ms)`` (open ends
        when ``None``): surveys at their completion, complaints at each of their events, FCR
        at the contact's queue entry (or a flagged case's resolution without its contact)."""
        out: dict[str, CrmCounts] = {}

        def add(scope: Scope, counts: CrmCounts) -> None:
            group = key(scope)
            if group is not None and counts != _NOTHING:
                out[group] = out.get(group, CrmCounts()) + counts

        for survey in self._surveys.values():
            if _within(survey.ts_ms, start_ms, end_ms):
                add(self._survey_scope(survey), survey_counts(survey.csat, survey.nps))

        for case in self._cases.values():
            opened, resolved = case.opened, case.resolved
            if opened is not None and opened.complaint:
                add(
                    self._case_scope(case),
                    CrmCounts(
                        complaints_opened=int(_within(opened.ts_ms, start_ms, end_ms)),
                        complaints_resolved=int(
                            resolved is not None and _within(resolved.ts_ms, start_ms, end_ms)
                        ),
                        complaints_escalated=int(_within(case.escalated_ms, start_ms, end_ms)),
                    ),
                )

        flags = self._flags()
        verdicts = self._repeat_verdicts(now_ms)
        for contact_id, contact in self._contacts.items():
            if not _judgeable(contact) or not _within(contact.queued_ms, start_ms, end_ms):
                continue
            if contact_id in flags:
                add(self._contact_scope(contact), _fcr(flags[contact_id].first_contact))
            elif contact_id in verdicts:
                add(self._contact_scope(contact), _fcr(verdicts[contact_id]))
        # flagged cases whose contact Floorwatch has not seen handled count on their own
        for named, case in self._flagged_cases():
            if named is not None and _judgeable(self._contacts.get(named)):
                continue
            resolved = case.resolved
            assert resolved is not None
            if _within(resolved.ts_ms, start_ms, end_ms):
                add(self._case_scope(case), _fcr(resolved.first_contact))
        return out

    def fcr_outcome(self, contact_id: str, *, now_ms: int) -> bool | None:
        """True or False once the contact's FCR is decided, ``None`` while pending or unknown."""
        flags = self._flags()
        if contact_id in flags:
            return flags[contact_id].first_contact
        return self._repeat_verdicts(now_ms).get(contact_id)

    def _flagged_cases(self) -> list[tuple[str | None, _Case]]:
        """Resolved cases with an explicit first_contact flag, with the contact each names.

        Several flagged cases for one contact: only the earliest resolution counts."""
        earliest: dict[str, _Case] = {}
        out: list[tuple[str | None, _Case]] = []
        for case in self._cases.values():
            resolved = case.resolved
            if resolved is None or resolved.first_contact is None:
                continue
            contact_id = _case_contact(case)
            if contact_id is None:
                out.append((None, case))
                continue
            old = earliest.get(contact_id)
            if old is None or _resolution_stamp(case) < _resolution_stamp(old):
                earliest[contact_id] = case
        out.extend(earliest.items())
        return out

    def _flags(self) -> dict[str, CaseEvent]:
        """The deciding ``case.resolved`` of each contact named by a flagged case."""
        flags: dict[str, CaseEvent] = {}
        for contact_id, case in self._flagged_cases():
            if contact_id is not None and case.resolved is not None:
                flags[contact_id] = case.resolved
        return flags

    def _repeat_verdicts(self, now_ms: int) -> dict[str, bool | None]:
        """Handled contacts with a customer: True (no repeat in the window, window over),
        False (a repeat within the window) or None (window still open, no repeat yet)."""
        by_customer: dict[str, list[tuple[int, str]]] = {}
        for contact_id, contact in self._contacts.items():
            customer, queued_ms = contact.customer_id, contact.queued_ms
            if customer is not None and queued_ms is not None:
                by_customer.setdefault(customer, []).append((queued_ms, contact_id))
        verdicts: dict[str, bool | None] = {}
        for contacts in by_customer.values():
            contacts.sort()
            for i, (queued_ms, contact_id) in enumerate(contacts):
                if self._contacts[contact_id].handled is None:
                    continue
                following = contacts[i + 1][0] if i + 1 < len(contacts) else None
                if following is not None and following - queued_ms <= self.repeat_window_ms:
                    verdicts[contact_id] = False
                elif now_ms >= queued_ms + self.repeat_window_ms:
                    verdicts[contact_id] = True
                else:
                    verdicts[contact_id] = None
        return verdicts

    def _contact_scope(self, contact: _Contact) -> Scope:
        agent_id, queue = (None, None) if contact.handled is None else contact.handled[2:]
        client = None if contact.client is None else contact.client[2]
        return Scope(queue=queue, agent_id=agent_id, client=client)

    def _linked(self, contact_id: str | None) -> Scope:
        contact = None if contact_id is None else self._contacts.get(contact_id)
        return Scope() if contact is None else self._contact_scope(contact)

    def _case_scope(self, case: _Case) -> Scope:
        """The case's own fields (opened first, then resolved), else its contact's."""
        sources = [e for e in (case.opened, case.resolved) if e is not None]
        contact_id = next((e.contact_id for e in sources if e.contact_id is not None), None)
        linked = self._linked(contact_id)
        return Scope(
            queue=next((e.queue for e in sources if e.queue is not None), linked.queue),
            agent_id=next((e.agent_id for e in sources if e.agent_id is not None), linked.agent_id),
            client=next((e.client for e in sources if e.client is not None), linked.client),
        )

    def _survey_scope(self, survey: SurveyEvent) -> Scope:
        linked = self._linked(survey.contact_id)
        return Scope(
            queue=survey.queue if survey.queue is not None else linked.queue,
            agent_id=survey.agent_id if survey.agent_id is not None else linked.agent_id,
            client=survey.client if survey.client is not None else linked.client,
        )


def _judgeable(contact: _Contact | None) -> bool:
    """A contact whose FCR is decided with it: handled, and its queue entry seen."""
    return contact is not None and contact.handled is not None and contact.queued is not None


def _case_contact(case: _Case) -> str | None:
    for event in (case.opened, case.resolved):
        if event is not None and event.contact_id is not None:
            return event.contact_id
    return None


def _resolution_stamp(case: _Case) -> _Stamp:
    assert case.resolved is not None
    return (case.resolved.ts_ms, case.resolved.event_id)


_NOTHING: Final = CrmCounts()


def _fcr(verdict: bool | None) -> CrmCounts:
    if verdict is None:
        return CrmCounts(fcr_pending=1)
    return CrmCounts(fcr_resolved=1) if verdict else CrmCounts(fcr_not_resolved=1)


def _latest_contact_ms(contact: _Contact) -> int:
    return max(stamp[0] for stamp in (contact.queued, contact.handled) if stamp is not None)


def _latest_case_ms(case: _Case) -> int:
    times = [e.ts_ms for e in (case.opened, case.resolved) if e is not None]
    if case.escalated_ms is not None:
        times.append(case.escalated_ms)
    return max(times)
