"""The database schema: one set of tables for every party's log.

Each row is keyed by ``party``, the log's owner, so a node keeps its own log
and (from the exchange issue on) its mirrors of the others' logs in the
same tables. Envelopes are stored as the exact signed bytes; nothing that
can be recomputed from them is trusted without being recomputed by
``detente verify``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

__all__ = ["bodies", "checkpoints", "cosignatures", "entries", "metadata", "tree_nodes"]

metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    }
)

PARTY = 64

entries = Table(
    "entries",
    metadata,
    Column("party", String(PARTY), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("leaf", LargeBinary, nullable=False),
    Column("type", String(64), nullable=False),
    Column("created", String(40), nullable=False),
)

bodies = Table(
    "bodies",
    metadata,
    Column("party", String(PARTY), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("body", LargeBinary, nullable=False),
)

# Perfect subtrees of RFC 9162: (level, idx) covers leaves
# [idx * 2**level, (idx + 1) * 2**level). Level 0 holds the leaf hashes.
tree_nodes = Table(
    "tree_nodes",
    metadata,
    Column("party", String(PARTY), primary_key=True),
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    # Small rows looked up by key: clustered on the key in SQLite.
    sqlite_with_rowid=False,
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("party", String(PARTY), primary_key=True),
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("note", Text, nullable=False),
)

cosignatures = Table(
    "cosignatures",
    metadata,
    Column("party", String(PARTY), primary_key=True),
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("cosigner", String(256), primary_key=True),
    Column("timestamp", BigInteger, nullable=False),
    Column("line", Text, nullable=False),
)
