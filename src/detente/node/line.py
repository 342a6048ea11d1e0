"""The emergency line over what a node stores: its state, and the checks on what it signs.

:func:`line_state` reads the line's entries from every log the node holds,
with the receipt times it can see, including what the priority lane
brought ahead of the mirror (a FLASH message is on the console before the
routine backlog before it arrives), and runs the pure fold
(:mod:`detente.measures.hotline`).

:func:`check_line_drafts` refuses, before anything is signed, what the
line's rules forbid: a template that does not exist or blanks that do not
fit it, an acknowledgement of something not addressed to this party or
already acknowledged, an account or status of an incident this party is
not a side of, a reply to a notice it was not given.

Example:
    >>> import tempfile, pathlib
    >>> from detente.node import init_node
    >>> node = init_node(pathlib.Path(tempfile.mkdtemp()) / "ru", party="ru",
    ...                  agreement_ref="security-replies-2022")
    >>> line_state(node).acknowledgements
    ()
    >>> node.close()
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from detente.agreement.hotline import (
    ACK_TYPE,
    INCIDENT_ACCOUNT_TYPE,
    INCIDENT_REPORT_TYPE,
    INCIDENT_STATUS_TYPE,
    LINE_ANSWERS,
    LINE_MESSAGE_TYPE,
    LINE_TYPES,
    NOTICE_TYPE,
)
from detente.agreement.messages import Priority
from detente.errors import BodyError, ConflictError
from detente.exchange.early import early_entries_ahead, early_receipt_times
from detente.measures.entry import Entry
from detente.measures.hotline import Line, fold_line
from detente.node.directory import Node
from detente.node.measures import load_entries
from detente.record.envelope import Envelope, Header
from detente.store.logs import LogStore
from detente.store.schema import early_entries, priority_lane

__all__ = [
    "answer_priority",
    "answer_recipients",
    "check_line_drafts",
    "line_entries",
    "line_since",
    "line_state",
    "line_types",
]


def line_types(node: Node) -> frozenset[str]:
    """The types the line's fold reads: its own and those the hotline acknowledges."""
    hotline = node.agreement.hotline
    acknowledged = hotline.acknowledged if hotline is not None else ()
    return frozenset({*LINE_TYPES, *acknowledged}) & frozenset(node.agreement.message_types)


def line_entries(conn: Connection, node: Node) -> list[Entry]:
    """The line's entries in every log held, with the earliest receipt time known for each."""
    types = line_types(node)
    # Mirror sizes first: a delivery committing while the entries are read
    # then only repeats an entry taken ahead (dropped below), never loses one.
    sizes = {peer.party: LogStore(conn, peer.party).size() for peer in node.config.peers}
    out = load_entries(conn, node, types)
    in_mirror = {e.ref for e in out}
    # Own entries: a receipt through the priority lane comes before the ordinary one.
    lane = {
        (int(r.seq), str(r.peer)): int(r.receipted_at)
        for r in conn.execute(
            select(priority_lane.c.seq, priority_lane.c.peer, priority_lane.c.receipted_at).where(
                priority_lane.c.receipted_at.is_not(None)
            )
        )
    }
    merged: list[Entry] = []
    for entry in out:
        if entry.party == node.party and lane:
            received = dict(entry.received)
            for other, at in received.items():
                stamp = lane.get((entry.seq, other))
                if stamp is not None:
                    early = datetime.fromtimestamp(stamp, UTC)
                    received[other] = early if at is None else min(at, early)
            entry = replace(entry, received=received)
        merged.append(entry)
    # Mirrored entries: taken ahead, or in the mirror with an earlier lane receipt.
    for peer in node.config.peers:
        stamps = early_receipt_times(conn, peer.party)
        if not stamps:
            continue
        for i, entry in enumerate(merged):
            if entry.party == peer.party and entry.seq in stamps:
                at = datetime.fromtimestamp(stamps[entry.seq], UTC)
                held = entry.received.get(node.party)
                merged[i] = replace(
                    entry, received={node.party: at if held is None else min(held, at)}
                )
        for row in early_entries_ahead(conn, peer.party, sizes[peer.party]):
            header = Envelope.from_leaf(row.leaf).header
            if header.type not in types or f"{peer.party}:{row.seq}" in in_mirror:
                continue
            body = None if row.body is None else json.loads(row.body)
            merged.append(
                Entry(
                    party=peer.party,
                    seq=row.seq,
                    type=header.type,
                    created=header.created_at,
                    to=header.to,
                    refs=header.refs,
                    exercise=header.exercise,
                    priority=header.priority,
                    body=body if isinstance(body, dict) else None,
                    received={node.party: datetime.fromtimestamp(stamps[row.seq], UTC)},
                )
            )
    return merged


def answer_recipients(conn: Connection, node: Node, refs: Sequence[str]) -> tuple[str, ...]:
    """Who an answer on the line goes to when its draft names nobody.

    An account or status of an incident goes to every other side of the
    thread, a reply to a notice to every party of the notice, an
    acknowledgement to the sender of the message.
    """
    cited = _cited(conn, refs)
    out: set[str] = set()
    for ref in refs:
        header = cited.get(ref)
        if header is None:
            out.add(ref.partition(":")[0])
        elif header.type in (INCIDENT_REPORT_TYPE, NOTICE_TYPE):
            out.update((header.sender, *header.to))
        else:
            out.add(header.sender)
    return tuple(sorted(out & (node.agreement.party_ids() - {node.party})))


def answer_priority(conn: Connection, node: Node, refs: Sequence[str]) -> str | None:
    """The priority of an acknowledgement that names none: the highest of what it cites."""
    order = [p.value for p in Priority]
    known = [h.priority for h in _cited(conn, refs).values() if h.priority in order]
    return min(known, key=order.index) if known else None


