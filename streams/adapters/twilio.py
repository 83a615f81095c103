"""Twilio TaskRouter events → contract events, and webhook signature checks.

Two input forms, both normalised to one record before mapping:

- **Event Callbacks**: the form-encoded POST TaskRouter sends to a Workspace's
  ``EventCallbackUrl`` (https://www.twilio.com/docs/taskrouter/api/event/reference):
  ``EventType``, ``Timestamp`` (epoch seconds; ``TimestampMs`` when present), ``TaskSid``,
  ``TaskQueueSid`` / ``TaskQueueName``, ``WorkerSid`` / ``WorkerName``,
  ``WorkerActivityName``, ``ReservationSid`` …;
- **Event Streams**: CloudEvents JSON (``type`` ``com.twilio.taskrouter.<event>``), whose
  ``data`` (or ``data.payload`` in schema v4) holds the same fields in snake case
  (https://www.twilio.com/docs/events/event-types/taskrouter/reservation); times are ISO-8601
  or epoch seconds / milliseconds, told apart by magnitude.

Mapping (the contact is the Task, the agent the Worker's sid with its name as ``name``, the
queue the TaskQueue's friendly name, else its sid):

===================================  =====================================================
TaskRouter event                     contract events
===================================  =====================================================
task-queue.entered                   ``contact.queued`` (channel, priority)
reservation.created                  ``contact.offered``
reservation.accepted                 ``contact.answered``; worker ``on_contact``
reservation.rejected / timeout /     ``contact.missed``
canceled / rescinded
reservation.wrapup                   ``contact.ended``; worker ``after_contact_work``
reservation.completed                ``contact.wrapped`` (and ``ended`` if no wrapup came)
task.canceled (not yet answered)     ``contact.abandoned`` (``flowed_out`` ``timeout`` when
                                     the reason is the task's TTL)
task-queue.timeout                   ``contact.flowed_out`` ``timeout``
task-queue.moved                     ``contact.flowed_out`` ``overflow`` from the old queue
worker.activity.update               ``agent.state`` from the activity's availability:
                                     Offline → ``logged_out``, available → ``available``,
                                     otherwise ``not_ready`` with the activity as reason
activity.created / updated           remembered: which activities are available
other TaskRouter events              ignored (counted)
===================================  =====================================================

A worker with an accepted reservation is ``on_contact`` and one wrapping is
``after_contact_work`` whatever its activity; otherwise its activity decides. The adapter
remembers tasks' queues, workers' reservations and activities (:meth:`TwilioAdapter.to_state`
carries them across restarts).

Signatures (https://www.twilio.com/docs/usage/security#validating-requests): the
``X-Twilio-Signature`` header is base64(HMAC-SHA1(auth token, URL + every POST parameter's
name and value, sorted by name)); for a JSON body the URL carries ``bodySHA256`` (the hex
SHA-256 of the body) and only the URL is signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple
from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit

import orjson

from streams.adapters.common import (
    BAD_ENCODING,
    UNKNOWN_EVENT,
    AdapterCounts,
    Result,
    agent_event,
    any_time_ms,
    bounded_id,
    contact_event,
    reason_text,
    reject,
    stable_id,
    text_field,
)
from streams.events import BAD_TIMESTAMP, INVALID_JSON, MAX_TEXT_CHARS, MISSING_FIELD, Rejection

SOURCE: Final = "twilio"
CLOUDEVENT_PREFIX: Final = "com.twilio.taskrouter."
MAX_BODY_BYTES: Final = 1024 * 1024
_FAMILIES: Final = (
    "activity.",
    "reservation.",
    "task.",
    "task-queue.",
    "task-channel.",
    "worker.",
    "worker-channel.",
    "workflow.",
    "workspace.",
)
_MISSED: Final = frozenset(
    {
        "reservation.rejected",
        "reservation.timeout",
        "reservation.canceled",
        "reservation.rescinded",
    }
)
_CHANNELS: Final = {
    "voice": "voice",
    "chat": "chat",
    "sms": "message",
    "message": "message",
    "messaging": "message",
    "email": "email",
    "callback": "callback",
}
_AVAILABLE_NAMES: Final = frozenset({"available", "idle", "ready"})
_PRUNE_EVERY: Final = 1000
_FORGET_MS: Final = 24 * 3_600_000


@dataclass(frozen=True, slots=True)
class TwilioOptions:
    """How to read a Workspace's events."""

    client: str | None = None
    """The BPO client (tenant) of every event, if any."""
    activity_availability: Mapping[str, bool] = field(default_factory=dict)
    """Activity name → available, for activities whose availability no event has told."""
    offline_activities: frozenset[str] = frozenset({"offline"})
    """Activity names (lower case) that mean logged out."""


