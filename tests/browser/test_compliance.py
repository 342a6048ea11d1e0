"""The compliance page in Chromium: a New START declaration and its dispute, by the keyboard."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import expect

from detente.node import init_node
from detente.node.directory import Peer
from detente.node.logins import set_password
from detente.node.measures import obligation_report
from detente.node.operators import Role, add_operator
from detente.node.writer import Draft, LogWriter
from tests.browser.conftest import PASSWORD, Demo, _require_chromium, log_in, shot
from tests.browser.test_hotline import _watch
from tests.fakes.servers import ServedNode, free_port
from tests.integration.test_declarations_exchange import US_COUNTS

pytestmark = pytest.mark.slow

CONTRAST = (Path(__file__).parent / "contrast.js").read_text()
PARTIES = ("us", "ru")


@pytest.fixture(scope="module")
def new_start(tmp_path_factory) -> Iterator[Demo]:
    """us and ru under New START, served with their senders, us's declaration disputed by ru."""
    _require_chromium()
    root = tmp_path_factory.mktemp("new-start")
    nodes = {
        party: init_node(root / party, party=party, agreement_ref="new-start") for party in PARTIES
    }
    ports = {party: free_port() for party in PARTIES}
    for party, node in nodes.items():
        peers = tuple(
            Peer(party=other, url=f"http://127.0.0.1:{ports[other]}", key=nodes[other].verifier)
            for other in PARTIES
            if other != party
        )
        node.save_config(replace(node.config, peers=peers))
        add_operator(node, "viewer", Role.viewer)
        set_password(node, "viewer", PASSWORD)
    served = {
        party: ServedNode(node, ports[party], start_sender=True, sender_interval=0.1).start()
        for party, node in nodes.items()
    }
    try:
        declared = LogWriter(nodes["us"]).append(
            [
                Draft(
                    type="aggregate_data",
                    body={"as_of": "2021-03-01", "counts": US_COUNTS},
                    to=("ru",),
                )
            ]
        )
        ref = declared.envelopes[0].position
        _wait(lambda: _limits(nodes["ru"]))
        LogWriter(nodes["ru"]).append(
            [
                Draft(
                    type="declaration_dispute",
                    body={
                        "text": "Converted launchers still count",
                        "counts": {"nondeployed_slbm_launchers": 116},
                    },
                    to=("us",),
                    refs=(ref,),
                )
            ]
        )
        _wait(lambda: any(o.disputed for o in _limits(nodes["us"])))
        yield Demo(nodes, served)
    finally:
        for server in served.values():
            server.stop()
        for node in nodes.values():
            node.close()


def _limits(node):
    return [o for o in obligation_report(node).obligations if o.rule == "limit"]


def _wait(done, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "the declaration and its dispute never arrived"
        time.sleep(0.1)


def _access_key(page, key: str) -> None:
    """Press Alt + ``key`` as Chromium on Linux receives it from the keyboard.

    Chromium acts on an access key at the ``char`` event of the chord;
    Playwright's ``keyboard.press("Alt+l")`` sends none while Alt is held,
    so the events go through the DevTools protocol as a keyboard gives them.
    """
    cdp = page.context.new_cdp_session(page)
    try:
        code = {"key": key, "code": f"Key{key.upper()}", "modifiers": 1}  # 1: Alt
        vk = {"windowsVirtualKeyCode": ord(key.upper())}
        cdp.send("Input.dispatchKeyEvent", {"type": "rawKeyDown", **code, **vk})
        cdp.send(
            "Input.dispatchKeyEvent", {"type": "char", "text": key, "unmodifiedText": key, **code}
        )
        cdp.send("Input.dispatchKeyEvent", {"type": "keyUp", **code, **vk})
    finally:
        cdp.detach()


def test_the_compliance_page_is_reached_by_its_access_key(new_start, context):
    page = context.new_page()
    problems = _watch(page)
    log_in(page, new_start, "us", "viewer")
    expect(page.locator("h1")).to_have_text("Overview")
    _access_key(page, "l")
    expect(page).to_have_url(new_start.url("us", "/console/compliance"))
    expect(page.locator("h1")).to_have_text("Compliance")
    row = page.locator("#limit-us-launchers tbody tr").first
    expect(row.locator("td.declared")).to_have_text(re.compile(r"^\d+$"))
    expect(row.locator('.position[data-by="ru"] .disputed-value')).to_have_text(re.compile(r"\d"))
    expect(page.locator("time.when .local").first).to_be_attached()
    expect(page.locator("body")).to_have_attribute("data-live", "connected")
    page.select_option("#f-state", "due")
    page.click("#obligations-filters button")
    expect(page).to_have_url(re.compile(r"/console/compliance\?state=due&party=#obligations$"))
    assert page.evaluate(CONTRAST) == []
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "the page scrolls sideways at 1280×800"
    shot(page, "compliance")
    assert problems == []
