"""Operator endpoint for settlement: how far each log held is settled under each policy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from detente.api.deps import CurrentNode, OperatorAuth
from detente.node.settlement import settlement_report

__all__ = ["router"]

router = APIRouter(prefix="/v1/settlement", tags=["operator"])


@router.get("")
def settlement(node: CurrentNode, operator: OperatorAuth) -> dict[str, Any]:
    """Per log held (own first), the newest checkpoint settled under each k-of-n policy."""
    report = settlement_report(node)
    return {
        "party": node.party,
        "role": node.config.role,
        "logs": [
            {"party": party, "policies": [s.to_json() for s in found]}
            for party, found in report.items()
        ],
    }
