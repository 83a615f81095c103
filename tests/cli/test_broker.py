"""``floorwatch broker`` and :class:`floorwatch.broker.EmbeddedBroker`: real processes."""

from __future__ import annotations

import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from floorwatch.broker import BrokerError, EmbeddedBroker
from floorwatch.kafka import bootstrap_of, topic_names
from tests.cli.support import environment, fresh_topics, partition_counts

pytestmark = pytest.mark.integration

URL = re.compile(r"kafka://127\.0\.0\.1:(\d+)")


def gone(pid: int) -> bool:
    """The process has ended (a zombie waiting for init to reap it counts as ended)."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def wait_until_gone(pid: int, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def first_line(process: subprocess.Popen[str], timeout_s: float = 20.0) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout_s)
    assert ready, f"no output within {timeout_s} s"
    return process.stdout.readline().strip()


@pytest.fixture
def broker_command() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A running ``floorwatch broker`` creating topics with 3 partitions, and the topics."""
    topics = fresh_topics(partitions=3)
    process = subprocess.Popen(
        [sys.executable, "-m", "floorwatch", "broker"],
        env=environment(None, topics),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, ",".join(topic_names(topics))
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        for stream in (process.stdout, process.stderr):
            assert stream is not None
            stream.close()


def test_broker_command_prints_its_url_first_and_creates_the_configured_topics(
    broker_command: tuple[subprocess.Popen[str], str],
) -> None:
    process, names = broker_command
    url = first_line(process)

    assert URL.fullmatch(url), url
    assert partition_counts(bootstrap_of(url), names.split(",")) == dict.fromkeys(
        names.split(","), 3
    )


def test_broker_command_stops_on_sigterm_leaving_no_process(
    broker_command: tuple[subprocess.Popen[str], str],
) -> None:
    process, _ = broker_command
    first_line(process)
    children = [child.pid for child in psutil.Process(process.pid).children(recursive=True)]
    assert len(children) == 1  # the broker itself

    process.send_signal(signal.SIGTERM)

    assert process.wait(10) == 0
    assert all(wait_until_gone(pid) for pid in children)


def test_killed_broker_command_takes_its_broker_with_it(
    broker_command: tuple[subprocess.Popen[str], str],
) -> None:
    process, _ = broker_command
    first_line(process)
    children = [child.pid for child in psutil.Process(process.pid).children(recursive=True)]
    assert children

    process.kill()
    process.wait(10)

    assert all(wait_until_gone(pid) for pid in children)


def test_embedded_broker_serves_kafka_until_its_block_ends() -> None:
    with EmbeddedBroker() as broker:
        pid = broker.pid
        assert pid is not None
        assert broker.url == f"kafka://{broker.bootstrap}"
        host, port = broker.bootstrap.split(":")
        socket.create_connection((host, int(port)), timeout=1).close()

    assert wait_until_gone(pid)


def test_broker_that_cannot_listen_fails_with_its_own_output() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]

        with pytest.raises(BrokerError, match=r"(?s)exited with code.*in use"):
            EmbeddedBroker(port, ready_timeout_s=10).start()
