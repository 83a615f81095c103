"""The ``forecasts:`` section: contacts and AHT expected per queue and interval.

::

    forecasts:
      file: forecast.csv            # CSV, relative to this file's directory
      intervals:                    # and / or inline; both may be given
        - {queue: billing, interval_start: "2024-05-06T09:00:00+01:00", contacts: 120, aht_s: 240}

The CSV file starts with a header naming the columns ``queue``, ``interval_start``,
``contacts`` and ``aht_s`` (in any order, no others), then one interval per line; empty lines
are skipped and a UTF-8 byte-order mark (spreadsheets write one) is allowed.

Each interval is checked like any other value: ``queue`` a name, ``interval_start`` an
ISO-8601 time with offset (or epoch milliseconds) that starts one of the queue's fixed
intervals in its site's time zone (a 30-minute forecast for a 15-minute queue cannot be
compared), ``contacts`` a number >= 0 (forecasts are often fractional), ``aht_s`` a number
> 0, and the two together no more traffic than :data:`streams.staffing.MAX_TRAFFIC_ERLANGS`.
A queue's interval given twice (in the file, inline, or once in each) is an error naming
both places. Errors in the CSV name the file, the line and the column:
``config/forecast.csv: line 3, contacts: expected a number >= 0, got '-4'``.

Queues not configured are checked against the queue defaults, as they are measured.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable
from datetime import datetime
from typing import Final, TypeVar

from config import checks
from config.checks import Invalid, KeyPath
from config.reader import Reader, Section, dotted
from config.settings import DEFAULTS_SOURCE
from streams.calendar import SiteCalendar, to_epoch_ms
from streams.errors import ConfigError
from streams.forecast import Forecast, ForecastInterval
from streams.settings import CoreSettings
from streams.staffing import MAX_TRAFFIC_ERLANGS

FORECAST_KEYS: Final = ("file", "intervals")
INTERVAL_KEYS: Final = ("queue", "interval_start", "contacts", "aht_s")
CSV_COLUMNS: Final = INTERVAL_KEYS
MAX_AHT_S: Final = 86_400.0

_contacts = checks.number(ge=0)
_aht_s = checks.number(gt=0, le=MAX_AHT_S)

EARLIEST_MS: Final = 946_684_800_000
"""2000-01-01: a forecast for earlier is a mistake (epoch seconds taken for milliseconds…)."""
LATEST_MS: Final = 253_402_214_400_000
"""9999-12-30: the last day every time zone can show."""

T = TypeVar("T")

Fail = Callable[[str, str, object], ConfigError]
"""Builds the error for (field, problem, value) at one interval's place."""


def read_forecasts(reader: Reader, section: Section, core: CoreSettings) -> Forecast:
    """The forecast of the ``forecasts`` section (empty when the section is absent)."""
    found = _Found(core)
    path = section.get("file", checks.optional(checks.text), None)
    if path is not None:
        _read_csv(reader, section.at("file"), path, found)
    for at, raw in section.items("intervals"):
        item = reader.section(raw, at, INTERVAL_KEYS)
        for key in INTERVAL_KEYS:
            if key not in item:
                raise reader.error(item.at(key), "required key is missing")

        def fail(key: str, problem: str, value: object, item: Section = item) -> ConfigError:
            return reader.error(item.at(key), problem, value)

        found.add(item.values, fail, dotted(at), _yaml_number)
    return Forecast.of(found.items.values())


class _Found:
    """Intervals read so far, by (queue, start), with where each came from."""

    def __init__(self, core: CoreSettings) -> None:
        self.core = core
        self.items: dict[tuple[str, int], ForecastInterval] = {}
        self.where: dict[tuple[str, int], str] = {}
        self.calendars: dict[str, SiteCalendar] = {}

    def add(
        self,
        values: object,
        fail: Fail,
        where: str,
        number: Callable[[object, Callable[[object], float]], float],
    ) -> None:
        assert isinstance(values, dict)
        shown_start = _shown(values["interval_start"])
        queue = _checked(fail, "queue", values["queue"], checks.text)
        start = _checked(fail, "interval_start", values["interval_start"], _epoch_ms)
        contacts = number(values["contacts"], _checker(fail, "contacts", _contacts))
        aht = number(values["aht_s"], _checker(fail, "aht_s", _aht_s))
        settings = self.core.queue(queue)
        site = self.core.site(settings.site)
        calendar = self.calendars.get(site.name)
        if calendar is None:
            calendar = self.calendars[site.name] = SiteCalendar(site.timezone, site.day_reset_min)
        aligned = calendar.interval_start(start, settings.interval_min)
        if aligned != start:
            raise fail(
                "interval_start",
                f"expected the start of a {settings.interval_min}-minute interval of queue "
                f"{queue!r} in site {site.name!r} ({site.timezone}), such as "
                f"{calendar.isoformat(aligned)}",
                shown_start,
            )
        traffic = contacts * aht / (settings.interval_min * 60)
        if traffic > MAX_TRAFFIC_ERLANGS:
            raise fail(
                "contacts",
                f"expected at most {MAX_TRAFFIC_ERLANGS:g} erlangs with aht_s {aht:g} "
                f"over {settings.interval_min} minutes (that is {traffic:g})",
                values["contacts"],
            )
        key = (queue, start)
        if key in self.where:
            raise fail(
                "interval_start",
                f"expected one forecast per queue and interval, {self.where[key]} has "
                f"queue {queue!r} at this time too",
                shown_start,
            )
        self.where[key] = where
        self.items[key] = ForecastInterval(queue, start, contacts, aht)


