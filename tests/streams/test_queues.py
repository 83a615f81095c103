"""Queue folding: interval attribution, lateness, orphans, live figures, handle time."""

from __future__ import annotations

from typing import Any

from streams.calendar import SiteCalendar
from streams.events import Rejection
from streams.queues import ACCEPTED, DUPLICATE, QueueState
from streams.settings import ProcessingSettings, QueueSettings
from tests.factory import at, contact, event


def new_queue(interval_min: int = 30, tz: str = "UTC", **processing: Any) -> QueueState:
    return QueueState(
        QueueSettings(name="billing", interval_min=interval_min),
        SiteCalendar(tz),
        ProcessingSettings(**processing),
    )


def fold_all(queue: QueueState, events: list[Any]) -> list[object]:
    return [queue.fold(e) for e in events]


def by_start(queue: QueueState) -> dict[str, dict[str, Any]]:
    return {r["interval_start"][11:16]: r for r in queue.records()}


def test_answered_at_1025_wrapped_1045_counts_answered_in_1000_and_handled_in_1030() -> None:
    queue = new_queue(30)
    fold_all(
        queue,
        contact(
            "c1",
            "billing",
            at("2024-05-01T10:24:50"),
            answered_ms=at("2024-05-01T10:25:00"),
            ended_ms=at("2024-05-01T10:41:00"),
            wrapped_ms=at("2024-05-01T10:45:00"),
        ),
    )
    records = by_start(queue)
    assert set(records) == {"10:00", "10:30"}
    assert (records["10:00"]["offered"], records["10:00"]["answered"]) == (1, 1)
    assert records["10:00"]["handled"] == 0
    assert (records["10:30"]["answered"], records["10:30"]["handled"]) == (0, 1)
    assert records["10:30"]["talk_s_sum"] == 16 * 60
    assert records["10:30"]["acw_s_sum"] == 4 * 60


def test_contact_arriving_0855_completing_0905_is_offered_in_0830_and_handled_in_0900() -> None:
    queue = new_queue(30)
    fold_all(
        queue,
        contact(
            "c1",
            "billing",
            at("2024-05-01T08:55:00"),
            answered_ms=at("2024-05-01T08:56:00"),
            ended_ms=at("2024-05-01T09:03:00"),
            wrapped_ms=at("2024-05-01T09:05:00"),
        ),
    )
    records = by_start(queue)
    assert records["08:30"]["offered"] == 1
    assert records["08:30"]["answered"] == 1
    assert records["08:30"]["wait_answered_s_sum"] == 60.0
    assert records["09:00"]["offered"] == 0
    assert records["09:00"]["handled"] == 1
    assert records["09:00"]["aht_s"] == 9 * 60


def test_wait_and_service_level_go_to_the_interval_the_contact_left_the_queue() -> None:
    queue = new_queue(15)
    fold_all(
        queue,
        contact("c1", "billing", at("2024-05-01T09:14:50"), answered_ms=at("2024-05-01T09:15:20")),
    )
    records = by_start(queue)
    assert (records["09:00"]["offered"], records["09:00"]["answered"]) == (1, 0)
    assert (records["09:15"]["offered"], records["09:15"]["answered"]) == (0, 1)
    assert records["09:15"]["answered_within_threshold"] == 0  # waited 30 s > 20 s
    assert records["09:15"]["service_level"]["answered_only"] == 0.0


def test_handle_time_splits_talk_hold_and_acw_and_reports_consult_beside_it() -> None:
    queue = new_queue(60)
    t = at("2024-05-01T11:00:00")
    fold_all(
        queue,
        contact(
            "c1",
            "billing",
            t,
            answered_ms=t + 10_000,
            holds=((t + 70_000, t + 100_000), (t + 200_000, t + 215_000)),
            consults=((t + 120_000, t + 180_000),),
            ended_ms=t + 310_000,
            wrapped_ms=t + 370_000,
        ),
    )
    (record,) = queue.records()
    assert record["hold_s_sum"] == 45.0
    assert record["talk_s_sum"] == 300.0 - 45.0
    assert record["acw_s_sum"] == 60.0
    assert record["consult_s_sum"] == 60.0
    assert record["aht_s"] == 360.0


