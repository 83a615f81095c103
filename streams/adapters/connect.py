"""Amazon Connect agent event stream and contact trace records (CTRs) → contract events.

Inputs, one JSON value per line (what a Kinesis / Firehose consumer writes):

- an **agent event** (https://docs.aws.amazon.com/connect/latest/adminguide/agent-event-stream-model.html):
  ``EventType`` ``STATE_CHANGE`` / ``LOGIN`` / ``LOGOUT`` / ``HEART_BEAT`` with the whole
  ``PreviousAgentSnapshot`` and ``CurrentAgentSnapshot``; the two are *diffed*;
- a **contact trace record** (https://docs.aws.amazon.com/connect/latest/adminguide/ctr-data-model.html):
  one completed contact with its queue, agent, hold and ACW times; delivered at least once,
  so an exact repeat (same ``ContactId`` and ``LastUpdateTimestamp``) is skipped;
- a **Kinesis record** wrapping either in base64: ``{"Data": …}`` (GetRecords),
  ``{"kinesis": {"data": …}}`` or ``{"Records": […]}`` (a Lambda event); a JSON array, or
  several JSON values written back to back on one line (Firehose), is read element by
  element.

Agent event diff (contact states, https://docs.aws.amazon.com/connect/latest/adminguide/about-contact-states.html):

==================================  ========================================================
contact change                      contract events
==================================  ========================================================
appears INCOMING/PENDING/CONNECTING ``contact.offered`` (and ``queued`` at ``QueueTimestamp``)
→ CONNECTED                         ``contact.answered`` at ``ConnectedToAgentTimestamp``
CONNECTED ↔ CONNECTED_ONHOLD        ``contact.held`` / ``contact.resumed`` at the event time
                                    (Connect keeps ``StateStartTimestamp`` on hold)
→ MISSED / REJECTED                 ``contact.missed``
→ ENDED                             ``contact.ended`` (ACW starts)
disappears after ENDED              ``contact.wrapped`` (ACW over)
disappears while connected          ``contact.ended`` + ``contact.wrapped`` (no ACW)
==================================  ========================================================

The agent's state is derived from each snapshot: a connected contact → ``on_contact``, an
ENDED one → ``after_contact_work``, else the agent status (``ROUTABLE`` → ``available``,
``OFFLINE`` or a LOGOUT → ``logged_out``, a custom status → ``not_ready`` with its name as
reason); an event is emitted when the two snapshots' states differ. ``HEART_BEAT`` changes
nothing but the agent's freshness (:attr:`ConnectAdapter.freshness`).

CTR: ``contact.queued`` at ``Queue.EnqueueTimestamp``; answered at
``Agent.ConnectedToAgentTimestamp``, ``ended`` at ``AfterContactWorkStartTimestamp`` (or the
disconnect), ``wrapped`` at ``AfterContactWorkEndTimestamp``, ``transferred`` at
``TransferCompletedTimestamp``; a CTR only knows the total ``CustomerHoldDuration``, so its
hold is one held/resumed pair of that length at the start of the conversation (turn off with
:attr:`ConnectOptions.ctr_holds` when the agent event stream, which has the real hold times,
feeds the same queues). Without an agent, dequeued by a customer disconnect →
``abandoned``, by a transfer → ``flowed_out`` ``overflow``, otherwise ``timeout``.

Contact facts get ids from the ContactId (``connect:<ContactId>:answered`` …), so the agent
event stream and the CTR of the same contact agree and the core keeps one copy of each fact.
Queues are named by ``Queue.Name``, else the queue id at the end of the ARN; agents by
``Username``, else the user id at the end of the ARN.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import orjson

from streams.adapters.common import (
    BAD_ENCODING,
    BAD_NUMBER,
    UNKNOWN_EVENT,
    AdapterCounts,
    Result,
    agent_event,
    bounded_id,
    contact_event,
    iso_ms,
    reason_text,
    reject,
    text_field,
)
from streams.events import BAD_TIMESTAMP, BAD_TYPE, INVALID_JSON, MISSING_FIELD, Rejection

SOURCE: Final = "connect"
MAX_LINE_BYTES: Final = 4 * 1024 * 1024
_SEEN_CTRS: Final = 100_000
_SEEN_CTRS_SAVED: Final = 10_000
_OFFERED: Final = frozenset({"INCOMING", "PENDING", "CONNECTING"})
_TALKING: Final = frozenset({"CONNECTED", "CONNECTED_ONHOLD"})
_MISSED: Final = frozenset({"MISSED", "REJECTED"})
_CHANNELS: Final = {"VOICE": "voice", "CHAT": "chat", "EMAIL": "email"}
_AGENT_EVENT_TYPES: Final = frozenset({"STATE_CHANGE", "LOGIN", "LOGOUT", "HEART_BEAT"})
_MAX_NESTING: Final = 16
"""Levels of arrays, Lambda batches and Kinesis wrappers around one record (real ones use
two): deeper input is refused before reading it would exhaust Python's stack."""


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """How to read an Amazon Connect instance's streams."""

    client: str | None = None
    """The BPO client (tenant) of every event, if any."""
    ctr_holds: bool = True
    """Turn a CTR's total hold time into one held/resumed pair (see the module doc)."""


