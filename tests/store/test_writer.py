"""The log writer on both databases: one transaction, trees, checkpoints."""

import pytest
from sqlalchemy import update

from detente.errors import BodyError, ConsistencyError, InputError, TypeNotAllowedError
from detente.node.writer import Draft, LogWriter
from detente.record.checkpoint import SignedCheckpoint
from detente.record.envelope import ZERO_HASH, Envelope
from detente.record.merkle import MerkleTree, verify_consistency, verify_inclusion
from detente.store.logs import LogStore
from detente.store.schema import tree_nodes
from detente.store.tree import StoredTree


def message(text, to=("ru",)):
    return Draft(type="message", body={"text": text}, to=to)


def test_append_chains_and_checkpoints(node, clock):
    writer = LogWriter(node)
    first = writer.append([message("one"), message("two", to=("ru", "nato"))])
    clock.advance(minutes=5)
    second = writer.append([message("three")])
    envelopes = first.envelopes + second.envelopes
    assert [e.header.seq for e in envelopes] == [0, 1, 2]
    assert envelopes[0].header.prev == ZERO_HASH
    assert envelopes[1].header.prev == envelopes[0].leaf_hash.hex()
    assert envelopes[2].header.prev == envelopes[1].leaf_hash.hex()
    assert envelopes[2].header.created == "2026-03-01T12:05:00Z"
    assert envelopes[0].header.agreement == node.agreement.id
    checkpoint = second.checkpoint
    checkpoint.verify(node.verifier)
    assert checkpoint.checkpoint.size == 3
    tree = MerkleTree()
    for e in envelopes:
        tree.append(e.leaf)
    assert checkpoint.checkpoint.root == tree.root()
    with node.database.engine.connect() as conn:
        log = LogStore(conn, "us")
        assert log.size() == 3
        assert log.leaf(1) == envelopes[1].leaf
        assert log.body(1) == b'{"text":"two"}'
        assert [size for size, _ in log.checkpoints()] == [2, 3]
        stored = SignedCheckpoint.from_text(log.checkpoint()[1])
        assert stored == checkpoint


def test_stored_tree_answers_like_the_memory_tree(node):
    writer = LogWriter(node)
    tree = MerkleTree()
    for batch in range(7):
        result = writer.append([message(f"m{batch}-{i}") for i in range(batch + 1)])
        for e in result.envelopes:
            tree.append(e.leaf)
    size = tree.size
    with node.database.engine.connect() as conn:
        stored = StoredTree(conn, "us")
        assert stored.size() == size
        for n in (1, 2, 3, 7, 8, 13, size):
            assert stored.root(n) == tree.root(n)
        for index in (0, 5, size - 1):
            proof = stored.inclusion_proof(index, size)
            assert proof == tree.inclusion_proof(index, size)
            leaf = LogStore(conn, "us").leaf(index)
            verify_inclusion(Envelope.from_leaf(leaf).leaf_hash, index, size, proof, tree.root())
        for old in (1, 4, 9, size):
            proof = stored.consistency_proof(old, size)
            assert proof == tree.consistency_proof(old, size)
            verify_consistency(old, size, proof, tree.root(old), tree.root())


def test_a_bad_draft_writes_nothing(node):
    writer = LogWriter(node)
    writer.append([message("kept")])
    with pytest.raises(BodyError, match="text"):
        writer.append([message("fine"), Draft(type="message", body={"text": ""}, to=("ru",))])
    with pytest.raises(TypeNotAllowedError):
        writer.append([Draft(type="no_such_type", body={})])
    with pytest.raises(TypeNotAllowedError, match="recipient"):
        writer.append([message("to myself", to=("us",))])
    with pytest.raises(InputError):
        writer.append([])
    with node.database.engine.connect() as conn:
        log = LogStore(conn, "us")
        assert log.size() == 1
        assert [s for s, _ in log.checkpoints()] == [1]
        assert StoredTree(conn, "us").size() == 1


def test_never_signs_a_checkpoint_inconsistent_with_its_last(node):
    writer = LogWriter(node)
    writer.append([message("one"), message("two")])
    with node.database.engine.begin() as conn:
        conn.execute(
            update(tree_nodes)
            .where(tree_nodes.c.party == "us", tree_nodes.c.level == 1, tree_nodes.c.idx == 0)
            .values(hash=b"\x00" * 32)
        )
    with pytest.raises(ConsistencyError, match="refusing to sign"):
        writer.append([message("three")])
    with node.database.engine.connect() as conn:
        assert [s for s, _ in LogStore(conn, "us").checkpoints()] == [2]
