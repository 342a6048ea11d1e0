"""An Aegis Ashore visit in Chromium: ru requests it, both sides draw the sample, live."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from detente.node.inspections import inspection_entries
from detente.node.visits import commit_inventory
from detente.record.inventory import ItemRecord
from tests.browser.conftest import log_in, shot
from tests.browser.test_console import two_browsers
from tests.browser.test_hotline import _watch

pytestmark = pytest.mark.slow


def _held(node, ref: str) -> bool:
    with node.database.engine.connect() as conn:
        return any(e.ref == ref for e in inspection_entries(conn, node))


def _wait_until_held(node, ref: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not _held(node, ref):
        assert time.monotonic() < deadline, f"{ref} never reached {node.party}"
        time.sleep(0.1)


def test_ru_requests_a_visit_and_both_sides_draw_the_sample_live(demo, chromium):
    cells = [
        ItemRecord(f"dev-{i:02d}", f"cell {i:02d}", "loaded", "SM-3 Block IIA") for i in range(24)
    ]
    commitment = commit_inventory(demo.nodes["us"], "deveselu", cells).envelopes[0].position
    _wait_until_held(demo.nodes["ru"], commitment)

    with two_browsers(chromium) as (ru, us):
        ru_problems, us_problems = _watch(ru), _watch(us)
        log_in(us, demo, "us", "officer")
        us.goto(demo.url("us", "/console/inspections"))
        expect(us.locator("body")).to_have_attribute("data-live", "connected")

        log_in(ru, demo, "ru", "officer")
        ru.goto(demo.url("ru", "/console/inspections"))
        form = ru.locator("#request-form")
        form.locator("#request-inspection_type").select_option("aegis-ashore-visit")
        form.locator("#request-site").fill("deveselu")
        form.locator("#request-team_size").fill("6")
        ru.click("#send-request")
        expect(ru).to_have_url(re.compile(r"/console/inspections/ru/\d+\?done=requested$"))
        ref = "ru:" + re.search(r"/ru/(\d+)\?", ru.url).group(1)
        expect(ru.locator("#visit-state")).to_contain_text("sampling")
        expect(ru.locator("#commit-form")).to_be_visible()
        shot(ru, "inspection-ru-requested")

        # us's list, open all along, shows the request without a reload.
        row = us.locator(f'#visits-table tr[data-ref="{ref}"]')
        expect(row).to_be_visible(timeout=15_000)
        assert int(us.locator("body").get_attribute("data-refreshed")) >= 1
        row.locator("a").first.click()
        expect(us.locator("#visit-facts")).to_contain_text("Deveselu")
        us.click("#commit-button")
        expect(us).to_have_url(re.compile(r"\?done=commit#visit-state$"))

        # ru's page learns of us's commitment live; ru commits.
        expect(ru.locator('#sides-table tr[data-party="us"] .committed')).to_contain_text(
            "committed", timeout=15_000
        )
        ru.click("#commit-button")
        expect(ru).to_have_url(re.compile(r"\?done=commit#visit-state$"))

        # The host reveals first: its form appears once ru's commitment arrives.
        us.locator("#reveal-button").click(timeout=15_000)
        expect(us).to_have_url(re.compile(r"\?done=reveal#visit-state$"))
        expect(us.locator("#visit-sample")).to_have_text("—")
        refreshed = int(us.locator("body").get_attribute("data-refreshed") or "0")

        ru.locator("#reveal-button").click(timeout=15_000)
        expect(ru).to_have_url(re.compile(r"\?done=reveal#visit-state$"))
        sample = ru.locator("#visit-sample").get_attribute("data-sample")
        assert re.fullmatch(r"\d+(,\d+)*", sample), sample

        # us's page, still open, shows the same sample by itself.
        expect(us.locator("#visit-sample")).to_have_attribute("data-sample", sample, timeout=15_000)
        assert int(us.locator("body").get_attribute("data-refreshed")) > refreshed
        expect(us.locator("#done-notice")).to_be_visible()  # no reload happened
        seed = ru.locator("#visit-seed code").text_content()
        expect(us.locator("#visit-seed code")).to_have_text(seed)
        expect(us.locator("#open-form")).to_be_visible()
        shot(us, "inspection-us-sampled")
    assert ru_problems == [] and us_problems == []
