"""Operators of a node and the API tokens they authenticate with.

An operator is a named person with a role: a ``viewer`` reads, an
``operator`` also sends, an ``admin`` also administers the node. Each holds
one API token, made by :func:`add_operator` or :func:`rotate_token` and
shown once; the node keeps only a hash of its secret.

A token reads ``dto_<token_id>_<secret>``:

- ``token_id``: 12 random URL-safe characters (72 bits), stored in clear.
  It is a lookup key, not a secret; logs may name it.
- ``secret``: 43 random URL-safe characters (256 bits), stored only as an
  argon2id hash.

Why light argon2 parameters (``t=1``, ``m=8 MiB``, ``p=1``, about 4 ms a
check): argon2's cost exists to slow down guessing of low-entropy human
passwords. A 256-bit random secret cannot be guessed at any cost, so the
hash only has to be one-way (a copied database yields no usable token) and
cheap enough to run on every API request. It stays argon2id so that one
verified, constant-time primitive serves tokens now and the web console's
passwords later; those will get a ``password_hash`` column of their own
and a hasher at RFC 9106 strength, never these parameters.

Authentication reads the operator's row on every request, so a removed
operator, a rotated token or a changed role takes effect at once. A
:class:`VerificationCache`, if the caller keeps one, only spares the argon2
check for a token already verified against the same stored hash.

Example:
    >>> import pathlib, tempfile
    >>> from detente.node import init_node
    >>> home = pathlib.Path(tempfile.mkdtemp()) / "us"
    >>> node = init_node(home, party="us", agreement_ref="security-replies-2022")
    >>> alice, token = add_operator(node, "alice", Role.viewer)
    >>> authenticate(node, token) == alice
    True
    >>> require(alice, send=True)
    Traceback (most recent call last):
    ...
    detente.errors.PermissionDeniedError: viewer alice may not send
    >>> node.close()
"""

from __future__ import annotations

import enum
import hashlib
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, Engine, Row, delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from detente.errors import (
    AuthenticationError,
    EncodingError,
    InputError,
    PermissionDeniedError,
    StoreError,
)
from detente.node.directory import Node
from detente.record.envelope import format_time, parse_time
from detente.store.schema import console_sessions, operators

__all__ = [
    "LANGUAGES",
    "TOKEN_PREFIX",
    "Operator",
    "Role",
    "VerificationCache",
    "add_operator",
    "authenticate",
    "list_operators",
    "remove_operator",
    "require",
    "rotate_token",
    "set_language",
]

#: Languages of the console's interface.
LANGUAGES = ("en", "ru")

_log = logging.getLogger(__name__)

TOKEN_PREFIX = "dto_"  # noqa: S105 - a format marker, not a secret
_ID_BYTES = 9  # 12 URL-safe characters
_SECRET_BYTES = 32  # 43 URL-safe characters, 256 bits
_TOKEN = re.compile(r"dto_(?P<id>[A-Za-z0-9_-]{12})_(?P<secret>[A-Za-z0-9_-]{43,128})")
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")

_TOKEN_HASHER = PasswordHasher(
    time_cost=1,
    memory_cost=8192,  # KiB
    parallelism=1,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)
# The hash of a secret nobody kept, made with _TOKEN_HASHER's parameters: an
# unknown token id costs one verification too, as a known one does.
_DUMMY_HASH = (
    "$argon2id$v=19$m=8192,t=1,p=1$5ic2LzFkCHYgDibdajUSaw"
    "$wM7GOMbIEoWHe8rfg39Ump81lKV6KsdRbVIibxqVi8g"
)


class Role(enum.StrEnum):
    """What an operator may do; each role may do all the one before it may."""

    viewer = "viewer"
    operator = "operator"
    admin = "admin"

    @property
    def can_send(self) -> bool:
        """Whether this role may send messages into the node's log."""
        return self in (Role.operator, Role.admin)

    @property
    def can_administer(self) -> bool:
        """Whether this role may manage operators and the node."""
        return self is Role.admin


@dataclass(frozen=True)
class Operator:
    """An operator as the node knows them; credentials are never part of it."""

    name: str
    role: Role
    created_at: datetime


