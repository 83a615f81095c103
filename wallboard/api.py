"""Plain-HTTP routes of the gateway: the page, the REST API, /metrics and /healthz.

Routing works on (method, path, query) and returns a :class:`Reply`; the server turns it
into a websockets ``Response``. Nothing here touches a socket, so every route is testable
as a function call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, unquote

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from streams.alert_commands import ACK, AlertCommand
from streams.calendar import to_epoch_ms
from wallboard.hub import Hub

JSON_TYPE: Final = "application/json"
STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
PAGE_HEADERS: Final = (
    # the page loads only its own files and talks only to its own origin (ws included)
    (
        "Content-Security-Policy",
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    ("Referrer-Policy", "no-referrer"),
)
_ACK_PATH: Final = re.compile(r"/api/alerts/(?P<id>[^/]+)/ack")
_EPOCH_MS: Final = re.compile(r"-?\d{1,16}")


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, body, content type and any extra headers."""

    status: HTTPStatus
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()


def json_reply(status: HTTPStatus, value: Any) -> Reply:
    return Reply(status, orjson.dumps(value), JSON_TYPE)


def error_reply(status: HTTPStatus, message: str) -> Reply:
    return json_reply(status, {"error": message, "status": status.value})


class QueryError(ValueError):
    """A request parameter is wrong; the message says which and why."""


