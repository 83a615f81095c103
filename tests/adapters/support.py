"""Helpers of the adapter tests: fixtures, folding adapter output through the core."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from streams.calendar import to_epoch_ms
from streams.events import Rejection, validate_event
from streams.floor import Floor
from streams.queues import ACCEPTED, DUPLICATE

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_lines(name: str) -> Iterator[bytes]:
    """The lines of a fixture without its ``#`` comment lines (the source citations)."""
    for line in (FIXTURES / name).read_bytes().splitlines():
        if line.strip() and not line.startswith(b"#"):
            yield line


def events_of(results: Iterable[list[dict[str, Any]] | Rejection]) -> list[dict[str, Any]]:
    """The events of adapter results; fails on a rejection."""
    out: list[dict[str, Any]] = []
    for result in results:
        assert not isinstance(result, Rejection), result
        out.extend(result)
    return out


def fold(events: Iterable[Mapping[str, Any]]) -> Floor:
    """The core folded from ``events``, each of which must be a valid contract event."""
    floor = Floor()
    for event in events:
        valid = validate_event(dict(event))
        assert not isinstance(valid, Rejection), (valid, event)
        outcome = floor.ingest(orjson.dumps(event))
        assert outcome in (ACCEPTED, DUPLICATE), (outcome, event)
    return floor


def records(floor: Floor) -> dict[str, dict[str, Any]]:
    """Non-empty interval records by ``queue@HH:MM`` of their start."""
    return {f"{r['queue']}@{r['interval_start'][11:16]}": r for r in floor.records()}


def totals_s(floor: Floor, agent_id: str, start_ms: int, end_ms: int) -> dict[str, float]:
    """Seconds the agent spent in each state (``not_ready:reason``) in ``[start, end)``."""
    totals = floor.agents[agent_id].totals(start_ms, end_ms)
    return {
        (state if reason is None else f"{state}:{reason}"): ms / 1000
        for (state, reason), ms in totals.items()
        if ms
    }


def iso_ms(text: str) -> int:
    from datetime import datetime

    return to_epoch_ms(datetime.fromisoformat(text))
