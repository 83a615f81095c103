"""The wallboard gateway: one port serving the page, the websocket feed, the REST API,
/metrics and /healthz, around a pure :class:`wallboard.hub.Hub` fed from Kafka.

Pushing to screens: whenever the hub changed, at most every ``worker.snapshot_ms``, the
state is encoded once and offered to every screen. Each screen has one slot holding the
latest message and its own sending task, so a slow screen skips to the newest state instead
of building a backlog, and never delays the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable
from http import HTTPStatus
from types import TracebackType
from typing import Final, Self
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as serve_websockets
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from config.settings import FloorwatchConfig
from wallboard.api import Reply, Routes, error_reply
from wallboard.feed import Feed
from wallboard.hub import Hub
from wallboard.metrics import GatewayHealth, registry_for

log = logging.getLogger(__name__)

WS_PATH: Final = "/ws"
MAX_STALE_CHECK_S: Final = 1.0
"""The broadcaster looks at the clock at least this often, to announce data going stale."""
BROKER_MISSING: Final = (
    "floorwatch gateway: no broker configured; set FLOORWATCH_BROKER=kafka://host:port "
    "(or 'broker:' in the configuration file)"
)


def wall_clock_ms() -> int:
    """Epoch milliseconds now: the clock the workers stamp ``published_ms`` with."""
    return time.time_ns() // 1_000_000


class Screen:
    """One websocket client: at most one message waiting, sent by the screen's own task."""

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection
        self._latest: bytes | None = None
        self._waiting = asyncio.Event()

    def offer(self, message: bytes) -> None:
        """Make ``message`` the next one to send, replacing any the screen has not taken."""
        self._latest = message
        self._waiting.set()

    async def send_forever(self) -> None:
        """Send the latest offered message whenever there is one, until the connection ends."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self._waiting.wait()
                self._waiting.clear()
                message, self._latest = self._latest, None
                if message is not None:
                    await self.connection.send(message, text=True)


class Gateway:
    """The running gateway: Kafka feed, hub, HTTP + websocket server and broadcaster.

    Use as ``async with Gateway(config, host=…, port=…) as gateway:``; ``port`` 0 binds a
    free port, readable afterwards as ``gateway.port``.
    """

    def __init__(
        self,
        config: FloorwatchConfig,
        *,
        host: str,
        port: int,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        if config.broker is None:
            raise ValueError(BROKER_MISSING)
        self.config = config
        self.host = host
        self.port = port
        self._clock = clock
        self._push_every_s = config.worker.snapshot_ms / 1000
        self._allowed_origins = frozenset(config.gateway.allowed_origins)
        self.hub = Hub(config.gateway.stale_s)
        self._changed = asyncio.Event()
        self.feed = Feed(
            config.broker,
            config.topics,
            self.hub,
            self._changed.set,
            fetch_wait_ms=config.worker.fetch_wait_ms,
        )
        self.screens: set[Screen] = set()
        self.routes = Routes(
            self.hub,
            clock=clock,
            registry=registry_for(self.hub, clock, self._health),
            feed_problem=lambda: self.feed.problem,
        )
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def start(self) -> None:
        self._server = await serve_websockets(
            self._handle_screen,
            self.host,
            self.port,
            process_request=self._process_request,
            # screens send nothing of substance; states are pushed often, and compressing
            # each one once per screen costs more CPU than the bandwidth it saves on a LAN
            compression=None,
            max_size=2**16,
            close_timeout=2,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._tasks = [
            asyncio.create_task(self.feed.run(), name="gateway-feed"),
            asyncio.create_task(self._broadcast(), name="gateway-broadcast"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _health(self) -> GatewayHealth:
        return GatewayHealth(
            websocket_clients=len(self.screens), consuming=self.feed.problem is None
        )

    # -- plain HTTP ---------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path == WS_PATH:
            if request.method != "GET":
                return _response(error_reply(HTTPStatus.METHOD_NOT_ALLOWED, "use GET"))
            origin = request.headers.get("Origin")
            # a browser always sends Origin, and only browsers carry a victim's ambient
            # credentials, so a request without one (a script) is not cross-site
            if self._allowed_origins and origin is not None and origin not in self._allowed_origins:
                log.warning("refused websocket from origin %r", origin)
                return _response(error_reply(HTTPStatus.FORBIDDEN, f"origin not allowed: {origin}"))
            return None  # the websocket handshake goes on (426 if it is not an upgrade)
        return _response(self.routes.handle(request.method, url.path, url.query))

    # -- websocket screens --------------------------------------------------------------------

    async def _handle_screen(self, connection: ServerConnection) -> None:
        screen = Screen(connection)
        screen.offer(self.hub.message(self._clock()))
        self.screens.add(screen)
        sender = asyncio.create_task(screen.send_forever())
        try:
            # screens have nothing to say yet; reading keeps the connection's control
            # frames flowing and ends when the screen goes away
            async for _ in connection:
                pass
        except ConnectionClosed:
            pass
        finally:
            self.screens.discard(screen)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def _broadcast(self) -> None:
        """Offer the state to every screen when it changed, at most every ``snapshot_ms``."""
        sent: tuple[int, bool] | None = None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self._until_stale_check())
            self._changed.clear()
            now_ms = self._clock()
            current = (self.hub.version, self.hub.freshness(now_ms).stale)
            if current == sent or not self.screens:
                continue
            message = self.hub.message(now_ms)
            for screen in self.screens:
                screen.offer(message)
            sent = current
            # the cadence limit: changes arriving meanwhile are coalesced into the next push
            await asyncio.sleep(self._push_every_s)

    def _until_stale_check(self) -> float:
        """Seconds until fresh state would turn stale without news (capped). Stale state
        turns fresh only with news, which wakes the broadcaster anyway."""
        now_ms = self._clock()
        fresh = self.hub.freshness(now_ms)
        if fresh.stale or fresh.last_update_ms is None:
            return MAX_STALE_CHECK_S
        flips_in_s = (fresh.last_update_ms + self.hub.stale_ms - now_ms) / 1000 + 0.01
        return min(MAX_STALE_CHECK_S, max(0.01, flips_in_s))


def _response(reply: Reply) -> Response:
    headers = Headers(
        [
            ("Content-Type", reply.content_type),
            ("Content-Length", str(len(reply.body))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("Connection", "close"),
            *reply.headers,
        ]
    )
    return Response(reply.status.value, reply.status.phrase, headers, reply.body)


async def serve(
    config: FloorwatchConfig, *, host: str, port: int, stop: asyncio.Event | None = None
) -> None:
    """Run a gateway until ``stop`` is set (or the task is cancelled); prints
    ``floorwatch gateway: http://HOST:PORT/`` on stdout once it is serving."""
    stop = stop or asyncio.Event()
    async with Gateway(config, host=host, port=port) as gateway:
        print(f"floorwatch gateway: {gateway.url}", flush=True)
        await stop.wait()


def _configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    # websockets logs each plain HTTP answer as a refused handshake: noise for a gateway
    logging.getLogger("websockets.server").setLevel(logging.WARNING)


def run(config: FloorwatchConfig, *, host: str, port: int) -> int:
    """Run a gateway until SIGINT or SIGTERM; the exit status of ``floorwatch gateway``."""
    if config.broker is None:
        print(BROKER_MISSING, file=sys.stderr)
        return 2
    _configure_logging()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(config, host=host, port=port, stop=stop)

    try:
        asyncio.run(main())
    except OSError as exc:
        print(f"floorwatch gateway: cannot serve on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    return 0


__all__ = ["Gateway", "Screen", "run", "serve", "wall_clock_ms"]
