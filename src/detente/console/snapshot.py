"""What the console's pages show, summed up as a snapshot of table sizes (pure reads).

A page carries the snapshot it was rendered from (``data-version``) and
the event stream compares against it, so a change that lands between the
page's rendering and the stream's first event is not missed.

The track picture (close-approach screening) is held in the serving
process, not in tables: its part of the snapshot is the
:class:`~detente.node.tracks.TrackService`'s ``version``, which the caller
passes for the pages that show tracks (and 0 for the others, which a
busy feed must not keep refreshing).

Example:
    >>> snapshot = ((("us", 2),), (0,) * 10, 1)
    >>> decode(encode(snapshot)) == snapshot
    True
"""

from __future__ import annotations

import base64
import json

from sqlalchemy import func, select

from detente.agreement.hotline import ACK_TYPE
from detente.node.directory import Node
from detente.record.envelope import Envelope, Header
from detente.store.logs import LogStore
from detente.store.schema import (
    alarms,
    cosignatures,
    early_entries,
    entries,
    priority_lane,
    releases,
    track_alerts,
    watch_log,
)

__all__ = ["COUNTERS", "Snapshot", "decode", "encode", "flash_arrived", "snapshot"]

_FLASH_SCAN = 200
COUNTERS = 10
_MAX_EVENT_ID = 8192

Snapshot = tuple[tuple[tuple[str, int], ...], tuple[int, ...], int]
"""(per log: party and size; other tables' counters; unacknowledged alarms)."""


def snapshot(node: Node, *, tracks_version: int = 0) -> Snapshot:
    """The sizes that change when anything a page shows changes.

    ``tracks_version`` is the track picture's version, for a page that
    shows it; the alerts' drafts sent or dismissed are counted here.
    """
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
                select(func.count(track_alerts.c.decided_at)),
            )
        ) + (int(tracks_version),)
        unacknowledged = int(
            conn.execute(
                select(func.count()).select_from(alarms).where(alarms.c.acknowledged_at.is_(None))
            ).scalar_one()
        )
    return sizes, counters, unacknowledged


def flash_arrived(node: Node, before: Snapshot, after: Snapshot) -> bool:
    """Whether a FLASH message to this party is among the entries new since ``before``.

    A message taken ahead of the log (the priority lane) counts when it is
    taken, not again when the mirror reaches it in order: the alert sounds
    once per message.
    """
    old = dict(before[0])
    with node.database.engine.connect() as conn:
        for party, size in after[0]:
            if party == node.party:
                continue
            start = max(old.get(party, 0), size - _FLASH_SCAN)
            if start >= size:
                continue
            ahead = set(
                conn.execute(
                    select(early_entries.c.seq).where(
                        early_entries.c.party == party,
                        early_entries.c.seq >= start,
                        early_entries.c.seq < size,
                    )
                ).scalars()
            )
            for batch in LogStore(conn, party).iter_entries(start, size):
                for row in batch:
                    if row.seq in ahead:
                        continue
                    if _alerts(Envelope.from_leaf(row.leaf).header, node.party):
                        return True
        # Ahead of the log, through the priority lane.
        if after[1][1] > before[1][1]:
            rows = conn.execute(
                select(early_entries.c.leaf).order_by(early_entries.c.received_at.desc()).limit(20)
            ).scalars()
            for leaf in rows:
                if _alerts(Envelope.from_leaf(bytes(leaf)).header, node.party):
                    return True
    return False


def _alerts(header: Header, party: str) -> bool:
    """A FLASH message to ``party`` sounds the alert; the acknowledgement of one does not
    (it travels at FLASH too, and is good news)."""
    return header.priority == "FLASH" and party in header.to and header.type != ACK_TYPE


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
