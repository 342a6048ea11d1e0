"""k-of-n settlement: is a checkpoint vouched for by enough named cosigners?

A party may decide that a checkpoint counts as *settled* only once ``k`` of
``n`` named cosigners (peers, neutral witnesses) have cosigned it (C2SP
tlog-cosignature v1). A settled checkpoint settles every entry below its
size. This module is the rule itself, over plain data: which cosignature
lines verify under which named key, each cosigner counted once. Reading
stored cosignatures and naming keys is the node's business
(:mod:`detente.node.settlement`).

Example:
    >>> from detente.crypto.keys import SigningKey
    >>> from detente.record.checkpoint import Checkpoint, cosign
    >>> checkpoint = Checkpoint(origin="detente.log/0123456789abcdef/us", size=1, root=bytes(32))
    >>> osce = SigningKey.generate("detente.witness/0123456789abcdef/osce")
    >>> policy = Policy(name="settled", k=1, cosigners=("osce", "ru"))
    >>> stamp = cosign(checkpoint, osce, timestamp=1_700_000_000)
    >>> result = settle(policy, checkpoint, [stamp], keys={"osce": osce.verifier})
    >>> result.settled, result.cosigned_by, result.settled_at
    (True, ('osce',), 1700000000)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from detente.crypto.keys import VerifierKey
from detente.errors import ConfigError, DetenteError
from detente.record.checkpoint import Checkpoint, Cosignature

__all__ = ["Policy", "Settlement", "settle"]


@dataclass(frozen=True)
class Policy:
    """A named k-of-n rule: ``k`` of ``cosigners`` (peer or witness names) must cosign."""

    name: str
    k: int
    cosigners: tuple[str, ...]

    def __post_init__(self) -> None:
        """Refuse a rule that can never or always be met.

        Raises:
            ConfigError: ``k`` is not from 1 to the number of cosigners, or
                a cosigner is named twice.
        """
        if not 1 <= self.k <= len(self.cosigners):
            raise ConfigError(
                f"policy {self.name!r}: k = {self.k} is not between 1 and the "
                f"{len(self.cosigners)} cosigners named"
            )
        if len(set(self.cosigners)) != len(self.cosigners):
            raise ConfigError(f"policy {self.name!r}: a cosigner is named twice")


@dataclass(frozen=True)
class Settlement:
    """How one checkpoint stands under one policy.

    Attributes:
        policy: The policy's name.
        k: Cosigners needed.
        size: The checkpoint's tree size.
        cosigned_by: The policy's cosigners whose cosignature verified, sorted.
        settled_at: When it became settled: the ``k``-th earliest of those
            cosigners' timestamps (each cosigner's earliest), or None.
    """

    policy: str
    k: int
    size: int
    cosigned_by: tuple[str, ...]
    settled_at: int | None

    @property
    def settled(self) -> bool:
        """True when at least ``k`` of the named cosigners vouched for the checkpoint."""
        return len(self.cosigned_by) >= self.k


def settle(
    policy: Policy,
    checkpoint: Checkpoint,
    cosignatures: Iterable[Cosignature],
    *,
    keys: Mapping[str, VerifierKey],
) -> Settlement:
    """Decide whether ``checkpoint`` is settled under ``policy``.

    A cosignature counts for the policy's cosigner ``name`` only if
    ``keys[name]`` has the cosignature's key name and key ID and the
    cosignature verifies on ``checkpoint`` under it. A cosigner counts once
    however many of its cosignatures are given. Cosignatures that match no
    named key, or do not verify, are not counted; they are not an error,
    since the rule is asked "is it settled?", not "is everything valid?"
    (``detente verify`` answers that).

    Args:
        policy: The rule.
        checkpoint: The checkpoint body the cosignatures must be over.
        cosignatures: Every cosignature held on that checkpoint.
        keys: The verifier key of each cosigner the node knows, by the name
            the policy uses; a cosigner without a key never counts.
    """
    by_key: dict[tuple[str, bytes], str] = {}
    for name in policy.cosigners:
        key = keys.get(name)
        if key is not None:
            by_key[(key.name, key.cosignature_key_id)] = name
    earliest: dict[str, int] = {}
    for cosignature in cosignatures:
        cosigner = by_key.get((cosignature.name, cosignature.key_id))
        if cosigner is None:
            continue
        try:
            cosignature.verify(checkpoint, keys[cosigner])
        except DetenteError:
            continue
        held = earliest.get(cosigner, cosignature.timestamp)
        earliest[cosigner] = min(held, cosignature.timestamp)
    times = sorted(earliest.values())
    return Settlement(
        policy=policy.name,
        k=policy.k,
        size=checkpoint.size,
        cosigned_by=tuple(sorted(earliest)),
        settled_at=times[policy.k - 1] if len(times) >= policy.k else None,
    )
