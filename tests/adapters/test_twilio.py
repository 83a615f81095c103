"""Twilio TaskRouter → contract events → core: hand-checked metrics, signatures, bad input.

Fixtures cite the TaskRouter Events reference and the Event Streams event types. Queue
``Support``; T0 = 2023-11-14T22:20:00Z, inside the 22:15-22:30 interval.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
import pytest

from streams.adapters.common import BAD_ENCODING, UNKNOWN_EVENT
from streams.adapters.twilio import (
    TwilioAdapter,
    compute_signature,
    decode_body,
    validate_json_signature,
    validate_signature,
)
from streams.events import BAD_TIMESTAMP, INVALID_JSON, MISSING_FIELD, Rejection
from tests.adapters.support import events_of, fixture_lines, fold, records, totals_s

T0 = 1_700_000_400_000
ALICE = "WK" + "0" * 31 + "a"
BOB = "WK" + "0" * 31 + "b"
TASK1 = "WT" + "0" * 31 + "1"
TASK3 = "WT" + "0" * 31 + "3"


def adapt(fixture: str) -> list[dict[str, Any]]:
    adapter = TwilioAdapter()
    events = events_of(r for line in fixture_lines(fixture) for r in adapter.feed_bytes(line))
    assert not adapter.counts.rejected
    return events


def callback(**fields: str) -> dict[str, str]:
    return {"Timestamp": str(T0 // 1000), **fields}


# --- hand-checked metrics ---------------------------------------------------------------------


EXPECTED_RECORD = {
    "offered": 3,
    "answered": 1,
    "answered_within_threshold": 1,
    "abandoned": 1,  # task.canceled ("hangup") 12 s after entering
    "short_abandoned": 0,
    "flowed_out": 1,  # task-queue.timeout 60 s after entering
    "wait_answered_s_sum": 5.5,  # entered at :10, accepted at :15.500 (TimestampMs)
    "handled": 1,
    "talk_s_sum": 60.0,  # accepted → wrapup
    "acw_s_sum": 20.0,  # wrapup → completed
}


@pytest.mark.parametrize("fixture", ["twilio_callbacks.txt", "twilio_eventstreams.jsonl"])
def test_fixture_gives_the_hand_checked_interval_record(fixture: str) -> None:
    record = records(fold(adapt(fixture)))["Support@22:15"]
    assert {k: record[k] for k in EXPECTED_RECORD} == EXPECTED_RECORD
    assert record["asa_s"] == 5.5
    assert record["aht_s"] == 80.0


@pytest.mark.parametrize("fixture", ["twilio_callbacks.txt", "twilio_eventstreams.jsonl"])
def test_workers_follow_reservations_and_activity_availability(fixture: str) -> None:
    floor = fold(adapt(fixture))
    assert totals_s(floor, ALICE, T0, T0 + 300_000) == {
        "available": 15.5 + 104.5,
        "on_contact": 60.0,
        "after_contact_work": 20.0,
        "not_ready:break": 100.0,  # Break is not an available activity
    }
    assert totals_s(floor, BOB, T0, T0 + 400_000) == {"available": 300.0, "logged_out": 100.0}
    assert floor.agents[ALICE].attributes["name"] == "alice"


def test_reservation_timeout_is_a_missed_offer_of_15_seconds() -> None:
    leg = fold(adapt("twilio_callbacks.txt")).queues["Support"].legs[TASK3]
    assert [(ts - T0, agent) for ts, _, agent in leg.offers] == [(121_000, BOB)]
    assert [(ts - T0, agent) for ts, _, agent in leg.misses] == [(136_000, BOB)]


def test_callbacks_and_event_streams_give_the_same_records() -> None:
    assert records(fold(adapt("twilio_callbacks.txt"))) == records(
        fold(adapt("twilio_eventstreams.jsonl"))
    )


def test_seconds_and_milliseconds_time_fields_are_both_read() -> None:
    adapter = TwilioAdapter()
    seconds = adapter.feed(
        callback(EventType="task-queue.entered", TaskSid="WT1", TaskQueueName="Q")
    )
    millis = adapter.feed(
        {
            **callback(EventType="task-queue.entered", TaskSid="WT2", TaskQueueName="Q"),
            "TimestampMs": str(T0 + 250),
        }
    )
    iso = adapter.feed(
        {
            "type": "com.twilio.taskrouter.task-queue.entered",
            "data": {"task_sid": "WT3", "task_queue_name": "Q", "timestamp": T0 + 500},
        }
    )
    assert [r[0]["ts"] for r in (seconds, millis, iso) if not isinstance(r, Rejection)] == [
        T0,
        T0 + 250,
        T0 + 500,
    ]


def test_task_moved_flows_out_of_the_old_queue_and_queues_in_the_new_one() -> None:
    adapter = TwilioAdapter()
    adapter.feed(callback(EventType="task-queue.entered", TaskSid="WT1", TaskQueueName="Tier1"))
    moved = adapter.feed(
        callback(EventType="task-queue.moved", TaskSid="WT1", TaskQueueName="Tier2")
    )
    assert not isinstance(moved, Rejection)
    assert [(e["type"], e["queue"], e.get("reason")) for e in moved] == [
        ("contact.flowed_out", "Tier1", "overflow"),
        ("contact.queued", "Tier2", None),
    ]


def test_task_canceled_by_its_ttl_is_a_timeout_and_after_an_answer_is_nothing() -> None:
    adapter = TwilioAdapter()
    adapter.feed(callback(EventType="task-queue.entered", TaskSid="WT1", TaskQueueName="Q"))
    ttl = adapter.feed(
        callback(EventType="task.canceled", TaskSid="WT1", TaskCanceledReason="Task TTL Exceeded")
    )
    assert not isinstance(ttl, Rejection)
    assert [(e["type"], e.get("reason")) for e in ttl] == [("contact.flowed_out", "timeout")]
    adapter.feed(callback(EventType="task-queue.entered", TaskSid="WT2", TaskQueueName="Q"))
    adapter.feed(
        callback(EventType="reservation.accepted", TaskSid="WT2", WorkerSid="WK1", TaskQueueSid="x")
    )
    assert adapter.feed(callback(EventType="task.canceled", TaskSid="WT2")) == []


def test_redelivered_callback_gives_the_same_event_ids() -> None:
    first, second = adapt("twilio_callbacks.txt"), adapt("twilio_callbacks.txt")
    assert [e["event_id"] for e in first] == [e["event_id"] for e in second]
    assert len({e["event_id"] for e in first}) == len(first)


def test_state_carries_queues_and_workers_across_a_restart() -> None:
    lines = list(fixture_lines("twilio_callbacks.txt"))
    whole = adapt("twilio_callbacks.txt")
    adapter = TwilioAdapter()
    head = events_of(r for line in lines[:6] for r in adapter.feed_bytes(line))
    resumed = TwilioAdapter(state=orjson.loads(orjson.dumps(adapter.to_state())))
    tail = events_of(r for line in lines[6:] for r in resumed.feed_bytes(line))
    assert head + tail == whole


# --- signatures -------------------------------------------------------------------------------

DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+14158675309"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
]
DOC_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
"""Twilio's published example (https://www.twilio.com/docs/usage/security, auth token 12345)."""