# --- decoding lines ---------------------------------------------------------------------------


def decode_line(raw: bytes) -> list[Any]:
    """The agent events and CTRs in one line: each a dict, or a Rejection for a part that
    cannot be read. Unwraps Kinesis records (base64 ``Data``) and Lambda batches."""
    if len(raw) > MAX_LINE_BYTES:
        return [Rejection(BAD_ENCODING, f"line is {len(raw)} bytes, over {MAX_LINE_BYTES}")]
    try:
        values = _json_values(raw.decode())
    except UnicodeDecodeError as problem:
        return [Rejection(BAD_ENCODING, f"not UTF-8: {problem}")]
    except ValueError as problem:
        return [Rejection(INVALID_JSON, f"not valid JSON: {problem}")]
    except RecursionError:  # the stdlib decoder of back-to-back values recurses per level
        return [Rejection(INVALID_JSON, "not valid JSON: nested too deep")]
    out: list[Any] = []
    for value in values:
        out.extend(_unwrap(value))
    return out


def _json_values(text: str) -> list[Any]:
    """One or several JSON values written back to back (Firehose does not separate them)."""
    text = text.strip()
    try:
        return [orjson.loads(text)]
    except orjson.JSONDecodeError:
        pass
    decoder = json.JSONDecoder()
    values = []
    at = 0
    while at < len(text):
        value, at = decoder.raw_decode(text, at)
        values.append(value)
        while at < len(text) and text[at] in " \t\r\n,":
            at += 1
    return values


def _unwrap(value: Any, depth: int = 0) -> list[Any]:
    if depth > _MAX_NESTING:
        return [Rejection(BAD_TYPE, f"records nested more than {_MAX_NESTING} levels deep")]
    if isinstance(value, list):  # a JSON array of records
        return [item for element in value for item in _unwrap(element, depth + 1)]
    if not isinstance(value, dict):
        return [Rejection(BAD_TYPE, "expected a JSON object (agent event, CTR or Kinesis record)")]
    records = value.get("Records")
    if isinstance(records, list):
        return [item for record in records for item in _unwrap(record, depth + 1)]
    kinesis = value.get("kinesis")
    if isinstance(kinesis, dict):
        value = kinesis
    data = value.get("Data", value.get("data"))
    if isinstance(data, str) and "EventType" not in value and "ContactId" not in value:
        try:
            decoded = base64.b64decode(data, validate=True)
            inner = orjson.loads(decoded)
        except (binascii.Error, ValueError) as problem:
            return [Rejection(BAD_ENCODING, f"Kinesis record data is not base64 JSON: {problem}")]
        return _unwrap(inner, depth + 1)
    return [value]


# --- helpers ----------------------------------------------------------------------------------


def _arn_tail(arn: object) -> str | None:
    if isinstance(arn, str) and arn:
        return arn.rsplit("/", 1)[-1] or None
    return None


def _queue_name(queue: object) -> str | None:
    if not isinstance(queue, dict):
        return None
    return text_field(queue, "Name") or _arn_tail(queue.get("ARN"))


class _BadInput(Exception):  # noqa: N818 - internal control flow, never escapes this module
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.rejection = Rejection(reason, message)


def _time(obj: Mapping[str, Any], name: str, *, required: bool = False) -> int | None:
    value = obj.get(name)
    if value is None or value == "":
        if required:
            raise _BadInput(MISSING_FIELD, f"required field '{name}' is missing")
        return None
    ms = iso_ms(value)
    if ms is None:
        raise _BadInput(BAD_TIMESTAMP, f"'{name}' is not an ISO-8601 time: {str(value)[:40]!r}")
    return ms


