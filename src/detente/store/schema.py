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
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

__all__ = [
    "track_alert_events",
    "track_alerts",
    "alarms",
    "audit_trail",
    "bodies",
    "body_parts",
    "checkpoints",
    "console_sessions",
    "cosignatures",
    "deliveries",
    "early_entries",
    "entries",
    "evidence",
    "freshness",
    "gossip_seen",
    "idempotency",
    "metadata",
    "nonces",
    "operators",
    "priority_lane",
    "releases",
    "tree_nodes",
    "watch_log",
]

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
    # Key entries (rotations, revocations) are looked up by type: ADR 0005.
    Index("ix_entries_party_type", "party", "type"),
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

# --- Exchange (migration 0002) ---

# What each peer has of this node's own log. The log itself is the outbox
# (ADR 0003): a peer's backlog is every entry from ``delivered_size`` on.
deliveries = Table(
    "deliveries",
    metadata,
    Column("peer", String(PARTY), primary_key=True),
    Column("delivered_size", BigInteger, nullable=False, default=0),
    Column("receipted_size", BigInteger, nullable=False, default=0),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", String(40), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_contact_at", String(40), nullable=True),
)

operators = Table(
    "operators",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("token_id", String(32), nullable=False, unique=True),
    Column("token_hash", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    # The console (migration 0007): a password for logging in, failed
    # attempts since the last success, a lockout, the interface language.
    Column("password_hash", Text, nullable=True),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", String(40), nullable=True),
    Column("language", String(8), nullable=False, server_default="en"),
)

# A retried submission with the same key gets the envelope it created.
idempotency = Table(
    "idempotency",
    metadata,
    Column("operator", String(64), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("created_at", String(40), nullable=False),
)

# Signed-request nonces seen, kept until the request could no longer be fresh.
nonces = Table(
    "nonces",
    metadata,
    Column("key_id", String(256), primary_key=True),
    Column("nonce", String(128), primary_key=True),
    Column("expires_at", BigInteger, nullable=False, index=True),
)

# Conflicting bytes and inconsistent checkpoints: kept, never dropped.
evidence = Table(
    "evidence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("party", String(PARTY), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("received_at", String(40), nullable=False),
)

# Every refused peer request, with why.
audit_trail = Table(
    "audit_trail",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("peer", String(256), nullable=True),
    Column("method", String(8), nullable=False),
    Column("path", String(512), nullable=False),
    Column("status", Integer, nullable=False),
    Column("reason", Text, nullable=False),
)

# --- Honesty (migration 0003) ---

# What is wrong and needs a person: kept until an admin acknowledges it.
alarms = Table(
    "alarms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("raised_at", String(40), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("party", String(PARTY), nullable=False),
    Column("detail", Text, nullable=False),
    Column("evidence", Text, nullable=True),
    Column("acknowledged_at", String(40), nullable=True),
    Column("acknowledged_by", String(64), nullable=True),
)

# The newest checkpoint of each party each peer has gossiped, kept until the
# mirror has caught up far enough to check it.
gossip_seen = Table(
    "gossip_seen",
    metadata,
    Column("party", String(PARTY), primary_key=True),
    Column("source", String(PARTY), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("note", Text, nullable=False),
    Column("seen_at", String(40), nullable=False),
)

# When each peer last showed a checkpoint of its own log consistent with the
# mirror, with this node's fresh cosignature on it (migration 0004).
freshness = Table(
    "freshness",
    metadata,
    Column("party", String(PARTY), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("confirmed_at", String(40), nullable=False),
    Column("cosignature", Text, nullable=True),
)

# --- Priority lanes (migration 0005) ---

# Sender side: each FLASH entry of this node's own log, per recipient, and
# the recipient's receipt for it when it went ahead of the backlog: its
# cosignature on the checkpoint the entry was proved in.
priority_lane = Table(
    "priority_lane",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("peer", String(PARTY), primary_key=True),
    Column("checkpoint_size", BigInteger, nullable=True),
    Column("cosignature", Text, nullable=True),
    Column("receipted_at", BigInteger, nullable=True),
)

# Receiver side: an entry delivered ahead of the mirror, proved by inclusion
# in a checkpoint consistent with the mirror, and this node's cosignature
# (the receipt). ``mirrored`` is set once the mirror reaches the checkpoint
# and has checked the entry and the root against it.
early_entries = Table(
    "early_entries",
    metadata,
    Column("party", String(PARTY), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("leaf", LargeBinary, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("checkpoint_size", BigInteger, nullable=False),
    Column("checkpoint", Text, nullable=False),
    Column("cosignature", Text, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("mirrored", SmallInteger, nullable=False),
)

# Receiver side: parts of a large body sent ahead of its entry, reassembled
# and checked against the header when the entry arrives, then deleted.
body_parts = Table(
    "body_parts",
    metadata,
    Column("party", String(PARTY), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("start", BigInteger, primary_key=True),
    Column("total", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

# --- The operator console (migration 0007) ---

# A logged-in browser: the cookie holds a random token, the node only its
# SHA-256 digest, with the session's CSRF token and its time limits.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("operator", String(64), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("last_seen_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
)

# The watch log: who logged in and out, took or handed over the watch,
# acknowledged what, and the notes of each shift.
watch_log = Table(
    "watch_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("operator", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("text", Text, nullable=False),
)

# Two-person release: a message one operator proposed, waiting for a second
# to approve it before it is signed into the log (or rejected, or withdrawn).
releases = Table(
    "releases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("type", String(128), nullable=False),
    Column("draft", Text, nullable=False),
    Column("proposed_by", String(64), nullable=False),
    Column("proposed_at", String(40), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", String(40), nullable=True),
    Column("reason", Text, nullable=True),
    Column("seq", BigInteger, nullable=True),
)

# --- Close-approach screening (migration 0008) ---

# One alert per raising of a pair: its state, the latest geometry, the
# thresholds judged by, the two reports behind the latest call, and what
# became of the incident report it drafted (open, sent, released, dismissed).
track_alerts = Table(
    "track_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("a", String(64), nullable=False),
    Column("b", String(64), nullable=False),
    Column("party_a", String(PARTY), nullable=False),
    Column("party_b", String(PARTY), nullable=False),
    Column("domain", String(8), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("raised_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("cleared_at", String(40), nullable=True),
    Column("clear_reason", String(32), nullable=True),
    Column("tcpa_s", Float, nullable=False),
    Column("dcpa_m", Float, nullable=False),
    Column("dalt_m", Float, nullable=True),
    Column("thresholds", Text, nullable=False),
    Column("tracks", Text, nullable=False),
    Column("draft_state", String(16), nullable=False),
    Column("draft_ref", String(96), nullable=True),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", String(40), nullable=True),
)

# Every event of every alert, with the reports that caused it, so the call
# can be recomputed from what this node had at that instant.
track_alert_events = Table(
    "track_alert_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("at", String(40), nullable=False),
    Column("tcpa_s", Float, nullable=True),
    Column("dcpa_m", Float, nullable=True),
    Column("dalt_m", Float, nullable=True),
    Column("reason", String(32), nullable=True),
    Column("tracks", Text, nullable=False),
)
