"""Freshness: a party that stops publishing shows as stale, not silent.

A checkpoint does not change while a party sends nothing, so silence and
a node that is gone look alike. In every gossip round each peer answers
with the newest checkpoint of its own log; when it is consistent with the
mirror, this node re-cosigns it with a fresh timestamp (C2SP
tlog-cosignature) and records when. A peer not confirmed within the
agreement's link-test interval (the hotline's, else one hour) is stale:
``GET /v1/peers`` says so and a ``stale_log`` alarm is raised.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from detente.node.alarms import raise_alarm
from detente.node.directory import Node
from detente.record.checkpoint import SignedCheckpoint, cosign
from detente.record.envelope import format_time, parse_time
from detente.store.schema import freshness
from detente.store.tree import StoredTree

__all__ = ["confirm_fresh", "fresh_since", "raise_stale", "stale_after"]

_DEFAULT_STALE = timedelta(hours=1)


def stale_after(node: Node) -> timedelta:
    """How long a peer may go unconfirmed: the agreement's link-test interval."""
    hotline = node.agreement.hotline
    return hotline.link_test_interval.delta if hotline is not None else _DEFAULT_STALE


def confirm_fresh(node: Node, *, party: str, signed: SignedCheckpoint) -> bool:
    """Record that ``party`` just showed ``signed``; re-cosign it if the mirror agrees.

    The caller has checked the signature. Returns True when the checkpoint
    was consistent with the mirror (or beyond it, not yet checkable).
    """
    checkpoint = signed.checkpoint
    now = node.clock()
    line: str | None = None
    with node.database.engine.begin() as conn:
        tree = StoredTree(conn, party)
        if checkpoint.size <= tree.size():
            if tree.root(checkpoint.size) != checkpoint.root:
                return False
            line = cosign(checkpoint, node.key, timestamp=int(now.timestamp())).to_line()
        values = {"size": checkpoint.size, "confirmed_at": format_time(now), "cosignature": line}
        done = conn.execute(update(freshness).where(freshness.c.party == party).values(**values))
        if done.rowcount == 0:
            conn.execute(insert(freshness).values(party=party, **values))
    return True


def fresh_since(node: Node, party: str) -> datetime | None:
    """When ``party`` was last confirmed fresh, if ever."""
    with node.database.engine.connect() as conn:
        value = conn.execute(
            select(freshness.c.confirmed_at).where(freshness.c.party == party)
        ).scalar_one_or_none()
    return None if value is None else parse_time(str(value))


def raise_stale(node: Node) -> list[str]:
    """Raise a ``stale_log`` alarm for each peer not confirmed in time; return them."""
    now = node.clock()
    limit = stale_after(node)
    stale = []
    for peer in node.config.peers:
        since = fresh_since(node, peer.party)
        if since is not None and now - since > limit:
            stale.append(peer.party)
            raise_alarm(
                node,
                kind="stale_log",
                party=peer.party,
                detail=(
                    f"{peer.party} has not shown its log for more than {limit}; "
                    f"last confirmed {format_time(since)}"
                ),
            )
    return stale
