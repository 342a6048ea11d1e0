"""The exercise clock: a node's time moved forward on purpose, for exercises.

An arms-control exercise runs a visit with 32 hours' notice, or a week of
obligations, in an afternoon. Nodes set up for one (``detente init
--exercise-clock FILE``) read their time as the system clock plus an
offset kept in a small JSON file that every node of the exercise shares;
``detente exercise advance FILE --by 33h`` moves them all forward at once.
Every timestamp the node signs, every deadline it judges and every peer
request it authenticates then runs on that time, so the exercise exercises
the same code as the real thing.

The offset only ever grows: a node's clock never runs back, whatever the
file says, and the file itself is only ever rewritten forward. A node on an
exercise clock says so (``/v1/health``, the console's banner); it is not
for a real network, whose peers would refuse its skewed requests anyway.

The file: ``{"offset_seconds": 118800}``; written whole (temporary file and
rename) by :func:`advance`, re-read by the clock when it changes.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from detente.errors import ConfigError

__all__ = ["ExerciseClock", "advance", "parse_duration", "read_offset", "start"]

# Far more than the file ever holds; a larger one is not ours.
_MAX_FILE = 4096
# Ten years: further is a typo, not an exercise.
_MAX_OFFSET = 10 * 366 * 86400
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(text: str) -> int:
    """Seconds in ``text``: ``33h``, ``1d8h``, ``90m``, ``45s`` or plain seconds.

    Raises:
        ConfigError: not such a duration, or zero.
    """
    text = text.strip()
    if text.isdigit():
        seconds = int(text)
    else:
        found = _DURATION.fullmatch(text)
        if not text or found is None:
            raise ConfigError(
                f"duration {text!r}: give days, hours, minutes and seconds such as "
                "33h, 1d8h, 90m or 3600"
            )
        days, hours, minutes, secs = (int(part or 0) for part in found.groups())
        seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
    if seconds <= 0:
        raise ConfigError(f"duration {text!r}: must be more than zero")
    return seconds


def read_offset(path: Path) -> int:
    """The offset in seconds that ``path`` holds.

    Raises:
        ConfigError: the file is missing, too large, not JSON or its
            ``offset_seconds`` is not a whole number from 0 to ten years;
            the message names the file and the field.
    """
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_FILE + 1)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the exercise clock: {e.strerror}") from e
    if len(raw) > _MAX_FILE:
        raise ConfigError(f"{path}: larger than {_MAX_FILE} bytes; not an exercise clock")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not JSON: {e}") from e
    offset = data.get("offset_seconds") if isinstance(data, dict) else None
    if type(offset) is not int or not 0 <= offset <= _MAX_OFFSET:
        raise ConfigError(
            f"{path}: offset_seconds must be a whole number of seconds from 0 to {_MAX_OFFSET}"
        )
    return offset


def start(path: Path) -> None:
    """Create the clock file at offset 0, unless it exists (then check it)."""
    if path.exists():
        read_offset(path)
        return
    _write(path, 0)


def advance(path: Path, seconds: int) -> int:
    """Move the exercise clock in ``path`` forward by ``seconds``; the new offset.

    Raises:
        ConfigError: the file is not an exercise clock, ``seconds`` is not
            positive, or the offset would pass ten years.
    """
    if seconds <= 0:
        raise ConfigError("the exercise clock only moves forward")
    # One advance at a time: two at once would each read the old offset.
    lock_path = path.with_name(path.name + ".lock")
    try:
        lock = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
    except OSError as e:
        raise ConfigError(f"{lock_path}: cannot lock the exercise clock: {e.strerror}") from e
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        offset = read_offset(path) + seconds
        if offset > _MAX_OFFSET:
            raise ConfigError(f"{path}: an offset of {offset} s passes ten years")
        _write(path, offset)
        return offset
    finally:
        os.close(lock)


def _write(path: Path, offset: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".clock-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps({"offset_seconds": offset}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # every node of the exercise reads it
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class ExerciseClock:
    """A node clock: the system clock plus the offset in ``path``, never running back.

    The file is re-read when it changes (size, inode or modification time);
    one that stops parsing or disappears mid-exercise keeps the last good
    offset rather than stopping the node.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._offset = read_offset(path)
        self._last = datetime.min.replace(tzinfo=UTC)

    @property
    def offset(self) -> timedelta:
        """How far ahead of the system clock this node's time is."""
        with self._lock:
            self._refresh()
            return timedelta(seconds=self._offset)

    def __call__(self) -> datetime:
        with self._lock:
            self._refresh()
            now = datetime.now(UTC) + timedelta(seconds=self._offset)
            self._last = max(self._last, now)
            return self._last

    def _refresh(self) -> None:
        try:
            status = self.path.stat()
        except OSError:
            return
        stamp = (status.st_ino, status.st_size, status.st_mtime_ns)
        if stamp == self._stamp:
            return
        try:
            self._offset = max(self._offset, read_offset(self.path))
        except ConfigError:
            return
        self._stamp = stamp
