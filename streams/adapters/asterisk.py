"""Asterisk ``queue_log`` → contract events.

Input, one event per line (https://docs.asterisk.org/Operation/Logging/Queue-Logs/)::

    epoch|uniqueid|queue|agent|EVENT|data1|data2|…

or the realtime / Wazo table form, where a timestamp column replaces the epoch
(https://wazo.readthedocs.io/en/wazo-20.03/api_sdk/queue_log.html), as ``psql`` prints it
(``time | callid | queuename | agent | event | data1 | … | data5``, padded columns; header,
ruler and ``(N rows)`` lines are skipped) or as CSV with that header. A timestamp without an
offset is read in :attr:`AsteriskOptions.timezone` (Asterisk writes local time unless
``queue_log_realtime_use_gmt`` is set). Lines must come in time order, as Asterisk writes
them (sort a table export by time).

Mapping (the contact is the caller's ``uniqueid``; a second visit of the same queue by the
same call becomes ``uniqueid#2`` …; the agent is the queue member name):

=====================================  =====================================================
queue_log event                        contract events
=====================================  =====================================================
ENTERQUEUE                             ``contact.queued``
CONNECT(holdtime|bridged|ringtime s)   ``contact.offered`` ringtime before, ``contact.answered``
COMPLETEAGENT / COMPLETECALLER         ``contact.ended``, then ``contact.wrapped`` after the
                                       wrap-up time (see below)
TRANSFER / BLINDTRANSFER /             ``contact.transferred`` + ``contact.ended``, then
ATTENDEDTRANSFER                       ``contact.wrapped`` after the wrap-up time
ABANDON                                ``contact.abandoned``
EXITWITHTIMEOUT / EXITEMPTY /          ``contact.flowed_out`` with reason ``timeout`` /
EXITWITHKEY / WITHDRAW                 ``no_agents`` / ``exit_key`` / ``overflow``
RINGNOANSWER(ringtime ms) /            ``contact.offered`` ringtime before, ``contact.missed``
RINGCANCELED(ringtime ms)
ADDMEMBER / REMOVEMEMBER,              ``agent.state`` (membership, logged in / out)
AGENT[CALLBACK]LOGIN / …LOGOFF
PAUSE / PAUSEALL (reason),             ``agent.state`` ``not_ready`` with the reason /
UNPAUSE / UNPAUSEALL                   back to ``available``
QUEUESTART, CONFIGRELOAD, …            ignored (counted)
anything else                          rejected ``unknown_verb`` (counted)
=====================================  =====================================================

Asterisk logs neither hold nor after-contact work. A configured wrap-up time
(:attr:`AsteriskOptions.wrapup_s`, like ``wrapuptime`` in ``queues.conf``) stands in for ACW:
a completed call is ``ended`` at completion and ``wrapped`` wrap-up seconds later, and its
agent is ``after_contact_work`` in between. The wrap-up ends early when the agent takes the
next call or logs off. Agent states follow one rule: logged out < on a call < in wrap-up <
paused (with its reason) < available.

The adapter is pure but not stateless: it remembers each agent's membership, pause, call and
wrap-up, and which calls are in which queue. :meth:`AsteriskAdapter.to_state` /
``AsteriskAdapter(state=…)`` carry that across restarts (the follower stores it beside its
file position); events for a pending wrap-up come out when a later line (or
:meth:`AsteriskAdapter.advance` with a clock reading, or :meth:`AsteriskAdapter.finish` at the
end of a file) passes its time. Replaying the same lines from the same state always gives the
same events with the same ids.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, Final, NamedTuple
from zoneinfo import ZoneInfo

from streams.adapters.common import (
    BAD_ENCODING,
    BAD_NUMBER,
    TRUNCATED,
    UNKNOWN_VERB,
    AdapterCounts,
    Result,
    agent_event,
    bounded_id,
    contact_event,
    epoch_ms,
    iso_ms,
    reason_text,
    reject,
    stable_id,
)
from streams.events import BAD_TIMESTAMP, MAX_ID_CHARS, MIN_TS_MS, MISSING_FIELD, Rejection

SOURCE: Final = "asterisk"
NONE: Final = "NONE"
MAX_LINE_CHARS: Final = 8192
_VISIT_SEP: Final = "\x1f"
_PRUNE_EVERY: Final = 1000
_FORGET_CLOSED_MS: Final = 12 * 3_600_000
_FORGET_OPEN_MS: Final = 48 * 3_600_000
_TABLE_HEADER: Final = ("time", "callid", "queuename", "agent", "event")
_MAX_COUNT_DIGITS: Final = 18
"""Digits a queue_log number may have (an int64 has 19): more is not a count or a time."""
_RINGS: Final = frozenset({"CONNECT", "RINGNOANSWER", "RINGCANCELED"})


@dataclass(frozen=True, slots=True)
class AsteriskOptions:
    """How to read a queue_log."""

    wrapup_s: float = 0.0
    """Seconds of after-contact work after every completed call (Asterisk logs none)."""
    timezone: str = "UTC"
    """Zone of table-form timestamps that carry no offset."""
    client: str | None = None
    """The BPO client (tenant) of every event, if any."""


class QueueLogLine(NamedTuple):
    """One queue_log entry, its fields trimmed and trailing empty data fields dropped."""

    ts_ms: int
    uniqueid: str
    queue: str
    agent: str
    verb: str
    data: tuple[str, ...]

    def line_id(self) -> str:
        """A stable id of the entry: the same line read twice has the same id."""
        return stable_id(
            "ast", self.ts_ms, self.uniqueid, self.queue, self.agent, self.verb, *self.data
        )


# --- reading a line ---------------------------------------------------------------------------


def parse_line(line: str | bytes, tz: tzinfo | None = None) -> QueueLogLine | Rejection | None:
    """The fields of one queue_log line (file or table form), a rejection, or None for a
    line that holds no event (blank, a table header, ruler or row count)."""
    if isinstance(line, bytes):
        try:
            decoded = line.decode()
        except UnicodeDecodeError:
            decoded = line.decode("latin-1")  # older systems log caller names in latin-1
    else:
        decoded = line
    text = decoded.strip()
    if not text or text.startswith("#"):
        return None  # Asterisk never starts a line with "#": fixtures cite their sources so
    if len(text) > MAX_LINE_CHARS:
        return Rejection(TRUNCATED, f"line is {len(text)} characters, more than any event")
    if "|" in text:
        fields = [f.strip() for f in text.split("|")]
    elif "," in text:
        try:
            fields = [f.strip() for f in next(csv.reader([text]))]
        except csv.Error as problem:  # a carriage return inside the line, say
            return Rejection(BAD_ENCODING, f"not a CSV row ({problem}): {_show(text)}")
    else:
        fields = [text]
    if fields[0].lower() == _TABLE_HEADER[0] and [f.lower() for f in fields[:5]] == list(
        _TABLE_HEADER
    ):
        return None
    if set(text) <= {"-", "+", " "} or (text.startswith("(") and text.endswith(")")):
        return None  # psql ruler / "(12 rows)"
    if len(fields) < 5:
        return Rejection(
            TRUNCATED, f"expected epoch|uniqueid|queue|agent|EVENT[|data…], got {_show(text)}"
        )
    stamp = fields[0]
    ts_ms = (
        epoch_ms(stamp)
        if stamp.isdigit()
        else iso_ms(stamp, tz or ZoneInfo("UTC"))
        if stamp[:1].isdigit()
        else None
    )
    if ts_ms is None:
        return Rejection(
            BAD_TIMESTAMP, f"the first field is not an epoch or a timestamp: {_show(stamp)}"
        )
    verb = fields[4].upper()
    data = fields[5:]
    while data and not data[-1]:
        data.pop()
    return QueueLogLine(ts_ms, fields[1], fields[2], fields[3], verb, tuple(data))


def _show(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


# --- what each verb needs ---------------------------------------------------------------------


class _Spec(NamedTuple):
    min_data: int
    """Data fields the verb always has (fewer: truncated)."""
    numbers: tuple[int, ...]
    """Indexes of data fields that must be whole numbers when present."""
    call: bool
    """Needs the caller's uniqueid and the queue."""
    agent: bool
    """Needs a real agent (not NONE)."""