def _cited(conn: Connection, refs: Sequence[str]) -> dict[str, Header]:
    """The headers of the entries ``refs`` cites that this node holds (mirror or
    taken ahead), read one by one: a draft cites a few, the logs hold many."""
    out: dict[str, Header] = {}
    for ref in refs:
        party, _, seq = ref.partition(":")
        if not seq.isdigit():
            continue
        leaf = LogStore(conn, party).leaf(int(seq))
        if leaf is None:
            leaf = conn.execute(
                select(early_entries.c.leaf).where(
                    early_entries.c.party == party, early_entries.c.seq == int(seq)
                )
            ).scalar_one_or_none()
        if leaf is not None:
            out[ref] = Envelope.from_leaf(bytes(leaf)).header
    return out


def line_since(conn: Connection, node: Node) -> datetime:
    """When link tests began to be expected: the first entry of this node's log.

    A node starts its line by sending a link test; before it has written
    anything, nothing is expected yet (now).
    """
    leaf = LogStore(conn, node.party).leaf(0)
    if leaf is None:
        return node.clock()
    return Envelope.from_leaf(leaf).header.created_at


def line_state(node: Node, *, now: datetime | None = None) -> Line:
    """The line as this node's party sees it, at the node's clock."""
    with node.database.engine.connect() as conn:
        entries = line_entries(conn, node)
        since = line_since(conn, node)
    parties = [peer.party for peer in node.config.peers if not peer.witness]
    return fold_line(
        node.agreement,
        entries,
        me=node.party,
        now=now or node.clock(),
        since=since,
        parties=parties,
    )


def check_line_drafts(
    conn: Connection,
    node: Node,
    envelopes: Sequence[Envelope],
    *,
    bodies: Sequence[Mapping[str, Any]],
) -> None:
    """Refuse sealed drafts that break the line's rules (module docstring).

    Raises:
        BodyError: naming the draft and what is wrong.
        ConflictError: the message was already acknowledged by this party.
    """
    if not {e.header.type for e in envelopes} & {LINE_MESSAGE_TYPE, *LINE_ANSWERS}:
        return
    held: list[Entry] | None = None
    for envelope, body in zip(envelopes, bodies, strict=True):
        header = envelope.header
        where = envelope.position
        if header.type == LINE_MESSAGE_TYPE:
            try:
                _check_template(node, body)
            except BodyError as e:
                raise BodyError(f"{where}: {e}") from None
            continue
        if header.type not in LINE_ANSWERS:
            continue
        if not header.refs:
            raise BodyError(f"{where}: refs: a {header.type} must cite the entry it answers")
        if held is None:
            held = line_entries(conn, node)
        by_ref = {e.ref: e for e in held}
        for ref in header.refs:
            target = by_ref.get(ref)
            if target is not None and target.exercise != header.exercise:
                drill = "an exercise" if target.exercise else "a real"
                raise BodyError(
                    f"{where}: exercise: {ref} is {drill} entry; its answer must be marked alike"
                )
            if header.type == ACK_TYPE:
                _check_ack(node, where, ref, target, header.to, held)
            elif header.type in (INCIDENT_ACCOUNT_TYPE, INCIDENT_STATUS_TYPE):
                if target is None or target.type != INCIDENT_REPORT_TYPE:
                    raise BodyError(f"{where}: refs: {ref} is not an incident report held here")
                sides = {target.party, *target.to}
                if node.party not in sides:
                    raise BodyError(f"{where}: refs: {node.party} is not a side of incident {ref}")
                missing = sorted(sides - {node.party} - set(header.to))
                if missing:
                    raise BodyError(
                        f"{where}: to: a {header.type} of {ref} goes to every side of the "
                        f"incident; missing {', '.join(missing)} (or name no recipient)"
                    )
            elif target is None or target.type != NOTICE_TYPE or node.party not in target.to:
                raise BodyError(
                    f"{where}: refs: {ref} is not an out-of-band notice given to {node.party}"
                )
            elif target.party not in header.to:
                raise BodyError(f"{where}: to: a reply to {ref} must go to {target.party}")


def _check_template(node: Node, body: Mapping[str, Any]) -> None:
    template_id = body.get("template")
    if template_id is None:
        if "text" not in body:
            raise BodyError("body: a line message needs a text or a template")
        return
    template = node.agreement.templates.get(str(template_id))
    if template is None:
        known = ", ".join(sorted(node.agreement.templates)) or "none"
        raise BodyError(f"body.template: no template {template_id!r} (known: {known})")
    values = body.get("fields", {})
    template.fill(values if isinstance(values, dict) else {})


def _check_ack(
    node: Node,
    where: str,
    ref: str,
    target: Entry | None,
    to: Sequence[str],
    held: Sequence[Entry],
) -> None:
    hotline = node.agreement.hotline
    acknowledged = set(hotline.acknowledged) if hotline is not None else set()
    if target is None:
        raise BodyError(f"{where}: refs: {ref} is not an entry this node holds")
    if target.type not in acknowledged or node.party not in target.to:
        raise BodyError(
            f"{where}: refs: {ref} is a {target.type}, not a line message to {node.party} "
            "that needs acknowledging"
        )
    if target.party not in to:
        raise BodyError(f"{where}: to: an acknowledgement of {ref} must go to {target.party}")
    for entry in held:
        if entry.type == ACK_TYPE and entry.party == node.party and ref in entry.refs:
            by = (entry.body or {}).get("by") or "this party"
            raise ConflictError(f"{where}: {ref} was already acknowledged by {by} ({entry.ref})")
