"""Entries taken ahead of the mirror (the priority lane), as the receiver keeps them.

:mod:`detente.exchange.priority` takes a FLASH entry ahead of the entries
before it; this module holds what the mirror does with it afterwards: check
it when the ordinary delivery reaches it, and say when it was receipted.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from detente.errors import ConsistencyError, ForkError
from detente.record.checkpoint import SignedCheckpoint
from detente.store.logs import EntryRow, LogStore, as_bytes
from detente.store.schema import early_entries
from detente.store.tree import StoredTree

__all__ = ["early_entries_ahead", "early_receipt_times", "settle_early"]


def settle_early(conn: Connection, party: str, tree: StoredTree, log_store: LogStore) -> None:
    """Check entries taken ahead against the mirror once it reaches them.

    Called inside the delivery's transaction after its entries are stored:
    the bytes at each early seq must be the bytes taken ahead, and once the
    mirror reaches the early checkpoint's size its root must be the one
    the checkpoint signed.

    Raises:
        ForkError: the log holds other bytes at a seq taken ahead.
        ConsistencyError: the mirror's root differs from the early checkpoint's.
    """
    size = tree.size()
    rows = conn.execute(
        select(early_entries).where(
            early_entries.c.party == party,
            early_entries.c.mirrored == 0,
            early_entries.c.seq < size,
        )
    ).all()
    for row in rows:
        seq = int(row.seq)
        if log_store.leaf(seq) != bytes(row.leaf):
            raise ForkError(
                f"{party}:{seq}: the log delivers other bytes than the entry taken ahead"
            )
        if size < int(row.checkpoint_size):
            continue
        early = SignedCheckpoint.from_text(row.checkpoint).checkpoint
        if tree.root(early.size) != early.root:
            raise ConsistencyError(
                f"{party}'s checkpoint at size {early.size}, shown with {party}:{seq} ahead "
                "of the log, does not match the log as delivered: the sender shows another "
                "history"
            )
        conn.execute(
            update(early_entries)
            .where(early_entries.c.party == party, early_entries.c.seq == seq)
            .values(mirrored=1)
        )


def early_receipt_times(conn: Connection, party: str) -> dict[int, int]:
    """When this node receipted each entry of ``party``'s log it took ahead."""
    rows = conn.execute(
        select(early_entries.c.seq, early_entries.c.received_at).where(
            early_entries.c.party == party
        )
    )
    return {int(seq): int(at) for seq, at in rows}


def early_entries_ahead(conn: Connection, party: str, mirrored: int) -> list[EntryRow]:
    """Entries of ``party``'s log taken ahead that the mirror (of size ``mirrored``) lacks."""
    rows = conn.execute(
        select(early_entries.c.seq, early_entries.c.leaf, early_entries.c.body)
        .where(early_entries.c.party == party, early_entries.c.seq >= mirrored)
        .order_by(early_entries.c.seq)
    )
    return [EntryRow(seq=int(r.seq), leaf=as_bytes(r.leaf), body=as_bytes(r.body)) for r in rows]
