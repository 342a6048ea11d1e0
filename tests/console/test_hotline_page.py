"""The emergency line's pages over HTTP: acknowledgements, deadlines, incidents, notices."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from detente.node import init_node
from detente.node.hotline import (
    acknowledge,
    record_notice,
    report_incident,
    send_line_message,
    watch_line,
)
from detente.node.line import line_state
from detente.node.logins import set_password
from detente.node.operators import Role, add_operator
from detente.store.logs import LogStore
from tests.console.conftest import PASSWORD, Browser
from tests.fakes.servers import ServedNode, free_port

LASER = {"unit": "Su-27 '45 red'", "position": "55.10N 19.90E"}


def _section(page: str, name: str) -> str:
    found = re.search(rf'<section id="{name}".*?</section>', page, re.S)
    assert found, f"no section {name}"
    return found.group(0)


def _row(page: str, section: str, ref: str) -> str:
    found = re.search(rf'<tr[^>]*data-ref="{ref}".*?</tr>', _section(page, section), re.S)
    assert found, f"no row {ref} in {section}"
    return found.group(0)


def _size(node) -> int:
    with node.database.engine.connect() as conn:
        return LogStore(conn, node.party).size()


def _flash(line) -> str:
    """us sends ru a FLASH laser warning (a template) and delivers it; its ref."""
    result = send_line_message(
        line.node("us"), to=["ru"], template="dma-laser", fields=LASER, priority="FLASH"
    )
    line.deliver("us")
    return result.envelopes[0].position


# --- the page for each role --------------------------------------------------------------


@pytest.mark.parametrize("name", ["viewer", "officer", "chief"])
def test_the_page_renders_for_each_role(console, clock, name):
    node = console.served.node
    send_line_message(node, to=["ru"], text="Radio check.", priority="ROUTINE")
    report_incident(
        node,
        kind="air",
        at=clock(),
        lat=55.1,
        lon=19.9,
        units=[{"party": "us", "name": "USS Porter", "kind": "ship"}],
        account="Two passes at 150 m.",
        to=["ru"],
    )
    page = console.browser(name).get("/console/hotline")
    assert page.status_code == 200, page.text
    text = page.text
    assert '<a href="/console/hotline" accesskey="h" aria-current="page">Hotline</a>' in text
    for region in ("line-owed", "line-awaiting", "line-acknowledged", "line-links"):
        assert f'data-live="{region}"' in text
    assert 'data-live="line-incidents"' in text and 'data-live="line-notices"' in text
    assert "Radio check." in _row(text, "awaiting", "us:0")
    assert "USS Porter (us, ship)" in _row(text, "incidents", "us:1")
    sending = name != "viewer"
    assert ('id="message-form"' in text) is sending
    assert ('id="incident-form"' in text) is sending
    assert ('id="notice-form"' in text) is sending
    assert ("may read but not send" in text) is not sending
    assert "<script>" not in text and " style=" not in text


def test_an_agreement_without_a_line_says_so(tmp_path):
    node = init_node(tmp_path / "us", party="us", agreement_ref="new-start")
    add_operator(node, "viewer", Role.viewer)
    set_password(node, "viewer", PASSWORD)
    served = ServedNode(node, free_port(), start_sender=False).start()
    browser = Browser(served.url)
    try:
        browser.log_in("viewer")
        page = browser.get("/console/hotline")
        assert page.status_code == 200
        assert "has no emergency line" in page.text
        assert 'id="message-form"' not in page.text
    finally:
        browser.close()
        served.stop()
        node.close()


# --- acknowledging --------------------------------------------------------------------------


def test_a_template_message_shows_both_languages_and_its_deadline(line):
    ref = _flash(line)
    page = line.browser("ru", "officer").get("/console/hotline").text
    row = _row(page, "owed", ref)
    assert 'class="priority-flash' in row and '<span class="prio prio-flash">FLASH</span>' in row
    assert "Laser radiation from your Su-27 &#39;45 red&#39; near 55.10N 19.90E" in row
    assert "Лазерное излучение с вашего Su-27 &#39;45 red&#39; в районе 55.10N 19.90E" in row
    assert 'lang="en"' in row and 'lang="ru"' in row
    # FLASH: 5 minutes from ru's receipt (the fake clock stands still).
    assert 'data-deadline="2026-03-01T12:05:00Z"' in row
    assert 'data-left="{time} left" data-over="overdue by {time}"' in row
    assert ">5:00 left</span>" in row
    assert "NNRRC duty officer" in row
    assert '<button type="submit" class="primary ack" data-ref="us:0">Acknowledge</button>' in row


def test_free_text_is_shown_as_it_is(line):
    send_line_message(line.node("us"), to=["ru"], text="Request contact on channel 16.")
    line.deliver("us")
    row = _row(line.browser("ru", "officer").get("/console/hotline").text, "owed", "us:0")
    assert '<p class="free-text">Request contact on channel 16.</p>' in row
    assert 'class="bilingual"' not in row
    assert ">30:00 left</span>" in row  # IMMEDIATE, the type's own priority


def test_acknowledging_signs_as_the_operator_and_both_sides_see_it(line):
    ref = _flash(line)
    ru = line.browser("ru", "officer")
    token = ru.csrf("/console/hotline")
    response = ru.post("/console/hotline/acknowledge", {"csrf": token, "ref": ref})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console/hotline?done=acknowledged&ref=us:0#owed"
    page = ru.get(response.headers["location"]).text
    assert "Acknowledged us:0" in page
    assert 'data-ref="us:0"' not in _section(page, "owed")
    assert "officer" in _row(page, "acknowledged", ref)
    line.deliver("ru")
    us_page = line.browser("us", "officer").get("/console/hotline").text
    assert 'data-ref="us:0"' not in _section(us_page, "awaiting")
    done = _row(us_page, "acknowledged", ref)
    assert "officer" in done and "in time" in done


def test_a_double_click_acknowledges_once_and_a_second_officer_is_told(line):
    ref = _flash(line)
    ru = line.browser("ru", "officer")
    token = ru.csrf("/console/hotline")
    before = _size(line.node("ru"))
    for _ in range(2):
        response = ru.post("/console/hotline/acknowledge", {"csrf": token, "ref": ref})
        assert response.headers["location"].startswith("/console/hotline?done=acknowledged")
    assert _size(line.node("ru")) == before + 1
    second = line.browser("ru", "second")
    response = second.post(
        "/console/hotline/acknowledge", {"csrf": second.csrf("/console/hotline"), "ref": ref}
    )
    assert response.headers["location"] == "/console/hotline?done=already&ref=us:0#owed"
    assert "was already acknowledged" in second.get(response.headers["location"]).text
    assert _size(line.node("ru")) == before + 1


def test_acknowledging_needs_the_csrf_token_and_a_role_that_sends(line):
    ref = _flash(line)
    before = _size(line.node("ru"))
    officer = line.browser("ru", "officer")
    officer.get("/console/hotline")
    forged = officer.post("/console/hotline/acknowledge", {"csrf": "forged", "ref": ref})
    assert forged.status_code == 403
    assert "security token" in forged.text
    viewer = line.browser("ru", "viewer")
    page = viewer.get("/console/hotline").text
    row = _row(page, "owed", ref)
    assert "<button" not in row and "an operator acknowledges" in row
    refused = viewer.post(
        "/console/hotline/acknowledge", {"csrf": viewer.csrf("/console/hotline"), "ref": ref}
    )
    assert refused.status_code == 403
    assert "may not send" in refused.text
    assert _size(line.node("ru")) == before


def test_acknowledging_what_is_not_held_is_refused(line):
    ru = line.browser("ru", "officer")
    token = ru.csrf("/console/hotline")
    assert ru.post("/console/hotline/acknowledge", {"csrf": token, "ref": "us:9"}).status_code == (
        404
    )
    assert ru.post("/console/hotline/acknowledge", {"csrf": token, "ref": "x"}).status_code == 422


def test_overdue_escalates_on_both_sides(line, clock):
    ref = _flash(line)
    clock.advance(minutes=6)
    ru_page = line.browser("ru", "officer").get("/console/hotline").text
    row = _row(ru_page, "owed", ref)
    assert 'data-state="overdue"' in row and "state-overdue" in row
    assert '<span class="countdown overdue"' in row and ">overdue by 1:00</span>" in row
    assert "Escalated to NNRRC duty chief (level 1)" in row
    us_page = line.browser("us", "officer").get("/console/hotline").text
    row = _row(us_page, "awaiting", ref)
    assert ">overdue by 1:00</span>" in row
    assert "ru escalated to NNRRC duty chief (level 1)" in row
    clock.advance(minutes=5)
    row = _row(line.browser("ru", "second").get("/console/hotline").text, "owed", ref)
    assert "General Staff duty general (level 2)" in row and ">overdue by 6:00</span>" in row
    acknowledge(line.node("ru"), ref, by="second")
    line.deliver("ru")
    late = _row(line.browser("us", "second").get("/console/hotline").text, "acknowledged", ref)
    assert "late" in late and "second" in late


def test_a_message_not_yet_received_counts_down_from_its_sending(line):
    send_line_message(line.node("us"), to=["ru"], text="Are you receiving?", priority="FLASH")
    row = _row(line.browser("us", "officer").get("/console/hotline").text, "awaiting", "us:0")
    assert "not yet received" in row
    assert 'data-deadline="2026-03-01T12:05:00Z"' in row


# --- sending on the line ------------------------------------------------------------------


def test_sending_a_template_message_from_the_page(line):
    us = line.browser("us", "officer")
    page = us.get("/console/hotline?template=dma-laser").text
    assert 'name="field.unit"' in page and 'name="field.position"' in page
    assert "Лазерное излучение с вашего {unit}" in page  # the chosen template, both texts
    token = us.csrf("/console/hotline")
    nonce = re.search(r'name="nonce" value="([^"]+)"', page).group(1)
    form = [
        ("csrf", token),
        ("nonce", nonce),
        ("template", "dma-laser"),
        ("to", "ru"),
        ("priority", "FLASH"),
        ("field.unit", "Su-27"),
        ("field.position", "55.10N 19.90E"),
        ("text", "Repeat: stop."),
    ]
    first = us.post("/console/hotline/send", form)
    assert first.status_code == 303, first.text
    assert first.headers["location"] == "/console/hotline?done=sent&ref=us:0#awaiting"
    again = us.post("/console/hotline/send", form)
    assert again.headers["location"] == first.headers["location"]
    assert _size(line.node("us")) == 1, "the same form twice sends once"
    owed = line_state(line.node("us")).owed_to_me()[0]
    assert (owed.priority, owed.recipient) == ("FLASH", "ru")
    assert owed.text["ru"].startswith("Лазерное излучение с вашего Su-27")
    assert owed.text["text"] == "Repeat: stop."


@pytest.mark.parametrize(
    ("form", "field", "words"),
    [
        ([("priority", "FLASH"), ("text", "x")], "msg-to", "at least one recipient"),
        ([("to", "ru"), ("priority", "FLASH")], "msg-text", "Write a text, or choose a template"),
        (
            [("to", "ru"), ("priority", "FLASH"), ("template", "dma-laser"), ("field.unit", "a")],
            "msg-field-position",
            "Fill in this blank",
        ),
        ([("to", "ru"), ("priority", "SOON"), ("text", "x")], "msg-priority", "Choose a priority"),
        (
            [("to", "ru"), ("priority", "FLASH"), ("text", "x" * 4001)],
            "msg-text",
            "is too long",
        ),
        ([("to", "ru"), ("priority", "FLASH"), ("template", "nope")], "msg-template", "nope"),
    ],
)
def test_message_errors_are_shown_beside_their_field(line, form, field, words):
    us = line.browser("us", "officer")
    template = next((v for k, v in form if k == "template"), "")
    token = us.csrf(f"/console/hotline?template={template}")
    response = us.post("/console/hotline/send", [("csrf", token), *form])
    assert response.status_code == 422
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', response.text)
    assert error, response.text[:3000]
    assert words in error.group(1)
    assert 'id="message-form-error"' in response.text
    assert _size(line.node("us")) == 0


def test_a_viewer_cannot_send_on_the_line(line):
    viewer = line.browser("us", "viewer")
    token = viewer.csrf("/console/hotline")
    for path, form in [
        ("/console/hotline/send", {"to": "ru", "priority": "FLASH", "text": "x"}),
        ("/console/hotline/incidents", {"to": "ru"}),
        ("/console/hotline/notices", {"to": "ru"}),
    ]:
        assert viewer.post(path, {"csrf": token, **form}).status_code == 403
    assert _size(line.node("us")) == 0


# --- incidents ----------------------------------------------------------------------------------


def _report_form(token, **changes):
    form = {
        "csrf": token,
        "nonce": "report-1",
        "to": "ru",
        "kind": "air",
        "at": "2026-03-01T11:40",
        "lat": "55.1",
        "lon": "19.9",
        "units": "us, USS Porter, ship\nru, Su-27 '45 red', aircraft",
        "account": "Two passes at 150 m over the bow.",
    }
    form.update(changes)
    return form


def test_an_incident_thread_with_both_accounts_side_by_side(line):
    us = line.browser("us", "officer")
    response = us.post("/console/hotline/incidents", _report_form(us.csrf("/console/hotline")))
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console/hotline/incidents/us/0?done=reported"
    line.deliver("us")
    ru = line.browser("ru", "officer")
    listed = _row(ru.get("/console/hotline").text, "incidents", "us:0")
    assert "in the air" in listed and "55.1000, 19.9000" in listed and "open" in listed
    token = ru.csrf("/console/hotline/incidents/us/0")
    response = ru.post(
        "/console/hotline/incidents/us/0/account",
        {"csrf": token, "nonce": "a1", "account": "A routine flight at a safe distance."},
    )
    assert response.status_code == 303, response.text
    response = ru.post(
        "/console/hotline/incidents/us/0/status",
        {"csrf": token, "seen": "2", "status": "explained", "text": "See our account."},
    )
    assert response.headers["location"] == "/console/hotline/incidents/us/0?done=status#thread"
    line.deliver("ru", "us")
    page = us.get("/console/hotline/incidents/us/0").text
    accounts = re.search(r'<div class="accounts".*?</section>', page, re.S).group(0)
    sides = re.findall(r'<article class="account" data-party="(\w+)">', accounts)
    assert sides == ["ru", "us"]
    assert "A routine flight at a safe distance." in accounts
    assert "Two passes at 150 m over the bow." in accounts
    assert 'data-status="explained"' in page
    thread = re.search(r'<table class="list" id="thread-table">.*?</table>', page, re.S).group(0)
    kinds = re.findall(r'data-type="([a-z-]+)"', thread)
    assert kinds == ["incident-report", "incident-account", "incident-status"]
    assert "See our account." in thread
    # Closed once both sides close it; reopening starts over.
    us_token = us.csrf("/console/hotline/incidents/us/0")
    us.post(
        "/console/hotline/incidents/us/0/status",
        {"csrf": us_token, "seen": "3", "status": "closed"},
    )
    assert 'data-status="explained"' in us.get("/console/hotline/incidents/us/0").text
    ru.post(
        "/console/hotline/incidents/us/0/status",
        {"csrf": token, "seen": "4", "status": "closed"},
    )
    line.deliver("ru", "us")
    page = us.get("/console/hotline/incidents/us/0").text
    assert 'data-status="closed"' in page
    assert '<dd id="closed-by">ru, us</dd>' in page
    us.post(
        "/console/hotline/incidents/us/0/status",
        {"csrf": us_token, "seen": "5", "status": "open", "text": "New evidence."},
    )
    assert 'data-status="open"' in us.get("/console/hotline/incidents/us/0").text


def test_a_double_submitted_status_is_sent_once(line):
    us = line.browser("us", "officer")
    us.post("/console/hotline/incidents", _report_form(us.csrf("/console/hotline")))
    token = us.csrf("/console/hotline/incidents/us/0")
    form = {"csrf": token, "seen": "1", "status": "explained"}
    us.post("/console/hotline/incidents/us/0/status", form)
    us.post("/console/hotline/incidents/us/0/status", form)
    assert _size(line.node("us")) == 2


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"lat": "95"}, "inc-lat", "from -90 to 90"),
        ({"lon": "east"}, "inc-lon", "from -180 to 180"),
        ({"at": "yesterday"}, "inc-at", "in UTC"),
        ({"units": "USS Porter"}, "inc-units", "Line 1: write party, name, kind"),
        ({"units": "us, USS Porter, boat"}, "inc-units", "the kind is one of"),
        ({"units": ""}, "inc-units", "at least one unit"),
        ({"account": " "}, "inc-account", "Required"),
        ({"kind": "space"}, "inc-kind", "Choose a kind"),
        ({"units": "us, " + "x" * 300}, "inc-units", "is too long"),
    ],
)
def test_report_errors_are_shown_beside_their_field(line, changes, field, words):
    us = line.browser("us", "officer")
    response = us.post(
        "/console/hotline/incidents", _report_form(us.csrf("/console/hotline"), **changes)
    )
    assert response.status_code == 422
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', response.text)
    assert error, response.text[:3000]
    assert words in error.group(1)
    kept = "Two passes at 150 m over the bow." if "account" not in changes else 'value="55.1"'
    assert kept in response.text, "what was typed is kept"
    assert _size(line.node("us")) == 0


def test_an_account_needs_its_text(line, clock):
    report_incident(
        line.node("us"),
        kind="sea",
        at=clock(),
        lat=1.0,
        lon=2.0,
        units=[{"party": "us", "name": "x"}],
        account="y",
        to=["ru"],
    )
    us = line.browser("us", "officer")
    token = us.csrf("/console/hotline/incidents/us/0")
    response = us.post("/console/hotline/incidents/us/0/account", {"csrf": token, "account": ""})
    assert response.status_code == 422
    assert 'id="account-text-error"' in response.text
    assert us.get("/console/hotline/incidents/us/7").status_code == 404


# --- out-of-band notices --------------------------------------------------------------------------


def test_a_notice_recorded_then_disputed(line):
    us = line.browser("us", "officer")
    response = us.post(
        "/console/hotline/notices",
        {
            "csrf": us.csrf("/console/hotline"),
            "nonce": "n1",
            "to": "ru",
            "given_at": "2026-03-01T11:50",
            "means": "telephone",
            "given_by": "NRRC watch officer",
            "given_to": "NNRRC duty officer",
            "summary": "Exercise area closed until 18:00Z.",
        },
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console/hotline?done=recorded&ref=us:0#notices"
    line.deliver("us")
    ru = line.browser("ru", "officer")
    row = _row(ru.get("/console/hotline").text, "notices", "us:0")
    assert "Exercise area closed until 18:00Z." in row and "telephone" in row
    assert 'data-verdict="pending"' in row
    assert 'value="confirmed"' in row and 'value="disputed"' in row
    assert "Confirm" not in _row(us.get("/console/hotline").text, "notices", "us:0")
    response = ru.post(
        "/console/hotline/notices/reply",
        {
            "csrf": ru.csrf("/console/hotline"),
            "ref": "us:0",
            "verdict": "disputed",
            "text": "We were told 16:00Z.",
        },
    )
    assert response.headers["location"] == "/console/hotline?done=disputed&ref=us:0#notices"
    row = _row(ru.get("/console/hotline").text, "notices", "us:0")
    assert 'data-verdict="disputed"' in row and 'value="confirmed"' not in row
    line.deliver("ru")
    row = _row(us.get("/console/hotline").text, "notices", "us:0")
    assert 'data-party="ru" data-verdict="disputed"' in row
    assert "disputes it" in row and "We were told 16:00Z." in row


def test_a_notice_confirmed(line, clock):
    record_notice(
        line.node("us"),
        given_at=clock() - timedelta(minutes=5),
        means="radio",
        given_by="A",
        given_to="B",
        summary="S",
        to=["ru"],
    )
    line.deliver("us")
    ru = line.browser("ru", "second")
    ru.post(
        "/console/hotline/notices/reply",
        {"csrf": ru.csrf("/console/hotline"), "ref": "us:0", "verdict": "confirmed"},
    )
    line.deliver("ru")
    row = _row(line.browser("us", "viewer").get("/console/hotline").text, "notices", "us:0")
    assert 'data-verdict="confirmed"' in row and "confirms it" in row


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"given_at": "2026-03-01T12:30"}, "oob-given_at", "is in the future"),
        ({"given_at": ""}, "oob-given_at", "in UTC"),
        ({"means": "pigeon"}, "oob-means", "Choose how"),
        ({"given_by": ""}, "oob-given_by", "Required"),
        ({"to": "moon"}, "oob-to", "Not a party"),
    ],
)
def test_notice_errors_are_shown_beside_their_field(line, changes, field, words):
    us = line.browser("us", "officer")
    form = {
        "csrf": us.csrf("/console/hotline"),
        "to": "ru",
        "given_at": "2026-03-01T11:50",
        "means": "fax",
        "given_by": "A",
        "given_to": "B",
        "summary": "Kept when refused.",
        **changes,
    }
    response = us.post("/console/hotline/notices", form)
    assert response.status_code == 422
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', response.text)
    assert error, response.text[:3000]
    assert words in error.group(1)
    assert "Kept when refused." in response.text


# --- links, language -----------------------------------------------------------------------------


def test_links_show_tests_sent_answered_and_missed(line, clock):
    watch_line(line.node("us"))
    watch_line(line.node("ru"))
    line.deliver("us", "ru", "us")
    page = line.browser("us", "officer").get("/console/hotline").text
    links = _section(page, "links")
    ru = re.search(r'<tr data-peer="ru" data-state="(\w+)">(.*?)</tr>', links, re.S)
    assert ru.group(1) == "ok"
    assert ru.group(2).count('class="when"') == 4  # sent, answered, received, expected by
    nato = re.search(r'<tr data-peer="nato" data-state="(\w+)">', links)
    assert nato.group(1) == "ok"
    clock.advance(minutes=70)
    links = _section(line.browser("us", "second").get("/console/hotline").text, "links")
    assert '<tr data-peer="nato" data-state="missed">' in links
    assert ">missed</span>" in links


def test_the_russian_interface_keeps_both_texts(line):
    ref = _flash(line)
    ru = line.browser("ru", "officer")
    ru.post(
        "/console/language",
        {"csrf": ru.csrf("/console/hotline"), "lang": "ru", "next": "/console/hotline"},
    )
    page = ru.get("/console/hotline").text
    assert '<html lang="ru">' in page
    assert "Линия экстренной связи" in page and "Требуют подтверждения" in page
    row = _row(page, "owed", ref)
    assert "Laser radiation from your" in row and "Лазерное излучение с вашего" in row
    assert 'data-left="осталось {time}"' in row and "осталось 5:00" in row
    assert ">Подтвердить</button>" in row
    response = ru.post(
        "/console/hotline/send",
        [("csrf", ru.csrf("/console/hotline")), ("priority", "FLASH"), ("text", "x")],
    )
    assert "Выберите хотя бы одного получателя." in response.text


def test_a_flash_message_taken_ahead_of_the_log_has_its_page(line):
    # A routine message first, not delivered: the FLASH behind it goes ahead alone.
    send_line_message(line.node("us"), to=["ru"], text="Routine: channel list.", priority="ROUTINE")
    send_line_message(line.node("us"), to=["ru"], text="FLASH: aircraft closing.", priority="FLASH")
    line.network.senders["us"].run_lane()
    ru = line.browser("ru", "officer")
    page = ru.get("/console/messages/us/1")
    assert page.status_code == 200, page.text
    assert "FLASH: aircraft closing." in page.text and 'id="ahead"' in page.text
    assert 'id="verify"' not in page.text
    assert ru.get("/console/messages/us/0").status_code == 404  # not taken ahead: not held
    line.deliver("us")
    assert 'id="verify"' in ru.get("/console/messages/us/1").text
