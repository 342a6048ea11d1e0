"""Signed peer requests: RFC 9421 HTTP Message Signatures with Ed25519.

Every request one Détente node makes of another is signed by the sender's
node key (RFC 9421, section 3.3.6, ``ed25519``) under the signature label
``detente``. The signature covers (RFC 9421, section 2.2):

- ``@method``, ``@path`` and ``@query``. ``@query`` is covered always: for a
  request without a query its value is a lone ``?`` (section 2.2.7), so no
  query can be added to a request signed without one.
- ``@authority``, the host (and non-default port) the request is addressed
  to, so a request signed for one node cannot be relayed to another. This
  holds only if the receiver passes :meth:`RequestVerifier.verify` the URL
  as it knows itself (its own scheme and host), not a ``Host`` header an
  attacker chose; section 7.2.2 of the RFC.
- ``content-digest``, the RFC 9530 ``sha-256`` digest of the exact body
  bytes (also of an empty body), computed on signing and checked here on
  receipt.

and carries the signature parameters (section 2.3) ``created``, ``keyid``
(the sender's party id), ``alg`` (``ed25519``), ``nonce`` (256 random bits,
url-safe base64) and ``tag`` (``detente/request/v1``). A request is fresh if
``created`` is at most ``max_age`` seconds old and at most ``max_skew``
seconds ahead of the receiver's clock; its nonce is remembered for as long
as it is fresh, so each signed request is accepted once.

Signature context: what is signed is an RFC 9421 signature base, which
begins with ``"@method": `` and ends with the ``"@signature-params"`` line
holding the Détente tag. Envelope signatures begin with
``detente/envelope/v1``, signed-note and cosignature messages with a log
origin or ``cosignature/v1``; so no request signature can be replayed as
any other Détente signature, nor the other way round. The tag sets
Détente's requests apart from other uses of RFC 9421.

Example:
    >>> from datetime import UTC, datetime
    >>> import httpx
    >>> from detente.crypto.keys import SigningKey
    >>> key = SigningKey.generate("us")
    >>> now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    >>> request = httpx.Request("POST", "https://ru.example/v1/peer/entries", content=b"{}")
    >>> sign_request(request, key=key, key_id="us", now=now)
    >>> verifier = RequestVerifier(
    ...     keys={"us": key.verifier}.get, replay=MemoryReplayGuard()
    ... )
    >>> verifier.verify(
    ...     method=request.method, url=str(request.url), headers=request.headers,
    ...     body=request.content, now=now,
    ... )
    'us'
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import heapq
import hmac
import re
import secrets
import threading
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx
from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from sqlalchemy import Engine, delete, insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from detente.crypto.keys import SigningKey, VerifierKey
from detente.errors import AuthenticationError, EncodingError, StoreError, UnknownKeyError
from detente.store.schema import nonces

__all__ = [
    "COVERED_COMPONENTS",
    "SIGNATURE_LABEL",
    "SIGNATURE_TAG",
    "DatabaseReplayGuard",
    "MemoryReplayGuard",
    "PeerAuth",
    "ReplayGuard",
    "RequestVerifier",
    "sign_request",
]

SIGNATURE_LABEL = "detente"
"""The label of Détente's signature in ``Signature-Input`` and ``Signature``."""

SIGNATURE_TAG = "detente/request/v1"
"""The ``tag`` signature parameter: what the signature is for (RFC 9421, section 2.3)."""

COVERED_COMPONENTS = ("@method", "@authority", "@path", "@query", "content-digest")
"""The components every Détente request signature covers, in this order."""

_ALG = algorithms.ED25519.algorithm_id
_NONCE_BYTES = 32
_NONCE = re.compile(r"[A-Za-z0-9_-]{22,128}")  # 22 characters carry 128 bits
_KNOWN_PARAMETERS = frozenset({"alg", "created", "expires", "keyid", "nonce", "tag"})
_DIGESTS: dict[str, Callable[[bytes], Any]] = {
    "sha-256": hashlib.sha256,
    "sha-512": hashlib.sha512,
}
_DIGEST_MEMBER = re.compile(r"([a-z*][a-z0-9_.*-]*)=:([A-Za-z0-9+/]*={0,2}):")
_SHOWN = 64

_signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519)


def _aware_timestamp(now: datetime) -> float:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    return now.timestamp()


def _show(text: str) -> str:
    """``text`` quoted and cut short, fit for an error message about untrusted input."""
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


def _content_digest(body: bytes) -> str:
    """The RFC 9530 ``Content-Digest`` field value of ``body`` with ``sha-256``."""
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
    return f"sha-256=:{digest}:"


def sign_request(request: httpx.Request, *, key: SigningKey, key_id: str, now: datetime) -> None:
    """Sign ``request`` in place for a peer: add Content-Digest, Signature-Input, Signature.

    Any earlier ``Content-Digest`` or signature headers are replaced. The body
    must already be in memory (``request.content``): :class:`PeerAuth` reads
    it first.

    Args:
        request: The request to sign, with its final URL, method and body.
        key: This node's key.
        key_id: This node's party id; the receiver looks up ``key``'s public
            half by it.
        now: The signing time (``created``), timezone-aware.

    Raises:
        ValueError: ``now`` is naive, or the URL or ``key_id`` cannot go in
            a signature (RFC 9421 wants an absolute URL and ASCII text).
    """
    _aware_timestamp(now)
    request.headers["Content-Digest"] = _content_digest(request.content)
    try:
        prepared = _signer.prepare(
            request,
            key_id=key_id,
            created=now,
            nonce=secrets.token_urlsafe(_NONCE_BYTES),
            label=SIGNATURE_LABEL,
            tag=SIGNATURE_TAG,
            include_alg=True,
            covered_component_ids=COVERED_COMPONENTS,
            use_existing_digest=True,
        )
        _signer.apply(request, prepared, key.sign(prepared.signature_base))
    except (HTTPMessageSignaturesException, ValueError) as e:
        raise ValueError(f"cannot sign the request to {request.url.host}: {e}") from e