def test_hold_without_resume_lasts_until_the_contact_ends() -> None:
    queue = new_queue(60)
    t = at("2024-05-01T11:00:00")
    events = contact(
        "c1", "billing", t, answered_ms=t, ended_ms=t + 100_000, wrapped_ms=t + 100_000
    )
    events.append(event("contact.held", t + 60_000, contact_id="c1", queue="billing", agent_id="a"))
    fold_all(queue, events)
    (record,) = queue.records()
    assert (record["talk_s_sum"], record["hold_s_sum"]) == (60.0, 40.0)


def test_duplicate_event_is_dropped_and_counted() -> None:
    queue = new_queue()
    events = contact(
        "c1", "billing", at("2024-05-01T10:00:00"), answered_ms=at("2024-05-01T10:00:05")
    )
    assert fold_all(queue, events + events) == [ACCEPTED] * len(events) + [DUPLICATE] * len(events)
    (record,) = queue.records()
    assert (record["offered"], record["answered"]) == (1, 1)
    assert queue.counts[DUPLICATE] == len(events)


def test_answer_before_its_queued_event_gives_the_same_record_as_in_order() -> None:
    t = at("2024-05-01T10:00:00")
    events = contact("c1", "billing", t, answered_ms=t + 12_000)
    in_order, reversed_order = new_queue(), new_queue()
    fold_all(in_order, events)
    fold_all(reversed_order, list(reversed(events)))
    assert in_order.records() == reversed_order.records()
    assert reversed_order.records()[0]["wait_answered_s_sum"] == 12.0


def test_earliest_outcome_wins_when_a_contact_is_both_abandoned_and_answered() -> None:
    t = at("2024-05-01T10:00:00")
    events = contact("c1", "billing", t, answered_ms=t + 40_000, abandoned_ms=t + 30_000)
    forward, backward = new_queue(), new_queue()
    fold_all(forward, events)
    fold_all(backward, list(reversed(events)))
    for queue in (forward, backward):
        (record,) = queue.records()
        assert (record["abandoned"], record["answered"]) == (1, 0)


def test_late_event_inside_the_horizon_updates_the_past_interval_and_marks_it_changed() -> None:
    queue = new_queue(15)
    t = at("2024-05-01T10:00:00")
    fold_all(queue, contact("c1", "billing", t, answered_ms=t + 5_000))
    fold_all(queue, contact("c2", "billing", t + 40 * 60_000, answered_ms=t + 40 * 60_000 + 1))
    first = queue.drain_records()
    assert [r["interval_start"][11:16] for r in first] == ["10:00", "10:30"]
    assert queue.drain_records() == []
    late = contact("c3", "billing", t + 60_000, abandoned_ms=t + 90_000)
    assert fold_all(queue, late) == [ACCEPTED, ACCEPTED]
    (changed,) = queue.drain_records()
    assert changed["interval_start"][11:16] == "10:00"
    assert (changed["abandoned"], changed["final"]) == (1, False)


def test_event_older_than_the_horizon_is_rejected_as_too_late() -> None:
    queue = new_queue(15, lateness_horizon_s=600)
    t = at("2024-05-01T10:00:00")
    fold_all(queue, contact("c1", "billing", t + 3_600_000, answered_ms=t + 3_600_000))
    outcome = queue.fold(event("contact.queued", t, contact_id="c2", queue="billing"))
    assert isinstance(outcome, Rejection) and outcome.reason == "too_late"
    assert queue.counts["too_late"] == 1
    assert sum(r["offered"] for r in queue.records()) == 1


def test_event_whose_change_would_reach_a_final_interval_is_rejected_too() -> None:
    queue = new_queue(15, lateness_horizon_s=600)
    t = at("2024-05-01T10:00:00")
    queue.fold(event("contact.queued", t, contact_id="c1", queue="billing"))
    fold_all(queue, contact("c2", "billing", t + 20 * 60_000, answered_ms=t + 20 * 60_000))
    # the abandon itself is recent, but a short abandon would take "offered" out of 10:00
    outcome = queue.fold(event("contact.abandoned", t + 3_000, contact_id="c1", queue="billing"))
    assert isinstance(outcome, Rejection) and outcome.reason == "too_late"
    assert by_start(queue)["10:00"]["offered"] == 1
    # and it did not leave a trace: the same contact still waits
    assert queue.live(t + 20 * 60_000)["waiting"] == 1


