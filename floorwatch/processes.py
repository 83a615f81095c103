"""Child processes that never outlive the command that started them.

Every child (the embedded broker, and the worker, gateway and simulator of ``floorwatch
demo``) is started with :func:`spawn`, which

- asks the Linux kernel to SIGKILL the child when its parent dies (``PR_SET_PDEATHSIG``), so
  even a SIGKILLed parent leaves nothing running; elsewhere the parent's own clean stop is
  the only guarantee;
- puts the child in its own process group, so a Ctrl-C in the terminal reaches only the
  parent, which then stops its children in order (a worker should not lose its broker first).

:func:`stop` and :func:`stop_all` end children politely (SIGTERM) and then firmly (SIGKILL).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import IO

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive SIGKILL when this process dies.

    None where ``prctl`` does not exist (not Linux). The death signal is tied to the thread
    that forks, so spawn children from a thread that lives as long as they should.
    """
    if not sys.platform.startswith("linux"):
        return None
    # Loaded here, in the parent: a forked child must not load libraries before exec.
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            # the parent died between fork and prctl: the signal will never come
            os._exit(1)

    return preexec


def spawn(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdout: int | IO[bytes] | None = None,
    stderr: int | IO[bytes] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``args`` as a child that dies with this process, in its own process group."""
    return subprocess.Popen(
        list(args),
        env=None if env is None else dict(env),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        preexec_fn=die_with_parent(),  # noqa: PLW1509 - only prctl, no locks or imports
        process_group=0,
    )


def stop(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> int:
    """SIGTERM ``process``, SIGKILL it if it is still running after ``timeout_s``; its code."""
    return stop_all([process], timeout_s)[0]


def stop_all(processes: Sequence[subprocess.Popen[bytes]], timeout_s: float = 10.0) -> list[int]:
    """SIGTERM every process at once, give them ``timeout_s`` together, then SIGKILL the rest.

    Returns the exit codes in the order given (negative: the signal that ended it).
    """
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + timeout_s
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("process %d ignored SIGTERM for %.0f s: killing it", process.pid, timeout_s)
            process.kill()
            process.wait()
    return [process.returncode for process in processes]


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event that SIGINT or SIGTERM sets while the block runs (main thread only).

    The previous handlers are restored afterwards. Waiting on the event with a timeout keeps
    the main thread responsive, so the block can stop its children in order.
    """
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
