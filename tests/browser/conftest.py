"""Browser tests: the consoles of the three demo parties in Debian's Chromium, driven by Playwright.

The United States, NATO and Russia each run a node (SQLite, the real clock,
their senders delivering every 0.1 s) served on loopback in the test
process, with four operators each. Chromium is ``/usr/bin/chromium``
(``make test`` installs it where missing); without it these tests are
skipped, except with ``CI=true``, where they fail. Every scenario saves a
screenshot under ``tests/browser/screenshots/`` (ignored by git).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from detente.node import init_node
from detente.node.directory import Node, Peer
from detente.node.logins import set_password
from detente.node.operators import Role, add_operator
from tests.fakes.servers import ServedNode, free_port

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
PARTIES = ("us", "nato", "ru")
PASSWORD = "a watch officer's passphrase"
OPERATORS = {
    "viewer": Role.viewer,
    "officer": Role.operator,
    "second": Role.operator,
    "chief": Role.admin,
}
# Chromium as the machine's probe runs it: no sandbox as root, no calls home
# (this machine's network refuses them, many at a time).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and Chromium is missing at {CHROMIUM} (apt-get install chromium)")
    pytest.skip(f"Chromium is not installed at {CHROMIUM}")


# Module scope, not session: Playwright's sync API keeps an event loop
# running in the main thread while it is open, and asyncio.run() in the
# tests that follow would fail.
@pytest.fixture(scope="module")
def chromium():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Demo:
    """The three parties' nodes and consoles."""

    def __init__(self, nodes: dict[str, Node], served: dict[str, ServedNode]) -> None:
        self.nodes = nodes
        self.served = served

    def url(self, party: str, path: str = "/console/") -> str:
        return self.served[party].url + path


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[Demo]:
    _require_chromium()
    root = tmp_path_factory.mktemp("demo")
    nodes = {
        party: init_node(root / party, party=party, agreement_ref="security-replies-2022")
        for party in PARTIES
    }
    ports = {party: free_port() for party in PARTIES}
    for party, node in nodes.items():
        peers = tuple(
            Peer(party=other, url=f"http://127.0.0.1:{ports[other]}", key=nodes[other].verifier)
            for other in PARTIES
            if other != party
        )
        node.save_config(replace(node.config, peers=peers))
        for name, role in OPERATORS.items():
            add_operator(node, name, role)
            set_password(node, name, PASSWORD)
    served = {
        party: ServedNode(
            node, ports[party], start_sender=True, sender_interval=0.1, gossip_interval=1.0
        ).start()
        for party, node in nodes.items()
    }
    try:
        yield Demo(nodes, served)
    finally:
        for server in served.values():
            server.stop()
        for node in nodes.values():
            node.close()


@pytest.fixture
def context(chromium):
    """A fresh browser profile at 1280×800 (cookies, storage), closed after the test."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()


def shot(page, name: str) -> None:
    """Save the page as tests/browser/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{re.sub(r'[^a-z0-9_-]', '_', name)}.png"))


def log_in(page, demo: Demo, party: str, name: str, password: str = PASSWORD) -> None:
    page.goto(demo.url(party, "/console/login"))
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
