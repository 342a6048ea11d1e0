"""The watch log page: who was on watch, handover notes, what was acknowledged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from detente.console.web import current_session, read_form, render
from detente.node.directory import Node
from detente.node.sessions import Session
from detente.node.watchlog import NOTE_KINDS, add_note, current_watch, watch_entries

__all__ = ["router"]

router = APIRouter(prefix="/console", include_in_schema=False)

SessionDep = Annotated[Session, Depends(current_session)]


@router.get("/watch")
def watch(request: Request, session: SessionDep) -> Response:
    """The newest lines of the watch log and the form to add one."""
    node: Node = request.app.state.node
    entries = watch_entries(node, limit=300)
    return render(
        request,
        "watch.html",
        session=session,
        entries=entries,
        on_watch=current_watch(node),
        kinds=NOTE_KINDS,
    )


@router.post("/watch")
async def add(request: Request, session: SessionDep) -> Response:
    """Any operator, viewers included, writes notes and takes or hands over the watch."""
    form = await read_form(request, session)
    node: Node = request.app.state.node
    add_note(
        node,
        operator=session.operator.name,
        kind=(form.get("kind") or ["note"])[0],
        text=(form.get("text") or [""])[0],
    )
    return RedirectResponse("/console/watch", status_code=303)
