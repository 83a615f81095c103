"""``floorwatch ingest twilio``: a real receiver process on the embedded broker. Signed
TaskRouter callbacks and Event Streams batches are answered 204 and produced as the adapter
maps them; forged ones are answered 403 and counted; bad payloads are counted."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson
import pytest

from config.settings import TopicSettings
from floorwatch.adapters.twilio import READY_PREFIX
from floorwatch.broker import EmbeddedBroker
from streams.adapters.twilio import TwilioAdapter, compute_signature
from streams.events import Rejection
from tests.adapters.support import fixture_lines
from tests.cli.support import environment, fresh_topics, read_topics

pytestmark = pytest.mark.integration

TOKEN = "test-auth-token-0123456789abcdef"


class Receiver:
    def __init__(self, broker: EmbeddedBroker, topics: TopicSettings, log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "floorwatch", "ingest", "twilio", "--port", "0"],
            env={**environment(broker, topics), "FLOORWATCH_TWILIO_AUTH_TOKEN": TOKEN},
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for text in self.log.read_text().splitlines():
                if text.startswith(READY_PREFIX):
                    return text[len(READY_PREFIX) :].strip()
            if self.proc.poll() is not None:
                raise AssertionError(self.log.read_text())
            time.sleep(0.05)
        raise AssertionError(f"receiver not ready:\n{self.log.read_text()}")

    def post(
        self, body: bytes, signature: str | None, content_type: str, url: str | None = None
    ) -> tuple[int, float]:
        headers = {"Content-Type": content_type}
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        request = urllib.request.Request(url or self.url, data=body, headers=headers)
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, time.monotonic() - started
        except urllib.error.HTTPError as error:
            return error.code, time.monotonic() - started

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url.rsplit("/", 1)[0] + "/healthz", timeout=5) as r:
            result: dict[str, Any] = orjson.loads(r.read())
            return result

    def stop(self) -> str:
        self.proc.terminate()
        assert self.proc.wait(timeout=30) == 0
        self._out.close()
        return self.log.read_text()


@pytest.fixture()
def receiver(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[tuple[Receiver, TopicSettings]]:
    topics = fresh_topics(partitions=2)
    running = Receiver(broker, topics, tmp_path / "receiver.log")
    yield running, topics
    if running.proc.poll() is None:
        running.proc.kill()
        running.proc.wait()


def expected_events(fixture: str) -> list[dict[str, Any]]:
    adapter = TwilioAdapter()
    events: list[dict[str, Any]] = []
    for line in fixture_lines(fixture):
        for result in adapter.feed_bytes(line):
            assert not isinstance(result, Rejection)
            events.extend(result)
    return events


def produced(broker: EmbeddedBroker, topics: TopicSettings, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        events = [orjson.loads(r.value) for r in read_topics(broker.bootstrap, [topics.acd_events])]
        if len(events) >= count:
            break
        time.sleep(0.2)
    return events


def by_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["event_id"]: e for e in events}


def test_signed_callbacks_are_answered_204_and_produced_as_mapped(
    broker: EmbeddedBroker, receiver: tuple[Receiver, TopicSettings]
) -> None:
    server, topics = receiver
    timings = []
    for body in fixture_lines("twilio_callbacks.txt"):
        signature = compute_signature(TOKEN, server.url, parse_qsl(body.decode()))
        status, took_s = server.post(body, signature, "application/x-www-form-urlencoded")
        assert status == 204
        timings.append(took_s)
    expected = expected_events("twilio_callbacks.txt")
    events = produced(broker, topics, len(expected))
    assert by_id(events) == by_id(expected)
    assert len(events) == len(expected)
    print(f"\n204 answers: max {max(timings) * 1000:.1f} ms")
    assert max(timings) < 1.0
    health = server.health()
    assert health["accepted"] == 16 and health["forbidden"] == 0
    assert health["produced"] == len(expected)
    assert "rejected: none" in server.stop()


def test_event_streams_json_batches_are_checked_through_body_sha256(
    broker: EmbeddedBroker, receiver: tuple[Receiver, TopicSettings]
) -> None:
    server, topics = receiver
    lines = list(fixture_lines("twilio_eventstreams.jsonl"))
    body = b"[" + b",".join(lines[:-1]) + b"]"  # one webhook-sink batch
    url = f"{server.url}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    assert server.post(body, compute_signature(TOKEN, url), "application/json", url)[0] == 204
    last = lines[-1]
    url_last = f"{server.url}?bodySHA256={hashlib.sha256(last).hexdigest()}"
    signed = compute_signature(TOKEN, url_last)
    assert server.post(last, signed, "application/json", url_last)[0] == 204
    expected = expected_events("twilio_eventstreams.jsonl")
    assert by_id(produced(broker, topics, len(expected))) == by_id(expected)
    server.stop()


def test_forged_and_malformed_requests_are_refused_and_counted(
    broker: EmbeddedBroker, receiver: tuple[Receiver, TopicSettings]
) -> None:
    server, topics = receiver
    body = next(fixture_lines("twilio_callbacks.txt"))
    good = compute_signature(TOKEN, server.url, parse_qsl(body.decode()))
    forged = compute_signature("not-the-token", server.url, parse_qsl(body.decode()))
    form = "application/x-www-form-urlencoded"
    assert server.post(body, forged, form)[0] == 403
    assert server.post(body, None, form)[0] == 403
    assert server.post(body + b"&Extra=1", good, form)[0] == 403  # tampered after signing
    unknown = b"EventType=call.teleported&Timestamp=1700000400"
    signed = compute_signature(TOKEN, server.url, parse_qsl(unknown.decode()))
    assert server.post(unknown, signed, form)[0] == 204  # authentic: retrying would not help
    no_time = b"EventType=task-queue.entered&TaskSid=WT1&TaskQueueName=Q"
    signed = compute_signature(TOKEN, server.url, parse_qsl(no_time.decode()))
    assert server.post(no_time, signed, form)[0] == 204
    assert server.post(body, good, form)[0] == 204  # and it keeps going
    health = server.health()
    assert health["rejected"] == {"bad_signature": 3, "unknown_event": 1, "missing_field": 1}
    assert health["forbidden"] == 3
    assert len(produced(broker, topics, 1)) == 1
    summary = server.stop().strip().splitlines()[-1]
    assert "bad_signature 3" in summary, summary


def test_missing_auth_token_is_a_usage_error(broker: EmbeddedBroker) -> None:
    env = environment(broker, fresh_topics())
    env.pop("TWILIO_AUTH_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "floorwatch", "ingest", "twilio", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "no auth token" in result.stderr
