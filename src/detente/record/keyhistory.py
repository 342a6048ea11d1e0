"""Which key signs which position of a party's log: rotation and revocation.

A party's node key is node configuration, exchanged out of band once, and
from then on *rotated through the log* (design, "Wire format"). The key the
log starts with (configured for the party, fingerprint read aloud) signs
entry 0 on. A **rotation** entry (type ``detente.key_rotation``) at seq N is
signed by the key in force at N and names the key that signs every entry
after it::

    {"new_key": "<C2SP verifier key>", "reason": "<free text>"}

A checkpoint of size S is signed by the key in force for entry S - 1, so the
checkpoint of the append holding a rotation is still signed by the old key.

A **revocation** entry (type ``detente.key_revocation``) at seq R, signed
by the key in force at R, says that a key the log used before is
compromised as of position P::

    {"key": "<C2SP verifier key>", "from_seq": P, "reason": "<free text>"}

The revoked key must have been rotated away from (it is not the key in
force at R) and must have been in force at or before P. The entries the
log holds do not change meaning: the revocation entry is chained to all of
them, so the party's new key vouches for its own history. What a revocation
changes is what else the revoked key can be believed for: nothing it signs
at a position from P on (another entry there, a checkpoint of a size above
P, a request) is the party's. :meth:`KeyHistory.revoked_spans` names the
held entries signed by the revoked key from P on, for operators to check.

Everything here is pure: the history is folded from the log's own key
entries, in log order, starting from the configured first key.

Example:
    >>> from detente.crypto.keys import SigningKey
    >>> from detente.record.envelope import ZERO_HASH, seal
    >>> old = SigningKey.generate("detente.log/0123456789abcdef/us")
    >>> new = SigningKey.generate("detente.log/0123456789abcdef/us")
    >>> body = rotation_body(new.verifier, reason="yearly")
    >>> entry = seal(key=old, agreement="0" * 64, sender="us", seq=0, prev=ZERO_HASH,
    ...              created="2026-01-01T00:00:00Z", type=ROTATION_TYPE, body=body,
    ...              to=("ru",))
    >>> history = KeyHistory.starting_with("us", old.verifier).apply(entry, body)
    >>> history.key_for(0) == old.verifier, history.key_for(1) == new.verifier
    (True, True)
    >>> history.checkpoint_key(1) == old.verifier
    True
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from detente.agreement.system import (
    KEY_TYPES,
    MAX_KEY_TEXT,
    MAX_REASON,
    REVOCATION_TYPE,
    ROTATION_TYPE,
)
from detente.crypto.canonical import canonical_json
from detente.crypto.keys import VerifierKey
from detente.errors import BodyError, EncodingError, SignatureError, VerificationError
from detente.record.envelope import Envelope

__all__ = [
    "KEY_TYPES",
    "MAX_KEY_TEXT",
    "MAX_REASON",
    "REVOCATION_TYPE",
    "ROTATION_TYPE",
    "Epoch",
    "KeyHistory",
    "Revocation",
    "revocation_body",
    "rotation_body",
]

_MAX_SEQ = 2**53 - 1


def rotation_body(new_key: VerifierKey, *, reason: str) -> bytes:
    """The canonical body of a rotation entry handing over to ``new_key``."""
    return canonical_json({"new_key": new_key.to_text(), "reason": reason})


def revocation_body(key: VerifierKey, *, from_seq: int, reason: str) -> bytes:
    """The canonical body of a revocation of ``key`` as of position ``from_seq``."""
    return canonical_json({"key": key.to_text(), "from_seq": from_seq, "reason": reason})


@dataclass(frozen=True)
class Epoch:
    """A key and the first position it signs.

    Attributes:
        from_seq: The first entry the key signs (0, or a rotation's seq + 1).
        key: The verifier key.
        rotation_seq: The seq of the rotation entry that introduced it; None
            for the key the log starts with.
    """

    from_seq: int
    key: VerifierKey
    rotation_seq: int | None = None


@dataclass(frozen=True)
class Revocation:
    """A key the party declared compromised, as of a position.

    Attributes:
        key: The revoked key.
        from_seq: Nothing the key signs at this position or later is the party's.
        seq: The seq of the revocation entry.
        reason: The party's reason, as written.
    """

    key: VerifierKey
    from_seq: int
    seq: int
    reason: str


@dataclass(frozen=True)
class KeyHistory:
    """The keys of one party's log, folded from its key entries in log order.

    Attributes:
        party: Whose log this is.
        epochs: The keys in the order the log used them; the first is the
            configured key the log starts with.
        revocations: The revocations found so far, in log order.
        last_seq: The seq of the last key entry folded in, or -1.
    """

    party: str
    epochs: tuple[Epoch, ...]
    revocations: tuple[Revocation, ...] = field(default=())
    last_seq: int = -1

    @classmethod
    def starting_with(cls, party: str, key: VerifierKey) -> KeyHistory:
        """The history of a log that has not rotated: ``key`` signs everything."""
        return cls(party=party, epochs=(Epoch(from_seq=0, key=key),))

    @property
    def first(self) -> VerifierKey:
        """The key the log starts with."""
        return self.epochs[0].key

    @property
    def current(self) -> VerifierKey:
        """The key in force after the last rotation folded in."""
        return self.epochs[-1].key

    @property
    def previous(self) -> VerifierKey | None:
        """The key the last rotation replaced, or None if the log never rotated."""
        return self.epochs[-2].key if len(self.epochs) > 1 else None

    @property
    def last_rotation(self) -> int | None:
        """The seq of the last rotation entry, or None."""
        return self.epochs[-1].rotation_seq

    def keys(self) -> tuple[VerifierKey, ...]:
        """Every key the log has used, oldest first."""
        return tuple(epoch.key for epoch in self.epochs)

    def key_for(self, seq: int) -> VerifierKey:
        """The key that signs entry ``seq`` (beyond the history: the current key)."""
        if seq < 0:
            raise ValueError(f"a position is not negative, got {seq}")
        found = self.epochs[0].key
        for epoch in self.epochs:
            if epoch.from_seq > seq:
                break
            found = epoch.key
        return found

    def checkpoint_key(self, size: int) -> VerifierKey:
        """The key that signs the checkpoint of ``size``: the key of entry size - 1."""
        return self.key_for(max(size - 1, 0))

    def find(self, key_id: bytes) -> VerifierKey | None:
        """The key of this log whose note key ID (type 0x01) is ``key_id``."""
        for key in self.keys():
            if key.key_id == key_id:
                return key
        return None

    def find_cosigner(self, key_id: bytes) -> VerifierKey | None:
        """The key of this log whose cosignature key ID (type 0x04) is ``key_id``."""
        for key in self.keys():
            if key.cosignature_key_id == key_id:
                return key
        return None

    def revoked_from(self, key: VerifierKey) -> int | None:
        """The earliest position from which ``key`` is revoked, or None."""
        found = [r.from_seq for r in self.revocations if r.key == key]
        return min(found) if found else None

    def is_revoked(self, key: VerifierKey, seq: int) -> bool:
        """Whether ``key`` is revoked for position ``seq``."""
        start = self.revoked_from(key)
        return start is not None and seq >= start

    def request_keys(self) -> tuple[VerifierKey, ...]:
        """The keys a signed request of this party is accepted under.

        The current key, and the key the last rotation replaced unless it is
        revoked: a node that has not yet learnt that its peer holds the
        rotation still signs with the old key (ADR 0005).
        """
        previous = self.previous
        if previous is None or self.revoked_from(previous) is not None:
            return (self.current,)
        return (self.current, previous)

    def epoch_end(self, index: int) -> int | None:
        """The last seq signed by epoch ``index`` (its rotation), or None if it is current."""
        if index + 1 >= len(self.epochs):
            return None
        rotation = self.epochs[index + 1].rotation_seq
        return rotation

    def revoked_spans(self, size: int) -> list[tuple[VerifierKey, int, int]]:
        """The held entries (of a log of ``size``) signed by a key at or after its revocation.

        Returns:
            ``(key, first, last)`` ranges of seqs, inclusive, in log order.
        """
        spans: list[tuple[VerifierKey, int, int]] = []
        for index, epoch in enumerate(self.epochs):
            start = self.revoked_from(epoch.key)
            if start is None:
                continue
            end = self.epoch_end(index)
            last = (size - 1) if end is None else min(end, size - 1)
            first = max(start, epoch.from_seq)
            if first <= last:
                spans.append((epoch.key, first, last))
        return spans

    def apply(self, envelope: Envelope, body: bytes | None) -> KeyHistory:
        """Fold one entry of the log into the history; entries come in log order.

        Entries of other types leave the history unchanged. A key entry must
        be signed by the key in force at its position, and its body must be
        well formed; a rotation must name a new key for this log; a
        revocation must name a key this log has rotated away from, as of a
        position at or after that key's first.

        Raises:
            VerificationError: the entry is of another log, or out of order.
            SignatureError: the key entry is not signed by the key in force.
            BodyError: the body is missing, malformed, or asks for what the
                history does not allow; the message names the position.
        """
        header = envelope.header
        if header.type not in KEY_TYPES:
            return self
        where = envelope.position
        if header.sender != self.party:
            raise VerificationError(f"{where}: a key entry of another log than {self.party}'s")
        if header.seq <= self.last_seq or header.seq < self.epochs[-1].from_seq:
            raise VerificationError(
                f"{where}: key entries must be folded in log order (last was {self.last_seq})"
            )
        signer = self.key_for(header.seq)
        try:
            envelope.verify_signature(signer)
        except SignatureError as e:
            raise SignatureError(
                f"{where}: {header.type} is not signed by the key in force at that position "
                f"({signer.key_id.hex()}): {e}"
            ) from e
        if body is None:
            raise BodyError(f"{where}: the body of a {header.type} entry is needed to follow keys")
        fields = _parse(body, where=where)
        if header.type == ROTATION_TYPE:
            return self._rotate(fields, seq=header.seq, where=where)
        return self._revoke(fields, seq=header.seq, where=where)

    def apply_all(self, entries: Iterable[tuple[Envelope, bytes | None]]) -> KeyHistory:
        """Fold several entries in log order (see :meth:`apply`)."""
        history = self
        for envelope, body in entries:
            history = history.apply(envelope, body)
        return history

    def _rotate(self, fields: dict[str, object], *, seq: int, where: str) -> KeyHistory:
        _exact(fields, {"new_key", "reason"}, where=where)
        new_key = _key(fields["new_key"], where=f"{where} new_key")
        _reason(fields["reason"], where=where)
        if new_key.name != self.current.name:
            raise BodyError(
                f"{where}: new_key is named {new_key.name!r}, not {self.current.name!r} "
                "(a log's key is named by its origin)"
            )
        if any(new_key.public_key == key.public_key for key in self.keys()):
            raise BodyError(f"{where}: new_key was already used by this log; a key is used once")
        epoch = Epoch(from_seq=seq + 1, key=new_key, rotation_seq=seq)
        return KeyHistory(
            party=self.party,
            epochs=(*self.epochs, epoch),
            revocations=self.revocations,
            last_seq=seq,
        )

    def _revoke(self, fields: dict[str, object], *, seq: int, where: str) -> KeyHistory:
        _exact(fields, {"key", "from_seq", "reason"}, where=where)
        key = _key(fields["key"], where=f"{where} key")
        reason = _reason(fields["reason"], where=where)
        from_seq = fields["from_seq"]
        if type(from_seq) is not int or not 0 <= from_seq <= _MAX_SEQ:
            raise BodyError(f"{where}: from_seq must be an integer from 0 to 2^53 - 1")
        epochs = [epoch for epoch in self.epochs if epoch.key == key]
        if not epochs:
            raise BodyError(f"{where}: key {key.key_id.hex()} is not a key of {self.party}'s log")
        if key == self.key_for(seq):
            raise BodyError(
                f"{where}: key {key.key_id.hex()} is the key in force; rotate away from it "
                "before revoking it"
            )
        if from_seq < epochs[0].from_seq or from_seq > seq:
            raise BodyError(
                f"{where}: from_seq {from_seq} is outside {epochs[0].from_seq}..{seq}: a key "
                "is revoked as of a position it was in force at or after, and not beyond "
                "the revocation"
            )
        revocation = Revocation(key=key, from_seq=from_seq, seq=seq, reason=reason)
        return KeyHistory(
            party=self.party,
            epochs=self.epochs,
            revocations=(*self.revocations, revocation),
            last_seq=seq,
        )


def _parse(body: bytes, *, where: str) -> dict[str, object]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise BodyError(f"{where}: the body is not UTF-8 JSON") from e
    if not isinstance(value, dict):
        raise BodyError(f"{where}: the body must be a JSON object")
    return value


def _exact(fields: dict[str, object], names: set[str], *, where: str) -> None:
    if set(fields) != names:
        raise BodyError(
            f"{where}: the body must have exactly {', '.join(sorted(names))}; "
            f"it has {', '.join(sorted(fields)) or 'nothing'}"
        )


def _key(value: object, *, where: str) -> VerifierKey:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_KEY_TEXT:
        raise BodyError(f"{where}: must be a verifier key of at most {MAX_KEY_TEXT} characters")
    try:
        return VerifierKey.from_text(value)
    except EncodingError as e:
        raise BodyError(f"{where}: {e}") from e


def _reason(value: object, *, where: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_REASON:
        raise BodyError(f"{where}: reason must be text of at most {MAX_REASON} characters")
    return value
