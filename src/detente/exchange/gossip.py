"""Gossip: peers compare the checkpoints they hold of every party.

Each party delivers its own log to every peer, so a party that shows two
histories shows each peer a consistent one; only comparing what the peers
hold catches it. In every gossip round a node sends each peer the newest
checkpoint it holds of every party (its own included) and gets the peer's
back (``POST /v1/peer/gossip``). Each checkpoint received is checked
against what this node holds of that party's log:

* a size the mirror reaches: the mirror's root at that size must be the
  checkpoint's root. If not, the party signed two histories, and the node
  raises an ``equivocation`` alarm carrying portable evidence
  (:mod:`detente.record.evidence`): the received checkpoint with the
  node's own held checkpoint of the same or a larger size and, for
  different sizes, the consistency proof from the mirror;
* a size beyond the mirror: kept (``gossip_seen``) and checked again each
  round as the mirror grows.

A checkpoint of this node's own log that this node's tree does not have
means its own key signed another history: a ``own_key_misused`` alarm.

Each note carries, as extra signature lines (a cosigned checkpoint,
c2sp.org/tlog-cosignature), the cosignatures the sender holds on it. A
receiver whose mirror has that checkpoint keeps those by keys it trusts
(peers, witnesses, ``[[cosigners]]``) that verify, so a party learns the
witnesses' cosignatures on another party's log and can apply its k-of-n
policies to it (:mod:`detente.node.settlement`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx
from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from detente.errors import DetenteError
from detente.exchange.deliveries import delivery_states
from detente.exchange.freshness import confirm_fresh, raise_stale
from detente.exchange.peerkeys import checkpoint_key
from detente.node.alarms import raise_alarm
from detente.node.directory import Node, Peer
from detente.record.checkpoint import Cosignature, SignedCheckpoint, origin_for
from detente.record.envelope import format_time, parse_time
from detente.record.evidence import different_size_evidence, equal_size_evidence
from detente.store.logs import LogStore, StoredCosignature
from detente.store.schema import checkpoints, gossip_seen
from detente.store.tree import StoredTree

__all__ = ["examine", "gossip_round", "held_checkpoints", "keep_cosignatures", "recheck_seen"]

log = logging.getLogger("detente.gossip")

MAX_GOSSIP_PARTIES = 64


def held_checkpoints(node: Node) -> dict[str, str]:
    """The newest checkpoint note held of every party's log, own included.

    Each note carries the cosignature lines held on it (receipts for the
    own log; this node's and those learned by gossip for a mirror).
    """
    out: dict[str, str] = {}
    with node.database.engine.connect() as conn:
        parties = [str(p) for p in conn.execute(select(checkpoints.c.party).distinct()).scalars()]
        for party in parties:
            log_store = LogStore(conn, party)
            latest = log_store.checkpoint()
            if latest is not None:
                out[party] = _cosigned(latest[1], log_store.cosignatures(latest[0]))
    return out


def _cosigned(note: str, stored: list[StoredCosignature]) -> str:
    """``note`` with the stored cosignature lines added; unreadable rows are left out."""
    try:
        signed = SignedCheckpoint.from_text(note)
    except DetenteError:
        return note
    for row in stored:
        try:
            signed = signed.with_cosignature(Cosignature.from_line(row.line))
        except DetenteError:
            continue
    return signed.to_text()


def keep_cosignatures(node: Node, *, party: str, signed: SignedCheckpoint) -> int:
    """Store the cosignatures ``signed`` carries on a checkpoint of ``party``'s mirror.

    Only a checkpoint this node holds at that size, with the same root, is
    taken; only lines by a key this node trusts (not its own, not the
    log's) that verify, and not already held. Returns how many were stored.
    """
    if party == node.party:
        return 0  # the own log's cosignatures are the receipts of deliveries
    checkpoint = signed.checkpoint
    stored = 0
    try:
        with node.database.engine.begin() as conn:
            log_store = LogStore(conn, party)
            held = log_store.checkpoint(checkpoint.size)
            if held is None or SignedCheckpoint.from_text(held[1]).checkpoint != checkpoint:
                return 0
            for line in signed.note.signatures:
                key = node.trusted_key(line.name)
                if key is None or line.name in (node.config.key_name, checkpoint.origin):
                    continue
                if log_store.cosignature(checkpoint.size, line.name) is not None:
                    continue
                try:
                    cosignature = Cosignature.from_note_signature(line)
                    cosignature.verify(checkpoint, key)
                except DetenteError as e:
                    log.warning("gossip: cosignature by %s on %s refused: %s", line.name, party, e)
                    continue
                log_store.add_cosignature(
                    checkpoint.size, line.name, cosignature.timestamp, cosignature.to_line()
                )
                stored += 1
    except IntegrityError:
        return 0  # another round stored the same cosignature at the same time
    return stored


def examine(node: Node, *, party: str, note: str, source: str) -> str | None:
    """Check one gossiped checkpoint; return the alarm kind raised, if any.

    Checkpoints that do not parse or are not signed by the party's key are
    ignored (and logged): they prove nothing about the party.
    """
    try:
        signed = SignedCheckpoint.from_text(note)
        key = checkpoint_key(node, party, signed.checkpoint.size)
        if key is None:
            return None
        signed.verify(key)
    except DetenteError as e:
        log.warning("gossip from %s: checkpoint of %s refused: %s", source, party, e)
        return None
    if signed.checkpoint.origin != origin_for(node.agreement.id, party):
        return None
    with node.database.engine.connect() as conn:
        mirror = StoredTree(conn, party).size()
        within = signed.checkpoint.size <= mirror
        if within:
            raised = _compare(conn, node, party, signed, source)
        else:
            held_now = conn.execute(
                select(gossip_seen.c.size).where(
                    gossip_seen.c.party == party, gossip_seen.c.source == source
                )
            ).scalar_one_or_none()
    if within:
        if raised is None:
            keep_cosignatures(node, party=party, signed=signed)
        return raised
    if party == node.party:
        raise_alarm(
            node,
            kind="own_key_misused",
            party=party,
            detail=(
                f"{source} holds a checkpoint of this node's log at size "
                f"{signed.checkpoint.size}, beyond the {mirror} entries this node wrote"
            ),
        )
        log.error("checkpoint of this node's own log it did not write:\n%s", note)
        return "own_key_misused"
    if held_now is None or held_now < signed.checkpoint.size:
        _remember(node, party, source, signed, note, replace=held_now is not None)
    return None


def _remember(
    node: Node, party: str, source: str, signed: SignedCheckpoint, note: str, *, replace: bool
) -> None:
    values = {
        "size": signed.checkpoint.size,
        "note": note,
        "seen_at": format_time(node.clock()),
    }
    with node.database.engine.begin() as conn:
        if replace:
            conn.execute(
                update(gossip_seen)
                .where(gossip_seen.c.party == party, gossip_seen.c.source == source)
                .values(**values)
            )
        else:
            conn.execute(insert(gossip_seen).values(party=party, source=source, **values))


def _compare(
    conn: Connection, node: Node, party: str, signed: SignedCheckpoint, source: str
) -> str | None:
    checkpoint = signed.checkpoint
    tree = StoredTree(conn, party)
    if tree.root(checkpoint.size) == checkpoint.root:
        return None
    log_store = LogStore(conn, party)
    held = [(size, note) for size, note in log_store.checkpoints() if size >= checkpoint.size]
    detail = (
        f"{party} signed two histories: the checkpoint of size {checkpoint.size} "
        f"gossiped by {source} is not the log this node holds"
    )
    evidence: dict[str, Any] | None = None
    if held:
        size, text = min(held)
        try:
            mine = SignedCheckpoint.from_text(text)
            if size == checkpoint.size:
                evidence = equal_size_evidence(mine, signed)
            else:
                evidence = different_size_evidence(
                    signed,
                    mine,
                    root_at_smaller=tree.root(checkpoint.size),
                    proof=tree.consistency_proof(checkpoint.size, size),
                )
        except DetenteError as e:
            # The alarm matters more than its evidence: raise it without.
            detail += f" (no portable evidence: {e})"
    kind = "own_key_misused" if party == node.party else "equivocation"
    raise_alarm(node, kind=kind, party=party, detail=detail, evidence=evidence)
    return kind


def recheck_seen(node: Node) -> int:
    """Check remembered gossip the mirror now reaches; return alarms raised."""
    raised = 0
    with node.database.engine.connect() as conn:
        rows = conn.execute(select(gossip_seen)).all()
    for row in rows:
        with node.database.engine.connect() as conn:
            reached = StoredTree(conn, row.party).size() >= row.size
        if not reached:
            continue
        if _safely(node, party=row.party, note=row.note, source=row.source):
            raised += 1
        with node.database.engine.begin() as conn:
            conn.execute(
                delete(gossip_seen).where(
                    gossip_seen.c.party == row.party,
                    gossip_seen.c.source == row.source,
                    gossip_seen.c.size == row.size,
                )
            )
    return raised


def receive_gossip(node: Node, *, source: str, notes: Mapping[str, object]) -> dict[str, str]:
    """Check what ``source`` holds; answer with what this node holds."""
    for party, note in list(notes.items())[:MAX_GOSSIP_PARTIES]:
        if isinstance(party, str) and isinstance(note, str):
            _safely(node, party=party, note=note, source=source)
    return held_checkpoints(node)


def _safely(node: Node, *, party: str, note: str, source: str) -> str | None:
    """:func:`examine`, where one bad checkpoint cannot stop a round."""
    try:
        return examine(node, party=party, note=note, source=source)
    except DetenteError as e:
        log.warning("gossip from %s: checkpoint of %s not checked: %s", source, party, e)
        return None


def gossip_round(node: Node, client: httpx.Client) -> int:
    """Exchange checkpoints with every peer; return how many answered."""
    recheck_seen(node)
    mine = held_checkpoints(node)
    now = node.clock()
    with node.database.engine.connect() as conn:
        states = delivery_states(conn, node)
    answered = 0
    for peer in node.config.peers:
        state = states.get(peer.party)
        if state and state.next_attempt_at and parse_time(state.next_attempt_at) > now:
            continue  # unreachable for delivery: do not block the round on it
        answered += _gossip_with(node, peer, client, mine)
    raise_stale(node)
    return answered


def _gossip_with(node: Node, peer: Peer, client: httpx.Client, mine: dict[str, str]) -> int:
    try:
        response = client.post(f"{peer.url.rstrip('/')}/v1/peer/gossip", json={"checkpoints": mine})
    except httpx.HTTPError as e:
        log.info("gossip with %s failed: %s", peer.party, e)
        return 0
    if response.status_code != 200:
        log.info("gossip with %s answered %s", peer.party, response.status_code)
        return 0
    try:
        theirs = response.json().get("checkpoints", {})
    except (ValueError, AttributeError):
        return 0
    if isinstance(theirs, dict):
        for party, note in list(theirs.items())[:MAX_GOSSIP_PARTIES]:
            if isinstance(party, str) and isinstance(note, str):
                raised = _safely(node, party=party, note=note, source=peer.party)
                if party == peer.party and raised is None:
                    _fresh(node, peer, note)
    return 1


def _fresh(node: Node, peer: Peer, note: str) -> None:
    try:
        signed = SignedCheckpoint.from_text(note)
        key = checkpoint_key(node, peer.party, signed.checkpoint.size)
        if key is None:
            return
        signed.verify(key)
    except DetenteError:
        return
    confirm_fresh(node, party=peer.party, signed=signed)