_CALL_SPECS: Final = {
    "ENTERQUEUE": _Spec(0, (2,), True, False),
    "CONNECT": _Spec(1, (0, 2), True, True),
    "COMPLETEAGENT": _Spec(2, (0, 1, 2), True, True),
    "COMPLETECALLER": _Spec(2, (0, 1, 2), True, True),
    "TRANSFER": _Spec(4, (2, 3, 4), True, True),
    "BLINDTRANSFER": _Spec(4, (2, 3, 4), True, True),
    "ATTENDEDTRANSFER": _Spec(4, (), True, True),  # numbers checked from the end, see below
    "ABANDON": _Spec(3, (0, 1, 2), True, False),
    "EXITWITHTIMEOUT": _Spec(1, (0, 1, 2), True, False),
    "EXITEMPTY": _Spec(1, (0, 1, 2), True, False),
    "EXITWITHKEY": _Spec(1, (1, 2, 3), True, False),
    "WITHDRAW": _Spec(1, (0, 1, 2), True, False),
    "RINGNOANSWER": _Spec(1, (0,), True, True),
    "RINGCANCELED": _Spec(0, (0,), True, True),
}
_AGENT_SPECS: Final = {
    verb: _Spec(0, (), False, True)
    for verb in (
        "ADDMEMBER",
        "REMOVEMEMBER",
        "PAUSE",
        "UNPAUSE",
        "PAUSEALL",
        "UNPAUSEALL",
        "AGENTLOGIN",
        "AGENTLOGOFF",
        "AGENTCALLBACKLOGIN",
        "AGENTCALLBACKLOGOFF",
    )
}
SPECS: Final = {**_CALL_SPECS, **_AGENT_SPECS}
IGNORED_VERBS: Final = frozenset(
    {
        "QUEUESTART",
        "CONFIGRELOAD",
        "SYSCOMPAT",
        "AGENTDUMP",
        "INFO",
        "DID",
        "PENALTY",
        "RINGING",
        "JOINEMPTY",
        "FULL",
        "CLOSED",
        "DIVERT_CA_RATIO",
        "DIVERT_HOLDTIME",
    }
)
"""Events Asterisk (or Wazo) writes that change no contract fact: counted and skipped."""
FLOW_OUT_REASONS: Final = {
    "EXITWITHTIMEOUT": "timeout",
    "EXITEMPTY": "no_agents",
    "EXITWITHKEY": "exit_key",
    "WITHDRAW": "overflow",
}
_LEAVES_QUEUE: Final = frozenset(
    {
        "COMPLETEAGENT",
        "COMPLETECALLER",
        "TRANSFER",
        "BLINDTRANSFER",
        "ATTENDEDTRANSFER",
        "ABANDON",
        *FLOW_OUT_REASONS,
    }
)


