"""Rotating the node's key and revoking a compromised one, through the own log.

:func:`rotate_key` generates a key, writes it to ``node.key.next``
(encrypted with the node's passphrase if the node key is), appends a
``detente.key_rotation`` entry signed by the key in force, and only then
switches the key files (:mod:`detente.node.keyfiles`). A crash before the
entry commits leaves an unused ``node.key.next``, deleted on the next load;
a crash after it leaves the switch to finish, done on the next load. The
replaced key is kept as ``node.key.retired`` only as long as a peer may not
yet hold the rotation, to sign requests that peer can still check (ADR 0005).

:func:`revoke_key` appends a ``detente.key_revocation`` entry, signed by the
key in force, declaring an earlier key compromised as of a position.

Example:
    >>> import tempfile, pathlib
    >>> from detente.node import init_node
    >>> node = init_node(pathlib.Path(tempfile.mkdtemp()) / "us", party="us",
    ...                  agreement_ref="security-replies-2022")
    >>> done = rotate_key(node, reason="yearly")
    >>> done.seq, node.key.verifier == done.new_key != node.verifier
    (0, True)
    >>> node.close()
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from sqlalchemy import select

from detente.agreement.system import REVOCATION_TYPE, ROTATION_TYPE
from detente.crypto.keys import SigningKey, VerifierKey, save_signing_key
from detente.errors import ConfigError, DetenteError, InputError
from detente.node.directory import Node
from detente.node.keyfiles import NEXT_KEY_FILE, RETIRED_KEY_FILE, switch_to_next_key
from detente.node.writer import Draft, LogWriter
from detente.record.keyhistory import KeyHistory, revocation_body, rotation_body
from detente.store.schema import deliveries

__all__ = ["KeyChange", "peers_behind", "revoke_key", "rotate_key"]

log = logging.getLogger("detente.keys")


@dataclass(frozen=True)
class KeyChange:
    """What a rotation or revocation appended.

    Attributes:
        seq: The position of the key entry in the node's own log.
        old_key: The key that signed the entry.
        new_key: The key in force after it (the same as ``old_key`` for a
            revocation).
    """

    seq: int
    old_key: VerifierKey
    new_key: VerifierKey


def _own_history(node: Node) -> KeyHistory:
    history = node.key_history(node.party)
    assert history is not None  # the own party always has a key  # noqa: S101
    return history


def peers_behind(node: Node, seq: int) -> list[str]:
    """The configured peers that this node has not yet delivered position ``seq`` to."""
    with node.database.engine.connect() as conn:
        sizes = {
            str(peer): int(size)
            for peer, size in conn.execute(select(deliveries.c.peer, deliveries.c.delivered_size))
        }
    return sorted(p.party for p in node.config.peers if sizes.get(p.party, 0) <= seq)


def rotate_key(node: Node, *, reason: str, force: bool = False) -> KeyChange:
    """Hand the node's log over to a freshly generated key.

    Args:
        node: The open node; its key must be usable (passphrase given).
        reason: Why, written into the log (at most 1,000 characters).
        force: Rotate even though a peer has not yet received the last
            rotation. Its retired key is then destroyed, and that peer
            accepts this node's requests again only once it has pulled the
            log (``detente sync`` on its side).

    Raises:
        InputError: a peer has not received the last rotation (without
            ``force``), or the reason is too long.
        KeyFileError: the current key cannot be loaded, or the new one
            cannot be written.
        StoreError: the append failed; the key in force is unchanged.
    """
    old = node.key
    history = _own_history(node)
    last = history.last_rotation
    if last is not None and not force:
        behind = peers_behind(node, last)
        if behind and (node.directory / RETIRED_KEY_FILE).exists():
            raise InputError(
                f"peer(s) {', '.join(behind)} have not yet received the rotation at "
                f"{node.party}:{last}; rotating again destroys the key they still expect. "
                "Wait for delivery, or pass --force"
            )
    new = SigningKey.generate(node.config.key_name)
    save_signing_key(node.directory / NEXT_KEY_FILE, new, passphrase=node.passphrase())
    draft = Draft(
        type=ROTATION_TYPE,
        body=json.loads(rotation_body(new.verifier, reason=reason)),
        to=_everyone_else(node),
    )
    try:
        result = LogWriter(node).append([draft], key_entry=True)
    except BaseException:
        # Whether the entry committed is the log's to say, not the exception's.
        _settle(node, new)
        raise
    switch_to_next_key(node.directory)
    node.use_key(new)
    seq = result.envelopes[0].header.seq
    log.warning(
        "%s: key rotated at %s:%d to %s", node.directory, node.party, seq, new.verifier.key_id.hex()
    )
    return KeyChange(seq=seq, old_key=old.verifier, new_key=new.verifier)


def _settle(node: Node, new: SigningKey) -> None:
    try:
        committed = node.current_verifier() == new.verifier
    except DetenteError:
        log.exception("cannot tell whether the rotation committed; node.key.next is kept")
        return
    if committed:
        switch_to_next_key(node.directory)
        node.use_key(new)
    else:
        (node.directory / NEXT_KEY_FILE).unlink(missing_ok=True)


def revoke_key(node: Node, *, key: VerifierKey, from_seq: int, reason: str) -> KeyChange:
    """Declare an earlier key of the node's log compromised as of ``from_seq``.

    Raises:
        ConfigError: ``key`` is not a key of this node's log.
        BodyError: the history does not allow it: ``key`` is the key in
            force (rotate first), or ``from_seq`` is before it was in force
            or beyond the revocation's own position.
        StoreError: the append failed.
    """
    history = _own_history(node)
    if key not in history.keys():
        known = ", ".join(k.key_id.hex() for k in history.keys())
        raise ConfigError(
            f"key {key.key_id.hex()} is not a key of {node.party}'s log (its keys: {known})"
        )
    current = node.key
    draft = Draft(
        type=REVOCATION_TYPE,
        body=json.loads(revocation_body(key, from_seq=from_seq, reason=reason)),
        to=_everyone_else(node),
    )
    result = LogWriter(node).append([draft], key_entry=True)
    seq = result.envelopes[0].header.seq
    log.warning(
        "%s: key %s revoked as of %s:%d (entry %d)",
        node.directory,
        key.key_id.hex(),
        node.party,
        from_seq,
        seq,
    )
    return KeyChange(seq=seq, old_key=current.verifier, new_key=current.verifier)


def _everyone_else(node: Node) -> tuple[str, ...]:
    return tuple(sorted(node.agreement.party_ids() - {node.party}))
