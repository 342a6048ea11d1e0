"""A node's console over real HTTP, with operators of each role and a cookie-carrying client.

``console`` serves the United States' node alone; ``line`` serves the three
parties' nodes of :func:`tests.fakes.network.make_network` (one fake clock,
senders run by hand), for pages that show what a peer sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest
from argon2 import PasswordHasher

from detente.node import logins
from detente.node.logins import set_password
from detente.node.operators import Role, add_operator
from tests.fakes.network import make_network
from tests.fakes.servers import ServedNode, free_port

PASSWORD = "a watch officer's passphrase"
_COOKIE = re.compile(r"^([^=;]+)=([^;]*)")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    """Argon2 at its cheapest in these tests (tests/node/test_logins.py checks the cost)."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(logins, "_HASHER", cheap)
    monkeypatch.setattr(logins, "_DUMMY_HASH", cheap.hash("a password nobody has"))


class Browser:
    """An httpx client that keeps cookies the way a browser does on loopback.

    httpx (http.cookiejar) never sends a Secure cookie over plain http;
    Chromium does on localhost and 127.0.0.1, so this client keeps them itself.
    """

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=30, follow_redirects=False)
        self.cookies: dict[str, str] = {}

    def _keep(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            name, value = _COOKIE.match(header).groups()
            if "Max-Age=0" in header or "expires=Thu, 01 Jan 1970" in header or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self._keep(self.client.get(path, headers=self._headers(headers)))

    def post(self, path: str, data: dict | list, headers=None) -> httpx.Response:
        """POST a form; ``data`` as pairs when a field repeats (checkboxes)."""
        pairs = list(data.items()) if isinstance(data, dict) else data
        headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self._keep(
            self.client.post(path, content=urlencode(pairs), headers=self._headers(headers))
        )

    def csrf(self, path: str = "/console/") -> str:
        found = _CSRF.search(self.get(path).text)
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def log_in(self, name: str, password: str = PASSWORD) -> httpx.Response:
        token = _CSRF.search(self.get("/console/login").text).group(1)
        return self.post(
            "/console/login", {"csrf": token, "name": name, "password": password, "next": ""}
        )

    def close(self) -> None:
        self.client.close()


@dataclass
class Console:
    served: ServedNode

    def browser(self, name: str | None = None) -> Browser:
        browser = Browser(self.served.url)
        self._open.append(browser)
        if name is not None:
            response = browser.log_in(name)
            assert response.status_code == 303, response.text
        return browser

    def __post_init__(self) -> None:
        self._open: list[Browser] = []

    def close(self) -> None:
        for browser in self._open:
            browser.close()


@pytest.fixture
def console(node) -> Iterator[Console]:
    """The US node served, with operators viewer, officer and second (operators), chief (admin)."""
    for name, role in [
        ("viewer", Role.viewer),
        ("officer", Role.operator),
        ("second", Role.operator),
        ("chief", Role.admin),
    ]:
        add_operator(node, name, role)
        set_password(node, name, PASSWORD)
    served = ServedNode(node, free_port(), start_sender=False).start()
    console = Console(served)
    try:
        yield console
    finally:
        console.close()
        served.stop()


@dataclass
class Line:
    """The consoles of us, nato and ru, whose senders the test runs by hand."""

    network: object

    def __post_init__(self) -> None:
        self._open: list[Browser] = []

    def node(self, party: str):
        return self.network.nodes[party]

    def browser(self, party: str, name: str) -> Browser:
        browser = Browser(self.network.served[party].url)
        self._open.append(browser)
        response = browser.log_in(name)
        assert response.status_code == 303, response.text
        return browser

    def deliver(self, *parties: str) -> None:
        """Run each party's sender once: its log to the peers, their receipts back."""
        for party in parties:
            self.network.senders[party].run_once()

    def close(self) -> None:
        for browser in self._open:
            browser.close()


@pytest.fixture
def line(tmp_path, clock, database_url) -> Iterator[Line]:
    """us, nato and ru served with one fake clock; operators viewer, officer, second on each."""
    network_fixture = make_network(tmp_path, clock, database_url)
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


@pytest.fixture
def network(tmp_path, clock, database_url):
    """Three party nodes served on loopback, with senders run by hand (tests/fakes/network.py)."""
    yield from make_network(tmp_path, clock, database_url)
