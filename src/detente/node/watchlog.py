"""The watch log: who was on watch, what they noted and acknowledged.

A risk-reduction centre keeps a log of each shift: who took the watch and
who handed it over, the handover notes, what was acknowledged. The console
writes log-ins and log-outs, lockouts and alarm acknowledgements here by
itself; officers add notes and handovers. Entries are only ever added.

Example:
    >>> import pathlib, tempfile
    >>> from detente.node import init_node
    >>> node = init_node(pathlib.Path(tempfile.mkdtemp()) / "us", party="us",
    ...                  agreement_ref="security-replies-2022")
    >>> _ = add_note(node, operator="alice", kind="handover", text="Quiet night.")
    >>> [e.kind for e in watch_entries(node)]
    ['handover']
    >>> node.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import DBAPIError

from detente.errors import InputError, StoreError
from detente.node.directory import Node
from detente.record.envelope import format_time, parse_time
from detente.store.schema import watch_log

__all__ = [
    "KINDS",
    "NOTE_KINDS",
    "WatchEntry",
    "add_note",
    "current_watch",
    "record",
    "watch_entries",
]

#: Kinds an officer writes: a note, taking the watch, handing it over.
NOTE_KINDS = ("note", "on_watch", "handover")
#: Kinds the node writes by itself.
KINDS = (
    *NOTE_KINDS,
    "login",
    "logout",
    "lockout",
    "acknowledged",
    "proposed",
    "released",
    "rejected",
    "withdrawn",
)
MAX_NOTE_LENGTH = 4000


@dataclass(frozen=True)
class WatchEntry:
    """One line of the watch log."""

    id: int
    at: datetime
    operator: str
    kind: str
    text: str

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON-ready data."""
        return {
            "id": self.id,
            "at": format_time(self.at),
            "operator": self.operator,
            "kind": self.kind,
            "text": self.text,
        }


def record(conn: Connection, *, at: datetime, operator: str, kind: str, text: str) -> int:
    """Add a line in the caller's transaction (the node's own events); its id."""
    result = conn.execute(
        insert(watch_log).values(
            at=format_time(at), operator=operator, kind=kind, text=text[:MAX_NOTE_LENGTH]
        )
    )
    key = result.inserted_primary_key
    assert key is not None  # noqa: S101 - an INSERT always has one
    return int(key[0])


def add_note(node: Node, *, operator: str, kind: str, text: str) -> WatchEntry:
    """Add an officer's note, handover or taking of the watch.

    Raises:
        InputError: the kind is not one officers write, or the text is
            empty (for notes and handovers) or too long.
        StoreError: the database failed; nothing was written.
    """
    if kind not in NOTE_KINDS:
        raise InputError(f"kind {kind!r}: use one of {', '.join(NOTE_KINDS)}")
    text = text.strip()
    if not text and kind != "on_watch":
        raise InputError("text: write the note")
    if len(text) > MAX_NOTE_LENGTH:
        raise InputError(f"text: at most {MAX_NOTE_LENGTH} characters")
    now = node.clock()
    try:
        with node.database.engine.begin() as conn:
            new_id = record(conn, at=now, operator=operator, kind=kind, text=text)
    except DBAPIError as e:
        raise StoreError(f"watch log: database error, nothing was written: {e.orig}") from e
    return WatchEntry(id=new_id, at=now, operator=operator, kind=kind, text=text)


def watch_entries(node: Node, *, limit: int = 200) -> list[WatchEntry]:
    """The newest ``limit`` lines, newest first.

    Raises:
        StoreError: the database failed.
    """
    try:
        with node.database.engine.connect() as conn:
            rows = conn.execute(
                select(watch_log).order_by(watch_log.c.id.desc()).limit(limit)
            ).all()
    except DBAPIError as e:
        raise StoreError(f"watch log: database error: {e.orig}") from e
    return [
        WatchEntry(id=r.id, at=parse_time(r.at), operator=r.operator, kind=r.kind, text=r.text)
        for r in rows
    ]


def current_watch(node: Node) -> str | None:
    """Who holds the watch, from the newest taking or handing over of it.

    Raises:
        StoreError: the database failed.
    """
    try:
        with node.database.engine.connect() as conn:
            row = conn.execute(
                select(watch_log.c.operator, watch_log.c.kind)
                .where(watch_log.c.kind.in_(("on_watch", "handover")))
                .order_by(watch_log.c.id.desc())
                .limit(1)
            ).one_or_none()
    except DBAPIError as e:
        raise StoreError(f"watch log: database error: {e.orig}") from e
    return None if row is None or row.kind == "handover" else str(row.operator)
