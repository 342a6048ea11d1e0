"""The compliance page over HTTP: New START declarations, a dispute, the obligations filtered."""

from __future__ import annotations

import re

import pytest

from detente.node.logins import set_password
from detente.node.operators import Role, add_operator
from detente.node.writer import Draft, LogWriter
from tests.console.conftest import PASSWORD, Line
from tests.fakes.network import make_network
from tests.fakes.new_start import US_COUNTS, write_agreement

DISPUTE = "56 converted Trident II launchers and 41 B-52H still count"


@pytest.fixture
def line(tmp_path, clock, database_url):
    """us, nato and ru under New START on 20 March 2021, with viewer, officer and second."""
    path = write_agreement(tmp_path)
    clock.now = clock.now.replace(year=2021, month=3, day=20)
    network_fixture = make_network(tmp_path, clock, database_url, agreement_ref=str(path))
    network = next(network_fixture)
    for node in network.nodes.values():
        add_operator(node, "viewer", Role.viewer)
        add_operator(node, "second", Role.operator)
        for name in ("viewer", "officer", "second"):
            set_password(node, name, PASSWORD)
    line = Line(network)
    try:
        yield line
    finally:
        line.close()
        next(network_fixture, None)


def send(line, clock, party, draft) -> str:
    clock.advance(minutes=1)
    result = LogWriter(line.node(party)).append([draft])
    line.deliver("us", "nato", "ru", "us", "nato", "ru")
    return result.envelopes[0].position


@pytest.fixture
def declared(line, clock):
    """us declares as of 1 March 2021 (and, late, over a limit as of 1 September 2020); ru
    disputes the first. The refs of both declarations and the dispute."""
    older = send(
        line,
        clock,
        "us",
        Draft(
            type="aggregate_data",
            body={
                "as_of": "2020-09-01",
                "counts": {**US_COUNTS, "warheads_on_deployed_icbms_and_slbms": 1600},
            },
            to=("nato", "ru"),
        ),
    )
    newer = send(
        line,
        clock,
        "us",
        Draft(
            type="aggregate_data",
            body={"as_of": "2021-03-01", "counts": US_COUNTS},
            to=("nato", "ru"),
        ),
    )
    dispute = send(
        line,
        clock,
        "ru",
        Draft(
            type="declaration_dispute",
            body={
                "text": DISPUTE,
                "counts": {"nondeployed_slbm_launchers": 116, "nondeployed_heavy_bombers": 76},
            },
            to=("us",),
            refs=(newer,),
        ),
    )
    return older, newer, dispute


def _section(page: str, name: str) -> str:
    found = re.search(rf'<section id="{name}".*?</section>', page, re.S)
    assert found, f"no section {name}"
    return found.group(0)


def _table(page: str, table_id: str) -> str:
    found = re.search(rf'<table[^>]* id="{table_id}".*?</table>', page, re.S)
    assert found, f"no table {table_id}"
    return found.group(0)


def _row(table: str, **attributes: str) -> str:
    wanted = "".join(rf'(?=[^>]*data-{k.replace("_", "-")}="{v}")' for k, v in attributes.items())
    found = re.search(rf"<tr{wanted}[^>]*>(.*?)</tr>", table, re.S)
    assert found, f"no row {attributes}"
    return found.group(0)


