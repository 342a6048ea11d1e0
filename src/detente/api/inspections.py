"""Operator endpoints for inspections: the visits, their reports, and each step.

Every POST signs one message into the node's log through the actions of
:mod:`detente.node.visits`, so it is checked before signing like any other
(422 for a draft the fold would not accept, 409 beyond the quota or for a
visit that is over). Secrets (inventory records and salts, sample values)
stay in the node directory; no endpoint returns them before they are sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from detente.api.deps import MAX_OPERATOR_BODY, CurrentNode, OperatorAuth, read_limited
from detente.api.messages import sent, wake_sender
from detente.errors import ConflictError, InputError
from detente.node import visits
from detente.node.inspections import find_visit, inspections_state, quota_states
from detente.node.operators import require
from detente.node.writer import AppendResult
from detente.record.envelope import parse_time
from detente.record.inventory import ItemRecord

__all__ = ["router"]

router = APIRouter(prefix="/v1/inspections", tags=["operator"])

Party = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
Seq = Annotated[int, Path(ge=0, le=10**15)]
Idem = tuple[str, str] | None
IdempotencyKey = Annotated[str | None, Header(max_length=128)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestIn(_In):
    inspection_type: str = Field(max_length=64)
    site: str = Field(max_length=64)
    arrival: str = Field(max_length=40, description="RFC 3339 UTC")
    team_size: int = Field(ge=1, le=1000)
    exercise: bool = False


class InventoryIn(_In):
    site: str = Field(max_length=64)
    records: list[dict[str, str]] = Field(min_length=1, max_length=100000)


class StepIn(_In):
    step: str = Field(pattern=r"^(arrived|at_site|finished)$")
    at: str = Field(max_length=40)


class ObservedIn(_In):
    index: int = Field(ge=0)
    status: str = Field(max_length=256)
    contents: str = Field(max_length=256)
    remark: str | None = Field(default=None, max_length=2000)


class FindingsIn(_In):
    observed: list[ObservedIn] = Field(max_length=100000)


class ReasonIn(_In):
    reason: str = Field(min_length=1, max_length=4000)


class DelayIn(ReasonIn):
    until: str = Field(max_length=40)


class ReportIn(_In):
    remarks: str | None = Field(default=None, max_length=4000)


class EmptyIn(_In):
    pass


@router.get("")
def list_inspections(node: CurrentNode, operator: OperatorAuth) -> dict[str, Any]:
    """Every visit the logs give, and each type's quota for each pair of parties."""
    found = inspections_state(node)
    return {
        "inspections": [v.to_json() for v in found],
        "quotas": [q.to_json() for q in quota_states(node, found)],
    }


@router.get("/{party}/{seq}")
def show_inspection(
    node: CurrentNode, operator: OperatorAuth, party: Party, seq: Seq
) -> dict[str, Any]:
    """One visit (404 if no request ``party:seq`` is held)."""
    return find_visit(node, f"{party}:{seq}").to_json()


@router.get("/{party}/{seq}/report")
def show_report(
    node: CurrentNode, operator: OperatorAuth, party: Party, seq: Seq
) -> dict[str, Any]:
    """The report both sides sign, its SHA-256, who signed it, and the entries it rests on
    (409 before there is one)."""
    visit = find_visit(node, f"{party}:{seq}")
    report = visit.report()
    if report is None:
        raise ConflictError(f"{visit.ref}: no report yet (state {visit.state})")
    return {
        "report": report,
        "report_sha256": visit.report_sha256(),
        "signed_by": sorted(p for p, d in visit.reports.items() if d == visit.report_sha256()),
        "state": visit.state,
        "entries": list(visit.entries),
    }


async def _act(
    request: Request,
    node: CurrentNode,
    operator: OperatorAuth,
    model: type[_In],
    key: str | None,
    action: Callable[[Any, tuple[str, str] | None], AppendResult],
) -> dict[str, Any]:
    require(operator, send=True)
    raw = await read_limited(request, MAX_OPERATOR_BODY)
    try:
        parsed = model.model_validate_json(raw or b"{}")
    except ValueError as e:
        raise InputError(f"body: {str(e).splitlines()[0]}") from e
    idempotency = (operator.name, key) if key else None
    result = await run_in_threadpool(lambda: action(parsed, idempotency))
    wake_sender(request, result)
    return sent(result)


def _time(value: str, name: str) -> datetime:
    return parse_time(value, field_name=name)


@router.post("/inventories", status_code=201)
async def post_inventory(
    request: Request,
    node: CurrentNode,
    operator: OperatorAuth,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Commit to a site's inventory (the records stay on this node, mode 0600)."""

    def run(body: Any, key: tuple[str, str] | None) -> AppendResult:
        records = [
            ItemRecord.from_json(r, where=f"records[{i}]") for i, r in enumerate(body.records)
        ]
        return visits.commit_inventory(node, body.site, records, idempotency=key)

    return await _act(request, node, operator, InventoryIn, idempotency_key, run)


@router.post("", status_code=201)
async def post_request(
    request: Request,
    node: CurrentNode,
    operator: OperatorAuth,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Ask for a visit (422 if it does not fit its type, 409 beyond the quota)."""

    def run(body: Any, key: tuple[str, str] | None) -> AppendResult:
        return visits.request_visit(
            node,
            body.inspection_type,
            body.site,
            _time(body.arrival, "arrival"),
            body.team_size,
            exercise=body.exercise,
            idempotency=key,
        )

    return await _act(request, node, operator, RequestIn, idempotency_key, run)


def _ref_action(
    name: str,
    model: type[_In],
    call: Callable[[Any, str, Any, tuple[str, str] | None], AppendResult],
) -> None:
    async def endpoint(
        request: Request,
        node: CurrentNode,
        operator: OperatorAuth,
        party: Party,
        seq: Seq,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        ref = f"{party}:{seq}"
        return await _act(
            request, node, operator, model, idempotency_key, lambda b, k: call(node, ref, b, k)
        )

    endpoint.__name__ = f"post_{name.replace('-', '_')}"
    router.post(f"/{{party}}/{{seq}}/{name}", status_code=201)(endpoint)


_ref_action("commit", EmptyIn, lambda n, r, b, k: visits.commit_sample(n, r, idempotency=k))
_ref_action("reveal", EmptyIn, lambda n, r, b, k: visits.reveal_sample(n, r, idempotency=k))
_ref_action(
    "step",
    StepIn,
    lambda n, r, b, k: visits.record_step(n, r, b.step, _time(b.at, "at"), idempotency=k),
)
_ref_action("open", EmptyIn, lambda n, r, b, k: visits.open_sample(n, r, idempotency=k))
_ref_action(
    "findings",
    FindingsIn,
    lambda n, r, b, k: visits.record_findings(
        n, r, [o.model_dump(exclude_none=True) for o in b.observed], idempotency=k
    ),
)
_ref_action(
    "report",
    ReportIn,
    lambda n, r, b, k: visits.sign_report(n, r, remarks=b.remarks, idempotency=k),
)
_ref_action(
    "refuse", ReasonIn, lambda n, r, b, k: visits.refuse_visit(n, r, reason=b.reason, idempotency=k)
)
_ref_action(
    "delay",
    DelayIn,
    lambda n, r, b, k: visits.delay_visit(
        n, r, until=_time(b.until, "until"), reason=b.reason, idempotency=k
    ),
)
_ref_action(
    "cancel", ReasonIn, lambda n, r, b, k: visits.cancel_visit(n, r, reason=b.reason, idempotency=k)
)
