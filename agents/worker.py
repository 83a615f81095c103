"""``floorwatch worker``: run one Faust worker until stopped."""

from __future__ import annotations

import gc
import logging
import sys

import faust
from faust.types import TP

from agents.app import create_app
from agents.metrics import serve
from config.settings import FloorwatchConfig

READY_LINE = "floorwatch worker: ready"
GC_THRESHOLD = (100_000, 50, 100)
"""Generation-0 threshold of the worker: folding allocates many short-lived tuples, and with
the default (700) a third of the fold's time goes to the collector (see benchmarks)."""


class _Worker(faust.Worker):
    """Faust's worker without its terminal spinner: the spinner writes escape codes into
    what is a log under a supervisor, and it sets the root logger to DEBUG so every library
    debug call (aiokafka logs each message it sends) builds a record only to drop it."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        super().on_setup_root_logger(logger, level)


def run(config: FloorwatchConfig, *, loglevel: str = "warn") -> int:
    """Blocking; returns the exit code. Prints :data:`READY_LINE` once partitions are
    assigned and their state recovered."""
    if config.broker is None:
        print("floorwatch worker: no broker configured; set FLOORWATCH_BROKER", file=sys.stderr)
        return 2
    gc.set_threshold(*GC_THRESHOLD)
    app, pipeline = create_app(config)
    if config.worker.metrics_port:
        acd = config.topics.acd_events

        def highwater(partition: int) -> int | None:
            try:
                return int(app.consumer.highwater(TP(acd, partition)))
            except Exception:  # not started yet, or the partition was just revoked
                return None

        serve(pipeline, highwater, config.worker.metrics_host, config.worker.metrics_port)
    pipeline.on_ready.append(lambda: print(READY_LINE, flush=True))

    logging.getLogger("faust").setLevel(logging.WARNING)
    worker = _Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0
