"""Reading a log's key history from the store: its ``detente.key_*`` entries, folded.

Runs inside the caller's transaction (style rule 7). The history is
recomputed from the exact stored leaves and bodies each time, through
:meth:`detente.record.keyhistory.KeyHistory.apply`, so a key entry that
does not hold (a signature, a body) fails here as it would on receipt.
"""

from __future__ import annotations

from sqlalchemy import Connection

from detente.agreement.system import KEY_TYPES
from detente.crypto.keys import VerifierKey
from detente.errors import DetenteError, VerificationError
from detente.record.envelope import Envelope
from detente.record.keyhistory import KeyHistory
from detente.store.logs import LogStore

__all__ = ["read_key_history"]


def read_key_history(
    conn: Connection, party: str, first: VerifierKey, *, below: int | None = None
) -> KeyHistory:
    """The key history of ``party``'s log as held, starting from ``first``.

    Args:
        conn: An open connection (the caller's transaction).
        party: Whose log.
        first: The key the log starts with (configuration).
        below: Fold only key entries at seqs below this, when given.

    Raises:
        VerificationError: a stored key entry does not parse or does not hold;
            the message names its position.
    """
    history = KeyHistory.starting_with(party, first)
    for row in LogStore(conn, party).entries_of_types(KEY_TYPES):
        if below is not None and row.seq >= below:
            break
        try:
            envelope = Envelope.from_leaf(row.leaf)
            history = history.apply(envelope, row.body)
        except VerificationError:
            raise
        except DetenteError as e:
            raise VerificationError(f"{party}:{row.seq}: stored key entry: {e}") from e
    return history
