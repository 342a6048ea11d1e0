"""Transparency visits across three real nodes (us, nato, ru) with an injected clock.

A whole Aegis Ashore visit (Russia inspects Deveselu) from the inventory
commitment to a report signed by both, the reciprocal US visit to a Russian
base it opens, an opening that does not match its commitment, a cancelled
visit that still counts, a late step, and the secrets each node keeps.
"""

from dataclasses import replace
from datetime import timedelta

import pytest

from detente.errors import BodyError, ConflictError
from detente.node.inspections import find_visit, inspections_state
from detente.node.visits import (
    cancel_visit,
    commit_inventory,
    commit_sample,
    inventory_path,
    open_sample,
    record_findings,
    record_step,
    request_visit,
    reveal_sample,
    sample_value_path,
    sign_report,
)
from detente.node.writer import Draft, LogWriter
from detente.record.inventory import ItemRecord
from detente.record.inventory_file import load_commitment
from detente.store.logs import LogStore
from tests.fakes.network import make_network


@pytest.fixture
def network(tmp_path, clock, database_url):
    yield from make_network(tmp_path, clock, database_url)


def deliver(network):
    for sender in network.senders.values():
        sender.run_lane()
        sender.run_once()


def act(network, clock, action, *args, **kwargs):
    """One step a minute after the last, delivered to every peer; its position."""
    clock.advance(minutes=1)
    result = action(*args, **kwargs)
    deliver(network)
    return result.envelopes[0].position


def cells(site, n=24):
    return [
        ItemRecord(f"{site}-cell-{i:02d}", f"cell {i:02d}", "loaded", "SM-3 Block IIA")
        for i in range(n)
    ]


def visit(network, party, ref):
    return find_visit(network.nodes[party], ref)


def draw(network, clock, ref, host, team):
    n = network.nodes
    act(network, clock, commit_sample, n[host], ref)
    act(network, clock, commit_sample, n[team], ref)
    act(network, clock, reveal_sample, n[host], ref)
    act(network, clock, reveal_sample, n[team], ref)


def run_visit(network, clock, ref, host, team, *, observed=None):
    """From the request to the report signed by both, the host opening honestly."""
    n = network.nodes
    draw(network, clock, ref, host, team)
    clock.now = visit(network, team, ref).arrival
    act(network, clock, record_step, n[team], ref, "arrived", clock.now)
    act(network, clock, record_step, n[host], ref, "at_site", clock.now)
    act(network, clock, open_sample, n[host], ref)
    seen = visit(network, team, ref)
    rows = observed or [
        {"index": i, "status": "loaded", "contents": "SM-3 Block IIA"} for i in seen.sample
    ]
    act(network, clock, record_findings, n[team], ref, rows)
    act(network, clock, sign_report, n[team], ref)
    act(network, clock, sign_report, n[host], ref)


def request(network, clock, party, kind, site):
    arrival = clock.now + timedelta(hours=33)
    return act(network, clock, request_visit, network.nodes[party], kind, site, arrival, 8)


def test_an_aegis_ashore_visit_then_the_reciprocal_visit_it_opens(network, clock):
    n = network.nodes
    act(network, clock, commit_inventory, n["us"], "deveselu", cells("deveselu"))
    act(network, clock, commit_inventory, n["ru"], "ru-base-1", cells("ru-base-1", 12))
    # No right to a visit to a Russian base before an Aegis Ashore visit opens one.
    with pytest.raises(ConflictError, match=r"beyond quota \(missile-base-visit by us at ru"):
        request(network, clock, "us", "missile-base-visit", "ru-base-1")

    ref = request(network, clock, "ru", "aegis-ashore-visit", "deveselu")
    run_visit(network, clock, ref, "us", "ru")
    views = {p: visit(network, p, ref) for p in ("us", "ru")}
    assert {v.state for v in views.values()} == {"closed"}
    assert views["us"].report() == views["ru"].report()
    assert views["us"].findings == [] and views["us"].problems == []
    assert len(views["us"].sample) > 0
    digest = views["us"].report_sha256()
    assert views["ru"].reports == {"us": digest, "ru": digest}

    # The counted Aegis visit opens one US visit to a base Russia committed.
    mine = request(network, clock, "us", "missile-base-visit", "ru-base-1")
    assert visit(network, "ru", mine).uses_right
    run_visit(network, clock, mine, "ru", "us")
    assert visit(network, "ru", mine).state == "closed"
    assert visit(network, "us", mine).state == "closed"
    with pytest.raises(ConflictError, match="0 of 1 rights left"):
        request(network, clock, "us", "missile-base-visit", "ru-base-1")


