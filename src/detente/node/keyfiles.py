"""The node's private key files through a rotation: ``node.key``, ``.next``, ``.retired``.

A rotation (:mod:`detente.node.rotation`) writes the new key to
``node.key.next`` before it appends the rotation entry, and switches the
files only once that entry is committed::

    node.key          the key in force (the current key of the own log)
    node.key.next     a new key, written before its rotation entry commits
    node.key.retired  the key the last rotation replaced, kept (encrypted as
                      node.key is) until every peer holds the rotation

A crash anywhere in between is recovered when the key is next loaded
(:func:`load_current_key`): the own log says which key is in force, and
the files are brought in line with it. Each file is written with mode 0600
and, if the node key is encrypted, encrypted with the same passphrase; no
private key is ever written in clear when the node's is not.

Example:
    >>> import tempfile, pathlib
    >>> from detente.crypto.keys import SigningKey, save_signing_key
    >>> home = pathlib.Path(tempfile.mkdtemp())
    >>> key = SigningKey.generate("log")
    >>> save_signing_key(home / KEY_FILE, key, passphrase=None)
    >>> load_current_key(home, name="log", passphrase=None, current=key.verifier) is not None
    True
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from detente.crypto.files import fsync_directory
from detente.crypto.keys import SigningKey, VerifierKey, load_signing_key
from detente.errors import KeyFileError

__all__ = [
    "KEY_FILE",
    "NEXT_KEY_FILE",
    "RETIRED_KEY_FILE",
    "destroy_retired_key",
    "load_current_key",
    "load_retired_key",
    "switch_to_next_key",
]

KEY_FILE = "node.key"
NEXT_KEY_FILE = "node.key.next"
RETIRED_KEY_FILE = "node.key.retired"

log = logging.getLogger("detente.keys")


def load_current_key(
    directory: Path, *, name: str, passphrase: bytes | None, current: VerifierKey
) -> SigningKey:
    """Load the key in force, ``current``, finishing a rotation a crash interrupted.

    - ``node.key`` is ``current``: it is used; a leftover ``node.key.next``
      (a rotation whose entry never committed) is deleted, since nothing was
      ever signed with it.
    - ``node.key.next`` is ``current``: the rotation entry committed but the
      files were not switched; they are switched now.

    Raises:
        KeyFileError: neither file holds ``current`` (the key files and the
            log disagree), or a file cannot be read or unlocked.
    """
    key = load_signing_key(directory / KEY_FILE, name=name, passphrase=passphrase)
    following = directory / NEXT_KEY_FILE
    if key.verifier == current:
        if following.exists():
            log.warning("%s: deleting a new key whose rotation never committed", following)
            following.unlink()
        return key
    if following.exists():
        new = load_signing_key(following, name=name, passphrase=passphrase)
        if new.verifier == current:
            log.warning("%s: finishing a rotation interrupted after its entry committed", directory)
            switch_to_next_key(directory)
            return new
    raise KeyFileError(
        f"{directory / KEY_FILE}: the key {key.verifier.key_id.hex()} does not match the key "
        f"in force for the node's log, {current.key_id.hex()} (node.verifier_key in "
        "config.toml and the log's detente.key_rotation entries); restore the matching key file"
    )


def switch_to_next_key(directory: Path) -> None:
    """Retire ``node.key`` and put ``node.key.next`` in its place.

    The previous retired key, if any, is destroyed first: a node keeps one
    retired key, the one its peers may still expect (ADR 0005).
    """
    destroy_retired_key(directory)
    os.replace(directory / KEY_FILE, directory / RETIRED_KEY_FILE)
    os.replace(directory / NEXT_KEY_FILE, directory / KEY_FILE)
    fsync_directory(directory)


def load_retired_key(
    directory: Path, *, name: str, passphrase: bytes | None, expected: VerifierKey
) -> SigningKey | None:
    """The retired key if it is still kept and is ``expected``, else None.

    Raises:
        KeyFileError: the file is there but cannot be read or unlocked.
    """
    path = directory / RETIRED_KEY_FILE
    if not path.exists():
        return None
    key = load_signing_key(path, name=name, passphrase=passphrase)
    return key if key.verifier == expected else None


def destroy_retired_key(directory: Path) -> bool:
    """Delete the retired key file, if any; True if one was deleted.

    The file is overwritten with zeros before it is unlinked. On journaling
    or copy-on-write file systems and SSDs that is no guarantee, which is
    why the file is encrypted whenever the node key is.
    """
    path = directory / RETIRED_KEY_FILE
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    with path.open("r+b") as handle:
        handle.write(b"\0" * size)
        handle.flush()
        os.fsync(handle.fileno())
    path.unlink()
    fsync_directory(directory)
    return True
