"""``floorwatch erlang``: the real command, run as a process, on the worked example of issue 7.

100 contacts per 30 min, AHT 180 s, 80 % answered within 20 s (A = 10 erlangs): 14 agents,
P(wait) 0.1741, SL 0.8884, ASA 7.84 s; 20 with 30 % shrinkage; with a 70 % occupancy cap 15
(22 with shrinkage), SL 0.941. Erlang A with 300 s patience and 14 agents: P(abandon) 0.0140,
SL 0.917.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

WORKED_EXAMPLE = [
    "--contacts",
    "100",
    "--interval-s",
    "1800",
    "--aht-s",
    "180",
    "--threshold-s",
    "20",
    "--target",
    "0.8",
]
KEYS = [
    "traffic_erlangs",
    "agents",
    "agents_fractional",
    "agents_with_shrinkage",
    "service_level",
    "probability_wait",
    "asa_s",
    "occupancy",
    "stable",
]


def floorwatch_erlang(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOORWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "floorwatch", "erlang", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def answer(*args: str) -> dict[str, Any]:
    """The one JSON object the command prints (and nothing else on stdout)."""
    done = floorwatch_erlang(*args)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    result: dict[str, Any] = json.loads(line)
    return result


def test_worked_example_needs_fourteen_agents_and_twenty_with_shrinkage() -> None:
    result = answer(*WORKED_EXAMPLE, "--shrinkage", "0.3")

    assert list(result) == KEYS
    assert result["traffic_erlangs"] == 10.0
    assert result["agents"] == 14
    assert 13 < result["agents_fractional"] <= 14
    assert result["agents_with_shrinkage"] == 20
    assert round(result["service_level"], 4) == 0.8884
    assert round(result["probability_wait"], 4) == 0.1741
    assert round(result["asa_s"], 2) == 7.84
    assert result["occupancy"] == pytest.approx(10 / 14)
    assert result["stable"] is True


def test_occupancy_cap_raises_the_requirement_to_fifteen() -> None:
    result = answer(*WORKED_EXAMPLE, "--shrinkage", "0.3", "--max-occupancy", "0.70")

    assert (result["agents"], result["agents_with_shrinkage"]) == (15, 22)
    assert round(result["service_level"], 3) == 0.941
    assert result["agents_fractional"] == pytest.approx(14.3)


@pytest.mark.parametrize(
    ("agents", "service_level"), [("11", 0.3896), ("12", 0.6402), ("13", 0.7956), ("14", 0.8884)]
)
def test_given_agents_are_evaluated_as_they_are(agents: str, service_level: float) -> None:
    result = answer(*WORKED_EXAMPLE, "--agents", agents)

    assert result["agents"] == int(agents)
    assert result["agents_fractional"] == float(agents)
    assert round(result["service_level"], 4) == service_level


def test_as_many_agents_as_erlangs_is_reported_unstable() -> None:
    result = answer(*WORKED_EXAMPLE, "--agents", "10")

    assert result["stable"] is False
    assert result["asa_s"] is None
    assert (result["service_level"], result["probability_wait"]) == (0.0, 1.0)


def test_patience_switches_to_erlang_a_and_reports_abandons() -> None:
    result = answer(*WORKED_EXAMPLE, "--agents", "14", "--patience-s", "300")

    assert list(result) == [*KEYS, "probability_abandon"]
    assert round(result["probability_abandon"], 4) == 0.0140
    assert round(result["service_level"], 3) == 0.917
    assert result["stable"] is True


def test_patience_lowers_the_requirement() -> None:
    result = answer(*WORKED_EXAMPLE, "--patience-s", "300", "--shrinkage", "0.3")

    assert result["agents"] == 13  # against 14 by Erlang C
    assert result["agents_with_shrinkage"] == 19  # ceil(13 / 0.7)
    assert result["service_level"] >= 0.8


def _replace(option: str, value: str | None) -> list[str]:
    """The worked example with ``option`` set to ``value`` (or left out when None)."""
    args = list(WORKED_EXAMPLE)
    if option in args:
        i = args.index(option)
        del args[i : i + 2]
    return args if value is None else [*args, option, value]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--target", None),
        ("--aht-s", None),
        ("--target", "80"),
        ("--target", "1"),
        ("--aht-s", "0"),
        ("--interval-s", "nan"),
        ("--contacts", "-5"),
        ("--contacts", "many"),
        ("--threshold-s", "-1"),
        ("--shrinkage", "1"),
        ("--max-occupancy", "0"),
        ("--max-occupancy", "1.5"),
        ("--agents", "-3"),
        ("--agents", "2.5"),
        ("--patience-s", "0"),
    ],
)
def test_bad_argument_exits_2_naming_the_option(option: str, value: str | None) -> None:
    done = floorwatch_erlang(*_replace(option, value))

    assert done.returncode == 2
    assert done.stdout == ""
    assert option in done.stderr
    if value is not None:
        assert f"got {value!r}" in done.stderr


def test_help_lists_every_option() -> None:
    done = floorwatch_erlang("--help")

    assert done.returncode == 0
    for option in (
        "--contacts",
        "--interval-s",
        "--aht-s",
        "--threshold-s",
        "--target",
        "--agents",
        "--shrinkage",
        "--max-occupancy",
        "--patience-s",
    ):
        assert option in done.stdout
