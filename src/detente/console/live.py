"""Live pages: Server-Sent Events telling each open console that the node changed.

The node's state that pages show changes in a handful of tables (entries
of each log, cosignatures, lane receipts, alarms, releases, the watch
log); a snapshot of their sizes is cheap to read. Each open console holds
one event stream; the stream reads the snapshot and sends a ``change``
event when it differs, carrying a version string, the number of
unacknowledged alarms, and whether a FLASH message addressed to this party
arrived (console.js plays the alert then). The page refetches itself and
swaps its ``data-live`` regions.

When to read it again: as soon as the node's change bell rings
(:mod:`detente.node.bell`), which this process rings once a request that
may have changed state is handled, a delivery was receipted, a gossip
round ended or an alarm was raised; an open console then hears of a FLASH
message within milliseconds of its arrival. At the latest after
:data:`POLL_SECONDS` all the same: another process writing the same
database (the CLI) does not ring this process's bell. With
``DETENTE_CONSOLE_PUSH=0`` in the node's environment at start, streams
only poll (the reference the benchmark compares against).

The track picture of close-approach screening lives in the serving
process: its version (which grows with every report and alert event)
counts only for the pages that show it, whose stream says ``?tracks=1``
(:func:`detente.console.web.shows_tracks`). A report rings no bell unless
it raises, updates or clears an alert (a request posting it does, as any
write), so the poll picks up a feed's reports. Units move without reports:
the map refreshes its picture on a timer of its own as well (``console.js``,
``data-live-every``).

A stream ends after :data:`STREAM_SECONDS`; the browser's EventSource
reconnects by itself, so a stopping node is never held open by a console.
A stream the node ends itself says ``retry`` :data:`RECONNECT_MS` last, so
the console is back within milliseconds and a FLASH message arriving in
between waits no longer; the next stream sets a second again, for a node
that went away.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from detente.console.snapshot import COUNTERS, Snapshot, decode, encode, flash_arrived
from detente.console.web import current_session, page_snapshot
from detente.node.directory import Node
from detente.node.sessions import Session

__all__ = ["POLL_SECONDS", "PUSH_ENV", "STREAM_SECONDS", "push_enabled", "router"]

router = APIRouter(prefix="/console", include_in_schema=False)

STREAM_SECONDS = 25.0
#: The browser's wait before reconnecting after a stream the node ended itself.
RECONNECT_MS = 50
POLL_SECONDS = 0.5
PUSH_ENV = "DETENTE_CONSOLE_PUSH"
_OFF = frozenset({"0", "false", "no", "off"})

SessionDep = Annotated[Session, Depends(current_session)]


def push_enabled() -> bool:
    """Whether streams wake on the change bell: unless :data:`PUSH_ENV` says 0 (or off)."""
    return os.environ.get(PUSH_ENV, "1").strip().lower() not in _OFF


def _event(current: Snapshot, flash: bool) -> str:
    version = encode(current)
    data = json.dumps({"version": version, "alarms": current[2], "flash": flash})
    return f"id: {version}\nevent: change\ndata: {data}\n\n"


@router.get("/events")
async def events(request: Request, session: SessionDep) -> StreamingResponse:
    """The event stream of this console (text/event-stream); ``?tracks=1`` counts the
    track picture's changes too (the map's and the alerts' pages ask for it)."""
    node: Node = request.app.state.node
    push: bool = request.app.state.console_push
    tracks = request.query_params.get("tracks") == "1"

    async def stream() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        # Where the page stands: the last event it saw (a reconnection), else
        # the snapshot it was rendered from.
        last = decode(request.headers.get("last-event-id") or request.query_params.get("since"))
        if last is not None and len(last[1]) != COUNTERS:
            last = None
        ends = time.monotonic() + STREAM_SECONDS
        while time.monotonic() < ends:
            if await request.is_disconnected():
                return
            # Before reading: a ring while the snapshot is read wakes the wait below.
            rings = node.bell.rings
            current = await run_in_threadpool(page_snapshot, request, tracks=tracks)
            if current != last:
                flash = last is not None and await run_in_threadpool(
                    flash_arrived, node, last, current
                )
                yield _event(current, flash)
                last = current
            pause = max(0.0, min(POLL_SECONDS, ends - time.monotonic()))
            if push:
                await node.bell.wait(pause, since=rings)
            else:
                await asyncio.sleep(pause)
        # Ending the stream ourselves: come back at once (the next stream sets
        # the ordinary retry again, for a node that went away).
        yield f"retry: {RECONNECT_MS}\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
