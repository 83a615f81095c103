"""The usual Faust approach, as a baseline for ``benchmarks.pipeline``: one agent that
iterates its stream event by event, lets Faust parse the JSON and updates a changelogged
table per event (a counter dict by event type per queue, or per agent, case or survey id
for the other events).

Run by ``benchmarks.pipeline`` in a child process::

    NAIVE_BROKER=127.0.0.1:PORT NAIVE_TOPIC=naive-events NAIVE_EXPECTED=60000 \\
        python -m benchmarks.naive_faust

Prints ``naive: first <epoch s>`` when the first event is processed and
``naive: done <count> <first epoch s> <last epoch s>`` once ``NAIVE_EXPECTED`` events are,
then keeps running until stopped (SIGTERM).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from typing import Any

import faust

APP_ID = "naive-bench"
PARTITIONS = 4
PROGRESS_EVERY = 10_000


def create_app(bootstrap: str, topic_name: str, expected: int, data_dir: str) -> faust.App:
    app = faust.App(
        APP_ID,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        topic_partitions=PARTITIONS,
        # joins in ~5 s on the embedded broker instead of ~32 s (PLATFORM.md)
        broker_session_timeout=6,
        broker_heartbeat_interval=1,
        broker_request_timeout=30,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        datadir=data_dir,
    )
    topic = app.topic(
        topic_name,
        partitions=PARTITIONS,
        key_type=bytes,
        key_serializer="raw",
        value_serializer="json",
    )
    counts = app.Table("naive-counts", default=dict, partitions=PARTITIONS)
    progress = {"seen": 0, "first": 0.0}

    @app.agent(topic)
    async def count(stream: faust.StreamT[Any]) -> None:
        async for value in stream:
            if not progress["seen"]:
                progress["first"] = time.time()
                print(f"naive: first {progress['first']:.6f}", flush=True)
            name = _owner(value)
            per_type = dict(counts[name])
            kind = value.get("type", "?") if isinstance(value, dict) else "?"
            per_type[kind] = per_type.get(kind, 0) + 1
            counts[name] = per_type  # re-assigned: a mutated value would not be changelogged
            progress["seen"] += 1
            seen = progress["seen"]
            if seen == expected:
                print(f"naive: done {seen} {progress['first']:.6f} {time.time():.6f}", flush=True)
            elif seen % PROGRESS_EVERY == 0:
                print(f"naive: progress {seen} {time.time():.6f}", flush=True)

    return app


def _owner(value: Any) -> str:
    """The queue of a contact event, else the agent, case or survey id."""
    if isinstance(value, dict):
        for field in ("queue", "agent_id", "case_id", "survey_id"):
            owner = value.get(field)
            if isinstance(owner, str):
                return owner
    return "?"


def main() -> int:
    bootstrap = os.environ["NAIVE_BROKER"]
    topic_name = os.environ.get("NAIVE_TOPIC", "naive-events")
    expected = int(os.environ["NAIVE_EXPECTED"])
    data_dir = os.environ.get("NAIVE_DATADIR") or tempfile.mkdtemp(prefix="naive-faust-")
    app = create_app(bootstrap, topic_name, expected, data_dir)
    logging.getLogger("faust").setLevel(logging.WARNING)
    worker = faust.Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False)
    print("naive: starting", flush=True)
    try:
        worker.execute_from_commandline()
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
