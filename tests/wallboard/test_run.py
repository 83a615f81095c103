"""``run``: what ``floorwatch gateway`` executes, as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import replace

import pytest

from config.settings import FloorwatchConfig
from wallboard.server import run

pytestmark = pytest.mark.integration


def test_run_without_a_broker_exits_2_naming_the_variable(
    config: FloorwatchConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(replace(config, broker=None), host="127.0.0.1", port=0) == 2
    assert "FLOORWATCH_BROKER" in capsys.readouterr().err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_run_prints_its_url_and_stops_cleanly_on_a_signal(
    config: FloorwatchConfig, signum: signal.Signals
) -> None:
    code = (
        "import sys\n"
        "from config.loader import load_config\n"
        "from wallboard.server import run\n"
        "sys.exit(run(load_config(), host='127.0.0.1', port=0))\n"
    )
    assert config.broker is not None
    env = {**os.environ, "FLOORWATCH_BROKER": config.broker}
    env.pop("FLOORWATCH_CONFIG", None)
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("floorwatch gateway: http://127.0.0.1:")
        port = int(line.rsplit(":", 1)[1].rstrip("/\n"))
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        child.send_signal(signum)
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
