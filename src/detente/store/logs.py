"""Reading and writing one party's log rows: entries, bodies, checkpoints.

Functions here run inside the caller's transaction and never commit
(one transaction per command, style rule 7).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select

from detente.store.schema import bodies, checkpoints, cosignatures, entries

__all__ = ["EntryRow", "LogStore", "StoredCosignature", "as_bytes"]


def as_bytes(value: object) -> bytes:
    """A stored blob as bytes.

    A value of another type (text written over a blob by hand, say) becomes
    its UTF-8 bytes, which then fail the checks that hash it, instead of
    crashing whatever reads it.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class EntryRow:
    """One stored entry: the exact leaf bytes and, if held, the body."""

    seq: int
    leaf: bytes
    body: bytes | None


@dataclass(frozen=True, slots=True)
class StoredCosignature:
    """A cosignature line as stored, with the checkpoint size it is for."""

    size: int
    cosigner: str
    timestamp: int
    line: str


class LogStore:
    """The rows of ``party``'s log over one open connection."""

    def __init__(self, conn: Connection, party: str) -> None:
        self._conn = conn
        self.party = party

    @property
    def connection(self) -> Connection:
        """The connection (and transaction) these rows are read and written over."""
        return self._conn

    def size(self) -> int:
        """Number of entries held."""
        top = self._conn.execute(
            select(func.max(entries.c.seq)).where(entries.c.party == self.party)
        ).scalar_one_or_none()
        return 0 if top is None else int(top) + 1

    def leaf(self, seq: int) -> bytes | None:
        """The leaf bytes held at ``seq``, or None."""
        value = self._conn.execute(
            select(entries.c.leaf).where(entries.c.party == self.party, entries.c.seq == seq)
        ).scalar_one_or_none()
        return None if value is None else as_bytes(value)

    def body(self, seq: int) -> bytes | None:
        """The body held for ``seq``, or None (not a recipient, or not yet held)."""
        value = self._conn.execute(
            select(bodies.c.body).where(bodies.c.party == self.party, bodies.c.seq == seq)
        ).scalar_one_or_none()
        return None if value is None else as_bytes(value)

    def insert(
        self,
        rows: Sequence[tuple[int, bytes, str, str]],
        bodies_by_seq: Sequence[tuple[int, bytes]],
    ) -> None:
        """Insert entries ``(seq, leaf, type, created)`` and bodies ``(seq, body)``."""
        party = self.party
        if rows:
            self._conn.execute(
                insert(entries),
                [
                    {"party": party, "seq": s, "leaf": leaf, "type": t, "created": c}
                    for s, leaf, t, c in rows
                ],
            )
        if bodies_by_seq:
            self._conn.execute(
                insert(bodies),
                [{"party": party, "seq": s, "body": b} for s, b in bodies_by_seq],
            )

    def iter_entries(
        self, start: int = 0, stop: int | None = None, *, chunk: int = 2000
    ) -> Iterator[list[EntryRow]]:
        """Yield entries in seq order, ``chunk`` at a time, with their bodies."""
        position = start
        while stop is None or position < stop:
            end = position + chunk if stop is None else min(position + chunk, stop)
            query = (
                select(entries.c.seq, entries.c.leaf, bodies.c.body)
                .select_from(
                    entries.outerjoin(
                        bodies,
                        (bodies.c.party == entries.c.party) & (bodies.c.seq == entries.c.seq),
                    )
                )
                .where(
                    entries.c.party == self.party,
                    entries.c.seq >= position,
                    entries.c.seq < end,
                )
                .order_by(entries.c.seq)
            )
            batch = [
                EntryRow(int(s), as_bytes(leaf), None if body is None else as_bytes(body))
                for s, leaf, body in self._conn.execute(query)
            ]
            if not batch:
                return
            yield batch
            position = end

    def entries_of_types(self, types: Collection[str]) -> list[EntryRow]:
        """Every entry whose type is among ``types``, in seq order, with its body if held.

        The ``type`` column is written from the signed header, so the
        engines that need a few types read only those.
        """
        if not types:
            return []
        query = (
            select(entries.c.seq, entries.c.leaf, bodies.c.body)
            .select_from(
                entries.outerjoin(
                    bodies,
                    (bodies.c.party == entries.c.party) & (bodies.c.seq == entries.c.seq),
                )
            )
            .where(entries.c.party == self.party, entries.c.type.in_(sorted(types)))
        )
        # Sorted here, not in SQL: ORDER BY seq leads SQLite to walk the
        # party's whole log by primary key instead of the (party, type) index.
        rows = sorted(self._conn.execute(query), key=lambda row: int(row[0]))
        return [
            EntryRow(int(s), as_bytes(leaf), None if body is None else as_bytes(body))
            for s, leaf, body in rows
        ]

    def add_checkpoint(self, size: int, note: str) -> None:
        """Store a signed checkpoint note for ``size``."""
        self._conn.execute(insert(checkpoints).values(party=self.party, size=size, note=note))

    def checkpoint(self, size: int | None = None) -> tuple[int, str] | None:
        """The checkpoint at ``size`` (default: the newest) as ``(size, note)``."""
        query = select(checkpoints.c.size, checkpoints.c.note).where(
            checkpoints.c.party == self.party
        )
        if size is None:
            query = query.order_by(checkpoints.c.size.desc()).limit(1)
        else:
            query = query.where(checkpoints.c.size == size)
        row = self._conn.execute(query).first()
        return None if row is None else (int(row[0]), str(row[1]))

    def checkpoints(self) -> list[tuple[int, str]]:
        """Every stored checkpoint, by size."""
        rows = self._conn.execute(
            select(checkpoints.c.size, checkpoints.c.note)
            .where(checkpoints.c.party == self.party)
            .order_by(checkpoints.c.size)
        )
        return [(int(s), str(n)) for s, n in rows]

    def add_cosignature(self, size: int, cosigner: str, timestamp: int, line: str) -> None:
        """Store a cosigner's signature line on the checkpoint at ``size``."""
        self._conn.execute(
            insert(cosignatures).values(
                party=self.party, size=size, cosigner=cosigner, timestamp=timestamp, line=line
            )
        )

    def cosignature(self, size: int, cosigner: str) -> StoredCosignature | None:
        """The cosignature by ``cosigner`` on the checkpoint at ``size``, if held."""
        row = self._conn.execute(
            select(cosignatures.c.timestamp, cosignatures.c.line).where(
                cosignatures.c.party == self.party,
                cosignatures.c.size == size,
                cosignatures.c.cosigner == cosigner,
            )
        ).first()
        return None if row is None else StoredCosignature(size, cosigner, int(row[0]), str(row[1]))

    def cosignatures(self, size: int | None = None) -> list[StoredCosignature]:
        """Every stored cosignature of this log (or on the checkpoint at ``size``),
        by size then cosigner."""
        query = (
            select(
                cosignatures.c.size,
                cosignatures.c.cosigner,
                cosignatures.c.timestamp,
                cosignatures.c.line,
            )
            .where(cosignatures.c.party == self.party)
            .order_by(cosignatures.c.size, cosignatures.c.cosigner)
        )
        if size is not None:
            query = query.where(cosignatures.c.size == size)
        rows = self._conn.execute(query)
        return [StoredCosignature(int(s), str(c), int(t), str(line)) for s, c, t, line in rows]
