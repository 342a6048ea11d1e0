"""The record: envelopes, RFC 9162 Merkle logs, checkpoints, admission, audit, inventories.

Pure code over bytes: nothing here touches a database or the network.
"""

from detente.record.admission import Admission, LogTip, admit, check_body, check_rules
from detente.record.checkpoint import (
    Checkpoint,
    Cosignature,
    SignedCheckpoint,
    cosign,
    origin_for,
)
from detente.record.envelope import PRIORITIES, ZERO_HASH, Envelope, Header, seal
from detente.record.evidence import (
    EquivocationProof,
    different_size_evidence,
    equal_size_evidence,
    verify_evidence,
)
from detente.record.inventory import (
    Commitment,
    ItemRecord,
    Opening,
    PublishedCommitment,
    commit,
    verify_opening,
)
from detente.record.inventory_file import load_commitment, save_commitment
from detente.record.inventory_findings import Finding, Mismatch, compare, compare_sample
from detente.record.merkle import (
    MerkleTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "PRIORITIES",
    "ZERO_HASH",
    "Admission",
    "Checkpoint",
    "Commitment",
    "Cosignature",
    "Envelope",
    "EquivocationProof",
    "Finding",
    "Header",
    "ItemRecord",
    "LogTip",
    "MerkleTree",
    "Mismatch",
    "Opening",
    "PublishedCommitment",
    "SignedCheckpoint",
    "admit",
    "check_body",
    "check_rules",
    "commit",
    "compare",
    "compare_sample",
    "cosign",
    "different_size_evidence",
    "equal_size_evidence",
    "leaf_hash",
    "load_commitment",
    "node_hash",
    "origin_for",
    "save_commitment",
    "seal",
    "verify_consistency",
    "verify_evidence",
    "verify_inclusion",
    "verify_opening",
]
