"""Which key to sign with and to check with, for each peer, as logs rotate keys.

The receiving side resolves every key of a party through its log
(:meth:`detente.node.directory.Node.key_history`): the entries and the
checkpoint of a delivery (:func:`delivery_keys`), and the party's signed
requests (:func:`request_keys`). The sending side signs each request with
a key the addressed peer can check (:class:`RequestKeys`): the key in
force once that peer holds the last rotation, the retired key before.

When a delivery brings a revocation, :func:`note_revocations` raises a
``key_revoked`` alarm naming the held entries the revoked key signed from
the revoked position on (ADR 0005, operations.md "Key compromise").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import httpx

from detente.crypto.keys import SigningKey, VerifierKey
from detente.errors import UnknownKeyError
from detente.node.alarms import raise_alarm
from detente.node.directory import Node
from detente.node.keyfiles import RETIRED_KEY_FILE, destroy_retired_key, load_retired_key
from detente.node.rotation import peers_behind
from detente.record.checkpoint import Cosignature
from detente.record.envelope import Envelope
from detente.record.keyhistory import KeyHistory
from detente.store.logs import LogStore

__all__ = [
    "RequestKeys",
    "checkpoint_key",
    "cosigner_key",
    "delivery_keys",
    "note_revocations",
    "request_keys",
]

log = logging.getLogger("detente.keys")


def delivery_keys(
    node: Node, sender: str, entries: Sequence[tuple[Envelope, bytes | None]]
) -> tuple[KeyHistory, KeyHistory]:
    """The sender's key history before and after the new entries of a delivery.

    Key entries at positions the mirror does not hold yet are folded in, in
    order, each checked under the key in force at its position; admission
    then checks every entry, key entries included, under the history after.

    Raises:
        UnknownKeyError: the sender is not a configured peer.
        SignatureError, BodyError, VerificationError: a key entry does not hold.
    """
    with node.database.engine.connect() as conn:
        before = node.key_history(sender, conn)
        held = LogStore(conn, sender).size()
    if before is None or sender == node.party:
        raise UnknownKeyError(f"{sender!r} is not a peer of this node")
    after = before
    for envelope, body in entries:
        if envelope.header.seq >= held and envelope.header.seq > after.last_seq:
            after = after.apply(envelope, body)
    return before, after


def note_revocations(node: Node, sender: str, before: KeyHistory, after: KeyHistory) -> None:
    """Raise a ``key_revoked`` alarm for each revocation a delivery brought."""
    new = after.revocations[len(before.revocations) :]
    if not new:
        return
    with node.database.engine.connect() as conn:
        size = LogStore(conn, sender).size()
    for revocation in new:
        spans = [
            f"{sender}:{first}..{sender}:{last}"
            for key, first, last in after.revoked_spans(size)
            if key == revocation.key
        ]
        held = ", ".join(spans) if spans else "none held here"
        raise_alarm(
            node,
            kind="key_revoked",
            party=sender,
            detail=(
                f"{sender} revoked key {revocation.key.key_id.hex()} as of {sender}:"
                f"{revocation.from_seq} (entry {sender}:{revocation.seq}, reason: "
                f"{revocation.reason[:200]!r}); entries signed by it from then on: {held}"
            ),
            evidence={
                "key": revocation.key.to_text(),
                "from_seq": revocation.from_seq,
                "revocation": f"{sender}:{revocation.seq}",
                "spans": spans,
            },
        )


def checkpoint_key(node: Node, party: str, size: int) -> VerifierKey | None:
    """The key that signs ``party``'s checkpoint of ``size``, as far as this node knows.

    For a size beyond what this node holds of the log, the key in force at
    the end of what it holds: a checkpoint signed by a key the party
    rotated to later is checked once its rotation entry is held.
    """
    history = node.key_history(party)
    return None if history is None else history.checkpoint_key(size)


def cosigner_key(node: Node, party: str, cosignature: Cosignature) -> VerifierKey:
    """The key of ``party``'s log that made ``cosignature``, found by its key ID.

    A peer cosigns with the key in force in its own log when it cosigns,
    which may be older or newer than what this node holds at the time.

    Raises:
        UnknownKeyError: no key of the party's log (as held) has that key
            ID, or that key is revoked.
    """
    history = node.key_history(party)
    key = None if history is None else history.find_cosigner(cosignature.key_id)
    if history is None or key is None:
        raise UnknownKeyError(
            f"cosignature by {cosignature.name}+{cosignature.key_id.hex()} is by no key of "
            f"{party}'s log known here (its rotation may not have arrived yet)"
        )
    if history.revoked_from(key) is not None:
        raise UnknownKeyError(f"cosignature by {party}'s revoked key {key.key_id.hex()}")
    return key


def request_keys(node: Node, party: str) -> tuple[VerifierKey, ...] | None:
    """The keys a signed request of ``party`` is accepted under, or None if not a peer.

    The key in force at the end of this node's mirror of the party's log,
    and the key its last rotation replaced unless revoked: the party signs
    with that one until it learns that this node holds the rotation.
    """
    if party == node.party:
        return None
    history = node.key_history(party)
    return None if history is None else history.request_keys()


class RequestKeys:
    """Picks the key to sign a request to a peer with: one that peer can check.

    Once every configured peer has been delivered the last rotation, the
    retired key is destroyed.

    Example: ``httpx.Client(auth=PeerAuth(RequestKeys(node), node.party, node.clock))``.
    """

    def __init__(self, node: Node) -> None:
        self._node = node
        self._retired: SigningKey | None = None
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> SigningKey:
        """The key for ``request``, by the peer whose URL it is addressed to."""
        node = self._node
        current = node.key
        if not (node.directory / RETIRED_KEY_FILE).exists():
            return current
        history = node.key_history(node.party)
        if history is None or history.last_rotation is None or history.previous is None:
            return current
        behind = peers_behind(node, history.last_rotation)
        if not behind:
            with self._lock:
                if destroy_retired_key(node.directory):
                    log.warning(
                        "%s: every peer holds the rotation; retired key destroyed", node.directory
                    )
                self._retired = None
            return current
        peer = _peer_for(node, request.url)
        if peer is None or peer not in behind:
            return current
        with self._lock:
            if self._retired is None or self._retired.verifier != history.previous:
                self._retired = load_retired_key(
                    node.directory,
                    name=node.config.key_name,
                    passphrase=node.passphrase(),
                    expected=history.previous,
                )
            return self._retired or current


def _peer_for(node: Node, url: httpx.URL) -> str | None:
    text = str(url)
    for peer in node.config.peers:
        base = peer.url.rstrip("/")
        if text == base or text.startswith(base + "/"):
            return peer.party
    return None
