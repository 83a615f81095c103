"""Checks of single configuration values.

A check takes a raw value as YAML produced it and returns the typed value, or raises
:class:`Invalid` saying what was expected. Checks know nothing of files, paths or the
environment: :class:`config.reader.Reader` adds those to the message.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Collection, Sequence
from typing import TypeGuard, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from streams.settings import CHANNELS, INTERVAL_MINUTES, SL_DEFINITIONS

T = TypeVar("T")

KeyPath = tuple[str | int, ...]
"""Where a value sits in the configuration: mapping keys and list indices."""

Check = Callable[[object], T]
"""Returns the typed value or raises :class:`Invalid`."""


class Invalid(Exception):  # noqa: N818 - internal signal, always re-raised as ConfigError
    """A value failed a check.

    ``at`` is the position of the offending value below the checked one (e.g. the index of
    a bad list item), so the reader can point at it precisely.
    """

    def __init__(self, problem: str, value: object, at: KeyPath = ()) -> None:
        super().__init__(problem)
        self.problem = problem
        self.value = value
        self.at = at


def suggestion(word: str, candidates: Collection[str]) -> str | None:
    """The candidate closest to ``word`` if one is close enough to be a likely typo."""
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return close[0] if close else None


def quoted(values: Sequence[object]) -> str:
    """``'a', 'b' or 'c'``: a readable list of allowed values."""
    shown = [repr(value) for value in values]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def _is_number(value: object) -> TypeGuard[int | float]:
    # bool is a subclass of int: `threshold_s: true` must not read as 1.
    return isinstance(value, int | float) and not isinstance(value, bool)


def number(
    *, gt: float | None = None, ge: float | None = None, le: float | None = None
) -> Check[float]:
    """A finite real number within the given bounds, returned as a float."""
    bounds = [
        f"{sign} {limit:g}"
        for sign, limit in ((">", gt), (">=", ge), ("<=", le))
        if limit is not None
    ]
    expected = " ".join(["expected a number", " and ".join(bounds)]).rstrip()

    def check(value: object) -> float:
        if not _is_number(value):
            raise Invalid(expected, value)
        try:
            as_float = float(value)
        except OverflowError:  # an integer too large for a float
            raise Invalid(expected, value) from None
        in_range = (
            math.isfinite(as_float)
            and (gt is None or as_float > gt)
            and (ge is None or as_float >= ge)
            and (le is None or as_float <= le)
        )
        if not in_range:
            raise Invalid(expected, value)
        return as_float

    return check


def integer(low: int, high: int | None = None) -> Check[int]:
    """A whole number from ``low`` to ``high`` (no upper bound when ``high`` is None)."""
    if high is not None:
        expected = f"expected an integer from {low} to {high}"
    elif low == 1:
        expected = "expected a positive integer"
    else:
        expected = f"expected an integer >= {low}"

    def check(value: object) -> int:
        if not _is_number(value) or not isinstance(value, int):
            raise Invalid(expected, value)
        if value < low or (high is not None and value > high):
            raise Invalid(expected, value)
        return value

    return check


def interval_min(value: object) -> int:
    """An interval length in minutes that Floorwatch supports (15, 30 or 60)."""
    if not _is_number(value) or not isinstance(value, int) or value not in INTERVAL_MINUTES:
        raise Invalid(f"expected {quoted(INTERVAL_MINUTES)} (minutes)", value)
    return value


def boolean(value: object) -> bool:
    """A real YAML boolean: not a quoted "yes", not 0 or 1."""
    if not isinstance(value, bool):
        raise Invalid("expected true or false", value)
    return value


def text(value: object) -> str:
    """A non-empty string without surrounding spaces (names, leaders, display names)."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid("expected a non-empty string", value)
    if value != value.strip():
        # "billing " would never match the queue "billing" in events.
        raise Invalid("expected a string without leading or trailing spaces", value)
    return value


def optional(check: Check[T]) -> Check[T | None]:
    """``check``, or null."""

    def check_optional(value: object) -> T | None:
        return None if value is None else check(value)

    return check_optional


