"""Two-person release: a message type the agreement marks is sent only when two agree.

The agreement lists such types under ``two_person_release``
(:mod:`detente.agreement.model`). An operator who composes one *proposes*
it: the draft is checked as the log writer would check it, then held,
unsigned, as a pending release. A *different* operator with send rights
*approves* it, and only then is it sealed into the log and sent; or
*rejects* it with a reason. The proposer may *withdraw* it. A decided
release stays decided: it cannot be approved, rejected or withdrawn again.

Approval marks the release released, with the position its entry takes,
in the same transaction as the append
(:meth:`detente.node.writer.LogWriter.append`, ``first``), by an update
that holds only while the release is still pending: two approvals at once
append once, and the other is refused.

Each call is one transaction. Drafts are stored as RFC 8785 canonical JSON.

Example:
    >>> import pathlib, tempfile
    >>> from detente.node import init_node
    >>> from detente.node.operators import Role, add_operator
    >>> node = init_node(pathlib.Path(tempfile.mkdtemp()) / "us", party="us",
    ...                  agreement_ref="security-replies-2022")
    >>> ann, _ = add_operator(node, "ann", Role.operator)
    >>> bob, _ = add_operator(node, "bob", Role.operator)
    >>> needs_release(node, "suspension")
    True
    >>> effective = node.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    >>> draft = Draft("suspension", {"types": ["message"], "effective": effective,
    ...                              "reason": "countermeasure"})
    >>> release = propose(node, draft, by=ann)
    >>> approve(node, release.id, by=ann)
    Traceback (most recent call last):
    ...
    detente.errors.PermissionDeniedError: a second operator must approve: ann proposed release 1
    >>> released, result = approve(node, release.id, by=bob)
    >>> released.state, released.seq, result.envelopes[0].header.type
    (<ReleaseState.released: 'released'>, 0, 'suspension')
    >>> node.close()
"""

from __future__ import annotations

import enum
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import DBAPIError

from detente.crypto.canonical import canonical_json
from detente.errors import (
    ConflictError,
    EncodingError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    StoreError,
)
from detente.node.directory import Node
from detente.node.operators import Operator, require
from detente.node.watchlog import record
from detente.node.writer import AppendResult, Draft, LogWriter
from detente.record.envelope import format_time, parse_time
from detente.store.schema import releases
from detente.store.tree import StoredTree

__all__ = [
    "MAX_REASON",
    "Release",
    "ReleaseState",
    "approve",
    "get_release",
    "list_releases",
    "needs_release",
    "propose",
    "refuse_direct",
    "reject",
    "withdraw",
]

_log = logging.getLogger(__name__)

#: Longest reason for a rejection or withdrawal, in characters.
MAX_REASON = 2000


class ReleaseState(enum.StrEnum):
    """Where a release stands; every state but ``pending`` is final."""

    pending = "pending"
    released = "released"
    rejected = "rejected"
    withdrawn = "withdrawn"


@dataclass(frozen=True)
class Release:
    """A draft held for a second operator's approval, and what became of it.

    ``seq`` is the position in the node's own log once released; ``reason``
    is the rejecter's (required) or the withdrawer's (optional).
    """

    id: int
    draft: Draft
    proposed_by: str
    proposed_at: datetime
    state: ReleaseState
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    seq: int | None = None

    @property
    def type(self) -> str:
        """The message type of the draft."""
        return self.draft.type

    def to_json(self) -> dict[str, Any]:
        """The release as the API shows it (times in RFC 3339 UTC)."""
        return {
            "id": self.id,
            "type": self.type,
            "draft": _draft_json(self.draft),
            "proposed_by": self.proposed_by,
            "proposed_at": format_time(self.proposed_at),
            "state": self.state.value,
            "decided_by": self.decided_by,
            "decided_at": None if self.decided_at is None else format_time(self.decided_at),
            "reason": self.reason,
            "seq": self.seq,
        }


def needs_release(node: Node, type_id: str) -> bool:
    """Whether the node's agreement asks a second operator to approve ``type_id``."""
    return node.agreement.needs_release(type_id)


def refuse_direct(node: Node, type_id: str) -> None:
    """Refuse to append ``type_id`` straight to the log if it needs two-person release.

    For the paths that append without an operator's proposal (the CLI's
    ``detente log append``): they must not bypass the rule.

    Raises:
        PermissionDeniedError: the agreement asks for two-person release of it.
    """
    if needs_release(node, type_id):
        raise PermissionDeniedError(
            f"type {type_id!r} needs two-person release under {node.agreement.name}: propose it "
            "in the console or with `POST /v1/messages`, and a second operator approves it "
            "with `POST /v1/releases/ID/approve`"
        )


