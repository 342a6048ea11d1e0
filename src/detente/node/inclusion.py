"""Is this message in the log? The console's "verify" action, from what the node holds.

An operator looking at a message asks whether it really is where the node
says: the entry's leaf hash, an RFC 9162 inclusion proof from the node's
stored tree, and the newest checkpoint of that party's log, whose signature
is checked with the key the party held at that size. The cosignatures the
node holds on that checkpoint are named beside it (each was verified when
it arrived).

Example:
    >>> import pathlib, tempfile
    >>> from detente.node import init_node
    >>> from detente.node.writer import Draft, LogWriter
    >>> node = init_node(pathlib.Path(tempfile.mkdtemp()) / "us", party="us",
    ...                  agreement_ref="security-replies-2022")
    >>> _ = LogWriter(node).append([Draft(type="message", body={"text": "hello"})])
    >>> check_inclusion(node, party="us", seq=0).ok
    True
    >>> node.close()
"""

from __future__ import annotations

from dataclasses import dataclass, field

from detente.errors import DetenteError, InputError
from detente.node.directory import Node
from detente.record.checkpoint import SignedCheckpoint
from detente.record.merkle import leaf_hash, verify_inclusion
from detente.store.logs import LogStore
from detente.store.tree import StoredTree

__all__ = ["InclusionCheck", "check_inclusion"]


@dataclass(frozen=True)
class InclusionCheck:
    """The outcome: ``ok``, or the ``problem`` found, with what was checked."""

    party: str
    seq: int
    leaf_hash: str
    size: int | None = None
    root: str | None = None
    proof: list[str] = field(default_factory=list)
    cosigned_by: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """True when the proof and the checkpoint's signature both hold."""
        return self.problem is None


def check_inclusion(node: Node, *, party: str, seq: int) -> InclusionCheck:
    """Prove entry ``seq`` of ``party``'s log against that log's newest checkpoint.

    Raises:
        InputError: the node holds no such entry.
    """
    with node.database.engine.connect() as conn:
        log = LogStore(conn, party)
        leaf = log.leaf(seq)
        if leaf is None:
            raise InputError(f"this node holds no entry {party}:{seq}")
        digest = leaf_hash(leaf)
        latest = log.checkpoint()
        if latest is None or latest[0] <= seq:
            return InclusionCheck(
                party, seq, digest.hex(), problem="no checkpoint held covers this entry yet"
            )
        size, note = latest
        names = {p.key.name: p.party for p in node.config.peers}
        cosigners = sorted(names.get(c.cosigner, c.cosigner) for c in log.cosignatures(size))
        try:
            signed = SignedCheckpoint.from_text(note)
            history = node.key_history(party, conn)
            if history is None:
                raise InputError(f"no key is known for {party}")
            signed.verify(history.checkpoint_key(size))
            proof = StoredTree(conn, party).inclusion_proof(seq, size)
            verify_inclusion(digest, seq, size, proof, signed.checkpoint.root)
        except DetenteError as e:
            return InclusionCheck(party, seq, digest.hex(), size=size, problem=str(e))
    return InclusionCheck(
        party,
        seq,
        digest.hex(),
        size=size,
        root=signed.checkpoint.root.hex(),
        proof=[p.hex() for p in proof],
        cosigned_by=cosigners,
    )
