"""Reading a log's key history from the store: its ``detente.key_*`` entries, folded.

Runs inside the caller's transaction (style rule 7). The history is
recomputed from the exact stored leaves and bodies each time, through
:meth:`detente.record.keyhistory.KeyHistory.apply`, so a key entry that
does not hold (a signature, a body) fails here as it would on receipt.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from detente.agreement.system import KEY_TYPES
from detente.crypto.keys import VerifierKey
from detente.errors import DetenteError, VerificationError
from detente.record.envelope import Envelope
from detente.record.keyhistory import KeyHistory
from detente.store.logs import as_bytes
from detente.store.schema import bodies, entries

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
    query = (
        select(entries.c.seq, entries.c.leaf, bodies.c.body)
        .select_from(
            entries.outerjoin(
                bodies, (bodies.c.party == entries.c.party) & (bodies.c.seq == entries.c.seq)
            )
        )
        .where(entries.c.party == party, entries.c.type.in_(sorted(KEY_TYPES)))
        .order_by(entries.c.seq)
    )
    if below is not None:
        query = query.where(entries.c.seq < below)
    history = KeyHistory.starting_with(party, first)
    for seq, leaf, body in conn.execute(query):
        try:
            envelope = Envelope.from_leaf(as_bytes(leaf))
            history = history.apply(envelope, None if body is None else as_bytes(body))
        except VerificationError:
            raise
        except DetenteError as e:
            raise VerificationError(f"{party}:{seq}: stored key entry: {e}") from e
    return history
