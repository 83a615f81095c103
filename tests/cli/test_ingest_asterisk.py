"""``floorwatch ingest asterisk --follow`` against the embedded broker: a live queue_log is
followed through rename rotation, copytruncate rotation and restarts (clean and killed), and
every line's events reach Kafka exactly once (killed: at least once, same ids)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from config.settings import TopicSettings
from floorwatch.broker import EmbeddedBroker
from streams.adapters.asterisk import AsteriskAdapter
from streams.events import Rejection
from tests.cli.support import environment, floorwatch, fresh_topics, read_topics

pytestmark = pytest.mark.integration

T0 = 1366720000


def line(n: int) -> bytes:
    """A call entering queue ``Q``: one ``contact.queued`` event per line."""
    return f"{T0 + n}|call-{n}|Q|NONE|ENTERQUEUE||555{n:04d}|1".encode()


def append(path: Path, numbers: range) -> None:
    with path.open("ab") as out:
        out.write(b"".join(line(n) + b"\n" for n in numbers))


def expected_ids(numbers: range) -> set[str]:
    adapter = AsteriskAdapter()
    ids: set[str] = set()
    for n in numbers:
        result = adapter.feed(line(n))
        assert not isinstance(result, Rejection)
        ids.update(event["event_id"] for event in result)
    return ids


class Follower:
    """A ``floorwatch ingest asterisk --follow`` process."""

    def __init__(self, env: dict[str, str], log: Path, state: Path, out: Path) -> None:
        self.out = out
        self._file = out.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "floorwatch",
                "ingest",
                "asterisk",
                "--follow",
                str(log),
                "--state",
                str(state),
            ],
            env=env,
            stdout=self._file,
            stderr=subprocess.STDOUT,
        )

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=30)
        self._file.close()
        return code


@pytest.fixture()
def follower_factory(tmp_path: Path) -> Iterator[list[Follower]]:
    started: list[Follower] = []
    yield started
    for follower in started:
        if follower.proc.poll() is None:
            follower.proc.kill()
            follower.proc.wait()


def produced_ids(broker: EmbeddedBroker, topics: TopicSettings) -> Counter[str]:
    return Counter(
        orjson.loads(record.value)["event_id"]
        for record in read_topics(broker.bootstrap, [topics.acd_events])
    )


def wait_for_ids(
    broker: EmbeddedBroker, topics: TopicSettings, count: int, output: Path, timeout_s: float = 30
) -> Counter[str]:
    deadline = time.monotonic() + timeout_s
    seen: Counter[str] = Counter()
    while time.monotonic() < deadline:
        seen = produced_ids(broker, topics)
        if sum(seen.values()) >= count:
            return seen
        time.sleep(0.2)
    raise AssertionError(
        f"{sum(seen.values())} of {count} events after {timeout_s} s:\n{output.read_text()[-3000:]}"
    )


def start(
    broker: EmbeddedBroker,
    topics: TopicSettings,
    tmp_path: Path,
    started: list[Follower],
) -> Follower:
    env = environment(broker, topics)
    follower = Follower(
        env, tmp_path / "queue_log", tmp_path / "position.json", tmp_path / "follower.log"
    )
    started.append(follower)
    return follower


def test_follow_through_rename_rotation_and_restarts_loses_and_repeats_nothing(
    broker: EmbeddedBroker, tmp_path: Path, follower_factory: list[Follower]
) -> None:
    topics = fresh_topics(partitions=1)
    log = tmp_path / "queue_log"
    out = tmp_path / "follower.log"
    append(log, range(50))
    follower = start(broker, topics, tmp_path, follower_factory)
    wait_for_ids(broker, topics, 50, out)

    # logrotate "create": rename, the writer still appends to the old file, then a new file
    append(log, range(50, 60))
    os.rename(log, tmp_path / "queue_log.1")
    append(tmp_path / "queue_log.1", range(60, 65))
    append(log, range(65, 80))
    wait_for_ids(broker, topics, 80, out)

    # clean stop; while stopped the log grows and rotates again
    assert follower.stop() == 0
    append(log, range(80, 90))
    os.rename(tmp_path / "queue_log.1", tmp_path / "queue_log.2")
    os.rename(log, tmp_path / "queue_log.1")
    append(log, range(90, 100))
    follower = start(broker, topics, tmp_path, follower_factory)
    append(log, range(100, 110))
    seen = wait_for_ids(broker, topics, 110, out)
    assert follower.stop() == 0

    assert set(seen) == expected_ids(range(110))
    assert max(seen.values()) == 1, [k for k, v in seen.items() if v > 1][:5]
    assert "rotated" in out.read_text()


def test_follow_through_copytruncate_and_a_restart_loses_and_repeats_nothing(
    broker: EmbeddedBroker, tmp_path: Path, follower_factory: list[Follower]
) -> None:
    topics = fresh_topics(partitions=1)
    log = tmp_path / "queue_log"
    out = tmp_path / "follower.log"
    append(log, range(30))
    follower = start(broker, topics, tmp_path, follower_factory)
    wait_for_ids(broker, topics, 30, out)

    # logrotate "copytruncate": copy, then truncate in place (same inode)
    append(log, range(30, 40))
    shutil.copyfile(log, tmp_path / "queue_log.1")
    with log.open("r+b") as handle:
        handle.truncate(0)
    append(log, range(40, 50))
    wait_for_ids(broker, topics, 50, out)

    assert follower.stop() == 0
    append(log, range(50, 60))
    os.rename(tmp_path / "queue_log.1", tmp_path / "queue_log.2")
    shutil.copyfile(log, tmp_path / "queue_log.1")
    with log.open("r+b") as handle:
        handle.truncate(0)
    append(log, range(60, 70))
    follower = start(broker, topics, tmp_path, follower_factory)
    seen = wait_for_ids(broker, topics, 70, out)
    assert follower.stop() == 0

    assert set(seen) == expected_ids(range(70))
    assert max(seen.values()) == 1, [k for k, v in seen.items() if v > 1][:5]


def test_killed_follower_resumes_without_losing_a_line_and_repeats_only_same_ids(
    broker: EmbeddedBroker, tmp_path: Path, follower_factory: list[Follower]
) -> None:
    topics = fresh_topics(partitions=1)
    log = tmp_path / "queue_log"
    out = tmp_path / "follower.log"
    append(log, range(40))
    follower = start(broker, topics, tmp_path, follower_factory)
    wait_for_ids(broker, topics, 40, out)
    append(log, range(40, 80))
    follower.stop(signal.SIGKILL)
    append(log, range(80, 100))
    follower = start(broker, topics, tmp_path, follower_factory)
    seen = wait_for_ids(broker, topics, 100, out)
    assert follower.stop() == 0
    # at least once: whatever was delivered but not yet recorded comes again, with the same
    # event ids, which the workers drop as duplicates
    assert set(seen) == expected_ids(range(100))


def test_malformed_lines_are_counted_and_the_follower_keeps_going(
    broker: EmbeddedBroker, tmp_path: Path, follower_factory: list[Follower]
) -> None:
    topics = fresh_topics(partitions=1)
    log = tmp_path / "queue_log"
    out = tmp_path / "follower.log"
    append(log, range(3))
    with log.open("ab") as handle:
        handle.write(
            b"1366720003|call-3|Q|NONE|TELEPORTED|1\n"
            b"1366720004|call-4|Q|NONE|ABANDON|one|1|6\n"
            b"1366720005|call-5|Q\n"
            b"\xff\xfe\x00garbage\n"
        )
    append(log, range(6, 8))
    follower = start(broker, topics, tmp_path, follower_factory)
    seen = wait_for_ids(broker, topics, 5, out)
    assert follower.stop() == 0
    assert set(seen) == expected_ids(range(3)) | expected_ids(range(6, 8))
    summary = out.read_text().strip().splitlines()[-1]
    assert "rejected: bad_number 1, truncated 2, unknown_verb 1" in summary, summary
    assert "4 inputs dead-lettered" in summary, summary
    dead = read_topics(broker.bootstrap, [topics.dead_letters])
    assert sorted(record.value.rstrip(b"\r\n") for record in dead) == sorted(
        [
            b"1366720003|call-3|Q|NONE|TELEPORTED|1",
            b"1366720004|call-4|Q|NONE|ABANDON|one|1|6",
            b"1366720005|call-5|Q",
            b"\xff\xfe\x00garbage",
        ]
    )


def test_reading_a_file_once_releases_pending_wrapups_and_exits(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    topics = fresh_topics(partitions=1)
    log = tmp_path / "queue_log"
    log.write_bytes(
        b"1366720001|c1|Q|NONE|ENTERQUEUE||1|1\n"
        b"1366720002|c1|Q|SIP/1|CONNECT|1|x|1\n"
        b"1366720010|c1|Q|SIP/1|COMPLETEAGENT|1|8|1\n"
    )
    result = floorwatch(
        "ingest",
        "asterisk",
        str(log),
        "--wrapup-s",
        "15",
        "--state",
        str(tmp_path / "state.json"),
        env=environment(broker, topics),
    )
    assert result.returncode == 0, result.stderr
    events = [orjson.loads(r.value) for r in read_topics(broker.bootstrap, [topics.acd_events])]
    (wrapped,) = [e for e in events if e["type"] == "contact.wrapped"]
    assert wrapped["ts"] == (1366720010 + 15) * 1000


def test_ingest_without_a_broker_is_a_usage_error(tmp_path: Path) -> None:
    result = floorwatch("ingest", "asterisk", str(tmp_path / "x"), env=environment(None, None))
    assert result.returncode == 2
    assert "no broker configured" in result.stderr
