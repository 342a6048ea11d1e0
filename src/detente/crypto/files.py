"""Files that hold secrets: created whole, readable by their owner only, never overwritten.

A key, an inventory's salts, a random value committed to before it is
revealed: each is written once, under a temporary name with mode 0600,
synced, and linked into place, which fails if the name exists. A crash
leaves either no file or the whole file, and an earlier secret (one a
commitment in the log still depends on) is never replaced.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "secret"
    >>> create_private_file(path, b"value")
    >>> oct(path.stat().st_mode & 0o777), path.read_bytes()
    ('0o600', b'value')
    >>> create_private_file(path, b"another")
    Traceback (most recent call last):
    ...
    FileExistsError: ...
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

__all__ = ["create_private_file", "fsync_directory"]


def create_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file at ``path``, mode 0600, whole or not at all.

    Raises:
        FileExistsError: ``path`` exists (nothing is written).
        OSError: the file cannot be created or written.
    """
    if os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, "refusing to overwrite", str(path))
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temp, path)
        fsync_directory(path.parent)
    finally:
        temp.unlink(missing_ok=True)


def fsync_directory(directory: Path) -> None:
    """Make a new or removed name in ``directory`` durable; best effort where a
    directory cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