def check(line: QueueLogLine) -> Rejection | None:
    """Why ``line`` cannot be turned into events, or None when it can (known verbs only)."""
    spec = SPECS[line.verb]
    if len(line.data) < spec.min_data:
        return Rejection(
            TRUNCATED,
            f"{line.verb} has {len(line.data)} data fields, expected at least {spec.min_data}",
        )
    numbers = spec.numbers
    if line.verb == "ATTENDEDTRANSFER":
        # method|method data…|holdtime|calltime|origposition: LINK has two method data fields
        numbers = tuple(range(len(line.data) - 3, len(line.data)))
    for at in numbers:
        if at < len(line.data) and not _is_count(line.data[at]):
            return Rejection(
                BAD_NUMBER,
                f"{line.verb} data field {at + 1} must be a whole number "
                f"(at most {_MAX_COUNT_DIGITS} digits), got {_show(line.data[at])}",
            )
    if line.verb in _RINGS and _ring_ms(line) > line.ts_ms - MIN_TS_MS:
        shown = _show("|".join(line.data))
        return Rejection(BAD_NUMBER, f"{line.verb} ring time reaches back before 1970: {shown}")
    if spec.call:
        for name, value in (("uniqueid", line.uniqueid), ("queue", line.queue)):
            if not value or value == NONE:
                return Rejection(MISSING_FIELD, f"{line.verb} without a caller {name}")
            if len(value) > MAX_ID_CHARS - 8:
                return Rejection(TRUNCATED, f"{line.verb} {name} is too long: {_show(value)}")
    elif len(line.queue) > MAX_ID_CHARS:  # a member's queue goes into its agent's queues
        return Rejection(TRUNCATED, f"{line.verb} queue is too long: {_show(line.queue)}")
    if spec.agent and (not line.agent or line.agent == NONE):
        return Rejection(MISSING_FIELD, f"{line.verb} without an agent")
    return None


