"""What the fuzzing (``test_fuzz.py``) found, one test per bug.

Bugs in ``streams/`` were fixed; their tests say what the right answer is. Bugs in
``config/`` and ``wallboard/`` are not fixed yet (other work owns those files): their tests
are ``xfail(strict=True)`` and state the expected behaviour, so the fix turns them into
unexpected passes, which fail the suite until the marker is removed.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from config.env import Override
from config.files import parse as parse_yaml
from config.loader import parse_config
from streams import erlang
from streams.adapters.asterisk import AsteriskAdapter
from streams.adapters.common import BAD_ENCODING, BAD_NUMBER, TRUNCATED, UNKNOWN_EVENT
from streams.adapters.connect import ConnectAdapter
from streams.adapters.twilio import TwilioAdapter, validate_json_signature, validate_signature
from streams.errors import ConfigError
from streams.events import (
    BAD_TYPE,
    INVALID_JSON,
    MAX_ID_CHARS,
    MAX_TEXT_CHARS,
    AgentEvent,
    ContactEvent,
    Rejection,
    parse_event,
    validate_event,
)
from tests.faults.fuzzing import Hung, no_hang

DEEP = b"[" * 300 + b"]" * 300
"""Nested deeper than orjson writes (254 levels) but not than it reads (1,024)."""


def valid(events: list[dict[str, Any]]) -> list[Any]:
    """The events, each checked against the contract."""
    parsed = [validate_event(dict(event)) for event in events]
    assert not [p for p in parsed if isinstance(p, Rejection)], parsed
    return parsed


# --- streams.events -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (b'"ts": ' + DEEP, "ts"),
        (b'"ts": 1, "case_id": "k1", "complaint": ' + DEEP, "complaint"),
        (b'"ts": 1, "case_id": "k1", "level": {"a": ' + DEEP + b"}", "level"),
    ],
)
def test_a_value_nested_too_deep_to_show_is_rejected_as_a_bad_type(
    fields: bytes, field: str
) -> None:
    # it raised orjson's "Recursion limit reached" out of the parser: one such message
    # would have crashed the worker folding it
    raw = b'{"event_id": "e1", "type": "case.opened", ' + fields + b"}"
    result = parse_event(raw)
    assert isinstance(result, Rejection)
    assert result.reason == BAD_TYPE
    assert result.message.startswith(f"'{field}' must be")
    assert "nested too deep to show" in result.message


# --- streams.errors (configuration messages) ------------------------------------------------


def test_a_configuration_value_too_long_to_print_is_named_by_its_size() -> None:
    # YAML reads 0x… of any length as an integer, which Python refuses to print: the
    # ConfigError about it raised ValueError while building its own message
    data = parse_yaml("defaults:\n  threshold_s: 0x" + "f" * 4000 + "\n", "floor.yaml")
    with pytest.raises(ConfigError) as raised:
        parse_config(data, "floor.yaml", env={})
    assert str(raised.value) == (
        "floor.yaml: defaults.threshold_s: expected a number > 0, got an integer of 16000 bits"
    )


# --- streams.adapters.asterisk --------------------------------------------------------------

STAMP = "1714557600"


@pytest.mark.parametrize(
    "line",
    [
        f"{STAMP}|1.1|sales|PJSIP/alice|CONNECT|5|1.2|²",  # isdigit() but not int()
        f"{STAMP}|1.1|sales|PJSIP/alice|CONNECT|5|1.2|{'9' * 5000}",  # int() refuses it
        f"{STAMP}|1.1|sales|PJSIP/alice|CONNECT|5|1.2|٣",  # Arabic-Indic three
        f"{STAMP}|1.1|sales|PJSIP/alice|RINGNOANSWER|{'1' * 19}",
    ],
)
def test_a_queue_log_number_that_is_not_plain_digits_is_refused(line: str) -> None:
    result = AsteriskAdapter().feed(line)
    assert isinstance(result, Rejection)
    assert result.reason == BAD_NUMBER


@pytest.mark.parametrize(
    "line",
    [
        f"{STAMP}|1.1|sales|PJSIP/alice|CONNECT|5|1.2|{int(STAMP) + 1}",  # seconds
        f"{STAMP}|1.1|sales|PJSIP/alice|RINGNOANSWER|{int(STAMP) * 1000 + 1}",  # milliseconds
    ],
)
def test_a_ring_time_reaching_before_1970_is_refused(line: str) -> None:
    # the offer was produced at a negative time, which the contract refuses
    result = AsteriskAdapter().feed(line)
    assert isinstance(result, Rejection)
    assert result.reason == BAD_NUMBER


def test_a_ring_time_up_to_the_line_time_still_gives_an_offer() -> None:
    events = AsteriskAdapter().feed(f"{STAMP}|1.1|sales|PJSIP/alice|CONNECT|5|1.2|{STAMP}")
    assert isinstance(events, list)
    offered = [e for e in valid(events) if e.type == "contact.offered"]
    assert [e.ts_ms for e in offered] == [0]


def test_a_table_row_with_a_carriage_return_inside_is_refused() -> None:
    # the csv module raised _csv.Error out of the adapter
    result = AsteriskAdapter().feed("2024-05-01 10:00:00,1.1,sales\rx,NONE,ENTERQUEUE")
    assert isinstance(result, Rejection)
    assert result.reason == BAD_ENCODING


def test_a_member_of_a_queue_named_longer_than_an_id_is_refused() -> None:
    # the name went into the agent's queues, where the contract allows 256 characters
    result = AsteriskAdapter().feed(f"{STAMP}|NONE|{'q' * 300}|PJSIP/alice|ADDMEMBER|")
    assert isinstance(result, Rejection)
    assert result.reason == TRUNCATED


# --- streams.adapters.twilio ----------------------------------------------------------------

ENTERED = "EventType=task-queue.entered&Timestamp=1714557600&TaskSid=WT1&TaskQueueName=sales"


@pytest.mark.parametrize("priority", ["--5", "%C2%B2", "9" * 5000])
def test_a_task_priority_that_is_not_an_integer_is_left_out(priority: str) -> None:
    # int() raised ValueError out of the adapter for each of these
    (result,) = TwilioAdapter().feed_bytes(f"{ENTERED}&TaskPriority={priority}".encode())
    assert isinstance(result, list)
    (queued,) = valid(result)
    assert queued.type == "contact.queued"
    assert queued.priority is None


@pytest.mark.parametrize(
    "url", ["https://[abc/twilio", "https://h:99999/twilio", "https://h:xx/twilio"]
)
def test_a_signature_for_an_unreadable_url_is_simply_not_valid(url: str) -> None:
    # without --public-url the URL comes from the request's (forwarded) Host header
    assert validate_signature("token", url, [("a", "b")], "c2lnbmF0dXJl") is False
    assert validate_json_signature("token", f"{url}?bodySHA256=x", b"{}", "c2ln") is False


def test_a_signature_or_body_hash_that_is_not_ascii_is_simply_not_valid() -> None:
    # hmac.compare_digest() raised TypeError on non-ASCII text from the request
    url = "https://fw.example.com/twilio"
    assert validate_signature("token", url, [], "sïgnature") is False
    assert validate_json_signature("token", f"{url}?bodySHA256=%C3%A9", b"{}", "c2ln") is False


def test_a_queue_and_a_worker_with_very_long_names_give_valid_events() -> None:
    adapter = TwilioAdapter()
    queue_name = "q" * 300
    worker_name = "w" * 1100
    (entered,) = adapter.feed_bytes(f"{ENTERED}{'q' * 295}".encode())
    (accepted,) = adapter.feed_bytes(
        b"EventType=reservation.accepted&Timestamp=1714557601&TaskSid=WT1&WorkerSid=WK1"
        b"&WorkerName=" + worker_name.encode()
    )
    assert isinstance(entered, list) and isinstance(accepted, list)
    events = valid(entered + accepted)
    queues = {e.queue for e in events if isinstance(e, ContactEvent)}
    assert len(queues) == 1  # the same stable id for the long name in every event
    assert len(queues.pop()) <= MAX_ID_CHARS
    names = [e.name for e in events if isinstance(e, AgentEvent)]
    assert names == [worker_name[:MAX_TEXT_CHARS]]
    assert queue_name  # the name, not an empty one, was fed


# --- streams.adapters.connect ---------------------------------------------------------------

AGENT_EVENT: dict[str, Any] = {
    "EventType": "STATE_CHANGE",
    "EventTimestamp": "2024-05-01T10:00:00Z",
    "AgentARN": "arn:aws:connect:eu-west-2:1:instance/i/agent/u1",
    "CurrentAgentSnapshot": {
        "AgentStatus": {"Type": "ROUTABLE", "Name": "Available"},
        "Configuration": {"Username": "alice"},
        "Contacts": [],
    },
}


def connect_line(value: Any) -> list[Any]:
    return ConnectAdapter().feed_bytes(orjson.dumps(value))


def test_an_agent_event_type_that_is_not_text_is_unknown() -> None:
    (result,) = connect_line({**AGENT_EVENT, "EventType": ["STATE_CHANGE"]})
    assert isinstance(result, Rejection)
    assert result.reason == UNKNOWN_EVENT


def test_a_contact_state_that_is_not_text_is_a_bad_type() -> None:
    snapshot = AGENT_EVENT["CurrentAgentSnapshot"]
    contact = {"ContactId": "c1", "State": ["CONNECTED"], "Queue": {"Name": "Sales"}}
    (result,) = connect_line(
        {**AGENT_EVENT, "CurrentAgentSnapshot": {**snapshot, "Contacts": [contact]}}
    )
    assert isinstance(result, Rejection)
    assert result.reason == BAD_TYPE
    assert "'State' must be a string" in result.message


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[" * 1000 + orjson.dumps(AGENT_EVENT) + b"]" * 1000, BAD_TYPE),
        (orjson.dumps(AGENT_EVENT) + b"{" + b"[" * 5000, INVALID_JSON),
    ],
)
def test_records_nested_without_end_are_refused_not_recursed_into(raw: bytes, reason: str) -> None:
    # both raised RecursionError: the first in unwrapping arrays, the second in the
    # stdlib decoder reading values written back to back
    results = ConnectAdapter().feed_bytes(raw)
    rejections = [r for r in results if isinstance(r, Rejection)]
    assert [r.reason for r in rejections] == [reason]


def test_records_nested_as_deep_as_kinesis_and_lambda_do_are_read() -> None:
    record = {"kinesis": {"data": base64.b64encode(orjson.dumps(AGENT_EVENT)).decode()}}
    (result,) = ConnectAdapter().feed_bytes(orjson.dumps([{"Records": [record]}]))
    assert isinstance(result, list)
    assert [e.state for e in valid(result)] == ["available"]


def test_an_agents_long_queue_names_are_the_ids_its_contacts_use() -> None:
    long_name = "Q" * 300
    snapshot = {
        **AGENT_EVENT["CurrentAgentSnapshot"],
        "Configuration": {
            "Username": "alice",
            "RoutingProfile": {"InboundQueues": [{"Name": long_name}, {"Name": "Sales"}]},
        },
        "Contacts": [
            {
                "ContactId": "c1",
                "State": "CONNECTED",
                "Queue": {"Name": long_name},
                "StateStartTimestamp": "2024-05-01T10:00:00Z",
            }
        ],
    }
    (result,) = connect_line({**AGENT_EVENT, "CurrentAgentSnapshot": snapshot})
    assert isinstance(result, list)
    events = valid(result)
    contact_queues = {e.queue for e in events if isinstance(e, ContactEvent)}
    (agent,) = [e for e in events if isinstance(e, AgentEvent)]
    assert agent.queues is not None
    assert contact_queues < set(agent.queues)
    assert "Sales" in agent.queues


# --- not fixed: config/ (reported) -----------------------------------------------------------

PYYAML_CONSTRUCTOR_FAILURES = [
    "threshold_s: 2024-13-45",  # a date PyYAML recognises and datetime refuses
    "threshold_s: 2024-02-30 10:00:00",
    "threshold_s: !!int abc",
    "threshold_s: !!float x",
    "threshold_s: !!bool maybe",
    "threshold_s: !!timestamp x",
    "threshold_s: !!map [1]",
    "threshold_s: " + "9" * 5000,  # more digits than int() converts
    "threshold_s: " + "[" * 2000 + "]" * 2000,  # PyYAML's composer recurses per level
]


@pytest.mark.xfail(
    strict=True,
    raises=(ValueError, TypeError, KeyError, AttributeError, RecursionError),
    reason="config.files.parse catches yaml.YAMLError only: PyYAML's constructors raise "
    "ValueError, TypeError, KeyError, AttributeError or RecursionError for these",
)
@pytest.mark.parametrize("text", PYYAML_CONSTRUCTOR_FAILURES)
def test_a_file_pyyaml_cannot_construct_is_a_config_error_naming_the_file(text: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_yaml(f"defaults:\n  {text}\n", "floor.yaml")
    assert str(raised.value).startswith("floor.yaml: ")


@pytest.mark.xfail(
    strict=True,
    raises=ValueError,
    reason="config.env.Override.value catches yaml.YAMLError only (ValueError escapes)",
)
def test_an_override_pyyaml_cannot_construct_is_a_config_error_naming_the_variable() -> None:
    override = Override("FLOORWATCH_GATEWAY__PORT", ("gateway", "port"), "2024-13-45")
    with pytest.raises(ConfigError) as raised:
        override.value()
    assert raised.value.source == "env FLOORWATCH_GATEWAY__PORT"


def test_a_self_referencing_alias_is_a_config_error() -> None:
    # was: config.loader._thawed recursed until RecursionError; now refused when read
    with pytest.raises(ConfigError, match="alias that refers to a node containing it"):
        data = parse_yaml("queues: &q\n  - name: a\n    more: *q\n", "floor.yaml")
        parse_config(data, "floor.yaml", env={})


def test_a_file_of_nested_aliases_is_refused_quickly() -> None:
    # was: 393 bytes of nested aliases (10^6 items) took ~10 s to refuse, 8 levels minutes
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    with no_hang(2.0), pytest.raises(ConfigError, match="more than 100,000 values"):
        data = parse_yaml("\n".join(lines) + "\n", "floor.yaml")
        parse_config(data, "floor.yaml", env={})


# --- not fixed: wallboard/ (reported) --------------------------------------------------------


def _hub_after(topic: str, key: str, value: dict[str, Any]) -> Any:
    """A hub that took one message whose ``extra`` field is nested too deep to encode."""
    from wallboard.hub import Hub

    hub = Hub(stale_s=5)
    hub.apply(topic, key, orjson.dumps({**value, "extra": "DEEP"}).replace(b'"DEEP"', DEEP))
    return hub


INTERVAL = {"queue": "q", "interval_start": "2024-05-01T10:00:00+00:00"}
INTERVAL |= {"interval_end": "2024-05-01T10:15:00+00:00"}


@pytest.mark.xfail(
    strict=True,
    raises=TypeError,
    reason="wallboard.hub keeps an interval record nested deeper than orjson writes (254 "
    "levels; it reads 1,024): GET /api/intervals then raises TypeError while it is held",
)
def test_an_interval_record_nested_too_deep_to_send_is_ignored() -> None:
    hub = _hub_after("intervals", "q|1714557600000", INTERVAL)
    orjson.dumps(hub.intervals())
    assert hub.rejected


@pytest.mark.xfail(
    strict=True,
    raises=TypeError,
    reason="wallboard.hub keeps an alert nested deeper than orjson writes: every later "
    "Hub.state() encoding, Hub.message() (the pushes to scripts) and GET /api/alerts raise",
)
def test_an_alert_nested_too_deep_to_send_is_ignored() -> None:
    hub = _hub_after("alerts", "alert-1", {"id": "alert-1", "rule": "r"})
    hub.message(1)
    assert hub.rejected


# --- not fixed: streams.erlang (reported: another change to it is under way) ----------------


@pytest.mark.xfail(
    strict=True,
    raises=Hung,
    reason="required_agents counts agents up one by one from the traffic: an occupancy cap "
    "of 1e-9 asks for ~1e12 agents and the search never ends (a ValueError is expected)",
)
def test_an_occupancy_cap_needing_absurdly_many_agents_is_refused_quickly() -> None:
    with no_hang(5.0), pytest.raises(ValueError):
        erlang.required_agents(959.6, aht_s=1.0, threshold_s=0.0, target=0.5, max_occupancy=1e-9)


@pytest.mark.xfail(
    strict=True,
    raises=(ValueError, Hung),
    reason="Erlang A with a denormal traffic (2e-313 erlangs) sums 5 M queue states for "
    "seconds and then says the chain did not converge: nearly no traffic should be instant",
)
def test_a_vanishing_traffic_is_staffed_at_once_by_erlang_a() -> None:
    with no_hang(2.0):
        requirement = erlang.required_agents(
            2.2250738585e-313, aht_s=0.001, threshold_s=0.0, target=0.5, patience_s=1.0
        )
    assert requirement.agents <= 1
