"""Operator endpoint: the compliance report of a period (JSON, HTML or PDF), as
``detente report build`` writes it."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from detente.api.deps import CurrentNode, OperatorAuth
from detente.measures.compliance_render import ReportFormat, render
from detente.node.compliance_report import build_compliance_report
from detente.record.envelope import parse_time

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["operator"])

_MEDIA = {
    ReportFormat.json: "application/json",
    ReportFormat.html: "text/html; charset=utf-8",
    ReportFormat.pdf: "application/pdf",
}


@router.get("/report")
async def report(
    node: CurrentNode,
    operator: OperatorAuth,
    start: Annotated[date, Query(alias="from", description="first day of the period")],
    end: Annotated[date, Query(alias="to", description="last day of the period (included)")],
    at: Annotated[
        str | None, Query(description="the instant to judge at, RFC 3339 UTC (default: now)")
    ] = None,
    file_format: Annotated[
        ReportFormat, Query(alias="format", description="json, html (the JSON embedded) or pdf")
    ] = ReportFormat.json,
) -> Response:
    """The compliance report file of the period, with the logs it rests on (verifiable
    offline with ``detente report verify``)."""
    moment = None if at is None else parse_time(at, field_name="at")

    def build() -> bytes:
        built = build_compliance_report(node, start=start, end=end, at=moment)
        return render(built, file_format)

    data = await run_in_threadpool(build)
    return Response(content=data, media_type=_MEDIA[file_format])
