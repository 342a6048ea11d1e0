"""How far each log this node holds is settled under its k-of-n policies.

A policy (``[[policies]]`` in ``config.toml``) names cosigners and how many
of them must cosign a checkpoint before it counts as settled
(:mod:`detente.record.settlement`). The cosignatures come from what this
node stores: for its own log, the receipts its peers and witnesses gave;
for a mirror, its own cosignature and those it learned by gossip. The
newest settled checkpoint settles every entry below its size.

Example:
    >>> import tempfile, pathlib
    >>> from detente.node import init_node
    >>> node = init_node(pathlib.Path(tempfile.mkdtemp()) / "us", party="us",
    ...                  agreement_ref="security-replies-2022")
    >>> with node.database.engine.connect() as conn:
    ...     log_settlements(conn, node, "us")
    []
    >>> node.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from detente.crypto.keys import VerifierKey
from detente.errors import DetenteError
from detente.node.directory import Node
from detente.record.checkpoint import Cosignature, SignedCheckpoint
from detente.record.settlement import Policy, Settlement, settle
from detente.store.logs import LogStore, StoredCosignature
from detente.store.schema import checkpoints

__all__ = ["LogSettlement", "log_settlements", "settlement_report"]


@dataclass(frozen=True)
class LogSettlement:
    """One log under one policy.

    Attributes:
        party: Whose log.
        policy: The rule.
        settled: The newest checkpoint settled under it, or None.
        latest: How the newest checkpoint held stands, or None if none is held.
    """

    party: str
    policy: Policy
    settled: Settlement | None
    latest: Settlement | None

    @property
    def settled_size(self) -> int:
        """Entries below this size are settled (0: none)."""
        return 0 if self.settled is None else self.settled.size

    def covers(self, seq: int) -> bool:
        """True when entry ``seq`` lies within a settled checkpoint."""
        return seq < self.settled_size

    def to_json(self) -> dict[str, Any]:
        """As the operator API and ``detente log status --format json`` show it."""
        return {
            "policy": self.policy.name,
            "k": self.policy.k,
            "cosigners": list(self.policy.cosigners),
            "settled_size": self.settled_size,
            "settled_at": None if self.settled is None else self.settled.settled_at,
            "cosigned_by": [] if self.settled is None else list(self.settled.cosigned_by),
            "latest": None
            if self.latest is None
            else {
                "size": self.latest.size,
                "cosigned_by": list(self.latest.cosigned_by),
                "settled": self.latest.settled,
            },
        }


def _settle(
    policy: Policy, note: str, stored: list[StoredCosignature], keys: dict[str, VerifierKey]
) -> Settlement | None:
    """``settle`` over stored rows; a row that no longer parses counts for nothing."""
    try:
        checkpoint = SignedCheckpoint.from_text(note).checkpoint
    except DetenteError:
        return None
    lines = []
    for row in stored:
        try:
            lines.append(Cosignature.from_line(row.line))
        except DetenteError:
            continue
    return settle(policy, checkpoint, lines, keys=keys)


def log_settlements(conn: Connection, node: Node, party: str) -> list[LogSettlement]:
    """``party``'s log under each of the node's policies, in configuration order.

    Only checkpoints holding cosignatures by at least ``k`` of a policy's
    cosigners are verified, newest first, so a long log costs a query, not
    a signature check per checkpoint.
    """
    policies = node.config.policies
    if not policies:
        return []
    log = LogStore(conn, party)
    by_size: dict[int, list[StoredCosignature]] = {}
    for row in log.cosignatures():
        by_size.setdefault(row.size, []).append(row)
    latest = log.checkpoint()
    keys = node.cosigner_keys()
    out = []
    for policy in policies:
        names = {keys[n].name for n in policy.cosigners if n in keys}
        settled: Settlement | None = None
        for size in sorted(by_size, reverse=True):
            stored = [row for row in by_size[size] if row.cosigner in names]
            if len({row.cosigner for row in stored}) < policy.k:
                continue
            held = log.checkpoint(size)
            found = None if held is None else _settle(policy, held[1], stored, keys)
            if found is not None and found.settled:
                settled = found
                break
        now = None
        if latest is not None:
            now = _settle(policy, latest[1], by_size.get(latest[0], []), keys)
        out.append(LogSettlement(party=party, policy=policy, settled=settled, latest=now))
    return out


def settlement_report(node: Node) -> dict[str, list[LogSettlement]]:
    """Every log this node holds a checkpoint of, under each policy; its own first."""
    with node.database.engine.connect() as conn:
        parties = sorted(
            {str(p) for p in conn.execute(select(checkpoints.c.party).distinct()).scalars()},
            key=lambda p: (p != node.party, p),
        )
        return {party: log_settlements(conn, node, party) for party in parties}
