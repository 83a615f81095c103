"""``floorwatch ingest twilio``: an HTTP receiver for TaskRouter Event Callbacks and Event
Streams webhooks.

Each POST is checked against its ``X-Twilio-Signature`` (the Workspace's auth token; the URL
is the one Twilio calls, ``--public-url``, or else rebuilt from the request and its
``X-Forwarded-*`` headers), turned into events at once and answered ``204`` without waiting
for Kafka: a producer task delivers in the background (TaskRouter wants an answer within 15
s, and Kafka may be slower than that at times). A bad signature is answered ``403`` and
counted (``bad_signature``); a payload the adapter refuses is answered ``204`` (retrying
would not help) and counted with its reason. ``GET /healthz`` returns the counters as JSON.

Events accepted but not yet delivered when the process is killed are lost; TaskRouter does
not resend answered callbacks. A clean stop (SIGINT / SIGTERM) delivers them first.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from config.settings import TopicSettings
from floorwatch.adapters.sink import Sink
from floorwatch.adapters.state import load_state, save_state
from floorwatch.kafka import ensure_topics
from streams.adapters.common import BAD_SIGNATURE, Result, reject
from streams.adapters.twilio import (
    TwilioAdapter,
    TwilioOptions,
    parse_form,
    validate_json_signature,
    validate_signature,
)
from streams.events import Rejection

log = logging.getLogger(__name__)

READY_PREFIX = "floorwatch ingest twilio: "
SIGNATURE_HEADER = "X-Twilio-Signature"
_FLUSH_EVERY_S = 0.05


@dataclass(frozen=True)
class ReceiverSettings:
    host: str
    port: int
    path: str
    auth_token: str | None
    """None: signatures are not checked (only for tests and trusted networks)."""
    public_url: str | None = None
    state: Path | None = None


class Receiver:
    """The webhook endpoint and its background producer."""

    def __init__(self, settings: ReceiverSettings, adapter: TwilioAdapter, sink: Sink) -> None:
        self.settings = settings
        self.adapter = adapter
        self.sink = sink
        self._queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
        self.accepted = 0
        self.forbidden = 0

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(self.settings.path, self.receive)
        app.router.add_get("/healthz", self.health)
        return app

    def url_of(self, request: web.Request) -> str:
        if self.settings.public_url:
            base = self.settings.public_url.rstrip("/")
            path = request.rel_url.path
            if base.endswith(path):
                base = base[: -len(path)]
            query = request.rel_url.query_string
            return base + path + (f"?{query}" if query else "")
        scheme = request.headers.get("X-Forwarded-Proto", request.scheme)
        host = request.headers.get("X-Forwarded-Host", request.host)
        return f"{scheme}://{host}{request.rel_url}"

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        signature = request.headers.get(SIGNATURE_HEADER)
        is_json = request.content_type == "application/json" or body.lstrip()[:1] in (b"{", b"[")
        if self.settings.auth_token is not None:
            url = self.url_of(request)
            if is_json:
                good = validate_json_signature(self.settings.auth_token, url, body, signature)
            else:
                pairs = parse_form(body)
                good = not isinstance(pairs, Rejection) and validate_signature(
                    self.settings.auth_token, url, pairs, signature
                )
            if not good:
                self.forbidden += 1
                self.adapter.counts.inputs += 1
                rejection = reject(
                    self.adapter.counts, BAD_SIGNATURE, f"signature does not match {url}"
                )
                await self.sink.put(rejection, f"POST from {request.remote}", raw=body)
                return web.Response(status=403, text="bad signature\n")
        results: list[Result] = self.adapter.feed_bytes(body)
        events: list[dict[str, Any]] = []
        for result in results:
            if isinstance(result, Rejection):
                await self.sink.put(result, f"POST from {request.remote}", raw=body)
            else:
                events.extend(result)
        self.accepted += 1
        if events:
            self._queue.put_nowait(events)
        return web.Response(status=204, content_type="application/json")

    async def health(self, request: web.Request) -> web.Response:
        body = {
            **self.adapter.counts.as_dict(),
            "accepted": self.accepted,
            "forbidden": self.forbidden,
            "produced": self.sink.producer.sent,
            "pending": self._queue.qsize() + self.sink.queued,
        }
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def produce(self, stop: asyncio.Event) -> None:
        """Deliver what the handler queued, in batches, until stopped and drained."""
        while not (stop.is_set() and self._queue.empty()):
            try:
                events = await asyncio.wait_for(self._queue.get(), _FLUSH_EVERY_S)
            except TimeoutError:
                continue
            await self.sink.send(events)
            while not self._queue.empty():
                await self.sink.send(self._queue.get_nowait())
            await self.sink.flush()
            if self.settings.state is not None:
                save_state(self.settings.state, {"adapter": self.adapter.to_state()})


async def run_twilio(
    broker: str,
    topics: TopicSettings,
    options: TwilioOptions,
    settings: ReceiverSettings,
    stop: asyncio.Event,
) -> str:
    """Serve until ``stop``; returns a summary line."""
    state = load_state(settings.state) if settings.state is not None else {}
    adapter = TwilioAdapter(options, state.get("adapter"))
    await ensure_topics(broker, topics)
    async with Sink(broker, topics, adapter.counts, "twilio") as sink:
        receiver = Receiver(settings, adapter, sink)
        runner = web.AppRunner(receiver.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        port = runner.addresses[0][1] if runner.addresses else settings.port
        print(f"{READY_PREFIX}http://{settings.host}:{port}{settings.path}", flush=True)
        producing = asyncio.create_task(receiver.produce(stop))
        try:
            await stop.wait()
        finally:
            await runner.cleanup()  # no new requests; then deliver what was accepted
            await producing
        await sink.flush()
        sink.report()
        return sink.summary()
