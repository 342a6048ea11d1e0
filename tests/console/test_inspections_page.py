"""The inspections pages over HTTP: a whole Aegis Ashore visit driven through the forms."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from detente.node.inspections import find_visit, inspections_state
from detente.node.operators import set_language
from detente.node.visits import commit_inventory, request_visit
from detente.record.inventory import ItemRecord
from detente.store.logs import LogStore


def cells(site="deveselu", n=24):
    return [
        ItemRecord(f"{site}-cell-{i:02d}", f"cell {i:02d}", "loaded", "SM-3 Block IIA")
        for i in range(n)
    ]


def _size(node) -> int:
    with node.database.engine.connect() as conn:
        return LogStore(conn, node.party).size()


def _section(page: str, name: str) -> str:
    found = re.search(rf'<section id="{name}".*?</section>', page, re.S)
    assert found, f"no section {name}"
    return found.group(0)


def _minute(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def _ask(line, clock):
    """ru asks for a visit to Deveselu 40 hours ahead, from the node itself; the result."""
    arrival = clock() + timedelta(hours=40)
    return request_visit(line.node("ru"), "aegis-ashore-visit", "deveselu", arrival, 8)


def _deliver(line, clock) -> None:
    clock.advance(minutes=1)
    line.deliver("us", "ru", "us", "ru")


def _step(line, clock, browser, ref, step, data=None):
    """Post one step's form from ``browser``'s visit page; the answer."""
    path = "/console/inspections/" + ref.replace(":", "/")
    token = browser.csrf(path)
    response = browser.post(f"{path}/{step}", {"csrf": token, "nonce": f"n-{step}", **(data or {})})
    _deliver(line, clock)
    return response


def _request(line, clock, browser, **fields):
    token = browser.csrf("/console/inspections")
    data = {
        "csrf": token,
        "nonce": fields.pop("nonce", "req-1"),
        "inspection_type": "aegis-ashore-visit",
        "site": "deveselu",
        "arrival": _minute(clock() + timedelta(hours=40)),
        "team_size": "8",
        **fields,
    }
    return browser.post("/console/inspections/request", data)


@pytest.fixture
def committed(line, clock):
    commit_inventory(line.node("us"), "deveselu", cells())
    _deliver(line, clock)
    return line


def test_a_whole_visit_through_the_forms_of_both_sides(committed, clock):
    line = committed
    ru, us = line.browser("ru", "officer"), line.browser("us", "officer")
    page = ru.get("/console/inspections").text
    assert 'aria-current="page">Inspections</a>' in page
    assert 'data-live="inspections-visits"' in page and 'id="request-form"' in page
    quota = re.search(r'<tr data-quota="aegis-ashore-visit:ru:us">.*?</tr>', page, re.S).group(0)
    assert '<td class="quota-left">2</td>' in quota and "0 of 2 used" in quota

    response = _request(line, clock, ru)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console/inspections/ru/0?done=requested"
    # The same one-time key again: sent once.
    assert _request(line, clock, ru).status_code == 303
    assert len(inspections_state(line.node("ru"))) == 1
    _deliver(line, clock)
    ref = "ru:0"

    listed = us.get("/console/inspections").text
    row = re.search(rf'<tr data-ref="{ref}".*?</tr>', listed, re.S).group(0)
    assert 'data-state="sampling"' in row and "Transparency visit to an Aegis Ashore site" in row

    visit = us.get("/console/inspections/ru/0").text
    assert "Aegis Ashore Missile Defense System Romania, Deveselu (deveselu)" in visit
    assert 'id="commit-form"' in visit and 'id="refuse-form"' in visit
    assert 'id="reveal-form"' not in visit
    root = find_visit(line.node("us"), ref).commitment.root.hex()
    assert f"24 records, root {root}" in visit

    for browser in (us, ru):
        assert _step(line, clock, browser, ref, "commit").status_code == 303
    # ru may not reveal before the host: no form, and a forced post is refused, nothing sent.
    assert 'id="reveal-form"' not in ru.get("/console/inspections/ru/0").text
    before = _size(line.node("ru"))
    refused = _step(line, clock, ru, ref, "reveal")
    assert refused.status_code == 422
    assert "the host, us, reveals first" in _error(refused.text)
    assert _size(line.node("ru")) == before

    assert _step(line, clock, us, ref, "reveal").status_code == 303
    assert _step(line, clock, ru, ref, "reveal").status_code == 303
    state = find_visit(line.node("ru"), ref)
    sample = state.sample
    for browser in (us, ru):
        shown = browser.get("/console/inspections/ru/0").text
        assert f'data-sample="{",".join(map(str, sample))}"' in shown
        assert state.seed.hex() in shown

    clock.now = state.arrival
    ru, us = line.browser("ru", "officer"), line.browser("us", "officer")  # sessions ran out
    at = {"at": _minute(clock())}
    assert _step(line, clock, ru, ref, "arrived", at).status_code == 303
    assert _step(line, clock, us, ref, "at_site", {"at": _minute(clock())}).status_code == 303
    assert _step(line, clock, us, ref, "open").status_code == 303

    form = ru.get("/console/inspections/ru/0").text
    assert 'id="findings-form"' in form
    for index in sample:
        assert f'name="status.{index}"' in form and f'name="contents.{index}"' in form
    # A record left blank: nothing sent, the field marked.
    blank = _step(line, clock, ru, ref, "findings", {})
    assert blank.status_code == 422 and f'id="findings-status.{sample[0]}-error"' in blank.text
    seen = {f"status.{i}": "loaded" for i in sample}
    seen.update({f"contents.{i}": "SM-3 Block IIA" for i in sample})
    seen[f"contents.{sample[0]}"] = "Tomahawk"
    assert _step(line, clock, ru, ref, "findings", seen).status_code == 303

    page = us.get("/console/inspections/ru/0").text
    findings = _section(page, "findings")
    assert f'<li class="finding bad" data-kind="mismatch">Record {sample[0]}' in findings
    digest = find_visit(line.node("us"), ref).report_sha256()
    assert digest in findings and 'id="report-form"' in page
    assert _step(line, clock, us, ref, "report").status_code == 303
    assert _step(line, clock, ru, ref, "report").status_code == 303

    for browser, party in ((us, "us"), (ru, "ru")):
        final = browser.get("/console/inspections/ru/0").text
        assert 'data-state="closed"' in final
        assert re.search(r'id="report-signed">ru, us</dd>', final)
        assert 'id="no-step"' in final
        entries = _section(final, "entries")
        for entry in find_visit(line.node(party), ref).entries:
            assert f'<a href="/console/messages/{entry.replace(":", "/")}">{entry}</a>' in entries
    quota = re.search(
        r'<tr data-quota="aegis-ashore-visit:ru:us">.*?</tr>',
        ru.get("/console/inspections").text,
        re.S,
    ).group(0)
    assert '<td class="quota-left">1</td>' in quota


def _error(page: str) -> str:
    found = re.search(r'<p class="error"[^>]*>(.*?)</p>', page, re.S)
    assert found, "no error on the page"
    return found.group(1)


def test_beyond_quota_is_shown_with_the_quotas_state_and_nothing_sent(committed, clock):
    line = committed
    ru = line.browser("ru", "officer")
    for _ in range(2):
        _ask(line, clock)
    before = _size(line.node("ru"))
    response = _request(line, clock, ru, nonce="req-3")
    assert response.status_code == 409
    error = re.search(r'id="request-inspection_type-error">(.*?)</p>', response.text).group(1)
    assert "beyond quota" in error and "2 of 2 used" in error
    assert 'aria-invalid="true"' in response.text
    assert _size(line.node("ru")) == before
    quota = re.search(r'<tr data-quota="aegis-ashore-visit:ru:us">.*?</tr>', response.text, re.S)
    assert '<td class="quota-left bad">0</td>' in quota.group(0)


def test_a_request_with_wrong_fields_is_marked_and_not_sent(committed, clock):
    line = committed
    ru = line.browser("ru", "officer")
    before = _size(line.node("ru"))
    response = _request(line, clock, ru, arrival="soon", team_size="0", site="")
    assert response.status_code == 422
    for name in ("arrival", "team_size", "site"):
        assert f'id="request-{name}-error"' in response.text
    assert _size(line.node("ru")) == before


def test_an_overdue_step_is_red_with_the_side_that_owes_it(committed, clock):
    line = committed
    result = _ask(line, clock)
    _deliver(line, clock)
    clock.advance(hours=41)
    page = line.browser("ru", "viewer").get("/console/inspections").text
    ref = result.envelopes[0].position
    row = re.search(rf'<tr data-ref="{ref}".*?</tr>', page, re.S).group(0)
    assert '<span class="bad overdue" data-owed-by="us" data-step="sample-commit">' in row
    assert "us owes commit to the sample value since" in row


def test_a_viewer_sees_the_visit_but_no_forms(committed, clock):
    line = committed
    _ask(line, clock)
    _deliver(line, clock)
    viewer = line.browser("us", "viewer")
    listed = viewer.get("/console/inspections").text
    assert "may read but not send" in listed and 'id="request-form"' not in listed
    page = viewer.get("/console/inspections/ru/0").text
    assert 'action="/console/inspections/' not in page
    assert 'id="actions"' not in page and 'data-live="visit-sampling"' in page
    token = viewer.csrf("/console/inspections/ru/0")
    refused = viewer.post("/console/inspections/ru/0/commit", {"csrf": token})
    assert refused.status_code == 403
    assert "<script>" not in page and " style=" not in page


def test_an_unknown_visit_is_not_found(committed):
    page = committed.browser("us", "officer").get("/console/inspections/ru/7")
    assert page.status_code == 404


def test_the_pages_in_russian(committed, clock):
    line = committed
    _ask(line, clock)
    _deliver(line, clock)
    set_language(line.node("ru"), "officer", "ru")
    ru = line.browser("ru", "officer")
    listed = ru.get("/console/inspections").text
    assert "Инспекции" in listed and "Inspections" not in listed.split("<main")[1]
    page = ru.get("/console/inspections/ru/0").text
    assert 'lang="ru"' in page
    assert "Requests and visits" not in page and "Our next step" not in page


def test_the_host_refuses_with_a_reason(committed, clock):
    line = committed
    _ask(line, clock)
    _deliver(line, clock)
    us = line.browser("us", "officer")
    before = _size(line.node("us"))
    blank = _step(line, clock, us, "ru:0", "refuse", {"reason": " "})
    assert blank.status_code == 422 and 'id="refuse-reason-error"' in blank.text
    assert _size(line.node("us")) == before
    assert _step(line, clock, us, "ru:0", "refuse", {"reason": "Site closed."}).status_code == 303
    for party in ("us", "ru"):
        page = line.browser(party, "officer").get("/console/inspections/ru/0").text
        assert 'data-state="refused"' in page
        assert 'id="no-step"' in page
