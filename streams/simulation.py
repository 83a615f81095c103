"""A deterministic contact-centre simulator that emits contract events (DESIGN.md section 2).

The model is a discrete-event simulation of one floor, driven by one ``heapq`` of timed
actions and one ``random.Random(seed)``; time is passed in (``start_ms`` / ``end_ms``), never
read from a clock, so a seed and a time range always give the same events.

- **Arrivals** are a non-homogeneous Poisson process per queue: the rate is constant within
  each minute and follows 24 hourly weights (interpolated between hour midpoints) in the
  queue's *site local time*, times a day-of-week weight. A queue's peak-hour rate on the
  busiest day is ``contacts_per_hour × share × scale``. Interarrival times invert the
  integrated rate, so the process is exact, not thinned.
- **Routing** is skills-based. A contact waits FIFO in its queue; a free agent takes the
  waiting contact of highest queue priority, then longest wait, among its skills; a new
  contact goes to the longest-idle agent with the skill. The offer rings the agent
  (``contact.offered``) and is answered after the ring time, or times out
  (``contact.missed``): the agent goes ``not_ready`` (``no_answer``) for a moment and the
  contact returns to the head of its queue.
- **Customers** have exponential patience (Erlang A): unanswered when it runs out, they
  abandon, even while an agent's phone is ringing. A queue's ``max_wait_s`` flows the contact
  out first (``timeout``), into the queue's overflow queue if it has one. Fewer agents mean
  longer waits and more abandons, as in a real understaffed queue.
- **Handling**: log-normal talk and ACW times; holds (up to two) and consults (inside a
  hold, as a warm consult is); transfers end the leg (``transferred`` then ``ended`` and,
  after ACW, ``wrapped``) and queue the same contact in another queue it has not visited yet.
  A leg is (contact_id, queue), so a contact never re-enters a queue.
- **Agents** are rostered in teams with staggered shifts in their site's local time, take two
  breaks, lunch and sometimes training, a meeting or coaching (``not_ready`` with that
  reason) once they finish the contact in hand, and log out at shift end likewise. Agents
  attend on a day in proportion to that weekday's demand, less an absence rate.
- **CRM**: some handled contacts open a case (some of them complaints, more so after long
  waits); complaints may escalate; cases resolve at once (first contact) or hours to days
  later. Unresolved and abandoning customers may call again within the repeat window with
  the same ``customer_id``. Surveys score worse after longer waits, unresolved issues,
  complaints and transfers.

:func:`default_scenario` builds a two-site, three-client floor whose teams are rostered for
the scaled demand (Erlang C per half hour, covered greedily by shift start times), so service
levels look like a reasonably run centre at any scale: good days, red intervals at peaks.

A run starts with empty queues; agents whose shifts cover ``start_ms`` log in during its
first minute. Events of contacts still open at ``end_ms`` are never emitted. A 24-hour
weekday of ``default_scenario(SCALE_FOR_A_MILLION_EVENTS_A_DAY)`` is about 1 M events, which
the generator produces at over 100 000 events/s on one core.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any, Final
from zoneinfo import ZoneInfo

from streams.calendar import MINUTE_MS, SiteCalendar, from_epoch_ms, to_epoch_ms
from streams.settings import (
    CHANNELS,
    ClientSettings,
    CoreSettings,
    QueueSettings,
    SiteSettings,
    TeamSettings,
)

__all__ = [
    "EVENTS_PER_CONTACT",
    "SCALE_FOR_A_MILLION_EVENTS_A_DAY",
    "CrmProfile",
    "QueueProfile",
    "Scenario",
    "TeamProfile",
    "core_settings",
    "default_scenario",
    "expected_arrivals",
    "scenario_for_rate",
    "simulate",
    "understaffed_scenario",
]

SECOND_MS: Final = 1000
HOUR_MS: Final = 3_600_000
DAY_MIN: Final = 1440

VOICE_DAY: Final = (
    *(0.04, 0.025, 0.02, 0.02, 0.025, 0.04, 0.10, 0.30, 0.65, 0.90, 1.00, 0.97),
    *(0.78, 0.74, 0.88, 0.92, 0.80, 0.62, 0.42, 0.30, 0.22, 0.15, 0.10, 0.06),
)
"""Hourly arrival weights (local time) of a voice queue: quiet night, morning ramp,
late-morning peak, lunch dip, afternoon peak, evening tail."""
CHAT_DAY: Final = (
    *(0.06, 0.03, 0.02, 0.02, 0.02, 0.03, 0.06, 0.15, 0.35, 0.60, 0.80, 0.88),
    *(0.82, 0.80, 0.88, 0.92, 0.88, 0.82, 0.80, 0.85, 0.78, 0.55, 0.30, 0.14),
)
"""Chat peaks later and keeps a second evening peak, after work."""
EMAIL_DAY: Final = (
    *(0.15, 0.10, 0.08, 0.07, 0.07, 0.10, 0.20, 0.40, 0.70, 0.90, 1.00, 0.95),
    *(0.85, 0.85, 0.90, 0.85, 0.75, 0.60, 0.50, 0.45, 0.40, 0.35, 0.28, 0.20),
)
"""Email arrives all day and night, with a flatter office-hours hump."""
WEEK: Final = (1.00, 0.93, 0.90, 0.88, 0.85, 0.50, 0.32)
"""Day-of-week weights, Monday first: Monday is busiest, weekends are quiet."""

EVENTS_PER_CONTACT: Final = 10.0
"""Events emitted per arriving contact in ``default_scenario`` (contact, agent-state, CRM
and survey events together). Measured: simulated Wednesdays at scales 1 and 4, seeds 1–3,
gave 9.88–10.04 events per expected arrival (:func:`expected_arrivals`)."""

SCALE_FOR_A_MILLION_EVENTS_A_DAY: Final = 10.5
"""``default_scenario(10.5)`` gives about 1.0 M events over a 24-hour Wednesday (measured:
1.004–1.006 M for 2024-05-01 and 2025-01-15, seeds 1 and 7); Mondays give about 10 % more,
weekends about half."""

# Rostering plans for 70 % within threshold with light shrinkage, as many floors do, so
# days land around 80–95 % with red intervals at the peaks rather than a flat 100 %.
_SHRINKAGE: Final = 0.08
_TARGET: Final = 0.7
_MAX_TEAM: Final = 15
_TALK_CAP_MS: Final = 2 * HOUR_MS
_SECOND_HOLD: Final = 0.3  # share of held contacts put on hold a second time
_WARM_TRANSFER: Final = 0.5  # share of transfers preceded by a consult
_PRIMARY_PREFERENCE_MS: Final = 30_000  # a primary-skill contact counts as 30 s older
_SESSION: Final = 0.12  # share of agent-days with a training, meeting or coaching slot

# --- scenario values -----------------------------------------------------------------------


@dataclass(frozen=True)
class QueueProfile:
    """One queue: its traffic share, handling times and customers' patience."""

    name: str
    channel: str = "voice"
    site: str = "default"
    client: str | None = None
    share: float = 0.1
    """Fraction of the floor's arrivals (peak rate = contacts_per_hour × share × scale)."""
    talk_mean_s: float = 300.0
    talk_sigma: float = 0.6
    """Log-normal shape of talk time (σ of its logarithm)."""
    acw_mean_s: float = 60.0
    hold_probability: float = 0.2
    hold_mean_s: float = 60.0
    consult_probability: float = 0.05
    consult_mean_s: float = 90.0
    patience_mean_s: float | None = 180.0
    """Mean customer patience (exponential); ``None``: never abandons (email, callback)."""
    max_wait_s: float | None = 900.0
    """Flow out with reason ``timeout`` after this wait; ``None``: never."""
    transfer_probability: float = 0.0
    transfer_to: tuple[str, ...] = ()
    ring_s: float = 5.0
    ring_timeout_s: float = 20.0
    ring_no_answer_probability: float = 0.015
    overflow_to: str | None = None
    """Queue a timed-out contact flows into (as a new leg), if it has not been there."""
    priority: int = 0
    threshold_s: float = 20.0
    """Service-level threshold, for :func:`core_settings`."""
    short_abandon_s: float = 5.0
    intraday: tuple[float, ...] | None = None
    """24 hourly arrival weights in site local time; ``None``: the scenario's."""
    categories: tuple[str, ...] = ("general_enquiry",)
    """CRM case categories of this queue's contacts."""

    def __post_init__(self) -> None:
        where = f"queue {self.name!r}"
        if self.channel not in CHANNELS:
            raise ValueError(f"{where}: channel must be one of {CHANNELS}, got {self.channel!r}")
        if self.share < 0 or self.talk_mean_s <= 0 or self.acw_mean_s < 0:
            raise ValueError(
                f"{where}: share and ACW must be ≥ 0 and talk > 0, got share={self.share}, "
                f"talk_mean_s={self.talk_mean_s}, acw_mean_s={self.acw_mean_s}"
            )
        if self.intraday is not None:
            _check_weights(where + " intraday", self.intraday, 24)
        if self.name in self.transfer_to or self.overflow_to == self.name:
            raise ValueError(f"{where}: transfers and overflow must go to another queue")
        if not self.categories:
            raise ValueError(f"{where}: needs at least one case category")


