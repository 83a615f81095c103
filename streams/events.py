"""The event contract (DESIGN.md section 2): bytes in, a typed event or a rejection out.

:func:`parse_event` never raises on bad input. It returns one of the event tuples below, or a
:class:`Rejection` whose ``reason`` is one of :data:`REJECTION_REASONS` (machine-readable, used
as a metric label and in the dead-letter record) and whose ``message`` tells a person what
was wrong, naming the field and the value.

Events are ``NamedTuple`` values: immutable, typed and cheap to build, which matters because
every event crosses this function (the core folds well over 100 k events/s).

Unknown extra fields are tolerated and ignored; the original bytes stay in Kafka.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NamedTuple

import orjson

from streams.calendar import to_epoch_ms
from streams.settings import CHANNELS

# --- rejection reasons -----------------------------------------------------------------------

INVALID_JSON: Final = "invalid_json"
OVERSIZED: Final = "oversized"
MISSING_FIELD: Final = "missing_field"
BAD_TYPE: Final = "bad_type"
BAD_VALUE: Final = "bad_value"
UNKNOWN_TYPE: Final = "unknown_type"
BAD_TIMESTAMP: Final = "bad_timestamp"
FROM_FUTURE: Final = "from_future"
TOO_LATE: Final = "too_late"

REJECTION_REASONS: Final = (
    INVALID_JSON,
    OVERSIZED,
    MISSING_FIELD,
    BAD_TYPE,
    BAD_VALUE,
    UNKNOWN_TYPE,
    BAD_TIMESTAMP,
    FROM_FUTURE,
    TOO_LATE,
)
"""Every reason an event can be refused for. ``too_late`` is decided by the fold (it needs
the newest event time seen), the others by :func:`parse_event`."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an event was refused. Goes to the dead-letter topic with the original bytes."""

    reason: str
    message: str
    event_id: str | None = None
    type: str | None = None


# --- event types ------------------------------------------------------------------------------

CONTACT_TYPES: Final = frozenset(
    {
        "contact.queued",
        "contact.offered",
        "contact.missed",
        "contact.answered",
        "contact.abandoned",
        "contact.flowed_out",
        "contact.transferred",
        "contact.held",
        "contact.resumed",
        "contact.consult_started",
        "contact.consult_ended",
        "contact.ended",
        "contact.wrapped",
    }
)
_CONTACT_NEEDS_AGENT: Final = CONTACT_TYPES - {
    "contact.queued",
    "contact.abandoned",
    "contact.flowed_out",
}
AGENT_TYPES: Final = frozenset({"agent.state"})
CRM_TYPES: Final = frozenset({"case.opened", "case.escalated", "case.resolved", "survey.completed"})
EVENT_TYPES: Final = CONTACT_TYPES | AGENT_TYPES | CRM_TYPES

AGENT_STATES: Final = (
    "logged_out",
    "available",
    "not_ready",
    "on_contact",
    "after_contact_work",
)
FLOW_OUT_REASONS: Final = ("timeout", "overflow", "exit_key", "no_agents", "orphaned")

MAX_ID_CHARS: Final = 256
MAX_TEXT_CHARS: Final = 1024
MAX_QUEUES_PER_AGENT: Final = 256
MIN_TS_MS: Final = 0  # 1970-01-01T00:00:00Z
MAX_TS_MS: Final = 4_102_444_800_000  # 2100-01-01T00:00:00Z


class ContactEvent(NamedTuple):
    """An ACD contact event; every one carries the queue of its leg."""

    event_id: str
    type: str
    ts_ms: int
    contact_id: str
    queue: str
    agent_id: str | None = None
    channel: str | None = None
    priority: int | None = None
    customer_id: str | None = None
    reason: str | None = None
    to_queue: str | None = None
    source: str | None = None
    client: str | None = None


class AgentEvent(NamedTuple):
    """An agent (the person on the phones) changing state."""

    event_id: str
    type: str
    ts_ms: int
    agent_id: str
    state: str
    reason: str | None = None
    name: str | None = None
    team: str | None = None
    site: str | None = None
    queues: tuple[str, ...] | None = None
    source: str | None = None
    client: str | None = None


