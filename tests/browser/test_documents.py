"""The documents page in Chromium: a document issued from the form, received live, checked, traced.

The United States' officer reaches the page by its access key and issues
the 2022 replies article to Russia and NATO with a file chosen in the
form; Russia's console, open meanwhile, shows its copy arrive without a
reload; its officer downloads the copy and its proof and checks them on
the page; the United States traces Russia's copy to Russia. The page fits
1280×800 and 1920×1080, meets WCAG AA contrast and breaks no CSP rule.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in, shot
from tests.browser.test_compliance import _access_key
from tests.browser.test_console import CONTRAST, _watch_csp

pytestmark = pytest.mark.slow

ARTICLE = Path(__file__).resolve().parents[3] / "shared" / "reference"
ARTICLE = ARTICLE / "2022-security-replies-article.txt"
TITLE = "US reply to the Russian proposals"


@pytest.fixture
def article() -> Path:
    if not ARTICLE.exists():
        pytest.skip("the reference article is not in ../shared/reference")
    return ARTICLE


def test_issue_receive_check_and_trace(demo, chromium, article, tmp_path):
    contexts = [chromium.new_context(viewport={"width": 1280, "height": 800}) for _ in range(2)]
    try:
        us, ru = (c.new_page() for c in contexts)
        problems = [_watch_csp(us), _watch_csp(ru)]
        log_in(ru, demo, "ru", "officer")
        ru.goto(demo.url("ru", "/console/documents"))
        expect(ru.locator("body")).to_have_attribute("data-live", "connected")

        log_in(us, demo, "us", "officer")
        expect(us.locator("h1")).to_have_text("Overview")
        _access_key(us, "t")
        expect(us).to_have_url(demo.url("us", "/console/documents"))
        us.set_input_files("#issue-file", str(article))
        us.fill("#issue-title", TITLE)
        us.fill("#issue-marking", "CONFIDENTIAL")
        us.check('#issue-form input[name="to"][value="ru"]')
        us.check('#issue-form input[name="to"][value="nato"]')
        us.click("#issue-document")
        expect(us.locator("#done-notice")).to_contain_text("signed into the log")
        expect(us.locator("#issued-table tbody tr")).to_have_count(2)

        row = ru.locator("#received-table tbody tr")  # arrives live, without a reload
        expect(row).to_have_count(1, timeout=15_000)
        expect(row).to_contain_text(TITLE)
        with ru.expect_download() as got:
            row.get_by_role("link", name="copy").click()
        copy = tmp_path / got.value.suggested_filename
        got.value.save_as(copy)
        # The proof is the cosignature Russia gave: ready once its receipt is signed.
        proof = tmp_path / (copy.name + ".proof.json")
        with ru.expect_download() as got:
            row.get_by_role("link", name="proof").click()
        got.value.save_as(proof)

        ru.set_input_files("#check-copy", str(copy))
        ru.set_input_files("#check-proof", str(proof))
        ru.click("#check-copy-button")
        result = ru.locator("#check-result")
        expect(result).to_have_attribute("data-ok", "1")
        expect(result).to_contain_text("us's copy for ru of “US reply to the Russian proposals”")
        shot(ru, "documents-checked")

        us.set_input_files("#trace-file", str(copy))
        us.click("#trace-copy")
        traced = us.locator("#trace-result")
        expect(traced).to_have_attribute("data-recipient", "ru")
        expect(traced).to_contain_text("the text is ru's copy")
        shot(us, "documents-traced")
        assert problems == [[], []]
    finally:
        for c in contexts:
            c.close()


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1920, 1080)])
def test_the_page_fits_and_meets_wcag_aa_contrast(demo, chromium, width, height):
    context = chromium.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        violations = _watch_csp(page)
        for party in ("us", "ru"):
            log_in(page, demo, party, "chief")
            page.goto(demo.url(party, "/console/documents"))
            assert page.evaluate(CONTRAST) == [], party
            overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{party}'s page scrolls sideways at {width}×{height}"
            shot(page, f"{width}x{height}_console_documents_{party}")
        log_in(page, demo, "us", "second")
        page.goto(demo.url("us", "/console/documents"))
        page.select_option("#lang-select", "ru")
        page.click("form[action='/console/language'] button")
        expect(page.locator("h1")).to_have_text("Документы")
        assert page.evaluate(CONTRAST) == [], "ru"
        overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the Russian page scrolls sideways at {width}×{height}"
        shot(page, f"{width}x{height}_console_documents_us_ru")
        page.select_option("#lang-select", "en")
        page.click("form[action='/console/language'] button")
        assert violations == []
    finally:
        context.close()