class VerificationCache:
    """Successful token checks, remembered for a short time to spare argon2.

    Keyed by SHA-256 of the whole token, so the cache never holds a token
    (and a 256-bit secret is not recovered from its digest). An entry
    counts only while the operator's stored hash is the one it was checked
    against, and :func:`authenticate` reads that row on every call: removal
    and rotation take effect at once, and the TTL bounds nothing security
    depends on. Keep one per process (the HTTP app factory's to make); it is
    safe to share between threads.

    Args:
        ttl: seconds a successful check is remembered.
        max_entries: entries kept at most; the oldest are dropped first.
        monotonic: the clock, in seconds (tests pass their own).
    """

    def __init__(
        self,
        *,
        ttl: float = 60.0,
        max_entries: int = 1024,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._now = monotonic
        self._entries: dict[bytes, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def hit(self, digest: bytes, token_hash: str) -> bool:
        """Whether ``digest`` was verified against ``token_hash`` within the TTL."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return False
            if entry[0] != token_hash or entry[1] <= self._now():
                del self._entries[digest]
                return False
            return True

    def add(self, digest: bytes, token_hash: str) -> None:
        """Remember that ``digest`` verified against ``token_hash``."""
        with self._lock:
            now = self._now()
            if len(self._entries) >= self._max:
                for key in [k for k, (_, expires) in self._entries.items() if expires <= now]:
                    del self._entries[key]
            while len(self._entries) >= self._max:
                del self._entries[next(iter(self._entries))]
            self._entries[digest] = (token_hash, now + self._ttl)


def add_operator(node: Node, name: str, role: Role) -> tuple[Operator, str]:
    """Create operator ``name`` with ``role`` and a new API token.

    Returns:
        The operator and their token. The token is not stored and cannot
        be shown again; :func:`rotate_token` replaces a lost one.

    Raises:
        InputError: the name is malformed or already taken.
        StoreError: the database failed; nothing was written.
    """
    if not _NAME.fullmatch(name):
        raise InputError(
            f"operator name {name!r}: use 1 to 64 of a-z, 0-9, '_', '.', '-', "
            "starting with a letter or digit"
        )
    try:
        role = Role(role)
    except ValueError as e:
        raise InputError(f"role {role!r}: use one of {', '.join(Role)}") from e
    token_id, token, token_hash = _new_token()
    created_at = format_time(node.clock())
    try:
        with node.database.engine.begin() as conn:
            if _row_by_name(conn, name) is not None:
                raise InputError(f"operator {name!r} already exists")
            conn.execute(
                insert(operators).values(
                    name=name,
                    role=role.value,
                    token_id=token_id,
                    token_hash=token_hash,
                    created_at=created_at,
                )
            )
    except IntegrityError as e:
        raise InputError(f"operator {name!r} already exists") from e
    except DBAPIError as e:
        raise StoreError(f"operator {name}: database error, nothing was written: {e.orig}") from e
    _log.info("operator %s added as %s (token id %s)", name, role, token_id)
    return Operator(name=name, role=role, created_at=parse_time(created_at)), token


def authenticate(
    source: Engine | Node, token: str, *, cache: VerificationCache | None = None
) -> Operator:
    """The operator whose API token ``token`` is.

    The secret is checked with argon2's constant-time verification. An
    unknown token id still costs one verification, against a fixed dummy
    hash, so timing does not tell which ids exist; every failure says only
    "invalid token".

    Args:
        source: the node, or its database engine.
        token: the token as presented, ``dto_<token_id>_<secret>``.
        cache: successful checks to reuse; see :class:`VerificationCache`.

    Raises:
        AuthenticationError: the token is malformed, unknown, revoked or wrong.
        StoreError: the database failed or holds an unreadable operator.
    """
    parsed = _TOKEN.fullmatch(token)
    if parsed is None:
        raise AuthenticationError("invalid token: not a Détente operator token (dto_…)")
    token_id, secret = parsed["id"], parsed["secret"]
    engine = source.database.engine if isinstance(source, Node) else source
    try:
        with engine.connect() as conn:
            row = conn.execute(
                select(operators).where(operators.c.token_id == token_id)
            ).one_or_none()
    except DBAPIError as e:
        raise StoreError(f"operators: database error: {e.orig}") from e
    if row is None:
        _verify(_DUMMY_HASH, secret)
        _log.info("operator token refused: unknown token id %s", token_id)
        raise AuthenticationError("invalid token")
    digest = hashlib.sha256(token.encode()).digest()
    if cache is None or not cache.hit(digest, row.token_hash):
        if not _verify(row.token_hash, secret):
            _log.info("operator token refused: wrong secret for token id %s", token_id)
            raise AuthenticationError("invalid token")
        if cache is not None:
            cache.add(digest, row.token_hash)
    return _operator(row)


def require(operator: Operator, *, send: bool = False, admin: bool = False) -> None:
    """Check that ``operator``'s role allows what is asked.

    Raises:
        PermissionDeniedError: the role may not send, or may not administer.
    """
    if send and not operator.role.can_send:
        raise PermissionDeniedError(f"{operator.role} {operator.name} may not send")
    if admin and not operator.role.can_administer:
        raise PermissionDeniedError(f"{operator.role} {operator.name} may not administer the node")


def list_operators(node: Node) -> list[Operator]:
    """Every operator of the node, by name.

    Raises:
        StoreError: the database failed or holds an unreadable operator.
    """
    try:
        with node.database.engine.connect() as conn:
            rows = conn.execute(select(operators).order_by(operators.c.name)).all()
    except DBAPIError as e:
        raise StoreError(f"operators: database error: {e.orig}") from e
    return [_operator(row) for row in rows]


def remove_operator(node: Node, name: str) -> None:
    """Remove operator ``name``; their token stops working at once.

    Raises:
        InputError: there is no such operator.
        StoreError: the database failed; nothing was written.
    """
    try:
        with node.database.engine.begin() as conn:
            removed = conn.execute(delete(operators).where(operators.c.name == name)).rowcount
            if removed == 0:
                raise InputError(f"no operator named {name!r}")
            conn.execute(delete(console_sessions).where(console_sessions.c.operator == name))
    except DBAPIError as e:
        raise StoreError(f"operator {name}: database error, nothing was written: {e.orig}") from e
    _log.info("operator %s removed", name)


def rotate_token(node: Node, name: str) -> str:
    """Give operator ``name`` a new token; the old one stops working at once.

    The new token is hashed with the current parameters, so rotation is
    also how a token moves to new argon2 parameters.

    Returns:
        The new token, shown once and not stored.

    Raises:
        InputError: there is no such operator.
        StoreError: the database failed; nothing was written.
    """
    token_id, token, token_hash = _new_token()
    try:
        with node.database.engine.begin() as conn:
            changed = conn.execute(
                update(operators)
                .where(operators.c.name == name)
                .values(token_id=token_id, token_hash=token_hash)
            ).rowcount
            if changed == 0:
                raise InputError(f"no operator named {name!r}")
    except DBAPIError as e:
        raise StoreError(f"operator {name}: database error, nothing was written: {e.orig}") from e
    _log.info("operator %s given a new token (token id %s)", name, token_id)
    return token


def set_language(node: Node, name: str, language: str) -> None:
    """Set the console language of operator ``name`` (one of :data:`LANGUAGES`).

    Raises:
        InputError: no such operator, or a language the console does not speak.
        StoreError: the database failed; nothing was written.
    """
    if language not in LANGUAGES:
        raise InputError(f"language {language!r}: use one of {', '.join(LANGUAGES)}")
    try:
        with node.database.engine.begin() as conn:
            changed = conn.execute(
                update(operators).where(operators.c.name == name).values(language=language)
            ).rowcount
            if changed == 0:
                raise InputError(f"no operator named {name!r}")
    except DBAPIError as e:
        raise StoreError(f"operator {name}: database error, nothing was written: {e.orig}") from e


def _new_token() -> tuple[str, str, str]:
    """A fresh ``(token_id, token, hash of its secret)``."""
    token_id = secrets.token_urlsafe(_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    return token_id, f"{TOKEN_PREFIX}{token_id}_{secret}", _TOKEN_HASHER.hash(secret)


def _verify(token_hash: str, secret: str) -> bool:
    try:
        return _TOKEN_HASHER.verify(token_hash, secret)
    except VerifyMismatchError:
        return False
    except (VerificationError, InvalidHashError):
        _log.warning("operator token hash is unreadable; rotate that operator's token")
        return False


def _row_by_name(conn: Connection, name: str) -> Row[Any] | None:
    return conn.execute(select(operators.c.name).where(operators.c.name == name)).one_or_none()


def _operator(row: Row[Any]) -> Operator:
    try:
        return Operator(
            name=row.name,
            role=Role(row.role),
            created_at=parse_time(row.created_at, field_name="created_at"),
        )
    except (ValueError, EncodingError) as e:
        raise StoreError(f"operator {row.name}: unreadable row: {e}") from e
