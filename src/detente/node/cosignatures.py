"""Cosignatures others give this node's checkpoints, and the keys it trusts for them.

A cosignature is only stored after it verifies against a checkpoint this
node holds, under a key configured out of band. ``detente verify`` checks
them again: a log rewritten and re-signed by its own key no longer matches
what others cosigned.
"""

from __future__ import annotations

from dataclasses import replace

from detente.crypto.keys import VerifierKey
from detente.errors import ConfigError, UnknownKeyError
from detente.node.directory import Node, TrustedKey
from detente.record.checkpoint import Cosignature, SignedCheckpoint
from detente.store.logs import LogStore

__all__ = ["record_cosignature", "trust_cosigner"]


def trust_cosigner(node: Node, key: VerifierKey, *, name: str | None = None) -> None:
    """Add ``key`` to the cosigners this node trusts (saved in ``config.toml``).

    Raises:
        ConfigError: another key is already trusted under that name.
    """
    label = name or key.name
    for existing in node.config.cosigners:
        if existing.name == label:
            if existing.key == key:
                return
            raise ConfigError(f"a different key is already trusted as cosigner {label!r}")
    cosigners = (*node.config.cosigners, TrustedKey(name=label, key=key))
    node.save_config(replace(node.config, cosigners=cosigners))


def record_cosignature(node: Node, *, party: str, size: int, cosignature: Cosignature) -> None:
    """Verify a cosignature on ``party``'s checkpoint at ``size`` and store it.

    Raises:
        UnknownKeyError: the cosigner is not trusted, or no such checkpoint is held.
        SignatureError: the cosignature does not verify.
    """
    key = node.trusted_key(cosignature.name)
    if key is None:
        raise UnknownKeyError(f"cosigner {cosignature.name!r} is not a trusted key of this node")
    with node.database.engine.begin() as conn:
        log = LogStore(conn, party)
        held = log.checkpoint(size)
        if held is None:
            raise UnknownKeyError(f"log {party} has no checkpoint of size {size}")
        cosignature.verify(SignedCheckpoint.from_text(held[1]).checkpoint, key)
        log.add_cosignature(size, cosignature.name, cosignature.timestamp, cosignature.to_line())
