"""``floorwatch ingest connect``: agent events and CTRs piped in as a Kinesis consumer writes
them reach Kafka as the adapter maps them, each routed by queue or agent; bad lines are
counted and skipped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from floorwatch.broker import EmbeddedBroker
from streams.adapters.connect import ConnectAdapter
from streams.events import Rejection
from tests.adapters.support import FIXTURES, fixture_lines
from tests.cli.support import environment, fresh_topics, read_topics

pytestmark = pytest.mark.integration

FIXTURE_NAMES = ("connect_agent_events.jsonl", "connect_ctrs.jsonl")


def expected_events() -> list[dict[str, Any]]:
    adapter = ConnectAdapter()
    events: list[dict[str, Any]] = []
    for name in FIXTURE_NAMES:
        for line in fixture_lines(name):
            for result in adapter.feed_bytes(line):
                assert not isinstance(result, Rejection)
                events.extend(result)
    return events


def test_piped_agent_events_and_ctrs_are_produced_and_routed(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    topics = fresh_topics(partitions=3)
    piped = b"".join((FIXTURES / name).read_bytes() for name in FIXTURE_NAMES)
    piped += b'{"Data": "%%% not base64"}\n{"EventType": "STATE_CHANGE", \n'
    result = subprocess.run(
        [sys.executable, "-m", "floorwatch", "ingest", "connect", "--state", str(tmp_path / "s")],
        input=piped,
        env=environment(broker, topics),
        capture_output=True,
        timeout=60,
        check=False,
    )
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    summary = stderr.strip().splitlines()[-1]
    assert "rejected: bad_encoding 1, invalid_json 1" in summary, summary
    assert "1 repeats" in summary  # the CTR delivered twice
    records = read_topics(broker.bootstrap, [topics.acd_events])
    expected = expected_events()
    assert sorted(orjson.loads(r.value)["event_id"] for r in records) == sorted(
        e["event_id"] for e in expected
    )
    for record in records:
        event = orjson.loads(record.value)
        key = event["agent_id"] if event["type"] == "agent.state" else event["queue"]
        assert record.key == key.encode(), event
    state = orjson.loads((tmp_path / "s").read_bytes())
    assert len(state["adapter"]["seen_ctrs"]) == 4
