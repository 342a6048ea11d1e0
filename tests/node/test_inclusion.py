"""The console's "verify": an entry proved against its log's newest checkpoint."""

import pytest
from sqlalchemy import update

from detente.errors import InputError
from detente.node.inclusion import check_inclusion
from detente.node.writer import Draft, LogWriter
from detente.store.schema import tree_nodes


def _send(node, count):
    for i in range(count):
        LogWriter(node).append([Draft(type="message", body={"text": f"m{i}"}, to=("ru",))])


def test_every_entry_is_proved_in_the_newest_checkpoint(node):
    _send(node, 5)
    for seq in range(5):
        check = check_inclusion(node, party="us", seq=seq)
        assert check.ok, check.problem
        assert check.size == 5
        assert len(check.proof) == (1 if seq == 4 else 3)


def test_a_tampered_tree_fails_the_proof(node):
    _send(node, 4)
    with node.database.engine.begin() as conn:
        conn.execute(
            update(tree_nodes)
            .where(tree_nodes.c.party == "us", tree_nodes.c.level == 0, tree_nodes.c.idx == 1)
            .values(hash=b"\x00" * 32)
        )
    check = check_inclusion(node, party="us", seq=0)
    assert not check.ok
    assert "root" in check.problem or "proof" in check.problem


def test_an_entry_not_held_is_named(node):
    with pytest.raises(InputError, match="no entry us:3"):
        check_inclusion(node, party="us", seq=3)