def test_an_opening_that_does_not_match_the_commitment_is_a_finding(network, clock):
    n = network.nodes
    act(network, clock, commit_inventory, n["us"], "deveselu", cells("deveselu"))
    ref = request(network, clock, "ru", "aegis-ashore-visit", "deveselu")
    draw(network, clock, ref, "us", "ru")
    clock.now = visit(network, "ru", ref).arrival
    act(network, clock, record_step, n["ru"], ref, "arrived", clock.now)
    act(network, clock, record_step, n["us"], ref, "at_site", clock.now)
    sample = visit(network, "us", ref).sample
    # The host opens the first sampled cell with another record than the one it committed.
    state = visit(network, "us", ref)
    kept = load_commitment(inventory_path(n["us"], "deveselu", state.commitment.root))
    opened = kept.open(sample)
    tomahawk = ItemRecord(
        f"deveselu-cell-{sample[0]:02d}", f"cell {sample[0]:02d}", "loaded", "Tomahawk"
    )
    opened[0] = replace(opened[0], record=tomahawk)
    openings = [o.to_json() for o in opened]
    # Only the sample may be opened: one record more is refused before signing.
    outside = next(i for i in range(24) if i not in sample)
    extra = [o.to_json() for o in kept.open([*sample, outside])]
    with pytest.raises(BodyError, match="body.openings: open exactly the sample"):
        LogWriter(n["us"]).append(
            [Draft("inventory-opening", {"openings": extra}, to=("ru",), refs=(ref,))]
        )
    clock.advance(minutes=1)
    LogWriter(n["us"]).append(
        [Draft("inventory-opening", {"openings": openings}, to=("ru",), refs=(ref,))]
    )
    deliver(network)
    rows = [{"index": i, "status": "loaded", "contents": "SM-3 Block IIA"} for i in sample]
    act(network, clock, record_findings, n["ru"], ref, rows)
    for party in ("us", "ru"):
        found = visit(network, party, ref).findings
        assert [(f["index"], f["kind"]) for f in found] == [(sample[0], "unverified")]


def test_revealing_last_then_cancelling_gains_nothing(network, clock):
    n = network.nodes
    for site in ("deveselu", "redzikowo"):
        act(network, clock, commit_inventory, n["us"], site, cells(site))
    first = request(network, clock, "ru", "aegis-ashore-visit", "deveselu")
    # The inspectors may not reveal before the host (refused before signing).
    act(network, clock, commit_sample, n["us"], first)
    act(network, clock, commit_sample, n["ru"], first)
    with pytest.raises(BodyError, match="the host, us, reveals first"):
        reveal_sample(n["ru"], first)
    act(network, clock, reveal_sample, n["us"], first)
    act(network, clock, reveal_sample, n["ru"], first)
    # The inspectors saw the host's value, then call the second visit off: it counts.
    second = request(network, clock, "ru", "aegis-ashore-visit", "redzikowo")
    act(network, clock, commit_sample, n["us"], second)
    act(network, clock, commit_sample, n["ru"], second)
    act(network, clock, reveal_sample, n["us"], second)
    act(network, clock, cancel_visit, n["ru"], second, reason="weather")
    for party in ("us", "ru"):
        cancelled = visit(network, party, second)
        assert cancelled.state == "cancelled" and cancelled.counts_against_quota
    with pytest.raises(
        ConflictError,
        match=r"body.inspection_type: beyond quota \(aegis-ashore-visit by ru at us in 2026: "
        r"2 of 2 used\)",
    ):
        request(network, clock, "ru", "aegis-ashore-visit", "deveselu")
    # Nor may the visit called off be answered any more.
    with pytest.raises(ConflictError, match="is cancelled"):
        reveal_sample(n["ru"], second)


def test_a_late_step_is_overdue_on_the_side_that_owes_it(network, clock):
    n = network.nodes
    act(network, clock, commit_inventory, n["us"], "deveselu", cells("deveselu"))
    ref = request(network, clock, "ru", "aegis-ashore-visit", "deveselu")
    draw(network, clock, ref, "us", "ru")
    clock.now = visit(network, "ru", ref).arrival
    act(network, clock, record_step, n["ru"], ref, "arrived", clock.now)
    # The host brings the team to the site: only it records at_site.
    with pytest.raises(BodyError, match="at_site is recorded by us"):
        record_step(n["ru"], ref, "at_site", clock.now)
    clock.advance(hours=8)
    assert visit(network, "us", ref).overdue == []
    clock.advance(hours=1, minutes=1)
    for party in ("us", "ru"):
        late = visit(network, party, ref)
        assert late.state == "transit"
        assert [(o.party, o.step) for o in late.overdue] == [("us", "at_site")]


