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
import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from detente.console.web import current_session
from detente.node.directory import Node
from detente.node.sessions import Session
from detente.record.envelope import Envelope
from detente.store.logs import LogStore
from detente.store.schema import (
    alarms,
    cosignatures,
    early_entries,
    entries,
    priority_lane,
    releases,
    watch_log,
)

__all__ = [
    "STREAM_SECONDS",
    "Snapshot",
    "decode",
    "encode",
    "flash_arrived",
    "router",
    "snapshot",
]

router = APIRouter(prefix="/console", include_in_schema=False)

STREAM_SECONDS = 25.0
POLL_SECONDS = 0.5
_FLASH_SCAN = 200
_COUNTERS = 8
_MAX_EVENT_ID = 8192

SessionDep = Annotated[Session, Depends(current_session)]

Snapshot = tuple[tuple[tuple[str, int], ...], tuple[int, ...], int]
"""(per log: party and size; other tables' counters; unacknowledged alarms)."""


def snapshot(node: Node) -> Snapshot:
    """The sizes that change when anything a page shows changes."""
    with node.database.engine.connect() as conn:
        sizes = tuple(
            (str(party), int(top) + 1)
            for party, top in conn.execute(
                select(entries.c.party, func.max(entries.c.seq))
                .group_by(entries.c.party)
                .order_by(entries.c.party)
            )
        )
        counters = tuple(
            int(conn.execute(query).scalar_one() or 0)
            for query in (
                select(func.count()).select_from(cosignatures),
                select(func.count()).select_from(early_entries),
                select(func.count(priority_lane.c.receipted_at)),
                select(func.max(alarms.c.id)),
                select(func.count(alarms.c.acknowledged_at)),
                select(func.count()).select_from(releases),
                select(func.count(releases.c.decided_at)),
                select(func.max(watch_log.c.id)),
            )
        )
        unacknowledged = int(
            conn.execute(
                select(func.count()).select_from(alarms).where(alarms.c.acknowledged_at.is_(None))
            ).scalar_one()
        )
    return sizes, counters, unacknowledged


def flash_arrived(node: Node, before: Snapshot, after: Snapshot) -> bool:
    """Whether a FLASH message to this party is among the entries new since ``before``."""
    old = dict(before[0])
    with node.database.engine.connect() as conn:
        for party, size in after[0]:
            if party == node.party:
                continue
            start = max(old.get(party, 0), size - _FLASH_SCAN)
            for batch in LogStore(conn, party).iter_entries(start, size):
                for row in batch:
                    header = Envelope.from_leaf(row.leaf).header
                    if header.priority == "FLASH" and node.party in header.to:
                        return True
        # Ahead of the log, through the priority lane.
        if after[1][1] > before[1][1]:
            rows = conn.execute(
                select(early_entries.c.leaf).order_by(early_entries.c.received_at.desc()).limit(20)
            ).scalars()
            for leaf in rows:
                header = Envelope.from_leaf(bytes(leaf)).header
                if header.priority == "FLASH" and node.party in header.to:
                    return True
    return False


def encode(current: Snapshot) -> str:
    """A snapshot as an event id, which the browser sends back when it reconnects."""
    return base64.urlsafe_b64encode(json.dumps(current, separators=(",", ":")).encode()).decode()


def decode(event_id: str | None) -> Snapshot | None:
    """The snapshot of a ``Last-Event-ID`` header, or None if it is not one of ours."""
    if not event_id or len(event_id) > _MAX_EVENT_ID:
        return None
    try:
        sizes, counters, unacknowledged = json.loads(base64.urlsafe_b64decode(event_id))
        return (
            tuple((str(p), int(n)) for p, n in sizes),
            tuple(int(n) for n in counters),
            int(unacknowledged),
        )
    except (ValueError, TypeError, OverflowError):
        return None


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
        last = decode(request.headers.get("last-event-id"))
        if last is not None and len(last[1]) != _COUNTERS:
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
