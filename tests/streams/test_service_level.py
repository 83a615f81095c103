"""Service-level definitions: the worked example of DESIGN.md section 3 and their edges."""

from __future__ import annotations

import pytest

from streams.calendar import SiteCalendar
from streams.queues import QueueState
from streams.service_level import service_levels
from streams.settings import SL_DEFINITIONS, QueueSettings
from tests.factory import at, contact

# DESIGN.md section 3, T = 20 s, S = 5 s, no flow-outs.
ANSWERED_WAITS = (3, 8, 12, 15, 19, 25, 40, 70)
ABANDONED_WAITS = (2, 4, 10, 30)
EXPECTED = {
    "answered_of_offered": 0.500,
    "answered_only": 0.625,
    "abandons_positive": 0.600,
    "ignore_early_abandons": 5 / 9,  # 55.6 %
}


def fold_waits(
    answered: tuple[int, ...],
    abandoned: tuple[int, ...],
    flowed: tuple[int, ...] = (),
    **settings: object,
) -> QueueState:
    queue = QueueState(QueueSettings(name="sales", **settings), SiteCalendar())  # type: ignore[arg-type]
    start = at("2024-05-01T10:00:00")
    n = 0
    for kind, waits in (("answered", answered), ("abandoned", abandoned), ("flowed", flowed)):
        for wait in waits:
            n += 1
            moment = start + wait * 1000
            for ev in contact(f"c{n}", "sales", start, **{f"{kind}_ms": moment}):
                assert queue.fold(ev) == "accepted"
    return queue


@pytest.mark.parametrize(("definition", "expected"), sorted(EXPECTED.items()))
def test_worked_example_of_the_design_gives_the_published_service_level(
    definition: str, expected: float
) -> None:
    queue = fold_waits(ANSWERED_WAITS, ABANDONED_WAITS)
    (record,) = queue.records()
    assert record["service_level"][definition] == pytest.approx(expected)
    assert round(record["service_level"][definition] * 100, 1) == round(expected * 100, 1)


def test_worked_example_counts_short_abandons_on_their_own() -> None:
    (record,) = fold_waits(ANSWERED_WAITS, ABANDONED_WAITS).records()
    assert record["offered"] == 10  # 12 queued, 2 short abandons excluded
    assert record["answered"] == 8
    assert record["answered_within_threshold"] == 5
    assert record["abandoned"] == 2
    assert record["short_abandoned"] == 2
    assert record["abandoned_within_threshold"] == 1
    assert record["abandon_rate"] == pytest.approx(2 / 10)
    assert record["asa_s"] == pytest.approx(sum(ANSWERED_WAITS) / 8)
    assert record["wait_answered_s_max"] == 70.0


@pytest.mark.parametrize("definition", SL_DEFINITIONS)
def test_empty_denominator_is_no_data_not_zero_or_one(definition: str) -> None:
    levels = service_levels(
        [definition],
        answered=0,
        answered_within_threshold=0,
        abandoned=0,
        abandoned_within_threshold=0,
        flowed_out=0,
        include_flowouts=False,
    )
    assert levels == {definition: None}


def test_queue_with_only_short_abandons_has_no_service_level() -> None:
    (record,) = fold_waits((), (1, 2, 5)).records()
    assert record["short_abandoned"] == 3
    assert record["offered"] == 0
    assert all(value is None for value in record["service_level"].values())
    assert record["abandon_rate"] is None


def test_answer_exactly_at_threshold_counts_towards_service_level() -> None:
    (record,) = fold_waits((20,), ()).records()
    assert record["answered_within_threshold"] == 1


def test_answer_after_threshold_does_not_count_towards_service_level() -> None:
    (record,) = fold_waits((21,), ()).records()
    assert record["answered_within_threshold"] == 0
    assert record["service_level"]["answered_of_offered"] == 0.0


def test_abandon_exactly_at_short_threshold_is_a_short_abandon() -> None:
    (record,) = fold_waits((), (5, 6)).records()
    assert (record["short_abandoned"], record["abandoned"]) == (1, 1)


def test_zero_short_abandon_threshold_counts_every_abandon() -> None:
    (record,) = fold_waits((3,), (0, 1, 2), short_abandon_s=0).records()
    assert (record["short_abandoned"], record["abandoned"], record["offered"]) == (0, 3, 4)
    assert record["service_level"]["answered_of_offered"] == pytest.approx(1 / 4)


@pytest.mark.parametrize(
    ("include_flowouts", "expected"),
    [
        (False, {"answered_of_offered": 2 / 3, "abandons_positive": 2 / 3}),
        (True, {"answered_of_offered": 2 / 5, "abandons_positive": 2 / 5}),
    ],
)
def test_flow_outs_enter_the_denominator_only_when_configured(
    include_flowouts: bool, expected: dict[str, float]
) -> None:
    queue = fold_waits((5, 10), (30,), (40, 50), include_flowouts=include_flowouts)
    (record,) = queue.records()
    assert record["flowed_out"] == 2
    for definition, value in expected.items():
        assert record["service_level"][definition] == pytest.approx(value)
    assert record["service_level"]["answered_only"] == 1.0


def test_queue_computes_only_its_configured_definitions_in_order() -> None:
    queue = fold_waits((5,), (), definitions=("answered_only", "answered_of_offered"))
    (record,) = queue.records()
    assert list(record["service_level"]) == ["answered_only", "answered_of_offered"]
