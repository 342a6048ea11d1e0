"""Operator endpoints for the emergency line: its state, and acknowledging a message.

Everything else on the line (messages, incident reports, accounts, notices)
is sent with ``POST /v1/messages`` like any other type; acknowledging has
its own endpoint because the node fills in what it must carry (the cited
message, its sender, its priority, who acknowledged).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from detente.api.deps import MAX_OPERATOR_BODY, CurrentNode, OperatorAuth, read_limited
from detente.api.messages import sent, wake_sender
from detente.errors import InputError
from detente.node.hotline import acknowledge
from detente.node.line import line_state
from detente.node.operators import require
from detente.record.envelope import parse_time

__all__ = ["router"]

router = APIRouter(prefix="/v1/hotline", tags=["operator"])


class AckIn(BaseModel):
    """An acknowledgement: the message read, and an optional note."""

    model_config = ConfigDict(extra="forbid")
    ref: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,63}:\d{1,15}$", description="party:seq")
    note: str | None = Field(default=None, max_length=1000)


@router.get("")
def hotline(
    node: CurrentNode,
    operator: OperatorAuth,
    at: Annotated[
        str | None,
        Query(
            max_length=40,
            description="Judge the line at this RFC 3339 UTC time instead of now: a look-ahead "
            "(what will be overdue by then if nothing more arrives). Read-only.",
        ),
    ] = None,
) -> dict[str, Any]:
    """The line as this party sees it: acknowledgements owed both ways with their
    deadlines and escalation, link tests, incident threads, out-of-band notices."""
    when = None if at is None else parse_time(at, field_name="at")
    if when is not None and when < node.clock():
        raise InputError(
            f"at: {at} is in the past; the line is judged from what is held now, so a past "
            "time would count what came later (look ahead only)"
        )
    return line_state(node, now=when).to_json()


@router.post("/acknowledge", status_code=201)
async def acknowledge_message(
    request: Request,
    node: CurrentNode,
    operator: OperatorAuth,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> dict[str, Any]:
    """Acknowledge a message on the line as read by this operator (409 if already)."""
    require(operator, send=True)
    raw = await read_limited(request, MAX_OPERATOR_BODY)
    try:
        ack = AckIn.model_validate_json(raw)
    except ValueError as e:
        raise InputError(f"acknowledgement: {str(e).splitlines()[0]}") from e
    key = (operator.name, idempotency_key) if idempotency_key else None
    result = await run_in_threadpool(
        lambda: acknowledge(node, ack.ref, by=operator.name, note=ack.note, idempotency=key)
    )
    wake_sender(request, result)
    return sent(result)
