"""Colour bands: built-ins from each queue's settings, the thresholds file, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.errors import ConfigError
from streams.settings import QueueSettings
from wallboard.colours import (
    COLOURS_VARIABLE,
    Band,
    Colours,
    colour_of,
    load_colours,
    read_colours,
)

BILLING = QueueSettings(name="billing", threshold_s=30, target=0.9, risk_fraction=0.5)


def test_every_queue_is_coloured_from_its_own_target_and_threshold_without_a_file() -> None:
    bands = Colours().for_queue(BILLING)
    assert bands == {
        "service_level": Band(0.9, 0.8),  # amber below the target, red 10 points below
        "longest_wait_s": Band(15.0, 30.0),  # amber at the at-risk age, red at T
    }


@pytest.mark.parametrize(
    ("metric", "value", "band", "colour"),
    [
        ("service_level", 0.90, Band(0.9, 0.8), "green"),  # meeting the target is green
        ("service_level", 0.8999, Band(0.9, 0.8), "amber"),
        ("service_level", 0.80, Band(0.9, 0.8), "amber"),
        ("service_level", 0.7999, Band(0.9, 0.8), "red"),
        ("service_level", None, Band(0.9, 0.8), ""),  # no data is no colour
        ("waiting", 4, Band(5, 10), "green"),
        ("waiting", 5, Band(5, 10), "amber"),  # higher is worse: at the edge colours
        ("waiting", 10, Band(5, 10), "red"),
        ("abandon_rate", 0.3, Band(None, 0.25), "red"),
        ("abandon_rate", 0.2, Band(None, 0.25), "green"),
        ("longest_wait_s", 0.0, Band(15, 20), "green"),
    ],
)
def test_colour_of_a_figure(metric: str, value: float | None, band: Band, colour: str) -> None:
    assert colour_of(metric, value, band) == colour


def test_file_defaults_replace_built_ins_and_queue_entries_replace_defaults() -> None:
    colours = read_colours(
        {
            "defaults": {"service_level": {"amber": 0.8, "red": 0.7}, "waiting": {"red": 10}},
            "queues": {"billing": {"waiting": {"amber": 2, "red": 4}}},
            "agents": {"not_ready_s": {"amber": 300}, "reasons": {"training": {"red": 7200}}},
        },
        "colours.yaml",
    )
    billing = colours.for_queue(BILLING)
    assert billing["service_level"] == Band(0.8, 0.7)
    assert billing["waiting"] == Band(2, 4)
    assert billing["longest_wait_s"] == Band(15.0, 30.0)  # still the built-in
    sales = colours.for_queue(QueueSettings(name="sales"))
    assert sales["waiting"] == Band(None, 10)
    # groups take the defaults, never one queue's entries nor a built-in longest wait
    group = colours.for_group(QueueSettings(name="*"))
    assert group == {"service_level": Band(0.8, 0.7), "waiting": Band(None, 10)}
    agents = colours.agents_json()
    assert agents["states"]["not_ready_s"] == [300.0, None]
    assert agents["states"]["after_contact_work_s"] == [120, 300]  # built-in kept
    assert agents["reasons"]["training"] == [None, 7200.0]
    assert agents["reasons"]["lunch"] == [3600, 4200]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"defaults": {"service_level": {"amber": 0.7, "red": 0.8}}},
            "colours.yaml: defaults.service_level.red: expected at most amber (0.7): "
            "lower is worse, got 0.8",
        ),
        (
            {"queues": {"billing": {"waiting": {"amber": 5, "red": 2}}}},
            "colours.yaml: queues.billing.waiting.red: expected at least amber (5): "
            "higher is worse, got 2",
        ),
        (
            {"defaults": {"abandon_rate": {"red": 25}}},
            "colours.yaml: defaults.abandon_rate.red: expected a ratio from 0 to 1, got 25",
        ),
        (
            {"defaults": {"wating": {"red": 2}}},
            "colours.yaml: defaults.wating: unknown key; expected one of service_level, "
            "longest_wait_s, waiting, at_risk, abandon_rate, asa_s",
        ),
        (
            {"agents": {"not_ready_s": {"red": "15 min"}}},
            "colours.yaml: agents.not_ready_s.red: expected a number, got '15 min'",
        ),
        ({"defaults": ["waiting"]}, "colours.yaml: defaults: expected a mapping, got ['waiting']"),
    ],
)
def test_a_wrong_file_names_the_file_the_path_and_the_value(data: object, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        read_colours(data, "colours.yaml")
    assert str(error.value) == message


def test_the_file_is_named_by_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "colours.yaml"
    path.write_text("queues:\n  billing:\n    at_risk: {amber: 1, red: 3}\n")
    colours = load_colours({COLOURS_VARIABLE: str(path)})
    assert colours.source == str(path)
    assert colours.for_queue(BILLING)["at_risk"] == Band(1, 3)
    assert load_colours({}) == Colours()
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_colours({COLOURS_VARIABLE: str(tmp_path / "missing.yaml")})
    path.write_text("defaults: [\n")
    with pytest.raises(ConfigError, match=r"colours.yaml: expected YAML"):
        load_colours({COLOURS_VARIABLE: str(path)})