class PeerAuth(httpx.Auth):
    """httpx authentication that signs every request with :func:`sign_request`.

    Example: ``httpx.Client(auth=PeerAuth(node.key, node.party, node.clock))``.
    A redirect is not signed again; peer clients do not follow redirects.
    """

    requires_request_body = True

    def __init__(
        self,
        key: SigningKey | Callable[[httpx.Request], SigningKey],
        key_id: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._key = key
        self._key_id = key_id
        self._clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # A callable picks the key per request: after a rotation, the key the
        # addressed peer can check (ADR 0005).
        key = self._key if isinstance(self._key, SigningKey) else self._key(request)
        sign_request(request, key=key, key_id=self._key_id, now=self._clock())
        yield request


class ReplayGuard(Protocol):
    """Remembers the nonces of accepted requests until they could no longer be fresh."""

    def remember(self, key_id: str, nonce: str, expires_at: int) -> bool:
        """Record ``nonce`` of ``key_id`` until ``expires_at`` (seconds since the epoch).

        Returns:
            True if the nonce is new, False if it was seen before.

        Raises:
            StoreError: the guard's storage failed.
        """
        ...


_DEFAULT_HORIZON = 3600


class MemoryReplayGuard:
    """A :class:`ReplayGuard` in a dict: for one process and for tests.

    Expired nonces are dropped without a clock: every accepted request was
    created at most ``max_skew`` ahead of the verifier's clock, so its
    ``expires_at`` (created + ``max_age``) is at most ``max_age + max_skew``
    past now, and any nonce that expired more than that before the newest
    ``expires_at`` seen has surely expired. ``horizon`` must therefore be at
    least the verifier's ``max_age + max_skew`` (the verifier checks).
    """

    def __init__(self, *, horizon: int = _DEFAULT_HORIZON) -> None:
        self.horizon = horizon
        self._seen: dict[tuple[str, str], int] = {}
        self._expiry: list[tuple[int, str, str]] = []
        self._newest: int | None = None
        self._lock = threading.Lock()

    def remember(self, key_id: str, nonce: str, expires_at: int) -> bool:
        with self._lock:
            if (key_id, nonce) in self._seen:
                return False
            self._seen[key_id, nonce] = expires_at
            heapq.heappush(self._expiry, (expires_at, key_id, nonce))
            self._newest = expires_at if self._newest is None else max(self._newest, expires_at)
            bound = self._newest - self.horizon
            while self._expiry and self._expiry[0][0] < bound:
                _, old_key_id, old_nonce = heapq.heappop(self._expiry)
                del self._seen[old_key_id, old_nonce]
            return True

    def __len__(self) -> int:
        return len(self._seen)


class DatabaseReplayGuard:
    """A :class:`ReplayGuard` in the ``nonces`` table, shared by every API process.

    Each call is its own short transaction: an insert, where a primary key
    violation means the nonce was seen (on SQLite and PostgreSQL alike, also
    when two processes race). Expired rows are deleted in a transaction of
    their own whenever the newest ``expires_at`` this process has seen has
    moved on by ``prune_every`` seconds, by the clock-free rule of
    :class:`MemoryReplayGuard` (``horizon`` likewise at least the verifier's
    ``max_age + max_skew``).
    """

    def __init__(
        self, engine: Engine, *, horizon: int = _DEFAULT_HORIZON, prune_every: int = 60
    ) -> None:
        self.horizon = horizon
        self._engine = engine
        self._prune_every = prune_every
        self._newest: int | None = None
        self._pruned_below: int | None = None
        self._lock = threading.Lock()

    def remember(self, key_id: str, nonce: str, expires_at: int) -> bool:
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(nonces).values(key_id=key_id, nonce=nonce, expires_at=expires_at)
                )
        except IntegrityError:
            return False
        except SQLAlchemyError as e:
            raise StoreError(f"cannot record a request nonce: {type(e).__name__}") from e
        with self._lock:
            self._newest = expires_at if self._newest is None else max(self._newest, expires_at)
            bound = self._newest - self.horizon
            due = self._pruned_below is None or bound - self._pruned_below >= self._prune_every
            if due:
                self._pruned_below = bound
        if due:
            self.prune(bound)
        return True

    def prune(self, below: int) -> int:
        """Delete nonces that expired before ``below``; return how many.

        Raises:
            StoreError: the database failed.
        """
        try:
            with self._engine.begin() as conn:
                result = conn.execute(delete(nonces).where(nonces.c.expires_at < below))
        except SQLAlchemyError as e:
            raise StoreError(f"cannot prune request nonces: {type(e).__name__}") from e
        return result.rowcount


@dataclass
class _Message:
    """The request as the RFC 9421 package reads it."""

    method: str
    url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class _Input:
    """What Détente takes from a signature input that passed its policy."""

    keyid: str
    key: VerifierKey
    nonce: str
    created: int
    more: bool = False


class _KeyResolver(HTTPSignatureKeyResolver):
    def __init__(self) -> None:
        self.input: _Input | None = None

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey | None:
        if self.input is None or self.input.keyid != key_id:
            return None
        return Ed25519PublicKey.from_public_bytes(self.input.key.public_key)


class _Verification(HTTPMessageVerifier):
    """One run of the package's verifier, with Détente's policy on the parameters.

    The package calls :meth:`validate_created_and_expires` with the parsed
    signature input before it resolves the key or checks the signature; this
    is where the clock given to :meth:`RequestVerifier.verify` (the package
    would read the system clock) and every other parameter check go.
    """

    def __init__(self, policy: Callable[[Any], _Input]) -> None:
        self.resolver = _KeyResolver()
        super().__init__(signature_algorithm=algorithms.ED25519, key_resolver=self.resolver)
        self._policy = policy

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        self.resolver.input = self._policy(sig_input)


