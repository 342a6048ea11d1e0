"""The measure engines over what a node stores: suspensions and obligations.

Reads the entries the engines need from every log the node holds (its own
and its mirrors), with the receipt times its cosignatures show, and runs
the pure folds of :mod:`detente.measures`. Nothing is stored: the state is
computed on request from the logs, which are the truth (design,
principle 3).

Receipt times, as this node can see them: for its own entries, each
configured peer's first cosignature on a checkpoint containing the entry
(None until there is one); for a mirrored entry, this node's own first
cosignature. A third party's receipt of another's entry is not seen.

Example:
    >>> import tempfile, pathlib
    >>> from detente.node import init_node
    >>> node = init_node(pathlib.Path(tempfile.mkdtemp()) / "us", party="us",
    ...                  agreement_ref="security-replies-2022")
    >>> suspension_state(node).intervals
    ()
    >>> node.close()
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection

from detente.agreement import Agreement
from detente.agreement.hotline import LINE_ANSWERS, LINE_OPENERS
from detente.agreement.suspension import SUSPENSION_TYPES
from detente.errors import BodyError
from detente.measures.entry import Entry
from detente.measures.obligations import Report, fold_obligations, obligation_types
from detente.measures.suspension import Suspensions, check_sending, fold_suspensions
from detente.node.directory import Node
from detente.record.envelope import Envelope
from detente.store.logs import LogStore

__all__ = [
    "check_drafts",
    "default_to",
    "load_entries",
    "obligation_report",
    "record_start",
    "ruled_types",
    "suspension_state",
]


def ruled_types(node: Node) -> frozenset[str]:
    """The message types the obligations fold reads (:func:`obligation_types`)."""
    return obligation_types(node.agreement)


def _first_receipts(log: LogStore, cosigner: str) -> list[tuple[int, int]]:
    """``(size, timestamp)`` of ``cosigner``'s cosignatures on ``log``, by size."""
    return [(c.size, c.timestamp) for c in log.cosignatures() if c.cosigner == cosigner]


def _receipt(receipts: Sequence[tuple[int, int]], seq: int) -> datetime | None:
    # The first receipt (by size) whose checkpoint contains seq: sizes are sorted.
    index = bisect.bisect_right(receipts, (seq, 2**63))
    if index == len(receipts):
        return None
    return datetime.fromtimestamp(receipts[index][1], UTC)


def load_entries(
    conn: Connection, node: Node, types: Collection[str], *, own_only: bool = False
) -> list[Entry]:
    """The entries of ``types`` in every log ``node`` holds (or its own), as engine records.

    Raises:
        EncodingError: a stored leaf does not parse (run ``detente verify``).
    """
    out: list[Entry] = []
    parties = [node.party, *(() if own_only else (peer.party for peer in node.config.peers))]
    for party in parties:
        log = LogStore(conn, party)
        rows = log.entries_of_types(types)
        if not rows:
            continue
        if party == node.party:
            stamps = {peer.party: _first_receipts(log, peer.key.name) for peer in node.config.peers}
        else:
            stamps = {node.party: _first_receipts(log, node.config.key_name)}
        for row in rows:
            header = Envelope.from_leaf(row.leaf).header
            body = None if row.body is None else json.loads(row.body)
            out.append(
                Entry(
                    party=party,
                    seq=row.seq,
                    type=header.type,
                    created=header.created_at,
                    to=header.to,
                    refs=header.refs,
                    exercise=header.exercise,
                    priority=header.priority,
                    body=body if isinstance(body, dict) else None,
                    received={p: _receipt(r, row.seq) for p, r in stamps.items()},
                )
            )
    return out


def record_start(conn: Connection, node: Node) -> date | None:
    """The day of the earliest entry held in any log, or None if none is held."""
    days: list[date] = []
    for party in [node.party, *(peer.party for peer in node.config.peers)]:
        leaf = LogStore(conn, party).leaf(0)
        if leaf is not None:
            days.append(Envelope.from_leaf(leaf).header.created_at.date())
    return min(days, default=None)


def suspension_state(node: Node) -> Suspensions:
    """The suspensions of every party whose log this node holds."""
    with node.database.engine.connect() as conn:
        return fold_suspensions(load_entries(conn, node, SUSPENSION_TYPES))


def obligation_report(node: Node, *, since: date | None = None) -> Report:
    """Every message obligation under the node's agreement, judged at the node's clock.

    Args:
        node: the node.
        since: periodic exchanges due on this day or later are counted;
            default the day of the earliest entry held (today when none is).
    """
    now = node.clock()
    with node.database.engine.connect() as conn:
        entries = load_entries(conn, node, ruled_types(node))
        start = since or record_start(conn, node) or now.astimezone(UTC).date()
    return fold_obligations(node.agreement, entries, now=now, since=start)


def default_to(agreement: Agreement, party: str, type_id: str) -> tuple[str, ...]:
    """Recipients of a draft that names none.

    Every other party for a suspension or resumption (each must hear of it)
    and for what opens something on the emergency line (a message, an
    incident report, a notice, a link test, any other type a person must
    acknowledge); none otherwise. (Answers on the
    line go to whom they answer: :func:`detente.node.line.answer_recipients`.)
    """
    line = agreement.hotline
    on_line = line is not None and type_id in line.acknowledged and type_id not in LINE_ANSWERS
    if type_id in SUSPENSION_TYPES or type_id in LINE_OPENERS or on_line:
        return tuple(sorted(agreement.party_ids() - {party}))
    return ()


def check_drafts(
    conn: Connection,
    node: Node,
    envelopes: Sequence[Envelope],
    *,
    bodies: Sequence[Mapping[str, Any]],
) -> None:
    """Refuse sealed drafts the node's own suspensions forbid, in order, within one append.

    Args:
        conn: the writer's connection (inside its transaction).
        node: the node.
        envelopes: the envelopes sealed (not yet stored), in append order.
        bodies: their bodies, parsed.

    Raises:
        SuspendedError: an envelope's type is suspended, or a suspension or
            resumption conflicts with the state (see
            :func:`detente.measures.suspension.check_sending`).
        BodyError: a suspension names a type this party may not send, is
            not addressed to every other party, or takes effect in the past.
    """
    # Only this party's own suspensions bind what it sends.
    entries = load_entries(conn, node, SUSPENSION_TYPES, own_only=True)
    for envelope, body in zip(envelopes, bodies, strict=True):
        header = envelope.header
        check_sending(
            node.agreement,
            fold_suspensions(entries),
            party=node.party,
            type_id=header.type,
            body=body,
            exercise=header.exercise,
            created=header.created_at,
        )
        if header.type not in SUSPENSION_TYPES:
            continue
        missing = sorted(node.agreement.party_ids() - {node.party} - set(header.to))
        if missing and not header.exercise:
            raise BodyError(
                f"{envelope.position}: to: a {header.type} must be addressed to every other "
                f"party; missing {', '.join(missing)} (or name no recipient)"
            )
        entries.append(
            Entry(
                party=node.party,
                seq=header.seq,
                type=header.type,
                created=header.created_at,
                to=header.to,
                exercise=header.exercise,
                body=body,
            )
        )