def choice(options: Sequence[str]) -> Check[str]:
    """One of the strings ``options``."""

    def check(value: object) -> str:
        if not isinstance(value, str) or value not in options:
            raise Invalid(f"expected one of {quoted(options)}", value)
        return value

    return check


channel = choice(CHANNELS)


def distinct_list(element: Check[T], expected: str) -> Check[tuple[T, ...]]:
    """A non-empty list of distinct values that each pass ``element``, as a tuple."""

    def check(value: object) -> tuple[T, ...]:
        if not isinstance(value, list | tuple) or not value:
            raise Invalid(expected, value)
        items: list[T] = []
        for index, raw in enumerate(value):
            try:
                item = element(raw)
            except Invalid as invalid:
                raise Invalid(invalid.problem, invalid.value, (index, *invalid.at)) from None
            if item in items:
                already = items.index(item)
                raise Invalid(
                    f"expected each value once, already listed at [{already}]", raw, (index,)
                )
            items.append(item)
        return tuple(items)

    return check


definitions = distinct_list(
    choice(SL_DEFINITIONS),
    f"expected a non-empty list of service-level definitions ({', '.join(SL_DEFINITIONS)})",
)
rolling_windows_min = distinct_list(
    integer(1, 1440), "expected a non-empty list of window lengths in minutes"
)


def timezone(value: object) -> str:
    """An IANA time zone name that :class:`zoneinfo.ZoneInfo` can load."""
    expected = "expected an IANA time zone name such as 'Europe/London'"
    if not isinstance(value, str):
        raise Invalid(expected, value)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # Only on the error path: listing the zones reads the whole tz database.
        close = suggestion(value, available_timezones())
        if close is not None:
            expected = f"expected an IANA time zone name (did you mean {close!r}?)"
        raise Invalid(expected, value) from None
    return value


_HH_MM = re.compile(r"(\d{1,2}):(\d{2})")


def day_reset(value: object) -> int:
    """A "HH:MM" (or "H:MM") time from 00:00 to 23:59, returned as minutes after midnight."""
    if _is_number(value):
        # YAML 1.1 reads an unquoted 10:30 as the base-60 number 630.
        raise Invalid('expected a quoted "HH:MM" time (YAML reads unquoted 10:30 as 630)', value)
    match = _HH_MM.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise Invalid('expected a "HH:MM" time from "00:00" to "23:59"', value)
    return int(match[1]) * 60 + int(match[2])


def hh_mm(minutes: int) -> str:
    """Minutes after midnight as "HH:MM" (the inverse of :func:`day_reset`)."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


def topic(value: object) -> str:
    """A topic name Kafka accepts: 1–249 of ``A-Z a-z 0-9 . _ -``, and not "." or ".."."""
    if not isinstance(value, str) or not _TOPIC.fullmatch(value) or value in {".", ".."}:
        raise Invalid(
            "expected a Kafka topic name: 1 to 249 characters from A-Z, a-z, 0-9, '.', '_', '-'",
            value,
        )
    return value


_BROKER = re.compile(
    r"(?:kafka://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
    r":(?P<port>[0-9]{1,5})",
    re.IGNORECASE,
)


def broker(value: object) -> str | None:
    """A broker address normalised to ``kafka://host:port``; null means the embedded broker."""
    if value is None:
        return None
    match = _BROKER.fullmatch(value) if isinstance(value, str) else None
    if match is None or not 1 <= int(match["port"]) <= 65535:
        raise Invalid("expected kafka://host:port (or host:port, or null for embedded)", value)
    return f"kafka://{match['host']}:{int(match['port'])}"


def member(known: Sequence[str], what: str) -> Check[str]:
    """A name from ``known``: a reference to something configured elsewhere in the file."""

    def check(value: object) -> str:
        name = text(value)
        if name not in known:
            raise Invalid(f"expected a configured {what} ({quoted(known)})", value)
        return name

    return check