def test_secrets_are_0600_and_never_in_the_log(network, clock):
    n = network.nodes
    records = cells("deveselu")
    act(network, clock, commit_inventory, n["us"], "deveselu", records)
    ref = request(network, clock, "ru", "aegis-ashore-visit", "deveselu")
    act(network, clock, commit_sample, n["us"], ref)
    act(network, clock, commit_sample, n["ru"], ref)
    [state] = inspections_state(n["us"])
    root = state.commitment.root
    secrets = [inventory_path(n["us"], "deveselu", root), sample_value_path(n["us"], ref)]
    secrets.append(sample_value_path(n["ru"], ref))
    for path in secrets:
        assert path.stat().st_mode & 0o777 == 0o600, path
    values = [sample_value_path(n[p], ref).read_text().encode() for p in ("us", "ru")]
    for party, node in n.items():
        with node.database.engine.connect() as conn:
            for owner in ("us", "ru"):
                log = LogStore(conn, owner)
                bodies = [log.body(seq) or b"" for seq in range(log.size())]
                text = b"\n".join(bodies)
                assert b"cell 05" not in text, (party, owner)
                assert not any(v in text for v in values), (party, owner)


def _auth(network, party):
    return {"Authorization": f"Bearer {network.tokens[party]}"}


def api(network, party, method, path, **kwargs):
    return network.clients[party].request(
        method, f"/v1/inspections{path}", headers=_auth(network, party), **kwargs
    )


def test_the_api_runs_a_visit_and_serves_its_report(network, clock):
    records = [r.to_json() for r in cells("deveselu")]
    response = api(
        network, "us", "POST", "/inventories", json={"site": "deveselu", "records": records}
    )
    assert response.status_code == 201, response.text
    deliver(network)
    clock.advance(minutes=1)
    arrival = (clock.now + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"inspection_type": "aegis-ashore-visit", "site": "deveselu", "arrival": arrival}
    short = api(network, "ru", "POST", "", json={**body, "team_size": 8})
    assert short.status_code == 422 and "body.arrival" in short.text
    body["arrival"] = (clock.now + timedelta(hours=33)).strftime("%Y-%m-%dT%H:%M:%SZ")
    created = api(network, "ru", "POST", "", json={**body, "team_size": 8})
    assert created.status_code == 201, created.text
    ref = created.json()["position"]
    party, seq = ref.split(":")
    deliver(network)
    for side in ("us", "ru"):
        clock.advance(minutes=1)
        assert api(network, side, "POST", f"/{party}/{seq}/commit").status_code == 201
        deliver(network)
    early = api(network, "ru", "POST", f"/{party}/{seq}/reveal")
    assert early.status_code == 422 and "reveals first" in early.text
    assert api(network, "ru", "GET", f"/{party}/{seq}/report").status_code == 409
    run_visit_rest(network, clock, ref)
    listing = api(network, "ru", "GET", "").json()
    assert [v["state"] for v in listing["inspections"]] == ["closed"]
    quota = next(q for q in listing["quotas"] if q["inspection_type"] == "aegis-ashore-visit")
    assert (quota["used"], quota["left"]) == (1, 1)
    reports = [api(network, p, "GET", f"/{party}/{seq}/report").json() for p in ("us", "ru")]
    assert reports[0] == reports[1] and reports[0]["signed_by"] == ["ru", "us"]
    assert ref in reports[0]["entries"]
    assert api(network, "ru", "GET", "/ru/999").status_code == 404


def run_visit_rest(network, clock, ref):
    n = network.nodes
    act(network, clock, reveal_sample, n["us"], ref)
    act(network, clock, reveal_sample, n["ru"], ref)
    clock.now = visit(network, "ru", ref).arrival
    act(network, clock, record_step, n["ru"], ref, "arrived", clock.now)
    act(network, clock, record_step, n["us"], ref, "at_site", clock.now)
    act(network, clock, open_sample, n["us"], ref)
    rows = [
        {"index": i, "status": "loaded", "contents": "SM-3 Block IIA"}
        for i in visit(network, "ru", ref).sample
    ]
    act(network, clock, record_findings, n["ru"], ref, rows)
    act(network, clock, sign_report, n["ru"], ref)
    act(network, clock, sign_report, n["us"], ref)
