"""Operator endpoints: suspensions and message obligations, computed from the logs."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from detente.api.deps import CurrentNode, OperatorAuth
from detente.node.measures import obligation_report, suspension_state
from detente.record.envelope import format_time

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["operator"])


@router.get("/suspensions")
async def suspensions(node: CurrentNode, operator: OperatorAuth) -> dict[str, Any]:
    """Every suspension of every log held, with its resumption, and what changed nothing."""
    state = await run_in_threadpool(suspension_state, node)
    now = node.clock()
    return {
        "party": node.party,
        "now": format_time(now),
        "suspensions": [i.to_json(now=now) for i in state.intervals],
        "ignored": [i.to_json() for i in state.ignored],
    }


@router.get("/obligations")
async def obligations(
    node: CurrentNode,
    operator: OperatorAuth,
    since: Annotated[
        date | None,
        Query(description="count periodic exchanges due on this day or later (YYYY-MM-DD)"),
    ] = None,
) -> dict[str, Any]:
    """Every message obligation under the agreement and its state, with the deciding entries."""
    report = await run_in_threadpool(lambda: obligation_report(node, since=since))
    return {
        "party": node.party,
        "now": format_time(node.clock()),
        "obligations": [o.to_json() for o in report.obligations],
        "skipped": [s.to_json() for s in report.skipped],
    }
