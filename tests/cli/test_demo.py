"""``floorwatch demo``: the whole stack as child processes, and nothing left behind."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.cli.support import environment

pytestmark = pytest.mark.integration


@dataclass
class Demo:
    process: subprocess.Popen[bytes]
    port: int
    out: Path
    err: Path

    def wait_for_output(self, text: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.out.read_text():
            assert self.process.poll() is None, self.err.read_text()[-3000:]
            assert time.monotonic() < deadline, f"no {text!r} within {timeout_s} s"
            time.sleep(0.1)

    def descendants(self) -> list[psutil.Process]:
        children: list[psutil.Process] = psutil.Process(self.process.pid).children(recursive=True)
        return children


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def all_gone(processes: list[psutil.Process], timeout_s: float = 10.0) -> bool:
    """Every process ended (zombies waiting for init to reap them count as ended)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """A running demo on its own embedded broker, its output in files; the URLs printed."""
    port = free_port()
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "floorwatch", "demo", "--port", str(port), "--rate", "50"],
            env=environment(None, None),
            cwd=tmp_path,
            stdout=stdout,
            stderr=stderr,
        )
    running = Demo(process, port, out, err)
    try:
        running.wait_for_output(f"wallboard: http://127.0.0.1:{port}/")
        yield running
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def test_demo_prints_urls_that_serve_and_stops_everything_on_sigterm(demo: Demo) -> None:
    assert f"metrics:   http://127.0.0.1:{demo.port}/metrics" in demo.out.read_text()
    with urllib.request.urlopen(f"http://127.0.0.1:{demo.port}/metrics", timeout=5) as reply:
        assert reply.status == 200
    worker_url = next(
        line.split()[-1]
        for line in demo.out.read_text().splitlines()
        if line.startswith("worker:    http://127.0.0.1:")
    )
    deadline = time.monotonic() + 30  # the worker serves it once Faust has started
    while True:
        try:
            with urllib.request.urlopen(worker_url, timeout=5) as reply:
                assert b"floorwatch_worker_partitions" in reply.read()
                break
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    children = demo.descendants()
    commands = sorted(" ".join(child.cmdline()[1:4]) for child in children)
    assert len(children) == 4, commands  # broker, worker, gateway, simulator

    demo.process.send_signal(signal.SIGTERM)

    assert demo.process.wait(30) == 0
    assert all_gone(children)


def test_demo_stops_the_rest_when_a_child_dies(demo: Demo) -> None:
    children = demo.descendants()
    simulator = next(p for p in children if "simulate" in p.cmdline())

    simulator.kill()

    assert demo.process.wait(30) == 1
    assert f"simulator (pid {simulator.pid}) exited with code -9" in demo.err.read_text()
    assert all_gone(children)


def test_killed_demo_leaves_no_process_behind(demo: Demo) -> None:
    children = demo.descendants()

    demo.process.kill()

    assert all_gone(children)
