"""Where each peer stands with this node's log: the send cursor and retry state."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy import Connection, insert, select, update

from detente.node.directory import Node
from detente.store.schema import deliveries

__all__ = ["DeliveryState", "delivery_states", "error_kind", "held_size", "save_delivery"]


@dataclass(frozen=True)
class DeliveryState:
    """Where a peer stands with this node's log."""

    peer: str
    delivered_size: int
    receipted_size: int
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    last_contact_at: str | None


def delivery_states(conn: Connection, node: Node) -> dict[str, DeliveryState]:
    """Every configured peer's delivery state (peers never tried start at zero)."""
    rows = {row.peer: row for row in conn.execute(select(deliveries))}
    states = {}
    for peer in node.config.peers:
        row = rows.get(peer.party)
        states[peer.party] = DeliveryState(
            peer=peer.party,
            delivered_size=int(row.delivered_size) if row else 0,
            receipted_size=int(row.receipted_size) if row else 0,
            attempts=int(row.attempts) if row else 0,
            next_attempt_at=row.next_attempt_at if row else None,
            last_error=row.last_error if row else None,
            last_contact_at=row.last_contact_at if row else None,
        )
    return states


def save_delivery(conn: Connection, peer: str, **values: object) -> None:
    """Update ``peer``'s delivery state, creating it at zero first if it has none."""
    done = conn.execute(update(deliveries).where(deliveries.c.peer == peer).values(**values))
    if done.rowcount == 0:
        row: dict[str, object] = {
            "peer": peer,
            "delivered_size": 0,
            "receipted_size": 0,
            "attempts": 0,
            "next_attempt_at": None,
            "last_error": None,
            "last_contact_at": None,
        }
        row.update(values)
        conn.execute(insert(deliveries).values(**row))


def error_kind(response: httpx.Response) -> str | None:
    """The error class a peer names in its answer (``{"error": ...}``), if any."""
    try:
        kind = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    return kind if isinstance(kind, str) else None


def held_size(response: httpx.Response) -> int | None:
    """How much of this node's log a peer says it holds, from a refusal, if it says."""
    try:
        held = response.json().get("held")
    except (ValueError, AttributeError):
        return None
    return held if isinstance(held, int) and held >= 0 else None
