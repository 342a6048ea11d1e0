"""Console log-in: operators' passwords, lockout after repeated failures.

A password is what a watch officer types into the console; it is hashed
with argon2id at RFC 9106's second recommended strength (``t=3``,
``m=64 MiB``, ``p=4``), argon2-cffi's default. Unlike API tokens (256
random bits, see :mod:`detente.node.operators`) a human password can be
guessed, so the hash must be slow and online guessing is capped: after
:data:`MAX_FAILURES` wrong attempts in a row, the account is locked for
:data:`LOCKOUT` whatever is typed, and the lockout goes to the watch log.
An admin ends it early with ``detente operator unlock``.

Every refusal reads the same ("wrong name or password") and costs one
argon2 verification: an unknown name, an operator without a password and
a locked account are checked against a fixed dummy hash. Neither the words
nor the time of the answer tell which names exist or which are locked.

Example:
    >>> import pathlib, tempfile
    >>> from detente.node import init_node
    >>> from detente.node.operators import Role, add_operator
    >>> node = init_node(pathlib.Path(tempfile.mkdtemp()) / "us", party="us",
    ...                  agreement_ref="security-replies-2022")
    >>> _ = add_operator(node, "alice", Role.operator)
    >>> set_password(node, "alice", "correct horse battery")
    >>> log_in(node, "alice", "correct horse battery").name
    'alice'
    >>> node.close()
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from detente.errors import AuthenticationError, InputError, StoreError
from detente.node.directory import Node
from detente.node.operators import Operator, Role
from detente.node.watchlog import record
from detente.record.envelope import format_time, parse_time
from detente.store.schema import console_sessions, operators

__all__ = [
    "LOCKOUT",
    "MAX_FAILURES",
    "MIN_PASSWORD_LENGTH",
    "log_in",
    "set_password",
    "unlock",
]

_log = logging.getLogger(__name__)

#: Wrong passwords in a row that lock an account.
MAX_FAILURES = 5
#: How long a locked account refuses every password.
LOCKOUT = timedelta(minutes=15)
#: Shortest password accepted (NIST SP 800-63B section 5.1.1.2 asks for at least 8).
MIN_PASSWORD_LENGTH = 12
_MAX_PASSWORD_LENGTH = 1024
_MAX_NAME_LENGTH = 64

_HASHER = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4: RFC 9106 section 4, second option
_DUMMY_HASH = _HASHER.hash("a password nobody has")
_REFUSED = "wrong name or password"


def set_password(node: Node, name: str, password: str) -> None:
    """Give operator ``name`` a console password; clears failures, any lockout, their sessions.

    Raises:
        InputError: no such operator, or the password is too short or too long.
        StoreError: the database failed; nothing was written.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"password: use at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > _MAX_PASSWORD_LENGTH:
        raise InputError(f"password: use at most {_MAX_PASSWORD_LENGTH} characters")
    hashed = _HASHER.hash(password)
    _update(node, name, password_hash=hashed, failed_logins=0, locked_until=None)
    try:
        with node.database.engine.begin() as conn:
            # A session opened with the old password must not outlive it.
            conn.execute(delete(console_sessions).where(console_sessions.c.operator == name))
    except DBAPIError as e:
        raise StoreError(f"operator {name}: database error: {e.orig}") from e
    _log.info("operator %s given a console password; their sessions ended", name)


def unlock(node: Node, name: str) -> None:
    """End a lockout of operator ``name`` now, and forget their failed attempts.

    Raises:
        InputError: there is no such operator.
        StoreError: the database failed; nothing was written.
    """
    _update(node, name, failed_logins=0, locked_until=None)
    _log.info("operator %s unlocked", name)


def log_in(node: Node, name: str, password: str) -> Operator:
    """The operator ``name`` if ``password`` is theirs and they are not locked out.

    A wrong password counts a failure; the :data:`MAX_FAILURES`-th locks
    the account for :data:`LOCKOUT` and is written to the watch log. A
    right one clears the count.

    Raises:
        AuthenticationError: "wrong name or password", whatever the reason.
        StoreError: the database failed.
    """
    now = node.clock()
    password = password[:_MAX_PASSWORD_LENGTH]
    if not name or len(name) > _MAX_NAME_LENGTH:
        _verify(_DUMMY_HASH, password)
        raise AuthenticationError(_REFUSED)
    try:
        with node.database.engine.connect() as conn:
            row = conn.execute(select(operators).where(operators.c.name == name)).one_or_none()
    except DBAPIError as e:
        raise StoreError(f"operators: database error: {e.orig}") from e
    usable = row is not None and row.password_hash is not None
    locked = row is not None and row.locked_until is not None and parse_time(row.locked_until) > now
    stored = row.password_hash if row is not None and usable and not locked else None
    right = _verify(stored or _DUMMY_HASH, password)
    if row is None or not usable:
        raise AuthenticationError(_REFUSED)
    if locked:
        _log.info("console log-in refused: %s is locked out", row.name)
        raise AuthenticationError(_REFUSED)
    if right:
        if row.failed_logins or row.locked_until:
            _update(node, row.name, failed_logins=0, locked_until=None)
        return Operator(name=row.name, role=Role(row.role), created_at=parse_time(row.created_at))
    _count_failure(node, row.name, now)
    raise AuthenticationError(_REFUSED)


def _count_failure(node: Node, name: str, now: datetime) -> None:
    """Count a wrong password atomically; lock the account at the limit.

    The increment happens in the database (``failed_logins + 1``), so
    attempts made at the same time each count: parallel guessing cannot
    slip past the limit.
    """
    try:
        with node.database.engine.begin() as conn:
            failures = conn.execute(
                update(operators)
                .where(operators.c.name == name)
                .values(failed_logins=operators.c.failed_logins + 1)
                .returning(operators.c.failed_logins)
            ).scalar_one_or_none()
            if failures is None or failures < MAX_FAILURES:
                return
            until = format_time(now + LOCKOUT)
            conn.execute(
                update(operators)
                .where(operators.c.name == name)
                .values(failed_logins=0, locked_until=until)
            )
            record(
                conn,
                at=now,
                operator=name,
                kind="lockout",
                text=f"{MAX_FAILURES} wrong passwords in a row: locked until {until}",
            )
    except DBAPIError as e:
        raise StoreError(f"operators: database error: {e.orig}") from e
    _log.warning("console log-in: %s locked out after %d failures", name, failures)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except VerifyMismatchError:
        return False
    except (VerificationError, InvalidHashError):
        _log.warning("a console password hash is unreadable; set that operator's password again")
        return False


def _update(node: Node, name: str, **values: object) -> None:
    try:
        with node.database.engine.begin() as conn:
            changed = conn.execute(
                update(operators).where(operators.c.name == name).values(**values)
            ).rowcount
            if changed == 0:
                raise InputError(f"no operator named {name!r}")
    except DBAPIError as e:
        raise StoreError(f"operator {name}: database error, nothing was written: {e.orig}") from e