def _read_csv(reader: Reader, at: KeyPath, path: str, found: _Found) -> None:
    resolved = _resolve(reader, at, path)
    try:
        with open(resolved, encoding="utf-8-sig", newline="") as stream:
            rows = list(csv.reader(stream))
    except FileNotFoundError:
        raise reader.error(at, f"no such forecast file ({resolved})", path) from None
    except UnicodeDecodeError as error:
        raise reader.error(
            at, f"expected a UTF-8 CSV file, byte {error.start} of {resolved} is not", path
        ) from None
    except (OSError, ValueError, csv.Error) as error:  # ValueError: a NUL in the path
        raise reader.error(at, f"cannot read the forecast file {resolved}: {error}", path) from None
    numbered = [
        (n, row) for n, row in enumerate(rows, start=1) if any(cell.strip() for cell in row)
    ]
    if not numbered:
        raise ConfigError(resolved, "line 1", f"expected a header: {','.join(CSV_COLUMNS)}")
    header_line, header = numbered[0]
    columns = [cell.strip() for cell in header]
    if sorted(columns) != sorted(CSV_COLUMNS):
        raise ConfigError(
            resolved,
            f"line {header_line}",
            f"expected a header naming the columns {', '.join(CSV_COLUMNS)} once each",
            ",".join(header),
        )
    for line, row in numbered[1:]:
        if len(row) != len(columns):
            raise ConfigError(
                resolved,
                f"line {line}",
                f"expected {len(columns)} comma-separated values",
                ",".join(row),
            )
        values = {name: cell.strip() for name, cell in zip(columns, row, strict=True)}

        def fail(key: str, problem: str, value: object, line: int = line) -> ConfigError:
            return ConfigError(resolved, f"line {line}, {key}", problem, value)

        found.add(values, fail, f"{resolved} line {line}", _csv_number)


def _resolve(reader: Reader, at: KeyPath, path: str) -> str:
    """``path`` relative to the configuration file's directory when the file names it; as
    given (so relative to the working directory) when absolute, or set by an environment
    variable, or without a configuration file."""
    source = reader.source
    if os.path.isabs(path) or source == DEFAULTS_SOURCE or reader.source_of(at) != source:
        return path
    return os.path.join(os.path.dirname(source), path)


def _checked(fail: Fail, key: str, value: object, check: Callable[[object], T]) -> T:
    try:
        return check(value)
    except Invalid as invalid:
        raise fail(key, invalid.problem, invalid.value) from None


def _checker(fail: Fail, key: str, check: Callable[[object], float]) -> Callable[[object], float]:
    def run(value: object) -> float:
        return _checked(fail, key, value, check)

    return run


def _yaml_number(value: object, check: Callable[[object], float]) -> float:
    return check(value)


def _csv_number(value: object, check: Callable[[object], float]) -> float:
    """A CSV cell read as a number, then checked; a cell that is no number fails the check
    with the text as written."""
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return check(text)
    if not math.isfinite(number):
        return check(text)
    return check(number)


def _shown(value: object) -> object:
    """``value`` as the file wrote it: YAML reads an unquoted time as a datetime."""
    return value.isoformat() if isinstance(value, datetime) else value


def _epoch_ms(value: object) -> int:
    """An ISO-8601 time with offset (a string, or the datetime YAML reads an unquoted one
    as), or integer epoch milliseconds (a YAML integer or a CSV cell of digits)."""
    expected = "expected an ISO-8601 time with offset (e.g. 2024-05-06T09:00:00+01:00)"
    if isinstance(value, bool):
        raise Invalid(expected, value)
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        ms = int(value)
    else:
        moment = value
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise Invalid(expected, value) from None
        if not isinstance(moment, datetime) or moment.tzinfo is None:
            raise Invalid(expected, _shown(value))
        ms = to_epoch_ms(moment)
    if not EARLIEST_MS <= ms < LATEST_MS:
        raise Invalid("expected a time from 2000-01-01 to 9999-12-29", value)
    return ms


__all__ = ["CSV_COLUMNS", "FORECAST_KEYS", "INTERVAL_KEYS", "read_forecasts"]
