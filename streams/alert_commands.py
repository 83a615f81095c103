"""Operators' commands on alerts: acknowledge and snooze, as carried on ``floor-alert-commands``.

A gateway turns ``POST /api/alerts/{id}/ack`` (operator token) into a command and produces it,
keyed by alert id; the worker that evaluates the alert rules applies it to its
:class:`~streams.alerts.AlertTracker` at its next evaluation and publishes the resulting change
on ``floor-alerts``, which every gateway shows. Pure: encoding, decoding, applying.

A command is applied only to the firing it was issued against: one older than the alert's
``fired_ms`` (an acknowledgement of a previous episode, read again after a restart) changes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson

from streams.alerts import AlertChange, AlertTracker

CommandKind = Literal["ack", "snooze"]
ACK: Final = "ack"
SNOOZE: Final = "snooze"
MAX_TEXT = 500
"""Longest ``by`` / ``note`` kept (longer ones are cut, never rejected)."""


@dataclass(frozen=True)
class AlertCommand:
    kind: CommandKind
    alert_id: str
    by: str
    at_ms: int
    note: str | None = None
    until_ms: int | None = None
    """For ``snooze``: no notifications until then (``<= at_ms`` lifts a snooze)."""

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "kind": self.kind,
                "alert_id": self.alert_id,
                "by": self.by,
                "at_ms": self.at_ms,
                "note": self.note,
                "until_ms": self.until_ms,
            }
        )


class AlertCommandError(ValueError):
    """A message on the commands topic that is not a command (the reason says why)."""


def decode_command(raw: bytes | None) -> AlertCommand:
    """The command in ``raw``; :class:`AlertCommandError` saying what is wrong otherwise."""
    if raw is None:
        raise AlertCommandError("empty message")
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise AlertCommandError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise AlertCommandError("not a JSON object")
    kind = data.get("kind")
    if kind not in (ACK, SNOOZE):
        raise AlertCommandError(f"kind: expected 'ack' or 'snooze', got {kind!r}")
    alert_id, by, at_ms = data.get("alert_id"), data.get("by"), data.get("at_ms")
    if not isinstance(alert_id, str) or not alert_id:
        raise AlertCommandError(f"alert_id: expected a non-empty string, got {alert_id!r}")
    if not isinstance(by, str) or not by:
        raise AlertCommandError(f"by: expected a non-empty string, got {by!r}")
    if not isinstance(at_ms, int) or isinstance(at_ms, bool):
        raise AlertCommandError(f"at_ms: expected epoch milliseconds, got {at_ms!r}")
    note = data.get("note")
    if note is not None and not isinstance(note, str):
        raise AlertCommandError(f"note: expected a string, got {note!r}")
    until_ms = data.get("until_ms")
    if kind == SNOOZE and not _is_int(until_ms):
        raise AlertCommandError(f"until_ms: expected epoch milliseconds, got {until_ms!r}")
    return AlertCommand(
        kind=kind,
        alert_id=alert_id,
        by=by[:MAX_TEXT],
        at_ms=at_ms,
        note=None if note is None else note[:MAX_TEXT],
        until_ms=until_ms if kind == SNOOZE else None,
    )


def apply_command(tracker: AlertTracker, command: AlertCommand, now_ms: int) -> AlertChange | None:
    """Apply ``command``; the change to publish, or None when it changes nothing (the alert
    is not active, or the command predates the alert's current firing)."""
    current = tracker.get(command.alert_id, now_ms)
    if current is None:
        return None
    started = current.fired_ms if current.fired_ms is not None else current.since_ms
    if command.at_ms < started:
        return None
    if command.kind == ACK:
        return tracker.acknowledge(command.alert_id, now_ms, command.by, command.note)
    assert command.until_ms is not None
    return tracker.snooze(command.alert_id, now_ms, command.until_ms, command.by, command.note)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
