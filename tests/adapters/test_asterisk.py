"""Asterisk queue_log → contract events → core: hand-checked metrics from documented lines.

Fixtures cite their sources (docs.asterisk.org queue log reference, Wazo's queue_log table
samples). Thresholds are the defaults: T = 20 s, S = 5 s, 15-minute intervals, UTC.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from streams.adapters.asterisk import AsteriskAdapter, AsteriskOptions, parse_line
from streams.adapters.common import BAD_NUMBER, TRUNCATED, UNKNOWN_VERB
from streams.events import BAD_TIMESTAMP, MISSING_FIELD, Rejection
from tests.adapters.support import events_of, fixture_lines, fold, records, totals_s

T = 1366720000_000  # epoch ms of the fixture's 1366720000 (2013-04-23T12:26:40Z)


def at(epoch_s: float) -> int:
    return round(epoch_s * 1000)


def adapt(lines: list[bytes] | list[str], wrapup_s: float = 10) -> list[dict[str, Any]]:
    adapter = AsteriskAdapter(AsteriskOptions(wrapup_s=wrapup_s))
    events = events_of(adapter.feed(line) for line in lines)
    return events + adapter.finish()


def fixture_events(wrapup_s: float = 10) -> list[dict[str, Any]]:
    return adapt(list(fixture_lines("asterisk_queue_log")), wrapup_s)


def of_type(events: list[dict[str, Any]], kind: str, contact: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind and e.get("contact_id") == contact]


# --- the worked examples of the issue ---------------------------------------------------------


def test_enterqueue_connect_2_completeagent_12_is_a_2_s_wait_and_12_s_talk() -> None:
    lines = [
        "1366720339|1366720340.303267|MYQUEUE|NONE|ENTERQUEUE||5551234|1",
        "1366720341|1366720340.303267|MYQUEUE|SIP/8008|CONNECT|2|1366720341.303270|1",
        "1366720353|1366720340.303267|MYQUEUE|SIP/8008|COMPLETEAGENT|2|12|1",
    ]
    record = records(fold(adapt(lines, wrapup_s=0)))["MYQUEUE@12:30"]
    assert (record["offered"], record["answered"], record["handled"]) == (1, 1, 1)
    assert record["wait_answered_s_sum"] == 2.0
    assert record["talk_s_sum"] == 12.0
    assert record["acw_s_sum"] == 0.0  # no wrap-up time configured: Asterisk logs no ACW


def test_abandon_1_1_6_is_abandoned_after_6_seconds() -> None:
    events = adapt(
        [
            "1366720360|1366720360.303280|MYQUEUE|NONE|ENTERQUEUE||5559876|1",
            "1366720366|1366720360.303280|MYQUEUE|NONE|ABANDON|1|1|6",
        ]
    )
    (queued,) = of_type(events, "contact.queued", "1366720360.303280")
    (abandoned,) = of_type(events, "contact.abandoned", "1366720360.303280")
    assert abandoned["ts"] - queued["ts"] == 6000
    record = records(fold(events))["MYQUEUE@12:30"]
    # 6 s is above the 5 s short-abandon threshold: a real abandon, within T = 20 s
    assert (record["abandoned"], record["short_abandoned"]) == (1, 0)
    assert record["abandoned_within_threshold"] == 1


def test_ringnoanswer_1000_is_a_one_second_missed_offer() -> None:
    # the documentation's sample line, after the caller entered the queue
    events = adapt(
        [
            "1366720339|1366720340.303267|MYQUEUE|NONE|ENTERQUEUE||5551234|1",
            "1366720340|1366720340.303267|MYQUEUE|SIP/8007|RINGNOANSWER|1000",
        ]
    )
    (offered,) = of_type(events, "contact.offered", "1366720340.303267")
    (missed,) = of_type(events, "contact.missed", "1366720340.303267")
    assert (offered["agent_id"], missed["agent_id"]) == ("SIP/8007", "SIP/8007")
    assert missed["ts"] - offered["ts"] == 1000  # milliseconds, unlike CONNECT's seconds
    leg = fold(events).queues["MYQUEUE"].legs["1366720340.303267"]
    assert [(ts, agent) for ts, _, agent in leg.offers] == [(at(1366720339), "SIP/8007")]
    assert [(ts, agent) for ts, _, agent in leg.misses] == [(at(1366720340), "SIP/8007")]


def test_connect_ringtime_is_in_seconds() -> None:
    events = adapt(["1366720500|c9|MYQUEUE|SIP/8008|CONNECT|30|1366720500.3|4"])
    (offered,) = of_type(events, "contact.offered", "c9")
    (answered,) = of_type(events, "contact.answered", "c9")
    assert answered["ts"] - offered["ts"] == 4000


# --- the documented fixture, whole ------------------------------------------------------------


def test_fixture_interval_record_is_the_hand_checked_one() -> None:
    record = records(fold(fixture_events(wrapup_s=10)))["MYQUEUE@12:30"]
    expected = {
        # queued: .303267 .303280 .303300 .303310 .303320 (short abandon) .303330
        "offered": 5,
        "answered": 2,  # waits 2 s and 30 s
        "answered_within_threshold": 1,
        "abandoned": 1,  # after 6 s
        "short_abandoned": 1,  # after 3 s
        "abandoned_within_threshold": 1,
        "flowed_out": 2,  # EXITWITHTIMEOUT after 30 s, EXITWITHKEY after 2 s
        "wait_answered_s_sum": 32.0,
        "wait_answered_s_max": 30.0,
        "handled": 2,
        "talk_s_sum": 42.0,  # 12 s completed + 30 s until the blind transfer
        "hold_s_sum": 0.0,  # Asterisk logs no hold
        "acw_s_sum": 20.0,  # the configured 10 s wrap-up, twice
    }
    assert {k: record[k] for k in expected} == expected
    assert record["service_level"]["answered_of_offered"] == pytest.approx(1 / 3)
    assert record["asa_s"] == 16.0
    assert record["aht_s"] == 31.0


def test_flow_out_reasons_follow_the_exit_event() -> None:
    lines = [
        "1366720400|a|Q|NONE|ENTERQUEUE||1|1",
        "1366720430|a|Q|NONE|EXITWITHTIMEOUT|1|1|30",
        "1366720400|b|Q|NONE|ENTERQUEUE||1|1",
        "1366720402|b|Q|NONE|EXITWITHKEY|1|1|1|2",
        "1366720400|c|Q|NONE|ENTERQUEUE||1|1",
        "1366720401|c|Q|NONE|EXITEMPTY|1|1|1",
        "1366720400|d|Q|NONE|ENTERQUEUE||1|1",
        "1366720405|d|Q|NONE|WITHDRAW|1|1|5|moved by supervisor",
    ]
    reasons = {
        e["contact_id"]: e["reason"] for e in adapt(lines) if e["type"] == "contact.flowed_out"
    }
    assert reasons == {"a": "timeout", "b": "exit_key", "c": "no_agents", "d": "overflow"}


def test_agents_states_follow_membership_pauses_calls_and_the_wrapup_time() -> None:
    floor = fold(fixture_events(wrapup_s=10))
    # SIP/8008: available from 12:31:40, two calls each followed by 10 s of wrap-up
    assert totals_s(floor, "SIP/8008", at(1366720300), at(1366720600)) == {
        "available": 41 + 137 + 60,
        "on_contact": 12 + 30,
        "after_contact_work": 10 + 10,
    }
    # SIP/8007 rang without answer (no state change), paused for lunch, back, paused again
    assert totals_s(floor, "SIP/8007", at(1366720300), at(1366720800)) == {
        "available": 70 + 100,
        "not_ready:lunch": 230,
        "not_ready:unspecified": 100,  # PAUSEALL without a reason
    }
    assert floor.agents["SIP/8007"].attributes["queues"] == ("MYQUEUE",)


def test_wrapped_comes_wrapup_seconds_after_completion() -> None:
    events = fixture_events(wrapup_s=10)
    (ended,) = of_type(events, "contact.ended", "1366720340.303267")
    (wrapped,) = of_type(events, "contact.wrapped", "1366720340.303267")
    assert (ended["ts"], wrapped["ts"]) == (at(1366720353), at(1366720363))


def test_wrapup_ends_early_when_the_agent_takes_the_next_call() -> None:
    lines = [
        "1366720000|NONE|Q|SIP/1|ADDMEMBER|",
        "1366720001|c1|Q|NONE|ENTERQUEUE||1|1",
        "1366720002|c1|Q|SIP/1|CONNECT|1|x|1",
        "1366720010|c1|Q|SIP/1|COMPLETECALLER|1|8|1",
        "1366720011|c2|Q|NONE|ENTERQUEUE||1|1",
        "1366720014|c2|Q|SIP/1|CONNECT|3|x|0",
        "1366720020|c2|Q|SIP/1|COMPLETEAGENT|3|6|1",
    ]
    events = adapt(lines, wrapup_s=30)
    (wrapped,) = of_type(events, "contact.wrapped", "c1")
    assert wrapped["ts"] == at(1366720014)
    states = [(e["ts"] - T, e["state"]) for e in events if e["type"] == "agent.state"]
    assert states == [
        (0, "available"),
        (2000, "on_contact"),
        (10000, "after_contact_work"),
        (14000, "on_contact"),
        (20000, "after_contact_work"),
        (50000, "available"),  # the last wrap-up runs its 30 s (released by finish())
    ]


def test_pause_during_wrapup_takes_effect_when_the_wrapup_ends() -> None:
    lines = [
        "1366720000|NONE|Q|SIP/1|ADDMEMBER|",
        "1366720001|c1|Q|NONE|ENTERQUEUE||1|1",
        "1366720002|c1|Q|SIP/1|CONNECT|1|x|1",
        "1366720010|c1|Q|SIP/1|COMPLETEAGENT|1|8|1",
        "1366720012|NONE|Q|SIP/1|PAUSE|Training",
        "1366720100|NONE|Q|SIP/1|UNPAUSE|",
    ]
    states = [
        (e["ts"] - T, e["state"], e.get("reason"))
        for e in adapt(lines, wrapup_s=30)
        if e["type"] == "agent.state"
    ]
    assert states == [
        (0, "available", None),
        (2000, "on_contact", None),
        (10000, "after_contact_work", None),
        (40000, "not_ready", "training"),
        (100000, "available", None),
    ]


def test_second_visit_of_the_same_queue_is_a_new_leg() -> None:
    lines = [
        "1366720000|c1|Q|NONE|ENTERQUEUE||1|1",
        "1366720030|c1|Q|NONE|EXITWITHTIMEOUT|1|1|30",
        "1366720031|c1|Q|NONE|ENTERQUEUE||1|1",
        "1366720040|c1|Q|NONE|ABANDON|1|1|9",
    ]
    record = records(fold(adapt(lines)))["Q@12:15"]
    assert (record["offered"], record["flowed_out"], record["abandoned"]) == (2, 1, 1)


def test_wazo_table_form_reads_like_the_file_form() -> None:
    adapter = AsteriskAdapter(AsteriskOptions(wrapup_s=0))
    table = events_of(adapter.feed(line) for line in fixture_lines("asterisk_queue_log_table.txt"))
    assert adapter.counts.ignored["blank"] == 3  # header, ruler, row count
    file_form = adapt(
        [
            "1366720339|1366720340.303267|MYQUEUE|NONE|ENTERQUEUE||5551234|1",
            "1366720340|1366720340.303267|MYQUEUE|SIP/8007|RINGNOANSWER|1000",
            "1366720341|1366720340.303267|MYQUEUE|SIP/8008|CONNECT|2|1366720341.303270|1",
            "1366720353|1366720340.303267|MYQUEUE|SIP/8008|COMPLETEAGENT|2|12|1",
        ],
        wrapup_s=0,
    )
    calls = [e for e in table if e["type"].startswith("contact.")]
    assert calls == [e for e in file_form if e["type"].startswith("contact.")]
    # the documented agent sample: logged in, logged off, then unpaused (still logged off)
    agent = [(e["ts"] % 86_400_000, e["state"]) for e in table if e.get("agent_id") == "Agent/3001"]
    assert agent == [(55643896, "available"), (55686249, "logged_out")]


def test_table_times_without_offset_are_read_in_the_configured_zone() -> None:
    line = "2013-04-23 14:32:19.500 | c1 | Q | NONE | ENTERQUEUE | | 1 | 1 | |"
    utc = parse_line(line)
    paris = parse_line(line, AsteriskAdapter(AsteriskOptions(timezone="Europe/Paris"))._tz)
    assert not isinstance(utc, Rejection | None) and not isinstance(paris, Rejection | None)
    assert utc.ts_ms - paris.ts_ms == 2 * 3_600_000  # CEST is UTC+2
    assert utc.ts_ms % 1000 == 500


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("1366720040|1366720040.7|supp", TRUNCATED),
        ("1366720040|1366720040.7|MYQUEUE|NONE|ABANDON|1|1", TRUNCATED),
        ("1366720040|1366720040.7|MYQUEUE|NONE|TELEPORTED|1", UNKNOWN_VERB),
        ("1366720040|1366720040.7|MYQUEUE|NONE|ABANDON|one|1|6", BAD_NUMBER),
        ("1366720040|1366720040.7|MYQUEUE|SIP/1|RINGNOANSWER|1s", BAD_NUMBER),
        ("1366720040|1366720040.7|MYQUEUE|SIP/1|CONNECT|2|x|soon", BAD_NUMBER),
        ("yesterday|1366720040.7|MYQUEUE|NONE|ENTERQUEUE||1|1", BAD_TIMESTAMP),
        ("99999999999999999|1366720040.7|MYQUEUE|NONE|ENTERQUEUE||1|1", BAD_TIMESTAMP),
        ("1366720040|1366720040.7|MYQUEUE|NONE|CONNECT|2|x|1", MISSING_FIELD),
        ("1366720040|NONE|MYQUEUE|NONE|ENTERQUEUE||1|1", MISSING_FIELD),
        ("1366720040|1366720040.7|MYQUEUE|NONE|ATTENDEDTRANSFER|LINK|a|b|2|5|1", MISSING_FIELD),
        ("1366720040|1366720040.7|MYQUEUE|SIP/1|ATTENDEDTRANSFER|LINK|a|b|2|x|1", BAD_NUMBER),
        (b"1366720040|\xff\xfe|MYQUEUE|SIP/1|RINGNOANSWER|\xff", BAD_NUMBER),
    ],
)
def test_malformed_line_is_rejected_with_a_reason_and_counted(
    line: str | bytes, reason: str
) -> None:
    adapter = AsteriskAdapter()
    result = adapter.feed(line)
    assert isinstance(result, Rejection), result
    assert result.reason == reason, result
    assert result.message
    assert adapter.counts.rejected == {reason: 1}
    # the adapter keeps going
    assert adapter.feed("1366720040|c|Q|NONE|ENTERQUEUE||1|1") != []


def test_known_events_without_a_contract_fact_are_ignored_and_counted() -> None:
    adapter = AsteriskAdapter()
    assert adapter.feed("1366720000|NONE|NONE|NONE|QUEUESTART|") == []
    assert adapter.feed("1366720531|NONE|NONE|NONE|CONFIGRELOAD|") == []
    assert adapter.counts.ignored == {"QUEUESTART": 1, "CONFIGRELOAD": 1}
    assert not adapter.counts.rejected


# --- determinism ------------------------------------------------------------------------------


def test_same_lines_give_the_same_event_ids_so_a_reread_deduplicates() -> None:
    first, second = fixture_events(), fixture_events()
    assert [e["event_id"] for e in first] == [e["event_id"] for e in second]
    assert len({e["event_id"] for e in first}) == len(first)
    once = records(fold(first))
    twice = fold(first + second)
    assert records(twice) == once
    assert twice.duplicates == len(first)


def test_state_saved_midway_continues_exactly() -> None:
    lines = list(fixture_lines("asterisk_queue_log"))
    whole = fixture_events()
    for cut in range(len(lines) + 1):
        adapter = AsteriskAdapter(AsteriskOptions(wrapup_s=10))
        head = events_of(adapter.feed(line) for line in lines[:cut])
        resumed = AsteriskAdapter(AsteriskOptions(wrapup_s=10), state=adapter.to_state())
        tail = events_of(resumed.feed(line) for line in lines[cut:]) + resumed.finish()
        assert head + tail == whole, cut


def test_arrival_order_of_the_events_does_not_change_the_records() -> None:
    events = fixture_events()
    expected = records(fold(events))
    shuffled = list(events)
    random.Random(8).shuffle(shuffled)
    assert records(fold(shuffled)) == expected
