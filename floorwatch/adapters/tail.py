"""Follow a growing log file line by line, across rotation, from a remembered position.

A :class:`Position` is the file's identity (device and inode), the byte offset after the last
complete line handed out, and a fingerprint of the file's first line. The owner saves it
only after everything handed out so far is safely delivered, so a restart from it neither
skips nor repeats a line.

Rotation, as logrotate does it:

- **rename + new file** (``create``): the open file is renamed (``queue_log.1``) and a new one
  appears under the name. The old file is read to its end first (Asterisk may write to it
  until it reopens its logs, so the switch waits until the new file has data or the old one
  has been quiet for ``rotate_grace_s``); a last line without a newline is handed out then.
- **copytruncate**: the file is copied and truncated in place (same inode, size drops below
  the offset, or the first line changes). Lines written after the last read but before the
  copy are read from the copy (the sibling whose first line has the fingerprint), then the
  truncated file from its start. Lines written between the copy and the truncation are lost
  to any reader: that is copytruncate's own race (see logrotate(8)).
- **while stopped**: a saved inode that is no longer under the name is looked for among the
  siblings (renamed away), read from the saved offset to its end, then the new file from 0.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger(__name__)

_FINGERPRINT_BYTES = 4096
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".z")


@dataclass(frozen=True)
class Position:
    """Where a follower is: which file (device, inode), how far, and its first line's hash."""

    device: int
    inode: int
    offset: int
    fingerprint: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "inode": self.inode,
            "offset": self.offset,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_json(cls, data: object) -> Position | None:
        if not isinstance(data, dict):
            return None
        try:
            fingerprint = data.get("fingerprint")
            return cls(
                int(data["device"]),
                int(data["inode"]),
                int(data["offset"]),
                fingerprint if isinstance(fingerprint, str) else None,
            )
        except (KeyError, TypeError, ValueError):
            return None


def fingerprint_of(handle: BinaryIO) -> str | None:
    """A hash of the file's first complete line; None while it has none."""
    head = os.pread(handle.fileno(), _FINGERPRINT_BYTES, 0)
    end = head.find(b"\n")
    if end < 0:
        return None
    return hashlib.blake2b(head[: end + 1], digest_size=12).hexdigest()