def test_signature_matches_twilios_published_example() -> None:
    assert compute_signature("12345", DOC_URL, DOC_PARAMS) == DOC_SIGNATURE
    assert validate_signature("12345", DOC_URL, list(reversed(DOC_PARAMS)), DOC_SIGNATURE)


@pytest.mark.parametrize(
    ("token", "url", "params", "signature"),
    [
        ("12345", DOC_URL, [*DOC_PARAMS[:2], ("Digits", "9999"), *DOC_PARAMS[3:]], DOC_SIGNATURE),
        ("54321", DOC_URL, DOC_PARAMS, DOC_SIGNATURE),
        ("12345", DOC_URL.replace("bar=2", "bar=3"), DOC_PARAMS, DOC_SIGNATURE),
        ("12345", DOC_URL, DOC_PARAMS, None),
        ("12345", DOC_URL, DOC_PARAMS, ""),
    ],
)
def test_bad_signature_is_refused(
    token: str, url: str, params: list[tuple[str, str]], signature: str | None
) -> None:
    assert not validate_signature(token, url, params, signature)


def test_signature_holds_with_and_without_the_default_port() -> None:
    signed = compute_signature("t", "https://floor.example/twilio", DOC_PARAMS)
    assert validate_signature("t", "https://floor.example:443/twilio", DOC_PARAMS, signed)
    on_port = compute_signature("t", "https://floor.example:443/twilio", DOC_PARAMS)
    assert validate_signature("t", "https://floor.example/twilio", DOC_PARAMS, on_port)


def test_json_body_is_signed_through_its_sha256_in_the_url() -> None:
    import hashlib

    body = b'[{"type":"com.twilio.taskrouter.task.canceled"}]'
    url = "https://floor.example/twilio?bodySHA256=" + hashlib.sha256(body).hexdigest()
    signed = compute_signature("t", url)
    assert validate_json_signature("t", url, body, signed)
    assert not validate_json_signature("t", url, body + b" ", signed)
    assert not validate_json_signature("t", "https://floor.example/twilio", body, signed)


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"EventType=task-queue.entered&TaskSid=WT1&TaskQueueName=Q", MISSING_FIELD),
        (b"EventType=task-queue.entered&Timestamp=soon&TaskSid=WT1&TaskQueueName=Q", BAD_TIMESTAMP),
        (b"EventType=task-queue.entered&Timestamp=1700000400&TaskQueueName=Q", MISSING_FIELD),
        (b"EventType=call.teleported&Timestamp=1700000400", UNKNOWN_EVENT),
        (b"Timestamp=1700000400&TaskSid=WT1", MISSING_FIELD),
        (b"EventType=reservation.accepted&Timestamp=1700000400&TaskSid=WT9", MISSING_FIELD),
        (b'{"type": "com.twilio.taskrouter.task.canceled", "data": "x"}', MISSING_FIELD),
        (b'{"EventType": "task.canceled", ', INVALID_JSON),
        (b"[1, 2]", INVALID_JSON),
        (b"\xff\xfe=\xff", BAD_ENCODING),
        (b"no form here", BAD_ENCODING),
    ],
)
def test_malformed_payload_is_rejected_with_a_reason_and_counted(raw: bytes, reason: str) -> None:
    adapter = TwilioAdapter()
    results = adapter.feed_bytes(raw)
    rejections = [r for r in results if isinstance(r, Rejection)]
    assert rejections, results
    assert {r.reason for r in rejections} == {reason}, rejections
    assert adapter.counts.rejected == {reason: len(rejections)}


def test_other_taskrouter_events_are_ignored_and_counted() -> None:
    adapter = TwilioAdapter()
    body = urlencode(callback(EventType="workflow.target-matched", TaskSid="WT1")).encode()
    assert adapter.feed_bytes(body) == [[]]
    assert adapter.counts.ignored == {"workflow.target-matched": 1}


def test_decode_body_splits_an_event_streams_array() -> None:
    payloads = decode_body(b'[{"type": "a"}, {"type": "b"}]')
    assert payloads == [{"type": "a"}, {"type": "b"}]
