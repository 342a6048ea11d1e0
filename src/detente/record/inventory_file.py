"""The host's secret of a committed inventory on disk: one JSON file, mode 0600.

The secret -- every record with its salt -- is what lets the host open the
commitment at an inspection, and what would reveal the whole inventory if
it leaked. It is written once (never over an earlier secret, without which
that commitment could never be opened), readable by its owner only, and
checked against its own root when read back.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from detente.record.inventory import ItemRecord, commit
    >>> kept = commit([ItemRecord("RO-DEV-001", "cell 01", "empty", "none")], site="deveselu")
    >>> path = Path(tempfile.mkdtemp()) / "deveselu.inventory.json"
    >>> save_commitment(path, kept)
    >>> oct(path.stat().st_mode & 0o777), load_commitment(path).root == kept.root
    ('0o600', True)
"""

from __future__ import annotations

import json
from pathlib import Path

from detente.crypto.files import create_private_file
from detente.errors import EncodingError, KeyFileError
from detente.record.inventory import Commitment

__all__ = ["load_commitment", "save_commitment"]


def save_commitment(path: Path | str, commitment: Commitment) -> None:
    """Write the host's secret material as JSON, readable by its owner only.

    The file is written under a temporary name with mode 0600, synced and
    linked into place, which fails if ``path`` exists: the secret of an
    earlier commitment is never overwritten, since without it that
    commitment could never be opened.

    Raises:
        KeyFileError: ``path`` exists or cannot be written.
    """
    path = Path(path)
    data = json.dumps(commitment.to_json(), ensure_ascii=False, separators=(",", ":"))
    try:
        create_private_file(path, data.encode("utf-8"))
    except FileExistsError as e:
        raise KeyFileError(f"refusing to overwrite the inventory secret {path}") from e
    except OSError as e:
        raise KeyFileError(f"cannot create the inventory secret {path}: {e}") from e


def load_commitment(path: Path | str) -> Commitment:
    """Read a secret written by :func:`save_commitment`, checking it gives its root.

    Raises:
        KeyFileError: the file cannot be read.
        EncodingError: it is not an inventory secret, or its records and
            salts do not give the root it names.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise KeyFileError(f"cannot read the inventory secret {path}: {e}") from e
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise EncodingError(f"{path}: not JSON: {e}") from e
    return Commitment.from_json(obj)
