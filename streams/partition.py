"""The state of the partitions one worker owns, and how it is persisted exactly.

A Faust worker folds the events of its partitions with a :class:`PartitionState` (a
:class:`~streams.floor.Floor` that remembers what changed) and, after every batch, writes
:meth:`PartitionState.changes` to a changelogged table before the batch's offsets are
committed. The table holds, per key:

- ``L|<queue>|<contact>``: one contact leg's facts (which are also its dedupe record);
- ``Q|<queue>``: the queue's watermark, the end of its final intervals and its day totals;
- ``A|<agent>``: one agent's whole timeline (entries, attributes, day totals).

Why this is exact without transactions: a leg's facts say which events it has seen, so an
event replayed after a crash (its offset was not committed, its fact was) is a duplicate and
changes nothing; everything of a queue is written to one changelog partition, in an order
whose every prefix is consistent (see :meth:`PartitionState.changes`), so whatever part of a
batch's writes survived a crash, the restored state plus the replayed events give the state
an uninterrupted run has. Open intervals are rebuilt from the legs; a leg is forgotten only
once all it contributed is in final intervals, which live in the queue record's day totals.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from streams.events import AgentEvent, ContactEvent, Event
from streams.floor import Floor
from streams.queues import ACCEPTED, Outcome, QueueState
from streams.settings import CoreSettings

SEPARATOR: Final = "|"
LEG: Final = "L"
QUEUE: Final = "Q"
AGENT: Final = "A"

StateRecord = tuple[str, Any]
"""(table key, JSON-able value or None to delete the key)."""


def leg_key(queue: str, contact_id: str) -> str:
    return f"{LEG}{SEPARATOR}{queue}{SEPARATOR}{contact_id}"


def queue_key(queue: str) -> str:
    return f"{QUEUE}{SEPARATOR}{queue}"


def agent_key(agent_id: str) -> str:
    return f"{AGENT}{SEPARATOR}{agent_id}"


class PartitionState(Floor):
    """A :class:`Floor` whose every change can be written out and read back exactly."""

    def __init__(self, settings: CoreSettings | None = None) -> None:
        super().__init__(settings)
        self._changed_agents: set[str] = set()
        self._written_meta: dict[str, dict[str, Any]] = {}

    def queue(self, name: str) -> QueueState:
        state = self.queues.get(name)
        if state is None:
            state = super().queue(name)
            state.changed_legs = set()
        return state

    def apply(self, event: Event) -> Outcome:
        outcome = super().apply(event)
        if outcome is ACCEPTED and isinstance(event, AgentEvent):
            self._changed_agents.add(event.agent_id)
        return outcome

    def expire(self, now_ms: int) -> None:
        self._changed_agents.update(t.agent_id for t in self._agents_to_prune)
        super().expire(now_ms)

    def changes(self) -> list[StateRecord]:
        """Table records for everything changed since the last call.

        Per queue: its changed legs, then its queue record, then the legs it forgot. Any
        prefix of this list, written on top of the previous batches, is a consistent state
        (a crash can cut a batch's writes anywhere): the queue record never counts a final
        interval whose legs are gone unless it is written itself, and legs are deleted only
        after the queue record that holds their final intervals.
        """
        out: list[StateRecord] = []
        for name, state in self.queues.items():
            changed = state.changed_legs
            forgotten: list[StateRecord] = []
            if changed:
                legs = state.legs
                for contact_id in changed:
                    leg = legs.get(contact_id)
                    if leg is None:
                        forgotten.append((leg_key(name, contact_id), None))
                    else:
                        out.append((leg_key(name, contact_id), leg.to_state()))
                changed.clear()
            meta = state.meta_state()
            if meta != self._written_meta.get(name):
                self._written_meta[name] = meta
                out.append((queue_key(name), meta))
            out.extend(forgotten)
        for agent_id in self._changed_agents:
            out.append((agent_key(agent_id), self.agents[agent_id].to_state()))
        self._changed_agents = set()
        return out

    def restore(self, records: Iterable[StateRecord]) -> None:
        """Load the table records of :meth:`changes` (latest value per key) into a fresh
        state."""
        assert not self.queues and not self.agents, "restore() needs a fresh PartitionState"
        metas: dict[str, dict[str, Any]] = {}
        legs: dict[str, list[tuple[str, list[Any]]]] = {}
        agents: dict[str, dict[str, Any]] = {}
        for key, value in records:
            if value is None:
                continue
            kind, _, rest = key.partition(SEPARATOR)
            if kind == LEG:
                queue, _, contact_id = rest.partition(SEPARATOR)
                legs.setdefault(queue, []).append((contact_id, value))
            elif kind == QUEUE:
                metas[rest] = value
            elif kind == AGENT:
                agents[rest] = value
        for name in sorted(metas.keys() | legs.keys()):
            state = self.queue(name)
            meta = metas.get(name) or state.meta_state()
            state.restore(meta, legs.get(name, ()))
            self._written_meta[name] = state.meta_state()
        for agent_id, value in agents.items():
            site = (value.get("attributes") or {}).get("site")
            self.agent(agent_id, site).restore(value)


def event_owner(event: Event) -> str | None:
    """The partition key of an event as the producers send it (queue or agent id)."""
    if isinstance(event, ContactEvent):
        return event.queue
    if isinstance(event, AgentEvent):
        return event.agent_id
    return None


__all__ = [
    "PartitionState",
    "StateRecord",
    "agent_key",
    "event_owner",
    "leg_key",
    "queue_key",
]
