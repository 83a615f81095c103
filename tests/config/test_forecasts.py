"""The ``forecasts:`` section: a CSV file and / or inline intervals, checked like the rest of the
configuration (the file, the line or path, the problem and the value), and the loaded forecast
reaching the floor state through the gateway's hub."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from config import load_config
from streams.calendar import to_epoch_ms
from streams.errors import ConfigError
from streams.floor import Floor
from streams.forecast import ForecastInterval
from wallboard.hub import Hub

NINE = to_epoch_ms(datetime(2024, 5, 6, 9, tzinfo=UTC))
QUARTER = 15 * 60_000
HEADER = "queue,interval_start,contacts,aht_s\n"


def write(tmp_path: Path, text: str, csv: str | None = None, name: str = "forecast.csv") -> Path:
    path = tmp_path / "floor.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    if csv is not None:
        (tmp_path / name).write_text(csv, encoding="utf-8")
    return path


def error_for(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config(path, env=env or {})
    return str(raised.value)


# --- good forecasts ----------------------------------------------------------------------------


def test_no_forecasts_section_is_an_empty_forecast(tmp_path: Path) -> None:
    assert len(load_config(write(tmp_path, "queues: []"), env={}).forecast) == 0


def test_csv_file_next_to_the_configuration_is_read(tmp_path: Path) -> None:
    csv = (
        "\ufeff"  # the byte-order mark spreadsheets write
        "aht_s,queue,contacts,interval_start\n"  # columns in any order
        "180,sales,100,2024-05-06T09:00:00+00:00\n"
        "\n"
        "185.5,sales,12.5,2024-05-06T10:15:00+01:00\n"  # the same instant as 09:15Z
        f"240,unlisted,7,{NINE}\n"  # epoch ms; a queue measured with the defaults
    )
    config = load_config(write(tmp_path, "forecasts: {file: forecast.csv}", csv), env={})
    assert dict(config.forecast.intervals) == {
        ("sales", NINE): ForecastInterval("sales", NINE, 100.0, 180.0),
        ("sales", NINE + QUARTER): ForecastInterval("sales", NINE + QUARTER, 12.5, 185.5),
        ("unlisted", NINE): ForecastInterval("unlisted", NINE, 7.0, 240.0),
    }


def test_inline_intervals_add_to_the_file(tmp_path: Path) -> None:
    text = """
        forecasts:
          file: forecast.csv
          intervals:
            - {queue: sales, interval_start: "2024-05-06T09:15:00+00:00", contacts: 90, aht_s: 200}
            - {queue: sales, interval_start: 2024-05-06T09:30:00Z, contacts: 80, aht_s: 210}
    """
    csv = HEADER + "sales,2024-05-06T09:00:00+00:00,100,180\n"
    forecast = load_config(write(tmp_path, text, csv), env={}).forecast
    assert [(i.start_ms, i.contacts, i.aht_s) for i in forecast.intervals.values()] == [
        (NINE, 100.0, 180.0),
        (NINE + QUARTER, 90.0, 200.0),
        (NINE + 2 * QUARTER, 80.0, 210.0),  # an unquoted YAML timestamp works too
    ]


def test_intervals_follow_the_queue_length_and_site_time_zone(tmp_path: Path) -> None:
    text = """
        sites: [{name: london, timezone: Europe/London}]
        queues: [{name: billing, interval_min: 30}]
        forecasts:
          intervals:
            - {queue: billing, interval_start: "2024-05-06T09:30:00+01:00", contacts: 9, aht_s: 60}
    """
    forecast = load_config(write(tmp_path, text), env={}).forecast
    assert forecast.get("billing", NINE - 30 * 60_000) is not None  # 09:30 BST = 08:30Z


def test_an_environment_variable_names_the_file_from_the_working_directory(
    tmp_path: Path,
) -> None:
    (tmp_path / "elsewhere.csv").write_text(HEADER + "sales,2024-05-06T09:00:00Z,5,100\n")
    config = load_config(
        write(tmp_path, "queues: []"),
        env={"FLOORWATCH_FORECASTS__FILE": str(tmp_path / "elsewhere.csv")},
    )
    assert config.forecast.get("sales", NINE) == ForecastInterval("sales", NINE, 5.0, 100.0)


def test_the_shipped_example_forecast_loads() -> None:
    root = Path(__file__).resolve().parents[2]
    forecast = load_config(root / "config" / "examples" / "bpo.yaml", env={}).forecast
    assert len(forecast) == 11
    billing = forecast.get("acme_billing", NINE - 60 * 60_000)  # 09:00 BST
    assert billing == ForecastInterval("acme_billing", NINE - 3_600_000, 100.0, 180.0)


# --- wrong forecasts ---------------------------------------------------------------------------

IN_CSV = "forecasts: {file: forecast.csv}"


@pytest.mark.parametrize(
    ("text", "csv", "message"),
    [
        pytest.param(
            "forecasts: {files: forecast.csv}",
            None,
            "{dir}/floor.yaml: forecasts.files: unknown key (did you mean 'file'?)",
            id="unknown-key",
        ),
        pytest.param(
            "forecasts: {file: 7}",
            None,
            "{dir}/floor.yaml: forecasts.file: expected a non-empty string, got 7",
            id="file-not-a-name",
        ),
        pytest.param(
            "forecasts: {intervals: [{queue: sales, contacts: 4, aht_s: 100}]}",
            None,
            "{dir}/floor.yaml: forecasts.intervals[0].interval_start: required key is missing",
            id="missing-key",
        ),
        pytest.param(
            "forecasts: {intervals: [{queue: sales, interval_start: 2024-05-06T09:00:00Z,"
            " contacts: -4, aht_s: 100}]}",
            None,
            "{dir}/floor.yaml: forecasts.intervals[0].contacts: expected a number >= 0, got -4",
            id="negative-contacts",
        ),
        pytest.param(
            "forecasts: {intervals: [{queue: sales, interval_start: 2024-05-06T09:00:00Z,"
            " contacts: 4, aht_s: 0}]}",
            None,
            "{dir}/floor.yaml: forecasts.intervals[0].aht_s: "
            "expected a number > 0 and <= 86400, got 0",
            id="zero-aht",
        ),
        pytest.param(
            "forecasts: {intervals: [{queue: sales, interval_start: '2024-05-06T09:00:00',"
            " contacts: 4, aht_s: 100}]}",
            None,
            "{dir}/floor.yaml: forecasts.intervals[0].interval_start: expected an ISO-8601 "
            "time with offset (e.g. 2024-05-06T09:00:00+01:00), got '2024-05-06T09:00:00'",
            id="no-offset",
        ),
        pytest.param(
            "forecasts: {intervals: [{queue: sales, interval_start: 2024-05-06 09:00:00,"
            " contacts: 4, aht_s: 100}]}",
            None,
            "{dir}/floor.yaml: forecasts.intervals[0].interval_start: expected an ISO-8601 "
            "time with offset (e.g. 2024-05-06T09:00:00+01:00), got '2024-05-06T09:00:00'",
            id="unquoted-yaml-time-without-offset",
        ),
        pytest.param(
            "forecasts: {intervals: [{queue: sales, interval_start: '2024-05-06T09:07:00+00:00',"
            " contacts: 4, aht_s: 100}]}",
            None,
            "{dir}/floor.yaml: forecasts.intervals[0].interval_start: expected the start of a "
            "15-minute interval of queue 'sales' in site 'default' (UTC), such as "
            "2024-05-06T09:00:00+00:00, got '2024-05-06T09:07:00+00:00'",
            id="not-an-interval-start",
        ),
        pytest.param(
            "forecasts: {intervals: [{queue: sales, interval_start: 1714986000,"
            " contacts: 4, aht_s: 100}]}",
            None,
            "{dir}/floor.yaml: forecasts.intervals[0].interval_start: expected a time from "
            "2000-01-01 to 9999-12-29, got 1714986000",
            id="seconds-for-milliseconds",
        ),
        pytest.param(
            "forecasts: {intervals: [{queue: sales, interval_start: 2024-05-06T09:00:00Z,"
            " contacts: 100000, aht_s: 3600}]}",
            None,
            "{dir}/floor.yaml: forecasts.intervals[0].contacts: expected at most 2000 erlangs with "
            "aht_s 3600 over 15 minutes (that is 400000), got 100000",
            id="too-much-traffic",
        ),
        pytest.param(
            "forecasts:\n  file: forecast.csv\n  intervals:\n"
            "    - {queue: sales, interval_start: 2024-05-06T09:00:00Z, contacts: 4, aht_s: 9}",
            HEADER + "sales,2024-05-06T10:00:00+01:00,100,180\n",
            "{dir}/floor.yaml: forecasts.intervals[0].interval_start: expected one forecast per "
            "queue and interval, {dir}/forecast.csv line 2 has queue 'sales' at this time "
            "too, got '2024-05-06T09:00:00+00:00'",
            id="inline-repeats-the-file",
        ),
        pytest.param(
            "forecasts: {file: nope.csv}",
            None,
            "{dir}/floor.yaml: forecasts.file: no such forecast file ({dir}/nope.csv), "
            "got 'nope.csv'",
            id="missing-file",
        ),
        pytest.param(
            IN_CSV,
            "",
            "{dir}/forecast.csv: line 1: expected a header: queue,interval_start,contacts,aht_s",
            id="empty-file",
        ),
        pytest.param(
            IN_CSV,
            "queue,start,contacts,aht_s\n",
            "{dir}/forecast.csv: line 1: expected a header naming the columns queue, "
            "interval_start, contacts, aht_s once each, got 'queue,start,contacts,aht_s'",
            id="wrong-header",
        ),
        pytest.param(
            IN_CSV,
            HEADER + "sales,2024-05-06T09:00:00Z,100,180\nsales,2024-05-06T09:15:00Z,-4,180\n",
            "{dir}/forecast.csv: line 3, contacts: expected a number >= 0, got -4.0",
            id="csv-negative-contacts",
        ),
        pytest.param(
            IN_CSV,
            HEADER + "sales,2024-05-06T09:00:00Z,lots,180\n",
            "{dir}/forecast.csv: line 2, contacts: expected a number >= 0, got 'lots'",
            id="csv-not-a-number",
        ),
        pytest.param(
            IN_CSV,
            HEADER + "sales,2024-05-06T09:00:00Z,nan,180\n",
            "{dir}/forecast.csv: line 2, contacts: expected a number >= 0, got 'nan'",
            id="csv-nan",
        ),
        pytest.param(
            IN_CSV,
            HEADER + ",2024-05-06T09:00:00Z,4,180\n",
            "{dir}/forecast.csv: line 2, queue: expected a non-empty string, got ''",
            id="csv-no-queue",
        ),
        pytest.param(
            IN_CSV,
            HEADER + "sales,2024-05-06T09:00:00Z,4\n",
            "{dir}/forecast.csv: line 2: expected 4 comma-separated values, "
            "got 'sales,2024-05-06T09:00:00Z,4'",
            id="csv-short-line",
        ),
        pytest.param(
            IN_CSV,
            HEADER + "sales,2024-05-06T09:00:00Z,4,180\n\nsales,2024-05-06T10:00:00+01:00,5,180\n",
            "{dir}/forecast.csv: line 4, interval_start: expected one forecast per queue and "
            "interval, {dir}/forecast.csv line 2 has queue 'sales' at this time too, "
            "got '2024-05-06T10:00:00+01:00'",
            id="csv-duplicate",
        ),
    ],
)
def test_a_wrong_forecast_names_the_file_the_place_and_the_value(
    tmp_path: Path, text: str, csv: str | None, message: str
) -> None:
    assert error_for(write(tmp_path, text, csv)) == message.format(dir=tmp_path)


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, IN_CSV)
    (tmp_path / "forecast.csv").write_bytes(HEADER.encode() + b"caf\xe9,2024-05-06T09:00:00Z,1,1\n")
    assert error_for(path) == (
        f"{path}: forecasts.file: expected a UTF-8 CSV file, byte 39 of "
        f"{tmp_path}/forecast.csv is not, got 'forecast.csv'"
    )


# --- the forecast in the floor state ----------------------------------------------------------


def test_the_loaded_forecast_reaches_the_floor_state_through_the_hub(tmp_path: Path) -> None:
    """A forecast of 8 contacts of 180 s in the 09:00 quarter; at 09:05, 4 queued (a third
    of the way in, 8/3 expected: +50 %), 1 handled in 240 s (AHT +33 %)."""
    config = load_config(
        write(tmp_path, IN_CSV, HEADER + "sales,2024-05-06T09:00:00Z,8,180\n"), env={}
    )
    floor = Floor(config.core)
    for i in range(4):
        queued = NINE + i * 60_000
        events = [("queued", queued, {})]
        if i == 0:
            events += [
                ("answered", queued + 10_000, {"agent_id": "a1"}),
                ("ended", queued + 190_000, {"agent_id": "a1"}),
                ("wrapped", queued + 250_000, {"agent_id": "a1"}),
            ]
        for kind, ts, extra in events:
            raw = {"event_id": f"c{i}{kind}", "type": f"contact.{kind}", "ts": ts}
            floor.ingest(orjson.dumps({**raw, "contact_id": f"c{i}", "queue": "sales", **extra}))
    now = NINE + 5 * 60_000
    hub = Hub(stale_s=5, forecast=config.forecast)
    view = floor.queue_view("sales", now)
    hub.apply("snapshots", "queue:sales", orjson.dumps({**view, "published_ms": now}))
    block = hub.state(now)["queues"][0]["staffing"]["forecast"]
    assert block["contacts_to_date"] == pytest.approx(8 / 3)
    assert block["actual_contacts"] == 4
    assert block["volume_deviation"] == pytest.approx(0.5)
    assert block["actual_aht_s"] == 240.0
    assert block["aht_deviation"] == pytest.approx(240 / 180 - 1)
    without = Hub(stale_s=5)
    without.apply("snapshots", "queue:sales", orjson.dumps({**view, "published_ms": now}))
    assert without.state(now)["queues"][0]["staffing"]["forecast"] is None