@dataclass(frozen=True)
class TeamProfile:
    """A team of agents with the same skills and shift; skills are queue names, primary first."""

    name: str
    site: str
    leader: str
    size: int
    queues: tuple[str, ...]
    shift_start_min: int = 540
    """Local wall-clock start (minutes after midnight) of the team's shift."""
    shift_length_min: int = 510
    stagger_min: int = 30
    """Agents start spread over ± half of this around the shift start."""
    client: str | None = None
    """The client the team works for, carried on its agent events; ``None``: several."""

    def __post_init__(self) -> None:
        if self.size < 0 or not self.queues:
            raise ValueError(
                f"team {self.name!r}: needs a size ≥ 0 and a queue, got {self.size}, {self.queues}"
            )
        if not 0 <= self.shift_start_min < DAY_MIN or not 60 <= self.shift_length_min <= DAY_MIN:
            raise ValueError(
                f"team {self.name!r}: shift must start in [0, 1440) and last 60–1440 minutes, "
                f"got {self.shift_start_min}, {self.shift_length_min}"
            )


@dataclass(frozen=True)
class CrmProfile:
    """How handled contacts turn into CRM cases, surveys and repeat contacts."""

    case_probability: float = 0.45
    complaint_probability: float = 0.06
    """Of cases, at short waits; it doubles by a 10-minute wait."""
    escalation_probability: float = 0.3
    """Of complaints."""
    first_contact_resolution: float = 0.75
    """Of cases that are not complaints; complaints resolve first time at 40 % of this."""
    resolution_mean_h: float = 30.0
    """Later resolutions come this long after the contact on average (exponential)."""
    no_case_resolution: float = 0.9
    survey_probability: float = 0.15
    repeat_probability: float = 0.12
    """Share of arrivals that are a recent unresolved or abandoning customer calling again."""
    repeat_window_days: float = 7.0
    retry_after_abandon: float = 0.5


def _empty_mapping() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Scenario:
    """A whole floor: queues, teams, demand, staffing and CRM behaviour."""

    queues: tuple[QueueProfile, ...]
    teams: tuple[TeamProfile, ...]
    timezones: Mapping[str, str]
    """Site name → IANA time zone."""
    contacts_per_hour: float = 1000.0
    """Sum over queues of their peak-hour arrivals at scale 1."""
    intraday: tuple[float, ...] = VOICE_DAY
    weekdays: tuple[float, ...] = WEEK
    staffing_factor: float = 1.0
    """Multiplies every team's size (0.8 = a fifth of the floor missing)."""
    queue_staffing: Mapping[str, float] = field(default_factory=_empty_mapping)
    """Queue name → factor on the size of the teams whose primary skill it is."""
    absence_probability: float = 0.04
    crm: CrmProfile = field(default_factory=CrmProfile)
    scale: float = 1.0
    """Multiplies arrivals; team sizes are headcounts (``default_scenario`` rosters for it)."""

    def __post_init__(self) -> None:
        _check_weights("intraday", self.intraday, 24)
        _check_weights("weekdays", self.weekdays, 7)
        names = {q.name for q in self.queues}
        if len(names) != len(self.queues):
            raise ValueError("scenario: queue names must be unique")
        for q in self.queues:
            for target in (*q.transfer_to, *([q.overflow_to] if q.overflow_to else [])):
                if target not in names:
                    raise ValueError(f"queue {q.name!r}: unknown target queue {target!r}")
            if q.site not in self.timezones:
                raise ValueError(f"queue {q.name!r}: site {q.site!r} has no time zone")
        for t in self.teams:
            unknown = [name for name in t.queues if name not in names]
            if unknown:
                raise ValueError(f"team {t.name!r}: unknown queues {unknown}")
            if t.site not in self.timezones:
                raise ValueError(f"team {t.name!r}: site {t.site!r} has no time zone")
        for name in self.queue_staffing:
            if name not in names:
                raise ValueError(f"queue_staffing: unknown queue {name!r}")
        if self.scale < 0 or self.contacts_per_hour < 0 or self.staffing_factor < 0:
            raise ValueError("scenario: scale, contacts_per_hour and staffing must be ≥ 0")


def _check_weights(what: str, weights: tuple[float, ...], length: int) -> None:
    if len(weights) != length or min(weights) < 0 or max(weights) <= 0:
        raise ValueError(f"{what}: expected {length} weights ≥ 0, not all 0, got {weights!r}")


# --- the default floor ---------------------------------------------------------------------

_TIMEZONES: Final = {"london": "Europe/London", "new_york": "America/New_York"}
_ACME, _NORTHWIND, _GLOBEX = "acme_energy", "northwind_bank", "globex_telecom"