def test_the_limits_show_each_declaration_with_the_dispute_beside_it(line, clock, declared):
    older, newer, dispute = declared
    page = line.browser("us", "officer").get("/console/compliance")
    assert page.status_code == 200, page.text
    assert '<a href="/console/compliance" accesskey="l" aria-current="page">Compliance</a>' in (
        page.text
    )
    for region in ("compliance-summary", "compliance-limits", "compliance-obligations"):
        assert f'data-live="{region}"' in page.text
    launchers = _table(page.text, "limit-us-launchers")
    assert "launchers: at most 800" in launchers
    assert "in force from 2018-02-05 until 2026-02-05" in launchers
    # Newest first: the declaration as of 1 March 2021, then the one as of 1 September 2020.
    refs = re.findall(r'<tr class="state-\w+" data-ref="([^"]+)"', launchers)
    assert refs == [newer, older]
    row = _row(launchers, ref=newer)
    assert '<td class="declared">800</td>' in row and '<span class="state st-met">met</span>' in row
    position = re.search(r'<div class="position" data-by="ru".*?</div>', row, re.S).group(0)
    assert '<span class="disputed-value">897</span>' in position
    assert '<span class="state st-violated">violated</span>' in position
    assert DISPUTE in position
    link = dispute.replace(":", "/")
    assert f'<a href="/console/messages/{link}">{dispute}</a>' in position
    assert f'<a href="/console/messages/{newer.replace(":", "/")}">{newer}</a>' in row

    # nato was not sent the dispute (a body travels to its recipients): it sees the declaration.
    seen_by_nato = _table(
        line.browser("nato", "viewer").get("/console/compliance").text, "limit-us-launchers"
    )
    assert '<td class="declared">800</td>' in _row(seen_by_nato, ref=newer)
    assert 'class="position"' not in seen_by_nato

    warheads = _table(page.text, "limit-us-deployed_warheads")
    over = _row(warheads, ref=older)
    assert 'class="state-violated"' in over and '<td class="declared">1631</td>' in over
    assert "no declaration judged" not in warheads.lower()
    # ru has declared nothing: each limit on it says so; the summary counts us's judgements.
    assert "No declaration judged against this limit yet." in _table(
        page.text, "limit-ru-launchers"
    )
    summary = _row(_table(page.text, "summary-table"), party="us")
    assert '<td data-state="violated" class="bad">1</td>' in summary
    assert '<td data-state="met">6</td>' in summary  # five limit judgements and the exchange


def test_the_obligations_are_filtered_by_state_and_party(line, clock, declared):
    clock.advance(days=13)  # 2 April 2021: the exchange as of 1 March was due by 31 March
    officer = line.browser("us", "officer")
    page = officer.get("/console/compliance").text
    table = _table(page, "obligations-table")
    ru = _row(table, party="ru", as_of="2021-03-01")
    assert 'class="state-overdue"' in ru and '<span class="state st-overdue">overdue</span>' in ru
    assert '<time datetime="2021-04-01T00:00:00Z" class="when">' in ru
    assert "as of 2021-03-01" in ru and "periodic" in ru
    us = _row(table, party="us", as_of="2021-03-01")
    assert '<span class="state st-met">met</span>' in us and "receipt" in us
    assert "limit-us" not in table and "declaration_dispute" not in table
    assert _row(table, party="us", as_of="2021-09-01", state="not_in_force")
    summary = _row(_table(page, "summary-table"), party="ru")
    assert '<td data-state="overdue" class="bad">1</td>' in summary

    form = re.search(r'<form method="get"[^>]*id="obligations-filters".*?</form>', page, re.S)
    for option in ("overdue", "violated", "due", "met", "suspended"):
        assert f'<option value="{option}">' in form.group(0)
    assert '<option value="nato">nato</option>' in form.group(0)

    overdue = _table(officer.get("/console/compliance?state=overdue").text, "obligations-table")
    assert re.findall(r'data-party="(\w+)"', overdue) == ["ru"]
    mine = officer.get("/console/compliance?state=met&party=us").text
    assert '<option value="met" selected>' in mine and '<option value="us" selected>' in mine
    assert set(re.findall(r'data-party="(\w+)"', _table(mine, "obligations-table"))) == {"us"}
    none = officer.get("/console/compliance?state=violated&party=ru").text
    assert "No obligations." in _table(none, "obligations-table")
    # A value that is not a choice filters nothing out, and is not echoed.
    everything = officer.get("/console/compliance?state=%3Cb%3E&party=fr").text
    shown, total = re.search(r"(\d+) of (\d+) obligations", everything).groups()
    assert shown == total
    assert "&lt;b&gt;" not in everything and " selected>" not in _section(everything, "obligations")


def test_a_viewer_reads_the_page_in_russian(line, clock, declared):
    viewer = line.browser("ru", "viewer")
    assert viewer.get("/console/compliance").status_code == 200
    viewer.post(
        "/console/language",
        {"csrf": viewer.csrf("/console/compliance"), "lang": "ru", "next": "/console/compliance"},
    )
    page = viewer.get("/console/compliance").text
    assert '<html lang="ru">' in page
    for words in ("Соблюдение", "Сводка", "Ограничения", "Обязательства", "Оспаривает"):
        assert words in page, words
    row = _row(_table(page, "limit-us-launchers"), ref=declared[1])
    assert '<span class="state st-met">выполнено</span>' in row
    assert '<span class="state st-violated">нарушено</span>' in row
    assert DISPUTE in row  # a party's own words are shown as written


def test_the_page_needs_a_session(line):
    browser = line.browser("us", "viewer")
    browser.cookies.clear()
    response = browser.get("/console/compliance?state=due")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console/compliance%3Fstate%3Ddue"
