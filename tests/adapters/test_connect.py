"""Amazon Connect agent event stream and CTRs → contract events → core: hand-checked metrics.

Fixtures cite the AWS agent event stream data model, its sample, the contact states page and
the CTR data model. Queue ``BasicQueue``, agent ``agentUserName``, 2019-05-25 (UTC):

- ContactId-1 queued 18:43:50.000, offered 18:43:59.049, answered 18:44:05.049 (wait
  15.049 s), on hold 18:44:35.049-18:44:55.049 (20 s), ended 18:45:35.049 (talk 90 - 20 =
  70 s), removed from the agent 18:46:05.049 (ACW 30 s);
- ContactId-2 offered 18:49:00 and missed 18:49:20 (agent stream only);
- ContactId-3 abandoned after 40 s, ContactId-4 dequeued after 60 s by the flow (CTRs only).
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from streams.adapters.common import BAD_ENCODING, BAD_NUMBER, UNKNOWN_EVENT
from streams.adapters.connect import ConnectAdapter, ConnectOptions
from streams.events import BAD_TIMESTAMP, BAD_TYPE, INVALID_JSON, MISSING_FIELD, Rejection
from tests.adapters.support import events_of, fixture_lines, fold, iso_ms, records, totals_s

AGENT = "agentUserName"
QUEUE = "BasicQueue"


def adapt(*fixtures: str, ctr_holds: bool = True) -> tuple[list[dict[str, Any]], ConnectAdapter]:
    adapter = ConnectAdapter(ConnectOptions(ctr_holds=ctr_holds))
    events = events_of(
        r
        for fixture in fixtures
        for line in fixture_lines(fixture)
        for r in adapter.feed_bytes(line)
    )
    assert not adapter.counts.rejected
    return events, adapter


def pick(record: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: record[name] for name in names}


CONTACT_1_HANDLE = {"handled": 1, "talk_s_sum": 70.0, "hold_s_sum": 20.0, "acw_s_sum": 30.0}


def test_agent_event_stream_diffs_give_the_hand_checked_records() -> None:
    events, _ = adapt("connect_agent_events.jsonl")
    by_interval = records(fold(events))
    assert pick(
        by_interval[f"{QUEUE}@18:30"], "offered", "answered", "wait_answered_s_sum", "handled"
    ) == {"offered": 1, "answered": 1, "wait_answered_s_sum": 15.049, "handled": 0}
    late = by_interval[f"{QUEUE}@18:45"]
    assert pick(late, *CONTACT_1_HANDLE) == CONTACT_1_HANDLE  # handled where ACW finished
    assert late["offered"] == 1  # ContactId-2: missed by the agent, still waiting as far as
    assert late["answered"] == 0  # the agent stream can tell (its CTR would say the rest)


def test_hold_uses_the_event_time_because_connect_keeps_state_start_on_hold() -> None:
    events, _ = adapt("connect_agent_events.jsonl")
    holds = [
        (e["type"], e["ts"]) for e in events if e["type"] in ("contact.held", "contact.resumed")
    ]
    assert holds == [
        ("contact.held", iso_ms("2019-05-25T18:44:35.049+00:00")),
        ("contact.resumed", iso_ms("2019-05-25T18:44:55.049+00:00")),
    ]


def test_agent_state_comes_from_each_snapshot() -> None:
    events, adapter = adapt("connect_agent_events.jsonl")
    floor = fold(events)
    start, end = iso_ms("2019-05-25T18:40:00+00:00"), iso_ms("2019-05-25T18:58:00+00:00")
    assert totals_s(floor, AGENT, start, end) == {
        "available": 245.049 + 234.951,
        "on_contact": 90.0,
        "after_contact_work": 30.0,
        "not_ready:break": 300.0,
        "logged_out": 180.0,
    }
    assert floor.agents[AGENT].attributes["name"] == "(First name) (Last name)"
    assert floor.agents[AGENT].attributes["queues"] == (QUEUE,)
    # the heartbeat changed nothing but freshness
    assert adapter.counts.ignored["HEART_BEAT"] == 1


def test_heartbeat_only_refreshes_the_agent() -> None:
    adapter = ConnectAdapter()
    line = next(
        line for line in fixture_lines("connect_agent_events.jsonl") if b"HEART_BEAT" in line
    )
    assert adapter.feed_bytes(line) == [[]]
    assert adapter.freshness == {AGENT: iso_ms("2019-05-25T18:48:05.049+00:00")}


def test_missed_contact_is_a_20_second_missed_offer() -> None:
    events, _ = adapt("connect_agent_events.jsonl")
    leg = fold(events).queues[QUEUE].legs["ContactId-2"]
    (offer,), (miss,) = leg.offers, leg.misses
    assert miss[0] - offer[0] == 20_000
    assert offer[2] == miss[2] == AGENT


def test_kinesis_wrapped_records_read_like_plain_ones() -> None:
    plain = [
        orjson.loads(line)
        for line in fixture_lines("connect_agent_events.jsonl")
        if line.startswith(b'{"AWSAccountId"')
    ]
    adapter = ConnectAdapter()
    wrapped = [
        orjson.dumps({"Data": base64.b64encode(orjson.dumps(plain[0])).decode()}),
        orjson.dumps(
            {
                "Records": [
                    {"kinesis": {"data": base64.b64encode(orjson.dumps(e)).decode()}}
                    for e in plain[1:3]
                ]
            }
        ),
        b"".join(orjson.dumps(e) for e in plain[3:6]),  # Firehose: objects back to back
        orjson.dumps(plain[6:]),  # a JSON array
    ]
    from_wrapped = events_of(r for line in wrapped for r in adapter.feed_bytes(line))
    from_plain = events_of(ConnectAdapter().feed(e) for e in plain)
    assert from_wrapped == from_plain


def test_ctrs_give_the_hand_checked_records_and_skip_the_repeat() -> None:
    events, adapter = adapt("connect_ctrs.jsonl")
    by_interval = records(fold(events))
    assert pick(by_interval[f"{QUEUE}@18:30"], "offered", "answered", "wait_answered_s_sum") == {
        "offered": 1,
        "answered": 1,
        "wait_answered_s_sum": 15.049,
    }
    late = by_interval[f"{QUEUE}@18:45"]
    assert pick(late, *CONTACT_1_HANDLE) == CONTACT_1_HANDLE  # hold from CustomerHoldDuration
    assert pick(late, "offered", "abandoned", "abandoned_within_threshold", "flowed_out") == {
        "offered": 2,
        "abandoned": 1,
        "abandoned_within_threshold": 0,
        "flowed_out": 1,
    }
    assert adapter.counts.duplicates == 1  # ContactId-3 delivered twice
    assert adapter.counts.ignored == {"CTR without queue": 1}  # the outbound ContactId-5
    flowed = [e for e in events if e["type"] == "contact.flowed_out"]
    assert [(e["contact_id"], e["reason"]) for e in flowed] == [("ContactId-4", "timeout")]


def test_ctr_and_agent_stream_of_the_same_contact_count_it_once() -> None:
    both, _ = adapt("connect_agent_events.jsonl", "connect_ctrs.jsonl", ctr_holds=False)
    late = records(fold(both))[f"{QUEUE}@18:45"]
    assert pick(late, *CONTACT_1_HANDLE) == CONTACT_1_HANDLE
    assert pick(late, "offered", "abandoned", "flowed_out") == {
        "offered": 3,  # ContactId-2 (still waiting), -3, -4
        "abandoned": 1,
        "flowed_out": 1,
    }
    early = records(fold(both))[f"{QUEUE}@18:30"]
    assert (early["offered"], early["answered"]) == (1, 1)


def test_updated_ctr_keeps_the_facts_ids() -> None:
    line = next(fixture_lines("connect_ctrs.jsonl"))
    ctr = orjson.loads(line)
    updated = {**ctr, "LastUpdateTimestamp": "2019-05-25T19:00:00Z"}
    adapter = ConnectAdapter()
    first = events_of([adapter.feed(ctr)])
    second = events_of([adapter.feed(updated)])
    assert [e["event_id"] for e in first] == [e["event_id"] for e in second]
    assert records(fold(first)) == records(fold(first + second))


# --- bad input --------------------------------------------------------------------------------


def agent_event(**changes: Any) -> bytes:
    line = next(line for line in fixture_lines("connect_agent_events.jsonl") if b'"LOGIN"' in line)
    return orjson.dumps({**orjson.loads(line), **changes})


def ctr(**changes: Any) -> bytes:
    return orjson.dumps({**orjson.loads(next(fixture_lines("connect_ctrs.jsonl"))), **changes})


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"EventType": "STATE_CHANGE", "AgentARN": ', INVALID_JSON),
        (b'{"Data": "not base64!"}', BAD_ENCODING),
        (b'{"Data": "' + base64.b64encode(b"{half") + b'"}', BAD_ENCODING),
        (b"\xff\xfe", BAD_ENCODING),
        (b"[1]", BAD_TYPE),
        (b"7", BAD_TYPE),
        (agent_event(EventTimestamp="yesterday"), BAD_TIMESTAMP),
        (agent_event(EventTimestamp=None), MISSING_FIELD),
        (agent_event(EventType="TELEPORT"), UNKNOWN_EVENT),
        (agent_event(CurrentAgentSnapshot={"Contacts": "x"}), BAD_TYPE),
        (b'{"Hello": "world"}', UNKNOWN_EVENT),
        (ctr(Queue={"Name": "Q", "EnqueueTimestamp": "soon"}), BAD_TIMESTAMP),
        (
            ctr(
                Agent={
                    "Username": "a",
                    "ConnectedToAgentTimestamp": "2019-05-25T18:44:05Z",
                    "CustomerHoldDuration": "twenty",
                }
            ),
            BAD_NUMBER,
        ),
        (
            ctr(Queue={"Name": "Q", "EnqueueTimestamp": "2019-05-25T18:44:05Z", "Duration": "x"}),
            BAD_NUMBER,
        ),
        (ctr(Agent="agentUserName"), BAD_TYPE),
    ],
)
def test_malformed_record_is_rejected_with_a_reason_and_counted(raw: bytes, reason: str) -> None:
    adapter = ConnectAdapter()
    results = adapter.feed_bytes(raw)
    assert len(results) == 1 and isinstance(results[0], Rejection), results
    assert results[0].reason == reason, results[0]
    assert adapter.counts.rejected == {reason: 1}