class FileFollower:
    """Complete lines of ``path`` as it grows (see the module doc). Not thread-safe."""

    def __init__(
        self,
        path: Path,
        position: Position | None = None,
        *,
        from_end: bool = False,
        rotate_grace_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._saved = position
        self._from_end = from_end
        self._grace_s = rotate_grace_s
        self._clock = clock
        self._file: BinaryIO | None = None
        self._identity: tuple[int, int] = (0, 0)
        self._offset = 0
        self._fingerprint: str | None = None
        self._draining = False
        """The open file is a rotated-away one found at start: switch at its end."""
        self._quiet_since = clock()
        self._pending: list[bytes] = []
        """Lines found while (re)opening (the rest of a copy), handed out by the next read."""
        self.rotations = 0
        """Rotations seen (rename or truncation), for logs and tests."""

    # -- public ------------------------------------------------------------------------------

    def position(self) -> Position | None:
        """Where the next line starts (after every line handed out so far)."""
        if self._file is None:
            return self._saved
        return Position(*self._identity, self._offset, self._fingerprint)

    def read(self, max_bytes: int = 1 << 20) -> list[bytes]:
        """The complete lines written since the last call (without line endings), at most
        about ``max_bytes`` of them; an empty list when there is nothing new."""
        if self._file is None and not self._open():
            return []
        if self._was_truncated():
            # checked before reading: a file truncated and regrown past the offset would
            # otherwise hand out the middle of its new lines
            truncated = self._truncated()
            return truncated + self._read_lines(max_bytes)
        lines = self._read_lines(max_bytes)
        if lines:
            self._quiet_since = self._clock()
            return lines
        return self._check_rotation(max_bytes)

    def close(self) -> None:
        if self._file is not None:
            self._saved = self.position()
            self._file.close()
            self._file = None

    # -- opening ------------------------------------------------------------------------------

    def _open(self) -> bool:
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            return False
        saved = self._saved
        if saved is None:
            self._start(self.path, current.st_size if self._from_end else 0)
            return True
        if (current.st_dev, current.st_ino) == (saved.device, saved.inode):
            self._start(self.path, saved.offset, saved.fingerprint)
            return True
        rotated = self._sibling_with_inode(saved.device, saved.inode)
        if rotated is not None:
            log.info("%s was rotated while stopped: finishing %s first", self.path, rotated)
            self._start(rotated, saved.offset, saved.fingerprint)
            self._draining = True
            return True
        log.warning(
            "%s was rotated while stopped and the old file (inode %d) is gone: lines after "
            "its offset %d may be missing; reading the new file from its start",
            self.path,
            saved.inode,
            saved.offset,
        )
        self._start(self.path, 0)
        return True

    def _start(self, path: Path, offset: int, fingerprint: str | None = None) -> None:
        if self._file is not None:
            self._file.close()
        handle = path.open("rb")
        info = os.fstat(handle.fileno())
        self._file = handle
        self._identity = (info.st_dev, info.st_ino)
        self._offset = offset
        self._fingerprint = fingerprint
        self._draining = False
        self._quiet_since = self._clock()
        self._pending = []
        if fingerprint is not None and (
            info.st_size < offset or fingerprint_of(handle) not in (None, fingerprint)
        ):
            self._pending = self._truncated()  # copytruncate while we were away

    # -- reading ------------------------------------------------------------------------------

    def _read_lines(self, max_bytes: int) -> list[bytes]:
        assert self._file is not None
        pending, self._pending = self._pending, []
        data = os.pread(self._file.fileno(), max_bytes, self._offset)
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) >= max_bytes:  # one line longer than max_bytes: hand it out cut
                self._offset += len(data)
                return [*pending, data]
            return pending
        self._offset += end + 1
        if self._fingerprint is None:
            self._fingerprint = fingerprint_of(self._file)
        return pending + [line.rstrip(b"\r") for line in data[:end].split(b"\n")]

    def _check_rotation(self, max_bytes: int) -> list[bytes]:
        assert self._file is not None
        try:
            named = os.stat(self.path)
        except FileNotFoundError:
            return []  # renamed away, the new file not there yet: keep reading the old one
        if self._draining:
            return self._switch_to_new(max_bytes)
        if (named.st_dev, named.st_ino) != self._identity:
            quiet_s = self._clock() - self._quiet_since
            if named.st_size == 0 and quiet_s < self._grace_s:
                return []  # the writer may not have reopened its log yet
            return self._switch_to_new(max_bytes)
        return []

    def _was_truncated(self) -> bool:
        """The open file (same inode) is shorter than the offset, or its first line changed."""
        assert self._file is not None
        if self._draining:
            return False
        if os.fstat(self._file.fileno()).st_size < self._offset:
            return True
        if self._fingerprint is None:
            return False
        return fingerprint_of(self._file) not in (None, self._fingerprint)

    def _switch_to_new(self, max_bytes: int) -> list[bytes]:
        """The old file is final: hand out its last partial line, go on with the new file."""
        assert self._file is not None
        tail = os.pread(self._file.fileno(), max_bytes, self._offset)
        lines = [line.rstrip(b"\r") for line in tail.split(b"\n") if line.strip()]
        log.info("%s rotated: now reading the new file", self.path)
        self.rotations += 1
        self._start(self.path, 0)
        return lines + self._read_lines(max_bytes)

    def _truncated(self) -> list[bytes]:
        """The file was truncated in place: the rest of the copy, then restart at 0."""
        lines: list[bytes] = []
        copy = self._copy_of(self._fingerprint) if self._fingerprint else None
        if copy is not None:
            with copy.open("rb") as handle:
                handle.seek(self._offset)
                rest = handle.read()
            lines = [line.rstrip(b"\r") for line in rest.split(b"\n") if line.strip()]
            log.info(
                "%s truncated (copytruncate): %d lines read from the copy %s",
                self.path,
                len(lines),
                copy,
            )
        else:
            log.warning("%s truncated and no copy found: reading it from its start", self.path)
        self.rotations += 1
        self._offset = 0
        self._fingerprint = None
        self._quiet_since = self._clock()
        return lines

    def _siblings(self) -> list[Path]:
        try:
            entries = list(os.scandir(self.path.parent))
        except FileNotFoundError:
            return []
        return [
            Path(entry.path)
            for entry in entries
            if entry.name != self.path.name
            and entry.name.startswith(self.path.name)
            and not entry.name.lower().endswith(_COMPRESSED)
            and entry.is_file(follow_symlinks=False)
        ]

    def _sibling_with_inode(self, device: int, inode: int) -> Path | None:
        for sibling in self._siblings():
            info = sibling.stat()
            if (info.st_dev, info.st_ino) == (device, inode):
                return sibling
        return None

    def _copy_of(self, fingerprint: str) -> Path | None:
        """The newest sibling whose first line has ``fingerprint`` and that reaches the
        offset (the copy copytruncate made)."""
        found: list[tuple[float, Path]] = []
        for sibling in self._siblings():
            with sibling.open("rb") as handle:
                if fingerprint_of(handle) == fingerprint:
                    info = os.fstat(handle.fileno())
                    if info.st_size >= self._offset:
                        found.append((info.st_mtime, sibling))
        return max(found)[1] if found else None