def propose(node: Node, draft: Draft, *, by: Operator, reuse_pending: bool = False) -> Release:
    """Check ``draft`` as the writer would, and hold it for a second operator's approval.

    Nothing is signed. What depends on the state at sending time (the
    node's suspensions, a suspension's ``effective`` against the clock) is
    checked again when the release is approved.

    Args:
        node: the node.
        draft: the message, of a type that needs release.
        by: the proposing operator.
        reuse_pending: return the pending release ``by`` proposed with the
            very same draft, if there is one, instead of holding a second
            (a client retrying with an ``Idempotency-Key``).

    Raises:
        PermissionDeniedError: ``by`` may not send, or the node is a witness.
        InputError: the type needs no release, or the draft is malformed.
        TypeNotAllowedError, BodyError, SuspendedError: the draft would be
            refused by the writer now.
        StoreError: the database failed; nothing was written.
    """
    require(by, send=True)
    if not needs_release(node, draft.type):
        raise InputError(
            f"type {draft.type!r} needs no two-person release under {node.agreement.name}: "
            "send it directly"
        )
    LogWriter(node).check([draft])
    text = canonical_json(_draft_json(draft)).decode()
    proposed_at = format_time(node.clock())
    try:
        with node.database.engine.begin() as conn:
            if reuse_pending:
                held = conn.execute(
                    select(releases)
                    .where(
                        releases.c.state == ReleaseState.pending.value,
                        releases.c.proposed_by == by.name,
                        releases.c.draft == text,
                    )
                    .order_by(releases.c.id)
                ).first()
                if held is not None:
                    return _release(held)
            release_id = conn.execute(
                insert(releases)
                .values(
                    type=draft.type,
                    draft=text,
                    proposed_by=by.name,
                    proposed_at=proposed_at,
                    state=ReleaseState.pending.value,
                )
                .returning(releases.c.id)
            ).scalar_one()
            record(
                conn,
                at=parse_time(proposed_at),
                operator=by.name,
                kind="proposed",
                text=f"release {release_id}: {draft.type}",
            )
            row = _row(conn, release_id)
    except DBAPIError as e:
        raise StoreError(f"releases: database error, nothing was written: {e.orig}") from e
    _log.info("release %d (%s) proposed by %s", release_id, draft.type, by.name)
    return _release(row)


def approve(node: Node, release_id: int, *, by: Operator) -> tuple[Release, AppendResult]:
    """Approve a pending release: append its draft to the log and mark it released, atomically.

    Raises:
        PermissionDeniedError: ``by`` may not send, or proposed it ("a
            second operator must approve").
        NotFoundError: there is no such release.
        ConflictError: the release was decided already (also when another
            approval won a race); nothing was appended.
        TypeNotAllowedError, BodyError, SuspendedError, InputError: the
            writer refuses the draft now; the release stays pending.
        StoreError: the database failed; nothing was written.
    """
    require(by, send=True)
    release = _pending(node, release_id)
    if release.proposed_by == by.name:
        raise PermissionDeniedError(
            f"a second operator must approve: {by.name} proposed release {release_id}"
        )

    def claim(conn: Connection) -> None:
        # First in the writer's transaction: a concurrent approval waits on
        # this update, then finds the release decided and appends nothing.
        _decide(
            conn,
            release_id,
            state=ReleaseState.released,
            by=by.name,
            at=format_time(node.clock()),
            seq=StoredTree(conn, node.party).size(),  # where the writer appends
        )

    result = LogWriter(node).append([release.draft], first=claim)
    envelope = result.envelopes[0]
    _log.info(
        "release %d (%s) approved by %s: sent as %s",
        release_id,
        release.type,
        by.name,
        envelope.position,
    )
    return get_release(node, release_id), result


def reject(node: Node, release_id: int, *, by: Operator, reason: str) -> Release:
    """Reject a pending release proposed by someone else; it is never sent.

    Raises:
        PermissionDeniedError: ``by`` may not send, or proposed it (the
            proposer withdraws instead).
        InputError: the reason is empty or longer than :data:`MAX_REASON`.
        NotFoundError: there is no such release.
        ConflictError: the release was decided already.
        StoreError: the database failed; nothing was written.
    """
    require(by, send=True)
    reason = _reason(reason, required=True)
    release = _pending(node, release_id)
    if release.proposed_by == by.name:
        raise PermissionDeniedError(
            f"{by.name} proposed release {release_id}: withdraw it; another operator rejects"
        )
    decided = _decide_alone(node, release_id, ReleaseState.rejected, by=by.name, reason=reason)
    _log.info("release %d (%s) rejected by %s", release_id, release.type, by.name)
    return decided


def withdraw(node: Node, release_id: int, *, by: Operator, reason: str | None = None) -> Release:
    """Withdraw a pending release one proposed oneself; it is never sent.

    Raises:
        PermissionDeniedError: ``by`` may not send, or did not propose it
            (another operator rejects instead).
        InputError: the reason is longer than :data:`MAX_REASON`.
        NotFoundError: there is no such release.
        ConflictError: the release was decided already.
        StoreError: the database failed; nothing was written.
    """
    require(by, send=True)
    text = _reason(reason, required=False) if reason is not None else None
    release = _pending(node, release_id)
    if release.proposed_by != by.name:
        raise PermissionDeniedError(
            f"only {release.proposed_by}, who proposed release {release_id}, may withdraw it; "
            "reject it instead"
        )
    decided = _decide_alone(node, release_id, ReleaseState.withdrawn, by=by.name, reason=text)
    _log.info("release %d (%s) withdrawn by %s", release_id, release.type, by.name)
    return decided