def _is_count(text: str) -> bool:
    digits = text[1:] if text.startswith("-") else text
    # ASCII only: str.isdigit() also says yes to "²", which int() refuses
    return 0 < len(digits) <= _MAX_COUNT_DIGITS and digits.isascii() and digits.isdigit()


def _ring_ms(line: QueueLogLine) -> int:
    """How long the call rang before ``line`` (CONNECT: seconds, RING…: milliseconds)."""
    if line.verb == "CONNECT":
        return max(0, int(line.data[2])) * 1000 if len(line.data) > 2 else 0
    return max(0, int(line.data[0])) if line.data else 0


# --- the adapter ------------------------------------------------------------------------------


class _Wrap(NamedTuple):
    due_ms: int
    contact_id: str
    queue: str
    line_id: str


class _Agent:
    """What the adapter knows of one agent (the person), to derive the contract state."""

    __slots__ = ("call", "last", "logged_in", "paused", "queues", "reason", "wrap")

    def __init__(self) -> None:
        self.logged_in = False
        self.paused = False
        self.reason: str | None = None
        self.queues: set[str] = set()
        self.call: tuple[str, str] | None = None
        self.wrap: _Wrap | None = None
        self.last: tuple[str, str | None, tuple[str, ...]] | None = None

    def state(self) -> tuple[str, str | None, tuple[str, ...]]:
        queues = tuple(sorted(self.queues))
        if not self.logged_in:
            return ("logged_out", None, queues)
        if self.call is not None:
            return ("on_contact", None, queues)
        if self.wrap is not None:
            return ("after_contact_work", None, queues)
        if self.paused:
            return ("not_ready", self.reason, queues)
        return ("available", None, queues)

    def to_state(self) -> list[Any]:
        return [
            self.logged_in,
            self.paused,
            self.reason,
            sorted(self.queues),
            None if self.call is None else list(self.call),
            None if self.wrap is None else list(self.wrap),
            None if self.last is None else [self.last[0], self.last[1], list(self.last[2])],
        ]

    @classmethod
    def from_state(cls, state: list[Any]) -> _Agent:
        agent = cls()
        agent.logged_in, agent.paused, agent.reason = bool(state[0]), bool(state[1]), state[2]
        agent.queues = set(state[3])
        agent.call = None if state[4] is None else (state[4][0], state[4][1])
        agent.wrap = None if state[5] is None else _Wrap(*state[5])
        last = state[6]
        agent.last = None if last is None else (last[0], last[1], tuple(last[2]))
        return agent


