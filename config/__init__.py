"""Floorwatch configuration: YAML files and the loader that turns them into frozen settings.

``load_config()`` reads ``FLOORWATCH_CONFIG`` (or the given path), applies ``FLOORWATCH_…``
environment overrides and returns a :class:`FloorwatchConfig` whose ``core`` is the
:class:`streams.settings.CoreSettings` the metric core computes with. ``floorwatch.yaml``
beside this file documents every key and holds the defaults; ``examples/`` holds more.
"""

from __future__ import annotations

from config.loader import (
    DEFAULTS_SOURCE,
    FloorwatchConfig,
    TopicSettings,
    load_config,
    parse_config,
)

__all__ = ["DEFAULTS_SOURCE", "FloorwatchConfig", "TopicSettings", "load_config", "parse_config"]
