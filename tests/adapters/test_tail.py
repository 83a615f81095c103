"""The queue_log follower: complete lines only, rotation by rename and by copytruncate, and
restarts from a saved position, with no line lost or repeated."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from floorwatch.adapters.tail import FileFollower, Position


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def line(n: int) -> bytes:
    return f"{1366720000 + n}|call-{n}|Q|NONE|ENTERQUEUE||555{n:04d}|1".encode()


def write(path: Path, numbers: range, mode: str = "ab") -> None:
    with path.open(mode) as out:
        out.write(b"".join(line(n) + b"\n" for n in numbers))


def drain(follower: FileFollower, rounds: int = 5) -> list[bytes]:
    out: list[bytes] = []
    for _ in range(rounds):
        out.extend(follower.read())
    return out


def expected(numbers: range) -> list[bytes]:
    return [line(n) for n in numbers]


def test_only_complete_lines_are_handed_out(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    write(log, range(3))
    with log.open("ab") as out:
        out.write(line(3)[:10])
    follower = FileFollower(log)
    assert drain(follower) == expected(range(3))
    with log.open("ab") as out:
        out.write(line(3)[10:] + b"\r\n")
    assert drain(follower) == [line(3)]


def test_rename_rotation_reads_the_old_file_to_its_end_then_the_new_one(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    clock = Clock()
    write(log, range(10))
    follower = FileFollower(log, rotate_grace_s=2.0, clock=clock)
    assert drain(follower) == expected(range(10))
    os.rename(log, tmp_path / "queue_log.1")
    write(tmp_path / "queue_log.1", range(10, 15))  # the writer still holds the old file
    log.touch()  # logrotate's "create": an empty new file
    assert drain(follower) == expected(range(10, 15))
    write(tmp_path / "queue_log.1", range(15, 17))  # until the writer reopens its log
    assert drain(follower) == expected(range(15, 17))
    clock.now = 3.0  # the old file has been quiet longer than the grace
    write(log, range(17, 20))
    assert drain(follower) == expected(range(17, 20))
    assert follower.rotations == 1


def test_rename_rotation_switches_as_soon_as_the_new_file_has_data(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    write(log, range(5))
    follower = FileFollower(log, rotate_grace_s=3600, clock=Clock())
    assert drain(follower) == expected(range(5))
    os.rename(log, tmp_path / "queue_log.1")
    with (tmp_path / "queue_log.1").open("ab") as out:
        out.write(line(5))  # a last line without its newline: the file is final
    write(log, range(6, 8))
    assert drain(follower) == expected(range(8))[5:]


def test_copytruncate_reads_unread_lines_from_the_copy(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    write(log, range(20))
    follower = FileFollower(log)
    assert drain(follower) == expected(range(20))
    write(log, range(20, 25))  # written after the last read ...
    shutil.copyfile(log, tmp_path / "queue_log.1")  # ... copied ...
    with log.open("r+b") as handle:
        handle.truncate(0)  # ... and truncated before the follower looked
    write(log, range(25, 30))
    assert drain(follower) == expected(range(20, 30))
    assert follower.rotations == 1


def test_truncation_is_seen_even_when_the_file_regrew_past_the_offset(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    write(log, range(5))
    follower = FileFollower(log)
    assert drain(follower) == expected(range(5))
    shutil.copyfile(log, tmp_path / "queue_log.1")
    write(log, range(100, 120), mode="wb")  # truncated and rewritten, now longer than before
    assert drain(follower) == expected(range(100, 120))


def restarted(log: Path, follower: FileFollower) -> FileFollower:
    follower.close()
    position = Position.from_json(follower.position().to_json())  # type: ignore[union-attr]
    return FileFollower(log, position)


def test_restart_continues_at_the_saved_position(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    write(log, range(10))
    follower = FileFollower(log)
    assert drain(follower) == expected(range(10))
    write(log, range(10, 15))
    follower = restarted(log, follower)
    assert drain(follower) == expected(range(10, 15))


def test_restart_after_a_rename_rotation_while_stopped(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    write(log, range(10))
    follower = FileFollower(log)
    assert drain(follower) == expected(range(10))
    follower.close()
    write(log, range(10, 15))
    os.rename(log, tmp_path / "queue_log.1")
    write(log, range(15, 20))
    follower = restarted(log, follower)
    assert drain(follower) == expected(range(10, 20))


def test_restart_after_a_copytruncate_while_stopped(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    write(log, range(10))
    follower = FileFollower(log)
    assert drain(follower) == expected(range(10))
    follower.close()
    write(log, range(10, 15))
    shutil.copyfile(log, tmp_path / "queue_log.1")
    with log.open("r+b") as handle:
        handle.truncate(0)
    write(log, range(15, 18))
    follower = restarted(log, follower)
    assert drain(follower) == expected(range(10, 18))


def test_missing_file_is_waited_for(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    follower = FileFollower(log)
    assert drain(follower) == []
    write(log, range(2))
    assert drain(follower) == expected(range(2))


def test_from_end_skips_what_is_there(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    write(log, range(5))
    follower = FileFollower(log, from_end=True)
    assert drain(follower) == []
    write(log, range(5, 7))
    assert drain(follower) == expected(range(5, 7))


def test_rotated_file_found_at_start_is_finished_before_the_new_one_appears(
    tmp_path: Path,
) -> None:
    log = tmp_path / "queue_log"
    write(log, range(4))
    follower = FileFollower(log)
    assert drain(follower) == expected(range(4))
    follower.close()
    write(log, range(4, 6))
    os.rename(log, tmp_path / "queue_log.1")  # no new file yet
    follower = restarted(log, follower)
    assert drain(follower) == []  # the name is gone: nothing to open yet
    write(log, range(6, 8))
    assert drain(follower) == expected(range(4, 8))