_DEFAULT_QUEUES: Final = (
    QueueProfile(
        "acme_billing_voice", "voice", "london", _ACME, 0.17,
        talk_mean_s=330, acw_mean_s=60, hold_probability=0.25, hold_mean_s=60,
        consult_probability=0.06, patience_mean_s=160, max_wait_s=600,
        transfer_probability=0.04, transfer_to=("acme_moves_voice",),
        overflow_to="acme_general_voice",
        categories=("billing_query", "payment_plan", "refund", "meter_reading"),
    ),
    QueueProfile(
        "acme_moves_voice", "voice", "london", _ACME, 0.08,
        talk_mean_s=420, talk_sigma=0.55, acw_mean_s=75, hold_probability=0.3,
        hold_mean_s=70, patience_mean_s=200, transfer_probability=0.03,
        transfer_to=("acme_billing_voice",),
        categories=("home_move", "new_supply", "tariff_change"),
    ),
    QueueProfile(
        "acme_general_voice", "voice", "london", _ACME, 0.08,
        talk_mean_s=260, talk_sigma=0.7, acw_mean_s=45, hold_probability=0.15,
        patience_mean_s=150, transfer_probability=0.05,
        transfer_to=("acme_billing_voice", "acme_moves_voice"),
        categories=("outage", "general_enquiry", "account_update"),
    ),
    QueueProfile(
        "acme_chat", "chat", "london", _ACME, 0.08,
        talk_mean_s=600, talk_sigma=0.5, acw_mean_s=40, hold_probability=0.1,
        hold_mean_s=45, patience_mean_s=240, max_wait_s=1200, ring_s=3,
        ring_timeout_s=30, ring_no_answer_probability=0.03, threshold_s=60,
        short_abandon_s=10, intraday=CHAT_DAY,
        categories=("billing_query", "home_move", "general_enquiry"),
    ),
    QueueProfile(
        "acme_email", "email", "london", _ACME, 0.06,
        talk_mean_s=480, acw_mean_s=90, hold_probability=0.0, consult_probability=0.03,
        patience_mean_s=None, max_wait_s=12_600, ring_s=1, ring_timeout_s=30,
        ring_no_answer_probability=0.0, threshold_s=7200, short_abandon_s=0, priority=-1,
        intraday=EMAIL_DAY, categories=("billing_query", "refund", "complaint_letter"),
    ),
    QueueProfile(
        "nw_cards_voice", "voice", "new_york", _NORTHWIND, 0.17,
        talk_mean_s=290, acw_mean_s=50, hold_probability=0.28, hold_mean_s=50,
        consult_probability=0.07, consult_mean_s=75, patience_mean_s=190,
        transfer_probability=0.05, transfer_to=("nw_fraud_voice",),
        categories=("card_lost", "card_declined", "balance", "dispute"),
    ),
    QueueProfile(
        "nw_fraud_voice", "voice", "new_york", _NORTHWIND, 0.05,
        talk_mean_s=480, talk_sigma=0.5, acw_mean_s=120, hold_probability=0.35,
        hold_mean_s=90, consult_probability=0.12, consult_mean_s=120,
        patience_mean_s=260, priority=5,
        categories=("fraud_report", "suspicious_activity"),
    ),
    QueueProfile(
        "nw_chat", "chat", "new_york", _NORTHWIND, 0.08,
        talk_mean_s=540, talk_sigma=0.5, acw_mean_s=35, hold_probability=0.1,
        hold_mean_s=45, patience_mean_s=300, max_wait_s=1200, ring_s=3,
        ring_timeout_s=30, ring_no_answer_probability=0.03, threshold_s=60,
        short_abandon_s=10, intraday=CHAT_DAY,
        categories=("balance", "card_declined", "statement"),
    ),
    QueueProfile(
        "globex_support_voice", "voice", "london", _GLOBEX, 0.15,
        talk_mean_s=400, talk_sigma=0.7, acw_mean_s=60, hold_probability=0.3,
        hold_mean_s=80, consult_probability=0.08, patience_mean_s=180,
        transfer_probability=0.06, transfer_to=("globex_callback",),
        categories=("technical_fault", "broadband_speed", "billing_query"),
    ),
    QueueProfile(
        "globex_callback", "callback", "new_york", _GLOBEX, 0.08,
        talk_mean_s=420, acw_mean_s=60, hold_probability=0.2, patience_mean_s=None,
        max_wait_s=10_800, ring_s=8, ring_timeout_s=30, ring_no_answer_probability=0.02,
        threshold_s=3600, short_abandon_s=0,
        categories=("technical_fault", "broadband_speed", "device_setup"),
    ),
)  # fmt: skip

# (site, team name stem, skills with the primary first, client)
_DEFAULT_GROUPS: Final = (
    ("london", "LON Acme Billing", ("acme_billing_voice", "acme_moves_voice"), _ACME),
    ("london", "LON Acme Moves", ("acme_moves_voice", "acme_billing_voice"), _ACME),
    (
        "london",
        "LON Acme General",
        ("acme_general_voice", "acme_billing_voice", "acme_moves_voice"),
        _ACME,
    ),
    ("london", "LON Acme Digital", ("acme_chat", "acme_email"), _ACME),
    ("london", "LON Globex Support", ("globex_support_voice",), _GLOBEX),
    ("new_york", "NYC Northwind Cards", ("nw_cards_voice", "nw_fraud_voice"), _NORTHWIND),
    ("new_york", "NYC Northwind Fraud", ("nw_fraud_voice", "nw_cards_voice"), _NORTHWIND),
    ("new_york", "NYC Northwind Chat", ("nw_chat",), _NORTHWIND),
    ("new_york", "NYC Globex Callbacks", ("globex_callback", "globex_support_voice"), _GLOBEX),
)

_FIRST_NAMES: Final = (
    *("Aisha", "Ben", "Chloe", "Daniel", "Ella", "Farid", "Grace", "Hugo", "Isla", "Jamal"),
    *("Kate", "Liam", "Maya", "Noah", "Olivia", "Priya", "Quinn", "Ravi", "Sofia", "Tom"),
    *("Uma", "Victor", "Wendy", "Xavier", "Yara", "Zane", "Amir", "Bella", "Carlos", "Dina"),
    *("Ethan", "Fatima", "George", "Hana", "Ivan", "Jade", "Kofi", "Lena", "Marco", "Nadia"),
)
_LAST_NAMES: Final = (
    *("Smith", "Patel", "Jones", "Garcia", "Brown", "Nguyen", "Williams", "Khan", "Taylor"),
    *("Lopez", "Davies", "Kim", "Evans", "Okafor", "Wilson", "Rossi", "Thomas", "Silva"),
    *("Johnson", "Cohen", "Roberts", "Murphy", "Walker", "Chen", "Wright", "Novak", "Hughes"),
    *("Ahmed", "Green", "Moreau", "Hall", "Ivanova", "Clarke", "Sato", "Lewis", "Haddad"),
)


def default_scenario(scale: float = 1.0) -> Scenario:
    """A two-site BPO floor: London and New York, three clients, ten queues.

    Voice is 70 % of arrivals (plus 8 % callbacks), chat 16 %, email 6 %. At scale 1 the
    queues' peak hours sum to 1 000 contacts; teams are rostered for ``scale`` × that demand
    on the busiest weekday, so a larger scale means proportionally more contacts and about
    as many more agents (Erlang C needs a little less than proportional).
    """
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    base = Scenario(_DEFAULT_QUEUES, (), MappingProxyType(dict(_TIMEZONES)), scale=scale)
    return replace(base, teams=_roster(base, _DEFAULT_GROUPS))


def understaffed_scenario(queue: str, staffing_factor: float, scale: float = 1.0) -> Scenario:
    """:func:`default_scenario` with the teams whose primary skill is ``queue`` cut to
    ``staffing_factor`` of their size (0.6 = 40 % of them missing); its service level falls
    and its abandons rise, and colleagues with the skill as a secondary one get busier."""
    scenario = default_scenario(scale)
    if not any(t.queues[0] == queue for t in scenario.teams):
        primaries = sorted({t.queues[0] for t in scenario.teams})
        raise ValueError(f"no team has {queue!r} as its primary skill; choose from {primaries}")
    if not staffing_factor >= 0:
        raise ValueError(f"staffing_factor must be ≥ 0, got {staffing_factor!r}")
    return replace(scenario, queue_staffing=MappingProxyType({queue: staffing_factor}))


def scenario_for_rate(events_per_s: float) -> Scenario:
    """:func:`default_scenario` scaled so that, averaged over the 12 busiest hours (UTC) of a
    weekday, about ``events_per_s`` events are generated per second of simulated time.

    Calibration: :func:`expected_arrivals` integrates the arrival rates exactly over a
    reference Wednesday; the busiest 12 hours' mean arrival rate at scale 1, times
    :data:`EVENTS_PER_CONTACT` (measured), gives events/s at scale 1, and the scale is the
    ratio. Nights run at a fraction of the rate, weekends at about a third to a half.
    """
    if not events_per_s > 0:
        raise ValueError(f"events_per_s must be > 0, got {events_per_s!r}")
    base = default_scenario(1.0)
    midnight = to_epoch_ms(datetime(2025, 1, 15, tzinfo=UTC))  # a Wednesday, no DST shift
    hourly = sorted(
        expected_arrivals(base, midnight + h * HOUR_MS, midnight + (h + 1) * HOUR_MS)
        for h in range(24)
    )
    per_s = sum(hourly[-12:]) / (12 * 3600) * EVENTS_PER_CONTACT
    return default_scenario(events_per_s / per_s)


