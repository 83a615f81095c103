"""Test helper: the real Anonymous Bank day (1999-08-01) as contract events.

The data set (../shared/data/anonymous-bank/, see its README) is for tests only and is never
shipped in the product. One row is one call; this turns each call that reached the queue into
the contact events an ACD would have sent:

- ``contact.queued`` at ``q_start`` in the queue named by ``type`` (PS, NW, NE, IN, PE, TT);
- served (``AGENT``): ``contact.answered`` at ``q_exit`` by ``server``, ``contact.ended``
  ``ser_time`` seconds later and ``contact.wrapped`` at the same moment (the data has no
  after-call work);
- hung up in the queue (``HANG``): ``contact.abandoned`` at ``q_exit``.

Calls that never reached the queue (``q_start`` 0:00:00: ended in the IVR, or the 268 served
without queueing) and ``PHANTOM`` records are left out, as the published daily table counts
them apart. ``call_id`` repeats across VRU lines, so the contact id is ``<vru+line>-<call_id>``.
Times are local to Israel (Asia/Jerusalem, +03:00 that day); a time earlier than the stage
before it has crossed midnight.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from streams.calendar import to_epoch_ms

DATA = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "anonymous-bank"
    / "calls_1999-08-01.csv"
)
DAY = date(1999, 8, 1)
TIMEZONE = "Asia/Jerusalem"
_TZ = ZoneInfo(TIMEZONE)


@dataclass(frozen=True)
class Call:
    contact_id: str
    queue: str
    outcome: str
    q_start_ms: int
    q_time_s: int
    ser_time_s: int
    server: str
    customer_id: str | None
    priority: int


def _clock(text: str) -> int:
    hours, minutes, seconds = (int(part) for part in text.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def _epoch_ms(seconds_of_day: int) -> int:
    moment = datetime.combine(DAY, time(), tzinfo=_TZ) + timedelta(seconds=seconds_of_day)
    # add the seconds in local wall-clock terms; no DST change happens on this day
    return to_epoch_ms(moment)


def read_calls(path: Path = DATA) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def queued_calls(rows: list[dict[str, str]]) -> list[Call]:
    calls = []
    for row in rows:
        if row["outcome"] == "PHANTOM" or row["q_start"] == "0:00:00":
            continue
        start = _clock(row["q_start"])
        if start < _clock(row["vru_exit"]) - 12 * 3600:  # queued after midnight
            start += 86_400
        calls.append(
            Call(
                contact_id=f"{row['vru+line']}-{row['call_id']}",
                queue=row["type"],
                outcome=row["outcome"],
                q_start_ms=_epoch_ms(start),
                q_time_s=int(row["q_time"]),
                ser_time_s=int(row["ser_time"]),
                server=row["server"],
                customer_id=None if row["customer_id"] == "0" else row["customer_id"],
                priority=int(row["priority"]),
            )
        )
    return calls


def contract_events(rows: list[dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """Every contact event of the day, sorted by time (ties keep a stable order)."""
    events: list[dict[str, Any]] = []
    for call in queued_calls(read_calls() if rows is None else rows):
        ident = call.contact_id
        common = {"contact_id": ident, "queue": call.queue, "source": "anonymous-bank"}
        queued: dict[str, Any] = {
            "event_id": f"{ident}-q",
            "type": "contact.queued",
            "ts": call.q_start_ms,
            "channel": "voice",
            "priority": call.priority,
            **common,
        }
        if call.customer_id:
            queued["customer_id"] = call.customer_id
        events.append(queued)
        left = call.q_start_ms + call.q_time_s * 1000
        if call.outcome == "AGENT":
            ended = left + call.ser_time_s * 1000
            agent = {"agent_id": call.server}
            events.append(
                {
                    "event_id": f"{ident}-a",
                    "type": "contact.answered",
                    "ts": left,
                    **common,
                    **agent,
                }
            )
            events.append(
                {"event_id": f"{ident}-e", "type": "contact.ended", "ts": ended, **common, **agent}
            )
            events.append(
                {
                    "event_id": f"{ident}-w",
                    "type": "contact.wrapped",
                    "ts": ended,
                    **common,
                    **agent,
                }
            )
        else:
            events.append(
                {"event_id": f"{ident}-x", "type": "contact.abandoned", "ts": left, **common}
            )
    events.sort(key=lambda e: e["ts"])
    return events