def _seconds(obj: Mapping[str, Any], name: str) -> float:
    value = obj.get(name)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _BadInput(BAD_NUMBER, f"'{name}' must be a number of seconds, got {value!r}")
    try:
        seconds = float(value)
    except ValueError:
        raise _BadInput(
            BAD_NUMBER, f"'{name}' must be a number of seconds, got {value!r}"
        ) from None
    if not 0 <= seconds < 10**7:
        raise _BadInput(BAD_NUMBER, f"'{name}' is out of range: {value!r}")
    return seconds


class _Add(Protocol):
    def __call__(self, kind: str, ts_ms: int, *, single: bool = False, **fields: Any) -> None: ...


# --- the adapter ------------------------------------------------------------------------------


class ConnectAdapter:
    """Turns agent events and CTRs into contract events (see the module doc)."""

    def __init__(
        self, options: ConnectOptions | None = None, state: Mapping[str, Any] | None = None
    ) -> None:
        self.options = options or ConnectOptions()
        self.counts = AdapterCounts()
        self.freshness: dict[str, int] = {}
        """Agent → time of the newest event of any kind (heartbeats included)."""
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        if state:
            self._seen.update((tuple(key), None) for key in state.get("seen_ctrs", []))
            self.freshness = dict(state.get("freshness", {}))

    def to_state(self) -> dict[str, Any]:
        keys = list(self._seen)[-_SEEN_CTRS_SAVED:]
        return {"seen_ctrs": [list(k) for k in keys], "freshness": self.freshness}

    def feed(self, payload: object) -> Result:
        """The events of one agent event or one CTR."""
        self.counts.inputs += 1
        if isinstance(payload, Rejection):
            return reject(self.counts, payload.reason, payload.message)
        if not isinstance(payload, dict):
            return reject(self.counts, BAD_TYPE, "expected a JSON object")
        out: list[dict[str, Any]] = []
        try:
            if "EventType" in payload and (
                "AgentARN" in payload or "CurrentAgentSnapshot" in payload
            ):
                self._agent_event(payload, out)
            elif "ContactId" in payload:
                self._ctr(payload, out)
            else:
                raise _BadInput(UNKNOWN_EVENT, "neither an agent event nor a contact trace record")
        except _BadInput as problem:
            return reject(self.counts, problem.rejection.reason, problem.rejection.message)
        self.counts.events += len(out)
        return out

    def feed_bytes(self, raw: bytes) -> list[Result]:
        """Every agent event and CTR of one line (see :func:`decode_line`), fed in order."""
        return [self.feed(payload) for payload in decode_line(raw)]

    # -- agent events --------------------------------------------------------------------------

    def _agent_event(self, event: dict[str, Any], out: list[dict[str, Any]]) -> None:
        kind = event.get("EventType")
        if not isinstance(kind, str) or kind not in _AGENT_EVENT_TYPES:
            raise _BadInput(UNKNOWN_EVENT, f"unknown agent event type {str(kind)[:40]!r}")
        ts = _time(event, "EventTimestamp", required=True)
        assert ts is not None
        previous = event.get("PreviousAgentSnapshot") or {}
        current = event.get("CurrentAgentSnapshot") or {}
        if not isinstance(previous, dict) or not isinstance(current, dict):
            raise _BadInput(BAD_TYPE, "agent snapshots must be objects")
        agent_id = self._agent_id(current, previous, event.get("AgentARN"))
        if agent_id is None:
            raise _BadInput(MISSING_FIELD, "agent event without a Username or AgentARN")
        if ts > self.freshness.get(agent_id, -1):
            self.freshness[agent_id] = ts
        if kind == "HEART_BEAT":
            self.counts.ignored["HEART_BEAT"] += 1
            return
        event_id = text_field(event, "EventId") or f"{agent_id}:{ts}"
        self._diff_contacts(agent_id, ts, previous, current, out)
        before = _agent_state(previous) if previous else None
        after = ("logged_out", None) if kind == "LOGOUT" else _agent_state(current)
        if after is not None and (after != before or kind in ("LOGIN", "LOGOUT")):
            config = current.get("Configuration") or previous.get("Configuration") or {}
            out.append(
                agent_event(
                    bounded_id(f"connect:{event_id}:state", "connect"),
                    ts,
                    agent_id,
                    after[0],
                    source=SOURCE,
                    reason=after[1],
                    name=_full_name(config),
                    queues=_queues(config),
                    client=self.options.client,
                )
            )

    def _agent_id(self, *sources: object) -> str | None:
        for source in sources:
            if isinstance(source, dict):
                config = source.get("Configuration")
                if isinstance(config, dict):
                    name = text_field(config, "Username")
                    if name:
                        return bounded_id(name, "connect-agent")
            else:
                tail = _arn_tail(source)
                if tail:
                    return bounded_id(tail, "connect-agent")
        return None

    def _diff_contacts(
        self,
        agent_id: str,
        ts: int,
        previous: Mapping[str, Any],
        current: Mapping[str, Any],
        out: list[dict[str, Any]],
    ) -> None:
        before = _contacts(previous)
        after = _contacts(current)
        for contact_id, contact in after.items():
            queue = _queue_name(contact.get("Queue"))
            old = before.get(contact_id)
            state = contact.get("State")
            old_state = None if old is None else old.get("State")
            if state == old_state:
                continue
            if queue is None:
                self.counts.ignored["contact without queue"] += 1
                continue
            started = _time(contact, "StateStartTimestamp") or ts
            add = self._adder(contact_id, queue, agent_id, out)
            queued = _time(contact, "QueueTimestamp")
            if old is None and queued is not None:
                add("queued", queued, single=True, channel=_channel(contact))
            if state in _OFFERED:
                add("offered", started)
            elif state in _TALKING:
                if old_state == "CONNECTED_ONHOLD":
                    add("resumed", ts)
                elif old_state not in _TALKING:
                    connected = _time(contact, "ConnectedToAgentTimestamp") or started
                    add("answered", connected, single=True)
                if state == "CONNECTED_ONHOLD":
                    add("held", ts)
            elif state in _MISSED:
                add("missed", started)
            elif state == "ENDED":
                if old_state is None or old_state in _OFFERED:
                    answered = _time(contact, "ConnectedToAgentTimestamp")
                    if answered is not None:
                        add("answered", answered, single=True)
                add("ended", started, single=True)
        for contact_id, contact in before.items():
            if contact_id in after:
                continue
            queue = _queue_name(contact.get("Queue"))
            if queue is None:
                continue
            add = self._adder(contact_id, queue, agent_id, out)
            old_state = contact.get("State")
            if old_state == "ENDED":
                add("wrapped", ts, single=True)
            elif old_state in _TALKING:
                add("ended", ts, single=True)
                add("wrapped", ts, single=True)
            elif old_state in _OFFERED:
                add("missed", ts)

    def _adder(
        self, contact_id: str, queue: str, agent_id: str | None, out: list[dict[str, Any]]
    ) -> _Add:
        """A function adding one fact of this contact to ``out``. Single facts (one per
        contact) get an id from the contact alone, so every source of it agrees."""

        def add(kind: str, ts_ms: int, *, single: bool = False, **fields: Any) -> None:
            needs_agent = kind not in ("queued", "abandoned", "flowed_out")
            suffix = kind if single else f"{kind}:{agent_id}:{ts_ms}"
            out.append(
                contact_event(
                    bounded_id(f"connect:{contact_id}:{suffix}", "connect"),
                    kind,
                    ts_ms,
                    bounded_id(contact_id, "contact"),
                    bounded_id(queue, "queue"),
                    source=SOURCE,
                    agent_id=agent_id if needs_agent else None,
                    client=self.options.client,
                    **fields,
                )
            )

        return add

    # -- contact trace records -----------------------------------------------------------------

    def _ctr(self, ctr: dict[str, Any], out: list[dict[str, Any]]) -> None:
        contact_id = text_field(ctr, "ContactId")
        if contact_id is None:
            raise _BadInput(MISSING_FIELD, "CTR without a ContactId")
        key = (contact_id, str(ctr.get("LastUpdateTimestamp")))
        if key in self._seen:
            self._seen.move_to_end(key)
            self.counts.duplicates += 1
            return
        queue_obj = ctr.get("Queue")
        agent_obj = ctr.get("Agent")
        if queue_obj is not None and not isinstance(queue_obj, dict):
            raise _BadInput(BAD_TYPE, "CTR 'Queue' must be an object")
        if agent_obj is not None and not isinstance(agent_obj, dict):
            raise _BadInput(BAD_TYPE, "CTR 'Agent' must be an object")
        queue = _queue_name(queue_obj)
        events: list[dict[str, Any]] = []
        if queue is None or queue_obj is None:
            self.counts.ignored["CTR without queue"] += 1
        else:
            enqueued = _time(queue_obj, "EnqueueTimestamp")
            dequeued = _time(queue_obj, "DequeueTimestamp")
            _seconds(queue_obj, "Duration")  # checked: a broken record is refused whole
            if enqueued is None:
                self.counts.ignored["CTR without enqueue time"] += 1
            else:
                self._ctr_events(ctr, contact_id, queue, enqueued, dequeued, agent_obj, events)
        self._seen[key] = None
        if len(self._seen) > _SEEN_CTRS:
            self._seen.popitem(last=False)
        out.extend(events)

    def _ctr_events(
        self,
        ctr: dict[str, Any],
        contact_id: str,
        queue: str,
        enqueued: int,
        dequeued: int | None,
        agent_obj: dict[str, Any] | None,
        out: list[dict[str, Any]],
    ) -> None:
        connected = None if agent_obj is None else _time(agent_obj, "ConnectedToAgentTimestamp")
        agent_id = None
        if agent_obj is not None:
            name = text_field(agent_obj, "Username") or _arn_tail(agent_obj.get("ARN"))
            agent_id = None if name is None else bounded_id(name, "connect-agent")
        add = self._adder(contact_id, queue, agent_id, out)
        channel = "callback" if ctr.get("InitiationMethod") == "CALLBACK" else _channel(ctr)
        add("queued", enqueued, single=True, channel=channel)
        transfer = _time(ctr, "TransferCompletedTimestamp")
        disconnect = _time(ctr, "DisconnectTimestamp")
        if agent_obj is not None and connected is not None and agent_id is not None:
            hold_s = _seconds(agent_obj, "CustomerHoldDuration")
            acw_start = _time(agent_obj, "AfterContactWorkStartTimestamp")
            acw_end = _time(agent_obj, "AfterContactWorkEndTimestamp")
            add("answered", connected, single=True)
            if hold_s > 0 and self.options.ctr_holds:
                add("held", connected, single=True)
                add("resumed", connected + round(hold_s * 1000), single=True)
            if transfer is not None:
                add("transferred", transfer, single=True)
            ended = acw_start or disconnect or transfer
            if ended is not None:
                add("ended", ended, single=True)
                add("wrapped", acw_end or ended, single=True)
        elif dequeued is not None:
            if ctr.get("DisconnectReason") == "CUSTOMER_DISCONNECT":
                add("abandoned", dequeued, single=True)
            elif transfer is not None or ctr.get("NextContactId"):
                add("flowed_out", dequeued, single=True, reason="overflow")
            else:
                add("flowed_out", dequeued, single=True, reason="timeout")