class AsteriskAdapter:
    """Turns queue_log lines into contract events, one line at a time (see the module doc).

    Not thread-safe; one reader feeds it in file order.
    """

    def __init__(
        self, options: AsteriskOptions | None = None, state: Mapping[str, Any] | None = None
    ) -> None:
        self.options = options or AsteriskOptions()
        self._tz = ZoneInfo(self.options.timezone)
        self._wrapup_ms = round(self.options.wrapup_s * 1000)
        self.counts = AdapterCounts()
        self._agents: dict[str, _Agent] = {}
        self._visits: dict[str, list[Any]] = {}
        """uniqueid + queue → [visit number, still in the queue or with an agent, last ts]."""
        self._newest_ms = 0
        self._since_prune = 0
        if state:
            self._agents = {k: _Agent.from_state(v) for k, v in state.get("agents", {}).items()}
            self._visits = {k: list(v) for k, v in state.get("visits", {}).items()}
            self._newest_ms = int(state.get("newest_ms", 0))

    # -- input ---------------------------------------------------------------------------------

    def feed(self, line: str | bytes) -> Result:
        """The events of one line, or why it was refused (counted either way)."""
        self.counts.inputs += 1
        parsed = parse_line(line, self._tz)
        if parsed is None:
            self.counts.ignored["blank"] += 1
            return []
        if isinstance(parsed, Rejection):
            return reject(self.counts, parsed.reason, parsed.message)
        if parsed.verb not in SPECS:
            if parsed.verb in IGNORED_VERBS:
                self.counts.ignored[parsed.verb] += 1
                return []
            return reject(
                self.counts, UNKNOWN_VERB, f"unknown queue_log event {_show(parsed.verb)}"
            )
        problem = check(parsed)
        if problem is not None:
            return reject(self.counts, problem.reason, problem.message)
        out: list[dict[str, Any]] = []
        line_id = parsed.line_id()
        name = parsed.agent if parsed.agent and parsed.agent != NONE else None
        # this line's agent gets one state event from this line (two at the same time would
        # leave the order between them to their ids); other agents' wrap-ups end as due
        self._release(parsed.ts_ms, out, quiet=name)
        if parsed.ts_ms > self._newest_ms:
            self._newest_ms = parsed.ts_ms
        _HANDLERS[parsed.verb](self, parsed, line_id, out)
        if name is not None and name in self._agents:
            self._emit_state(name, self._agents[name], parsed.ts_ms, f"{line_id}:state", out)
        self._since_prune += 1
        if self._since_prune >= _PRUNE_EVERY:
            self._prune()
        self.counts.events += len(out)
        return out

    def advance(self, now_ms: int) -> list[dict[str, Any]]:
        """End the wrap-ups due at or before ``now_ms`` (a clock reading, for a live file
        that has gone quiet)."""
        out: list[dict[str, Any]] = []
        self._release(now_ms, out)
        self.counts.events += len(out)
        return out

    def finish(self) -> list[dict[str, Any]]:
        """End every pending wrap-up at its due time (the end of a file being replayed)."""
        return self.advance(2**62)

    def pending_wrapups(self) -> int:
        return sum(1 for agent in self._agents.values() if agent.wrap is not None)

    # -- persistence ---------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Everything needed to continue after a restart, as plain JSON values."""
        return {
            "agents": {k: a.to_state() for k, a in self._agents.items()},
            "visits": self._visits,
            "newest_ms": self._newest_ms,
        }

    # -- helpers -------------------------------------------------------------------------------

    def _agent(self, name: str) -> _Agent:
        agent = self._agents.get(name)
        if agent is None:
            agent = self._agents[name] = _Agent()
        return agent

    def _contact_id(self, line: QueueLogLine, entering: bool = False) -> str:
        key = line.uniqueid + _VISIT_SEP + line.queue
        visit = self._visits.get(key)
        if visit is None:
            visit = self._visits[key] = [1, True, line.ts_ms]
        elif entering and not visit[1]:
            visit[0], visit[1] = visit[0] + 1, True
        visit[2] = line.ts_ms
        if line.verb in _LEAVES_QUEUE:
            visit[1] = False
        number: int = visit[0]
        return line.uniqueid if number == 1 else f"{line.uniqueid}#{number}"

    def _contact(
        self, kind: str, event_id: str, ts_ms: int, contact_id: str, queue: str, **fields: Any
    ) -> dict[str, Any]:
        return contact_event(
            bounded_id(event_id, "ast"),
            kind,
            ts_ms,
            contact_id,
            queue,
            source=SOURCE,
            client=self.options.client,
            **fields,
        )

    def _emit_state(
        self, name: str, agent: _Agent, ts_ms: int, event_id: str, out: list[dict[str, Any]]
    ) -> None:
        now = agent.state()
        if now == agent.last:
            return
        agent.last = now
        state, reason, queues = now
        out.append(
            agent_event(
                event_id,
                ts_ms,
                bounded_id(name, "ast-agent"),
                state,
                source=SOURCE,
                reason=reason,
                queues=queues or None,
                client=self.options.client,
            )
        )

    def _end_wrap(
        self, name: str, agent: _Agent, ts_ms: int, out: list[dict[str, Any]], *, quiet: bool
    ) -> None:
        """Wrap the pending contact at ``ts_ms``; ``quiet``: the caller emits the agent's
        new state itself."""
        wrap = agent.wrap
        if wrap is None:
            return
        agent.wrap = None
        out.append(
            self._contact(
                "wrapped",
                f"{wrap.line_id}:wrapped",
                ts_ms,
                wrap.contact_id,
                wrap.queue,
                agent_id=bounded_id(name, "ast-agent"),
            )
        )
        if not quiet:
            self._emit_state(name, agent, ts_ms, f"{wrap.line_id}:wrapup-end", out)

    def _release(self, until_ms: int, out: list[dict[str, Any]], quiet: str | None = None) -> None:
        due = [
            (agent.wrap.due_ms, name, agent)
            for name, agent in self._agents.items()
            if agent.wrap is not None and agent.wrap.due_ms <= until_ms
        ]
        for due_ms, name, agent in sorted(due, key=lambda item: (item[0], item[1])):
            # a wrap-up ending exactly at the line's time leaves the state event to the line
            self._end_wrap(name, agent, due_ms, out, quiet=name == quiet and due_ms == until_ms)

    def _start_wrap(
        self,
        line: QueueLogLine,
        line_id: str,
        contact_id: str,
        out: list[dict[str, Any]],
    ) -> None:
        agent = self._agent(line.agent)
        if agent.call is not None and agent.call == (contact_id, line.queue):
            agent.call = None
        if agent.wrap is not None:  # a second completion before the first wrap-up ended
            self._end_wrap(line.agent, agent, line.ts_ms, out, quiet=True)
        agent.wrap = _Wrap(line.ts_ms + self._wrapup_ms, contact_id, line.queue, line_id)
        if self._wrapup_ms <= 0:
            self._end_wrap(line.agent, agent, line.ts_ms, out, quiet=True)

    def _prune(self) -> None:
        self._since_prune = 0
        newest = self._newest_ms
        self._visits = {
            key: visit
            for key, visit in self._visits.items()
            if visit[2] >= newest - (_FORGET_OPEN_MS if visit[1] else _FORGET_CLOSED_MS)
        }

    # -- verbs ---------------------------------------------------------------------------------

    def _enterqueue(self, line: QueueLogLine, line_id: str, out: list[dict[str, Any]]) -> None:
        contact_id = self._contact_id(line, entering=True)
        out.append(
            self._contact(
                "queued", f"{line_id}:queued", line.ts_ms, contact_id, line.queue, channel="voice"
            )
        )

    def _connect(self, line: QueueLogLine, line_id: str, out: list[dict[str, Any]]) -> None:
        contact_id = self._contact_id(line)
        agent_id = bounded_id(line.agent, "ast-agent")
        out.append(
            self._contact(
                "offered",
                f"{line_id}:offered",
                line.ts_ms - _ring_ms(line),
                contact_id,
                line.queue,
                agent_id=agent_id,
            )
        )
        out.append(
            self._contact(
                "answered",
                f"{line_id}:answered",
                line.ts_ms,
                contact_id,
                line.queue,
                agent_id=agent_id,
            )
        )
        agent = self._agent(line.agent)
        if agent.wrap is not None:  # the next call ends the wrap-up of the last one
            self._end_wrap(line.agent, agent, line.ts_ms, out, quiet=True)
        agent.logged_in = True
        agent.queues.add(line.queue)
        agent.call = (contact_id, line.queue)

    def _complete(self, line: QueueLogLine, line_id: str, out: list[dict[str, Any]]) -> None:
        contact_id = self._contact_id(line)
        out.append(
            self._contact(
                "ended",
                f"{line_id}:ended",
                line.ts_ms,
                contact_id,
                line.queue,
                agent_id=bounded_id(line.agent, "ast-agent"),
            )
        )
        self._start_wrap(line, line_id, contact_id, out)

    def _transfer(self, line: QueueLogLine, line_id: str, out: list[dict[str, Any]]) -> None:
        contact_id = self._contact_id(line)
        agent_id = bounded_id(line.agent, "ast-agent")
        for kind in ("transferred", "ended"):
            out.append(
                self._contact(
                    kind,
                    f"{line_id}:{kind}",
                    line.ts_ms,
                    contact_id,
                    line.queue,
                    agent_id=agent_id,
                )
            )
        self._start_wrap(line, line_id, contact_id, out)

    def _abandon(self, line: QueueLogLine, line_id: str, out: list[dict[str, Any]]) -> None:
        contact_id = self._contact_id(line)
        out.append(
            self._contact("abandoned", f"{line_id}:abandoned", line.ts_ms, contact_id, line.queue)
        )

    def _exit(self, line: QueueLogLine, line_id: str, out: list[dict[str, Any]]) -> None:
        contact_id = self._contact_id(line)
        out.append(
            self._contact(
                "flowed_out",
                f"{line_id}:flowed_out",
                line.ts_ms,
                contact_id,
                line.queue,
                reason=FLOW_OUT_REASONS[line.verb],
            )
        )

    def _ring(self, line: QueueLogLine, line_id: str, out: list[dict[str, Any]]) -> None:
        contact_id = self._contact_id(line)
        agent_id = bounded_id(line.agent, "ast-agent")
        out.append(
            self._contact(
                "offered",
                f"{line_id}:offered",
                line.ts_ms - _ring_ms(line),
                contact_id,
                line.queue,
                agent_id=agent_id,
            )
        )
        out.append(
            self._contact(
                "missed",
                f"{line_id}:missed",
                line.ts_ms,
                contact_id,
                line.queue,
                agent_id=agent_id,
            )
        )

    def _member(self, line: QueueLogLine, line_id: str, out: list[dict[str, Any]]) -> None:
        known = line.agent in self._agents
        agent = self._agent(line.agent)
        verb = line.verb
        queue = line.queue if line.queue and line.queue != NONE else None
        if verb == "ADDMEMBER":
            agent.logged_in = True
            if queue:
                agent.queues.add(queue)
            if line.data and line.data[0].upper() == "PAUSED":
                agent.paused = True
        elif verb == "REMOVEMEMBER":
            if queue:
                agent.queues.discard(queue)
            if not agent.queues:
                self._log_off(line, agent, out)
        elif verb in ("AGENTLOGIN", "AGENTCALLBACKLOGIN"):
            agent.logged_in = True
        elif verb in ("AGENTLOGOFF", "AGENTCALLBACKLOGOFF"):
            self._log_off(line, agent, out)
        else:  # PAUSE, PAUSEALL, UNPAUSE, UNPAUSEALL
            # a pause says the agent is a member only when nothing else was known (a file
            # read from the middle): Wazo unpauses agents right after logging them off
            if not known:
                agent.logged_in = True
                if queue:
                    agent.queues.add(queue)
            agent.paused = verb in ("PAUSE", "PAUSEALL")
            agent.reason = (
                reason_text(line.data[0] if line.data else None) if agent.paused else None
            )

    def _log_off(self, line: QueueLogLine, agent: _Agent, out: list[dict[str, Any]]) -> None:
        if agent.wrap is not None:
            self._end_wrap(line.agent, agent, line.ts_ms, out, quiet=True)
        agent.logged_in = False
        agent.paused = False
        agent.reason = None
        agent.call = None


_Handler = Callable[[AsteriskAdapter, QueueLogLine, str, list[dict[str, Any]]], None]
_HANDLERS: Final[dict[str, _Handler]] = {
    "ENTERQUEUE": AsteriskAdapter._enterqueue,
    "CONNECT": AsteriskAdapter._connect,
    "COMPLETEAGENT": AsteriskAdapter._complete,
    "COMPLETECALLER": AsteriskAdapter._complete,
    "TRANSFER": AsteriskAdapter._transfer,
    "BLINDTRANSFER": AsteriskAdapter._transfer,
    "ATTENDEDTRANSFER": AsteriskAdapter._transfer,
    "ABANDON": AsteriskAdapter._abandon,
    **dict.fromkeys(FLOW_OUT_REASONS, AsteriskAdapter._exit),
    "RINGNOANSWER": AsteriskAdapter._ring,
    "RINGCANCELED": AsteriskAdapter._ring,
    **dict.fromkeys(_AGENT_SPECS, AsteriskAdapter._member),
}
assert set(_HANDLERS) == set(SPECS)