class CaseEvent(NamedTuple):
    """A CRM case event (opened, escalated, resolved)."""

    event_id: str
    type: str
    ts_ms: int
    case_id: str
    customer_id: str | None = None
    contact_id: str | None = None
    agent_id: str | None = None
    queue: str | None = None
    category: str | None = None
    complaint: bool | None = None
    level: str | None = None
    first_contact: bool | None = None
    source: str | None = None
    client: str | None = None


class SurveyEvent(NamedTuple):
    """A completed customer survey."""

    event_id: str
    type: str
    ts_ms: int
    survey_id: str
    contact_id: str | None = None
    agent_id: str | None = None
    queue: str | None = None
    customer_id: str | None = None
    csat: int | None = None
    nps: int | None = None
    resolved: bool | None = None
    source: str | None = None
    client: str | None = None


Event = ContactEvent | AgentEvent | CaseEvent | SurveyEvent


class _Invalid(Exception):  # noqa: N818 - internal control flow, never escapes this module
    """Raised inside the parser, turned into a :class:`Rejection` at its edge."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


# --- field readers ------------------------------------------------------------------------------


def _describe(value: object) -> str:
    try:
        text = orjson.dumps(value).decode() if _is_jsonable(value) else repr(value)
    except orjson.JSONEncodeError:
        # orjson reads arrays and objects nested 1,024 deep but writes only 254 levels
        text = f"an {_type_name(value)} nested too deep to show"
    return text if len(text) <= 80 else text[:77] + "..."


def _is_jsonable(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _id(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if value.__class__ is str and 0 < len(value) <= MAX_ID_CHARS:
        return value
    if value is None:
        raise _Invalid(MISSING_FIELD, f"required field '{name}' is missing")
    if not isinstance(value, str):
        raise _Invalid(BAD_TYPE, f"'{name}' must be a string, got {_type_name(value)}")
    if not value:
        raise _Invalid(BAD_VALUE, f"'{name}' must not be empty")
    raise _Invalid(BAD_VALUE, f"'{name}' is longer than {MAX_ID_CHARS} characters")


def _opt_id(obj: dict[str, Any], name: str, limit: int = MAX_ID_CHARS) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if value.__class__ is str and 0 < len(value) <= limit:
        return value
    if not isinstance(value, str):
        raise _Invalid(BAD_TYPE, f"'{name}' must be a string, got {_type_name(value)}")
    if not value:
        raise _Invalid(BAD_VALUE, f"'{name}' must not be empty")
    raise _Invalid(BAD_VALUE, f"'{name}' is longer than {limit} characters")


def _opt_bool(obj: dict[str, Any], name: str) -> bool | None:
    value = obj.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise _Invalid(BAD_TYPE, f"'{name}' must be true or false, got {_describe(value)}")


def _opt_int(obj: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(BAD_TYPE, f"'{name}' must be an integer, got {_describe(value)}")
    if not low <= value <= high:
        raise _Invalid(BAD_VALUE, f"'{name}' must be between {low} and {high}, got {value}")
    return value


def _choice(obj: dict[str, Any], name: str, allowed: tuple[str, ...], required: bool) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise _Invalid(MISSING_FIELD, f"required field '{name}' is missing")
        return None
    if not isinstance(value, str):
        raise _Invalid(BAD_TYPE, f"'{name}' must be a string, got {_type_name(value)}")
    if value not in allowed:
        raise _Invalid(
            BAD_VALUE, f"'{name}' must be one of {', '.join(allowed)}, got {_describe(value)}"
        )
    return value


def parse_ts(value: object) -> int:
    """Epoch milliseconds from an ISO-8601 string with offset or integer epoch milliseconds.

    Raises the internal ``_Invalid`` (``bad_type`` / ``bad_timestamp``); use :func:`parse_event`
    or :func:`try_parse_ts` from outside this module.
    """
    ts: int
    if value.__class__ is int:
        ts = value
    elif isinstance(value, str):
        if len(value) > 64:
            raise _Invalid(BAD_TIMESTAMP, "'ts' is not an ISO-8601 time (too long)")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _Invalid(
                BAD_TIMESTAMP, f"'ts' is not an ISO-8601 time: {_describe(value)}"
            ) from None
        if moment.tzinfo is None:
            raise _Invalid(
                BAD_TIMESTAMP, f"'ts' has no UTC offset (add Z or +hh:mm): {_describe(value)}"
            )
        ts = to_epoch_ms(moment)
    elif value is None:
        raise _Invalid(MISSING_FIELD, "required field 'ts' is missing")
    elif value.__class__ is float and abs(value) >= 2**63:
        # orjson decodes integers beyond 64 bits as floats: an integer, far out of range
        raise _Invalid(BAD_TIMESTAMP, f"'ts' is outside 1970-01-01..2100-01-01: {value}")
    else:
        raise _Invalid(
            BAD_TYPE,
            f"'ts' must be an ISO-8601 string or integer epoch milliseconds, "
            f"got {_describe(value)}",
        )
    if not MIN_TS_MS <= ts < MAX_TS_MS:
        raise _Invalid(BAD_TIMESTAMP, f"'ts' is outside 1970-01-01..2100-01-01: {_describe(value)}")
    return ts


def try_parse_ts(value: object) -> int | Rejection:
    """Public form of :func:`parse_ts`: epoch ms, or a rejection."""
    try:
        return parse_ts(value)
    except _Invalid as problem:
        return Rejection(problem.reason, problem.message)


# --- the parser ---------------------------------------------------------------------------------


def parse_event(
    raw: bytes,
    *,
    max_bytes: int = 64 * 1024,
    now_ms: int | None = None,
    future_tolerance_ms: int = 300_000,
) -> Event | Rejection:
    """Parse and validate one event.

    ``now_ms`` is the clock reading to check against (events more than
    ``future_tolerance_ms`` ahead of it are rejected as ``from_future``); ``None`` skips the
    check, as a replay of historical files does.
    """
    if len(raw) > max_bytes:
        return Rejection(OVERSIZED, f"event is {len(raw)} bytes, the limit is {max_bytes}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as problem:
        return Rejection(INVALID_JSON, f"not valid JSON: {problem}")
    if obj.__class__ is not dict:
        return Rejection(INVALID_JSON, f"expected a JSON object, got {_type_name(obj)}")
    return validate_event(obj, now_ms=now_ms, future_tolerance_ms=future_tolerance_ms)


def validate_event(
    obj: dict[str, Any], *, now_ms: int | None = None, future_tolerance_ms: int = 300_000
) -> Event | Rejection:
    """Validate an already-decoded JSON object against the contract."""
    event_id = obj.get("event_id")
    etype = obj.get("type")
    try:
        event_id = _id(obj, "event_id")
        etype = obj.get("type")
        if etype.__class__ is not str:
            if etype is None:
                raise _Invalid(MISSING_FIELD, "required field 'type' is missing")
            raise _Invalid(BAD_TYPE, f"'type' must be a string, got {_type_name(etype)}")
        if etype not in EVENT_TYPES:
            raise _Invalid(UNKNOWN_TYPE, f"unknown event type {_describe(etype)}")
        ts = parse_ts(obj.get("ts"))
        if now_ms is not None and ts > now_ms + future_tolerance_ms:
            raise _Invalid(
                FROM_FUTURE,
                f"'ts' is {(ts - now_ms) / 1000:.1f} s ahead of the clock "
                f"(tolerance {future_tolerance_ms / 1000:.0f} s)",
            )
        source = _opt_id(obj, "source")
        client = _opt_id(obj, "client")
        if etype in CONTACT_TYPES:
            return _contact(obj, event_id, etype, ts, source, client)
        if etype in AGENT_TYPES:
            return _agent(obj, event_id, etype, ts, source, client)
        if etype == "survey.completed":
            return _survey(obj, event_id, etype, ts, source, client)
        return _case(obj, event_id, etype, ts, source, client)
    except _Invalid as problem:
        return Rejection(
            problem.reason,
            problem.message,
            event_id if isinstance(event_id, str) else None,
            etype if isinstance(etype, str) and etype in EVENT_TYPES else None,
        )


def _contact(
    obj: dict[str, Any], event_id: str, etype: str, ts: int, source: str | None, client: str | None
) -> ContactEvent:
    contact_id = _id(obj, "contact_id")
    queue = _id(obj, "queue")
    agent_id = _id(obj, "agent_id") if etype in _CONTACT_NEEDS_AGENT else _opt_id(obj, "agent_id")
    channel = priority = customer_id = reason = to_queue = None
    if etype == "contact.queued":
        channel = _choice(obj, "channel", CHANNELS, required=False)
        priority = _opt_int(obj, "priority", -(2**31), 2**31 - 1)
        customer_id = _opt_id(obj, "customer_id")
    elif etype == "contact.flowed_out":
        reason = _choice(obj, "reason", FLOW_OUT_REASONS, required=True)
    elif etype == "contact.transferred":
        to_queue = _opt_id(obj, "to_queue")
    return ContactEvent(
        event_id,
        etype,
        ts,
        contact_id,
        queue,
        agent_id,
        channel,
        priority,
        customer_id,
        reason,
        to_queue,
        source,
        client,
    )


def _agent(
    obj: dict[str, Any], event_id: str, etype: str, ts: int, source: str | None, client: str | None
) -> AgentEvent:
    agent_id = _id(obj, "agent_id")
    state = _choice(obj, "state", AGENT_STATES, required=True)
    assert state is not None
    reason = _opt_id(obj, "reason")
    queues_value = obj.get("queues")
    queues: tuple[str, ...] | None = None
    if queues_value is not None:
        if not isinstance(queues_value, list):
            raise _Invalid(
                BAD_TYPE, f"'queues' must be an array of strings, got {_type_name(queues_value)}"
            )
        if len(queues_value) > MAX_QUEUES_PER_AGENT:
            raise _Invalid(BAD_VALUE, f"'queues' lists more than {MAX_QUEUES_PER_AGENT} queues")
        for item in queues_value:
            if not isinstance(item, str) or not 0 < len(item) <= MAX_ID_CHARS:
                raise _Invalid(
                    BAD_TYPE, f"'queues' must hold non-empty strings, got {_describe(item)}"
                )
        queues = tuple(queues_value)
    return AgentEvent(
        event_id,
        etype,
        ts,
        agent_id,
        state,
        reason,
        _opt_id(obj, "name", MAX_TEXT_CHARS),
        _opt_id(obj, "team"),
        _opt_id(obj, "site"),
        queues,
        source,
        client,
    )


def _case(
    obj: dict[str, Any], event_id: str, etype: str, ts: int, source: str | None, client: str | None
) -> CaseEvent:
    level = obj.get("level")
    if level is not None:
        if isinstance(level, bool) or not isinstance(level, str | int):
            raise _Invalid(BAD_TYPE, f"'level' must be a string or integer, got {_describe(level)}")
        level = str(level)
        if not 0 < len(level) <= MAX_ID_CHARS:
            raise _Invalid(BAD_VALUE, "'level' must be 1 to 256 characters")
    return CaseEvent(
        event_id,
        etype,
        ts,
        _id(obj, "case_id"),
        _opt_id(obj, "customer_id"),
        _opt_id(obj, "contact_id"),
        _opt_id(obj, "agent_id"),
        _opt_id(obj, "queue"),
        _opt_id(obj, "category"),
        _opt_bool(obj, "complaint"),
        level,
        _opt_bool(obj, "first_contact"),
        source,
        client,
    )


def _survey(
    obj: dict[str, Any], event_id: str, etype: str, ts: int, source: str | None, client: str | None
) -> SurveyEvent:
    return SurveyEvent(
        event_id,
        etype,
        ts,
        _id(obj, "survey_id"),
        _opt_id(obj, "contact_id"),
        _opt_id(obj, "agent_id"),
        _opt_id(obj, "queue"),
        _opt_id(obj, "customer_id"),
        _opt_int(obj, "csat", 1, 5),
        _opt_int(obj, "nps", 0, 10),
        _opt_bool(obj, "resolved"),
        source,
        client,
    )


def encode_event(event: Event) -> bytes:
    """The contract JSON of an event (epoch-ms time, absent optionals left out)."""
    out: dict[str, object] = {}
    value: Any
    for name, value in zip(event._fields, event, strict=True):
        if value is None:
            continue
        if name == "ts_ms":
            out["ts"] = value
        elif name == "queues":
            out[name] = list(value)  # a tuple of queue names
        else:
            out[name] = value
    return orjson.dumps(out)
