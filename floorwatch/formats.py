"""Replay file formats: each reads a file into a feed of encoded contract events.

A feed is an iterable of ``(encoded event, decoded event)`` pairs in file order; the
decoded form is None when the bytes are not a JSON object, and such events are produced
anyway so that a worker dead-letters them with the reason. Adapters for other sources
(Asterisk ``queue_log``, Twilio TaskRouter, Amazon Connect exports) register here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

Feed = Iterable[tuple[bytes, Mapping[str, Any] | None]]


def read_jsonl(path: Path) -> Iterator[tuple[bytes, Mapping[str, Any] | None]]:
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


FORMATS: Mapping[str, Callable[[Path], Feed]] = {"jsonl": read_jsonl}
"""Replay formats by the name ``floorwatch replay --format`` takes."""
