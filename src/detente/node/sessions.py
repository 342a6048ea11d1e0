"""Console sessions: what a logged-in browser holds, and what the node keeps of it.

The browser holds a random 256-bit token in a cookie; the node stores only
its SHA-256 digest, so a copied database opens no session. Each session
has its own CSRF token, which every form of the console carries and every
state-changing request must present. A session ends at log-out, after
:data:`IDLE` without a request, after :data:`LIFETIME` in any case (a long
watch, not more), and when its operator is removed.

Example:
    >>> import pathlib, tempfile
    >>> from detente.node import init_node
    >>> from detente.node.operators import Role, add_operator
    >>> node = init_node(pathlib.Path(tempfile.mkdtemp()) / "us", party="us",
    ...                  agreement_ref="security-replies-2022")
    >>> alice, _ = add_operator(node, "alice", Role.viewer)
    >>> token, session = open_session(node, alice)
    >>> resume(node, token).operator.name
    'alice'
    >>> end_session(node, token)
    >>> resume(node, token) is None
    True
    >>> node.close()
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import DBAPIError

from detente.errors import StoreError
from detente.node.directory import Node
from detente.node.operators import Operator, Role
from detente.node.watchlog import record
from detente.record.envelope import format_time, parse_time
from detente.store.schema import console_sessions, operators

__all__ = ["IDLE", "LIFETIME", "Session", "end_session", "open_session", "resume"]

_log = logging.getLogger(__name__)

#: A session unused this long ends.
IDLE = timedelta(hours=2)
#: No session outlives a twelve-hour watch.
LIFETIME = timedelta(hours=12)
# last_seen_at is written at most this often, not on every request.
_TOUCH_EVERY = timedelta(minutes=1)
_MAX_TOKEN_LENGTH = 128


@dataclass(frozen=True)
class Session:
    """A live session: whose it is, its CSRF token, and the operator's language."""

    operator: Operator
    csrf: str
    language: str
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(node: Node, operator: Operator) -> tuple[str, Session]:
    """Start a session for ``operator`` (who has just logged in); log it on the watch.

    Returns:
        The cookie token, which the node does not keep, and the session.

    Raises:
        StoreError: the database failed; no session was opened.
    """
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = node.clock()
    expires = now + LIFETIME
    try:
        with node.database.engine.begin() as conn:
            conn.execute(delete(console_sessions).where(console_sessions.c.expires_at < _t(now)))
            conn.execute(
                insert(console_sessions).values(
                    digest=_digest(token),
                    operator=operator.name,
                    csrf=csrf,
                    created_at=_t(now),
                    last_seen_at=_t(now),
                    expires_at=_t(expires),
                )
            )
            record(conn, at=now, operator=operator.name, kind="login", text="")
            language = conn.execute(
                select(operators.c.language).where(operators.c.name == operator.name)
            ).scalar_one_or_none()
    except DBAPIError as e:
        raise StoreError(f"console sessions: database error: {e.orig}") from e
    _log.info("console session opened for %s", operator.name)
    return token, Session(operator, csrf, language or "en", expires)


def resume(node: Node, token: str, *, touch: bool = True) -> Session | None:
    """The live session whose cookie token is ``token``, or None.

    Reads the operator's row each time: a removed operator or a changed
    role takes effect on the next request. With ``touch``, the request
    counts as activity; the console's event stream does not (a tab left
    open must not keep an unattended session alive).

    Raises:
        StoreError: the database failed.
    """
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    now = node.clock()
    digest = _digest(token)
    try:
        with node.database.engine.begin() as conn:
            row = conn.execute(
                select(console_sessions, operators.c.role, operators.c.created_at.label("since"))
                .add_columns(operators.c.language)
                .join(operators, operators.c.name == console_sessions.c.operator)
                .where(console_sessions.c.digest == digest)
            ).one_or_none()
            if row is None:
                return None
            expires = parse_time(row.expires_at)
            if expires <= now or parse_time(row.last_seen_at) + IDLE <= now:
                conn.execute(delete(console_sessions).where(console_sessions.c.digest == digest))
                return None
            if touch and now - parse_time(row.last_seen_at) >= _TOUCH_EVERY:
                conn.execute(
                    update(console_sessions)
                    .where(console_sessions.c.digest == digest)
                    .values(last_seen_at=_t(now))
                )
    except DBAPIError as e:
        raise StoreError(f"console sessions: database error: {e.orig}") from e
    operator = Operator(name=row.operator, role=Role(row.role), created_at=parse_time(row.since))
    return Session(operator, row.csrf, row.language, expires)


def end_session(node: Node, token: str) -> None:
    """Log out: forget the session (if any) and note it on the watch log.

    Raises:
        StoreError: the database failed.
    """
    try:
        with node.database.engine.begin() as conn:
            name = conn.execute(
                select(console_sessions.c.operator).where(
                    console_sessions.c.digest == _digest(token)
                )
            ).scalar_one_or_none()
            if name is None:
                return
            conn.execute(
                delete(console_sessions).where(console_sessions.c.digest == _digest(token))
            )
            record(conn, at=node.clock(), operator=name, kind="logout", text="")
    except DBAPIError as e:
        raise StoreError(f"console sessions: database error: {e.orig}") from e


def _t(moment: datetime) -> str:
    return format_time(moment)
