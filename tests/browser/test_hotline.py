"""The emergency line in Chromium: a FLASH message from us to ru, live on both consoles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from detente.node.hotline import report_incident
from tests.browser.conftest import log_in, shot
from tests.browser.test_console import two_browsers

pytestmark = pytest.mark.slow

CONTRAST = (Path(__file__).parent / "contrast.js").read_text()
_LEFT = re.compile(r"^(\d+):(\d\d) left$")


def _watch(page):
    """Console errors (CSP violations among them), uncaught exceptions, failed requests.

    Chromium asks every site for /favicon.ico, which the node does not serve:
    that 404 is the browser's, not the page's.
    """
    problems: list[str] = []

    def console(message) -> None:
        url = message.location.get("url", "")
        if message.type == "error" and not url.endswith("/favicon.ico"):
            problems.append(f"{message.text} ({url})")

    page.on("console", console)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    return problems


def _seconds(text: str) -> int:
    found = _LEFT.match(text.strip())
    assert found, f"not a countdown: {text!r}"
    return int(found.group(1)) * 60 + int(found.group(2))


def test_a_flash_message_is_acknowledged_live_on_both_sides(demo, chromium):
    with two_browsers(chromium) as (ru, us):
        ru_problems, us_problems = _watch(ru), _watch(us)
        log_in(ru, demo, "ru", "officer")
        ru.goto(demo.url("ru", "/console/hotline"))
        expect(ru.locator("body")).to_have_attribute("data-live", "connected")

        log_in(us, demo, "us", "officer")
        us.goto(demo.url("us", "/console/hotline"))
        form = us.locator("#message-form")
        form.locator("input[name=to][value=nato]").uncheck()
        form.locator("input[name=to][value=ru]").check()
        us.select_option("#msg-priority", "FLASH")
        us.fill("#msg-text", "Aircraft closing on USS Porter, 55.1N 19.9E. Turn away.")
        us.click("#send-line")
        expect(us).to_have_url(re.compile(r"/console/hotline\?done=sent&ref=us:\d+#awaiting$"))
        ref = re.search(r"ref=(us:\d+)", us.url).group(1)
        expect(us.locator("#done-notice")).to_contain_text(f"Sent {ref} on the line.")
        awaiting = us.locator(f'#awaiting-table tr[data-ref="{ref}"]')
        expect(awaiting).to_be_visible()
        expect(us.locator("body")).to_have_attribute("data-live", "connected")
        shot(us, "hotline-us-sent")

        # ru's page, open all along, shows it without a reload, counting down.
        row = ru.locator(f'#owed-table tr[data-ref="{ref}"]')
        expect(row).to_be_visible(timeout=15_000)
        assert int(ru.locator("body").get_attribute("data-refreshed")) >= 1, (
            "the message came by live refresh, not a reload"
        )
        expect(row.locator(".prio-flash")).to_have_text("FLASH")
        expect(row).to_contain_text("Aircraft closing on USS Porter")
        expect(ru.locator("body")).to_have_class(re.compile(r"\bflash\b"))
        countdown = row.locator(".countdown")
        expect(countdown).to_have_text(_LEFT)
        deadline = countdown.get_attribute("data-deadline")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", deadline), deadline
        first = _seconds(countdown.text_content())
        assert 4 * 60 <= first <= 5 * 60, "FLASH: five minutes to acknowledge"
        ru.wait_for_timeout(2_100)
        assert _seconds(countdown.text_content()) < first, "the countdown ticks"
        shot(ru, "hotline-ru-flash")

        # Read before acknowledging: with the push, us's page may refresh at once.
        refreshed = int(us.locator("body").get_attribute("data-refreshed") or "0")
        row.locator("button.ack").click()
        expect(ru).to_have_url(re.compile(r"/console/hotline\?done=acknowledged&ref=us:\d+#owed$"))
        expect(ru.locator(f'#owed-table tr[data-ref="{ref}"]')).to_have_count(0)
        expect(ru.locator(f'#acknowledged-table tr[data-ref="{ref}"]')).to_contain_text("officer")

        # us's page, still open, learns of the acknowledgement by itself.
        done = us.locator(f'#acknowledged-table tr[data-ref="{ref}"][data-recipient="ru"]')
        expect(done).to_be_visible(timeout=15_000)
        expect(done).to_contain_text("officer")
        expect(done).to_contain_text("in time")
        expect(us.locator(f'#awaiting-table tr[data-ref="{ref}"]')).to_have_count(0)
        assert int(us.locator("body").get_attribute("data-refreshed")) > refreshed
        assert "Sent" in us.locator("#done-notice").text_content(), "no reload happened"
        shot(us, "hotline-us-acknowledged")
    assert ru_problems == [] and us_problems == []


def test_an_overdue_deadline_turns_red(demo, context):
    page = context.new_page()
    problems = _watch(page)
    log_in(page, demo, "nato", "viewer")
    page.goto(demo.url("nato", "/console/hotline"))
    # A countdown element as the page renders one, with a deadline just past.
    page.evaluate(
        """() => {
            const span = document.querySelector("#owed h2");
            const el = document.createElement("span");
            el.className = "countdown";
            el.id = "probe";
            el.dataset.deadline = new Date(Date.now() - 61000).toISOString();
            el.dataset.left = "{time} left";
            el.dataset.over = "overdue by {time}";
            span.appendChild(el);
        }"""
    )
    probe = page.locator("#probe")
    expect(probe).to_have_text(re.compile(r"^overdue by 1:0\d$"))
    expect(probe).to_have_class(re.compile(r"\boverdue\b"))
    colour = page.evaluate("getComputedStyle(document.getElementById('probe')).color")
    assert colour == "rgb(164, 22, 26)", colour
    assert problems == []


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1920, 1080)])
def test_the_line_pages_fit_and_meet_wcag_aa_contrast(demo, chromium, width, height):
    node = demo.nodes["nato"]
    report_incident(
        node,
        kind="special_caution_area",
        at=node.clock(),
        lat=54.5,
        lon=18.75,
        units=[{"party": "nato", "name": "FGS Sachsen", "kind": "ship"}],
        account="Hampered in the special caution area north of Hel.",
        to=["ru"],
    )
    context = chromium.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        problems = _watch(page)
        log_in(page, demo, "nato", "chief")
        page.goto(demo.url("nato", "/console/hotline?template=dma-caution-area"))
        link = page.locator("#incidents-table a").first
        target = link.get_attribute("href")
        for path in ("/console/hotline?template=dma-caution-area", target):
            page.goto(demo.url("nato", path))
            assert page.evaluate(CONTRAST) == [], path
            overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways at {width}×{height}"
            shot(page, f"{width}x{height}{path.replace('/', '_').replace('?', '_')}")
        assert problems == []
    finally:
        context.close()