# --- signatures -------------------------------------------------------------------------------


def compute_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """``X-Twilio-Signature`` of a request: base64 HMAC-SHA1 over the URL followed by each
    parameter's name and value, sorted by name (then value)."""
    # each distinct value of a repeated parameter counts once, as in Twilio's own helpers
    payload = url + "".join(name + value for name, value in sorted(set(params)))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def validate_signature(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str | None
) -> bool:
    """True when ``signature`` signs ``url`` and the form ``params``. Like Twilio's helpers,
    the URL is also tried with its default port written out and left out."""
    if not signature or not signature.isascii():
        return False  # base64 is ASCII; compare_digest() raises TypeError on other text
    pairs = list(params)
    return any(
        hmac.compare_digest(compute_signature(auth_token, candidate, pairs), signature)
        for candidate in _url_variants(url)
    )


def validate_json_signature(auth_token: str, url: str, body: bytes, signature: str | None) -> bool:
    """True when ``signature`` signs ``url`` and the URL's ``bodySHA256`` is the body's hash."""
    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:  # not a URL (e.g. "https://[abc", from a forwarded Host header)
        return False
    expected = query.get("bodySHA256", [""])[0]
    digest = hashlib.sha256(body).digest()
    # hex today; Twilio's older helpers wrote it in base64
    if (
        not expected
        or not expected.isascii()
        or not (
            hmac.compare_digest(expected.lower(), digest.hex())
            or hmac.compare_digest(expected, base64.b64encode(digest).decode())
        )
    ):
        return False
    return validate_signature(auth_token, url, (), signature)


def _url_variants(url: str) -> list[str]:
    variants = [url]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a bad IPv6 host or port: only the URL as it is can match
        return variants
    default = {"https": 443, "http": 80}.get(parts.scheme)
    if default is None or parts.hostname is None:
        return variants
    host = parts.hostname
    if port is None:
        variants.append(urlunsplit(parts._replace(netloc=f"{host}:{default}")))
    elif port == default:
        variants.append(urlunsplit(parts._replace(netloc=host)))
    return variants


# --- decoding bodies --------------------------------------------------------------------------


def parse_form(body: bytes) -> list[tuple[str, str]] | Rejection:
    """The parameters of a form-encoded body, in order."""
    try:
        return parse_qsl(
            body.decode(), keep_blank_values=True, strict_parsing=True, max_num_fields=1000
        )
    except (UnicodeDecodeError, ValueError) as problem:
        return Rejection(BAD_ENCODING, f"not a form-encoded body: {problem}")


def decode_body(raw: bytes) -> list[Any] | Rejection:
    """The payloads in one body or file line: a JSON object (a CloudEvent or callback
    fields), each element of a JSON array (the Event Streams webhook sink posts arrays), or
    a form-encoded callback (as a dict of its fields)."""
    if len(raw) > MAX_BODY_BYTES:
        return Rejection(BAD_ENCODING, f"body is {len(raw)} bytes, the limit is {MAX_BODY_BYTES}")
    text = raw.strip()
    if text[:1] in (b"{", b"["):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as problem:
            return Rejection(INVALID_JSON, f"not valid JSON: {problem}")
        return value if isinstance(value, list) else [value]
    pairs = parse_form(text)
    if isinstance(pairs, Rejection):
        return pairs
    if not pairs:
        return Rejection(BAD_ENCODING, "empty body")
    return [dict(pairs)]


# --- one normalised event ---------------------------------------------------------------------


