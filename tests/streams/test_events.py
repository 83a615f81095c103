"""The event contract: valid events parse to typed values, everything else to a reason."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.events import (
    REJECTION_REASONS,
    AgentEvent,
    CaseEvent,
    ContactEvent,
    Rejection,
    SurveyEvent,
    encode_event,
    parse_event,
)
from tests.factory import at

NOW = at("2024-05-01T12:00:00")


def parse(obj: Any, **kwargs: Any) -> Any:
    return parse_event(orjson.dumps(obj) if not isinstance(obj, bytes) else obj, **kwargs)


def base(**fields: Any) -> dict[str, Any]:
    event = {
        "event_id": "e1",
        "type": "contact.answered",
        "ts": "2024-05-01T10:00:05+01:00",
        "contact_id": "c1",
        "queue": "billing",
        "agent_id": "a1",
    }
    event.update(fields)
    return {k: v for k, v in event.items() if v is not None}


def test_contact_event_with_iso_time_parses_to_a_typed_event() -> None:
    event = parse(base(source="asterisk", client="acme", extra_field={"kept": "ignored"}))
    assert isinstance(event, ContactEvent)
    assert event.ts_ms == at("2024-05-01T09:00:05Z")
    assert (event.contact_id, event.queue, event.agent_id) == ("c1", "billing", "a1")
    assert (event.source, event.client) == ("asterisk", "acme")


def test_epoch_milliseconds_and_iso_times_mean_the_same_instant() -> None:
    iso = parse(base(ts="2024-05-01T09:00:05.123Z"))
    epoch = parse(base(ts=at("2024-05-01T09:00:05.123Z")))
    assert iso.ts_ms == epoch.ts_ms == 1714554005123


def test_queued_event_keeps_channel_priority_and_customer() -> None:
    event = parse(
        base(type="contact.queued", agent_id=None, channel="chat", priority=3, customer_id="k9")
    )
    assert (event.channel, event.priority, event.customer_id) == ("chat", 3, "k9")


def test_agent_event_parses_queues_and_not_ready_reason() -> None:
    event = parse(
        {
            "event_id": "e",
            "type": "agent.state",
            "ts": 0,
            "agent_id": "a1",
            "state": "not_ready",
            "reason": "lunch",
            "name": "Ann Lee",
            "team": "red",
            "site": "london",
            "queues": ["q1", "q2"],
        }
    )
    assert isinstance(event, AgentEvent)
    assert (event.state, event.reason, event.queues) == ("not_ready", "lunch", ("q1", "q2"))


def test_crm_events_parse() -> None:
    case = parse(
        {"event_id": "e", "type": "case.opened", "ts": 1, "case_id": "k", "complaint": True}
    )
    survey = parse(
        {
            "event_id": "f",
            "type": "survey.completed",
            "ts": 1,
            "survey_id": "s",
            "csat": 4,
            "nps": 9,
        }
    )
    assert isinstance(case, CaseEvent) and case.complaint is True
    assert isinstance(survey, SurveyEvent) and (survey.csat, survey.nps) == (4, 9)


@pytest.mark.parametrize(
    ("payload", "reason", "words"),
    [
        (b"{not json", "invalid_json", "not valid JSON"),
        (b'{"a": NaN}', "invalid_json", "not valid JSON"),
        (b"\xff\xfe", "invalid_json", "UTF-8"),
        (b"[1, 2]", "invalid_json", "expected a JSON object, got array"),
        (b"[" * 5000 + b"]" * 5000, "invalid_json", "depth"),
        (b'{"a": 1e999}', "invalid_json", "infinity"),
        (base(event_id=None), "missing_field", "'event_id'"),
        (base(contact_id=None), "missing_field", "'contact_id'"),
        (base(agent_id=None), "missing_field", "'agent_id'"),
        (base(ts=None), "missing_field", "'ts'"),
        (base(type=None), "missing_field", "'type'"),
        (base(type="contact.flowed_out", agent_id=None), "missing_field", "'reason'"),
        (base(queue=7), "bad_type", "'queue' must be a string, got number"),
        (base(event_id=True), "bad_type", "'event_id' must be a string, got boolean"),
        (base(ts=1.5e12), "bad_type", "'ts' must be an ISO-8601 string or integer"),
        (base(ts=True), "bad_type", "'ts' must be"),
        (base(type="contact.queued", agent_id=None, priority="high"), "bad_type", "'priority'"),
        (base(type=["x"]), "bad_type", "'type' must be a string"),
        (
            {
                "event_id": "e",
                "type": "agent.state",
                "ts": 0,
                "agent_id": "a",
                "state": "available",
                "queues": "q1",
            },
            "bad_type",
            "'queues'",
        ),
        (
            {
                "event_id": "e",
                "type": "survey.completed",
                "ts": 0,
                "survey_id": "s",
                "resolved": "yes",
            },
            "bad_type",
            "'resolved'",
        ),
        (base(queue=""), "bad_value", "'queue' must not be empty"),
        (base(queue="q" * 300), "bad_value", "longer than 256"),
        (
            base(type="contact.queued", agent_id=None, channel="pigeon"),
            "bad_value",
            "'channel' must be one of",
        ),
        (
            base(type="contact.flowed_out", agent_id=None, reason="bored"),
            "bad_value",
            "'reason' must be one of",
        ),
        (
            {"event_id": "e", "type": "agent.state", "ts": 0, "agent_id": "a", "state": "asleep"},
            "bad_value",
            "'state'",
        ),
        (
            {"event_id": "e", "type": "survey.completed", "ts": 0, "survey_id": "s", "csat": 6},
            "bad_value",
            "between 1 and 5",
        ),
        (
            {"event_id": "e", "type": "survey.completed", "ts": 0, "survey_id": "s", "nps": -1},
            "bad_value",
            "between 0 and 10",
        ),
        (base(type="contact.teleported"), "unknown_type", "unknown event type"),
        (base(ts="yesterday"), "bad_timestamp", "not an ISO-8601 time"),
        (base(ts="2024-05-01T10:00:00"), "bad_timestamp", "no UTC offset"),
        (base(ts="9999-12-31T23:59:59+00:00"), "bad_timestamp", "outside 1970-01-01..2100-01-01"),
        (base(ts="10000-01-01T00:00:00+00:00"), "bad_timestamp", "not an ISO-8601"),
        (base(ts=-5_000), "bad_timestamp", "outside"),
        (json.dumps(base(ts=2**80)).encode(), "bad_timestamp", "outside"),
        (base(ts="2024-02-30T10:00:00Z"), "bad_timestamp", "not an ISO-8601"),
        (base(ts="0001-01-01T00:00:00+14:00"), "bad_timestamp", "outside"),
    ],
)
def test_bad_event_is_rejected_with_a_reason_and_a_message(
    payload: Any, reason: str, words: str
) -> None:
    result = parse(payload)
    assert isinstance(result, Rejection), result
    assert result.reason == reason
    assert words in result.message


def test_oversized_event_is_rejected_before_it_is_parsed() -> None:
    result = parse(base(note="x" * 70_000))
    assert isinstance(result, Rejection) and result.reason == "oversized"
    assert "70" in result.message and "65536" in result.message


def test_event_ahead_of_the_clock_beyond_tolerance_is_from_future() -> None:
    ahead = parse(base(ts=NOW + 301_000), now_ms=NOW, future_tolerance_ms=300_000)
    assert isinstance(ahead, Rejection) and ahead.reason == "from_future"
    within = parse(base(ts=NOW + 299_000), now_ms=NOW, future_tolerance_ms=300_000)
    assert isinstance(within, ContactEvent)


def test_replay_without_a_clock_accepts_old_and_new_times() -> None:
    assert isinstance(parse(base(ts="1999-08-01T10:00:00+03:00")), ContactEvent)


def test_rejection_names_the_event_id_and_type_when_known() -> None:
    result = parse(base(queue=None))
    assert (result.event_id, result.type) == ("e1", "contact.answered")


def test_every_rejection_reason_of_the_parser_is_reachable() -> None:
    # too_late is decided by the fold (tests/streams/test_queues.py); the rest here
    produced = {
        parse(payload).reason
        for payload in (
            b"x",
            base(event_id=None),
            base(queue=1),
            base(queue=""),
            base(type="x"),
            base(ts="x"),
        )
    }
    produced.add(parse(base(x="y" * 70_000)).reason)
    produced.add(parse(base(ts=NOW + 10**9), now_ms=NOW).reason)
    assert produced | {"too_late"} == set(REJECTION_REASONS)


def test_encoded_event_parses_back_to_itself() -> None:
    event = parse(
        base(type="contact.queued", agent_id=None, channel="email", priority=2, customer_id="k")
    )
    assert parse_event(encode_event(event)) == event


# -- fuzzing: no input raises anything but a rejection --------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
field_values = st.one_of(
    json_values,
    st.sampled_from(
        [
            "",
            "x" * 300,
            "2024-05-01T10:00:00Z",
            "9999-12-31T00:00:00Z",
            "available",
            "contact.queued",
        ]
    ),
    st.integers(-(2**70), 2**70),
)
FIELDS = [
    "event_id",
    "type",
    "ts",
    "contact_id",
    "queue",
    "agent_id",
    "state",
    "reason",
    "channel",
    "priority",
    "queues",
    "csat",
    "nps",
    "complaint",
    "level",
    "case_id",
    "survey_id",
    "to_queue",
]
TYPES = [
    "contact.queued",
    "contact.answered",
    "contact.flowed_out",
    "agent.state",
    "case.opened",
    "case.escalated",
    "survey.completed",
    "contact.transferred",
    "nonsense",
]


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(payload: bytes) -> None:
    result = parse_event(payload)
    assert isinstance(result, Rejection | ContactEvent | AgentEvent | CaseEvent | SurveyEvent)
    if isinstance(result, Rejection):
        assert result.reason in REJECTION_REASONS and result.message


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(TYPES), st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=10))
def test_random_objects_never_raise_and_every_rejection_has_a_reason(
    etype: str, fields: dict[str, Any]
) -> None:
    obj = {"type": etype, "event_id": "e", "ts": 1_700_000_000_000, **fields}
    result = parse_event(json.dumps(obj).encode(), now_ms=NOW)
    if isinstance(result, Rejection):
        assert result.reason in REJECTION_REASONS and result.message
    else:
        assert result.type == obj["type"]
