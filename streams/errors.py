"""The one exception tree of Floorwatch.

::

    FloorwatchError
     ├── ConfigError          a configuration file or variable is wrong (names file, path, value)
     ├── RecordError          interval records that cannot be merged (different queues' units…)
     └── UnstableStaffing     reserved for the staffing calculator (traffic ≥ agents)

Invalid *events* are not exceptions: parsing returns a :class:`streams.events.Rejection`
value, because a bad event is an expected input that is routed to the dead-letter topic,
not a failure of the program.
"""

from __future__ import annotations

NO_VALUE: object = object()
"""Marks a :class:`ConfigError` that has no offending value to show (e.g. a missing key)."""


class FloorwatchError(Exception):
    """Base class of every error Floorwatch raises on purpose."""


class ConfigError(FloorwatchError):
    """A configuration value is wrong.

    The message always has the form ``<source>: <path>: <problem>, got <value>`` so that an
    operator can find the line to fix, e.g.
    ``config/floor.yaml: queues[2].threshold_s: expected a number > 0, got -20``.
    """

    def __init__(self, source: str, path: str, problem: str, value: object = NO_VALUE) -> None:
        self.source = source
        self.path = path
        self.problem = problem
        self.value = value
        where = f"{source}: {path}" if path else source
        got = "" if value is NO_VALUE else f", got {_show(value)}"
        super().__init__(f"{where}: {problem}{got}")


class RecordError(FloorwatchError):
    """Interval records that cannot be combined as asked."""


class UnstableStaffing(FloorwatchError):  # noqa: N818 - a state, not a failure name
    """Offered traffic is at or above the number of agents: queues grow without bound."""


def _show(value: object) -> str:
    try:
        text = repr(value)
    except ValueError:
        # an integer too long to print (YAML reads `0xfff…` of any length), or one inside
        # a list or mapping: Python refuses to turn more than 4,300 digits into text
        text = f"a {type(value).__name__} holding an integer too long to show"
        if isinstance(value, int):
            text = f"an integer of {value.bit_length()} bits"
    return text if len(text) <= 120 else text[:117] + "..."