def core_settings(scenario: Scenario) -> CoreSettings:
    """Settings for :class:`streams.floor.Floor` that match the scenario's sites, queues
    (channel, client, thresholds) and teams."""
    sites = {name: SiteSettings(name, tz) for name, tz in scenario.timezones.items()}
    queues = {
        q.name: QueueSettings(
            q.name, q.site, q.client, q.channel, float(q.threshold_s), float(q.short_abandon_s)
        )
        for q in scenario.queues
    }
    teams = {t.name: TeamSettings(t.name, t.site, t.leader) for t in scenario.teams}
    clients = {
        c: ClientSettings(c) for c in sorted({q.client for q in scenario.queues if q.client})
    }
    return CoreSettings(
        sites=MappingProxyType(sites),
        queues=MappingProxyType(queues),
        teams=MappingProxyType(teams),
        clients=MappingProxyType(clients),
    )


# --- demand --------------------------------------------------------------------------------


def _daily_shape(weights: tuple[float, ...]) -> list[float]:
    """Per local minute of the day, the weight relative to the peak hour, interpolated
    linearly between hour midpoints so the rate has no steps at the top of each hour."""
    peak = max(weights)
    out = []
    for minute in range(DAY_MIN):
        x = (minute + 0.5) / 60 - 0.5
        low = math.floor(x)
        frac = x - low
        w = weights[low % 24] * (1 - frac) + weights[(low + 1) % 24] * frac
        out.append(w / peak)
    return out


def _queue_shape(scenario: Scenario, q: QueueProfile) -> list[float]:
    """Arrivals per millisecond at each local minute of the busiest weekday."""
    per_ms = scenario.contacts_per_hour * q.share * scenario.scale / HOUR_MS
    return [w * per_ms for w in _daily_shape(q.intraday or scenario.intraday)]


def _day_factors(scenario: Scenario) -> tuple[float, ...]:
    peak = max(scenario.weekdays)
    return tuple(w / peak for w in scenario.weekdays)


def _local_minute(calendar: SiteCalendar, minute: int) -> int:
    return minute + calendar.utc_offset_ms(minute * MINUTE_MS) // MINUTE_MS