class RequestVerifier:
    """Checks that a request is signed by a known peer, fresh, and not seen before.

    Args:
        keys: The peer key for a ``keyid`` (a party id), or the keys a request
            of that peer is accepted under, tried in order; None if unknown.
        replay: Where nonces of accepted requests are remembered.
        max_age: How many seconds after ``created`` a request is accepted.
        max_skew: How many seconds ahead of this clock ``created`` may be.
    """

    def __init__(
        self,
        *,
        keys: Callable[[str], VerifierKey | Sequence[VerifierKey] | None],
        replay: ReplayGuard,
        max_age: int = 300,
        max_skew: int = 60,
    ) -> None:
        if max_age <= 0 or max_skew < 0:
            raise ValueError("max_age must be positive and max_skew not negative")
        horizon = getattr(replay, "horizon", None)
        if isinstance(horizon, int) and horizon < max_age + max_skew:
            raise ValueError(
                f"the replay guard forgets nonces after {horizon}s, sooner than "
                f"max_age + max_skew = {max_age + max_skew}s"
            )
        self._keys = keys
        self._replay = replay
        self._max_age = max_age
        self._max_skew = max_skew

    def verify(
        self, *, method: str, url: str, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> str:
        """Verify a signed peer request and return the peer's party id (its ``keyid``).

        The checks run cheapest first and the nonce is recorded last, once
        signature and body have been found good, so that nobody without the
        peer's key can use up a nonce of the peer's.

        Args:
            method: The request method, as received (upper case).
            url: The absolute, percent-encoded URL of the request as this node
                knows itself: its own scheme and authority, and the path and
                query exactly as sent (ASGI ``raw_path`` and ``query_string``).
            headers: The request headers; names in any case, repeated fields
                either joined with ``", "`` or as repeated items.
            body: The exact body bytes received.
            now: This node's time, timezone-aware.

        Returns:
            The ``keyid`` of the signature, which is the sending party.

        Raises:
            AuthenticationError: the request is unsigned, signed by an unknown
                key, badly signed, stale, from the future, without a nonce or
                replayed, does not cover what Détente requires, or its body
                does not match its Content-Digest. The message says which.
            StoreError: the replay guard's storage failed.
        """
        now_ts = _aware_timestamp(now)
        fields = _header_fields(headers)
        for name in ("Signature", "Signature-Input"):
            if name.lower() not in fields:
                raise AuthenticationError(f"request is not signed: the {name} header is missing")
        if "content-digest" not in fields:
            raise AuthenticationError("the Content-Digest header is missing")

        message = _Message(method=method, url=url, headers=fields)
        choice = 0
        while True:
            verification = _Verification(
                functools.partial(self._check_input, now=now_ts, choice=choice)
            )
            try:
                results = verification.verify(
                    message,
                    max_age=None,
                    expect_tag=SIGNATURE_TAG,
                    expect_label=SIGNATURE_LABEL,
                    require_components=COVERED_COMPONENTS,
                )
                break
            except InvalidSignature as e:
                checked = verification.resolver.input
                if isinstance(e.__cause__, _CryptoInvalidSignature) and checked is not None:
                    if checked.more:  # another key of that peer may have signed it
                        choice += 1
                        continue
                    raise AuthenticationError(
                        f"signature by keyid {_show(checked.keyid)} does not verify"
                    ) from e
                raise AuthenticationError(f"signature {SIGNATURE_LABEL!r} is unusable: {e}") from e
            except HTTPMessageSignaturesException as e:
                raise AuthenticationError(f"signature {SIGNATURE_LABEL!r} is unusable: {e}") from e
        result = results[0]  # labels are unique: one signature is selected
        checked = verification.resolver.input
        if checked is None:  # the package checks no signature without asking the policy
            raise AuthenticationError(f"signature {SIGNATURE_LABEL!r} was not checked")
        _check_content_digest(result.covered_components['"content-digest"'], body)
        if not self._replay.remember(checked.keyid, checked.nonce, checked.created + self._max_age):
            raise AuthenticationError(
                f"request replayed: keyid {_show(checked.keyid)} already used this nonce"
            )
        return checked.keyid

    def _check_input(self, sig_input: Any, now: float, choice: int = 0) -> _Input:
        """Détente's policy on one signature's input, and the key its ``keyid`` names.

        Raises:
            AuthenticationError: see :meth:`verify`.
        """
        params: dict[str, object] = dict(sig_input.params)
        unexpected = sorted(set(params) - _KNOWN_PARAMETERS)
        if unexpected:
            raise AuthenticationError(f"unexpected signature parameters: {', '.join(unexpected)}")
        alg = params.get("alg")
        if alg != _ALG:
            shown = "no alg parameter" if alg is None else f"alg {_show(str(alg))}"
            raise AuthenticationError(f"signature has {shown}; Détente requires alg {_ALG!r}")
        covered = {str(item.value) for item in sig_input if not item.params}
        missing = [name for name in COVERED_COMPONENTS if name not in covered]
        if missing:
            raise AuthenticationError(f"signature does not cover {', '.join(missing)}")
        created = self._check_time(params, now)
        nonce = params.get("nonce")
        if nonce is None:
            raise AuthenticationError("signature has no nonce parameter")
        if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
            raise AuthenticationError(
                "signature nonce is not 22 to 128 url-safe base64 characters (128 bits or more)"
            )
        keyid = params.get("keyid")
        if not isinstance(keyid, str):
            raise AuthenticationError("signature has no keyid parameter")
        try:
            found = self._keys(keyid)
        except (UnknownKeyError, EncodingError) as e:
            raise AuthenticationError(f"unknown keyid {_show(keyid)}: {e}") from e
        if found is None:
            raise AuthenticationError(f"unknown keyid {_show(keyid)}: no peer has that party id")
        keys = (found,) if isinstance(found, VerifierKey) else tuple(found)
        if not keys:
            raise AuthenticationError(f"keyid {_show(keyid)}: no key of that peer is usable")
        key = keys[min(choice, len(keys) - 1)]
        more = choice + 1 < len(keys)
        return _Input(keyid=keyid, key=key, nonce=nonce, created=created, more=more)

    def _check_time(self, params: Mapping[str, object], now: float) -> int:
        created = params.get("created")
        if not isinstance(created, int):
            raise AuthenticationError("signature has no created parameter")
        if created > now + self._max_skew:
            raise AuthenticationError(
                f"signature created {int(created - now)}s in the future, beyond the "
                f"allowed clock skew of {self._max_skew}s"
            )
        if now - created > self._max_age:
            raise AuthenticationError(
                f"signature too old: created {int(now - created)}s ago, more than "
                f"the {self._max_age}s allowed"
            )
        expires = params.get("expires")
        if isinstance(expires, int) and expires < now:
            raise AuthenticationError(
                f"signature expired {int(now - expires)}s ago (its expires parameter)"
            )
        return created


def _header_fields(headers: Mapping[str, str]) -> dict[str, str]:
    """Header fields by lower-case name, repeated lines joined by ``", "`` (RFC 9110, 5.3)."""
    fields: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        fields[key] = f"{fields[key]}, {value}" if key in fields else value
    return fields


def _check_content_digest(value: str, body: bytes) -> None:
    """Check a signed RFC 9530 Content-Digest value against the body bytes.

    The value is an RFC 8941 Dictionary of Byte Sequences; members without
    parameters are all this accepts. ``sha-256`` is required; a ``sha-512``
    beside it is checked too; any other algorithm is refused.

    Raises:
        AuthenticationError: the field is malformed, names an unsupported
            algorithm, lacks ``sha-256`` or does not match ``body``.
    """
    members: dict[str, bytes] = {}
    for member in value.split(","):
        match = _DIGEST_MEMBER.fullmatch(member.strip(" \t"))
        if match is None:
            raise AuthenticationError("content-digest is malformed (RFC 9530)")
        algorithm, encoded = match.groups()
        if algorithm in members:
            raise AuthenticationError(f"content-digest names {algorithm} twice")
        try:
            members[algorithm] = base64.b64decode(encoded, validate=True)
        except binascii.Error as e:
            raise AuthenticationError(f"content-digest {algorithm} is not valid base64") from e
    unsupported = sorted(set(members) - set(_DIGESTS))
    if unsupported:
        raise AuthenticationError(
            f"content-digest algorithm {_show(unsupported[0])} is not supported; use sha-256"
        )
    if "sha-256" not in members:
        raise AuthenticationError("content-digest has no sha-256 digest, which Détente requires")
    for algorithm, digest in members.items():
        if not hmac.compare_digest(digest, _DIGESTS[algorithm](body).digest()):
            raise AuthenticationError(
                f"content-digest {algorithm} does not match the {len(body)}-byte body"
            )
