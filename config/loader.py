"""Load the Floorwatch configuration: a YAML file, environment overrides, frozen settings.

``load_config()`` is the one call the shells make at start-up. Which file is read:
the ``path`` argument, else the file ``FLOORWATCH_CONFIG`` names, else none at all, which
gives the defaults of DESIGN.md section 5. Environment variables then override single
values (see :mod:`config.env`), and the result is checked as a whole: the first wrong
value raises :class:`streams.errors.ConfigError` naming the source, the path and the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from config import env as env_overrides
from config import files
from config.reader import Reader
from config.schema import read_config
from config.settings import DEFAULTS_SOURCE, FloorwatchConfig, TopicSettings
from streams.errors import ConfigError

__all__ = ["DEFAULTS_SOURCE", "FloorwatchConfig", "TopicSettings", "load_config", "parse_config"]


def load_config(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> FloorwatchConfig:
    """The configuration from ``path`` (or ``FLOORWATCH_CONFIG``, or defaults) and ``env``.

    ``env`` defaults to ``os.environ``. Raises :class:`streams.errors.ConfigError` when the
    file is missing, unreadable or not YAML, or when any value is wrong.
    """
    env = os.environ if env is None else env
    if path is not None:
        source = os.fspath(path)
        return parse_config(files.read(source), source, env)
    named = env_overrides.config_path(env)
    if named is not None:
        return parse_config(files.read(named, env_overrides.CONFIG_VARIABLE), named, env)
    return parse_config(None, DEFAULTS_SOURCE, env)


def parse_config(
    data: object, source: str, env: Mapping[str, str] | None = None
) -> FloorwatchConfig:
    """The configuration in ``data`` (as YAML loads it; None for none) with ``env`` overrides.

    ``source`` names where ``data`` came from in error messages and in the result. ``data``
    itself is not modified. Raises :class:`streams.errors.ConfigError` on any wrong value.
    """
    env = os.environ if env is None else env
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(source, "", "expected a mapping of sections at the top level", data)
    document = {key: _thawed(item) for key, item in data.items()}
    origins = env_overrides.apply(document, env_overrides.overrides(env))
    return read_config(Reader(source, origins), document)


def _thawed(value: object) -> object:
    """A deep copy of ``value`` that env overrides may modify: dicts and lists all the way."""
    if isinstance(value, Mapping):
        return {key: _thawed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_thawed(item) for item in value]
    return value
