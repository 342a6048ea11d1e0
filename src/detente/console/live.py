"""Live pages: Server-Sent Events telling each open console that the node changed.

The node's state that pages show changes in a handful of tables (entries
of each log, cosignatures, lane receipts, alarms, releases, the watch
log); a snapshot of their sizes is cheap to read. Each open console holds
one event stream; the stream reads the snapshot every half second and
sends a ``change`` event when it differs, carrying a version string, the
number of unacknowledged alarms, and whether a FLASH message addressed to
this party arrived (console.js plays the alert then). The page refetches
itself and swaps its ``data-live`` regions.

A stream ends after :data:`STREAM_SECONDS`; the browser's EventSource
reconnects by itself, so a stopping node is never held open by a console.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from detente.console.snapshot import COUNTERS, Snapshot, decode, encode, flash_arrived, snapshot
from detente.console.web import current_session
from detente.node.directory import Node
from detente.node.sessions import Session

__all__ = ["STREAM_SECONDS", "router"]

router = APIRouter(prefix="/console", include_in_schema=False)

STREAM_SECONDS = 25.0
POLL_SECONDS = 0.5

SessionDep = Annotated[Session, Depends(current_session)]


def _event(current: Snapshot, flash: bool) -> str:
    version = encode(current)
    data = json.dumps({"version": version, "alarms": current[2], "flash": flash})
    return f"id: {version}\nevent: change\ndata: {data}\n\n"


@router.get("/events")
async def events(request: Request, session: SessionDep) -> StreamingResponse:
    """The event stream of this console (text/event-stream)."""
    node: Node = request.app.state.node

    async def stream() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        # Where the page stands: the last event it saw (a reconnection), else
        # the snapshot it was rendered from.
        last = decode(request.headers.get("last-event-id") or request.query_params.get("since"))
        if last is not None and len(last[1]) != COUNTERS:
            last = None
        started = time.monotonic()
        while time.monotonic() - started < STREAM_SECONDS:
            if await request.is_disconnected():
                return
            current = await run_in_threadpool(snapshot, node)
            if current != last:
                flash = last is not None and await run_in_threadpool(
                    flash_arrived, node, last, current
                )
                yield _event(current, flash)
                last = current
            await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
