"""``floorwatch worker``: run one Faust worker until stopped."""

from __future__ import annotations

import logging
import sys

import faust

from agents.app import create_app
from config.settings import FloorwatchConfig

READY_LINE = "floorwatch worker: ready"


def run(config: FloorwatchConfig, *, loglevel: str = "warn") -> int:
    """Blocking; returns the exit code. Prints :data:`READY_LINE` once partitions are
    assigned and their state recovered."""
    if config.broker is None:
        print("floorwatch worker: no broker configured; set FLOORWATCH_BROKER", file=sys.stderr)
        return 2
    app, pipeline = create_app(config)
    pipeline.on_ready.append(lambda: print(READY_LINE, flush=True))

    logging.getLogger("faust").setLevel(logging.WARNING)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0