def get_release(node: Node, release_id: int) -> Release:
    """The release ``release_id``.

    Raises:
        NotFoundError: there is no such release.
        StoreError: the database failed or holds an unreadable release.
    """
    try:
        with node.database.engine.connect() as conn:
            return _release(_row(conn, release_id))
    except DBAPIError as e:
        raise StoreError(f"releases: database error: {e.orig}") from e


def list_releases(
    node: Node, *, state: ReleaseState | None = None, limit: int = 100
) -> list[Release]:
    """Releases, newest first; only those in ``state`` if given.

    Raises:
        StoreError: the database failed or holds an unreadable release.
    """
    query = select(releases).order_by(releases.c.id.desc()).limit(limit)
    if state is not None:
        query = query.where(releases.c.state == ReleaseState(state).value)
    try:
        with node.database.engine.connect() as conn:
            rows = conn.execute(query).all()
    except DBAPIError as e:
        raise StoreError(f"releases: database error: {e.orig}") from e
    return [_release(row) for row in rows]


# --- internals ----------------------------------------------------------------


def _pending(node: Node, release_id: int) -> Release:
    """The release, if it is still pending (checked again when it is decided)."""
    release = get_release(node, release_id)
    if release.state is not ReleaseState.pending:
        raise ConflictError(
            f"release {release_id} was {release.state.value} by {release.decided_by} "
            f"at {format_time(release.decided_at) if release.decided_at else '?'}"
        )
    return release


def _decide(
    conn: Connection,
    release_id: int,
    *,
    state: ReleaseState,
    by: str,
    at: str,
    reason: str | None = None,
    seq: int | None = None,
) -> None:
    """Move a release from pending to ``state``, or raise if it is pending no more.

    The condition on the state is what makes a decision happen once: of
    two transactions deciding at once, the second finds no pending row.
    """
    changed = conn.execute(
        update(releases)
        .where(releases.c.id == release_id, releases.c.state == ReleaseState.pending.value)
        .values(state=state.value, decided_by=by, decided_at=at, reason=reason, seq=seq)
    ).rowcount
    if changed != 1:
        raise ConflictError(f"release {release_id} was decided meanwhile by another operator")
    # The watch log says who decided what (the reason stays with the release).
    text = f"release {release_id}" + ("" if seq is None else f": entry {seq}")
    record(conn, at=parse_time(at), operator=by, kind=state.value, text=text)


def _decide_alone(
    node: Node, release_id: int, state: ReleaseState, *, by: str, reason: str | None
) -> Release:
    at = format_time(node.clock())
    try:
        with node.database.engine.begin() as conn:
            _decide(conn, release_id, state=state, by=by, at=at, reason=reason)
            return _release(_row(conn, release_id))
    except DBAPIError as e:
        raise StoreError(
            f"release {release_id}: database error, nothing was written: {e.orig}"
        ) from e


def _reason(reason: str, *, required: bool) -> str:
    text = reason.strip()
    if required and not text:
        raise InputError("reason: say why the release is rejected")
    if len(text) > MAX_REASON:
        raise InputError(f"reason: {len(text)} characters, more than {MAX_REASON}")
    return text


def _draft_json(draft: Draft) -> dict[str, Any]:
    return {
        "type": draft.type,
        "body": dict(draft.body),
        "to": list(draft.to),
        "refs": list(draft.refs),
        "article": draft.article,
        "priority": draft.priority,
        "exercise": draft.exercise,
    }


def _row(conn: Connection, release_id: int) -> Row[Any]:
    row = conn.execute(select(releases).where(releases.c.id == release_id)).one_or_none()
    if row is None:
        raise NotFoundError(f"no release {release_id}")
    return row


def _release(row: Row[Any]) -> Release:
    try:
        data = json.loads(row.draft)
        draft = Draft(
            type=data["type"],
            body=data["body"],
            to=tuple(data["to"]),
            refs=tuple(data["refs"]),
            article=data["article"],
            priority=data["priority"],
            exercise=data["exercise"],
        )
        return Release(
            id=row.id,
            draft=draft,
            proposed_by=row.proposed_by,
            proposed_at=parse_time(row.proposed_at, field_name="proposed_at"),
            state=ReleaseState(row.state),
            decided_by=row.decided_by,
            decided_at=None
            if row.decided_at is None
            else parse_time(row.decided_at, field_name="decided_at"),
            reason=row.reason,
            seq=row.seq,
        )
    except (ValueError, KeyError, TypeError, EncodingError) as e:
        raise StoreError(f"release {row.id}: unreadable row: {e}") from e
