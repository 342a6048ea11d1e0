"""The single writer of a party's log.

One call to :meth:`LogWriter.append` is one transaction: the envelopes,
their bodies, the tree nodes they complete and the checkpoint that covers
them are committed together or not at all. Before signing a checkpoint the
writer proves it consistent with the last one it signed, so the node never
signs two histories.

:meth:`LogWriter.check` runs every check of an append without writing or
signing anything with the node's key, so that a draft held for a second
operator's approval (:mod:`detente.node.releases`) is refused when it is
composed, not only when it is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from detente.agreement.hotline import ACK_TYPE, LINE_ANSWERS
from detente.agreement.messages import MessageType
from detente.agreement.system import is_system_type
from detente.crypto.canonical import canonical_json
from detente.crypto.keys import SigningKey
from detente.errors import (
    ConsistencyError,
    InputError,
    PermissionDeniedError,
    StoreError,
    VerificationError,
)
from detente.measures.inspections import INSPECTION_MESSAGE_TYPES
from detente.node.directory import Node
from detente.node.inspections import check_inspection_drafts, inspection_recipients
from detente.node.line import answer_priority, answer_recipients, check_line_drafts
from detente.node.measures import check_drafts, default_to
from detente.record.admission import check_rules
from detente.record.checkpoint import Checkpoint, SignedCheckpoint, origin_for
from detente.record.envelope import LANE_PRIORITIES, ZERO_HASH, Envelope, format_time, seal
from detente.record.merkle import verify_consistency
from detente.store.logs import LogStore
from detente.store.schema import idempotency as idempotency_keys
from detente.store.schema import priority_lane
from detente.store.tree import StoredTree

__all__ = ["AppendResult", "Draft", "LogWriter"]


@dataclass(frozen=True)
class Draft:
    """A message an operator wants sent, before it is sealed."""

    type: str
    body: Mapping[str, Any]
    to: tuple[str, ...] = ()
    refs: tuple[str, ...] = ()
    article: str | None = None
    priority: str | None = None
    exercise: bool = False


@dataclass(frozen=True)
class AppendResult:
    """What one append committed (or, for a repeated idempotency key, had committed)."""

    envelopes: list[Envelope]
    checkpoint: SignedCheckpoint
    bodies: list[bytes] = field(repr=False)
    repeat: bool = False


class LogWriter:
    """Seals drafts into the node's own log."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._origin = origin_for(node.agreement.id, node.party)

    def append(
        self,
        drafts: Sequence[Draft],
        *,
        idempotency: tuple[str, str] | None = None,
        key_entry: bool = False,
        first: Callable[[Connection], None] | None = None,
    ) -> AppendResult:
        """Seal, check and store ``drafts`` and sign the new checkpoint, atomically.

        With ``idempotency`` (operator, key), a key already used returns what
        it created the first time, and nothing new is written: a client that
        retries a submission never creates a second envelope.

        Key entries (``detente.key_*``) are appended only with ``key_entry``,
        alone, by :mod:`detente.node.rotation`: an operator cannot send one.

        ``first`` is called with the writer's connection before anything
        else in its transaction; if it raises, nothing is written. A release
        claims itself there (:mod:`detente.node.releases`), so that it is
        marked released in the same transaction as the append, and of two
        approvals at once the second waits, finds it released, and stops.

        Raises:
            PermissionDeniedError: this node is a witness, which has no log
                of its own and sends no messages.
            InputError: a draft's body is not a JSON object or is too large.
            TypeNotAllowedError: the agreement does not let this party send it.
            BodyError: a body fails its type's schema, or a suspension names
                a type this party may not send or takes effect in the past.
            SuspendedError: this party has suspended a draft's type, or a
                suspension or resumption conflicts with its suspensions.
            ConsistencyError: the new tree does not extend the last signed
                checkpoint (the store was altered); nothing is signed.
            StoreError: the database failed; nothing was written.
        """
        node = self._node
        self._refuse_early(drafts, key_entry=key_entry)
        try:
            with node.write_lock, node.database.engine.begin() as conn:
                if first is not None:
                    first(conn)
                if idempotency is not None:
                    earlier = self._earlier(conn, idempotency)
                    if earlier is not None:
                        return earlier
                result = self._append(conn, drafts)
                if idempotency is not None:
                    conn.execute(
                        insert(idempotency_keys).values(
                            operator=idempotency[0],
                            key=idempotency[1],
                            seq=result.envelopes[0].header.seq,
                            created_at=result.envelopes[0].header.created,
                        )
                    )
                return result
        except IntegrityError as e:
            raise StoreError(
                f"log {node.party}: another writer appended at the same position; "
                "nothing was written, retry"
            ) from e
        except OperationalError as e:
            raise StoreError(f"log {node.party}: database error, nothing was written: {e}") from e

    def check(self, drafts: Sequence[Draft]) -> None:
        """Run every check :meth:`append` runs on ``drafts`` now, and write nothing.

        The drafts are sealed as the next entries of the log, but with a
        throwaway key: the node's key signs nothing that is not stored. The
        state may change before the drafts are appended (a suspension sent
        meanwhile), so :meth:`append` checks them again.

        Raises:
            PermissionDeniedError, InputError, TypeNotAllowedError, BodyError,
            SuspendedError: as :meth:`append` would raise them.
            StoreError: the database failed.
        """
        self._refuse_early(drafts, key_entry=False)
        try:
            with self._node.database.engine.connect() as conn:
                self._seal(conn, drafts, key=SigningKey.generate(self._node.config.key_name))
        except OperationalError as e:
            raise StoreError(f"log {self._node.party}: database error: {e}") from e

    def _refuse_early(self, drafts: Sequence[Draft], *, key_entry: bool) -> None:
        node = self._node
        if node.is_witness:
            raise PermissionDeniedError(
                f"{node.party} is a witness: it has no log of its own and sends no messages"
            )
        if not drafts:
            raise InputError("nothing to append")
        key_drafts = [d for d in drafts if is_system_type(d.type)]
        if key_drafts and (not key_entry or len(drafts) != 1):
            raise InputError(
                f"type {key_drafts[0].type!r} is the protocol's: key entries are appended "
                "alone, by `detente keys rotate` or `detente keys revoke`"
            )

    def _seal(
        self, conn: Connection, drafts: Sequence[Draft], *, key: SigningKey
    ) -> tuple[list[Envelope], list[bytes]]:
        """Seal ``drafts`` as the next entries of the log and check them; store nothing."""
        node = self._node
        agreement = node.agreement
        tree = StoredTree(conn, node.party)
        size = tree.size()
        prev = ZERO_HASH if size == 0 else tree.leaf_hashes(size - 1, size)[size - 1].hex()
        created = format_time(node.clock())
        envelopes: list[Envelope] = []
        bodies: list[bytes] = []
        for offset, draft in enumerate(drafts):
            if not isinstance(draft.body, Mapping):
                raise InputError(f"draft {offset}: the body must be a JSON object")
            value = dict(draft.body)
            body = canonical_json(value)
            if len(body) > agreement.max_body_bytes:
                raise InputError(
                    f"draft {offset}: body of {len(body)} bytes exceeds the agreement's "
                    f"max_body_bytes ({agreement.max_body_bytes})"
                )
            message_type = agreement.message_type(draft.type)
            envelope = seal(
                key=key,
                agreement=agreement.id,
                sender=node.party,
                seq=size + offset,
                prev=prev,
                created=created,
                type=draft.type,
                body=body,
                to=draft.to or self._default_to(conn, draft),
                refs=draft.refs,
                article=draft.article if draft.article is not None else message_type.article,
                priority=draft.priority or self._default_priority(conn, draft, message_type),
                exercise=draft.exercise,
            )
            check_rules(envelope, body, agreement=agreement, parsed=value)
            if is_system_type(draft.type):
                # A key entry the peers would refuse must never be signed into the log.
                history = node.key_history(node.party, conn)
                assert history is not None  # the own party always has a key  # noqa: S101
                history.apply(envelope, body)
            prev = envelope.leaf_hash.hex()
            envelopes.append(envelope)
            bodies.append(body)
        check_drafts(conn, node, envelopes, bodies=[d.body for d in drafts])
        check_line_drafts(conn, node, envelopes, bodies=[d.body for d in drafts])
        check_inspection_drafts(conn, node, envelopes, bodies=[d.body for d in drafts])
        return envelopes, bodies

    def _default_to(self, conn: Connection, draft: Draft) -> tuple[str, ...]:
        """Recipients of a draft that names none (:func:`default_to`; answers on the
        line go to whom they answer)."""
        if draft.type in LINE_ANSWERS:
            return answer_recipients(conn, self._node, draft.refs)
        if draft.type in INSPECTION_MESSAGE_TYPES:
            return inspection_recipients(conn, self._node, draft.type, draft.refs, draft.body)
        return default_to(self._node.agreement, self._node.party, draft.type)

    def _default_priority(self, conn: Connection, draft: Draft, message_type: MessageType) -> str:
        """A draft's priority when it names none: its type's, except that an
        acknowledgement on the line travels at the priority of what it acknowledges."""
        if draft.type == ACK_TYPE:
            cited = answer_priority(conn, self._node, draft.refs)
            if cited is not None:
                return cited
        return str(message_type.priority)

    def _append(self, conn: Connection, drafts: Sequence[Draft]) -> AppendResult:
        node = self._node
        key = node.key
        envelopes, bodies = self._seal(conn, drafts, key=key)
        log = LogStore(conn, node.party)
        tree = StoredTree(conn, node.party)
        log.insert(
            [(e.header.seq, e.leaf, e.header.type, e.header.created) for e in envelopes],
            [(e.header.seq, b) for e, b in zip(envelopes, bodies, strict=True)],
        )
        lane = [
            {"seq": e.header.seq, "peer": party}
            for e in envelopes
            if e.header.priority in LANE_PRIORITIES
            for party in e.header.to
        ]
        if lane:
            # Sent ahead of the backlog to each recipient (exchange.priority).
            conn.execute(insert(priority_lane), lane)
        size = envelopes[0].header.seq
        root = tree.append([e.leaf_hash for e in envelopes])
        new_size = size + len(envelopes)
        self._check_extends_last(log, tree, new_size, root)
        signed = Checkpoint(origin=self._origin, size=new_size, root=root).sign(key)
        log.add_checkpoint(new_size, signed.to_text())
        return AppendResult(envelopes=envelopes, checkpoint=signed, bodies=bodies)

    def _earlier(self, conn: Connection, idempotency: tuple[str, str]) -> AppendResult | None:
        operator, key = idempotency
        seq = conn.execute(
            select(idempotency_keys.c.seq).where(
                idempotency_keys.c.operator == operator, idempotency_keys.c.key == key
            )
        ).scalar_one_or_none()
        if seq is None:
            return None
        log = LogStore(conn, self._node.party)
        leaf, body = log.leaf(int(seq)), log.body(int(seq))
        latest = log.checkpoint()
        if leaf is None or body is None or latest is None:  # pragma: no cover - same tx wrote them
            raise StoreError(f"idempotency key {key!r} points at a missing entry {seq}")
        return AppendResult(
            envelopes=[Envelope.from_leaf(leaf)],
            checkpoint=SignedCheckpoint.from_text(latest[1]),
            bodies=[body],
            repeat=True,
        )

    def _check_extends_last(
        self, log: LogStore, tree: StoredTree, new_size: int, new_root: bytes
    ) -> None:
        last = log.checkpoint()
        if last is None:
            return
        old = SignedCheckpoint.from_text(last[1])
        history = self._node.key_history(self._node.party, log.connection)
        assert history is not None  # the own party always has a key  # noqa: S101
        old.verify(history.checkpoint_key(old.checkpoint.size))
        proof = tree.consistency_proof(old.checkpoint.size, new_size)
        try:
            verify_consistency(old.checkpoint.size, new_size, proof, old.checkpoint.root, new_root)
        except VerificationError as e:
            raise ConsistencyError(
                f"log {self._node.party}: the stored tree does not extend checkpoint "
                f"{old.checkpoint.size} signed earlier; refusing to sign (run `detente verify`)"
            ) from e
