"""What every adapter shares: rejection reasons, counters, event builders, stable ids, times.

An adapter turns one platform input (a queue_log line, a TaskRouter callback, a Kinesis
record) into contract event dicts (DESIGN.md section 2), or into a
:class:`streams.events.Rejection` saying why it cannot. The dicts are what a producer
encodes; they always pass :func:`streams.events.validate_event`.

Event ids are derived from the platform's own ids (or, when it has none, from the input's
content), never from a counter or the clock, so an input read twice yields the same ids and
the core drops the second copy as a duplicate.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Final

from streams.calendar import to_epoch_ms
from streams.events import (
    BAD_TIMESTAMP,
    BAD_TYPE,
    BAD_VALUE,
    INVALID_JSON,
    MAX_ID_CHARS,
    MAX_TS_MS,
    MIN_TS_MS,
    MISSING_FIELD,
    OVERSIZED,
    Rejection,
)

# --- rejection reasons of adapters (beside those of streams.events) ---------------------------

TRUNCATED: Final = "truncated"
"""Fewer fields than the input kind has (a cut line, a half-written record)."""
UNKNOWN_VERB: Final = "unknown_verb"
"""An Asterisk queue_log event name no version of Asterisk writes."""
UNKNOWN_EVENT: Final = "unknown_event"
"""A TaskRouter / Amazon Connect event or record kind that is not known."""
BAD_NUMBER: Final = "bad_number"
"""A field that must be a number is not one."""
BAD_SIGNATURE: Final = "bad_signature"
"""A webhook whose signature does not match (forged, or the wrong auth token)."""
BAD_ENCODING: Final = "bad_encoding"
"""Not UTF-8, not base64, not form-encoded: bytes that cannot even be read."""

ADAPTER_REJECTION_REASONS: Final = (
    TRUNCATED,
    UNKNOWN_VERB,
    UNKNOWN_EVENT,
    BAD_NUMBER,
    BAD_SIGNATURE,
    BAD_ENCODING,
    INVALID_JSON,
    OVERSIZED,
    MISSING_FIELD,
    BAD_TYPE,
    BAD_VALUE,
    BAD_TIMESTAMP,
)
"""Every reason an adapter refuses an input for."""

Result = list[dict[str, Any]] | Rejection
"""What feeding one input gives: its contract events (possibly none) or why it was refused."""


@dataclass
class AdapterCounts:
    """What an adapter has seen: inputs, events made, inputs ignored on purpose (by kind),
    inputs rejected (by reason) and exact repeats skipped."""

    inputs: int = 0
    events: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0

    def summary(self) -> str:
        """One line for a log or a command's exit message."""
        rejected = ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items())) or "none"
        ignored = sum(self.ignored.values())
        return (
            f"{self.inputs} inputs, {self.events} events, {ignored} ignored, "
            f"{self.duplicates} repeats, rejected: {rejected}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs,
            "events": self.events,
            "ignored": dict(self.ignored),
            "rejected": dict(self.rejected),
            "duplicates": self.duplicates,
        }


def reject(counts: AdapterCounts, reason: str, message: str) -> Rejection:
    """Count and return a rejection."""
    counts.rejected[reason] += 1
    return Rejection(reason, message)


# --- building contract events -----------------------------------------------------------------


def contact_event(
    event_id: str,
    kind: str,
    ts_ms: int,
    contact_id: str,
    queue: str,
    *,
    source: str,
    agent_id: str | None = None,
    client: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A ``contact.<kind>`` event; ``extra`` fields that are None are left out."""
    event: dict[str, Any] = {
        "event_id": event_id,
        "type": f"contact.{kind}",
        "ts": ts_ms,
        "contact_id": contact_id,
        "queue": queue,
        "source": source,
    }
    if agent_id is not None:
        event["agent_id"] = agent_id
    if client is not None:
        event["client"] = client
    event.update((k, v) for k, v in extra.items() if v is not None)
    return event


def agent_event(
    event_id: str,
    ts_ms: int,
    agent_id: str,
    state: str,
    *,
    source: str,
    reason: str | None = None,
    name: str | None = None,
    queues: Iterable[str] | None = None,
    client: str | None = None,
) -> dict[str, Any]:
    """An ``agent.state`` event; ``reason`` is kept for ``not_ready`` only."""
    event: dict[str, Any] = {
        "event_id": event_id,
        "type": "agent.state",
        "ts": ts_ms,
        "agent_id": agent_id,
        "state": state,
        "source": source,
    }
    if state == "not_ready" and reason:
        event["reason"] = reason
    if name:
        event["name"] = name
    if queues is not None:
        event["queues"] = sorted(queues)
    if client is not None:
        event["client"] = client
    return event


def stable_id(prefix: str, *parts: object) -> str:
    """A short id that is a pure function of ``parts`` (``prefix:`` + 16 hex digits)."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return f"{prefix}:{hashlib.blake2b(text.encode(), digest_size=8).hexdigest()}"


def bounded_id(text: str, prefix: str) -> str:
    """``text`` when it fits the contract's id limit, else a stable digest of it."""
    return text if 0 < len(text) <= MAX_ID_CHARS else stable_id(prefix, text)


def reason_text(text: str | None) -> str | None:
    """A not-ready reason as the contract shows it: trimmed, lower case, None when empty."""
    if text is None:
        return None
    cleaned = " ".join(text.split()).lower()
    return cleaned[:MAX_ID_CHARS] or None


# --- times ------------------------------------------------------------------------------------

_MS_THRESHOLD: Final = 100_000_000_000
"""Epoch numbers at or above this are milliseconds (1973-03-03 in ms, year 5138 in s)."""


def epoch_ms(value: object) -> int | None:
    """Epoch milliseconds from epoch seconds or milliseconds (int, float or digits); which one
    is told by magnitude. None when it is not a number or out of 1970..2100."""
    number: float
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    if math.isnan(number) or math.isinf(number):
        return None
    ms = int(number if abs(number) >= _MS_THRESHOLD else number * 1000)
    return ms if MIN_TS_MS <= ms < MAX_TS_MS else None


def iso_ms(value: object, default_tz: tzinfo | None = None) -> int | None:
    """Epoch milliseconds of an ISO-8601 time (``Z`` accepted); a time without offset is read
    in ``default_tz`` (None: refused). None when unreadable or out of 1970..2100."""
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        if default_tz is None:
            return None
        moment = moment.replace(tzinfo=default_tz)
    ms = to_epoch_ms(moment)
    return ms if MIN_TS_MS <= ms < MAX_TS_MS else None


def any_time_ms(value: object, default_tz: tzinfo | None = None) -> int | None:
    """Epoch ms from epoch seconds, epoch milliseconds or ISO-8601, whichever ``value`` is."""
    ms = epoch_ms(value)
    return ms if ms is not None else iso_ms(value, default_tz)


def text_field(obj: dict[str, Any], *names: str) -> str | None:
    """The first of ``names`` holding a non-empty string (numbers are turned into text)."""
    for name in names:
        value = obj.get(name)
        if isinstance(value, str):
            value = value.strip()
            if value:
                return value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    return None
