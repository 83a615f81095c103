"""Replay file formats: each reads a file into a feed of encoded contract events.

A feed is an iterable of ``(encoded event, decoded event)`` pairs in file order; the
decoded form is None when the bytes are not a JSON object, and such events are produced
anyway so that a worker dead-letters them with the reason.

- ``jsonl``: one contract event per line, produced as it is;
- ``asterisk``: an Asterisk ``queue_log`` (file or realtime table form);
- ``twilio``: TaskRouter Event Callback bodies (form-encoded) or Event Streams CloudEvents
  (JSON objects or arrays), one per line;
- ``connect``: Amazon Connect agent events and CTRs, plain or as Kinesis records, one JSON
  value per line.

The platform formats go through :mod:`streams.adapters`: lines the adapter refuses are not
contract events, so they are logged with their reason and counted (a summary line at the
end), never produced. Lines starting with ``#`` are comments in the platform formats.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from streams.adapters.asterisk import AsteriskAdapter, AsteriskOptions
from streams.adapters.common import AdapterCounts, Result
from streams.adapters.connect import ConnectAdapter, ConnectOptions
from streams.adapters.twilio import TwilioAdapter, TwilioOptions
from streams.events import Rejection

log = logging.getLogger(__name__)

Feed = Iterable[tuple[bytes, Mapping[str, Any] | None]]
Pairs = Iterator[tuple[bytes, Mapping[str, Any] | None]]
_LOG_REJECTIONS = 20


@dataclass(frozen=True)
class FormatOptions:
    """Settings of the platform adapters (ignored by ``jsonl``)."""

    asterisk: AsteriskOptions = field(default_factory=AsteriskOptions)
    twilio: TwilioOptions = field(default_factory=TwilioOptions)
    connect: ConnectOptions = field(default_factory=ConnectOptions)


def read_jsonl(path: Path, options: FormatOptions | None = None) -> Pairs:
    """The non-blank lines of a JSONL file of contract events, each as it is (without its
    line ending) and decoded."""
    with path.open("rb") as lines:
        for line in lines:
            if not line.strip():
                continue
            value = line.rstrip(b"\r\n")
            try:
                event = orjson.loads(value)
            except orjson.JSONDecodeError:
                event = None
            yield value, event if isinstance(event, dict) else None


def read_asterisk(path: Path, options: FormatOptions | None = None) -> Pairs:
    """The contract events of an Asterisk queue_log, in file order; wrap-ups still running
    at the end of the file end at their due time."""
    adapter = AsteriskAdapter((options or FormatOptions()).asterisk)
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            yield from _events(adapter.feed(line), adapter.counts, path, number)
    yield from _events(adapter.finish(), adapter.counts, path, 0)
    _summarize(path, "asterisk", adapter.counts)


def read_twilio(path: Path, options: FormatOptions | None = None) -> Pairs:
    """The contract events of TaskRouter callbacks / CloudEvents, one payload per line."""
    adapter = TwilioAdapter((options or FormatOptions()).twilio)
    for number, line in _payload_lines(path):
        for result in adapter.feed_bytes(line):
            yield from _events(result, adapter.counts, path, number)
    _summarize(path, "twilio", adapter.counts)


def read_connect(path: Path, options: FormatOptions | None = None) -> Pairs:
    """The contract events of Amazon Connect agent events and CTRs, one JSON value per line."""
    adapter = ConnectAdapter((options or FormatOptions()).connect)
    for number, line in _payload_lines(path):
        for result in adapter.feed_bytes(line):
            yield from _events(result, adapter.counts, path, number)
    _summarize(path, "connect", adapter.counts)


def _payload_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            value = line.strip()
            if value and not value.startswith(b"#"):
                yield number, value


def _events(result: Result, counts: AdapterCounts, path: Path, number: int) -> Pairs:
    if isinstance(result, Rejection):
        if sum(counts.rejected.values()) <= _LOG_REJECTIONS:
            log.warning("%s:%d: rejected (%s): %s", path, number, result.reason, result.message)
        return
    for event in result:
        yield orjson.dumps(event), event


def _summarize(path: Path, kind: str, counts: AdapterCounts) -> None:
    level = logging.WARNING if counts.rejected else logging.INFO
    log.log(level, "%s (%s): %s", path, kind, counts.summary())


FORMATS: Mapping[str, Callable[..., Feed]] = {
    "jsonl": read_jsonl,
    "asterisk": read_asterisk,
    "twilio": read_twilio,
    "connect": read_connect,
}
"""Replay formats by the name ``floorwatch replay --format`` takes; each is called as
``reader(path, FormatOptions(...))``."""
