"""The wallboard gateway: one port serving the page, the websocket feed, the REST API,
/metrics and /healthz, around a pure :class:`wallboard.hub.Hub` fed from Kafka.

Two kinds of websocket client, told apart by the subprotocol they ask for:

- screens (the page, ``Sec-WebSocket-Protocol: floorwatch.screen.v1``) get the screen state
  of their filter (:mod:`wallboard.screen`): whole on connect, then patches;
- anything else (scripts) gets the whole REST state, ``{"type": "state", "state": …}`` as
  ``/api/state`` answers it, on connect and on every push.

Pushing: when the hub changed (once a burst of news has landed, about one fetch later) and
at most every 0.8 × ``worker.snapshot_ms`` (so a worker's round is pushed as it lands, and
several workers' rounds are coalesced), each message is built and encoded once (one
edition per filter in use; one REST state for all scripts) and written to its clients with
websockets' ``broadcast()``: a patch to the screens holding the previous edition, the
whole state to any other. A client whose connection still has more
than :data:`WRITE_BACKLOG_LIMIT` bytes unsent is skipped: it keeps what it has and gets the
whole, latest state once it has taken in what is queued. So a slow or stalled client holds
at most one message's worth of memory, never delays the others, and is disconnected once it
has been backed up for :data:`DROP_STALLED_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Final, Self
from urllib.parse import urlsplit

from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError  # type: ignore[import-untyped]
from websockets.asyncio.server import Server, ServerConnection, broadcast
from websockets.asyncio.server import serve as serve_websockets
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from config.settings import FloorwatchConfig
from floorwatch.kafka import bootstrap_of
from streams.alert_commands import AlertCommand
from streams.errors import ConfigError
from wallboard.access import Role, Tokens, presented_token, without_token
from wallboard.api import Reply, Routes, error_reply
from wallboard.colours import Colours, load_colours
from wallboard.feed import Feed
from wallboard.hub import Hub
from wallboard.metrics import GatewayHealth, registry_for
from wallboard.screen import Edition, ScreenStates, ViewFilter

log = logging.getLogger(__name__)

WS_PATH: Final = "/ws"
SCREEN_PROTOCOL: Final = Subprotocol("floorwatch.screen.v1")
MAX_STALE_CHECK_S: Final = 1.0
"""The broadcaster looks at the clock at least this often, to announce data going stale and
to catch up screens that were skipped while slow."""
STOP_TIMEOUT_S: Final = 5.0
COMMANDS_RETRY_S: Final = 1.0
"""Pause between attempts to start the alert commands producer while the broker is down."""
PUSH_SHARE_OF_CADENCE: Final = 0.8
"""Pushes are at most this share of ``worker.snapshot_ms`` apart."""
WRITE_BACKLOG_LIMIT: Final = 64 * 1024
"""A screen with more unsent bytes than this is skipped until it has taken them in."""
DROP_STALLED_S: Final = 30.0
"""A client kept further behind than that limit for this long is disconnected (a page
reconnects by itself and gets the whole state)."""
BROKER_MISSING: Final = (
    "floorwatch gateway: no broker configured; set FLOORWATCH_BROKER=kafka://host:port "
    "(or 'broker:' in the configuration file)"
)


def wall_clock_ms() -> int:
    """Epoch milliseconds now: the clock the workers stamp ``published_ms`` with."""
    return time.time_ns() // 1_000_000


class Screen:
    """One websocket client and the edition it holds."""

    def __init__(self, connection: ServerConnection, view_filter: ViewFilter) -> None:
        self.connection = connection
        self.view_filter = view_filter
        self.seq: int | None = None
        """The edition the screen was last sent (None: nothing yet)."""

        self.backed_up_since: float | None = None
        """When the screen last started being too backed up to be sent anything."""

    def backlog(self) -> int:
        """Bytes written to the connection and not yet taken by the network."""
        transport = self.connection.transport
        return 0 if transport is None else transport.get_write_buffer_size()

    def ready(self, now: float, drop_after_s: float) -> bool:
        """Whether the screen can be sent a message now: not more than
        :data:`WRITE_BACKLOG_LIMIT` bytes behind. A screen that has been further behind for
        longer than ``drop_after_s`` is disconnected: the websocket keepalive cannot do it,
        because its ping waits for the backlog to drain first."""
        if self.backlog() <= WRITE_BACKLOG_LIMIT:
            self.backed_up_since = None
            return True
        if self.backed_up_since is None:
            self.backed_up_since = now
        elif (
            now - self.backed_up_since > drop_after_s and not self.connection.transport.is_closing()
        ):
            log.warning(
                "dropping screen %s: %d bytes unsent for %.0f s",
                self.connection.remote_address,
                self.backlog(),
                now - self.backed_up_since,
            )
            self.connection.transport.abort()
        return False


@dataclass
class Audience:
    """The screens showing one filter, and the edition they were last sent."""

    view_filter: ViewFilter
    screens: set[Screen] = field(default_factory=set)
    edition: Edition | None = None


@dataclass
class PushCounters:
    """What the broadcaster did, for /metrics and the fan-out benchmark."""

    pushes: int = 0
    """Rounds in which the state was offered to the screens."""
    full: int = 0
    """Whole-state messages sent (on connect and to screens that missed an edition)."""
    patches: int = 0
    skipped: int = 0
    """Times a screen was passed over because its connection was backed up."""


class Gateway:
    """The running gateway: Kafka feed, hub, HTTP + websocket server and broadcaster.

    Use as ``async with Gateway(config, host=…, port=…) as gateway:``; ``port`` 0 binds a
    free port, readable afterwards as ``gateway.port``. ``tokens`` and ``colours`` default
    to none and the built-in bands (:func:`run` reads both from the environment).
    """

    def __init__(
        self,
        config: FloorwatchConfig,
        *,
        host: str,
        port: int,
        clock: Callable[[], int] = wall_clock_ms,
        tokens: Tokens | None = None,
        colours: Colours | None = None,
        drop_stalled_s: float = DROP_STALLED_S,
    ) -> None:
        if config.broker is None:
            raise ValueError(BROKER_MISSING)
        self.config = config
        self.host = host
        self.port = port
        self._clock = clock
        # a little under the workers' cadence: a worker's round every snapshot_ms is then
        # pushed as it lands, instead of when a timer drifting against it says (which adds
        # anything up to a whole cadence); several workers still coalesce into one push
        self._push_every_s = PUSH_SHARE_OF_CADENCE * config.worker.snapshot_ms / 1000
        # about one fetch: what a burst takes to arrive from every partition
        self._settle_s = min(self._push_every_s / 5, max(0.005, config.worker.fetch_wait_ms / 1000))
        self._allowed_origins = frozenset(config.gateway.allowed_origins)
        self._drop_stalled_s = drop_stalled_s
        self.tokens = tokens or Tokens()
        self.hub = Hub(config.gateway.stale_s, forecast=config.forecast)
        self.screen_states = ScreenStates(self.hub, config.core, colours or Colours())
        self._changed = asyncio.Event()
        self.feed = Feed(
            config.broker,
            config.topics,
            self.hub,
            self._changed.set,
            fetch_wait_ms=config.worker.fetch_wait_ms,
        )
        self.audiences: dict[ViewFilter, Audience] = {}
        self.scripts: set[Screen] = set()
        """Clients without the screen subprotocol: the whole REST state every time."""
        self.counters = PushCounters()
        self._seq = 0
        self.routes = Routes(
            self.hub,
            clock=clock,
            registry=registry_for(self.hub, clock, self._health),
            feed_problem=lambda: self.feed.problem,
            send_command=self._send_command,
        )
        self._commands: AIOKafkaProducer | None = None
        self._commands_starting: asyncio.Task[AIOKafkaProducer] | None = None
        self._command_tasks: set[asyncio.Task[None]] = set()
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def screens(self) -> list[Screen]:
        """Every websocket client, screens and scripts."""
        found = [screen for audience in self.audiences.values() for screen in audience.screens]
        return found + list(self.scripts)

    async def start(self) -> None:
        self._server = await serve_websockets(
            self._handle_screen,
            self.host,
            self.port,
            process_request=self._process_request,
            select_subprotocol=_select_subprotocol,
            # screens send nothing of substance; states are pushed often, and compressing
            # each one once per screen costs more CPU than the bandwidth it saves on a LAN
            compression=None,
            max_size=2**16,
            close_timeout=2,
            backlog=1024,  # a floor of screens reconnects at once after a gateway restart
        )
        self.port = self._server.sockets[0].getsockname()[1]
        # in the background: a gateway serves (and says on /healthz that the broker is down)
        # before the broker answers
        self._commands_starting = asyncio.create_task(
            self._start_commands(), name="gateway-commands"
        )
        self._tasks = [
            asyncio.create_task(self.feed.run(), name="gateway-feed"),
            asyncio.create_task(self._broadcast(), name="gateway-broadcast"),
        ]

    async def stop(self) -> None:
        if self._command_tasks:
            await asyncio.wait(self._command_tasks, timeout=2)
        if self._commands_starting is not None:
            self._commands_starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, KafkaError, OSError):
                await self._commands_starting
            self._commands_starting = None
        if self._commands is not None:
            await self._commands.stop()
            self._commands = None
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # the feed closes its Kafka consumer on the way out; a broker that does not
            # answer must not keep the gateway from stopping
            _, pending = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_S)
            for task in pending:
                log.warning(
                    "gateway: %s did not stop within %.0f s", task.get_name(), STOP_TIMEOUT_S
                )
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
        counters = self.counters
        return GatewayHealth(
            websocket_clients=len(self.screens),
            consuming=self.feed.problem is None,
            pushes=counters.pushes,
            full_messages=counters.full,
            patch_messages=counters.patches,
            skipped=counters.skipped,
        )

    # -- operators' commands -----------------------------------------------------------------

    def _send_command(self, command: AlertCommand) -> None:
        """Produce ``command`` to the commands topic, keyed by alert id (the HTTP answer does
        not wait: the evaluator's change reaches every screen through ``floor-alerts``)."""
        task = asyncio.get_running_loop().create_task(self._produce(command))
        self._command_tasks.add(task)
        task.add_done_callback(self._command_tasks.discard)

    async def _start_commands(self) -> AIOKafkaProducer:
        """The producer of operators' commands, once the broker answers."""
        bootstrap = bootstrap_of(self.config.broker) if self.config.broker else ""
        while True:
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id="floorwatch-gateway")
            try:
                await producer.start()
            except (KafkaError, OSError) as exc:
                with contextlib.suppress(Exception):
                    await producer.stop()
                log.warning("gateway: alert commands producer not started yet: %r", exc)
                await asyncio.sleep(COMMANDS_RETRY_S)
                continue
            self._commands = producer
            return producer

    async def _produce(self, command: AlertCommand) -> None:
        starting = self._commands_starting
        if starting is None:
            log.error("alert command for %s dropped: the gateway is stopping", command.alert_id)
            return
        try:
            # shielded: a command given up on must not cancel the producer's start
            producer = await asyncio.shield(starting)
            await producer.send_and_wait(
                self.config.topics.alert_commands,
                command.encode(),
                key=command.alert_id.encode(),
            )
            log.info("alert %s acknowledged by %s", command.alert_id, command.by)
        except Exception:
            log.exception("alert command for %s not delivered", command.alert_id)

    # -- plain HTTP ---------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        role = _role_for(request.method, url.path)
        query = url.query
        if role is not None:
            presented = presented_token(request.headers.get("Authorization"), url.query)
            denied = self.tokens.check(role, presented)
            if denied is not None:
                log.warning("refused %s %s: %s", request.method, url.path, denied.message)
                return _response(_denied_reply(denied.status, denied.message))
            query = without_token(url.query)
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
        return _response(self.routes.handle(request.method, url.path, query))

    # -- websocket screens --------------------------------------------------------------------

    async def _handle_screen(self, connection: ServerConnection) -> None:
        request_path = connection.request.path if connection.request is not None else ""
        view_filter = ViewFilter.from_query(urlsplit(request_path).query)
        screen = Screen(connection, view_filter)
        now_ms = self._clock()
        members: set[Screen]
        if connection.subprotocol == SCREEN_PROTOCOL:
            audience = self.audiences.get(view_filter)
            if audience is None:
                audience = self.audiences[view_filter] = Audience(view_filter)
            if audience.edition is None:
                audience.edition = self.screen_states.edition(view_filter, self._seq, now_ms)
            # the edition the audience holds, so that the next push patches this screen too
            self._send(audience.edition, [screen], None, self.screen_states.meta(now_ms))
            members = audience.screens
        else:
            self._send_state([screen], self.hub.message(now_ms))
            members = self.scripts
        members.add(screen)
        try:
            # clients have nothing to say; reading keeps the connection's control frames
            # flowing and ends when the client goes away
            async for _ in connection:
                pass
        except ConnectionClosed:
            pass
        finally:
            members.discard(screen)
            audience_now = self.audiences.get(view_filter)
            if audience_now is not None and not audience_now.screens:
                del self.audiences[view_filter]

    async def _broadcast(self) -> None:
        """Push to every screen when the state changed, at most every ``_push_every_s``."""
        sent: tuple[int, bool] | None = None
        while True:
            pending = self._changed.is_set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self._until_stale_check())
                if not pending:
                    # news after a quiet spell: a worker's round, which lands over several
                    # partitions and fetches. Let it land whole, so that one push carries it
                    # and the next round does not find the cadence spent on its leftovers.
                    await asyncio.sleep(self._settle_s)
            self._changed.clear()
            started = time.monotonic()
            now_ms = self._clock()
            current = (self.hub.version, self.hub.freshness(now_ms).stale)
            if current == sent or not (self.audiences or self.scripts):
                self._catch_up(now_ms)
                continue
            self._push(now_ms)
            sent = current
            # the cadence limit: changes arriving meanwhile are coalesced into the next push
            await asyncio.sleep(max(0.0, self._push_every_s - (time.monotonic() - started)))

    def _push(self, now_ms: int) -> None:
        """One round: a new edition per filter, to every screen that can take it."""
        self._seq += 1
        self.counters.pushes += 1
        meta = self.screen_states.meta(now_ms)
        for audience in list(self.audiences.values()):
            edition = self.screen_states.edition(audience.view_filter, self._seq, now_ms)
            self._send(edition, audience.screens, audience.edition, meta)
            audience.edition = edition
        if self.scripts:
            self._send_state(self.scripts, self.hub.message(now_ms))

    def _send_state(self, scripts: Iterable[Screen], message: bytes) -> None:
        """Write the whole REST state to the scripts that are not backed up."""
        ready = []
        now = time.monotonic()
        for script in scripts:
            if script.ready(now, self._drop_stalled_s):
                ready.append(script.connection)
            else:
                self.counters.skipped += 1
        if ready:
            broadcast(ready, message, text=True)
            self.counters.full += len(ready)

    def _catch_up(self, now_ms: int) -> None:
        """Send the whole latest state to screens that missed an edition and are no longer
        backed up (without news, no push round would reach them)."""
        meta: bytes | None = None
        for audience in self.audiences.values():
            edition = audience.edition
            if edition is None:
                continue
            behind = [s for s in audience.screens if s.seq != edition.seq and s.backlog() == 0]
            if behind:
                meta = meta or self.screen_states.meta(now_ms)
                self._send(edition, behind, None, meta)

    def _send(
        self, edition: Edition, screens: Iterable[Screen], base: Edition | None, meta: bytes
    ) -> None:
        """Write ``edition`` to ``screens``: a patch from ``base`` to those holding it, the
        whole state to the others; skip screens that are backed up."""
        patch_to: list[ServerConnection] = []
        full_to: list[ServerConnection] = []
        now = time.monotonic()
        for screen in screens:
            if not screen.ready(now, self._drop_stalled_s):
                self.counters.skipped += 1
                continue
            if base is not None and screen.seq == base.seq:
                patch_to.append(screen.connection)
            else:
                full_to.append(screen.connection)
            screen.seq = edition.seq
        if patch_to and base is not None:
            broadcast(patch_to, edition.patch_message(base, meta), text=True)
            self.counters.patches += len(patch_to)
        if full_to:
            broadcast(full_to, edition.full_message(meta), text=True)
            self.counters.full += len(full_to)

    def _until_stale_check(self) -> float:
        """Seconds until fresh state would turn stale without news (capped). Stale state
        turns fresh only with news, which wakes the broadcaster anyway."""
        now_ms = self._clock()
        fresh = self.hub.freshness(now_ms)
        if fresh.stale or fresh.last_update_ms is None:
            return MAX_STALE_CHECK_S
        flips_in_s = (fresh.last_update_ms + self.hub.stale_ms - now_ms) / 1000 + 0.01
        return min(MAX_STALE_CHECK_S, max(0.01, flips_in_s))


