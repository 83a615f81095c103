"""Building contract events for tests: readable, deterministic, with unique event ids."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import orjson

from streams.calendar import to_epoch_ms
from streams.events import Event, Rejection, parse_event

_ids = itertools.count(1)


def at(text: str) -> int:
    """Epoch ms of an ISO-8601 time; a naive time is UTC (tests only)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return to_epoch_ms(moment)


def raw(etype: str, ts_ms: int, **fields: Any) -> dict[str, Any]:
    """A contract event as a dict, with a fresh event id unless one is given."""
    event: dict[str, Any] = {"event_id": fields.pop("event_id", f"t-{next(_ids)}"), "type": etype}
    event["ts"] = ts_ms
    event.update({k: v for k, v in fields.items() if v is not None})
    return event


def event(etype: str, ts_ms: int, **fields: Any) -> Event:
    """A parsed, valid event (fails the test if the contract rejects it)."""
    parsed = parse_event(orjson.dumps(raw(etype, ts_ms, **fields)))
    assert not isinstance(parsed, Rejection), parsed
    return parsed


def contact(
    contact_id: str,
    queue: str,
    queued_ms: int,
    *,
    answered_ms: int | None = None,
    abandoned_ms: int | None = None,
    flowed_ms: int | None = None,
    ended_ms: int | None = None,
    wrapped_ms: int | None = None,
    agent: str = "agent-1",
    holds: tuple[tuple[int, int], ...] = (),
    consults: tuple[tuple[int, int], ...] = (),
) -> list[Event]:
    """Every event of one contact leg, in time order."""
    out = [event("contact.queued", queued_ms, contact_id=contact_id, queue=queue)]
    common = {"contact_id": contact_id, "queue": queue}
    if answered_ms is not None:
        out.append(event("contact.offered", answered_ms, agent_id=agent, **common))
        out.append(event("contact.answered", answered_ms, agent_id=agent, **common))
    if abandoned_ms is not None:
        out.append(event("contact.abandoned", abandoned_ms, **common))
    if flowed_ms is not None:
        out.append(event("contact.flowed_out", flowed_ms, reason="timeout", **common))
    for start, stop in holds:
        out.append(event("contact.held", start, agent_id=agent, **common))
        out.append(event("contact.resumed", stop, agent_id=agent, **common))
    for start, stop in consults:
        out.append(event("contact.consult_started", start, agent_id=agent, **common))
        out.append(event("contact.consult_ended", stop, agent_id=agent, **common))
    if ended_ms is not None:
        out.append(event("contact.ended", ended_ms, agent_id=agent, **common))
    if wrapped_ms is not None:
        out.append(event("contact.wrapped", wrapped_ms, agent_id=agent, **common))
    return sorted(out, key=lambda e: e.ts_ms)


def agent_state(agent_id: str, ts_ms: int, state: str, **fields: Any) -> Event:
    return event("agent.state", ts_ms, agent_id=agent_id, state=state, **fields)
