"""Alarms: what a watch officer must see, kept until an admin acknowledges it.

An alarm is raised once per (kind, party, detail); it is written to the
database and to the log under ``detente.alarms``, carries its portable
evidence where there is one, and stays on every list until acknowledged.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from detente.errors import InputError
from detente.node.directory import Node
from detente.node.watchlog import record
from detente.record.envelope import format_time
from detente.store.schema import alarms

__all__ = ["Alarm", "acknowledge", "list_alarms", "raise_alarm"]

log = logging.getLogger("detente.alarms")


@dataclass(frozen=True)
class Alarm:
    """One alarm as stored."""

    id: int
    raised_at: str
    kind: str
    party: str
    detail: str
    evidence: dict[str, Any] | None
    acknowledged_at: str | None
    acknowledged_by: str | None

    def to_json(self) -> dict[str, Any]:
        """The alarm as the API and ``--format json`` show it."""
        return {
            "id": self.id,
            "raised_at": self.raised_at,
            "kind": self.kind,
            "party": self.party,
            "detail": self.detail,
            "evidence": self.evidence,
            "acknowledged_at": self.acknowledged_at,
            "acknowledged_by": self.acknowledged_by,
        }


def raise_alarm(
    node: Node, *, kind: str, party: str, detail: str, evidence: dict[str, Any] | None = None
) -> bool:
    """Raise an alarm unless the same one was raised before; True if raised.

    The same fact (kind, party and detail) is raised once: an acknowledged
    equivocation that persists does not come back every gossip round. A new
    episode of a condition (a peer stale again after being fresh) has a new
    detail and raises a new alarm. Raising one rings the node's change bell
    (after the commit), so open consoles show it at once.
    """
    with node.database.engine.begin() as conn:
        seen = conn.execute(
            select(alarms.c.id).where(
                alarms.c.kind == kind, alarms.c.party == party, alarms.c.detail == detail
            )
        ).first()
        if seen is not None:
            return False
        conn.execute(
            insert(alarms).values(
                raised_at=format_time(node.clock()),
                kind=kind,
                party=party,
                detail=detail,
                evidence=None if evidence is None else json.dumps(evidence, sort_keys=True),
            )
        )
    log.error("ALARM %s (%s): %s", kind, party, detail)
    node.bell.ring()
    return True


def _row(row: Any) -> Alarm:
    return Alarm(
        id=int(row.id),
        raised_at=row.raised_at,
        kind=row.kind,
        party=row.party,
        detail=row.detail,
        evidence=None if row.evidence is None else json.loads(row.evidence),
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
    )


def list_alarms(node: Node, *, include_acknowledged: bool = False) -> list[Alarm]:
    """Alarms, newest first; by default only those not yet acknowledged."""
    query = select(alarms).order_by(alarms.c.id.desc())
    if not include_acknowledged:
        query = query.where(alarms.c.acknowledged_at.is_(None))
    with node.database.engine.connect() as conn:
        return [_row(row) for row in conn.execute(query)]


def acknowledge(node: Node, alarm_id: int, *, by: str) -> Alarm:
    """Mark an alarm acknowledged by ``by``.

    Raises:
        InputError: no such alarm, or it was acknowledged already.
    """
    with node.database.engine.begin() as conn:
        row = conn.execute(select(alarms).where(alarms.c.id == alarm_id)).first()
        if row is None:
            raise InputError(f"no alarm {alarm_id}")
        if row.acknowledged_at is not None:
            raise InputError(f"alarm {alarm_id} was acknowledged by {row.acknowledged_by}")
        conn.execute(
            update(alarms)
            .where(alarms.c.id == alarm_id)
            .values(acknowledged_at=format_time(node.clock()), acknowledged_by=by)
        )
        record(
            conn,
            at=node.clock(),
            operator=by,
            kind="acknowledged",
            text=f"alarm {alarm_id}: {row.kind} ({row.party})",
        )
        updated = conn.execute(select(alarms).where(alarms.c.id == alarm_id)).one()
    log.warning("alarm %d acknowledged by %s", alarm_id, by)
    return _row(updated)