def _contacts(snapshot: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    contacts = snapshot.get("Contacts") or []
    if not isinstance(contacts, list):
        raise _BadInput(BAD_TYPE, "'Contacts' must be an array")
    out = {}
    for contact in contacts:
        if not isinstance(contact, dict):
            raise _BadInput(BAD_TYPE, "a contact must be an object")
        contact_id = text_field(contact, "ContactId")
        if contact_id is None:
            raise _BadInput(MISSING_FIELD, "a contact without a ContactId")
        state = contact.get("State")
        if state is not None and not isinstance(state, str):
            raise _BadInput(BAD_TYPE, f"contact {contact_id[:40]!r}: 'State' must be a string")
        out[contact_id] = contact
    return out


def _agent_state(snapshot: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """The contract state a snapshot shows, None when it has no status."""
    states = {c.get("State") for c in _contacts(snapshot).values()}
    status = snapshot.get("AgentStatus")
    if states & _TALKING:
        return ("on_contact", None)
    if "ENDED" in states:
        return ("after_contact_work", None)
    if not isinstance(status, dict):
        return None
    kind = status.get("Type")
    if kind == "OFFLINE":
        return ("logged_out", None)
    if kind == "ROUTABLE":
        return ("available", None)
    return ("not_ready", reason_text(text_field(status, "Name")))


def _full_name(config: Any) -> str | None:
    if not isinstance(config, dict):
        return None
    parts = [text_field(config, "FirstName"), text_field(config, "LastName")]
    name = " ".join(p for p in parts if p)
    return name[:1024] or None


def _queues(config: Any) -> list[str] | None:
    if not isinstance(config, dict):
        return None
    profile = config.get("RoutingProfile")
    inbound = profile.get("InboundQueues") if isinstance(profile, dict) else None
    if not isinstance(inbound, list):
        return None
    names = {_queue_name(q) for q in inbound if isinstance(q, dict) and q.get("Name")}
    # named as the contact events name them (a long name becomes a stable digest)
    return sorted({bounded_id(n, "queue") for n in names if n})[:256] or None


def _channel(obj: Mapping[str, Any]) -> str | None:
    channel = obj.get("Channel")
    return _CHANNELS.get(channel) if isinstance(channel, str) else None
