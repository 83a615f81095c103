"""The ``floorwatch ingest`` command: arguments and dispatch to the platform runners."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from config.settings import FloorwatchConfig
from floorwatch.formats import FormatOptions
from streams.adapters.asterisk import AsteriskOptions
from streams.adapters.connect import ConnectOptions
from streams.adapters.twilio import TwilioOptions

TOKEN_VARIABLES = ("FLOORWATCH_TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN")
"""Where ``ingest twilio`` finds the auth token when ``--auth-token`` is not given."""


class IngestUsageError(Exception):
    """The ingest command cannot run as asked (the CLI turns it into exit code 2)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``ingest`` sub-commands: ``asterisk``, ``twilio``, ``connect``."""
    platforms = parser.add_subparsers(dest="platform", required=True, metavar="PLATFORM")

    asterisk = platforms.add_parser(
        "asterisk",
        help="Asterisk queue_log (file or realtime table form).",
        description="Read an Asterisk queue_log and produce contract events. With --follow, "
        "keep reading as it grows, across logrotate rotation (rename or copytruncate), and "
        "resume where it stopped (position saved in --state after each delivered batch). "
        "Asterisk logs no hold and no after-contact work: --wrapup-s seconds of ACW follow "
        "every completed call.",
    )
    asterisk.add_argument("file", type=Path, metavar="QUEUE_LOG")
    asterisk.add_argument("--follow", action="store_true", help="keep reading as it grows")
    asterisk.add_argument(
        "--state",
        type=Path,
        help="position file (default: ~/.floorwatch/ingest/asterisk-<hash of the path>.json)",
    )
    asterisk.add_argument(
        "--from-end",
        action="store_true",
        help="with no saved position, start at the end of the file instead of its start",
    )
    add_asterisk_options(asterisk)

    twilio = platforms.add_parser(
        "twilio",
        help="Twilio TaskRouter Event Callbacks / Event Streams webhooks.",
        description="Receive TaskRouter Event Callbacks (form-encoded) and Event Streams "
        "webhooks (CloudEvents JSON), check X-Twilio-Signature, answer 204 at once and produce "
        "in the background. GET /healthz returns the counters.",
    )
    twilio.add_argument("--port", type=int, default=8088, help="port (default 8088; 0: any)")
    twilio.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    twilio.add_argument("--path", default="/twilio", help="callback path (default /twilio)")
    twilio.add_argument(
        "--auth-token",
        help=f"the account's auth token (default: ${TOKEN_VARIABLES[0]} or ${TOKEN_VARIABLES[1]})",
    )
    twilio.add_argument(
        "--public-url",
        help="the URL configured in Twilio, when a proxy changes scheme, host or port",
    )
    twilio.add_argument(
        "--no-signature-check",
        action="store_true",
        help="accept unsigned requests (tests and trusted networks only)",
    )
    twilio.add_argument("--state", type=Path, help="keep the adapter's state in this file")
    twilio.add_argument(
        "--available-activity",
        action="append",
        default=[],
        metavar="NAME",
        help="an activity that is available (when no event says so; repeatable)",
    )
    twilio.add_argument("--client", help="BPO client (tenant) of every event")

    connect = platforms.add_parser(
        "connect",
        help="Amazon Connect agent event stream and contact trace records (JSON lines).",
        description="Read agent events and CTRs, one JSON value per line, plain or as Kinesis "
        "records (base64 Data) or Lambda batches, from a file or standard input.",
    )
    connect.add_argument("source", nargs="?", default="-", metavar="FILE", help="default: stdin")
    connect.add_argument(
        "--no-ctr-holds",
        action="store_true",
        help="ignore CTR hold durations (when the agent event stream has the real holds)",
    )
    connect.add_argument("--state", type=Path, help="keep the CTRs seen in this file")
    connect.add_argument("--client", help="BPO client (tenant) of every event")


def add_asterisk_options(parser: argparse.ArgumentParser) -> None:
    """Options of the Asterisk adapter (also taken by ``replay --format asterisk``)."""
    parser.add_argument(
        "--wrapup-s",
        type=float,
        default=0.0,
        metavar="S",
        help="after-contact work after each completed call, Asterisk's queues.conf wrapuptime "
        "(default 0)",
    )
    parser.add_argument(
        "--timezone",
        default="UTC",
        help="zone of table-form timestamps without an offset (default UTC)",
    )
    parser.add_argument("--client", help="BPO client (tenant) of every event")


def asterisk_options(args: argparse.Namespace) -> AsteriskOptions:
    if args.wrapup_s < 0:
        raise IngestUsageError(f"--wrapup-s must be 0 or more, got {args.wrapup_s:g}")
    try:
        from zoneinfo import ZoneInfo  # noqa: PLC0415

        ZoneInfo(args.timezone)
    except (ValueError, KeyError) as error:
        raise IngestUsageError(f"--timezone: unknown time zone {args.timezone!r}") from error
    return AsteriskOptions(wrapup_s=args.wrapup_s, timezone=args.timezone, client=args.client)


def format_options(args: argparse.Namespace) -> FormatOptions:
    """The adapters' options of ``replay`` (see :func:`add_asterisk_options`)."""
    return FormatOptions(
        asterisk=asterisk_options(args),
        twilio=TwilioOptions(client=args.client),
        connect=ConnectOptions(client=args.client),
    )


