"""``floorwatch erlang``: the staffing what-if calculator of DESIGN.md section 6.

The arithmetic is :mod:`streams.erlang`; this module only reads the arguments and prints one
JSON object. It needs no configuration and no broker.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from typing import Any

from streams.erlang import evaluate, required_agents, traffic_erlangs, with_shrinkage

SUMMARY = "Staffing calculator: agents needed for a service-level target, as one JSON object."
DETAILS = (
    "Erlang C, or Erlang A (customers abandon) with --patience-s. Prints traffic_erlangs, "
    "agents (the smallest number on the phones meeting the target and the occupancy cap), "
    "agents_fractional (interpolated between agents-1 and agents), agents_with_shrinkage "
    "(ceil(agents / (1 - shrinkage))), service_level, probability_wait, asa_s, occupancy and "
    "stable, plus probability_abandon with --patience-s. With --agents it evaluates that "
    "number instead (agents_fractional is then that number). Traffic at or above the agents "
    "is reported with stable false (exit code 0); wrong arguments exit 2."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``floorwatch erlang``."""
    parser.add_argument(
        "--contacts",
        type=_number(">= 0"),
        required=True,
        metavar="N",
        help="contacts offered in the interval",
    )
    parser.add_argument(
        "--interval-s",
        type=_number("> 0"),
        required=True,
        metavar="S",
        help="interval length in seconds (1800 for 30 minutes)",
    )
    parser.add_argument(
        "--aht-s",
        type=_number("> 0"),
        required=True,
        metavar="A",
        help="average handle time in seconds",
    )
    parser.add_argument(
        "--threshold-s",
        type=_number(">= 0"),
        required=True,
        metavar="T",
        help="service-level threshold in seconds (answered within T)",
    )
    parser.add_argument(
        "--target",
        type=_number("ratio"),
        required=True,
        metavar="F",
        help="service-level target as a ratio between 0 and 1 (0.8 for 80%%)",
    )
    parser.add_argument(
        "--agents",
        type=_count,
        metavar="N",
        help="evaluate this number of agents instead of finding the requirement",
    )
    parser.add_argument(
        "--shrinkage",
        type=_number("shrinkage"),
        default=0.0,
        metavar="F",
        help="share of paid time off the phones, 0 to <1 (default 0)",
    )
    parser.add_argument(
        "--max-occupancy",
        type=_number("occupancy"),
        metavar="F",
        help="highest acceptable occupancy, a ratio above 0 up to 1 (default: no cap)",
    )
    parser.add_argument(
        "--patience-s",
        type=_number("> 0"),
        metavar="P",
        help="mean customer patience in seconds: use Erlang A and add probability_abandon",
    )


def run(args: argparse.Namespace) -> int:
    """Print the JSON object; 2 with a message on stderr if the model refuses the input."""
    try:
        result = calculate(
            contacts=args.contacts,
            interval_s=args.interval_s,
            aht_s=args.aht_s,
            threshold_s=args.threshold_s,
            target=args.target,
            agents=args.agents,
            shrinkage=args.shrinkage,
            max_occupancy=args.max_occupancy,
            patience_s=args.patience_s,
        )
    except ValueError as error:
        print(f"floorwatch erlang: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


def calculate(
    *,
    contacts: float,
    interval_s: float,
    aht_s: float,
    threshold_s: float,
    target: float,
    agents: int | None = None,
    shrinkage: float = 0.0,
    max_occupancy: float | None = None,
    patience_s: float | None = None,
) -> dict[str, Any]:
    """The command's JSON object, keys in the order of DESIGN.md section 6."""
    traffic = traffic_erlangs(contacts, interval_s, aht_s)
    if agents is None:
        need = required_agents(
            traffic,
            aht_s=aht_s,
            threshold_s=threshold_s,
            target=target,
            max_occupancy=max_occupancy,
            shrinkage=shrinkage,
            patience_s=patience_s,
        )
        staffing = need.staffing
        fractional = need.agents_fractional
        scheduled = need.agents_with_shrinkage
    else:
        staffing = evaluate(
            traffic, agents, aht_s=aht_s, threshold_s=threshold_s, patience_s=patience_s
        )
        fractional = float(agents)
        scheduled = with_shrinkage(agents, shrinkage)
    result: dict[str, Any] = {
        "traffic_erlangs": traffic,
        "agents": staffing.agents,
        "agents_fractional": fractional,
        "agents_with_shrinkage": scheduled,
        "service_level": staffing.service_level,
        "probability_wait": staffing.probability_wait,
        "asa_s": staffing.asa_s,
        "occupancy": staffing.occupancy,
        "stable": staffing.stable,
    }
    if patience_s is not None:
        result["probability_abandon"] = staffing.probability_abandon
    return result


_RANGES: dict[str, tuple[Callable[[float], bool], str]] = {
    ">= 0": (lambda v: v >= 0, "a number >= 0"),
    "> 0": (lambda v: v > 0, "a number > 0"),
    "ratio": (lambda v: 0 < v < 1, "a ratio between 0 and 1 such as 0.8"),
    "shrinkage": (lambda v: 0 <= v < 1, "a ratio from 0 to below 1 such as 0.3"),
    "occupancy": (lambda v: 0 < v <= 1, "a ratio above 0 up to 1 such as 0.85"),
}


def _number(kind: str) -> Callable[[str], float]:
    accepts, expected = _RANGES[kind]

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not math.isfinite(value) or not accepts(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)
