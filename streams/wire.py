"""Message keys and routing shared by the producers, the workers and the gateways.

Pure helpers, so every shell agrees on one spelling:

- input events: contact events go to the ACD topic keyed by queue (all events of a leg meet
  in one partition), agent events to the ACD topic keyed by agent id, case and survey events
  to the CRM topic keyed by case / survey id;
- ``floor-snapshots`` (compacted): key ``queue:<name>`` → a queue view, ``agent:<id>`` → an
  agent row, ``worker:<id>`` → a worker heartbeat (at least every second: its partitions,
  counters and ``published_ms``, so gateways can tell a quiet floor from a dead pipeline);
  value ``null`` (a tombstone) when the worker no longer owns or tracks the key;
- ``floor-intervals`` (compacted): key ``<queue>|<interval start, epoch ms>`` → an interval
  record (DESIGN.md section 6);
- ``dead-letters``: the original bytes as the value, the original key as the key, and the
  reason in headers (:data:`DEAD_LETTER_HEADERS`), the convention of Kafka Connect's DLQs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

ACD: Final = "acd"
CRM: Final = "crm"
TopicKind = Literal["acd", "crm"]

QUEUE_PREFIX: Final = "queue:"
AGENT_PREFIX: Final = "agent:"
WORKER_PREFIX: Final = "worker:"

DEAD_LETTER_HEADERS: Final = (
    "floorwatch.reason",
    "floorwatch.message",
    "floorwatch.topic",
    "floorwatch.partition",
    "floorwatch.offset",
)
"""Headers of a dead letter, in this order: reason id, human message, and where it came from."""


def route(event: Mapping[str, Any]) -> tuple[TopicKind, str | None]:
    """Which input topic and key a (decoded, not necessarily valid) event is produced with.

    Anything unrecognisable goes to the ACD topic without a key, so a worker dead-letters it.
    """
    kind = event.get("type")
    if not isinstance(kind, str):
        return ACD, None
    if kind.startswith("contact."):
        return ACD, _text(event.get("queue"))
    if kind.startswith("agent."):
        return ACD, _text(event.get("agent_id"))
    if kind.startswith("case."):
        return CRM, _text(event.get("case_id"))
    if kind.startswith("survey."):
        return CRM, _text(event.get("survey_id"))
    return ACD, None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def queue_key(queue: str) -> str:
    return QUEUE_PREFIX + queue


def agent_key(agent_id: str) -> str:
    return AGENT_PREFIX + agent_id


def worker_key(worker_id: str) -> str:
    return WORKER_PREFIX + worker_id


def interval_key(queue: str, interval_start_ms: int) -> str:
    return f"{queue}|{interval_start_ms}"


def split_snapshot_key(key: str) -> tuple[str, str] | None:
    """``("queue", name)``, ``("agent", id)`` or ``("worker", id)`` for a snapshot key; None
    for anything else."""
    for prefix in (QUEUE_PREFIX, AGENT_PREFIX, WORKER_PREFIX):
        if key.startswith(prefix):
            return prefix[:-1], key[len(prefix) :]
    return None


__all__ = [
    "ACD",
    "AGENT_PREFIX",
    "CRM",
    "DEAD_LETTER_HEADERS",
    "QUEUE_PREFIX",
    "WORKER_PREFIX",
    "TopicKind",
    "agent_key",
    "interval_key",
    "queue_key",
    "route",
    "split_snapshot_key",
    "worker_key",
]
