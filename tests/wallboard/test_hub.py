"""The pure hub: latest value per key, tombstones, roll-ups, interval queries, freshness."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from streams.wire import agent_key, queue_key, worker_key
from tests.wallboard.records import (
    MIN,
    SEC,
    T0,
    encode,
    folded,
    heartbeat,
    interval_records,
    morning,
    snapshot_records,
)
from wallboard.hub import Hub

NOW = T0 + 29 * MIN + 30 * SEC
"""Half a minute before the end of the 09:15 interval: every window has data."""


def hub_with(records: dict[str, dict[str, Any]], topic: str = "snapshots", **kwargs: Any) -> Hub:
    hub = Hub(**kwargs)
    for key, value in records.items():
        hub.apply(topic, key, encode(value))  # type: ignore[arg-type]
    return hub


def morning_hub() -> tuple[Hub, dict[str, Any]]:
    """A hub fed the published records of :func:`morning`, and the floor the core computes."""
    floor = folded(morning())
    hub = hub_with(snapshot_records(floor, NOW, NOW))
    return hub, floor.snapshot(NOW)


def queue_record(name: str, **windows: dict[str, int]) -> dict[str, Any]:
    """A minimal queue view whose windows carry the given counts (others zero)."""
    zero = {
        "offered": 0,
        "answered": 0,
        "answered_within_threshold": 0,
        "abandoned": 0,
        "short_abandoned": 0,
        "abandoned_within_threshold": 0,
        "flowed_out": 0,
        "wait_answered_s_sum": 0.0,
        "wait_answered_s_max": 0.0,
        "handled": 0,
        "talk_s_sum": 0.0,
        "hold_s_sum": 0.0,
        "acw_s_sum": 0.0,
        "consult_s_sum": 0.0,
    }
    return {
        "queue": name,
        "site": "default",
        "client": None,
        "threshold_s": 20.0,
        "target": 0.8,
        "definitions": ["answered_of_offered"],
        "include_flowouts": False,
        "waiting": 0,
        "at_risk": 0,
        "oldest_queued_ms": None,
        "handling_agents": {},
        "published_ms": NOW,
        "windows": {label: {**zero, **counts} for label, counts in windows.items()},
    }


# -- snapshots and the floor view ---------------------------------------------------------------


def test_hub_rebuilds_the_floor_the_core_computes_from_published_views() -> None:
    hub, expected = morning_hub()
    state = hub.state(NOW)
    assert state["groups"] == expected["groups"]
    assert state["agents_by_state"] == expected["agents_by_state"]
    assert [q["queue"] for q in state["queues"]] == ["billing", "sales"]
    assert [q["agents"] for q in state["queues"]] == [q["agents"] for q in expected["queues"]]
    assert [a["agent_id"] for a in state["agents"]] == ["ann", "bob", "cat"]


def test_floor_service_level_sums_counts_instead_of_averaging_queue_ratios() -> None:
    # a: 1 of 1 answered within threshold (100 %); b: 1 of 9 (11 %): floor 2 of 10, not 56 %
    hub = hub_with(
        {
            queue_key("a"): queue_record(
                "a", interval={"offered": 1, "answered": 1, "answered_within_threshold": 1}
            ),
            queue_key("b"): queue_record(
                "b", interval={"offered": 9, "answered": 9, "answered_within_threshold": 1}
            ),
        }
    )
    floor = hub.state(NOW)["groups"]["floor"]["interval"]
    assert floor["service_level"] == {"answered_of_offered": pytest.approx(0.2)}
    assert floor["offered"] == 10


def test_latest_value_of_a_key_wins() -> None:
    hub = Hub()
    for waiting in (3, 7, 2):
        record = queue_record("a", interval={})
        record["waiting"] = waiting
        hub.apply("snapshots", queue_key("a"), encode(record))
    assert [q["waiting"] for q in hub.state(NOW)["queues"]] == [2]


def test_tombstone_removes_a_queue_from_the_state_and_the_rollups() -> None:
    hub, _ = morning_hub()
    hub.apply("snapshots", queue_key("sales"), None)
    state = hub.state(NOW)
    assert [q["queue"] for q in state["queues"]] == ["billing"]
    assert state["groups"]["floor"]["day"]["offered"] == 6  # billing alone


def test_tombstone_of_an_agent_updates_the_queue_agent_counts() -> None:
    hub, _ = morning_hub()
    before = {q["queue"]: q["agents"]["staffed"] for q in hub.state(NOW)["queues"]}
    hub.apply("snapshots", agent_key("bob"), None)
    after = {q["queue"]: q["agents"]["staffed"] for q in hub.state(NOW)["queues"]}
    assert before == {"billing": 1, "sales": 1}  # cat is on break: logged in, not staffed
    assert after == {"billing": 1, "sales": 0}


def test_building_the_state_leaves_the_held_records_untouched() -> None:
    floor = folded(morning())
    records = snapshot_records(floor, NOW, NOW)
    hub = hub_with(copy.deepcopy(records))
    hub.state(NOW)
    hub.apply("snapshots", worker_key("w1"), encode(heartbeat("w1", NOW)))  # forces a rebuild
    state = hub.state(NOW)
    published = [{k: v for k, v in q.items() if k != "agents"} for q in state["queues"]]
    assert published == [records[queue_key("billing")], records[queue_key("sales")]]


def test_version_increases_with_every_message_and_only_then() -> None:
    hub = Hub()
    versions = [hub.version]
    hub.apply("snapshots", worker_key("w1"), encode(heartbeat("w1", NOW)))
    versions.append(hub.version)
    hub.apply("intervals", "a|0", None)
    versions.append(hub.version)
    hub.state(NOW)
    hub.intervals()
    versions.append(hub.version)
    assert versions == [0, 1, 2, 2]


def test_queues_reported_with_different_windows_roll_up_over_the_common_ones() -> None:
    hub = hub_with(
        {
            queue_key("a"): queue_record("a", interval={"offered": 1}, day={"offered": 1}),
            queue_key("b"): queue_record("b", day={"offered": 2}),
        }
    )
    floor = hub.state(NOW)["groups"]["floor"]
    assert list(floor) == ["day"]
    assert floor["day"]["offered"] == 3


def test_message_is_the_whole_state_as_json() -> None:
    hub, _ = morning_hub()
    message = orjson.loads(hub.message(NOW))
    assert message["type"] == "state"
    assert message["state"] == orjson.loads(orjson.dumps(hub.state(NOW)))


# -- malformed input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        (queue_key("a"), b"{not json", "bad_json"),
        (queue_key("a"), b"[1, 2]", "not_an_object"),
        (queue_key("a"), b'{"queue": "a"}', "bad_queue"),
        (queue_key("a"), b'{"queue": "a", "windows": {"day": {"offered": 1}}}', "bad_queue"),
        (agent_key("x"), b'{"state": "available"}', "bad_agent"),
        ("team:red", b"{}", "unknown_key"),
    ],
)
def test_malformed_snapshot_is_counted_and_keeps_the_previous_value(
    key: str, value: bytes, reason: str
) -> None:
    hub = hub_with({queue_key("a"): queue_record("a", interval={"offered": 4})})
    hub.state(NOW)
    hub.apply("snapshots", key, value)
    state = hub.state(NOW)
    assert hub.rejected == {("snapshots", reason): 1}
    assert state["groups"]["floor"]["interval"]["offered"] == 4


def test_message_without_a_key_is_counted() -> None:
    hub = Hub()
    hub.apply("alerts", None, b"{}")
    assert hub.rejected == {("alerts", "no_key"): 1}
    assert hub.alerts() == []


def test_unknown_topic_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown topic kind 'queues'"):
        Hub().apply("queues", "a", None)  # type: ignore[arg-type]


# -- freshness ----------------------------------------------------------------------------------


def test_state_is_stale_before_any_snapshot() -> None:
    state = Hub(stale_s=5).state(NOW)
    assert state["stale"] is True
    assert state["last_update_ms"] is None
    assert state["stale_reason"] == "no snapshot or worker heartbeat received yet"
    assert state["queues"] == []
    assert state["agents_by_state"]["floor"]["logged_in"] == 0


@pytest.mark.parametrize(
    ("age_ms", "stale"),
    [(0, False), (4_999, False), (5_000, False), (5_001, True), (60_000, True)],
)
def test_state_goes_stale_when_the_newest_publication_is_older_than_stale_s(
    age_ms: int, stale: bool
) -> None:
    hub = hub_with({worker_key("w1"): heartbeat("w1", NOW - age_ms)}, stale_s=5)
    freshness = hub.freshness(NOW)
    assert freshness.stale is stale
    assert freshness.last_update_ms == NOW - age_ms
    assert (freshness.reason is not None) is stale


def test_freshness_follows_the_newest_of_snapshots_and_heartbeats() -> None:
    hub = hub_with(
        {
            worker_key("w1"): heartbeat("w1", NOW - 20_000),
            queue_key("a"): {**queue_record("a", interval={}), "published_ms": NOW - 1_000},
        },
        stale_s=5,
    )
    assert hub.freshness(NOW).last_update_ms == NOW - 1_000
    assert hub.freshness(NOW + 6_001).reason == (
        "no snapshot or worker heartbeat for 7.0 s (stale after 5 s)"
    )


def test_each_worker_is_listed_with_its_own_staleness() -> None:
    hub = hub_with(
        {
            worker_key("w2"): heartbeat("w2", NOW - 9_000, partitions=[1]),
            worker_key("w1"): heartbeat("w1", NOW - 1_000, partitions=[0]),
        },
        stale_s=5,
    )
    workers = hub.state(NOW)["workers"]
    assert [(w["worker"], w["partitions"], w["stale"]) for w in workers] == [
        ("w1", [0], False),
        ("w2", [1], True),
    ]
    assert hub.state(NOW)["stale"] is False


# -- intervals ----------------------------------------------------------------------------------


def interval_hub() -> Hub:
    """billing 09:00 and 09:15, sales 09:00 (UTC)."""
    return hub_with(interval_records(folded(morning())), topic="intervals")


@pytest.mark.parametrize(
    ("queue", "from_ms", "to_ms", "expected"),
    [
        (None, None, None, [("billing", 0), ("billing", 15), ("sales", 0)]),
        ("billing", None, None, [("billing", 0), ("billing", 15)]),
        ("sales", T0 + 15 * MIN, None, []),
        (None, T0 + 15 * MIN, None, [("billing", 15)]),
        (None, T0 + 15 * MIN - 1, None, [("billing", 0), ("billing", 15), ("sales", 0)]),
        (None, None, T0 + 15 * MIN, [("billing", 0), ("sales", 0)]),
        (None, None, T0 + 15 * MIN + 1, [("billing", 0), ("billing", 15), ("sales", 0)]),
        (None, T0 + 5 * MIN, T0 + 6 * MIN, [("billing", 0), ("sales", 0)]),
        ("nobody", None, None, []),
    ],
)
def test_interval_query_returns_records_overlapping_the_half_open_range(
    queue: str | None, from_ms: int | None, to_ms: int | None, expected: list[tuple[str, int]]
) -> None:
    found = interval_hub().intervals(queue, from_ms, to_ms)
    starts = {0: "2024-05-01T09:00:00+00:00", 15: "2024-05-01T09:15:00+00:00"}
    assert [(r["queue"], r["interval_start"]) for r in found] == [
        (name, starts[minute]) for name, minute in expected
    ]


def test_interval_times_with_an_offset_are_compared_as_instants() -> None:
    record = {
        "queue": "paris",
        "interval_start": "2024-05-01T11:00:00+02:00",  # 09:00 UTC
        "interval_end": "2024-05-01T11:15:00+02:00",
    }
    hub = hub_with({f"paris|{T0}": record}, topic="intervals")
    assert hub.intervals(from_ms=T0 + 14 * MIN) == [record]
    assert hub.intervals(from_ms=T0 + 15 * MIN) == []


def test_corrected_interval_record_replaces_the_earlier_one_and_tombstone_deletes() -> None:
    hub = interval_hub()
    key = f"sales|{T0}"
    corrected = {**hub.intervals("sales")[0], "answered": 3, "final": True}
    hub.apply("intervals", key, encode(corrected))
    assert hub.intervals("sales") == [corrected]
    hub.apply("intervals", key, None)
    assert hub.intervals("sales") == []


@pytest.mark.parametrize(
    "record",
    [
        {"queue": "a", "interval_start": "2024-05-01T09:00:00", "interval_end": "x"},
        {"queue": "a", "interval_start": 1714554000000, "interval_end": 1714554900000},
        {"interval_start": "2024-05-01T09:00:00Z", "interval_end": "2024-05-01T09:15:00Z"},
    ],
    ids=["no-offset", "epoch-numbers", "no-queue"],
)
def test_interval_record_without_usable_times_is_counted_not_kept(record: dict[str, Any]) -> None:
    hub = hub_with({"a|1714554000000": record}, topic="intervals")
    assert hub.intervals() == []
    assert hub.rejected == {("intervals", "bad_interval"): 1}


# -- alerts -------------------------------------------------------------------------------------


def test_alerts_pass_through_latest_per_id_sorted_and_tombstones_delete() -> None:
    hub = Hub()
    hub.apply("alerts", "b-2", encode({"id": "b-2", "state": "firing"}))
    hub.apply("alerts", "a-1", encode({"id": "a-1", "state": "firing"}))
    hub.apply("alerts", "a-1", encode({"id": "a-1", "state": "acknowledged"}))
    assert hub.alerts() == [
        {"id": "a-1", "state": "acknowledged"},
        {"id": "b-2", "state": "firing"},
    ]
    hub.apply("alerts", "b-2", None)
    assert hub.state(NOW)["alerts"] == [{"id": "a-1", "state": "acknowledged"}]
