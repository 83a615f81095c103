"""``floorwatch ingest asterisk``: a queue_log file, read once or followed live.

Each batch of lines is turned into events, produced, and only once the broker has
acknowledged them is the position (file identity, offset, first-line fingerprint) saved
together with the adapter's state, atomically. A restart therefore neither skips nor
repeats a line; after a crash between delivery and saving, the same lines are read again
and give the same event ids, which the workers drop as duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from config.settings import TopicSettings
from floorwatch.adapters.sink import Sink
from floorwatch.adapters.state import load_state, save_state
from floorwatch.adapters.tail import FileFollower, Position
from floorwatch.kafka import ensure_topics
from streams.adapters.asterisk import AsteriskAdapter, AsteriskOptions

log = logging.getLogger(__name__)

STATE_VERSION = 1


@dataclass(frozen=True)
class FollowSettings:
    path: Path
    state: Path
    follow: bool
    from_end: bool = False
    poll_s: float = 0.2
    rotate_grace_s: float = 2.0
    wrapup_grace_s: float = 5.0
    """A wrap-up is ended by the clock only this long after it is due, so that a line of the
    same time that is still on its way is read first."""
    batch_bytes: int = 1 << 20


async def run_asterisk(
    broker: str,
    topics: TopicSettings,
    options: AsteriskOptions,
    settings: FollowSettings,
    stop: asyncio.Event,
) -> str:
    """Read (and with ``follow``, keep reading) the queue_log until the end or ``stop``;
    returns a summary line."""
    saved = load_state(settings.state)
    if saved and saved.get("version") != STATE_VERSION:
        log.warning("state file %s has another version: starting afresh", settings.state)
        saved = {}
    if saved and saved.get("path") not in (None, str(settings.path)):
        log.warning(
            "state file %s belongs to %s, not %s: starting afresh",
            settings.state,
            saved.get("path"),
            settings.path,
        )
        saved = {}
    adapter = AsteriskAdapter(options, saved.get("adapter"))
    follower = FileFollower(
        settings.path,
        Position.from_json(saved.get("position")),
        from_end=settings.from_end,
        rotate_grace_s=settings.rotate_grace_s,
    )
    if saved:
        log.info("resuming %s at %s", settings.path, saved.get("position"))
    await ensure_topics(broker, topics)
    async with Sink(broker, topics, adapter.counts, f"asterisk {settings.path}") as sink:
        try:
            while not stop.is_set():
                lines = follower.read(settings.batch_bytes)
                for line in lines:
                    await sink.put(adapter.feed(line), f"line {line[:120]!r}", raw=line)
                if settings.follow:
                    now_ms = int((time.time() - settings.wrapup_grace_s) * 1000)
                    await sink.send(adapter.advance(now_ms))
                elif not lines:
                    await sink.send(adapter.finish())
                if lines or sink.queued:
                    await sink.flush()
                    _save(settings, follower, adapter)
                if not lines:
                    if not settings.follow:
                        break
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), settings.poll_s)
        finally:
            follower.close()
        await sink.flush()
        _save(settings, follower, adapter)
        sink.report()
        return sink.summary()


def _save(settings: FollowSettings, follower: FileFollower, adapter: AsteriskAdapter) -> None:
    position = follower.position()
    save_state(
        settings.state,
        {
            "version": STATE_VERSION,
            "path": str(settings.path),
            "position": None if position is None else position.to_json(),
            "adapter": adapter.to_state(),
        },
    )
