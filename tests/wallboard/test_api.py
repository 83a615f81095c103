"""HTTP routes as plain function calls: query parsing, status codes, error bodies."""

from __future__ import annotations

from http import HTTPStatus

import orjson
import pytest

from streams.alert_commands import ACK, AlertCommand
from streams.wire import worker_key
from tests.wallboard.records import T0, encode, heartbeat
from wallboard.api import QueryError, Routes, interval_range, parse_instant, parse_query
from wallboard.hub import Hub
from wallboard.metrics import GatewayHealth, registry_for


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1714554000000", T0),
        ("0", 0),
        ("2024-05-01T09:00:00Z", T0),
        ("2024-05-01T09:00:00+00:00", T0),
        ("2024-05-01T11:00:00+02:00", T0),
        ("2024-05-01T04:00:00.250-05:00", T0 + 250),
    ],
)
def test_instant_is_epoch_ms_or_iso_8601_with_offset(text: str, expected: int) -> None:
    assert parse_instant("from", text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2024-05-01T09:00:00", "from: ISO-8601 time needs an offset (e.g. Z or +01:00), got"),
        ("yesterday", "from: expected epoch milliseconds or ISO-8601 with an offset, got"),
        ("", "from: expected epoch milliseconds or ISO-8601 with an offset, got ''"),
        ("1.5e12", "from: expected epoch milliseconds or ISO-8601"),
    ],
)
def test_unreadable_instant_is_a_query_error_naming_the_parameter(text: str, message: str) -> None:
    with pytest.raises(QueryError) as raised:
        parse_instant("from", text)
    assert str(raised.value).startswith(message)


def test_plus_in_a_query_value_is_the_offset_sign_not_a_space() -> None:
    assert parse_query("from=2024-05-01T11:00:00+02:00&queue=a%20b") == {
        "from": "2024-05-01T11:00:00+02:00",
        "queue": "a b",
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("queue=a&queue=b", "queue: given more than once"),
        ("form=1", "unknown parameter 'form'; expected queue, from, to"),
        ("from=2000&to=1000", "to: must not be before from ('1000' < '2000')"),
    ],
)
def test_bad_interval_query_says_what_is_wrong(query: str, message: str) -> None:
    with pytest.raises(QueryError) as raised:
        interval_range(query)
    assert str(raised.value) == message


def test_interval_query_without_parameters_is_everything() -> None:
    assert interval_range("") == (None, None, None)


def routes(hub: Hub, feed_problem: str | None = None) -> Routes:
    def clock() -> int:
        return T0

    health = GatewayHealth(websocket_clients=0, consuming=feed_problem is None)
    return Routes(
        hub,
        clock=clock,
        registry=registry_for(hub, clock, lambda: health),
        feed_problem=lambda: feed_problem,
        static={},
    )


@pytest.mark.parametrize(
    ("method", "path", "query", "status"),
    [
        ("GET", "/nope", "", HTTPStatus.NOT_FOUND),
        ("POST", "/api/state", "", HTTPStatus.METHOD_NOT_ALLOWED),
        ("GET", "/api/alerts/a-1/ack", "", HTTPStatus.METHOD_NOT_ALLOWED),
        ("POST", "/api/alerts/a-1/ack", "", HTTPStatus.NOT_IMPLEMENTED),
        ("GET", "/api/intervals", "from=soon", HTTPStatus.BAD_REQUEST),
        ("GET", "/api/intervals", "", HTTPStatus.OK),
    ],
)
def test_routes_answer_json_with_the_right_status(
    method: str, path: str, query: str, status: HTTPStatus
) -> None:
    reply = routes(Hub()).handle(method, path, query)
    assert reply.status == status
    assert reply.content_type == "application/json"
    body = orjson.loads(reply.body)
    assert ("error" in body) is (status != HTTPStatus.OK)


def test_healthz_names_the_feed_problem_first() -> None:
    hub = Hub(stale_s=5)
    hub.apply("snapshots", worker_key("w1"), encode(heartbeat("w1", T0)))
    reply = routes(hub, feed_problem="waiting for topics floor-alerts to be created").handle(
        "GET", "/healthz", ""
    )
    assert reply.status == HTTPStatus.SERVICE_UNAVAILABLE
    assert orjson.loads(reply.body)["reason"] == "waiting for topics floor-alerts to be created"


def test_healthz_is_ok_when_consuming_and_fresh() -> None:
    hub = Hub(stale_s=5)
    hub.apply("snapshots", worker_key("w1"), encode(heartbeat("w1", T0 - 1_000)))
    reply = routes(hub).handle("GET", "/healthz", "")
    assert reply.status == HTTPStatus.OK
    assert orjson.loads(reply.body) == {
        "status": "ok",
        "consuming": True,
        "last_update_ms": T0 - 1_000,
        "age_s": 1.0,
        "stale_s": 5.0,
    }


def alert_record(alert_id: str, state: str) -> bytes:
    return encode({"alert_id": alert_id, "state": state, "severity": "warning", "at_ms": T0})


def acking_routes(hub: Hub, sent: list[AlertCommand]) -> Routes:
    plain = routes(hub)
    return Routes(
        hub,
        clock=lambda: T0,
        registry=plain._registry,
        feed_problem=lambda: None,
        static={},
        send_command=sent.append,
    )


def test_acknowledging_a_firing_alert_sends_the_operators_command() -> None:
    hub = Hub()
    hub.apply("alerts", "sl:queue:billing", alert_record("sl:queue:billing", "firing"))
    sent: list[AlertCommand] = []

    reply = acking_routes(hub, sent).handle(
        "POST", "/api/alerts/sl%3Aqueue%3Abilling/ack", "by=Sam%20Lee&note=moving+two"
    )

    assert reply.status == HTTPStatus.ACCEPTED
    assert sent == [
        AlertCommand(ACK, "sl:queue:billing", by="Sam Lee", at_ms=T0, note="moving two")
    ]


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (None, HTTPStatus.NOT_FOUND),
        ("resolved", HTTPStatus.CONFLICT),
        ("pending", HTTPStatus.CONFLICT),
    ],
)
def test_only_a_firing_alert_can_be_acknowledged(state: str | None, status: HTTPStatus) -> None:
    hub = Hub()
    if state is not None:
        hub.apply("alerts", "a-1", alert_record("a-1", state))
    sent: list[AlertCommand] = []

    reply = acking_routes(hub, sent).handle("POST", "/api/alerts/a-1/ack", "")

    assert reply.status == status
    assert sent == []
