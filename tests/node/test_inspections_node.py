"""Inspections on one node: the secrets it keeps, and drafts refused before signing."""

import json
from datetime import timedelta

import pytest

from detente.errors import BodyError, NotFoundError
from detente.node import init_node
from detente.node.inspections import inspections_state, quota_states
from detente.node.visits import commit_inventory, inventory_path, request_visit, reveal_sample
from detente.node.writer import Draft, LogWriter
from detente.record.inventory import ItemRecord
from detente.store.logs import LogStore


def cells(site="deveselu", n=24):
    return [
        ItemRecord(f"{site}-cell-{i:02d}", f"cell {i:02d}", "loaded", "SM-3 Block IIA")
        for i in range(n)
    ]


def test_an_inventory_commitment_keeps_its_secret_0600_and_out_of_the_log(node) -> None:
    result = commit_inventory(node, "deveselu", cells())
    body = json.loads(result.bodies[0])
    assert set(body) == {"v", "site", "size", "root"} and body["size"] == 24
    path = inventory_path(node, "deveselu", bytes.fromhex(body["root"]))
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o077 == 0
    with node.database.engine.connect() as conn:
        stored = LogStore(conn, "us").body(result.envelopes[0].header.seq)
    assert b"SM-3" not in stored and b"cell 01" not in stored
    assert result.envelopes[0].header.to == ("nato", "ru")


def test_a_commitment_for_another_partys_site_is_refused(tmp_path, clock) -> None:
    ru = init_node(tmp_path / "ru", party="ru", agreement_ref="security-replies-2022", clock=clock)
    try:
        with pytest.raises(BodyError, match="body.site: deveselu is declared by us, not ru"):
            commit_inventory(ru, "deveselu", cells())
        # A Russian base is any site Russia commits an inventory for.
        commit_inventory(ru, "ru-base-1", cells("ru-base-1", 12))
    finally:
        ru.close()


def test_a_request_the_fold_would_reject_is_refused_naming_the_field(node, clock) -> None:
    arrival = clock() + timedelta(hours=40)
    with pytest.raises(BodyError, match=r"body.inspection_type: us may not request"):
        request_visit(node, "aegis-ashore-visit", "deveselu", arrival, 8)
    with pytest.raises(BodyError, match=r"body.site: ru has no inventory commitment"):
        request_visit(node, "missile-base-visit", "ru-base-1", arrival, 8)
    assert inspections_state(node) == ()


def test_quota_states_cover_each_type_and_pair(node) -> None:
    states = {(q.inspection_type, q.inspecting, q.inspected): q for q in quota_states(node, ())}
    assert states[("aegis-ashore-visit", "ru", "us")].left == 2
    assert states[("missile-base-visit", "us", "ru")].left == 0


def test_an_answer_to_an_unknown_request_is_refused(node) -> None:
    draft = Draft(type="inspection-cancel", body={"reason": "x"}, to=("ru",), refs=("ru:5",))
    with pytest.raises(BodyError, match="refs: ru:5 is not an inspection request held here"):
        LogWriter(node).check([draft])
    with pytest.raises(NotFoundError):
        reveal_sample(node, "ru:5")
