"""Operator endpoints for alarms: list them, acknowledge one (admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from detente.api.deps import CurrentNode, OperatorAuth
from detente.node.alarms import acknowledge, list_alarms
from detente.node.operators import require

__all__ = ["router"]

router = APIRouter(prefix="/v1/alarms", tags=["operator"])


@router.get("")
def alarms(
    node: CurrentNode,
    operator: OperatorAuth,
    all: Annotated[bool, Query(description="Include acknowledged alarms.")] = False,  # noqa: A002
) -> dict[str, Any]:
    """Alarms not yet acknowledged (or all), newest first, with their evidence."""
    return {"alarms": [a.to_json() for a in list_alarms(node, include_acknowledged=all)]}


@router.post("/{alarm_id}/acknowledge")
def acknowledge_alarm(
    alarm_id: Annotated[int, Path(ge=1, le=2**31 - 1)], node: CurrentNode, operator: OperatorAuth
) -> dict[str, Any]:
    """Acknowledge an alarm; only an admin may."""
    require(operator, admin=True)
    return acknowledge(node, alarm_id, by=operator.name).to_json()
