"""``floorwatch replay --format asterisk|twilio|connect``: a platform file is produced as the
adapter maps it, keyed as the routing says; refused lines are counted, never produced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from floorwatch.broker import EmbeddedBroker
from floorwatch.formats import FormatOptions, read_asterisk, read_connect, read_twilio
from streams.adapters.asterisk import AsteriskOptions
from tests.adapters.support import FIXTURES
from tests.cli.support import environment, floorwatch, fresh_topics, read_topics

pytestmark = pytest.mark.integration

CASES = [
    ("asterisk", "asterisk_queue_log", read_asterisk),
    ("asterisk", "asterisk_queue_log_table.txt", read_asterisk),
    ("twilio", "twilio_callbacks.txt", read_twilio),
    ("twilio", "twilio_eventstreams.jsonl", read_twilio),
    ("connect", "connect_agent_events.jsonl", read_connect),
    ("connect", "connect_ctrs.jsonl", read_connect),
]


@pytest.mark.parametrize(("kind", "fixture", "reader"), CASES)
def test_platform_file_is_replayed_as_its_contract_events(
    broker: EmbeddedBroker, kind: str, fixture: str, reader: Any
) -> None:
    topics = fresh_topics(partitions=3)
    path = FIXTURES / fixture
    result = floorwatch(
        "replay", str(path), "--format", kind, "--wrapup-s", "10", env=environment(broker, topics)
    )
    assert result.returncode == 0, result.stderr
    options = FormatOptions(asterisk=AsteriskOptions(wrapup_s=10))
    expected = [event for _, event in reader(path, options)]
    assert expected and f"{len(expected)} events in" in result.stderr
    records = read_topics(broker.bootstrap, [topics.acd_events])
    assert sorted(r.value for r in records) == sorted(orjson.dumps(e) for e in expected)
    for record in records:
        event = orjson.loads(record.value)
        key = event["agent_id"] if event["type"] == "agent.state" else event["queue"]
        assert record.key == key.encode(), event
    assert "rejected: none" in result.stderr


def test_refused_lines_are_counted_and_not_produced(broker: EmbeddedBroker, tmp_path: Path) -> None:
    topics = fresh_topics(partitions=1)
    path = tmp_path / "queue_log"
    path.write_text(
        "1366720000|c1|Q|NONE|ENTERQUEUE||1|1\n"
        "1366720001|c1|Q|NONE|TELEPORTED|1\n"
        "1366720002|c1|Q|NONE|ABANDON|x|1|2\n"
        "1366720003|c1\n"
        "1366720006|c1|Q|NONE|ABANDON|1|1|6\n"
    )
    result = floorwatch(
        "replay", str(path), "--format", "asterisk", env=environment(broker, topics)
    )
    assert result.returncode == 0, result.stderr
    assert "rejected: bad_number 1, truncated 1, unknown_verb 1" in result.stderr
    assert f"{path}:2: rejected (unknown_verb)" in result.stderr
    types = [
        orjson.loads(r.value)["type"] for r in read_topics(broker.bootstrap, [topics.acd_events])
    ]
    assert types == ["contact.queued", "contact.abandoned"]


def test_unknown_timezone_is_a_usage_error(broker: EmbeddedBroker) -> None:
    result = floorwatch(
        "replay",
        str(FIXTURES / "asterisk_queue_log"),
        "--format",
        "asterisk",
        "--timezone",
        "Mars/Olympus",
        env=environment(broker, fresh_topics()),
    )
    assert result.returncode == 2
    assert "unknown time zone 'Mars/Olympus'" in result.stderr
