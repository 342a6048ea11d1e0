"""A New START Type One inspection across real nodes: the same messages, New START's numbers.

The test agreement includes new-start and adds NATO as a party, so that
the three-node network of the other tests can run it; NATO takes no part.
"""

from datetime import timedelta

import pytest

from detente.errors import ConflictError
from detente.node.inspections import find_visit
from detente.node.visits import (
    commit_inventory,
    commit_sample,
    open_sample,
    record_findings,
    record_step,
    request_visit,
    reveal_sample,
    sign_report,
)
from detente.record.inventory import ItemRecord
from tests.fakes.network import make_network
from tests.fakes.new_start import write_agreement


@pytest.fixture
def network(tmp_path, clock, database_url):
    path = write_agreement(tmp_path)
    clock.now = clock.now.replace(year=2021)  # while the treaty was in force
    yield from make_network(tmp_path, clock, database_url, agreement_ref=str(path))


def act(network, clock, action, *args, **kwargs):
    clock.advance(minutes=1)
    result = action(*args, **kwargs)
    for sender in network.senders.values():
        sender.run_lane()
        sender.run_once()
    return result.envelopes[0].position


def test_a_type_one_inspection_at_an_icbm_base(network, clock):
    n = network.nodes
    silos = [
        ItemRecord(f"RS-24 {i:03d}", f"silo {i:02d}", "deployed", "RS-24 Yars ICBM")
        for i in range(10)
    ]
    act(network, clock, commit_inventory, n["ru"], "kozelsk", silos)
    clock.advance(minutes=1)
    # More than 10 inspectors, or less than 32 hours' notice: refused before signing.
    with pytest.raises(Exception, match="team of 12 is larger than 10"):
        request_visit(n["us"], "type-one", "kozelsk", clock.now + timedelta(hours=40), 12)
    with pytest.raises(Exception, match="less than 32 hours' notice"):
        request_visit(n["us"], "type-one", "kozelsk", clock.now + timedelta(hours=20), 8)
    arrival = clock.now + timedelta(hours=32, minutes=5)
    ref = act(network, clock, request_visit, n["us"], "type-one", "kozelsk", arrival, 10)
    for party in ("ru", "us"):
        act(network, clock, commit_sample, n[party], ref)
    for party in ("ru", "us"):
        act(network, clock, reveal_sample, n[party], ref)
    visit = find_visit(n["us"], ref)
    assert visit.quota is not None and visit.quota.per_year == 10
    assert sorted(visit.sample) == list(range(10))  # every declared item (the default)
    clock.now = visit.arrival
    act(network, clock, record_step, n["us"], ref, "arrived", clock.now)
    act(network, clock, record_step, n["ru"], ref, "at_site", clock.now)
    act(network, clock, open_sample, n["ru"], ref)
    rows = [{"index": i, "status": "deployed", "contents": "RS-24 Yars ICBM"} for i in range(10)]
    act(network, clock, record_findings, n["us"], ref, rows)
    act(network, clock, sign_report, n["us"], ref)
    act(network, clock, sign_report, n["ru"], ref)
    for party in ("us", "ru"):
        done = find_visit(n[party], ref)
        assert done.state == "closed" and done.findings == []
    # Ten Type One inspections a year: the eleventh is refused with the quota's state.
    for _ in range(9):
        act(
            network,
            clock,
            request_visit,
            n["us"],
            "type-one",
            "kozelsk",
            clock.now + timedelta(hours=40),
            5,
        )
    with pytest.raises(ConflictError, match=r"10 of 10 used"):
        request_visit(n["us"], "type-one", "kozelsk", clock.now + timedelta(hours=40), 5)
