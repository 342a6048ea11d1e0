"""The compliance report file of a period, from what a node stores.

:func:`build_compliance_report` takes, for each party, the newest checkpoint
of its log that another party cosigned (for this node's own log, a peer;
for a mirror, this node), every entry up to it with the bodies of the types
a report rests on, and the cosignatures that are the receipts; it compiles
the report from them (:func:`~detente.measures.compliance_report.compile_report`),
so that the file verifies offline as it is.

Example:
    >>> import tempfile, pathlib
    >>> from datetime import date
    >>> from detente.node import init_node
    >>> node = init_node(pathlib.Path(tempfile.mkdtemp()) / "us", party="us",
    ...                  agreement_ref="new-start")
    >>> built = build_compliance_report(node, start=date(2025, 1, 1), end=date(2025, 12, 31))
    >>> built["logs"], built["report"]["period"]
    ({'ru': None, 'us': None}, {'from': '2025-01-01', 'to': '2025-12-31'})
    >>> node.close()
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection

from detente.errors import InputError, StoreError
from detente.measures.compliance_report import FORMAT, Period, compile_report, report_types
from detente.node.directory import Node
from detente.record.checkpoint import Cosignature, SignedCheckpoint, origin_for
from detente.record.envelope import Envelope
from detente.record.log_bundle import LogBundle, is_public
from detente.store.logs import LogStore

__all__ = ["build_compliance_report"]


def build_compliance_report(
    node: Node, *, start: date, end: date, at: datetime | None = None
) -> dict[str, Any]:
    """The self-contained compliance report file of the days ``start`` to ``end``.

    Args:
        node: a party's node.
        start: the first day of the period.
        end: the last day of the period (included).
        at: the instant to judge at; default the node's clock.

    Raises:
        InputError: a witness node (it holds no bodies), or a period that
            ends before it starts.
        StoreError: a cosigned checkpoint or an entry up to it is not held.
    """
    if node.is_witness:
        raise InputError("a witness holds no bodies: build the report on a party's node")
    period = Period(start, end)
    moment = at or node.clock()
    agreement = node.agreement
    parties = sorted(agreement.party_ids())
    held = {node.party, *(p.party for p in node.config.peers if not p.witness)}
    types = report_types(agreement)
    logs: dict[str, LogBundle | None] = {}
    with node.database.engine.connect() as conn:
        for party in parties:
            if party not in held:
                logs[party] = None
                continue
            cosigners = [p for p in parties if p != party] if party == node.party else [node.party]
            logs[party] = _bundle(conn, node, party, cosigners, types, parties)
    report = compile_report(agreement, logs, by=node.party, period=period, at=moment)
    return {
        "v": 1,
        "format": FORMAT,
        "report": report,
        "logs": {p: None if b is None else b.to_json() for p, b in logs.items()},
    }


def _bundle(
    conn: Connection,
    node: Node,
    party: str,
    cosigners: Collection[str],
    types: Collection[str],
    parties: Collection[str],
) -> LogBundle | None:
    """``party``'s log up to its newest checkpoint cosigned by one of ``cosigners``."""
    agreement_id = node.agreement.id
    names = {origin_for(agreement_id, p): p for p in cosigners}
    log = LogStore(conn, party)
    stored = [c for c in log.cosignatures() if c.cosigner in names]
    if not stored:
        return None
    size = max(c.size for c in stored)
    note = log.checkpoint(size)
    if note is None:
        raise StoreError(f"{party}'s checkpoint at size {size} is cosigned but not held")
    envelopes: list[Envelope] = []
    bodies: dict[int, bytes] = {}
    for batch in log.iter_entries(0, size):
        for row in batch:
            envelope = Envelope.from_leaf(row.leaf)
            envelopes.append(envelope)
            # Only bodies addressed to every party: the report goes to all of them.
            public = is_public(envelope, parties)
            if row.body is not None and envelope.header.type in types and public:
                bodies[row.seq] = row.body
    if len(envelopes) != size:
        raise StoreError(
            f"{party}'s log holds {len(envelopes)} entries below its checkpoint {size}"
        )
    return LogBundle(
        party=party,
        checkpoint=SignedCheckpoint.from_text(note[1]),
        envelopes=tuple(envelopes),
        bodies=bodies,
        cosignatures=tuple(
            sorted(
                ((names[c.cosigner], c.size, Cosignature.from_line(c.line)) for c in stored),
                key=lambda c: (c[1], c[0]),
            )
        ),
    )
