"""The ``floorwatch`` command line (DESIGN.md section 6).

Every command reads the configuration with :func:`config.loader.load_config` (the file
``FLOORWATCH_CONFIG`` names, ``FLOORWATCH_BROKER`` and the other overrides). Exit codes:
0 done, 1 failed while running, 2 wrong usage or configuration (the message says what).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Callable, Sequence, Sized
from datetime import UTC, datetime
from pathlib import Path

from config.env import BROKER_VARIABLE
from config.loader import load_config
from config.settings import FloorwatchConfig
from floorwatch import erlang_cli, processes
from floorwatch.adapters import command as ingest
from floorwatch.broker import BrokerError, EmbeddedBroker
from floorwatch.demo import run_demo
from floorwatch.feeds import parse_speed, replay_to, simulate_to
from floorwatch.formats import FORMATS
from floorwatch.kafka import ensure_topics
from streams.errors import ConfigError
from streams.events import try_parse_ts
from streams.simulation import scenario_for_rate

log = logging.getLogger(__name__)

PROGRAM = "floorwatch"
DEFAULT_RATE = 20.0
"""Events/s of ``simulate`` and ``demo`` unless ``--rate`` says otherwise."""
_FOREVER_MS = 10 * 366 * 86_400_000
"""Simulated time of a run without ``--duration``: far longer than any process lives."""


class UsageError(Exception):
    """A command cannot run as asked; the message says what to change (exit code 2)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` (default: ``sys.argv[1:]``) and return its exit code."""
    args = _parser().parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.run
    if args.command not in {"worker", "gateway"}:
        # worker and gateway set up logging their own way
        logging.basicConfig(
            level=args.log_level,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    try:
        return command(args)
    except (ConfigError, UsageError) as error:
        print(f"{PROGRAM} {args.command}: {error}", file=sys.stderr)
        return 2
    except BrokerError as error:
        print(f"{PROGRAM} {args.command}: {error}", file=sys.stderr)
        return 1


# --- commands --------------------------------------------------------------------------------


def _broker(args: argparse.Namespace) -> int:
    config = load_config()
    with processes.stop_on_signals() as stop:
        broker = EmbeddedBroker(args.port).start()
        try:
            asyncio.run(ensure_topics(broker.url, config.topics))
            print(broker.url, flush=True)
            while not stop.wait(0.5):
                code = broker.poll()
                if code is not None:
                    print(f"{PROGRAM} broker: the broker exited with code {code}", file=sys.stderr)
                    return 1
        finally:
            broker.stop()
    return 0


def _worker(args: argparse.Namespace) -> int:
    config, _ = _config_with_broker()
    # imported here: only this command needs the Faust layer (and its start-up time)
    from agents.worker import run  # noqa: PLC0415

    # the worker writes to every output topic: create them all with their partition counts
    asyncio.run(ensure_topics(config.broker or "", config.topics))
    return run(config)


def _gateway(args: argparse.Namespace) -> int:
    config, _ = _config_with_broker()
    from wallboard.server import run  # noqa: PLC0415 - only this command needs it

    host = args.host or config.gateway.host
    port = args.port or config.gateway.port
    return run(config, host=host, port=port)


def _simulate(args: argparse.Namespace) -> int:
    config, broker = _config_with_broker()
    start_ms = args.start if args.start is not None else int(time.time() * 1000)
    end_ms = start_ms + (int(args.duration * 1000) if args.duration else _FOREVER_MS)
    speed_text = "max" if args.speed is None else f"{args.speed:g}x"
    log.info(
        "simulating about %g events/s from %s, seed %d, speed %s, to %s",
        args.rate,
        _iso(start_ms),
        args.seed,
        speed_text,
        broker,
    )
    stats = asyncio.run(
        simulate_to(
            broker,
            config.topics,
            scenario_for_rate(args.rate),
            seed=args.seed,
            start_ms=start_ms,
            end_ms=end_ms,
            speed=args.speed,
        )
    )
    print(stats.summary(f"{PROGRAM} simulate"), file=sys.stderr)
    return 0


def _replay(args: argparse.Namespace) -> int:
    config, broker = _config_with_broker()
    path: Path = args.file
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    try:
        options = ingest.format_options(args)
    except ingest.IngestUsageError as error:
        raise UsageError(str(error)) from None
    feed = FORMATS[args.format](path, options)
    stats = asyncio.run(replay_to(broker, config.topics, feed, speed=args.speed))
    print(stats.summary(f"{PROGRAM} replay {path}"), file=sys.stderr)
    return 0


def _ingest(args: argparse.Namespace) -> int:
    config, broker = _config_with_broker()
    try:
        return ingest.run(args, config, broker)
    except ingest.IngestUsageError as error:
        raise UsageError(str(error)) from None


def _check_config(args: argparse.Namespace) -> int:
    config = load_config(args.path)
    core = config.core
    print(
        f"{config.source}: OK: {_count(core.sites, 'site')}, {_count(core.queues, 'queue')}, "
        f"{_count(core.teams, 'team')}, broker {config.broker or 'embedded'}"
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    config = load_config()
    return run_demo(config, port=args.port or config.gateway.port, rate=args.rate)


# --- helpers ---------------------------------------------------------------------------------


def _config_with_broker() -> tuple[FloorwatchConfig, str]:
    """The configuration and its broker URL; UsageError if it names no broker."""
    config = load_config()
    if config.broker is None:
        raise UsageError(
            f"no broker configured: set {BROKER_VARIABLE}=kafka://host:port (or `broker:` in "
            f"the configuration file), or run `{PROGRAM} demo` for an embedded one"
        )
    return config, config.broker


def _count(items: Sized, noun: str) -> str:
    n = len(items)
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat(timespec="seconds")


def _speed(text: str) -> float | None:
    try:
        return parse_speed(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _start(text: str) -> int:
    parsed = try_parse_ts(int(text) if text.isdigit() else text)
    if not isinstance(parsed, int):
        raise argparse.ArgumentTypeError(
            f"expected ISO-8601 with an offset (2025-01-15T09:00:00Z) or epoch ms: {parsed.message}"
        )
    return parsed


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def check(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
        return value

    return check


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 1-65535, got {text!r}")
    return int(text)


# --- the parser ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Floorwatch: a streaming, real-time floor monitor for contact centres.",
        epilog=f"{BROKER_VARIABLE}=kafka://host:port points every command at a broker; "
        "FLOORWATCH_CONFIG names the configuration file.",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level of broker, simulate, replay, check-config and demo (default INFO)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, run: Callable[[argparse.Namespace], int], summary: str, details: str = ""
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=summary, description=f"{summary} {details}".strip())
        sub.set_defaults(run=run)
        return sub

    demo = command(
        "demo",
        _demo,
        "Run the whole stack locally: broker, worker, gateway and simulator.",
        f"Starts the embedded broker unless {BROKER_VARIABLE} or the configuration names one, "
        "prints the wallboard and metrics URLs, and stops everything on Ctrl-C.",
    )
    demo.add_argument("--port", type=_port, help="gateway port (default: configuration, 8080)")
    demo.add_argument(
        "--rate",
        type=_positive(float),
        default=DEFAULT_RATE,
        help=f"simulated events per second (default {DEFAULT_RATE:g})",
    )

    broker = command(
        "broker",
        _broker,
        "Run only the embedded broker and create the Floorwatch topics.",
        "Prints kafka://127.0.0.1:PORT as its first line and runs until SIGINT or SIGTERM. "
        "Storage is in memory: stopping it loses every topic.",
    )
    broker.add_argument("--port", type=_port, help="port to listen on (default: a free one)")

    command("worker", _worker, "Run one Faust worker.")

    gateway = command("gateway", _gateway, "Run one wallboard gateway (page, websocket, REST).")
    gateway.add_argument("--port", type=_port, help="port (default: configuration, 8080)")
    gateway.add_argument("--host", help="address to bind (default: configuration, 127.0.0.1)")

    simulate = command(
        "simulate",
        _simulate,
        "Produce realistic simulated ACD and CRM traffic.",
        "A two-site, three-client floor with daily and weekly demand patterns; by default in "
        "real time from now until stopped. No event is produced before its time.",
    )
    simulate.add_argument(
        "--rate",
        type=_positive(float),
        default=DEFAULT_RATE,
        help="events per second, averaged over the 12 busiest hours of a weekday; nights and "
        f"weekends are quieter (default {DEFAULT_RATE:g})",
    )
    simulate.add_argument(
        "--duration",
        type=_positive(float),
        metavar="S",
        help="stop after S seconds of simulated time (default: run until stopped)",
    )
    simulate.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    simulate.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        metavar="1x|Nx|max",
        help="simulated time per wall time; max: as fast as possible, for history with --start "
        "in the past (default 1x)",
    )
    simulate.add_argument(
        "--start",
        type=_start,
        metavar="TIME",
        help="simulated start, ISO-8601 with offset or epoch ms (default: now)",
    )

    replay = command(
        "replay",
        _replay,
        "Produce the events of a file.",
        "Every non-blank line is produced as it is, invalid ones too (workers dead-letter "
        "them). Prints a summary line to stderr.",
    )
    replay.add_argument("file", type=Path, metavar="FILE")
    replay.add_argument(
        "--format",
        default="jsonl",
        choices=sorted(FORMATS),
        help="jsonl: one contract event per line (default); asterisk: a queue_log; twilio: "
        "TaskRouter callbacks or CloudEvents, one per line; connect: Amazon Connect agent "
        "events and CTRs, one JSON value per line",
    )
    ingest.add_asterisk_options(replay)
    replay.add_argument(
        "--speed",
        type=_speed,
        default=None,
        metavar="max|1x|Nx",
        help="max: as fast as possible (default); 1x or Nx: paced by event time relative to "
        "the first event",
    )

    ingest.add_arguments(
        command(
            "ingest",
            _ingest,
            "Produce a contact-centre platform's events as contract events.",
            "asterisk: tail a queue_log across rotation; twilio: receive TaskRouter webhooks; "
            "connect: read Amazon Connect agent events and CTRs (JSON lines).",
        )
    )

    check = command(
        "check-config",
        _check_config,
        "Validate a configuration file and print a summary.",
        "Exits 2 with the file, path and value of the first wrong setting.",
    )
    check.add_argument(
        "path",
        nargs="?",
        metavar="PATH",
        help="configuration file (default: FLOORWATCH_CONFIG, or the built-in defaults)",
    )

    erlang_cli.add_arguments(
        command("erlang", erlang_cli.run, erlang_cli.SUMMARY, erlang_cli.DETAILS)
    )
    return parser