def _select_subprotocol(
    connection: ServerConnection, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    """The screen protocol when the client asks for it; none otherwise (scripts)."""
    return SCREEN_PROTOCOL if SCREEN_PROTOCOL in offered else None


def _role_for(method: str, path: str) -> Role | None:
    """The role a request needs (None: open to anyone)."""
    if path in ("/", WS_PATH):
        return "viewer"
    if path.startswith("/api/"):
        return "operator" if method == "POST" and path.endswith("/ack") else "viewer"
    return None


def _denied_reply(status: HTTPStatus, message: str) -> Reply:
    reply = error_reply(status, message)
    if status == HTTPStatus.UNAUTHORIZED:
        return Reply(
            reply.status,
            reply.body,
            reply.content_type,
            (("WWW-Authenticate", 'Bearer realm="floorwatch"'),),
        )
    return reply


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
    config: FloorwatchConfig,
    *,
    host: str,
    port: int,
    stop: asyncio.Event | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Run a gateway until ``stop`` is set (or the task is cancelled); prints
    ``floorwatch gateway: http://HOST:PORT/`` on stdout once it is serving. Tokens and the
    colour thresholds file come from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    stop = stop or asyncio.Event()
    tokens = Tokens.from_env(env)
    colours = load_colours(env)
    async with Gateway(config, host=host, port=port, tokens=tokens, colours=colours) as gateway:
        if tokens.any:
            log.info("gateway tokens: %r", tokens)
        if colours.source != Colours().source:
            log.info("colour thresholds from %s", colours.source)
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
    try:
        load_colours(os.environ)  # a wrong thresholds file fails before anything starts
    except ConfigError as exc:
        print(f"floorwatch gateway: {exc}", file=sys.stderr)
        return 2

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


__all__ = ["SCREEN_PROTOCOL", "Audience", "Gateway", "Screen", "run", "serve", "wall_clock_ms"]