def parse_instant(name: str, text: str) -> int:
    """Epoch ms of a query value: integer epoch milliseconds, or ISO-8601 with an offset."""
    text = text.strip()
    if _EPOCH_MS.fullmatch(text):
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(
            f"{name}: expected epoch milliseconds or ISO-8601 with an offset, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        raise QueryError(f"{name}: ISO-8601 time needs an offset (e.g. Z or +01:00), got {text!r}")
    return to_epoch_ms(moment)


def parse_query(query: str) -> dict[str, str]:
    """Query parameters, each at most once.

    Values are percent-decoded but ``+`` stays a plus sign: it is the offset sign of
    ISO-8601 times far more often than a form-encoded space.
    """
    params: dict[str, str] = {}
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name = unquote(name)
        if name in params:
            raise QueryError(f"{name}: given more than once")
        params[name] = unquote(value)
    return params


def interval_range(query: str) -> tuple[str | None, int | None, int | None]:
    """``(queue, from_ms, to_ms)`` of an ``/api/intervals`` query."""
    params = parse_query(query)
    unknown = sorted(set(params) - {"queue", "from", "to"})
    if unknown:
        raise QueryError(f"unknown parameter {unknown[0]!r}; expected queue, from, to")
    queue = params.get("queue") or None
    from_ms = parse_instant("from", params["from"]) if "from" in params else None
    to_ms = parse_instant("to", params["to"]) if "to" in params else None
    if from_ms is not None and to_ms is not None and to_ms < from_ms:
        raise QueryError(f"to: must not be before from ({params['to']!r} < {params['from']!r})")
    return queue, from_ms, to_ms


def load_static(directory: Path = STATIC_DIR) -> dict[str, Reply]:
    """The page's files by URL path (``/`` for index.html, ``/static/<name>`` for the rest),
    read once: only files that exist at start-up are ever served."""
    files: dict[str, Reply] = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.suffix not in CONTENT_TYPES:
            continue
        url = "/" if path.name == "index.html" else f"/static/{path.name}"
        files[url] = Reply(
            HTTPStatus.OK, path.read_bytes(), CONTENT_TYPES[path.suffix], PAGE_HEADERS
        )
    return files


class Routes:
    """The gateway's HTTP routes over one hub."""

    def __init__(
        self,
        hub: Hub,
        *,
        clock: Callable[[], int],
        registry: CollectorRegistry,
        feed_problem: Callable[[], str | None],
        static: Mapping[str, Reply] | None = None,
        send_command: Callable[[AlertCommand], None] | None = None,
    ) -> None:
        """``feed_problem`` says why the gateway is not consuming its topics (None when it is);
        ``send_command`` hands an operator's command to the alert evaluator (it produces to
        the commands topic; None: acknowledging is not available)."""
        self._send_command = send_command
        self._hub = hub
        self._clock = clock
        self._registry = registry
        self._feed_problem = feed_problem
        self._static = load_static() if static is None else static
        self._get_routes: dict[str, Callable[[str], Reply]] = {
            "/api/state": self._state,
            "/api/intervals": self._intervals,
            "/api/alerts": self._alerts,
            "/metrics": self._metrics,
            "/healthz": self._healthz,
        }

    def handle(self, method: str, path: str, query: str) -> Reply:
        """The answer to ``method path?query`` (path and query as sent, not yet decoded)."""
        get_routes = self._get_routes
        page = self._static.get(path)
        if page is not None or path in get_routes:
            if method != "GET":
                return _not_allowed("GET")
            try:
                return page if page is not None else get_routes[path](query)
            except QueryError as exc:
                return error_reply(HTTPStatus.BAD_REQUEST, str(exc))
        ack = _ACK_PATH.fullmatch(path)
        if ack is not None:
            if method != "POST":
                return _not_allowed("POST")
            return self._acknowledge(unquote(ack["id"]), query)
        return error_reply(HTTPStatus.NOT_FOUND, f"no such path: {path}")

    def _state(self, query: str) -> Reply:
        return json_reply(HTTPStatus.OK, self._hub.state(self._clock()))

    def _intervals(self, query: str) -> Reply:
        queue, from_ms, to_ms = interval_range(query)
        records = self._hub.intervals(queue, from_ms, to_ms)
        return json_reply(HTTPStatus.OK, {"intervals": records})

    def _alerts(self, query: str) -> Reply:
        return json_reply(HTTPStatus.OK, {"alerts": self._hub.alerts()})

    def _acknowledge(self, alert_id: str, query: str) -> Reply:
        """``POST /api/alerts/{id}/ack?by=NAME&note=TEXT`` (the gateway's HTTP layer takes no
        request body, so the operator's name and note travel in the query string). 202: the
        command is on its way to the evaluator, whose change every screen then shows."""
        if self._send_command is None:
            return error_reply(
                HTTPStatus.NOT_IMPLEMENTED,
                f"cannot acknowledge alert {alert_id!r}: this gateway sends no commands",
            )
        params = parse_qs(query, keep_blank_values=True, max_num_fields=10)
        by = (params.get("by") or ["operator"])[-1].strip() or "operator"
        note = (params.get("note") or [""])[-1].strip() or None
        alert = next((a for a in self._hub.alerts() if a.get("alert_id") == alert_id), None)
        if alert is None:
            return error_reply(HTTPStatus.NOT_FOUND, f"no such alert: {alert_id!r}")
        if alert.get("state") not in ("firing", "acknowledged"):
            return error_reply(
                HTTPStatus.CONFLICT,
                f"alert {alert_id!r} is {alert.get('state')}: only a firing alert is acknowledged",
            )
        command = AlertCommand(ACK, alert_id, by=by, at_ms=self._clock(), note=note)
        self._send_command(command)
        return json_reply(
            HTTPStatus.ACCEPTED, {"alert_id": alert_id, "acknowledged_by": command.by}
        )

    def _metrics(self, query: str) -> Reply:
        return Reply(HTTPStatus.OK, generate_latest(self._registry), CONTENT_TYPE_LATEST)

    def _healthz(self, query: str) -> Reply:
        now_ms = self._clock()
        problem = self._feed_problem()
        fresh = self._hub.freshness(now_ms)
        body = {
            "status": "ok",
            "consuming": problem is None,
            "last_update_ms": fresh.last_update_ms,
            "age_s": None
            if fresh.last_update_ms is None
            else (now_ms - fresh.last_update_ms) / 1000,
            "stale_s": self._hub.stale_ms / 1000,
        }
        reason = problem if problem is not None else fresh.reason
        if reason is not None:
            return json_reply(
                HTTPStatus.SERVICE_UNAVAILABLE, {**body, "status": "unavailable", "reason": reason}
            )
        return json_reply(HTTPStatus.OK, body)


def _not_allowed(allowed: str) -> Reply:
    reply = error_reply(HTTPStatus.METHOD_NOT_ALLOWED, f"method not allowed; use {allowed}")
    return Reply(reply.status, reply.body, reply.content_type, (("Allow", allowed),))


__all__ = [
    "QueryError",
    "Reply",
    "Routes",
    "error_reply",
    "interval_range",
    "json_reply",
    "load_static",
    "parse_instant",
    "parse_query",
]