def _weekday(local_minute: int) -> int:
    return (local_minute // DAY_MIN + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0


def expected_arrivals(
    scenario: Scenario, start_ms: int, end_ms: int, queue: str | None = None
) -> float:
    """The expected number of arriving contacts (new ones, not transfers or overflows) in
    ``[start_ms, end_ms)``, over all queues or one: the simulator's own forecast."""
    days = _day_factors(scenario)
    total = 0.0
    for q in scenario.queues:
        if queue is not None and q.name != queue:
            continue
        shape = _queue_shape(scenario, q)
        calendar = SiteCalendar(scenario.timezones[q.site])
        t = start_ms
        while t < end_ms:
            minute = t // MINUTE_MS
            edge = min((minute + 1) * MINUTE_MS, end_ms)
            local = _local_minute(calendar, minute)
            total += shape[local % DAY_MIN] * days[_weekday(local)] * (edge - t)
            t = edge
    return total


# --- rostering -----------------------------------------------------------------------------

# (start minute, length minutes): day shifts every two hours 06:00–14:00, and a night shift
_SHIFTS: Final = (*((h * 60, 510) for h in range(6, 16, 2)), (22 * 60, 540))
_SLOTS: Final = 48  # half hours


def _handle_s(q: QueueProfile) -> float:
    """Mean agent time per offered contact: ring, talk, holds, consults, ACW."""
    holds = q.hold_probability * q.hold_mean_s * (1 + _SECOND_HOLD)
    consults = q.consult_probability * (q.consult_mean_s + 6)
    return q.ring_s + q.talk_mean_s + holds + consults + q.acw_mean_s


def _erlang_c_agents(load: float, handle_s: float, threshold_s: float, target: float) -> int:
    """Fewest agents answering ``target`` of contacts within ``threshold_s`` (Erlang C) for
    ``load`` Erlangs; DESIGN.md section 3 gives the formulas."""
    if load <= 0:
        return 0
    # The Erlang B recursion forgets its start value geometrically while n < load, so
    # starting 8√A below the load with the overload approximation B ≈ 1 − n/A is exact to
    # float precision and keeps a floor of 10⁵ Erlangs cheap.
    n = max(0, math.floor(load - 8 * math.sqrt(load) - 10))
    blocking = 1.0 if n == 0 else 1 - n / load
    while True:
        n += 1
        blocking = load * blocking / (n + load * blocking)
        if n <= load:
            continue
        waiting = n * blocking / (n - load * (1 - blocking))
        if 1 - waiting * math.exp(-(n - load) * threshold_s / handle_s) >= target:
            return n


def _slot_needs(scenario: Scenario, owned: list[QueueProfile]) -> list[int]:
    """Agents to roster per local half hour for the queues a group owns (peak weekday)."""
    shapes = {q.name: _queue_shape(scenario, q) for q in scenario.queues}
    needs = []
    for slot in range(_SLOTS):
        minute = slot * 30 + 15
        agents = 0.0
        for q in owned:
            per_ms = shapes[q.name][minute] + sum(
                shapes[p.name][minute] * p.transfer_probability / len(p.transfer_to)
                for p in scenario.queues
                if q.name in p.transfer_to
            )
            handle_s = _handle_s(q)
            load = per_ms * handle_s * SECOND_MS  # Erlangs: arrivals/ms × handle ms
            if q.patience_mean_s is None:
                agents += load  # backlog work (email, callbacks): no queueing margin needed
            else:
                agents += _erlang_c_agents(load, handle_s, q.threshold_s, _TARGET)
        needs.append(max(1, math.ceil(agents / (1 - _SHRINKAGE))))
    return needs


def _cover(needs: list[int]) -> list[int]:
    """Agents per shift of :data:`_SHIFTS` so every half hour has its need: walk the day from
    the first shift start and fill each gap with the latest-starting shift that covers it."""
    first = _SHIFTS[0][0] // 30

    def position(slot: int) -> int:
        return (slot - first) % _SLOTS

    counts = [0] * len(_SHIFTS)
    cover = [0] * _SLOTS
    for step in range(_SLOTS):
        slot = (first + step) % _SLOTS
        gap = needs[slot] - cover[slot]
        if gap <= 0:
            continue
        best = max(
            (
                i
                for i, (start, length) in enumerate(_SHIFTS)
                if position(start // 30) <= step and (slot - start // 30) % _SLOTS < length // 30
            ),
            key=lambda i: position(_SHIFTS[i][0] // 30),
        )
        counts[best] += gap
        begin, length = _SHIFTS[best][0] // 30, _SHIFTS[best][1] // 30
        for k in range(length):
            cover[(begin + k) % _SLOTS] += gap
    return counts


def _person(index: int) -> str:
    first = _FIRST_NAMES[index % len(_FIRST_NAMES)]
    last = _LAST_NAMES[(index // len(_FIRST_NAMES) + index * 7) % len(_LAST_NAMES)]
    return f"{first} {last}"


def _roster(
    scenario: Scenario, groups: tuple[tuple[str, str, tuple[str, ...], str | None], ...]
) -> tuple[TeamProfile, ...]:
    """Teams for each skill group, one per shift start (split above :data:`_MAX_TEAM`).

    A group is rostered for the queues it owns: its primary skill, and any secondary skill
    that is no group's primary (email, which chat agents answer between chats).
    """
    by_name = {q.name: q for q in scenario.queues}
    teams: list[TeamProfile] = []
    for site, stem, skills, client in groups:
        owned = [by_name[skills[0]]] + [
            q
            for q in scenario.queues
            if q.name in skills[1:] and not any(g[2][0] == q.name for g in groups)
        ]
        for (start, length), count in zip(
            _SHIFTS, _cover(_slot_needs(scenario, owned)), strict=True
        ):
            parts = math.ceil(count / _MAX_TEAM)
            for part in range(parts):
                size = count // parts + (1 if part < count % parts else 0)
                suffix = f" {chr(65 + part)}" if parts > 1 else ""
                name = f"{stem} {start // 60:02d}:{start % 60:02d}{suffix}"
                leader = _person(len(teams) * 13 + 5)
                teams.append(
                    TeamProfile(name, site, leader, size, skills, start, length, client=client)
                )
    return tuple(teams)


# --- runtime state -------------------------------------------------------------------------

# agent status
_OFF, _IDLE, _RESERVED, _BUSY, _NOT_READY = range(5)
# contact status
_WAITING, _RINGING, _HANDLING, _DONE = range(4)
# action kinds (heap entries are (ts, seq, kind, a, b); EMIT carries a finished event)
(
    _EMIT,
    _ARRIVE,
    _ABANDON,
    _TIMEOUT,
    _ANSWER,
    _MISS,
    _END,
    _WRAP,
    _LOGIN,
    _LOGOUT,
    _BREAK,
    _READY,
    _PLAN,
) = range(13)


class _Queue:
    __slots__ = (
        "acw_mu",
        "acw_sigma",
        "calendar",
        "categories",
        "channel",
        "client",
        "consult_mean_ms",
        "consult_p",
        "hold_mean_ms",
        "hold_p",
        "idle",
        "idle_limit",
        "max_wait_ms",
        "minute",
        "name",
        "overflow",
        "patience_rate",
        "priority",
        "rate",
        "ring_ms",
        "ring_timeout_ms",
        "rona_p",
        "shape",
        "survey_delay_ms",
        "talk_mu",
        "talk_sigma",
        "transfer_p",
        "transfer_to",
        "waiting",
    )

    def __init__(self, p: QueueProfile, scenario: Scenario, calendar: SiteCalendar) -> None:
        self.name = p.name
        self.client = p.client
        self.channel = p.channel
        self.priority = p.priority
        self.calendar = calendar
        self.shape = _queue_shape(scenario, p)
        self.minute = -1
        self.rate = 0.0
        self.talk_sigma = p.talk_sigma
        self.talk_mu = math.log(p.talk_mean_s * SECOND_MS) - p.talk_sigma**2 / 2
        self.acw_sigma = 0.45
        self.acw_mu = math.log(max(p.acw_mean_s, 1.0) * SECOND_MS) - self.acw_sigma**2 / 2
        self.hold_p = p.hold_probability
        self.hold_mean_ms = p.hold_mean_s * SECOND_MS
        self.consult_p = p.consult_probability
        self.consult_mean_ms = p.consult_mean_s * SECOND_MS
        self.patience_rate = None if p.patience_mean_s is None else 1 / (p.patience_mean_s * 1e3)
        self.max_wait_ms = None if p.max_wait_s is None else round(p.max_wait_s * SECOND_MS)
        self.transfer_p = p.transfer_probability
        self.transfer_to: tuple[_Queue, ...] = ()
        self.overflow: _Queue | None = None
        self.ring_ms = p.ring_s * SECOND_MS
        self.ring_timeout_ms = round(p.ring_timeout_s * SECOND_MS)
        self.rona_p = p.ring_no_answer_probability
        self.categories = p.categories
        # voice and chat surveys follow the contact at once; email and callback ones by link
        self.survey_delay_ms = 60_000 if p.channel in ("voice", "chat") else 3 * HOUR_MS
        self.waiting: deque[tuple[_Contact, int]] = deque()
        self.idle: deque[tuple[_Agent, int]] = deque()
        self.idle_limit = 64


class _Agent:
    __slots__ = (
        "breaks",
        "client",
        "contact",
        "id",
        "logout",
        "name",
        "shift_end",
        "site",
        "skill_names",
        "skills",
        "status",
        "team",
        "token",
        "wrap_queue",
    )

    def __init__(self, agent_id: str, name: str, team: TeamProfile, skills: list[_Queue]) -> None:
        self.id = agent_id
        self.name = name
        self.team = team.name
        self.site = team.site
        self.client = team.client
        self.skills = tuple(skills)
        self.skill_names = list(team.queues)
        self.status = _OFF
        self.token = 0
        self.breaks: list[tuple[str, int]] = []
        self.logout = False
        self.shift_end = 0
        self.contact: _Contact | None = None
        self.wrap_queue: _Queue | None = None


class _Contact:
    __slots__ = (
        "agent",
        "customer",
        "enqueued",
        "id",
        "leg",
        "legs",
        "offer",
        "queue",
        "status",
        "target",
        "visited",
        "wait_ms",
    )

    def __init__(self, contact_id: str, customer: str, queue: _Queue) -> None:
        self.id = contact_id
        self.customer = customer
        self.queue = queue
        self.status = _WAITING
        self.leg = 0
        self.legs = 0
        self.offer = 0
        self.enqueued = 0
        self.wait_ms = 0
        self.visited: list[_Queue] = []
        self.agent: _Agent | None = None
        self.target: _Queue | None = None


# --- the simulation ------------------------------------------------------------------------


def simulate(
    scenario: Scenario, *, seed: int, start_ms: int, end_ms: int
) -> Iterator[dict[str, object]]:
    """Contract events of the scenario's floor with event times in ``[start_ms, end_ms)``.

    Events come in non-decreasing ``ts`` (integer epoch ms) order, each with a unique
    ``event_id`` and ``source: "sim"``, and every one passes :func:`streams.events.parse_event`.
    The same scenario, seed, start and end give the same sequence; a longer ``end_ms`` only
    appends events. Ids carry the seed and start, so runs that differ in either never share
    an event, contact, customer, case or survey id. Raises ``ValueError`` if ``end_ms`` is
    before ``start_ms``.
    """
    if end_ms < start_ms:
        raise ValueError(f"end_ms {end_ms} is before start_ms {start_ms}")
    return _Simulation(scenario, seed, start_ms, end_ms).run()


class _Simulation:
    """One run: the action heap, the queues and agents, and the event builders."""

    def __init__(self, scenario: Scenario, seed: int, start_ms: int, end_ms: int) -> None:
        self.scenario = scenario
        self.crm = scenario.crm
        self.rng = random.Random(seed)
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.now = start_ms
        tag = f"{seed}-{start_ms}-"
        self.event_prefix = "ev-" + tag
        self.contact_prefix = "ct-" + tag
        self.customer_prefix = "cu-" + tag
        self.case_prefix = "cs-" + tag
        self.survey_prefix = "sv-" + tag
        self.event_ids = itertools.count(1)
        self.other_ids = itertools.count(1)
        self.seq = itertools.count()
        self.heap: list[tuple[int, int, int, Any, Any]] = []
        self.out: list[dict[str, object]] = []
        self.days = _day_factors(scenario)
        self.calendars = {site: SiteCalendar(tz) for site, tz in scenario.timezones.items()}
        self.zones = {site: ZoneInfo(tz) for site, tz in scenario.timezones.items()}
        self.queues = {p.name: _Queue(p, scenario, self.calendars[p.site]) for p in scenario.queues}
        for p in scenario.queues:
            q = self.queues[p.name]
            q.transfer_to = tuple(self.queues[name] for name in p.transfer_to)
            q.overflow = self.queues[p.overflow_to] if p.overflow_to else None
        self.teams = self._staff()
        self.pools: dict[str | None, list[tuple[int, str]]] = {}
        self.handlers: tuple[Callable[[int, Any, Any], None], ...] = (
            self._emit_slot,
            self._arrive,
            self._abandon,
            self._timeout,
            self._answer,
            self._miss,
            self._end,
            self._wrap,
            self._login,
            self._logout,
            self._break,
            self._ready,
            self._plan,
        )

    def _staff(self) -> dict[str, list[tuple[TeamProfile, list[_Agent]]]]:
        by_site: dict[str, list[tuple[TeamProfile, list[_Agent]]]] = {}
        numbers: dict[str, int] = {}
        people = 0
        factors = self.scenario.queue_staffing
        for team in self.scenario.teams:
            factor = self.scenario.staffing_factor * factors.get(team.queues[0], 1.0)
            skills = [self.queues[name] for name in team.queues]
            agents = []
            size = round(team.size * factor)
            for q in skills:
                q.idle_limit += 2 * size
            for _ in range(size):
                numbers[team.site] = number = numbers.get(team.site, 0) + 1
                agents.append(_Agent(f"{team.site}-{number:05d}", _person(people), team, skills))
                people += 1
            by_site.setdefault(team.site, []).append((team, agents))
        return by_site

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> Iterator[dict[str, object]]:
        start = self.start_ms
        for site, zone in self.zones.items():
            today = from_epoch_ms(start).astimezone(zone).date()
            self._plan_day(site, today - timedelta(days=1))
            self._plan_day(site, today)
            self._push(self._midnight(site, today + timedelta(days=1)), _PLAN, site, today)
        for q in self.queues.values():
            self._schedule_arrival(q, start)
        heap = self.heap
        pop = heapq.heappop
        out = self.out
        handlers = self.handlers
        end = self.end_ms
        while heap and heap[0][0] < end:
            ts, _, kind, a, b = pop(heap)
            if kind == _EMIT:
                yield a
                continue
            self.now = ts
            handlers[kind](ts, a, b)
            if out:
                yield from out
                out.clear()

    def _push(self, ts: int, kind: int, a: object, b: object) -> None:
        if ts < self.end_ms:
            heapq.heappush(self.heap, (ts, next(self.seq), kind, a, b))

    def _emit_slot(self, ts: int, a: object, b: object) -> None:
        raise AssertionError("EMIT entries are yielded by run(), never dispatched")

    # -- event builders ---------------------------------------------------------------------

    def _contact_event(
        self, kind: str, ts: int, contact_id: str, q: _Queue, agent: _Agent | None
    ) -> dict[str, object]:
        event: dict[str, object] = {
            "event_id": self.event_prefix + str(next(self.event_ids)),
            "type": kind,
            "ts": ts,
            "source": "sim",
            "contact_id": contact_id,
            "queue": q.name,
        }
        if agent is not None:
            event["agent_id"] = agent.id
        if q.client is not None:
            event["client"] = q.client
        return event

    def _emit(self, kind: str, ts: int, c: _Contact, q: _Queue, agent: _Agent | None) -> None:
        self.out.append(self._contact_event(kind, ts, c.id, q, agent))

    def _later(self, ts: int, event: dict[str, object]) -> None:
        """Emit ``event`` (whose time is ``ts``) when the simulation reaches ``ts``."""
        self._push(ts, _EMIT, event, None)

    def _state(
        self, ts: int, a: _Agent, state: str, reason: str | None = None
    ) -> dict[str, object]:
        event: dict[str, object] = {
            "event_id": self.event_prefix + str(next(self.event_ids)),
            "type": "agent.state",
            "ts": ts,
            "source": "sim",
            "agent_id": a.id,
            "state": state,
        }
        if reason is not None:
            event["reason"] = reason
        if a.client is not None:
            event["client"] = a.client
        self.out.append(event)
        return event

    def _crm_event(self, kind: str, ts: int, q: _Queue) -> dict[str, object]:
        event: dict[str, object] = {
            "event_id": self.event_prefix + str(next(self.event_ids)),
            "type": kind,
            "ts": ts,
            "source": "sim",
        }
        if q.client is not None:
            event["client"] = q.client
        return event

    # -- arrivals and queueing --------------------------------------------------------------

    def _schedule_arrival(self, q: _Queue, ts: int) -> None:
        """Next arrival by inverting the integrated per-minute rate from ``ts``."""
        need = self.rng.expovariate(1.0)
        end = self.end_ms
        while ts < end:
            minute = ts // MINUTE_MS
            if minute != q.minute:
                q.minute = minute
                local = _local_minute(q.calendar, minute)
                q.rate = q.shape[local % DAY_MIN] * self.days[_weekday(local)]
            edge = (minute + 1) * MINUTE_MS
            room = q.rate * (edge - ts)
            if room >= need and room > 0:
                self._push(ts + int(need / q.rate), _ARRIVE, q, None)
                return
            need -= room
            ts = edge

    def _arrive(self, ts: int, q: _Queue, _: None) -> None:
        c = _Contact(self.contact_prefix + str(next(self.other_ids)), self._customer(q, ts), q)
        self._enqueue(c, q, ts)
        self._schedule_arrival(q, ts)

    def _customer(self, q: _Queue, ts: int) -> str:
        """A recent unresolved customer calling again, or a new one."""
        pool = self.pools.get(q.client)
        if pool and self.rng.random() < self.crm.repeat_probability:
            i = self.rng.randrange(len(pool))
            seen, customer = pool[i]
            pool[i] = pool[-1]
            pool.pop()
            if ts - seen <= self.crm.repeat_window_days * 24 * HOUR_MS:
                return customer
        return self.customer_prefix + str(next(self.other_ids))

    def _remember(self, q: _Queue, ts: int, customer: str) -> None:
        pool = self.pools.setdefault(q.client, [])
        pool.append((ts, customer))
        if len(pool) > 200_000:
            horizon = ts - self.crm.repeat_window_days * 24 * HOUR_MS
            pool[:] = [item for item in pool if item[0] >= horizon]

    def _enqueue(self, c: _Contact, q: _Queue, ts: int) -> None:
        c.queue = q
        c.leg += 1
        c.status = _WAITING
        c.enqueued = ts
        c.visited.append(q)
        event = self._contact_event("contact.queued", ts, c.id, q, None)
        event["channel"] = q.channel
        event["customer_id"] = c.customer
        if q.priority:
            event["priority"] = q.priority
        self.out.append(event)
        patience = None if q.patience_rate is None else self.rng.expovariate(q.patience_rate)
        if patience is not None and (q.max_wait_ms is None or patience < q.max_wait_ms):
            self._push(ts + int(patience), _ABANDON, c, c.leg)
        elif q.max_wait_ms is not None:
            self._push(ts + q.max_wait_ms, _TIMEOUT, c, c.leg)
        agent = self._idle_agent(q)
        if agent is not None:
            self._offer(agent, c, ts)
        else:
            q.waiting.append((c, c.leg))

    @staticmethod
    def _head(q: _Queue) -> _Contact | None:
        """The first contact still waiting in ``q``; drops entries of contacts that left."""
        waiting = q.waiting
        while waiting:
            c, leg = waiting[0]
            if c.leg == leg and c.status == _WAITING:
                return c
            waiting.popleft()
        return None

    @staticmethod
    def _idle_agent(q: _Queue) -> _Agent | None:
        """The longest-idle available agent with ``q``'s skill, taken off the idle lists."""
        idle = q.idle
        while idle:
            a, token = idle.popleft()
            if a.status == _IDLE and a.token == token:
                return a
        return None

    def _leave(self, c: _Contact, ts: int) -> None:
        """Take a waiting or ringing contact out of its queue, cancelling any ring."""
        agent = c.agent if c.status == _RINGING else None
        c.status = _DONE
        c.agent = None
        c.offer += 1
        if agent is not None:
            agent.contact = None
            # the agent never stopped being "available" while the phone rang, so no event;
            # but a break or logout that fell due meanwhile starts now
            self._free(agent, ts, announce=False)

    def _abandon(self, ts: int, c: _Contact, leg: int) -> None:
        q = c.queue
        if c.leg != leg or c.status not in (_WAITING, _RINGING):
            return
        self._emit("contact.abandoned", ts, c, q, None)
        self._leave(c, ts)
        if self.rng.random() < self.crm.retry_after_abandon:
            self._remember(q, ts, c.customer)

    def _timeout(self, ts: int, c: _Contact, leg: int) -> None:
        q = c.queue
        if c.leg != leg or c.status not in (_WAITING, _RINGING):
            return
        event = self._contact_event("contact.flowed_out", ts, c.id, q, None)
        event["reason"] = "timeout"
        self.out.append(event)
        self._leave(c, ts)
        if q.overflow is not None and q.overflow not in c.visited:
            self._enqueue(c, q.overflow, ts)
        elif self.rng.random() < self.crm.retry_after_abandon:
            self._remember(q, ts, c.customer)

    # -- offering and handling --------------------------------------------------------------

    def _offer(self, a: _Agent, c: _Contact, ts: int) -> None:
        q = c.queue
        a.status = _RESERVED
        a.contact = c
        c.status = _RINGING
        c.agent = a
        c.offer += 1
        self._emit("contact.offered", ts, c, q, a)
        rng = self.rng
        if q.rona_p and rng.random() < q.rona_p:
            self._push(ts + q.ring_timeout_ms, _MISS, c, c.offer)
        else:
            ring = q.ring_ms * (0.5 + rng.random())
            self._push(ts + int(min(ring, q.ring_timeout_ms - 1)), _ANSWER, c, c.offer)

    def _miss(self, ts: int, c: _Contact, offer: int) -> None:
        if c.offer != offer or c.status != _RINGING:
            return
        a = c.agent
        assert a is not None
        q = c.queue
        self._emit("contact.missed", ts, c, q, a)
        a.contact = None
        a.status = _NOT_READY
        self._state(ts, a, "not_ready", "no_answer")
        self._push(ts + self.rng.randint(15, 60) * SECOND_MS, _READY, a, None)
        c.status = _WAITING
        c.agent = None
        other = self._idle_agent(q)
        if other is not None:
            self._offer(other, c, ts)
        else:
            q.waiting.appendleft((c, c.leg))

    def _answer(self, ts: int, c: _Contact, offer: int) -> None:
        if c.offer != offer or c.status != _RINGING:
            return
        a = c.agent
        assert a is not None
        q = c.queue
        c.status = _HANDLING
        a.status = _BUSY
        c.wait_ms += ts - c.enqueued
        self._emit("contact.answered", ts, c, q, a)
        self._state(ts, a, "on_contact")
        rng = self.rng
        talk = min(rng.lognormvariate(q.talk_mu, q.talk_sigma), _TALK_CAP_MS)
        target = None
        if q.transfer_to and rng.random() < q.transfer_p:
            choices = [t for t in q.transfer_to if t not in c.visited]
            target = rng.choice(choices) if choices else None
        c.target = target
        # holds: (fraction of the talk at which it starts, hold ms, consult ms)
        holds: list[tuple[float, float, float]] = []
        if rng.random() < q.hold_p:
            holds.append((rng.uniform(0.1, 0.9), rng.expovariate(1 / q.hold_mean_ms), 0.0))
            if rng.random() < _SECOND_HOLD:
                holds.append((rng.uniform(0.1, 0.9), rng.expovariate(1 / q.hold_mean_ms), 0.0))
        if rng.random() < q.consult_p or (target is not None and rng.random() < _WARM_TRANSFER):
            consult = rng.expovariate(1 / q.consult_mean_ms)
            at = 0.95 if target is not None else rng.uniform(0.2, 0.9)
            holds.append((at, consult + 6000.0, consult))
        held = 0
        for at, hold, consult in sorted(holds):
            start = ts + int(at * talk) + held
            length = max(int(hold), 5000)
            self._later(start, self._contact_event("contact.held", start, c.id, q, a))
            if consult:
                begin, stop = start + 2000, start + 2000 + int(consult)
                event = self._contact_event("contact.consult_started", begin, c.id, q, a)
                self._later(begin, event)
                self._later(stop, self._contact_event("contact.consult_ended", stop, c.id, q, a))
            resumed = start + length
            self._later(resumed, self._contact_event("contact.resumed", resumed, c.id, q, a))
            held += length
        self._push(ts + int(talk) + held, _END, c, None)

    def _end(self, ts: int, c: _Contact, _: None) -> None:
        a = c.agent
        assert a is not None
        q = c.queue
        target = c.target
        if target is not None:
            event = self._contact_event("contact.transferred", ts, c.id, q, a)
            event["to_queue"] = target.name
            self.out.append(event)
        self._emit("contact.ended", ts, c, q, a)
        self._state(ts, a, "after_contact_work")
        wrap = ts + int(self.rng.lognormvariate(q.acw_mu, q.acw_sigma))
        a.wrap_queue = q
        self._push(wrap, _WRAP, a, c)
        c.agent = None
        c.legs += 1
        if target is not None:
            c.target = None
            self._enqueue(c, target, ts)
        else:
            c.status = _DONE
            self._close(c, q, a, ts, wrap)

    def _wrap(self, ts: int, a: _Agent, c: _Contact) -> None:
        q = a.wrap_queue
        assert q is not None
        self._emit("contact.wrapped", ts, c, q, a)
        a.contact = None
        a.wrap_queue = None
        self._free(a, ts, announce=True)

    # -- CRM --------------------------------------------------------------------------------

    def _close(self, c: _Contact, q: _Queue, a: _Agent, ended: int, wrapped: int) -> None:
        """Case, escalation, resolution and survey of a contact whose last leg ended."""
        rng = self.rng
        crm = self.crm
        wait_min = c.wait_ms / MINUTE_MS
        complaint = False
        if rng.random() < crm.case_probability:
            complaint = rng.random() < crm.complaint_probability * (1 + wait_min / 10)
            resolved = self._case(c, q, a, wrapped, complaint)
        else:
            resolved = rng.random() < crm.no_case_resolution
        if not resolved:
            self._remember(q, ended, c.customer)
        if rng.random() < crm.survey_probability:
            self._survey(c, q, a, ended, resolved, complaint)

    def _case(self, c: _Contact, q: _Queue, a: _Agent, ts: int, complaint: bool) -> bool:
        rng = self.rng
        crm = self.crm
        case_id = self.case_prefix + str(next(self.other_ids))
        opened = self._crm_event("case.opened", ts, q)
        opened.update(
            case_id=case_id,
            customer_id=c.customer,
            contact_id=c.id,
            agent_id=a.id,
            queue=q.name,
            category=rng.choice(q.categories),
            complaint=complaint,
        )
        self._later(ts, opened)
        escalated = complaint and rng.random() < crm.escalation_probability
        later = ts + int(rng.expovariate(1 / (crm.resolution_mean_h * HOUR_MS)))
        if escalated:
            escalated_ts = ts + rng.randint(10, 240) * MINUTE_MS
            escalation = self._crm_event("case.escalated", escalated_ts, q)
            escalation.update(case_id=case_id, level="tier2")
            self._later(escalated_ts, escalation)
            later = max(later, escalated_ts) + HOUR_MS
        fcr = crm.first_contact_resolution * (0.4 if complaint else 1.0)
        first = not escalated and rng.random() < fcr
        resolved_ts = ts + 1000 if first else later
        resolved = self._crm_event("case.resolved", resolved_ts, q)
        resolved.update(case_id=case_id, first_contact=first)
        self._later(resolved_ts, resolved)
        return first

    def _survey(
        self, c: _Contact, q: _Queue, a: _Agent, ended: int, resolved: bool, complaint: bool
    ) -> None:
        rng = self.rng
        # the latent score falls with the wait (saturating), an unresolved issue, a complaint
        # and each transfer; csat and nps are noisy readings of it
        score = 4.45 - 1.5 * (1 - math.exp(-c.wait_ms / 240_000)) + rng.gauss(0, 0.7)
        score -= (0 if resolved else 0.9) + (0.7 if complaint else 0) + 0.25 * (c.legs - 1)
        ts = ended + int(rng.uniform(0.25, 2.0) * q.survey_delay_ms)
        survey = self._crm_event("survey.completed", ts, q)
        survey.update(
            survey_id=self.survey_prefix + str(next(self.other_ids)),
            contact_id=c.id,
            agent_id=a.id,
            queue=q.name,
            customer_id=c.customer,
            csat=min(5, max(1, round(score))),
            nps=min(10, max(0, round(2.5 * score - 2.5 + rng.gauss(0, 1.0)))),
            resolved=resolved,
        )
        self._later(ts, survey)

    # -- agents -----------------------------------------------------------------------------

    def _free(self, a: _Agent, ts: int, *, announce: bool) -> None:
        """The agent finished what held them: log out, start a due break, or take work."""
        if a.logout:
            a.logout = False
            a.status = _OFF
            a.breaks.clear()
            self._state(ts, a, "logged_out")
            return
        while a.breaks:
            reason, length = a.breaks.pop(0)
            if ts + length <= a.shift_end:
                a.status = _NOT_READY
                self._state(ts, a, "not_ready", reason)
                self._push(ts + length, _READY, a, None)
                return
        if announce:
            self._state(ts, a, "available")
        self._seek(a, ts)

    def _seek(self, a: _Agent, ts: int) -> None:
        """Offer the agent the best waiting contact of its skills, or make it idle."""
        best: _Contact | None = None
        best_queue: _Queue | None = None
        best_since = 0
        primary = a.skills[0]
        for q in a.skills:
            c = self._head(q)
            if c is None:
                continue
            # agents favour their primary skill, as ACD skill levels make them, so a team
            # lends its spare capacity to other queues instead of being drained by them
            since = c.enqueued - _PRIMARY_PREFERENCE_MS if q is primary else c.enqueued
            if (
                best_queue is None
                or q.priority > best_queue.priority
                or (q.priority == best_queue.priority and since < best_since)
            ):
                best, best_queue, best_since = c, q, since
        if best is not None and best_queue is not None:
            best_queue.waiting.popleft()
            self._offer(a, best, ts)
            return
        a.status = _IDLE
        a.token += 1
        entry = (a, a.token)
        for q in a.skills:
            q.idle.append(entry)
            if len(q.idle) > q.idle_limit:
                # entries of agents who left idleness pile up in quiet queues; after a purge
                # each agent has at most one entry, so purges cost O(1) per append
                q.idle = deque(e for e in q.idle if e[0].status == _IDLE and e[0].token == e[1])

    def _login(self, ts: int, a: _Agent, shift_end: int) -> None:
        if a.status != _OFF:
            return
        a.shift_end = shift_end
        a.logout = False
        a.breaks.clear()
        event = self._state(ts, a, "available")
        event.update(name=a.name, team=a.team, site=a.site, queues=a.skill_names)
        self._seek(a, ts)

    def _logout(self, ts: int, a: _Agent, shift_end: int) -> None:
        if a.status == _OFF or a.shift_end != shift_end:
            return
        if a.status == _IDLE:
            a.status = _OFF
            a.token += 1
            self._state(ts, a, "logged_out")
        else:
            a.logout = True

    def _break(self, ts: int, a: _Agent, slot: tuple[str, int]) -> None:
        if a.status == _OFF:
            return
        if a.status == _IDLE:
            a.breaks.insert(0, slot)
            self._free(a, ts, announce=False)
        else:
            a.breaks.append(slot)

    def _ready(self, ts: int, a: _Agent, _: None) -> None:
        if a.status == _NOT_READY:
            self._free(a, ts, announce=True)

    # -- shifts -----------------------------------------------------------------------------

    def _midnight(self, site: str, day: date) -> int:
        return to_epoch_ms(datetime.combine(day, time(), tzinfo=self.zones[site]))

    def _plan(self, ts: int, site: str, previous: date) -> None:
        day = previous + timedelta(days=1)
        self._plan_day(site, day)
        self._push(self._midnight(site, day + timedelta(days=1)), _PLAN, site, day)

    def _plan_day(self, site: str, day: date) -> None:
        """Who works ``day`` at ``site``, when they log in and out, and their breaks."""
        rng = self.rng
        attend = self.days[day.weekday()] * (1 - self.scenario.absence_probability)
        zone = self.zones[site]
        for team, agents in self.teams.get(site, ()):
            hours, minutes = divmod(team.shift_start_min, 60)
            base = to_epoch_ms(datetime.combine(day, time(hours, minutes), tzinfo=zone))
            half = team.stagger_min // 2
            length = team.shift_length_min * MINUTE_MS
            for i, a in enumerate(agents):
                if rng.random() >= attend:
                    continue
                start = base + rng.randint(-half, half) * MINUTE_MS
                self._plan_shift(a, start, start + length, (i + 0.5) / len(agents))

    def _plan_shift(self, a: _Agent, start: int, end: int, position: float) -> None:
        rng = self.rng
        slots = self._breaks((end - start) // MINUTE_MS, position)
        # agents already on shift when the run starts log in over its first minute, so a run
        # paced against the wall clock does not open with one burst of the whole floor
        login = start if start >= self.now else self.now + rng.randrange(MINUTE_MS)
        if login >= end:
            return
        self._push(login, _LOGIN, a, end)
        self._push(end, _LOGOUT, a, end)
        for offset_min, reason, minutes in slots:
            at = start + offset_min * MINUTE_MS
            if login < at and at + minutes * MINUTE_MS < end:
                self._push(at, _BREAK, a, (reason, minutes * MINUTE_MS))

    def _breaks(self, length_min: int, position: float) -> list[tuple[int, str, int]]:
        """(minutes into the shift, reason, minutes) of a shift's breaks, lunch and session.

        Lunches of a team are spread evenly over the three hours around mid-shift by the
        agent's ``position`` in the team (0–1), as a planner staggers them so the team's
        capacity never drops at once; a break sits in the middle of each half, and a
        training, meeting or coaching slot, if any, after lunch.
        """
        rng = self.rng
        if length_min < 300:
            return [(length_min // 2, "break", 15)]
        lunch = length_min // 2 - 15 + round((position - 0.5) * 180) + rng.randint(-5, 5)
        after = lunch + 30
        second = after + (length_min - after) // 2
        slots = [
            (lunch // 2 + rng.randint(-20, 20), "break", 15),
            (lunch, "lunch", 30),
            (second + rng.randint(-20, 20), "break", 15),
        ]
        if rng.random() < _SESSION:
            reason = rng.choice(("training", "meeting", "coaching"))
            slots.append(((after + second) // 2 - 15, reason, 20 if reason == "coaching" else 30))
        return sorted(slots)
