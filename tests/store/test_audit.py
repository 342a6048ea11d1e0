"""`detente verify` on both databases: every single-byte flip is detected."""

import pytest
from sqlalchemy import select, update

from detente.crypto.keys import SigningKey
from detente.demo.walkthrough import rewrite_history
from detente.node.audit import audit_node
from detente.node.cosignatures import record_cosignature, trust_cosigner
from detente.node.writer import Draft, LogWriter
from detente.record.checkpoint import SignedCheckpoint, cosign
from detente.store.logs import LogStore
from detente.store.schema import bodies, checkpoints, cosignatures, entries, tree_nodes


@pytest.fixture
def filled(node):
    writer = LogWriter(node)
    writer.append([Draft(type="message", body={"text": "first"}, to=("ru",))])
    writer.append(
        [Draft(type="message", body={"text": f"message {i}"}, to=("nato",)) for i in range(4)]
    )
    witness = SigningKey.generate("osce.witness")
    trust_cosigner(node, witness.verifier)
    with node.database.engine.connect() as conn:
        size, note = LogStore(conn, "us").checkpoint()
    signed = SignedCheckpoint.from_text(note)
    record_cosignature(
        node, party="us", size=size, cosignature=cosign(signed.checkpoint, witness, timestamp=1)
    )
    return node


def test_an_untouched_log_verifies(filled):
    report = audit_node(filled, workers=1)
    assert report.ok, report.problem
    (log,) = report.logs
    assert (log.entries, log.bodies, log.checkpoints, log.cosignatures) == (5, 5, 2, 1)
    assert log.tree_nodes == 5 + 2 + 1


def _flip_bytes(node, table, column, where, *, text_column=False):
    """Flip each byte (or character) of one stored value in turn; all must be caught."""
    with node.database.engine.connect() as conn:
        original = conn.execute(select(column).where(*where)).scalar_one()
    missed = []
    length = len(original)
    for i in range(length):
        if text_column:
            changed = original[:i] + chr(ord(original[i]) ^ 1) + original[i + 1 :]
        else:
            changed = original[:i] + bytes([original[i] ^ 0x01]) + original[i + 1 :]
        with node.database.engine.begin() as conn:
            conn.execute(update(table).where(*where).values({column.key: changed}))
        if audit_node(node, workers=1).ok:
            missed.append(i)
        with node.database.engine.begin() as conn:
            conn.execute(update(table).where(*where).values({column.key: original}))
    assert audit_node(node, workers=1).ok
    assert not missed, f"flips at {missed} went unnoticed"
    return length


def test_every_flip_in_an_envelope_is_detected(filled):
    where = (entries.c.party == "us", entries.c.seq == 2)
    assert _flip_bytes(filled, entries, entries.c.leaf, where) > 400


def test_every_flip_in_a_body_is_detected(filled):
    where = (bodies.c.party == "us", bodies.c.seq == 3)
    _flip_bytes(filled, bodies, bodies.c.body, where)


def test_every_flip_in_a_checkpoint_is_detected(filled):
    where = (checkpoints.c.party == "us", checkpoints.c.size == 5)
    _flip_bytes(filled, checkpoints, checkpoints.c.note, where, text_column=True)


def test_every_flip_in_a_cosignature_is_detected(filled):
    where = (cosignatures.c.party == "us", cosignatures.c.size == 5)
    _flip_bytes(filled, cosignatures, cosignatures.c.line, where, text_column=True)


def test_every_flip_in_a_tree_node_is_detected(filled):
    where = (tree_nodes.c.party == "us", tree_nodes.c.level == 1, tree_nodes.c.idx == 1)
    _flip_bytes(filled, tree_nodes, tree_nodes.c.hash, where)


def test_a_missing_entry_is_named(filled):
    with filled.database.engine.begin() as conn:
        conn.execute(entries.delete().where(entries.c.party == "us", entries.c.seq == 2))
    report = audit_node(filled, workers=1)
    assert not report.ok
    assert "us:2" in report.problem


def test_a_log_rewritten_with_its_own_key_is_caught_by_cosignatures(filled):
    rewrite_history(filled)
    with filled.database.engine.connect() as conn:
        log = LogStore(conn, "us")
        signed = SignedCheckpoint.from_text(log.checkpoint()[1])
    signed.verify(filled.verifier)  # every signature of the rewrite is valid
    report = audit_node(filled, workers=1)
    assert not report.ok
    assert "cosignature by osce.witness" in report.problem
    assert "rewritten" in report.problem


def test_the_parallel_path_checks_the_same(node):
    writer = LogWriter(node)
    drafts = [Draft(type="message", body={"text": f"n{i}"}, to=("ru",)) for i in range(1500)]
    writer.append(drafts)
    writer.append(drafts)
    report = audit_node(node, workers=2, parallel_from=1000)
    assert report.ok, report.problem
    assert report.logs[0].entries == 3000
    with node.database.engine.begin() as conn:
        conn.execute(
            update(bodies)
            .where(bodies.c.party == "us", bodies.c.seq == 2500)
            .values(body=b'{"text":"n999"}')
        )
    report = audit_node(node, workers=2, parallel_from=1000)
    assert not report.ok
    assert "us:2500" in report.problem


def test_a_missing_body_of_the_own_log_is_caught(filled):
    with filled.database.engine.begin() as conn:
        conn.execute(bodies.delete().where(bodies.c.party == "us", bodies.c.seq == 1))
    report = audit_node(filled, workers=1)
    assert not report.ok
    assert "us:1: the body is missing" in report.problem
