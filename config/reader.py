"""Walking raw configuration data while keeping track of where each value came from.

:class:`Reader` turns every failed check into a :class:`streams.errors.ConfigError` naming
the source (the file, or ``env FLOORWATCH_…`` for a value an environment variable set), the
dotted path with list indices, what was expected and the offending value.
:class:`Section` reads one mapping of the file, rejecting keys it does not know.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TypeVar

from config.checks import Check, Invalid, KeyPath, suggestion
from streams.errors import NO_VALUE, ConfigError

T = TypeVar("T")


def dotted(path: KeyPath) -> str:
    """``("queues", 2, "threshold_s")`` → ``queues[2].threshold_s``."""
    shown = ""
    for part in path:
        if isinstance(part, int):
            shown += f"[{part}]"
        else:
            shown += f".{part}" if shown else part
    return shown


class Reader:
    """Raises errors that name the source and path of a value.

    ``overridden`` maps each path an environment variable set (or created) to the variable's
    name; an error at or below such a path names the variable instead of the file.
    """

    def __init__(self, source: str, overridden: Mapping[KeyPath, str] | None = None) -> None:
        self.source = source
        self.overridden = dict(overridden or {})

    def source_of(self, path: KeyPath) -> str:
        """Where the value at ``path`` came from: the file or an environment variable."""
        for length in range(len(path), 0, -1):
            variable = self.overridden.get(path[:length])
            if variable is not None:
                return f"env {variable}"
        return self.source

    def error(self, path: KeyPath, problem: str, value: object = NO_VALUE) -> ConfigError:
        """The error to raise for ``value`` at ``path``."""
        return ConfigError(self.source_of(path), dotted(path), problem, value)

    def check(self, value: object, path: KeyPath, check: Check[T]) -> T:
        """``check(value)``, with a failure reported at ``path``."""
        try:
            return check(value)
        except Invalid as invalid:
            raise self.error((*path, *invalid.at), invalid.problem, invalid.value) from None

    def section(
        self,
        value: object,
        path: KeyPath,
        keys: Collection[str],
        nested: Mapping[str, Collection[str]] | None = None,
    ) -> Section:
        """``value`` as a mapping whose keys are all in ``keys``; null reads as empty.

        ``nested`` names the keys of sub-sections, so that a key written one level too high
        (``target`` beside ``threshold_s``) is answered with the path where it belongs.
        """
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise self.error(path, "expected a mapping", value)
        for key in value:
            if not isinstance(key, str) or key not in keys:
                raise self._unknown_key(path, key, keys, nested or {})
        return Section(self, path, value)

    def items(self, value: object, path: KeyPath) -> list[tuple[KeyPath, object]]:
        """The items of a list with their paths; null reads as an empty list."""
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(path, "expected a list", value)
        return [((*path, index), item) for index, item in enumerate(value)]

    def _unknown_key(
        self,
        path: KeyPath,
        key: object,
        keys: Collection[str],
        nested: Mapping[str, Collection[str]],
    ) -> ConfigError:
        name = str(key)
        at = (*path, name)
        # Each known name maps to the path it is written at; this mapping's own keys come first.
        known = {key_name: key_name for key_name in keys}
        for parent, nested_keys in nested.items():
            for nested_key in nested_keys:
                known.setdefault(nested_key, f"{parent}.{nested_key}")
        close = suggestion(name, known)
        if close is not None:
            return self.error(at, f"unknown key (did you mean {known[close]!r}?)")
        return self.error(at, f"unknown key; expected one of: {', '.join(keys)}")


class Section:
    """One mapping of the configuration, its keys already checked against the schema."""

    def __init__(self, reader: Reader, path: KeyPath, values: Mapping[object, object]) -> None:
        self.reader = reader
        self.path = path
        self.values = values

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def at(self, key: str) -> KeyPath:
        """The path of ``key`` in this section."""
        return (*self.path, key)

    def get(self, key: str, check: Check[T], default: T) -> T:
        """The checked value of ``key``, or ``default`` when the key is absent."""
        if key not in self.values:
            return default
        return self.reader.check(self.values[key], self.at(key), check)

    def require(self, key: str, check: Check[T]) -> T:
        """The checked value of ``key``, which must be present."""
        if key not in self.values:
            raise self.reader.error(self.at(key), "required key is missing")
        return self.reader.check(self.values[key], self.at(key), check)

    def section(
        self,
        key: str,
        keys: Collection[str],
        nested: Mapping[str, Collection[str]] | None = None,
    ) -> Section:
        """The sub-mapping under ``key`` (empty when absent)."""
        return self.reader.section(self.values.get(key), self.at(key), keys, nested)

    def items(self, key: str) -> list[tuple[KeyPath, object]]:
        """The items of the list under ``key`` with their paths (none when absent)."""
        return self.reader.items(self.values.get(key), self.at(key))
