"""Fuzzing every parser with hypothesis: hostile input is refused with a reason, never a crash.

Each test feeds one parser generated inputs (arbitrary bytes, arbitrary JSON, and inputs that
are valid but for a few mutated fields, types or times) and checks what every result must
be: an event (or contract events that pass :func:`streams.events.validate_event`) or a
rejection whose reason is a known one and whose message is not empty; a configuration or a
:class:`streams.errors.ConfigError` naming the source and the path; an HTTP reply with a
status. Every call runs under a timer (:func:`tests.faults.fuzzing.no_hang`), so a parser
that hangs fails its test instead of stalling the suite.

Inputs are counted per parser; the last test prints the counts and checks the total against
:data:`MIN_TOTAL_INPUTS` when the whole module ran. Bugs this found have regression tests in
``test_fuzz_regressions.py``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import quote, urlencode

import orjson
import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from config.files import parse as parse_yaml
from config.loader import FloorwatchConfig, load_config, parse_config
from streams import erlang
from streams.adapters.asterisk import IGNORED_VERBS, SPECS, AsteriskAdapter, AsteriskOptions
from streams.adapters.common import ADAPTER_REJECTION_REASONS, AdapterCounts
from streams.adapters.connect import ConnectAdapter
from streams.adapters.twilio import (
    TwilioAdapter,
    compute_signature,
    validate_json_signature,
    validate_signature,
)
from streams.errors import ConfigError
from streams.events import (
    AGENT_STATES,
    CONTACT_TYPES,
    CRM_TYPES,
    EVENT_TYPES,
    FLOW_OUT_REASONS,
    FROM_FUTURE,
    MAX_TS_MS,
    REJECTION_REASONS,
    TOO_LATE,
    ContactEvent,
    Rejection,
    encode_event,
    parse_event,
    validate_event,
)
from streams.floor import Floor
from streams.partition import PartitionState
from streams.queues import ACCEPTED, DUPLICATE
from streams.settings import CHANNELS, CoreSettings, ProcessingSettings, QueueSettings, SiteSettings
from tests.faults.fuzzing import (
    EXAMPLES,
    INPUTS,
    Choices,
    fed,
    fuzz,
    no_hang,
    with_deep_values,
)
from wallboard.access import Tokens, presented_token, without_token
from wallboard.api import QueryError, Reply, Routes, interval_range, parse_instant, parse_query
from wallboard.hub import Hub
from wallboard.screen import ViewFilter

ROOT: Final = Path(__file__).resolve().parents[2]
MIN_TOTAL_INPUTS: Final = 100_000
"""Inputs the suite promises to generate across all parsers in one run, counted as
hypothesis examples (each feeds its parser one input or a few: a file of lines, a sequence
of events); the parser calls are counted and printed too."""
_STARTED = time.perf_counter()

fuzz_bytes = st.binary(max_size=400)
"""What most tests draw: the bytes :class:`Choices` builds an input from."""


def assert_rejection(result: object, reasons: tuple[str, ...]) -> None:
    assert isinstance(result, Rejection), result
    assert result.reason in reasons, result
    assert isinstance(result.message, str) and result.message.strip(), result


def check_adapter_result(result: object, counts: AdapterCounts) -> None:
    """Contract events that validate (and keep their queue), or a rejection with a reason."""
    if isinstance(result, Rejection):
        assert_rejection(result, ADAPTER_REJECTION_REASONS)
        return
    assert isinstance(result, list), result
    for event in result:
        valid = validate_event(dict(event))
        assert not isinstance(valid, Rejection), (valid, event)
        if isinstance(valid, ContactEvent):
            assert valid.queue == event["queue"]
    assert counts.inputs >= 1


# --- 1. the event contract: streams.events.parse_event --------------------------------------


def check_parsed(raw: bytes, now_ms: int | None = None) -> object:
    """Parse ``raw``: an event that survives a round trip through :func:`encode_event`, or a
    rejection with a known reason and a message."""
    result = fed("contract events", lambda: parse_event(raw, now_ms=now_ms))
    if isinstance(result, Rejection):
        # too_late needs the fold's watermark: the parser alone never says it
        assert_rejection(result, tuple(r for r in REJECTION_REASONS if r != TOO_LATE))
        assert now_ms is not None or result.reason != FROM_FUTURE
        return result
    assert result.type in EVENT_TYPES
    assert 0 <= result.ts_ms < MAX_TS_MS
    assert now_ms is None or result.ts_ms <= now_ms + 300_000
    assert parse_event(encode_event(result)) == result
    return result


@fuzz(12_000)
@given(st.binary(max_size=300))
@example(b"")
@example(b"\xff\xfe{")
@example(b"[" * 1025)
def test_contract_parser_answers_arbitrary_bytes(raw: bytes) -> None:
    EXAMPLES["contract: bytes"] += 1
    check_parsed(raw)


CONTRACT_KEYS: Final = (
    *("event_id", "type", "ts", "contact_id", "queue", "agent_id", "channel", "priority"),
    *("customer_id", "reason", "to_queue", "state", "queues", "case_id", "survey_id", "csat"),
    *("nps", "complaint", "level", "first_contact", "resolved", "source", "client", "name"),
    *("team", "site"),
)


@fuzz(12_000)
@given(fuzz_bytes, st.integers(200, 1100))
def test_contract_parser_answers_arbitrary_json(data: bytes, depth: int) -> None:
    EXAMPLES["contract: json"] += 1
    choices = Choices(data)
    value = choices.json(CONTRACT_KEYS, depth=4)
    if isinstance(value, dict) and choices.chance(2):  # often an object with a known type
        value["type"] = choices.pick(sorted(EVENT_TYPES))
    check_parsed(with_deep_values(orjson.dumps(value), depth))


WEIRD_TIMES: Final = (
    -1,
    MAX_TS_MS,
    MAX_TS_MS - 1,
    2**63,
    -(2**63),
    2**64 - 1,
    1.5,
    1e30,
    -0.0,
    "",
    " 2024-05-01T10:00:00Z",
    "1700000000000",
    "2024-05-01T10:00:00",
    "2024-05-01 10:00:00+01:00",
    "2024-02-30T00:00:00Z",
    "2024-05-01T24:00:00Z",
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-23:59",
    "1969-12-31T23:59:59.999Z",
    "2100-01-01T00:00:00Z",
    "2099-12-31T23:59:59.999+00:00",
    "2024-05-01T10:00:00+25:00",
    "2024-W18-3T10:00Z",
    "2024-05-01T10:00:00.123456789Z",
    "x" * 65,
    "２０２４-05-01T10:00:00Z",
    True,
    None,
    [],
    {},
)
OFFSETS: Final = ("Z", "+00:00", "+05:30", "-08:00", "+14:00", "-12:00", "+23:59")


def valid_ts(choices: Choices) -> int | str:
    ts_ms = choices.below(MAX_TS_MS)
    if choices.chance(2):
        return ts_ms
    moment = datetime(1970, 1, 2, tzinfo=UTC) + timedelta(
        milliseconds=ts_ms % (MAX_TS_MS - 2 * 86_400_000)
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[: choices.pick((19, 23, 26))] + "Z"


def valid_event(choices: Choices, etype: str) -> dict[str, Any]:
    ident = choices.ident
    event: dict[str, Any] = {"event_id": ident(), "type": etype, "ts": valid_ts(choices)}
    if choices.chance(2):
        event["source"] = ident(("sim", "asterisk"))
    if choices.chance(2):
        event["client"] = ident(("acme",))
    if etype in CONTACT_TYPES:
        event["contact_id"] = ident(("c1", "c2"))
        event["queue"] = ident(("sales", "support"))
        if etype not in ("contact.queued", "contact.abandoned", "contact.flowed_out"):
            event["agent_id"] = ident(("a1", "a2"))
        if etype == "contact.queued":
            event["channel"] = choices.pick(CHANNELS)
            event["priority"] = choices.between(-(2**31), 2**31 - 1)
        elif etype == "contact.flowed_out":
            event["reason"] = choices.pick(FLOW_OUT_REASONS)
        elif etype == "contact.transferred":
            event["to_queue"] = ident(("billing",))
    elif etype == "agent.state":
        event["agent_id"] = ident(("a1", "a2"))
        event["state"] = choices.pick(AGENT_STATES)
        event["queues"] = [ident(("sales", "support")) for _ in range(choices.below(4))]
        for name in ("reason", "team", "site", "name"):
            if choices.chance(2):
                event[name] = ident(("break", "t1", "london"))
    elif etype == "survey.completed":
        event |= {"survey_id": ident(), "csat": choices.between(1, 5)}
        event |= {"nps": choices.between(0, 10), "resolved": choices.chance(2)}
    else:
        event |= {"case_id": ident(), "complaint": choices.chance(2)}
        event |= {"level": choices.pick((0, 3, "tier-2")), "first_contact": choices.chance(2)}
    return event


def weird_value(choices: Choices) -> Any:
    if choices.chance(3):
        return choices.pick(WEIRD_TIMES)
    return choices.json(CONTRACT_KEYS, depth=2)


def near_valid_event(choices: Choices) -> tuple[bytes, int]:
    """A valid event with 0–3 mutations: its bytes and how many mutations it got."""
    event = valid_event(choices, choices.pick(sorted(EVENT_TYPES)))
    mutations = choices.below(4)
    for _ in range(mutations):
        kind = choices.below(5)
        if kind == 0 and event:
            event.pop(choices.pick(sorted(event)))
        elif kind == 1:
            event[choices.pick(CONTRACT_KEYS)] = weird_value(choices)
        elif kind == 2:
            event["ts"] = choices.pick(WEIRD_TIMES) if choices.chance(2) else choices.integer()
        elif kind == 3:
            event["type"] = (
                choices.pick(sorted(EVENT_TYPES)) if choices.chance(2) else choices.text()
            )
        else:
            event[choices.text(8)] = weird_value(choices)
    raw = with_deep_values(orjson.dumps(event), choices.between(200, 1100))
    if mutations and choices.chance(10):  # the bytes themselves damaged
        at = choices.below(len(raw) + 1)
        raw = choices.pick((raw[:at], raw[:at] + b"\xff" + raw[at:], b"[" + raw + b"]", raw + b"}"))
    return raw, mutations


@fuzz(20_000)
@given(fuzz_bytes, st.none() | st.integers(0, MAX_TS_MS))
def test_contract_parser_answers_near_valid_events(data: bytes, now_ms: int | None) -> None:
    EXAMPLES["contract: near-valid"] += 1
    raw, mutations = near_valid_event(Choices(data))
    result = check_parsed(raw, now_ms)
    if not mutations and now_ms is None:
        assert not isinstance(result, Rejection), (raw, result)


# --- 2. the core fold: streams.floor.Floor.ingest -------------------------------------------

FOLD_BASE_MS: Final = int(datetime(2024, 3, 31, 0, 30, tzinfo=UTC).timestamp() * 1000)
"""Half an hour before London's clocks go forward: the London queues' intervals cross it."""
FOLD_SETTINGS: Final = CoreSettings(
    sites=MappingProxyType(
        {
            "london": SiteSettings("london", "Europe/London", 0),
            "kolkata": SiteSettings("kolkata", "Asia/Kolkata", 6 * 60),
        }
    ),
    queues=MappingProxyType(
        {
            "q0": QueueSettings("q0", site="london", interval_min=15),
            "q1": QueueSettings(
                "q1", site="kolkata", interval_min=30, include_flowouts=True, short_abandon_s=0
            ),
            "q2": QueueSettings("q2", site="london", interval_min=60, threshold_s=0.001),
        }
    ),
    processing=ProcessingSettings(lateness_horizon_s=1800, max_open_contact_s=3600),
)
FOLD_TYPES: Final = (*sorted(CONTACT_TYPES), "agent.state", *sorted(CRM_TYPES), "garbage")


def fold_event(choices: Choices, n: int) -> bytes:
    """One valid-ish event of a small floor (4 queues, 6 contacts, 4 agents) within three
    hours either side of :data:`FOLD_BASE_MS`; some repeat an earlier event id."""
    etype = choices.pick(FOLD_TYPES)
    contact, queue, agent = choices.below(6), choices.below(4), choices.below(4)
    ts = FOLD_BASE_MS + choices.between(-3 * 3600, 3 * 3600) * 1000 + choices.below(1000)
    event_id = f"e{choices.below(n)}" if n and choices.chance(5) else f"e{n}"
    if etype == "garbage":
        return b'{"event_id": "' + event_id.encode() + b'", "type": "contact.queued", "ts": '
    event: dict[str, Any] = {"event_id": event_id, "type": etype, "ts": ts}
    if etype in CONTACT_TYPES:
        event |= {"contact_id": f"c{contact}", "queue": f"q{queue}", "agent_id": f"a{agent}"}
        if etype == "contact.flowed_out":
            event["reason"] = choices.pick(FLOW_OUT_REASONS)
        if etype == "contact.transferred":
            event["to_queue"] = f"q{(queue + 1) % 4}"
    elif etype == "agent.state":
        state = choices.pick(AGENT_STATES)
        event |= {"agent_id": f"a{agent}", "state": state, "queues": [f"q{queue}"]}
        event |= {"team": "t", "site": "london"} if agent % 2 else {"site": "kolkata"}
        if state == "not_ready" and choices.chance(2):
            event["reason"] = choices.pick(("break", "lunch"))
    else:
        event |= {"case_id": f"k{contact}", "survey_id": f"s{contact}", "csat": 1 + agent}
    return orjson.dumps(event)


def check_ratio(value: object, where: str) -> None:
    assert value is None or (isinstance(value, float | int) and 0 <= value <= 1), (where, value)


def check_figures(figures: dict[str, Any], where: str) -> None:
    for definition, ratio in figures["service_level"].items():
        check_ratio(ratio, f"{where} {definition}")
    check_ratio(figures["abandon_rate"], f"{where} abandon_rate")
    for name in ("offered", "answered", "answered_within_threshold", "abandoned", "handled"):
        assert isinstance(figures[name], int) and figures[name] >= 0, (where, name, figures)
    assert figures["answered_within_threshold"] <= figures["answered"], (where, figures)
    for name in ("asa_s", "aht_s"):
        assert figures[name] is None or figures[name] >= 0, (where, name, figures)


@fuzz(2_000)
@given(st.binary(min_size=60, max_size=400), st.booleans(), st.integers(-3 * 3600, 4 * 3600))
def test_fold_keeps_its_invariants_on_fuzzed_sequences(
    data: bytes, partitioned: bool, now_offset_s: int
) -> None:
    EXAMPLES["core fold"] += 1
    choices = Choices(data)
    floor = PartitionState(FOLD_SETTINGS) if partitioned else Floor(FOLD_SETTINGS)
    accepted = duplicates = rejected = 0
    for n in range(max(1, len(data) // 6)):
        raw = fold_event(choices, n)
        outcome = fed("core fold (events)", lambda raw=raw: floor.ingest(raw))
        if outcome is ACCEPTED:
            accepted += 1
        elif outcome is DUPLICATE:
            duplicates += 1
        else:
            assert_rejection(outcome, REJECTION_REASONS)
            rejected += 1
    assert sum(floor.events_by_type.values()) == accepted
    assert floor.duplicates == duplicates
    assert sum(floor.rejected.values()) == rejected
    with no_hang():
        for record in floor.records():
            check_figures(record, f"record {record['queue']} {record['interval_start']}")
        snapshot = floor.snapshot(FOLD_BASE_MS + now_offset_s * 1000)
        for view in snapshot["queues"]:
            assert view["waiting"] >= 0 and view["at_risk"] >= 0, view
            for label, figures in view["windows"].items():
                check_figures(figures, f"{view['queue']} {label}")
        if isinstance(floor, PartitionState):
            orjson.dumps(floor.changes())  # what the worker writes to its changelog


# --- 3. adapters: Asterisk queue_log, Twilio TaskRouter, Amazon Connect ---------------------

ASTERISK_VERBS: Final = (*sorted(SPECS), *sorted(IGNORED_VERBS), "BOGUS", "connect", "")
ASTERISK_NUMBERS: Final = (
    *("", "0", "5", "-3", "12", "86400", "99999999999", "9" * 30, "9" * 5000, "²"),
    *("١٢", "--1", "1.5", "x", " 7 ", "-", "+4"),
)


def queue_log_line(choices: Choices) -> str | bytes:
    if choices.chance(10):  # anything at all
        raw = choices.take(choices.below(200))
        return raw if choices.chance(2) else raw.decode("utf-8", "replace")
    stamp = choices.pick(
        (
            str(choices.between(0, 5_000_000_000)),
            str(1_714_557_600 + choices.below(86_400)),
            "2024-05-01 10:00:00",
            "2024-05-01 10:00:00.5+02",
            "1e9",
            "-1",
            choices.text(),
        )
    )
    fields = [
        stamp,
        choices.ident(("1714557600.1", "1714557600.2", "u3", "NONE", "z" * 260)),
        choices.ident(("sales", "support", "NONE", "q" * 260)),
        choices.ident(("PJSIP/alice", "Agent/1001", "NONE", "a" * 300)),
        choices.pick(ASTERISK_VERBS) if choices.byte() % 8 else choices.text(10),
    ]
    for _ in range(choices.below(7)):
        fields.append(choices.pick(ASTERISK_NUMBERS) if choices.chance(2) else choices.text(8))
    return choices.pick(("|", "|", "|", ",", " | ")).join(fields)


@fuzz(7_000)
@given(fuzz_bytes)
def test_asterisk_adapter_answers_any_line(data: bytes) -> None:
    EXAMPLES["asterisk: lines"] += 1
    choices = Choices(data)
    options = AsteriskOptions(
        wrapup_s=choices.below(600), timezone=choices.pick(("UTC", "Europe/London"))
    )
    adapter = AsteriskAdapter(options)
    line = queue_log_line(choices)
    check_adapter_result(
        fed("asterisk queue_log lines", lambda: adapter.feed(line)), adapter.counts
    )


@fuzz(1_500)
@given(st.binary(min_size=1, max_size=1500))
def test_asterisk_adapter_keeps_the_contract_across_a_file_and_a_restart(data: bytes) -> None:
    EXAMPLES["asterisk: files"] += 1
    choices = Choices(data)
    options = AsteriskOptions(wrapup_s=30)
    adapter = AsteriskAdapter(options)
    restart_at = choices.below(20)
    for n in range(choices.between(1, 20)):
        if n == restart_at:  # what the follower does: the state saved as JSON and read back
            state = orjson.loads(orjson.dumps(adapter.to_state()))
            adapter = AsteriskAdapter(options, state=state)
        line = queue_log_line(choices)
        result = fed(
            "asterisk queue_log lines", lambda line=line, adapter=adapter: adapter.feed(line)
        )
        check_adapter_result(result, adapter.counts)
    check_adapter_result(adapter.finish(), adapter.counts)


TWILIO_EVENTS: Final = (
    *("task-queue.entered", "reservation.created", "reservation.accepted"),
    *("reservation.rejected", "reservation.timeout", "reservation.canceled"),
    *("reservation.rescinded", "reservation.wrapup", "reservation.completed", "task.canceled"),
    *("task-queue.timeout", "task-queue.moved", "worker.activity.update", "activity.created"),
    *("activity.updated", "task.created", "workflow.timeout", "bogus.event"),
)
PASCAL_FIELDS: Final = (
    *("EventType", "Timestamp", "TimestampMs", "Sid", "EventSid", "ResourceSid", "TaskSid"),
    *("TaskQueueSid", "TaskQueueName", "WorkerSid", "WorkerName", "WorkerActivitySid"),
    *("WorkerActivityName", "WorkerActivityAvailable", "ReservationSid"),
    *("TaskChannelUniqueName", "TaskPriority", "TaskCanceledReason"),
)
SNAKE_FIELDS: Final = (
    *tuple(
        "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
        for name in PASCAL_FIELDS
    ),
    *("event_date_ms", "eventtype", "event_type", "activity_sid", "activity_name"),
)
TWILIO_TEXTS: Final = (
    *("0", "5", "-5", "--5", "²", "1714557600", "1714557600000", "4102444799999"),
    *("2024-05-01T10:00:00Z", "2024-05-01T10:00:00", "true", "false", "Available"),
    *("Offline", "Break", "voice", "sms", "TTL exceeded", "WT1", "WT2", "WK1", "WQ1", "WQ2"),
    *("x" * 300, "y" * 1100, "9" * 5000),
)


def twilio_text(choices: Choices) -> str:
    return choices.pick(TWILIO_TEXTS) if choices.byte() % 4 else choices.text(12)


def taskrouter_form(choices: Choices) -> bytes:
    if choices.chance(10):
        return choices.take(choices.below(200))
    fields = {
        "EventType": choices.pick(TWILIO_EVENTS) if choices.byte() % 8 else choices.text(),
        "Timestamp": twilio_text(choices),
    }
    for _ in range(choices.below(10)):
        fields[choices.pick(PASCAL_FIELDS)] = twilio_text(choices)
    body = urlencode(fields, quote_via=quote).encode()
    if choices.chance(10):  # a broken encoding
        body += choices.pick((b"&", b"&=", b"%", b"%zz", b"\xff", b"&a", b"&" * 1001))
    return body


@fuzz(6_000)
@given(fuzz_bytes)
def test_twilio_adapter_answers_any_taskrouter_form(data: bytes) -> None:
    EXAMPLES["twilio: forms"] += 1
    choices = Choices(data)
    adapter = TwilioAdapter()
    for _ in range(choices.between(1, 3)):
        body = taskrouter_form(choices)
        results = fed("twilio taskrouter forms", lambda body=body: adapter.feed_bytes(body))
        assert results, body
        for result in results:
            check_adapter_result(result, adapter.counts)


def event_streams_body(choices: Choices) -> bytes:
    how = choices.below(10)
    if how == 0:
        return choices.take(choices.below(200))
    if how == 1:
        value = choices.json((*SNAKE_FIELDS, "data", "type", "payload"), depth=4)
        return with_deep_values(orjson.dumps(value), choices.between(200, 1100))
    data: dict[str, Any] = {
        choices.pick(SNAKE_FIELDS): twilio_text(choices) if choices.chance(2) else choices.scalar()
        for _ in range(choices.below(10))
    }
    data["task_sid"] = choices.pick(("WT1", "WT2")) if choices.byte() % 4 else choices.scalar()
    data["timestamp"] = twilio_text(choices) if choices.chance(2) else choices.scalar()
    kind = choices.pick(TWILIO_EVENTS) if choices.byte() % 8 else choices.text()
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "type": choices.pick(("com.twilio.taskrouter.", "x.", "")) + kind,
        "id": twilio_text(choices),
        "time": twilio_text(choices) if choices.chance(2) else choices.scalar(),
    }
    shape = choices.below(3)
    envelope["data"] = data if shape == 0 else {"payload": data} if shape == 1 else choices.json()
    payload: Any = [envelope] * choices.between(1, 3) if choices.chance(3) else envelope
    return with_deep_values(orjson.dumps(payload), choices.between(200, 1100))


@fuzz(6_000)
@given(fuzz_bytes)
def test_twilio_adapter_answers_any_event_streams_json(data: bytes) -> None:
    EXAMPLES["twilio: event streams"] += 1
    choices = Choices(data)
    adapter = TwilioAdapter()
    for _ in range(choices.between(1, 2)):
        body = event_streams_body(choices)
        for result in fed("twilio event streams json", lambda body=body: adapter.feed_bytes(body)):
            check_adapter_result(result, adapter.counts)


URLS: Final = (
    "https://fw.example.com/twilio",
    "https://fw.example.com:443/twilio?bodySHA256=x",
    "http://fw.example.com:8080/t",
    "https://[::1]:8443/t",
    "https://[abc/t",
    "https://h:99999/t",
    "https://h:xx/t",
    "",
    "//",
)


@fuzz(3_000)
@given(fuzz_bytes)
def test_twilio_signature_checks_answer_true_or_false(data: bytes) -> None:
    EXAMPLES["twilio: signatures"] += 1
    choices = Choices(data)
    url = choices.pick(URLS) if choices.chance(2) else "https://" + choices.text(30)
    params = [(choices.text(8), choices.text(8)) for _ in range(choices.below(4))]
    signature = None if choices.chance(4) else choices.text(30)
    body = choices.take(choices.below(60))
    form = fed("twilio signatures", lambda: validate_signature("token", url, params, signature))
    json_ok = fed(
        "twilio signatures", lambda: validate_json_signature("token", url, body, signature)
    )
    assert form in (True, False) and json_ok in (True, False)
    assert signature is not None or not (form or json_ok)
    good = "https://fw.example.com/twilio"  # and a right signature is always accepted
    assert validate_signature("token", good, params, compute_signature("token", good, params))


CONNECT_STATES: Final = (
    *("INCOMING", "PENDING", "CONNECTING", "CONNECTED", "CONNECTED_ONHOLD", "MISSED"),
    *("REJECTED", "ENDED", "ERROR"),
)
CONNECT_TIMES: Final = (
    *("2024-05-01T10:00:00Z", "2024-05-01T10:00:05.123Z", "2024-05-01T10:01:00+00:00"),
    *("2099-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "2024-05-01T10:00:00", "", "yesterday"),
)


def some(choices: Choices, options: tuple[Any, ...], depth: int = 1) -> Any:
    """Mostly one of ``options``, sometimes any JSON value."""
    return choices.pick(options) if choices.byte() % 4 else choices.json(depth=depth)


def connect_contact(choices: Choices) -> dict[str, Any]:
    contact: dict[str, Any] = {
        "ContactId": some(choices, ("c1", "c2", "x" * 300)),
        "State": some(choices, CONNECT_STATES),
        "StateStartTimestamp": some(choices, CONNECT_TIMES),
        "Channel": some(choices, ("VOICE", "CHAT", "TASK")),
    }
    if choices.chance(2):
        contact["Queue"] = {"Name": some(choices, ("Sales", "q" * 300, ""))}
    for name in ("QueueTimestamp", "ConnectedToAgentTimestamp"):
        if choices.chance(2):
            contact[name] = some(choices, CONNECT_TIMES)
    return contact


def connect_snapshot(choices: Choices) -> Any:
    if choices.chance(8):
        return choices.json()
    inbound = [
        {"Name": some(choices, ("Sales", "Support", "q" * 300))} for _ in range(choices.below(4))
    ]
    return {
        "AgentStatus": {
            "Type": some(choices, ("ROUTABLE", "OFFLINE", "CUSTOM")),
            "Name": some(choices, ("Available", "Lunch", "")),
        },
        "Configuration": {
            "Username": some(choices, ("alice", "bob", "a" * 300)),
            "FirstName": some(choices, ("Alice", "f" * 1100)),
            "RoutingProfile": {"InboundQueues": inbound if choices.byte() % 8 else choices.json()},
        },
        "Contacts": [connect_contact(choices) for _ in range(choices.below(3))]
        if choices.byte() % 8
        else choices.json(),
    }


def connect_line(choices: Choices) -> bytes:
    how = choices.below(12)
    if how == 0:
        return choices.take(choices.below(200))
    if how == 1:
        return orjson.dumps(choices.json(("EventType", "ContactId", "Data", "Records"), depth=4))
    if how <= 6:
        value: dict[str, Any] = {
            "EventType": some(choices, ("STATE_CHANGE", "LOGIN", "LOGOUT", "HEART_BEAT", "X")),
            "EventTimestamp": some(choices, CONNECT_TIMES),
            "AgentARN": some(choices, ("arn:aws:connect:x/agent/u1", "", "/")),
            "CurrentAgentSnapshot": connect_snapshot(choices),
        }
        if choices.chance(2):
            value["PreviousAgentSnapshot"] = connect_snapshot(choices)
    else:
        value = {
            "ContactId": some(choices, ("c1", "c2")),
            "LastUpdateTimestamp": some(choices, CONNECT_TIMES),
            "InitiationMethod": some(choices, ("INBOUND", "CALLBACK")),
            "DisconnectReason": some(choices, ("CUSTOMER_DISCONNECT", "X")),
            "DisconnectTimestamp": some(choices, CONNECT_TIMES),
            "TransferCompletedTimestamp": some(choices, (None, *CONNECT_TIMES)),
            "Queue": {
                "Name": some(choices, ("Sales", "q" * 300)),
                "EnqueueTimestamp": some(choices, CONNECT_TIMES),
                "DequeueTimestamp": some(choices, CONNECT_TIMES),
                "Duration": some(choices, (0, 5.5, -1, "12", "nan", 1e300)),
            }
            if choices.byte() % 8
            else choices.json(),
            "Agent": {
                "Username": some(choices, ("alice", "a" * 300)),
                "ConnectedToAgentTimestamp": some(choices, CONNECT_TIMES),
                "CustomerHoldDuration": some(choices, (0, 30, 1e7 - 1, "5", -2)),
                "AfterContactWorkStartTimestamp": some(choices, CONNECT_TIMES),
                "AfterContactWorkEndTimestamp": some(choices, CONNECT_TIMES),
            }
            if choices.byte() % 8
            else choices.json(),
        }
    raw = orjson.dumps(value)
    wrap = choices.below(6)
    if wrap == 1:  # a Kinesis record
        raw = orjson.dumps({"Data": base64.b64encode(raw).decode()})
    elif wrap == 2:  # Firehose: values back to back
        raw = raw + b"\n" + raw
    elif wrap == 3:  # inside arrays, possibly very deep
        depth = choices.between(1, 1100)
        raw = b"[" * depth + raw + b"]" * depth
    elif wrap == 4:  # not JSON after the first value, deeply
        raw = raw + b"{" + b"[" * choices.between(1, 5000)
    return raw


@fuzz(7_000)
@given(st.binary(max_size=600))
def test_connect_adapter_answers_any_line(data: bytes) -> None:
    EXAMPLES["connect: lines"] += 1
    choices = Choices(data)
    adapter = ConnectAdapter()
    for _ in range(choices.between(1, 3)):
        line = connect_line(choices)
        for result in fed("amazon connect json", lambda line=line: adapter.feed_bytes(line)):
            check_adapter_result(result, adapter.counts)


# --- 4. configuration files: config.loader --------------------------------------------------

SHIPPED_CONFIG: Final = ROOT / "config" / "floorwatch.yaml"
SHIPPED_TEXT: Final = SHIPPED_CONFIG.read_text(encoding="utf-8")
SHIPPED_DATA: Final = yaml.safe_load(SHIPPED_TEXT)
SHIPPED_LINES: Final = SHIPPED_TEXT.splitlines(keepends=True)
CONFIG_KEYS: Final = (
    *("broker", "topics", "worker", "gateway", "processing", "windows", "sites", "clients"),
    *("defaults", "queues", "teams", "alerts", "name", "timezone", "day_reset", "threshold_s"),
    *("short_abandon_s", "interval_min", "service_level", "definitions", "target", "rules"),
    *("notifiers", "rolling_min", "partitions", "port", "metric", "window", "comparison"),
)
YAML_SCALARS: Final = (
    *("10:30", "25:00", "Europe/London", "Mars/Base", "kafka://h:9092", "h:0", "../../x"),
    *(".nan", "-.inf", "2024-05-01", "~", 15, 30, 60, 0.8, 1.2, -20, True, None),
    10**5000,
    float("nan"),
    float("inf"),
)


def config_value(choices: Choices, depth: int = 3) -> Any:
    if choices.chance(3):
        return choices.pick(YAML_SCALARS)
    value = choices.json(CONFIG_KEYS, depth)
    return [] if value == "\x00deep\x00" else value


def config_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from config_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from config_paths(item, (*path, index))


SHIPPED_PATHS: Final = list(config_paths(SHIPPED_DATA))[1:]


def copied(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


def mutate(
    choices: Choices, data: Any, paths: list[tuple[Any, ...]], value: Callable[[], Any]
) -> None:
    """Replace, drop, rename, extend or repeat what is at a few of ``paths`` in ``data``."""
    for _ in range(choices.between(1, 3)):
        path = choices.pick(paths)
        parent: Any = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            current = parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation moved it
        if not isinstance(parent, dict | list):
            continue  # a character of a string
        kind = choices.below(5)
        if kind == 0:
            parent[path[-1]] = value()
        elif kind == 1:
            del parent[path[-1]]
        elif kind == 2 and isinstance(parent, dict):
            parent[choices.text(10)] = parent.pop(path[-1])
        elif kind == 3 and isinstance(current, dict):
            current[choices.pick(CONFIG_KEYS) if choices.chance(2) else choices.text(8)] = value()
        elif kind == 4 and isinstance(parent, list):
            parent.append(copied(current))


def check_config(call: Callable[[], FloorwatchConfig], source: str) -> None:
    """``call()`` gives a configuration, or a ConfigError naming the source and the path."""
    try:
        config = fed("config files", call)
    except ConfigError as error:
        text = str(error)
        assert error.source == source or error.source.startswith("env FLOORWATCH_"), text
        where = f"{error.source}: {error.path}: " if error.path else f"{error.source}: "
        assert text.startswith(where), text
        assert error.problem.strip(), text
        return
    assert isinstance(config, FloorwatchConfig)
    assert config.source == source


def parse_text(text: str, source: str) -> FloorwatchConfig:
    return parse_config(parse_yaml(text, source), source, env={})


@fuzz(3_000)
@given(fuzz_bytes)
def test_config_loader_answers_random_yaml_documents(data: bytes) -> None:
    EXAMPLES["config: random documents"] += 1
    choices = Choices(data)
    value: Any = {
        choices.pick(CONFIG_KEYS[:12]): config_value(choices) for _ in range(choices.below(5))
    }
    if choices.chance(4):
        value = config_value(choices)
    try:
        text = yaml.safe_dump(value, allow_unicode=True)
    except (ValueError, yaml.YAMLError):  # what PyYAML cannot write (a 5,000-digit integer)
        text = None
    if text is not None and choices.chance(2):
        check_config(lambda: parse_text(text, "fuzz.yaml"), "fuzz.yaml")
    else:
        check_config(lambda: parse_config(value, "fuzz.yaml", env={}), "fuzz.yaml")


@fuzz(5_000)
@given(fuzz_bytes)
def test_config_loader_answers_mutated_shipped_configuration(data: bytes) -> None:
    EXAMPLES["config: mutated shipped data"] += 1
    choices = Choices(data)
    config = copied(SHIPPED_DATA)
    mutate(choices, config, SHIPPED_PATHS, lambda: config_value(choices))
    check_config(lambda: parse_config(config, "floorwatch.yaml", env={}), "floorwatch.yaml")


TEXT_VALUES: Final = (
    *("", "[]", "{}", "-1", "1e400", ".nan", "null", "x", "[[[[", "*a", "&a 1", "!!binary x"),
    *("!!python/object:os.system x", "'10:30'", "10:30", "0x" + "f" * 4000, "{a: 1, a: 2}"),
)
"""Values written into the shipped file. Not here: what PyYAML reads but fails to construct
(``2024-13-45``, ``!!int x``, 5,000 digits, deep nesting), which ``config.files.parse``
does not turn into a ConfigError yet (``test_fuzz_regressions.py`` pins it)."""


def mutated_shipped_text(choices: Choices) -> str:
    lines = list(SHIPPED_LINES)
    for _ in range(choices.between(1, 3)):
        at = choices.below(len(lines))
        kind = choices.below(5)
        line = lines[at]
        if kind == 0:
            del lines[at]
        elif kind == 1:
            lines.insert(at, line)
        elif kind == 2:
            lines[at] = choices.pick(("  ", "\t", " ")) + line
        elif kind == 3 and line:
            pos = choices.below(len(line))
            mark = choices.pick(":-[]{}&*!|>'\"#%@`\t\x00")
            lines[at] = line[:pos] + mark + line[pos + 1 :]
        elif ":" in line:
            lines[at] = f"{line.split(':', 1)[0]}: {choices.pick(TEXT_VALUES)}\n"
    return "".join(lines)


@fuzz(600)
@given(fuzz_bytes)
def test_config_loader_answers_mutated_shipped_file(data: bytes) -> None:
    EXAMPLES["config: mutated shipped text"] += 1
    text = mutated_shipped_text(Choices(data))
    check_config(lambda: parse_text(text, "floorwatch.yaml"), "floorwatch.yaml")


ENV_NAMES: Final = (
    *("FLOORWATCH_BROKER", "FLOORWATCH_GATEWAY__PORT", "FLOORWATCH_WINDOWS__ROLLING_MIN"),
    *("FLOORWATCH_QUEUES__0__NAME", "FLOORWATCH_DEFAULTS__SERVICE_LEVEL__TARGET"),
    *("FLOORWATCH_SITES__NAME", "FLOORWATCH___", "FLOORWATCH_A____B", "FLOORWATCH_VIEWER_TOKEN"),
    *("FLOORWATCH_ALERTS__NOTIFIERS__OPS__URL", "FLOORWATCH_TOPICS__PARTITIONS"),
)


@fuzz(2_500)
@given(fuzz_bytes)
def test_config_loader_answers_any_environment_overrides(data: bytes) -> None:
    EXAMPLES["config: environment"] += 1
    choices = Choices(data)
    env = {}
    for _ in range(choices.below(4)):
        name = choices.pick(ENV_NAMES) if choices.byte() % 4 else "FLOORWATCH_" + choices.text(12)
        value = choices.pick(TEXT_VALUES) if choices.chance(2) else choices.text(16)
        env[name] = value.replace("9" * 5000, "9" * 50)  # see TEXT_VALUES
    check_config(
        lambda: parse_config(copied(SHIPPED_DATA), "floorwatch.yaml", env=env), "floorwatch.yaml"
    )


@fuzz(150)
@given(data=fuzz_bytes)
def test_config_loader_answers_mutated_files_on_disk(data: bytes, tmp_path_factory: Any) -> None:
    EXAMPLES["config: files on disk"] += 1
    path = tmp_path_factory.mktemp("config") / "floorwatch.yaml"
    path.write_text(mutated_shipped_text(Choices(data)), encoding="utf-8")
    check_config(lambda: load_config(path, env={}), str(path))


# --- 5. the gateway's request parsing and topic messages (wallboard/, pure parts) -----------

QUERY_PARTS: Final = (
    *("queue=sales", "from=2024-05-01T10:00:00Z", "to=2024-05-01T11:00:00%2B01:00"),
    *("from=1714557600000", "to=-1", "from=99999999999999999", "to=2024-05-01T10:00:00"),
    *("from=0001-01-01T00:00:00%2B23:59", "to=9999-12-31T23:59:59-23:59", "token=secret"),
    *("token=", "site=london,leeds", "queues=sales%2Csupport", "team=a&team=b", "=", "&"),
    *("%", "%zz", "%ff%fe", "from", "x=1", "queue=", "queue=%00"),
)


def query_string(choices: Choices) -> str:
    if choices.chance(5):
        return choices.text(40)
    parts = [
        choices.pick(QUERY_PARTS) if choices.byte() % 4 else quote(choices.text(12), safe="=&,%")
        for _ in range(choices.below(6))
    ]
    return "&".join(parts)


@fuzz(8_000)
@given(fuzz_bytes)
def test_interval_query_parsing_answers_any_query(data: bytes) -> None:
    EXAMPLES["http: interval queries"] += 1
    query = query_string(Choices(data))
    try:
        queue, from_ms, to_ms = fed("http query strings", lambda: interval_range(query))
    except QueryError as error:
        assert str(error).strip()
    else:
        assert queue is None or isinstance(queue, str)
        assert from_ms is None or to_ms is None or from_ms <= to_ms
    try:
        params = fed("http query strings", lambda: parse_query(query))
    except QueryError as error:
        assert str(error).strip()
    else:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())


@fuzz(4_000)
@given(fuzz_bytes)
def test_instant_parsing_answers_any_text(data: bytes) -> None:
    EXAMPLES["http: instants"] += 1
    choices = Choices(data)
    if choices.chance(2):
        text = choices.text(40)
    else:
        text = str(valid_ts(choices)).replace("Z", choices.pick(OFFSETS))
    try:
        ms = fed("http query strings", lambda: parse_instant("from", text))
    except QueryError as error:
        assert str(error).startswith("from: ")
    else:
        assert isinstance(ms, int)


AUTHORIZATIONS: Final = (
    None,
    "",
    "Bearer viewer-secret",
    "Bearer operator-secret",
    "bearer  viewer-secret ",
    "Bearer",
    "Basic dXNlcjpwYXNz",
    "Bearer é\x00",
)


@fuzz(6_000)
@given(fuzz_bytes)
def test_websocket_and_page_requests_are_parsed_from_any_query_and_header(data: bytes) -> None:
    """What a screen's connection request carries: the filter (``?site=&queues=&team=``)
    and a token (``Authorization`` or ``?token=``). Clients send nothing else that is read:
    the gateway discards their websocket messages."""
    EXAMPLES["http: screen requests"] += 1
    choices = Choices(data)
    query = "&".join(
        [query_string(choices)]
        + [f"{choices.pick(('site', 'queues', 'team', 'token'))}={quote(choices.text(20))}"
           for _ in range(choices.below(4))]
    )  # fmt: skip
    authorization = choices.pick(AUTHORIZATIONS) if choices.byte() % 4 else choices.text(30)
    view = fed("http query strings", lambda: ViewFilter.from_query(query))
    for names in (view.sites, view.queues, view.teams):
        assert all(isinstance(n, str) and n and n == n.strip() for n in names), view
    orjson.dumps(view.as_json())
    token = fed("http query strings", lambda: presented_token(authorization, query))
    assert token is None or (isinstance(token, str) and token)
    cleaned = fed("http query strings", lambda: without_token(query))
    assert presented_token(None, cleaned) is None
    tokens = Tokens(viewer="viewer-secret", operator=choices.pick(("operator-secret", None)))
    for role in ("viewer", "operator"):
        denied = tokens.check(role, token)  # type: ignore[arg-type]
        assert denied is None or denied.status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
        assert (denied is None) <= (token in ("viewer-secret", "operator-secret")), token
    if token is None:
        assert tokens.check("viewer", None) is not None


HUB_NOW_MS: Final = FOLD_BASE_MS + 3_600_000


def floor_messages() -> list[tuple[str, str, dict[str, Any]]]:
    """Real topic messages: snapshots and interval records of a folded floor."""
    floor = Floor(FOLD_SETTINGS)
    choices = Choices(bytes(range(256)) * 8)
    for n in range(300):
        floor.ingest(fold_event(choices, n))
    snapshot = floor.snapshot(HUB_NOW_MS)
    messages = [
        ("snapshots", f"queue:{view['queue']}", {**view, "published_ms": HUB_NOW_MS})
        for view in snapshot["queues"]
    ]
    messages += [
        ("snapshots", f"agent:{row['agent_id']}", {**row, "published_ms": HUB_NOW_MS})
        for row in snapshot["agents"]
    ]
    messages.append(("snapshots", "worker:w1", {"published_ms": HUB_NOW_MS, "consumed": {}}))
    messages += [
        ("intervals", f"{record['queue']}|{record['interval_start']}", record)
        for record in floor.records()
    ]
    messages.append(("alerts", "alert-1", {"id": "alert-1", "rule": "r", "severity": "warning"}))
    return messages


FLOOR_MESSAGES: Final = floor_messages()


def loaded_hub() -> Hub:
    hub = Hub(stale_s=5)
    for topic, key, value in FLOOR_MESSAGES:
        hub.apply(topic, key, orjson.dumps(value))
    return hub


HUB: Final = loaded_hub()
PAGE: Final = Reply(HTTPStatus.OK, b"<html></html>", "text/html; charset=utf-8")
HTTP_PATHS: Final = (
    *("/", "/ws", "/api/state", "/api/intervals", "/api/alerts", "/api/alerts/a1/ack"),
    *("/api/alerts/%2F/ack", "/api/alerts//ack", "/metrics", "/healthz", "/static/app.js"),
    *("/../etc/passwd", "", "/api/", "/api/state/"),
)
ROUTES: Final = Routes(
    HUB,
    clock=lambda: HUB_NOW_MS,
    registry=CollectorRegistry(),
    feed_problem=lambda: None,
    static={"/": PAGE},
)


@fuzz(6_000)
@given(fuzz_bytes)
def test_gateway_routes_answer_any_request_with_a_status(data: bytes) -> None:
    EXAMPLES["http: requests"] += 1
    choices = Choices(data)
    method = choices.pick(("GET", "GET", "POST", "PUT", "HEAD", "get", ""))
    path = (
        choices.pick(HTTP_PATHS) if choices.byte() % 4 else "/" + quote(choices.text(30), safe="/%")
    )
    query = query_string(choices)
    reply = fed("http requests (routes)", lambda: ROUTES.handle(method, path, query))
    assert 200 <= reply.status.value < 600
    if reply.content_type == "application/json":
        body = orjson.loads(reply.body)
        assert reply.status.value < 400 or body["error"]


def mutated_message(choices: Choices) -> tuple[str, str | None, bytes | None]:
    """A real topic message with a few values replaced, or something else entirely."""
    topic, key, value = choices.pick(FLOOR_MESSAGES)
    how = choices.below(20)
    if how == 0:
        return topic, choices.text(12) if choices.chance(2) else None, choices.take(40) or None
    if how == 1:
        return topic, key, None  # a tombstone
    value = copied(value)
    mutate(choices, value, list(config_paths(value))[1:] or [()], lambda: choices.json(depth=2))
    # interval records and alerts are not checked for depth yet (test_fuzz_regressions.py
    # pins it): they get nesting orjson can write back
    depth = choices.between(200, 1100) if topic == "snapshots" else choices.between(1, 200)
    return topic, key, with_deep_values(orjson.dumps(value), depth)


@fuzz(2_500)
@given(fuzz_bytes)
def test_gateway_hub_survives_any_topic_message(data: bytes) -> None:
    EXAMPLES["gateway: topic messages"] += 1
    choices = Choices(data)
    hub = loaded_hub()
    hub.state(HUB_NOW_MS)
    for _ in range(choices.between(1, 4)):
        topic, key, value = mutated_message(choices)
        fed(
            "gateway topic messages",
            lambda topic=topic, key=key, value=value: hub.apply(topic, key, value),
        )
        with no_hang():  # what the REST routes and the pushes encode
            orjson.dumps(hub.state(HUB_NOW_MS))
            orjson.dumps(hub.intervals(None, FOLD_BASE_MS, HUB_NOW_MS))
            orjson.dumps(hub.alerts())
            hub.message(HUB_NOW_MS)


# --- 6. the staffing calculator: streams.erlang ---------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)


@fuzz(2_500)
@given(
    st.floats(0, 3_000) | finite,
    st.floats(1e-3, 1e5) | finite,
    st.floats(0, 600) | finite,
    st.floats(0.01, 0.999) | finite,
    st.none() | st.floats(0.05, 1) | finite,
    st.floats(0, 0.9) | finite,
    st.none() | st.floats(1, 1e4) | finite,
    st.none() | st.integers(0, 5_000),
)
def test_staffing_answers_finite_numbers_with_a_result_or_a_value_error(
    traffic: float,
    aht_s: float,
    threshold_s: float,
    target: float,
    max_occupancy: float | None,
    shrinkage: float,
    patience_s: float | None,
    agents: int | None,
) -> None:
    EXAMPLES["erlang"] += 1
    # Erlang C's search is O(agents needed) and Erlang A's chain may sum 5 M states: loads
    # beyond what a floor has take seconds to minutes (measured in the note), so clamp them
    traffic = min(traffic, 2_000.0)  # the product gives no staffing figures beyond 2,000
    if 0 < traffic < 1e-9:
        traffic = 0.0  # a denormal traffic never converges in Erlang A (pinned apart)
    if patience_s is not None and aht_s > 0:
        # the chain sums about traffic × patience / AHT queue states; the product uses
        # Erlang A up to a patience of 20 AHTs (Erlang C stands in beyond)
        patience_s = min(patience_s, 20 * aht_s, 2e4 * aht_s / max(traffic, 1.0))
    if max_occupancy is not None and 0 < max_occupancy <= 1 and traffic > 0:
        # occupancy is traffic / agents: a tiny cap asks for astronomically many agents,
        # which the search counts up to one by one (test_fuzz_regressions.py pins it)
        max_occupancy = max(max_occupancy, traffic / 1e4)

    def calculate() -> erlang.Staffing | erlang.Requirement:
        if agents is not None:
            return erlang.evaluate(
                traffic, agents, aht_s=aht_s, threshold_s=threshold_s, patience_s=patience_s
            )
        return erlang.required_agents(
            traffic,
            aht_s=aht_s,
            threshold_s=threshold_s,
            target=target,
            max_occupancy=max_occupancy,
            shrinkage=shrinkage,
            patience_s=patience_s,
        )

    try:
        result = fed("erlang inputs", calculate, limit_s=30)
    except ValueError as error:
        assert str(error).strip()
        return
    staffing = result if isinstance(result, erlang.Staffing) else result.staffing
    for name in ("probability_wait", "service_level", "occupancy"):
        value = getattr(staffing, name)
        assert 0 <= value <= 1 + 1e-9, (name, value, result)  # rounding: 1.0000000000000773
    if isinstance(result, erlang.Requirement) and result.agents:
        # documented as N − 1 < fractional ≤ N; a target of 1e-290 rounds it to N − 1
        assert result.agents - 1 <= result.agents_fractional <= result.agents, result
        assert result.agents_with_shrinkage >= result.agents, result


# --- the total ------------------------------------------------------------------------------

FUZZ_TARGETS: Final = (
    "contract events",
    "core fold (events)",
    "asterisk queue_log lines",
    "twilio taskrouter forms",
    "twilio event streams json",
    "twilio signatures",
    "amazon connect json",
    "config files",
    "http query strings",
    "http requests (routes)",
    "gateway topic messages",
    "erlang inputs",
)


def test_fuzz_inputs_total_reaches_the_promised_number(capsys: pytest.CaptureFixture[str]) -> None:
    """Last in the module: prints inputs per parser and checks the total."""
    total = sum(INPUTS[target] for target in FUZZ_TARGETS)
    examples = sum(EXAMPLES.values())
    lines = [
        f"fuzz: {total:,} generated inputs to parsers ({examples:,} hypothesis examples) "
        f"in {time.perf_counter() - _STARTED:.0f} s"
    ]
    lines += [f"  {INPUTS[target]:>9,}  {target}" for target in FUZZ_TARGETS]
    with capsys.disabled():  # shown whatever the capture mode: the note quotes it
        print("\n" + "\n".join(lines))
    missing = [target for target in FUZZ_TARGETS if not INPUTS[target]]
    if missing:
        pytest.skip(f"not every fuzz test ran (none for {', '.join(missing)}): no total to check")
    # the examples alone reach it: the fold's events, several per example, are extra
    assert examples >= MIN_TOTAL_INPUTS, lines
