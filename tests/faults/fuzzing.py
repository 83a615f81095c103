"""Helpers of the fuzz tests: counting inputs, a hang timer, and inputs built from bytes.

Hypothesis draws one byte string per example and :class:`Choices` reads the input's
structure from it (the way atheris' ``FuzzedDataProvider`` does). One byte-string draw is
several times cheaper than drawing the same structure from composed strategies, which is
what lets a test run ten thousand examples in seconds, and hypothesis still shrinks a
failure to the shortest bytes (read as zeros past the end: the simplest choice everywhere).
"""

from __future__ import annotations

import signal
import struct
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, TypeVar

import orjson
from hypothesis import HealthCheck, settings

from streams.events import MAX_TS_MS

T = TypeVar("T")

HANG_S: Final = 10.0
"""Longest any single parser call may take before it counts as hung. Generous (CI machines
are slow and shared); every parser here answers in well under a millisecond."""

INPUTS: Counter[str] = Counter()
"""Generated inputs handed to each parser in this session (one per parser call)."""
EXAMPLES: Counter[str] = Counter()
"""Hypothesis examples run per fuzz test in this session."""


class Hung(Exception):  # noqa: N818 - the outcome it reports
    """A parser call ran for longer than its limit."""


def _alarm(signum: int, frame: object) -> None:
    raise Hung("a parser call ran past its time limit: it hangs")


@contextmanager
def no_hang(limit_s: float = HANG_S) -> Iterator[None]:
    """Fail the code inside if it runs longer than ``limit_s``, instead of waiting forever."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def fed(target: str, call: Callable[[], T], limit_s: float = HANG_S) -> T:
    """``call()``, counted as one input of ``target`` and bounded in time."""
    INPUTS[target] += 1
    with no_hang(limit_s):
        return call()


def fuzz(examples: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Hypothesis settings of every fuzz test: an explicit budget, no per-example deadline
    (:func:`no_hang` bounds each call instead), no complaint about large inputs."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )


# --- reading inputs from bytes --------------------------------------------------------------

INTERESTING_INTS: Final = (
    0,
    1,
    -1,
    2,
    5,
    10,
    59,
    60,
    255,
    256,
    1024,
    2**31 - 1,
    -(2**31),
    2**31,
    2**53 + 1,
    2**63 - 1,
    -(2**63),
    2**64 - 1,
    MAX_TS_MS - 1,
    MAX_TS_MS,
    1_714_557_600_000,
    1_714_557_600,
)
INTERESTING_FLOATS: Final = (0.0, -0.0, 0.5, 1.5, 1e-300, 5e-324, 1e30, 1e300, -1e300, 1.79e308)
INTERESTING_TEXTS: Final = (
    "",
    " ",
    "0",
    "-1",
    "--5",
    "1e9",
    "null",
    "true",
    "NaN",
    "x" * 257,
    "y" * 1025,
    "é",
    "\u2028",
    "\x00",
    "２",
    "²",
    "٣",
    "%",
    "%zz",
    "NONE",
    "2024-05-01T10:00:00Z",
    "2024-05-01T10:00:00",
    "1714557600",
    "9" * 5000,
)
DEEP: Final = "\x00deep\x00"
"""Placeholder replaced after encoding by an array nested deeper than orjson writes (it reads
1,024 levels but writes only 254), see :func:`with_deep_values`."""


class Choices:
    """Structured choices read from fuzzer bytes; past the end every read is zero."""

    __slots__ = ("at", "data", "deep")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0
        self.deep = False

    def byte(self) -> int:
        at = self.at
        self.at = at + 1
        return self.data[at] if at < len(self.data) else 0

    def below(self, n: int) -> int:
        """A number in ``[0, n)``."""
        if n <= 256:
            return self.byte() % n
        return (self.byte() << 16 | self.byte() << 8 | self.byte()) % n

    def between(self, low: int, high: int) -> int:
        return low + self.below(high - low + 1)

    def pick(self, options: Sequence[T]) -> T:
        return options[self.below(len(options))]

    def chance(self, one_in: int) -> bool:
        return self.below(one_in) == 0

    def take(self, n: int) -> bytes:
        chunk = self.data[self.at : self.at + n]
        self.at += n
        return chunk

    def text(self, max_len: int = 16) -> str:
        """Text from the next bytes: mostly UTF-8 (invalid bytes replaced), sometimes read
        as Latin-1 (control characters and all), sometimes a known troublemaker."""
        how = self.byte() % 8
        if how == 0:
            return self.pick(INTERESTING_TEXTS)
        raw = self.take(self.below(max_len + 1))
        return raw.decode("latin-1") if how == 1 else raw.decode("utf-8", "replace")

    def ident(self, options: Sequence[str] = ()) -> str:
        """A valid id (1–256 characters): one of ``options`` or short text."""
        if options and self.byte() % 4:
            return self.pick(options)
        return self.text(12)[:256] or "x"

    def integer(self) -> int:
        how = self.byte() % 4
        if how == 0:
            return self.pick(INTERESTING_INTS)
        if how == 1:
            return int.from_bytes(self.take(8).ljust(8, b"\0"), "little", signed=True)
        return self.between(-100, 10_000)

    def number(self) -> float:
        how = self.byte() % 3
        if how == 0:
            return self.pick(INTERESTING_FLOATS)
        if how == 1:
            value: float = struct.unpack("<d", self.take(8).ljust(8, b"\0"))[0]
            return value
        return self.between(-1000, 100_000) / 8

    def scalar(self) -> Any:
        kind = self.byte() % 6
        if kind == 0:
            return None
        if kind == 1:
            return self.byte() % 2 == 0
        if kind == 2:
            return self.integer()
        if kind == 3:
            return self.number()
        return self.text()

    def json(self, keys: Sequence[str] = (), depth: int = 3) -> Any:
        """A JSON value (orjson can write it): objects with keys from ``keys`` or text."""
        kind = self.byte() % (10 if depth > 0 else 6)
        if kind < 6:
            return self.scalar()
        if kind == 6 and self.chance(4):
            self.deep = True
            return DEEP
        if kind <= 7:
            return [self.json(keys, depth - 1) for _ in range(self.below(5))]
        return {
            (self.pick(keys) if keys and self.byte() % 4 else self.text(8)): self.json(
                keys, depth - 1
            )
            for _ in range(self.below(6))
        }


def with_deep_values(raw: bytes, depth: int) -> bytes:
    """``raw`` with every :data:`DEEP` string replaced by an array nested ``depth`` deep."""
    return raw.replace(orjson.dumps(DEEP), b"[" * depth + b"]" * depth)
