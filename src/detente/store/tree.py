"""A party's Merkle tree kept in the database as perfect-subtree rows.

Each row of ``tree_nodes`` is the hash of a perfect subtree (RFC 9162,
section 2.1.1): once complete it never changes. A root or proof for any
past size needs only O(log n) of them, which :mod:`detente.record.merkle`
plans and this module fetches in one query, so no operation loads the
leaves. An append inserts the nodes it completes (amortised two a leaf).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, func, insert, select

from detente.errors import StoreError
from detente.record.merkle import (
    Frontier,
    NodeKey,
    Plan,
    consistency_plan,
    inclusion_plan,
    root_plan,
)
from detente.store.logs import as_bytes
from detente.store.schema import tree_nodes

__all__ = ["StoredTree"]

_FETCH_CHUNK = 400
# Complete nodes never change, so one instance (one unit of work) may keep
# the upper levels it has read: every proof in a tree shares them.
_CACHE_FROM_LEVEL = 6
_CACHE_MAX = 1 << 16


@functools.lru_cache(maxsize=2 * _FETCH_CHUNK)
def _lookup_sql(count: int, marker: str) -> str:
    # Only placeholders are interpolated; every value travels as a parameter.
    pairs = ", ".join([f"(CAST({marker} AS INTEGER), CAST({marker} AS BIGINT))"] * count)
    return (
        f"WITH k(lv, ix) AS (VALUES {pairs}) "  # noqa: S608
        "SELECT t.level, t.idx, t.hash FROM k JOIN tree_nodes t "
        f"ON t.party = {marker} AND t.level = k.lv AND t.idx = k.ix"
    )


class StoredTree:
    """The tree of ``party``'s log over one open connection (no commits here)."""

    def __init__(self, conn: Connection, party: str) -> None:
        self._conn = conn
        self._party = party
        self._frontier: Frontier | None = None
        self._cache: dict[NodeKey, bytes] = {}
        self._marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"

    def _cursor(self) -> Any:
        return self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    def size(self) -> int:
        """Number of leaves stored."""
        if self._frontier is not None:
            return self._frontier.size
        count = self._conn.execute(
            select(func.max(tree_nodes.c.idx)).where(
                tree_nodes.c.party == self._party, tree_nodes.c.level == 0
            )
        ).scalar_one_or_none()
        return 0 if count is None else int(count) + 1

    def nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        """Fetch the given perfect-subtree hashes in one query per 400 keys.

        The keys are joined as a VALUES list, which both SQLite and
        PostgreSQL answer with one index lookup per key (a row-value IN or
        an OR of pairs makes SQLite scan the party's whole tree). Proofs are
        on the hot path, so the query goes to the DB-API cursor of the
        caller's connection (same transaction), skipping SQLAlchemy's
        statement machinery, which costs more than the lookups themselves.

        Raises:
            StoreError: a node the tree must hold is missing.
        """
        cache = self._cache
        found = {key: cache[key] for key in keys if key in cache}
        wanted = [key for key in dict.fromkeys(keys) if key not in found]
        for start in range(0, len(wanted), _FETCH_CHUNK):
            chunk = wanted[start : start + _FETCH_CHUNK]
            params: list[object] = [v for key in chunk for v in key]
            params.append(self._party)
            cursor = self._cursor()
            try:
                cursor.execute(_lookup_sql(len(chunk), self._marker), params)
                rows = cursor.fetchall()
            finally:
                cursor.close()
            for level, idx, digest in rows:
                key, node = (level, idx), digest if type(digest) is bytes else as_bytes(digest)
                found[key] = node
                if level >= _CACHE_FROM_LEVEL and len(cache) < _CACHE_MAX:
                    cache[key] = node
        missing = [k for k in wanted if k not in found]
        if missing:
            level, idx = missing[0]
            raise StoreError(
                f"log {self._party}: tree node level {level} index {idx} is missing "
                f"({len(missing)} missing in all)"
            )
        return found

    def frontier(self) -> Frontier:
        """The right edge of the tree, loaded once per instance."""
        if self._frontier is None:
            size = self.size()
            self._frontier = Frontier.from_nodes(size, self.nodes(root_plan(size).keys))
        return self._frontier

    def append(self, leaf_hashes: Sequence[bytes]) -> bytes:
        """Append leaves, insert the nodes they complete, return the new root."""
        frontier = self.frontier()
        rows: list[dict[str, object]] = []
        party = self._party
        for digest in leaf_hashes:
            for (level, idx), node in frontier.append(digest):
                rows.append({"party": party, "level": level, "idx": idx, "hash": node})
        if rows:
            self._conn.execute(insert(tree_nodes), rows)
        return frontier.root()

    def _run(self, plan: Plan) -> list[bytes]:
        return plan.assemble(self.nodes(plan.keys))

    def root(self, size: int | None = None) -> bytes:
        """The root at ``size`` (default: the current size)."""
        return self._run(root_plan(self.size() if size is None else size))[0]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size``."""
        return self._run(inclusion_plan(index, size))

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 consistency proof between two sizes."""
        return self._run(consistency_plan(old_size, new_size))

    def leaf_hashes(self, start: int, stop: int) -> Mapping[int, bytes]:
        """Stored leaf hashes for seqs in ``[start, stop)``."""
        rows = self._conn.execute(
            select(tree_nodes.c.idx, tree_nodes.c.hash).where(
                tree_nodes.c.party == self._party,
                tree_nodes.c.level == 0,
                tree_nodes.c.idx >= start,
                tree_nodes.c.idx < stop,
            )
        )
        return {int(idx): as_bytes(digest) for idx, digest in rows}