def default_state(kind: str, key: str) -> Path:
    digest = hashlib.blake2b(key.encode(), digest_size=6).hexdigest()
    return Path.home() / ".floorwatch" / "ingest" / f"{kind}-{digest}.json"


def run(args: argparse.Namespace, config: FloorwatchConfig, broker: str) -> int:
    """Run ``floorwatch ingest PLATFORM``; prints a summary line to stderr at the end."""
    from floorwatch.adapters import asterisk, connect, twilio  # noqa: PLC0415

    work: Callable[[asyncio.Event], Awaitable[str]]
    topics = config.topics
    if args.platform == "asterisk":
        options = asterisk_options(args)
        path = args.file.absolute()
        if not args.follow and not path.is_file():
            raise IngestUsageError(f"no such file: {args.file}")
        settings = asterisk.FollowSettings(
            path=path,
            state=args.state or default_state("asterisk", str(path)),
            follow=args.follow,
            from_end=args.from_end,
        )
        work = lambda stop: asterisk.run_asterisk(broker, topics, options, settings, stop)  # noqa: E731
    elif args.platform == "twilio":
        token = args.auth_token or next(
            (os.environ[v] for v in TOKEN_VARIABLES if os.environ.get(v)), None
        )
        if token is None and not args.no_signature_check:
            raise IngestUsageError(
                f"no auth token: pass --auth-token or set {TOKEN_VARIABLES[0]} (or, only on a "
                "trusted network, --no-signature-check)"
            )
        if not 0 <= args.port <= 65535:
            raise IngestUsageError(f"--port must be 0-65535, got {args.port}")
        receiver = twilio.ReceiverSettings(
            host=args.host,
            port=args.port,
            path=args.path if args.path.startswith("/") else f"/{args.path}",
            auth_token=None if args.no_signature_check else token,
            public_url=args.public_url,
            state=args.state,
        )
        twilio_options = TwilioOptions(
            client=args.client,
            activity_availability=dict.fromkeys(args.available_activity, True),
        )
        work = lambda stop: twilio.run_twilio(broker, topics, twilio_options, receiver, stop)  # noqa: E731
    else:
        if args.source != "-" and not Path(args.source).is_file():
            raise IngestUsageError(f"no such file: {args.source}")
        connect_options = ConnectOptions(client=args.client, ctr_holds=not args.no_ctr_holds)
        reading = connect.ReadSettings(source=args.source, state=args.state)
        work = lambda stop: connect.run_connect(broker, topics, connect_options, reading, stop)  # noqa: E731
    summary = asyncio.run(_until_signal(work))
    print(f"floorwatch ingest {args.platform}: {summary}", file=sys.stderr)
    return 0


async def _until_signal(work: Callable[[asyncio.Event], Awaitable[str]]) -> str:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        return await work(stop)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