class TaskRouterEvent(NamedTuple):
    """The fields the mapping uses, whichever form they came in."""

    kind: str
    event_sid: str | None
    ts_ms: int
    resource_sid: str | None
    task_sid: str | None
    queue_sid: str | None
    queue_name: str | None
    worker_sid: str | None
    worker_name: str | None
    activity_sid: str | None
    activity_name: str | None
    activity_available: bool | None
    reservation_sid: str | None
    channel: str | None
    priority: int | None
    canceled_reason: str | None


def normalize(payload: Mapping[str, Any]) -> TaskRouterEvent | Rejection:
    """One callback (PascalCase fields) or CloudEvent (snake case) as a TaskRouterEvent."""
    data: Mapping[str, Any] = payload
    kind = text_field(dict(payload), "EventType")
    cloud_type = payload.get("type")
    if kind is None and isinstance(cloud_type, str):
        inner = payload.get("data")
        if not isinstance(inner, dict):
            return Rejection(MISSING_FIELD, "CloudEvent without a 'data' object")
        nested = inner.get("payload")
        data = nested if isinstance(nested, dict) else inner
        kind = text_field(dict(data), "eventtype", "event_type")
        if kind is None and cloud_type.startswith(CLOUDEVENT_PREFIX):
            kind = cloud_type[len(CLOUDEVENT_PREFIX) :]
        fields = _snake(data, payload)
    else:
        fields = _pascal(payload)
    if kind is None:
        return Rejection(MISSING_FIELD, "no EventType (callback) or type (CloudEvent)")
    ts_ms = None
    for raw in fields.pop("times"):
        if raw is not None:
            ts_ms = any_time_ms(raw)
            if ts_ms is None:
                return Rejection(BAD_TIMESTAMP, f"{kind}: unreadable time {str(raw)[:40]!r}")
            break
    if ts_ms is None:
        return Rejection(MISSING_FIELD, f"{kind}: no Timestamp")
    return TaskRouterEvent(kind=kind, ts_ms=ts_ms, **fields)


def _pascal(p: Mapping[str, Any]) -> dict[str, Any]:
    d = dict(p)
    return {
        "times": [d.get("TimestampMs"), d.get("Timestamp")],
        "event_sid": text_field(d, "Sid", "EventSid"),
        "resource_sid": text_field(d, "ResourceSid"),
        "task_sid": text_field(d, "TaskSid"),
        "queue_sid": text_field(d, "TaskQueueSid"),
        "queue_name": text_field(d, "TaskQueueName", "TaskQueueFriendlyName"),
        "worker_sid": text_field(d, "WorkerSid"),
        "worker_name": text_field(d, "WorkerName", "WorkerFriendlyName"),
        "activity_sid": text_field(d, "WorkerActivitySid", "ActivitySid"),
        "activity_name": text_field(d, "WorkerActivityName", "ActivityName"),
        "activity_available": _flag(d.get("WorkerActivityAvailable", d.get("ActivityAvailable"))),
        "reservation_sid": text_field(d, "ReservationSid"),
        "channel": text_field(d, "TaskChannelUniqueName"),
        "priority": _int(d.get("TaskPriority")),
        "canceled_reason": text_field(d, "TaskCanceledReason"),
    }


def _snake(data: Mapping[str, Any], envelope: Mapping[str, Any]) -> dict[str, Any]:
    d = dict(data)
    return {
        "times": [
            d.get("timestamp_ms"),
            d.get("event_date_ms"),
            d.get("timestamp"),
            envelope.get("time"),
        ],
        "event_sid": text_field(d, "sid") or text_field(dict(envelope), "id"),
        "resource_sid": text_field(d, "resource_sid"),
        "task_sid": text_field(d, "task_sid"),
        "queue_sid": text_field(d, "task_queue_sid"),
        "queue_name": text_field(d, "task_queue_name"),
        "worker_sid": text_field(d, "worker_sid"),
        "worker_name": text_field(d, "worker_name"),
        "activity_sid": text_field(d, "worker_activity_sid", "activity_sid"),
        "activity_name": text_field(d, "worker_activity_name", "activity_name"),
        "activity_available": _flag(
            d.get("worker_activity_available", d.get("activity_available"))
        ),
        "reservation_sid": text_field(d, "reservation_sid"),
        "channel": text_field(d, "task_channel_unique_name"),
        "priority": _int(d.get("task_priority")),
        "canceled_reason": text_field(d, "task_canceled_reason"),
    }


