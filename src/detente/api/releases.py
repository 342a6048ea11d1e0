"""Operator endpoints for two-person release: list, show, approve, reject, withdraw.

A release is proposed by ``POST /v1/messages`` for a type the agreement
lists under ``two_person_release`` (202). Any operator may read releases;
deciding needs send rights (viewers get 403), approving and rejecting a
second operator, withdrawing the proposer (:mod:`detente.node.releases`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from detente.api.deps import MAX_OPERATOR_BODY, CurrentNode, OperatorAuth, read_limited
from detente.api.messages import sent, wake_sender
from detente.errors import InputError
from detente.node.releases import (
    MAX_REASON,
    ReleaseState,
    approve,
    get_release,
    list_releases,
    reject,
    withdraw,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/releases", tags=["operator"])

ReleaseId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the release's id")]


class Reason(BaseModel):
    """Why a release is rejected (required) or withdrawn (optional)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=MAX_REASON)


async def _reason(request: Request) -> str | None:
    """The reason in the request's body, or None for an empty body."""
    raw = await read_limited(request, MAX_OPERATOR_BODY)
    if not raw.strip():
        return None
    try:
        return Reason.model_validate_json(raw).reason
    except ValueError as e:
        errors = getattr(e, "errors", None)
        first = errors()[0] if callable(errors) else {"loc": (), "msg": str(e)}
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InputError(
            f'{where}: {first["msg"]} (send {{"reason": "..."}}, at most {MAX_REASON} characters)'
        ) from e


@router.get("")
async def releases(
    node: CurrentNode,
    operator: OperatorAuth,
    state: Annotated[ReleaseState | None, Query(description="only releases in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Releases, newest first: what awaits a second operator, and what was decided."""
    found = await run_in_threadpool(lambda: list_releases(node, state=state, limit=limit))
    return {"party": node.party, "releases": [r.to_json() for r in found]}


@router.get("/{release_id}")
async def release(
    release_id: ReleaseId, node: CurrentNode, operator: OperatorAuth
) -> dict[str, Any]:
    """One release (404 if there is none)."""
    found = await run_in_threadpool(get_release, node, release_id)
    return {"release": found.to_json()}


@router.post("/{release_id}/approve", status_code=201)
async def approve_release(
    release_id: ReleaseId, request: Request, node: CurrentNode, operator: OperatorAuth
) -> dict[str, Any]:
    """Approve a release another operator proposed: its message is signed and sent now.

    Answers as ``POST /v1/messages`` does for a sent message, with the
    release. 403 for the proposer or a viewer, 409 if it was decided
    already; if the message is refused now (a suspension sent meanwhile),
    the release stays pending.
    """
    released, result = await run_in_threadpool(lambda: approve(node, release_id, by=operator))
    wake_sender(request, result)
    return {**sent(result), "release": released.to_json()}


@router.post("/{release_id}/reject")
async def reject_release(
    release_id: ReleaseId, request: Request, node: CurrentNode, operator: OperatorAuth
) -> dict[str, Any]:
    """Reject a release another operator proposed, with ``{"reason": ...}``; it is never sent."""
    reason = await _reason(request)
    if reason is None:
        raise InputError('reason: required: send {"reason": "..."} saying why')
    decided = await run_in_threadpool(lambda: reject(node, release_id, by=operator, reason=reason))
    return {"release": decided.to_json()}


@router.post("/{release_id}/withdraw")
async def withdraw_release(
    release_id: ReleaseId, request: Request, node: CurrentNode, operator: OperatorAuth
) -> dict[str, Any]:
    """Withdraw a release one proposed oneself (optionally ``{"reason": ...}``); never sent."""
    reason = await _reason(request)
    decided = await run_in_threadpool(
        lambda: withdraw(node, release_id, by=operator, reason=reason)
    )
    return {"release": decided.to_json()}
