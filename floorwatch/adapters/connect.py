"""``floorwatch ingest connect``: Amazon Connect agent events and CTRs from JSON lines.

Reads a file, or standard input (``-``) as a Kinesis or Firehose consumer writes it, one
JSON value per line (plain agent events and CTRs, Kinesis records with base64 ``Data``, or
Lambda ``Records`` batches). Events are delivered in batches: every ``batch_lines`` lines,
and whenever the input pauses. No AWS access is needed or attempted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from config.settings import TopicSettings
from floorwatch.adapters.sink import Sink
from floorwatch.adapters.state import load_state, save_state
from floorwatch.kafka import ensure_topics
from streams.adapters.connect import ConnectAdapter, ConnectOptions

log = logging.getLogger(__name__)

_END = b""


@dataclass(frozen=True)
class ReadSettings:
    source: str
    """A file path, or ``-`` for standard input."""
    state: Path | None = None
    batch_lines: int = 500
    idle_flush_s: float = 0.2


async def run_connect(
    broker: str,
    topics: TopicSettings,
    options: ConnectOptions,
    settings: ReadSettings,
    stop: asyncio.Event,
) -> str:
    """Read until the input ends or ``stop``; returns a summary line."""
    state = load_state(settings.state) if settings.state is not None else {}
    adapter = ConnectAdapter(options, state.get("adapter"))
    await ensure_topics(broker, topics)
    lines: asyncio.Queue[bytes] = asyncio.Queue(maxsize=10_000)
    loop = asyncio.get_running_loop()
    with contextlib.ExitStack() as closing:
        stream: BinaryIO = (
            sys.stdin.buffer
            if settings.source == "-"
            else closing.enter_context(Path(settings.source).open("rb"))
        )
        reader = threading.Thread(
            target=_read_lines, args=(stream, lines, loop), name="connect-reader", daemon=True
        )
        reader.start()
        async with Sink(broker, topics, adapter.counts, f"connect {settings.source}") as sink:
            number = 0
            ended = False
            while not ended and not stop.is_set():
                try:
                    line = await asyncio.wait_for(lines.get(), settings.idle_flush_s)
                except TimeoutError:
                    await _deliver(sink, adapter, settings)
                    continue
                if line == _END:
                    ended = True
                    break
                number += 1
                if line.strip() and not line.startswith(b"#"):
                    for result in adapter.feed_bytes(line):
                        await sink.put(result, f"line {number}", raw=line)
                if number % settings.batch_lines == 0:
                    await _deliver(sink, adapter, settings)
            await _deliver(sink, adapter, settings)
            sink.report()
            return sink.summary()
    raise AssertionError("unreachable")


async def _deliver(sink: Sink, adapter: ConnectAdapter, settings: ReadSettings) -> None:
    """Flush what is queued, then save the adapter's state (the CTRs seen)."""
    if not sink.queued and adapter.counts.inputs == sink.saved_at_inputs:
        return
    await sink.flush()
    sink.saved_at_inputs = adapter.counts.inputs
    if settings.state is not None:
        save_state(settings.state, {"adapter": adapter.to_state()})


def _read_lines(
    stream: BinaryIO, lines: asyncio.Queue[bytes], loop: asyncio.AbstractEventLoop
) -> None:
    """Blocking reads in a thread, handed to the event loop one line at a time."""
    try:
        for line in stream:
            asyncio.run_coroutine_threadsafe(lines.put(line.rstrip(b"\r\n") or b" "), loop).result()
    except (OSError, RuntimeError, ValueError) as error:
        log.warning("reading stopped: %s", error)
    finally:
        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(lines.put(_END), loop).result()