def _flag(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _is_integer(value.strip()):
        number = int(value)
    else:
        return None
    return number if -(2**31) <= number < 2**31 else None


def _is_integer(text: str) -> bool:
    digits = text[1:] if text.startswith("-") else text
    # ASCII only (str.isdigit() says yes to "²", which int() refuses), and short: a priority
    return 0 < len(digits) <= 18 and digits.isascii() and digits.isdigit()


# --- the adapter ------------------------------------------------------------------------------


class _Worker:
    __slots__ = ("accepted", "activity", "available", "last", "name", "wrapping")

    def __init__(self) -> None:
        self.name: str | None = None
        self.activity: str | None = None
        self.available: bool | None = None
        self.accepted: set[str] = set()
        self.wrapping: set[str] = set()
        self.last: tuple[str, str | None] | None = None

    def to_state(self) -> list[Any]:
        return [
            self.name,
            self.activity,
            self.available,
            sorted(self.accepted),
            sorted(self.wrapping),
            None if self.last is None else list(self.last),
        ]

    @classmethod
    def from_state(cls, state: list[Any]) -> _Worker:
        worker = cls()
        worker.name, worker.activity, worker.available = state[0], state[1], state[2]
        worker.accepted, worker.wrapping = set(state[3]), set(state[4])
        worker.last = None if state[5] is None else (state[5][0], state[5][1])
        return worker


class TwilioAdapter:
    """Turns TaskRouter events into contract events (see the module doc)."""

    def __init__(
        self, options: TwilioOptions | None = None, state: Mapping[str, Any] | None = None
    ) -> None:
        self.options = options or TwilioOptions()
        self.counts = AdapterCounts()
        self._workers: dict[str, _Worker] = {}
        self._tasks: dict[str, list[Any]] = {}
        """task sid → [its current queue, answered, last event time]."""
        self._queue_names: dict[str, str] = {}
        self._activities: dict[str, bool] = {}
        """activity sid or lower-case name → available."""
        self._since_prune = 0
        if state:
            self._workers = {k: _Worker.from_state(v) for k, v in state.get("workers", {}).items()}
            self._tasks = {k: list(v) for k, v in state.get("tasks", {}).items()}
            self._queue_names = dict(state.get("queue_names", {}))
            self._activities = dict(state.get("activities", {}))

    def to_state(self) -> dict[str, Any]:
        return {
            "workers": {k: w.to_state() for k, w in self._workers.items()},
            "tasks": self._tasks,
            "queue_names": self._queue_names,
            "activities": self._activities,
        }

    # -- input ---------------------------------------------------------------------------------

    def feed(self, payload: object) -> Result:
        """The events of one callback (its fields as a mapping) or one CloudEvent."""
        self.counts.inputs += 1
        if not isinstance(payload, Mapping):
            return reject(self.counts, INVALID_JSON, "a TaskRouter event must be an object")
        event = normalize(payload)
        if isinstance(event, Rejection):
            return reject(self.counts, event.reason, event.message)
        handler = _HANDLERS.get(event.kind)
        if handler is None:
            if event.kind.startswith(_FAMILIES):
                self.counts.ignored[event.kind] += 1
                return []
            return reject(
                self.counts, UNKNOWN_EVENT, f"unknown TaskRouter event {event.kind[:60]!r}"
            )
        out: list[dict[str, Any]] = []
        problem = handler(self, event, out)
        if problem is not None:
            return reject(self.counts, problem.reason, problem.message)
        self._since_prune += 1
        if self._since_prune >= _PRUNE_EVERY:
            self._prune(event.ts_ms)
        self.counts.events += len(out)
        return out

    def feed_bytes(self, raw: bytes) -> list[Result]:
        """Every payload of one body or file line (see :func:`decode_body`), fed in order."""
        payloads = decode_body(raw)
        if isinstance(payloads, Rejection):
            self.counts.inputs += 1
            return [reject(self.counts, payloads.reason, payloads.message)]
        return [self.feed(payload) for payload in payloads]

    # -- helpers -------------------------------------------------------------------------------

    def _event_id(self, event: TaskRouterEvent, suffix: str) -> str:
        base = event.event_sid or stable_id(
            "tr",
            event.kind,
            event.resource_sid,
            event.task_sid,
            event.reservation_sid,
            event.worker_sid,
            event.ts_ms,
        )
        return bounded_id(f"twilio:{base}:{suffix}", "twilio")

    def _queue(self, event: TaskRouterEvent) -> str | None:
        if event.queue_sid and event.queue_name:
            self._queue_names[event.queue_sid] = event.queue_name
        if event.queue_name:
            return event.queue_name
        if event.queue_sid:
            return self._queue_names.get(event.queue_sid, event.queue_sid)
        return None

    def _task_queue(self, event: TaskRouterEvent) -> str | None:
        """The queue the task is in: the one it entered last, else the event's."""
        known = self._tasks.get(event.task_sid or "")
        return known[0] if known else self._queue(event)

    def _contact(
        self, event: TaskRouterEvent, kind: str, queue: str, **fields: Any
    ) -> dict[str, Any]:
        assert event.task_sid is not None
        return contact_event(
            self._event_id(event, kind),
            kind,
            event.ts_ms,
            bounded_id(event.task_sid, "task"),
            bounded_id(queue, "queue"),
            source=SOURCE,
            client=self.options.client,
            **fields,
        )

    def _worker(self, event: TaskRouterEvent) -> _Worker:
        assert event.worker_sid is not None
        worker = self._workers.get(event.worker_sid)
        if worker is None:
            worker = self._workers[event.worker_sid] = _Worker()
        if event.worker_name:
            worker.name = event.worker_name[:MAX_TEXT_CHARS]
        return worker

    def _available(self, event: TaskRouterEvent) -> bool | None:
        if event.activity_available is not None:
            return event.activity_available
        for key in (event.activity_sid, (event.activity_name or "").lower()):
            if key and key in self._activities:
                return self._activities[key]
        name = event.activity_name or ""
        configured = self.options.activity_availability.get(name)
        if configured is not None:
            return configured
        return name.lower() in _AVAILABLE_NAMES if name else None

    def _emit_state(
        self, event: TaskRouterEvent, worker: _Worker, out: list[dict[str, Any]]
    ) -> None:
        if worker.accepted:
            now: tuple[str, str | None] = ("on_contact", None)
        elif worker.wrapping:
            now = ("after_contact_work", None)
        elif worker.activity is None:
            return  # nothing known yet to say
        elif worker.activity.lower() in self.options.offline_activities:
            now = ("logged_out", None)
        elif worker.available:
            now = ("available", None)
        else:
            now = ("not_ready", reason_text(worker.activity))
        if now == worker.last:
            return
        worker.last = now
        assert event.worker_sid is not None
        out.append(
            agent_event(
                self._event_id(event, "state"),
                event.ts_ms,
                bounded_id(event.worker_sid, "worker"),
                now[0],
                source=SOURCE,
                reason=now[1],
                name=worker.name,
                client=self.options.client,
            )
        )

    def _prune(self, now_ms: int) -> None:
        self._since_prune = 0
        self._tasks = {k: v for k, v in self._tasks.items() if v[2] >= now_ms - _FORGET_MS}

    # -- events --------------------------------------------------------------------------------

    def _entered(self, event: TaskRouterEvent, out: list[dict[str, Any]]) -> Rejection | None:
        queue = self._queue(event)
        if event.task_sid is None or queue is None:
            return Rejection(MISSING_FIELD, f"{event.kind} without TaskSid or TaskQueue")
        self._tasks[event.task_sid] = [queue, False, event.ts_ms]
        channel = _CHANNELS.get((event.channel or "").lower())
        out.append(self._contact(event, "queued", queue, channel=channel, priority=event.priority))
        return None

    def _reservation(self, event: TaskRouterEvent, out: list[dict[str, Any]]) -> Rejection | None:
        queue = self._task_queue(event)
        if event.task_sid is None or event.worker_sid is None or queue is None:
            return Rejection(MISSING_FIELD, f"{event.kind} without TaskSid, WorkerSid or TaskQueue")
        worker = self._worker(event)
        agent_id = bounded_id(event.worker_sid, "worker")
        key = event.reservation_sid or event.task_sid
        task = self._tasks.get(event.task_sid)
        if task is not None:
            task[2] = event.ts_ms
        kind = event.kind
        if kind == "reservation.created":
            out.append(self._contact(event, "offered", queue, agent_id=agent_id))
        elif kind == "reservation.accepted":
            out.append(self._contact(event, "answered", queue, agent_id=agent_id))
            if task is not None:
                task[1] = True
            worker.accepted.add(key)
        elif kind in _MISSED:
            out.append(self._contact(event, "missed", queue, agent_id=agent_id))
            worker.accepted.discard(key)
        elif kind == "reservation.wrapup":
            out.append(self._contact(event, "ended", queue, agent_id=agent_id))
            worker.accepted.discard(key)
            worker.wrapping.add(key)
        else:  # reservation.completed
            if key not in worker.wrapping:
                out.append(self._contact(event, "ended", queue, agent_id=agent_id))
            out.append(self._contact(event, "wrapped", queue, agent_id=agent_id))
            worker.accepted.discard(key)
            worker.wrapping.discard(key)
            self._tasks.pop(event.task_sid, None)
        self._emit_state(event, worker, out)
        return None

    def _canceled(self, event: TaskRouterEvent, out: list[dict[str, Any]]) -> Rejection | None:
        if event.task_sid is None:
            return Rejection(MISSING_FIELD, f"{event.kind} without TaskSid")
        task = self._tasks.pop(event.task_sid, None)
        if task is not None and task[1]:
            self.counts.ignored["task.canceled after answer"] += 1
            return None
        queue = task[0] if task else self._queue(event)
        if queue is None:
            return Rejection(MISSING_FIELD, f"{event.kind} of an unknown task without TaskQueue")
        reason = (event.canceled_reason or "").lower()
        if "ttl" in reason or "timeout" in reason:
            out.append(self._contact(event, "flowed_out", queue, reason="timeout"))
        else:
            out.append(self._contact(event, "abandoned", queue))
        return None

    def _left_queue(self, event: TaskRouterEvent, out: list[dict[str, Any]]) -> Rejection | None:
        if event.task_sid is None:
            return Rejection(MISSING_FIELD, f"{event.kind} without TaskSid")
        task = self._tasks.get(event.task_sid)
        named = self._queue(event)
        old = task[0] if task else named
        if old is None:
            return Rejection(MISSING_FIELD, f"{event.kind} of an unknown task without TaskQueue")
        reason = "timeout" if event.kind == "task-queue.timeout" else "overflow"
        out.append(self._contact(event, "flowed_out", old, reason=reason))
        if event.kind == "task-queue.moved" and named is not None and named != old:
            # the event names the queue the task moved to: it is queued there now
            self._tasks[event.task_sid] = [named, False, event.ts_ms]
            out.append(self._contact(event, "queued", named))
        return None

    def _activity(self, event: TaskRouterEvent, out: list[dict[str, Any]]) -> Rejection | None:
        if event.kind.startswith("activity."):
            if event.activity_available is not None:
                for key in (event.activity_sid, (event.activity_name or "").lower()):
                    if key:
                        self._activities[key] = event.activity_available
            return None
        if event.worker_sid is None:
            return Rejection(MISSING_FIELD, f"{event.kind} without WorkerSid")
        worker = self._worker(event)
        if event.activity_name is None:
            return Rejection(MISSING_FIELD, f"{event.kind} without WorkerActivityName")
        worker.activity = event.activity_name
        worker.available = self._available(event)
        self._emit_state(event, worker, out)
        return None


_HANDLERS: Final = {
    "task-queue.entered": TwilioAdapter._entered,
    "reservation.created": TwilioAdapter._reservation,
    "reservation.accepted": TwilioAdapter._reservation,
    "reservation.wrapup": TwilioAdapter._reservation,
    "reservation.completed": TwilioAdapter._reservation,
    **dict.fromkeys(_MISSED, TwilioAdapter._reservation),
    "task.canceled": TwilioAdapter._canceled,
    "task-queue.timeout": TwilioAdapter._left_queue,
    "task-queue.moved": TwilioAdapter._left_queue,
    "worker.activity.update": TwilioAdapter._activity,
    "activity.created": TwilioAdapter._activity,
    "activity.updated": TwilioAdapter._activity,
}
