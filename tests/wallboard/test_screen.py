"""The screen state: what a page is sent, whole and as patches, per filter (pure)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.settings import CoreSettings
from tests.factory import contact
from tests.wallboard.live import ScreenView
from tests.wallboard.records import MIN, SEC, T0, folded, morning, snapshot_records
from wallboard.colours import Colours
from wallboard.hub import SNAPSHOTS, Hub
from wallboard.screen import ScreenStates, ViewFilter

NOW = T0 + 29 * MIN + 30 * SEC


def hub_with(records: dict[str, dict[str, Any]]) -> Hub:
    hub = Hub(stale_s=5)
    for key, value in records.items():
        hub.apply(SNAPSHOTS, key, orjson.dumps(value))
    return hub


@pytest.fixture
def records() -> dict[str, dict[str, Any]]:
    return snapshot_records(folded(morning()), NOW, NOW)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ViewFilter()),
        ("site=lon&queues=a,b&team=red", ViewFilter(
            frozenset({"lon"}), frozenset({"a", "b"}), frozenset({"red"}))),
        ("queues=a&queues=b,,&tv=1&token=x", ViewFilter(queues=frozenset({"a", "b"}))),
        # commas separate names; an encoded comma belongs to the name (the page encodes each)
        ("team=Team%20A%2C%20B,C", ViewFilter(teams=frozenset({"Team A, B", "C"}))),
        ("queues=%3Cimg%3E", ViewFilter(queues=frozenset({"<img>"}))),
    ],
)  # fmt: skip
def test_filter_of_a_query(query: str, expected: ViewFilter) -> None:
    assert ViewFilter.from_query(query) == expected


def test_patches_applied_in_order_rebuild_the_whole_state(
    records: dict[str, dict[str, Any]],
) -> None:
    hub = hub_with(records)
    states = ScreenStates(hub, CoreSettings(), Colours())
    view = ScreenView()
    first = states.edition(ViewFilter(), 1, NOW)
    view.apply(orjson.loads(first.full_message(states.meta(NOW))))
    previous = first
    changes = [
        ("queue:billing", {**records["queue:billing"], "waiting": 3}),
        ("agent:bob", {**records["agent:bob"], "state": "not_ready", "reason": "lunch"}),
        ("agent:cat", None),  # tombstone: the row goes
        ("queue:sales", None),
    ]
    for seq, (key, value) in enumerate(changes, start=2):
        hub.apply(SNAPSHOTS, key, None if value is None else orjson.dumps(value))
        edition = states.edition(ViewFilter(), seq, NOW)
        patch = orjson.loads(edition.patch_message(previous, states.meta(NOW)))
        view.apply(patch)
        whole = ScreenView()
        whole.apply(orjson.loads(edition.full_message(states.meta(NOW))))
        assert view.sections == whole.sections
        previous = edition
    assert view.kinds == ["state", "patch", "patch", "patch", "patch"]
    assert sorted(view.section("queues")) == ["billing"]
    assert sorted(view.section("agents")) == ["ann", "bob"]
    assert view.section("staff")["floor"]["not_ready_by_reason"] == {"lunch": 1}
    # the last patch: sales went, so the roll-ups changed; nothing else travelled
    assert patch["del"] == {"queues": ["sales"]}
    assert "agents" not in patch["set"]


def test_an_unchanged_floor_gives_an_empty_patch(records: dict[str, dict[str, Any]]) -> None:
    hub = hub_with(records)
    states = ScreenStates(hub, CoreSettings(), Colours())
    one = states.edition(ViewFilter(), 1, NOW)
    two = states.edition(ViewFilter(), 2, NOW)
    patch = orjson.loads(two.patch_message(one, states.meta(NOW)))
    assert patch["set"] == {}
    assert patch["del"] == {}
    assert (patch["seq"], patch["base"]) == (2, 1)


def test_roll_ups_of_a_filtered_view_add_counts_never_average_ratios() -> None:
    # a busy queue at 50 % and a quiet one at 100 %: together 11 of 20 within 20 s, not 75 %
    events = []
    for n in range(18):
        queued = T0 + n * 10 * SEC
        wait = 5 if n % 2 else 60
        events += contact(f"b{n}", "busy", queued, answered_ms=queued + wait * SEC)
    for n in range(2):
        queued = T0 + n * 10 * SEC
        events += contact(f"q{n}", "quiet", queued, answered_ms=queued + 2 * SEC)
    events += contact("x", "other", T0, answered_ms=T0 + 90 * SEC)
    hub = hub_with(snapshot_records(folded(events), T0 + 5 * MIN, T0 + 5 * MIN))
    states = ScreenStates(hub, CoreSettings(), Colours())
    state = states.state(ViewFilter(queues=frozenset({"busy", "quiet"})), T0 + 5 * MIN)
    assert sorted(state["queues"]) == ["busy", "quiet"]
    assert state["queues"]["busy"]["windows"]["day"]["service_level"] == 0.5
    assert state["queues"]["quiet"]["windows"]["day"]["service_level"] == 1.0
    floor = state["groups"]["floor"]
    assert floor["queues"] == 2
    assert floor["windows"]["day"]["answered"] == 20
    assert floor["windows"]["day"]["service_level"] == 0.55
    # the whole floor counts the third queue too
    whole = states.state(ViewFilter(), T0 + 5 * MIN)["groups"]["floor"]
    assert whole["windows"]["day"]["service_level"] == round(11 / 21, 4)


def test_queue_items_carry_their_resolved_colour_bands(
    records: dict[str, dict[str, Any]],
) -> None:
    from wallboard.colours import read_colours

    colours = read_colours({"queues": {"sales": {"waiting": {"red": 3}}}}, "c.yaml")
    states = ScreenStates(hub_with(records), CoreSettings(), colours)
    queues = states.state(ViewFilter(), NOW)["queues"]
    assert queues["sales"]["colours"] == {
        "longest_wait_s": [15.0, 20.0],
        "service_level": [0.8, 0.7],
        "waiting": [None, 3.0],
    }
    assert "waiting" not in queues["billing"]["colours"]