def test_interval_becomes_final_once_past_the_horizon_and_is_sent_once_more() -> None:
    queue = new_queue(15, lateness_horizon_s=600)
    t = at("2024-05-01T10:00:00")
    fold_all(queue, contact("c1", "billing", t, answered_ms=t + 1_000))
    assert [r["final"] for r in queue.drain_records()] == [False]
    queue.fold(event("contact.queued", t + 25 * 60_000, contact_id="c2", queue="billing"))
    drained = {r["interval_start"][11:16]: r["final"] for r in queue.drain_records()}
    assert drained == {"10:00": True, "10:15": False}
    assert all(r["interval_start"][11:16] != "10:00" for r in queue.drain_records())


def test_contact_without_outcome_for_four_hours_is_closed_as_orphaned_flow_out() -> None:
    queue = new_queue(60)
    t = at("2024-05-01T08:00:00")
    queue.fold(event("contact.queued", t, contact_id="lost", queue="billing"))
    assert queue.live(t + 60_000)["waiting"] == 1
    queue.fold(event("contact.queued", t + 4 * 3_600_000, contact_id="later", queue="billing"))
    records = by_start(queue)
    assert records["12:00"]["flowed_out"] == 1
    assert records["08:00"]["offered"] == 1
    assert queue.counts["orphaned"] == 1
    assert queue.live(t + 4 * 3_600_000)["waiting"] == 1  # only "later"


def test_real_outcome_after_an_orphan_replaces_it() -> None:
    queue = new_queue(60, max_open_contact_s=600)
    t = at("2024-05-01T08:00:00")
    queue.fold(event("contact.queued", t, contact_id="slow", queue="billing"))
    queue.fold(event("contact.queued", t + 700_000, contact_id="other", queue="billing"))
    assert by_start(queue)["08:00"]["flowed_out"] == 1
    queue.fold(
        event("contact.answered", t + 650_000, contact_id="slow", queue="billing", agent_id="a")
    )
    record = by_start(queue)["08:00"]
    assert (record["flowed_out"], record["answered"]) == (0, 1)


def test_live_figures_count_waiting_longest_wait_and_at_risk() -> None:
    queue = new_queue()
    t = at("2024-05-01T10:00:00")
    for i, offset in enumerate((0, 5_000, 14_000, 30_000)):
        queue.fold(event("contact.queued", t + offset, contact_id=f"w{i}", queue="billing"))
    queue.fold(
        event("contact.answered", t + 31_000, contact_id="w0", queue="billing", agent_id="a")
    )
    live = queue.live(t + 31_000)
    assert live["waiting"] == 3
    assert live["longest_wait_s"] == 26.0
    # at risk: waiting at least 0.75 x 20 s = 15 s
    assert live["at_risk"] == 2
    assert queue.handling() == {"a": "w0"}


def test_transfer_ends_talk_and_the_leg_completes_with_its_own_wrap() -> None:
    queue = new_queue(60)
    t = at("2024-05-01T10:00:00")
    events = contact(
        "c1", "billing", t, answered_ms=t + 1_000, ended_ms=t + 200_000, wrapped_ms=t + 230_000
    )
    events.append(
        event(
            "contact.transferred",
            t + 121_000,
            contact_id="c1",
            queue="billing",
            agent_id="agent-1",
            to_queue="sales",
        )
    )
    fold_all(queue, events)
    (record,) = queue.records()
    assert record["talk_s_sum"] == 120.0
    assert record["acw_s_sum"] == 109.0


def test_expire_forgets_completed_contacts_but_keeps_the_day() -> None:
    queue = new_queue(15, lateness_horizon_s=600)
    t = at("2024-05-01T09:00:00")
    for i in range(50):
        start = t + i * 60_000
        fold_all(
            queue,
            contact(
                f"c{i}",
                "billing",
                start,
                answered_ms=start + 2_000,
                ended_ms=start + 30_000,
                wrapped_ms=start + 40_000,
            ),
        )
    now = t + 50 * 60_000 + 3_600_000
    queue.advance_watermark(now)
    queue.drain_records()
    queue.expire(now)
    assert queue.legs == {}
    assert queue.day(now).handled == 50
    assert len(queue.minutes) <= 90
