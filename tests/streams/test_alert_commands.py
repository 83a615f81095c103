"""Operators' commands on the commands topic: decoding, and applying only to the current firing."""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest

from streams.alert_commands import (
    ACK,
    SNOOZE,
    AlertCommand,
    AlertCommandError,
    apply_command,
    decode_command,
)
from streams.alerts import ACKNOWLEDGED, FIRING, AlertTracker
from tests.streams.test_alerts import KEY, WAITING, drive, every, ms


def test_a_command_survives_its_round_trip() -> None:
    command = AlertCommand(SNOOZE, KEY, by="sam", at_ms=5, note="lunch cover", until_ms=900)
    assert decode_command(command.encode()) == command


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty message"),
        (b"{", "not JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"kind": "delete", "alert_id": "x", "by": "s", "at_ms": 1}', "kind: expected"),
        (b'{"kind": "ack", "alert_id": "", "by": "s", "at_ms": 1}', "alert_id: expected"),
        (b'{"kind": "ack", "alert_id": "x", "by": 3, "at_ms": 1}', "by: expected"),
        (b'{"kind": "ack", "alert_id": "x", "by": "s", "at_ms": "now"}', "at_ms: expected"),
        (b'{"kind": "ack", "alert_id": "x", "by": "s", "at_ms": true}', "at_ms: expected"),
        (b'{"kind": "ack", "alert_id": "x", "by": "s", "at_ms": 1, "note": 7}', "note: expected"),
        (b'{"kind": "snooze", "alert_id": "x", "by": "s", "at_ms": 1}', "until_ms: expected"),
    ],
)
def test_a_message_that_is_not_a_command_is_refused_with_the_reason(
    raw: bytes | None, reason: str
) -> None:
    with pytest.raises(AlertCommandError, match=reason):
        decode_command(raw)


def test_long_names_and_notes_are_cut_not_refused() -> None:
    raw = orjson.dumps(
        {"kind": ACK, "alert_id": KEY, "by": "x" * 900, "at_ms": 1, "note": "n" * 900}
    )
    command = decode_command(raw)
    assert (len(command.by), len(command.note or "")) == (500, 500)


def firing_tracker() -> AlertTracker:
    tracker = AlertTracker([replace(WAITING, for_s=0)])
    assert drive(tracker, every(10, 12)) == [(0, FIRING, "warning", True)]
    return tracker


def test_an_acknowledgement_of_the_current_firing_is_applied() -> None:
    tracker = firing_tracker()
    change = apply_command(tracker, AlertCommand(ACK, KEY, by="sam", at_ms=ms(5)), ms(6))
    assert change is not None
    assert (change.state, change.acknowledged_by, change.notify) == (ACKNOWLEDGED, "sam", False)


def test_an_acknowledgement_older_than_the_firing_changes_nothing() -> None:
    """Read again after a restart, the acknowledgement of a previous episode must not
    silence a new one."""
    tracker = firing_tracker()
    assert apply_command(tracker, AlertCommand(ACK, KEY, by="sam", at_ms=ms(-60)), ms(6)) is None
    current = tracker.get(KEY, ms(6))
    assert current is not None and current.state == FIRING


def test_a_command_for_an_unknown_alert_changes_nothing() -> None:
    tracker = firing_tracker()
    command = AlertCommand(ACK, "waiting:queue:elsewhere", by="sam", at_ms=ms(5))
    assert apply_command(tracker, command, ms(6)) is None


def test_a_snooze_is_applied_until_its_end() -> None:
    tracker = firing_tracker()
    command = AlertCommand(SNOOZE, KEY, by="sam", at_ms=ms(5), until_ms=ms(600))
    change = apply_command(tracker, command, ms(6))
    assert change is not None
    assert (change.snoozed_until_ms, change.snoozed_by) == (ms(600), "sam")
