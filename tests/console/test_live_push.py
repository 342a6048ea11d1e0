"""Live updates pushed by the change bell, with the poll kept as the fallback.

Every test that checks the push sets the poll to an hour: the change can
then only reach the open stream through the bell, before the stream ends
by itself (a broken bell fails the test at the stream's end; it never
hangs). How fast it arrives is measured in benchmarks/bench_hotline.py,
not asserted here.
"""

from __future__ import annotations

import json
import queue
import threading

import httpx
import pytest

from detente.api import create_app
from detente.console import live
from detente.node.logins import set_password
from detente.node.writer import Draft, LogWriter
from tests.console.conftest import PASSWORD, Browser

AN_HOUR = 3600.0


class Stream:
    """``GET /console/events`` read in a thread, like a browser's EventSource.

    It stops after ``count`` events, or when the server ends the stream;
    :meth:`next` then answers None.
    """

    def __init__(self, browser: Browser, count: int) -> None:
        self._headers = browser._headers(None)
        self._client = httpx.Client(base_url=str(browser.client.base_url), timeout=60)
        self._count = count
        self._events: queue.Queue[dict | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            with self._client.stream("GET", "/console/events", headers=self._headers) as response:
                assert response.status_code == 200
                event: dict = {}
                for line in response.iter_lines():
                    if line.startswith("id: "):
                        event["id"] = line.removeprefix("id: ")
                    elif line.startswith("data: "):
                        event.update(json.loads(line.removeprefix("data: ")))
                    elif line == "" and event:
                        self._events.put(event)
                        event = {}
                        self._count -= 1
                        if self._count == 0:
                            return
        finally:
            self._events.put(None)
            self._client.close()

    def next(self) -> dict | None:
        """The next event, or None once the stream has ended."""
        return self._events.get()

    def close(self) -> None:
        self._thread.join()


@pytest.fixture
def push_only(monkeypatch):
    """A poll of an hour: within a stream, only the bell can deliver a change."""
    monkeypatch.setattr(live, "POLL_SECONDS", AN_HOUR)
    monkeypatch.setattr(live, "STREAM_SECONDS", 15.0)


def _note(browser: Browser, text: str) -> None:
    token = browser.csrf("/console/watch")
    response = browser.post("/console/watch", {"csrf": token, "kind": "note", "text": text})
    assert response.status_code == 303, response.text


def test_a_console_form_wakes_an_open_stream(console, push_only):
    officer = console.browser("officer")  # logged in first: a log-in is a change too
    stream = Stream(console.browser("viewer"), count=2)
    first = stream.next()
    assert first is not None
    _note(officer, "Quiet night.")
    second = stream.next()
    assert second is not None, "the stream ended without the change: the bell did not ring"
    assert second["id"] != first["id"] and second["flash"] is False
    stream.close()


def test_many_open_streams_each_get_the_change(console, push_only):
    viewer, officer = console.browser("viewer"), console.browser("officer")
    streams = [Stream(viewer, count=2) for _ in range(8)]
    firsts = [stream.next() for stream in streams]
    assert None not in firsts
    _note(officer, "Handover at 0800.")
    seconds = [stream.next() for stream in streams]
    assert None not in seconds
    assert len({event["id"] for event in seconds}) == 1
    for stream in streams:
        stream.close()


def test_requests_that_may_change_state_ring_and_reads_do_not(console):
    node = console.served.node
    browser = console.browser("officer")
    token = browser.csrf("/console/watch")
    seen = node.bell.rings
    browser.get("/console/inbox")
    browser.get("/v1/health")
    assert node.bell.rings == seen
    refused = browser.post("/console/watch", {"csrf": "stale", "kind": "note", "text": "x"})
    assert refused.status_code == 403
    assert node.bell.rings == seen + 1, "rung after any POST: a spurious ring costs one look"
    browser.post("/console/watch", {"csrf": token, "kind": "note", "text": "x"})
    assert node.bell.rings == seen + 2


def test_a_change_that_rings_nothing_arrives_by_the_poll(console, monkeypatch):
    """Another process (the CLI) writing the same database does not ring this one's bell."""
    monkeypatch.setattr(live, "POLL_SECONDS", 0.05)
    node = console.served.node
    stream = Stream(console.browser("viewer"), count=2)
    assert stream.next() is not None
    seen = node.bell.rings
    LogWriter(node).append([Draft(type="message", body={"text": "from the CLI"}, to=("ru",))])
    assert stream.next() is not None
    assert node.bell.rings == seen
    stream.close()


def test_the_stream_still_ends_by_itself(console, monkeypatch):
    monkeypatch.setattr(live, "POLL_SECONDS", AN_HOUR)
    monkeypatch.setattr(live, "STREAM_SECONDS", 0.2)
    stream = Stream(console.browser("viewer"), count=10)
    assert stream.next() is not None
    assert stream.next() is None
    stream.close()


@pytest.mark.parametrize(
    ("value", "push"), [(None, True), ("1", True), ("0", False), ("off", False)]
)
def test_the_push_can_be_turned_off_at_start(node, monkeypatch, value, push):
    if value is None:
        monkeypatch.delenv(live.PUSH_ENV, raising=False)
    else:
        monkeypatch.setenv(live.PUSH_ENV, value)
    assert create_app(node, start_sender=False).state.console_push is push


def test_a_flash_on_the_priority_lane_reaches_the_recipients_console(network, push_only):
    nodes, clients, tokens, senders, _ = network
    set_password(nodes["ru"], "officer", PASSWORD)
    browser = Browser(network.served["ru"].url)
    try:
        _flash_reaches(browser, nodes, clients, tokens, senders)
    finally:
        browser.close()


def _flash_reaches(browser, nodes, clients, tokens, senders):
    assert browser.log_in("officer").status_code == 303
    stream = Stream(browser, count=2)
    assert stream.next() is not None
    response = clients["us"].post(
        "/v1/messages",
        json={"type": "message", "body": {"text": "unsafe close approach"}, "to": ["ru"]}
        | {"priority": "FLASH"},
        headers={"Authorization": f"Bearer {tokens['us']}"},
    )
    assert response.status_code == 201, response.text
    seen = nodes["us"].bell.rings
    # us's lane delivers it (POST /v1/peer/priority): ru's bell rings after it.
    assert senders["us"].run_lane() == 1
    assert nodes["us"].bell.rings > seen, "the receipt rings the sender's own bell"
    event = stream.next()
    assert event is not None, "the stream ended without the FLASH: the bell did not ring"
    assert event["flash"] is True
    stream.close()
