"""Environment variables that override the configuration file.

- ``FLOORWATCH_CONFIG`` names the file; ``FLOORWATCH_BROKER`` sets ``broker`` (taken
  literally; empty means unset).
- ``FLOORWATCH_<A>__<B>[__<C>…]`` sets the path ``a.b.c`` (keys lower-cased) to its value
  read as YAML, so ``FLOORWATCH_WINDOWS__ROLLING_MIN="[15, 60]"`` sets a list. Paths go
  through mappings only: a list (``queues``) is overridden as a whole.
- Any other ``FLOORWATCH_…`` variable (tokens, passwords) is not configuration and is ignored.

Overrides are applied to the raw data before it is checked, so a wrong or unknown override
fails exactly like the same value in the file, with the variable named as the source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from config.checks import KeyPath
from config.files import Loader
from config.reader import dotted
from streams.errors import ConfigError

PREFIX = "FLOORWATCH_"
CONFIG_VARIABLE = "FLOORWATCH_CONFIG"
BROKER_VARIABLE = "FLOORWATCH_BROKER"
_NESTING = "__"


@dataclass(frozen=True)
class Override:
    """One environment variable that sets one path of the configuration."""

    variable: str
    keys: tuple[str, ...]
    raw: str
    as_yaml: bool = True
    """False for ``FLOORWATCH_BROKER``: a URL is taken as it is."""

    @property
    def source(self) -> str:
        return f"env {self.variable}"

    def value(self) -> object:
        """The value to set: the text read as one YAML value (or the text itself)."""
        if not self.as_yaml:
            return self.raw
        try:
            return yaml.load(self.raw, Loader=Loader)
        except yaml.YAMLError as error:
            marked = isinstance(error, yaml.MarkedYAMLError) and error.problem
            problem = marked or str(error)
            raise ConfigError(
                self.source, dotted(self.keys), f"expected a YAML value ({problem})", self.raw
            ) from None


def config_path(env: Mapping[str, str]) -> str | None:
    """The configuration file ``FLOORWATCH_CONFIG`` names, if it is set and not empty."""
    return env.get(CONFIG_VARIABLE) or None


def overrides(env: Mapping[str, str]) -> list[Override]:
    """The overrides ``env`` holds, shallow paths first so deeper ones refine them."""
    found: list[Override] = []
    broker = env.get(BROKER_VARIABLE)
    if broker:
        found.append(Override(BROKER_VARIABLE, ("broker",), broker, as_yaml=False))
    for variable, raw in env.items():
        if not variable.startswith(PREFIX) or _NESTING not in variable[len(PREFIX) :]:
            continue
        keys = tuple(key.lower() for key in variable[len(PREFIX) :].split(_NESTING))
        if not all(keys):
            raise ConfigError(
                f"env {variable}",
                "",
                "expected FLOORWATCH_<SECTION>__<KEY> with a name between every '__'",
            )
        found.append(Override(variable, keys, raw))
    return sorted(found, key=lambda override: (len(override.keys), override.variable))


def apply(data: dict[object, object], found: list[Override]) -> dict[KeyPath, str]:
    """Set every override in ``data`` (in place).

    Returns the variable behind each path an override set or created, so that an error
    found there later names the variable instead of the file.
    """
    origins: dict[KeyPath, str] = {}
    for override in found:
        for path in _set(data, override):
            origins[path] = override.variable
    return origins


def _set(data: dict[object, object], override: Override) -> list[KeyPath]:
    """Set ``override`` in ``data``; the paths it created and set, outermost first."""
    value = override.value()
    node = data
    created: list[KeyPath] = []
    *parents, last = override.keys
    for depth, key in enumerate(parents):
        path = override.keys[: depth + 1]
        child = node.get(key)
        if child is None:
            child = node[key] = {}
            created.append(path)
        if not isinstance(child, dict):
            problem = f"expected a mapping to set {override.keys[depth + 1]!r} in"
            if isinstance(child, list):
                problem += " (a list is overridden as a whole)"
            raise ConfigError(override.source, dotted(path), problem, child)
        node = child
    node[last] = value
    return [*created, override.keys]
