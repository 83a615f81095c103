"""Service-level definitions (DESIGN.md section 3), as functions of additive counts.

Notation: ``T`` threshold, ``S`` short-abandon threshold. The counts are those of an interval
record, where short abandons (wait ≤ S, when S > 0) are already taken out:

- ``answered`` = Ans, ``answered_within_threshold`` = Ans≤T
- ``abandoned`` = Ab − Ab≤S, ``abandoned_within_threshold`` = Ab≤T − Ab≤S
- ``flowed_out`` = Flow

so every formula below is the one of the design table, written in those counts:

================================  =====================================================
``answered_of_offered``           Ans≤T / (Ans + (Ab − Ab≤S) [+ Flow])
``answered_only``                 Ans≤T / Ans
``abandons_positive``             (Ans≤T + (Ab≤T − Ab≤S)) / (Ans + (Ab − Ab≤S) [+ Flow])
``ignore_early_abandons``         Ans≤T / (Ans + (Ab − Ab≤T) [+ Flow])
================================  =====================================================

An empty denominator is "no data": ``None``, never 0 or 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from streams.settings import SL_DEFINITIONS

Ratio = float | None
Parts = tuple[int, int]
"""(numerator, denominator) of a service level, so groups can be weighted exactly."""
_Formula = Callable[[int, int, int, int, int, bool], Parts]


def answered_of_offered(
    answered: int, answered_in: int, abandoned: int, abandoned_in: int, flowed: int, flows: bool
) -> Parts:
    return answered_in, answered + abandoned + (flowed if flows else 0)


def answered_only(
    answered: int, answered_in: int, abandoned: int, abandoned_in: int, flowed: int, flows: bool
) -> Parts:
    return answered_in, answered


def abandons_positive(
    answered: int, answered_in: int, abandoned: int, abandoned_in: int, flowed: int, flows: bool
) -> Parts:
    return answered_in + abandoned_in, answered + abandoned + (flowed if flows else 0)


def ignore_early_abandons(
    answered: int, answered_in: int, abandoned: int, abandoned_in: int, flowed: int, flows: bool
) -> Parts:
    return answered_in, answered + abandoned - abandoned_in + (flowed if flows else 0)


FORMULAS: dict[str, _Formula] = {
    "answered_of_offered": answered_of_offered,
    "answered_only": answered_only,
    "abandons_positive": abandons_positive,
    "ignore_early_abandons": ignore_early_abandons,
}
assert tuple(FORMULAS) == SL_DEFINITIONS


def ratio_of(parts: Parts) -> Ratio:
    """The service level of (numerator, denominator): ``None`` for an empty denominator."""
    numerator, denominator = parts
    return numerator / denominator if denominator > 0 else None


def service_level_parts(
    definitions: Iterable[str],
    *,
    answered: int,
    answered_within_threshold: int,
    abandoned: int,
    abandoned_within_threshold: int,
    flowed_out: int,
    include_flowouts: bool,
) -> dict[str, Parts]:
    """(numerator, denominator) under each definition id, in the order given."""
    return {
        name: FORMULAS[name](
            answered,
            answered_within_threshold,
            abandoned,
            abandoned_within_threshold,
            flowed_out,
            include_flowouts,
        )
        for name in definitions
    }


def service_levels(
    definitions: Iterable[str],
    *,
    answered: int,
    answered_within_threshold: int,
    abandoned: int,
    abandoned_within_threshold: int,
    flowed_out: int,
    include_flowouts: bool,
) -> dict[str, Ratio]:
    """Service level under each definition id, in the order given."""
    parts = service_level_parts(
        definitions,
        answered=answered,
        answered_within_threshold=answered_within_threshold,
        abandoned=abandoned,
        abandoned_within_threshold=abandoned_within_threshold,
        flowed_out=flowed_out,
        include_flowouts=include_flowouts,
    )
    return {name: ratio_of(value) for name, value in parts.items()}
