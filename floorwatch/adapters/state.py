"""Small JSON state files, replaced atomically so a crash leaves the old or the new one."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)


def load_state(path: Path) -> dict[str, Any]:
    """The saved state, or ``{}`` when there is none yet. A state that cannot be read is
    reported and ignored (the runner then starts from the beginning of its input)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    try:
        state = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        log.warning("state file %s is not JSON (%s): starting afresh", path, error)
        return {}
    if not isinstance(state, dict):
        log.warning("state file %s does not hold an object: starting afresh", path)
        return {}
    return state


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path``: a temporary file, fsynced, then renamed over the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as out:
        out.write(orjson.dumps(state))
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
