"""The console in Chromium: the scenarios of issue 5 across the three demo parties' nodes."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect

from detente.node.alarms import raise_alarm
from detente.node.logins import MAX_FAILURES, set_password
from detente.node.operators import Role, add_operator
from tests.browser.conftest import PASSWORD, log_in, shot

pytestmark = pytest.mark.slow

PAGES = [
    "/console/",
    "/console/inbox",
    "/console/outbox",
    "/console/compose?type=message",
    "/console/releases",
    "/console/hotline",
    "/console/compliance",
    "/console/record",
    "/console/watch",
    "/console/map",
]

CONTRAST = (Path(__file__).parent / "contrast.js").read_text()


@contextmanager
def two_browsers(chromium):
    """Two pages in separate browser profiles: two officers at two desks."""
    contexts = [chromium.new_context(viewport={"width": 1280, "height": 800}) for _ in range(2)]
    try:
        yield [c.new_page() for c in contexts]
    finally:
        for c in contexts:
            c.close()


def _watch_csp(page):
    problems = []
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return problems


def test_log_in_and_out_with_the_keyboard_alone(demo, context):
    page = context.new_page()
    violations = _watch_csp(page)
    page.goto(demo.url("us", "/console/login"))
    expect(page.locator("#name")).to_be_focused()
    page.keyboard.type("officer")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(demo.url("us", "/console/"))
    expect(page.locator("h1")).to_have_text("Overview")
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused element shows where the focus is"
    shot(page, "login-overview")
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/console/login"))
    page.goto(demo.url("us", "/console/inbox"))
    expect(page).to_have_url(re.compile(r"/console/login\?next=/console/inbox"))
    assert violations == []


def test_a_wrong_password_then_lockout(demo, context):
    node = demo.nodes["nato"]
    add_operator(node, "unlucky", Role.operator)
    set_password(node, "unlucky", PASSWORD)
    page = context.new_page()
    log_in(page, demo, "nato", "unlucky", "not the password")
    expect(page.locator("#login-error")).to_contain_text("Wrong name or password.")
    shot(page, "wrong-password")
    for _ in range(MAX_FAILURES - 1):
        log_in(page, demo, "nato", "unlucky", "still not it")
    log_in(page, demo, "nato", "unlucky")
    expect(page.locator("#login-error")).to_contain_text("locked for 15 minutes")
    expect(page).to_have_url(re.compile(r"/console/login"))
    shot(page, "lockout")


def test_a_viewer_cannot_send(demo, context):
    page = context.new_page()
    log_in(page, demo, "us", "viewer")
    page.goto(demo.url("us", "/console/compose?type=message"))
    expect(page.locator("#send")).to_be_disabled()
    expect(page.locator("p.error")).to_contain_text("may read but not send")
    shot(page, "viewer-cannot-send")


def test_a_message_arrives_live_and_shows_receipted(demo, chromium):
    with two_browsers(chromium) as (reader, writer):
        log_in(reader, demo, "ru", "officer")
        reader.goto(demo.url("ru", "/console/inbox"))
        expect(reader.locator("body")).to_have_attribute("data-live", "connected")
        log_in(writer, demo, "us", "officer")
        writer.goto(demo.url("us", "/console/compose?type=message"))
        writer.fill("#body\\.text", "Proposal: resume the link test schedule of 1 December.")
        writer.uncheck("input[name=to][value=nato]")
        writer.check("input[name=to][value=ru]")
        writer.select_option("#priority", "IMMEDIATE")
        writer.click("#send")
        expect(writer).to_have_url(re.compile(r"/console/messages/us/\d+\?sent=1"))
        row = reader.locator("#inbox-table tbody tr", has_text="resume the link test")
        expect(row).to_be_visible(timeout=15_000)
        assert int(reader.locator("body").get_attribute("data-refreshed")) >= 1, (
            "the message came by live refresh, not a reload"
        )
        shot(reader, "ru-inbox-live")
        receipt = writer.locator("#receipts tr[data-peer=ru]")
        expect(receipt).to_have_attribute("data-state", "receipted", timeout=15_000)
        shot(writer, "us-message-receipted")
        href = receipt.locator("a").get_attribute("href")
        downloaded = writer.request.get(demo.url("us", href)).json()
        assert {"checkpoint", "receiver", "proof"} <= set(downloaded), downloaded.keys()
        writer.goto(demo.url("us", "/console/outbox"))
        expect(writer.locator("#outbox-table td.delivery[data-peer=ru]").first).to_have_attribute(
            "data-state", "receipted"
        )
        writer.click("#outbox-table tbody tr >> nth=0 >> a")
        writer.click("#verify")
        expect(writer.locator("#verify-result")).to_contain_text("Verified.")
        shot(writer, "us-verify")


def test_a_flash_message_sounds_the_alert(demo, chromium):
    with two_browsers(chromium) as (reader, writer):
        log_in(reader, demo, "ru", "second")
        reader.goto(demo.url("ru", "/console/inbox?priority=FLASH"))
        expect(reader.locator("body")).to_have_attribute("data-live", "connected")
        log_in(writer, demo, "us", "second")
        writer.goto(demo.url("us", "/console/compose?type=message"))
        writer.fill("#body\\.text", "Aircraft closing on USS Porter, 55.1N 19.9E.")
        writer.check("input[name=to][value=ru]")
        writer.select_option("#priority", "FLASH")
        writer.click("#send")
        row = reader.locator("#inbox-table tr.priority-flash", has_text="USS Porter")
        expect(row).to_be_visible(timeout=15_000)
        expect(reader.locator("body")).to_have_class(re.compile(r"\bflash\b"))
        assert int(reader.locator("body").get_attribute("data-alerted")) >= 1
        shot(reader, "ru-flash")


def test_an_alarm_sounds_and_stays_until_acknowledged(demo, context):
    page = context.new_page()
    log_in(page, demo, "ru", "chief")
    expect(page.locator("body")).to_have_attribute("data-live", "connected")
    raise_alarm(demo.nodes["ru"], kind="stale_log", party="nato", detail="browser test")
    expect(page.locator("#alarm-banner .banner")).to_be_visible(timeout=10_000)
    expect(page.locator("body")).to_have_class(re.compile(r"\bflash\b"))
    assert int(page.locator("body").get_attribute("data-alerted")) >= 1
    shot(page, "alarm")
    page.locator("#alarms tr", has_text="browser test").locator("button").click()
    expect(page.locator("#alarms tr", has_text="browser test")).to_have_count(0)


def test_two_person_release(demo, chromium):
    with two_browsers(chromium) as (proposer, approver):
        log_in(proposer, demo, "nato", "officer")
        proposer.goto(demo.url("nato", "/console/compose?type=suspension"))
        expect(proposer.locator("p.notice")).to_contain_text("two-person release")
        proposer.check("input[name='body.types'][value=message]")
        proposer.fill("#body\\.effective", "2030-01-01T00:00")
        proposer.fill("#body\\.reason", "Consultations requested.")
        proposer.click("#send")
        expect(proposer).to_have_url(re.compile(r"/console/releases#release-\d+"))
        card = proposer.locator("article.release").first
        expect(card).to_contain_text("A second operator must approve it.")
        expect(card.locator("button", has_text="Approve")).to_have_count(0)
        shot(proposer, "release-proposed")
        log_in(approver, demo, "nato", "second")
        approver.goto(demo.url("nato", "/console/releases"))
        approver.locator("article.release").first.locator("button.primary").click()
        expect(approver).to_have_url(re.compile(r"/console/messages/nato/\d+\?sent=1"))
        expect(approver.locator("dl.facts")).to_contain_text("suspension")
        shot(approver, "release-approved")
        proposer.goto(demo.url("nato", "/console/watch"))
        expect(proposer.locator("#watch-log")).to_contain_text("released")


def test_the_russian_interface(demo, context):
    page = context.new_page()
    log_in(page, demo, "ru", "second")
    page.select_option("#lang-select", "ru")
    page.click("form[action='/console/language'] button")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("nav.main-nav")).to_contain_text("Входящие")
    shot(page, "russian")
    page.select_option("#lang-select", "en")
    page.click("form[action='/console/language'] button")
    expect(page.locator("nav.main-nav")).to_contain_text("Inbox")


def test_the_map_renders_the_sites_and_zooms_with_the_keyboard(demo, context):
    page = context.new_page()
    log_in(page, demo, "us", "viewer")
    page.goto(demo.url("us", "/console/map"))
    for site in ("deveselu", "redzikowo"):
        expect(page.locator(f"svg#map g.site[data-site={site}]")).to_be_visible()
    shot(page, "map")
    before = page.get_attribute("svg#map", "viewBox")
    page.focus("svg#map")
    page.keyboard.press("+")
    after = page.get_attribute("svg#map", "viewBox")
    assert before != after
    assert float(after.split()[2]) < float(before.split()[2]), "zoomed in"
    page.keyboard.press("0")
    assert page.get_attribute("svg#map", "viewBox") == before


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1920, 1080)])
def test_every_page_fits_and_meets_wcag_aa_contrast(demo, chromium, width, height):
    context = chromium.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        violations = _watch_csp(page)
        log_in(page, demo, "us", "chief")
        for path in PAGES:
            page.goto(demo.url("us", path))
            assert page.evaluate(CONTRAST) == [], path
            overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways at {width}×{height}"
            shot(page, f"{width}x{height}{path.replace('/', '_')}")
        assert violations == []
    finally:
        context.close()
