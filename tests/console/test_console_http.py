"""The console over real HTTP: log-in, CSRF, headers, every page, compose, roles; both databases."""

from __future__ import annotations

import json
import re

import pytest

from detente.node.alarms import list_alarms, raise_alarm
from detente.node.exercise import ExerciseClock
from detente.node.exercise import advance as advance_clock
from detente.node.exercise import start as start_clock
from detente.node.logins import MAX_FAILURES
from detente.node.watchlog import watch_entries
from detente.node.writer import Draft, LogWriter
from detente.store.logs import LogStore
from tests.console.conftest import Browser

PAGES = [
    "/console/",
    "/console/inbox",
    "/console/outbox",
    "/console/compose",
    "/console/compose?type=message",
    "/console/releases",
    "/console/record",
    "/console/record?verify=1",
    "/console/watch",
    "/console/map",
    "/console/messages/us/0",
    "/console/messages/us/0?verify=1",
]


def _sent(node, text="hello", *, exercise=False):
    return LogWriter(node).append(
        [Draft(type="message", body={"text": text}, to=("ru",), exercise=exercise)]
    )


def test_pages_need_a_session(console):
    browser = console.browser()
    response = browser.get("/console/inbox?type=message")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console/inbox%3Ftype%3Dmessage"
    assert browser.get("/console/events").status_code == 401


def test_every_console_answer_carries_the_security_headers(console):
    response = console.browser().get("/console/login")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "<script>" not in response.text and " style=" not in response.text


def test_logging_in_sets_a_strict_cookie_and_goes_where_asked(console):
    browser = console.browser()
    token = browser.csrf("/console/login")
    response = browser.post(
        "/console/login",
        {
            "csrf": token,
            "name": "officer",
            "password": "a watch officer's passphrase",
            "next": "/console/outbox",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/outbox"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("detente_session_us=")
    )
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert browser.get("/console/outbox").status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/v1/peers"])
def test_next_never_leaves_the_console(console, target):
    browser = console.browser()
    token = browser.csrf("/console/login")
    response = browser.post(
        "/console/login",
        {
            "csrf": token,
            "name": "officer",
            "password": "a watch officer's passphrase",
            "next": target,
        },
    )
    assert response.headers["location"] == "/console/"


def test_a_wrong_password_is_refused_without_saying_why(console):
    response = console.browser().log_in("officer", "not it")
    assert response.status_code == 401
    assert "Wrong name or password." in response.text
    unknown = console.browser().log_in("nobody", "not it")
    assert unknown.status_code == 401
    assert "Wrong name or password." in unknown.text


def test_lockout_after_repeated_failures(console):
    browser = console.browser()
    for _ in range(MAX_FAILURES):
        assert browser.log_in("officer", "guess").status_code == 401
    assert browser.log_in("officer").status_code == 401
    assert any(e.kind == "lockout" for e in watch_entries(console.served.node))


def test_the_log_in_form_needs_its_csrf_token(console):
    browser = console.browser()
    browser.get("/console/login")
    response = browser.post(
        "/console/login", {"name": "officer", "password": "a watch officer's passphrase"}
    )
    assert response.status_code == 403
    assert "security token" in response.text


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_for_a_viewer(console, path):
    _sent(console.served.node)
    response = console.browser("viewer").get(path)
    assert response.status_code == 200, response.text
    assert "<main" in response.text


def test_verify_proves_a_message(console):
    _sent(console.served.node)
    page = console.browser("viewer").get("/console/messages/us/0?verify=1").text
    assert 'id="verify-result"' in page and "Verified." in page


def test_record_verifies_everything(console):
    _sent(console.served.node)
    page = console.browser("viewer").get("/console/record?verify=1").text
    assert "Everything holds." in page


def test_compose_sends_a_message(console):
    browser = console.browser("officer")
    token = browser.csrf("/console/compose?type=message")
    response = browser.post(
        "/console/compose",
        [
            ("csrf", token),
            ("type", "message"),
            ("body.text", "Link test."),
            ("to", "ru"),
            ("to", "nato"),
            ("priority", "IMMEDIATE"),
            ("exercise", "on"),
        ],
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console/messages/us/0?sent=1"
    page = browser.get("/console/outbox").text
    assert "Link test." not in page  # the outbox lists, the message page shows the body
    detail = browser.get("/console/messages/us/0").text
    assert "Link test." in detail and "EXERCISE" in detail and "IMMEDIATE" in detail


def test_compose_shows_errors_next_to_their_field(console):
    browser = console.browser("officer")
    token = browser.csrf("/console/compose?type=message")
    response = browser.post(
        "/console/compose",
        [("csrf", token), ("type", "message"), ("body.text", ""), ("to", "ru")],
    )
    assert response.status_code == 422
    assert 'id="body.text-error"' in response.text
    assert "required property" in response.text or "non-empty" in response.text


def test_a_viewer_cannot_send(console):
    browser = console.browser("viewer")
    token = browser.csrf("/console/compose?type=message")
    page = browser.get("/console/compose?type=message").text
    assert 'id="send" disabled' in page
    response = browser.post(
        "/console/compose", {"csrf": token, "type": "message", "body.text": "x", "to": "ru"}
    )
    assert response.status_code == 403
    assert "may not send" in response.text


def test_forms_without_the_session_token_are_refused(console):
    browser = console.browser("officer")
    response = browser.post(
        "/console/compose", {"csrf": "forged", "type": "message", "body.text": "x"}
    )
    assert response.status_code == 403
    assert console.served.node is not None
    assert "may not send" not in response.text


def test_alarms_stay_until_an_admin_acknowledges_them(console):
    node = console.served.node
    raise_alarm(node, kind="stale_log", party="ru", detail="no word from ru", evidence={"x": 1})
    (alarm,) = list_alarms(node)
    officer = console.browser("officer")
    assert "1 alarm not acknowledged" in officer.get("/console/inbox").text
    token = officer.csrf()
    refused = officer.post(f"/console/alarms/{alarm.id}/acknowledge", {"csrf": token})
    assert refused.status_code == 403
    evidence = officer.get(f"/console/evidence/{alarm.id}")
    assert json.loads(evidence.text) == {"x": 1}
    chief = console.browser("chief")
    done = chief.post(f"/console/alarms/{alarm.id}/acknowledge", {"csrf": chief.csrf()})
    assert done.status_code == 303
    assert "alarm not acknowledged" not in chief.get("/console/inbox").text
    assert any(e.kind == "acknowledged" and e.operator == "chief" for e in watch_entries(node))


def test_the_russian_interface(console):
    browser = console.browser("officer")
    token = browser.csrf()
    browser.post("/console/language", {"csrf": token, "lang": "ru", "next": "/console/inbox"})
    page = browser.get("/console/inbox").text
    assert '<html lang="ru">' in page
    assert "Входящие" in page
    again = console.browser("officer").get("/console/").text
    assert '<html lang="ru">' in again, "the choice is kept for the operator"


def test_the_log_in_page_follows_the_browser_language(console):
    page = (
        console.browser().get("/console/login", headers={"Accept-Language": "ru-RU,ru;q=0.9"}).text
    )
    assert '<html lang="ru">' in page


def test_watch_notes_and_logging_out(console):
    browser = console.browser("officer")
    token = browser.csrf("/console/watch")
    browser.post("/console/watch", {"csrf": token, "kind": "on_watch", "text": ""})
    browser.post("/console/watch", {"csrf": token, "kind": "note", "text": "Quiet <b>night</b>."})
    page = browser.get("/console/watch").text
    assert 'id="on-watch">officer<' in page
    assert "Quiet &lt;b&gt;night&lt;/b&gt;." in page
    browser.post("/console/logout", {"csrf": token})
    assert browser.get("/console/watch").status_code == 303


def test_the_event_stream_reports_changes(console):
    browser = console.browser("viewer")
    with browser.client.stream(
        "GET", "/console/events", headers=browser._headers(None), timeout=10
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = []
        for line in response.iter_lines():
            lines.append(line)
            if line.startswith("data:"):
                break
    data = json.loads(lines[-1].removeprefix("data: "))
    assert data["alarms"] == 0 and data["flash"] is False
    assert any(line.startswith("id: ") for line in lines)


def test_static_assets_are_served(console):
    browser = Browser(console.served.url)
    try:
        for name in ("console.css", "console.js", "map.js", "map.css"):
            response = browser.get(f"/console/static/{name}")
            assert response.status_code == 200, name
    finally:
        browser.close()


def _propose_suspension(browser):
    token = browser.csrf("/console/compose?type=suspension")
    return browser.post(
        "/console/compose",
        [
            ("csrf", token),
            ("type", "suspension"),
            ("body.types", "message"),
            ("body.effective", "2030-01-01T00:00"),
            ("body.reason", "Consultations requested under the agreement."),
        ],
    )


def test_two_person_release_from_the_console(console):
    node = console.served.node
    officer = console.browser("officer")
    page = officer.get("/console/compose?type=suspension").text
    assert "needs two-person release" in page and "Propose for release" in page
    proposed = _propose_suspension(officer)
    assert proposed.status_code == 303, proposed.text
    assert proposed.headers["location"] == "/console/releases#release-1"
    own = officer.get("/console/releases").text
    assert 'id="release-1"' in own and 'id="approve-1"' not in own
    refused = officer.post("/console/releases/1/approve", {"csrf": officer.csrf()})
    assert refused.status_code == 403 and "second operator must approve" in refused.text
    second = console.browser("second")
    assert 'id="approve-1"' in second.get("/console/releases").text
    approved = second.post("/console/releases/1/approve", {"csrf": second.csrf()})
    assert approved.status_code == 303
    assert approved.headers["location"] == "/console/messages/us/0?sent=1"
    detail = second.get("/console/messages/us/0").text
    assert "suspension" in detail and "Consultations requested" in detail
    kinds = [(e.kind, e.operator) for e in watch_entries(node)]
    assert ("proposed", "officer") in kinds and ("released", "second") in kinds


def test_a_release_rejected_or_withdrawn_is_never_sent(console):
    officer, second = console.browser("officer"), console.browser("second")
    _propose_suspension(officer)
    empty = second.post("/console/releases/1/reject", {"csrf": second.csrf(), "reason": " "})
    assert empty.status_code == 422
    rejected = second.post(
        "/console/releases/1/reject", {"csrf": second.csrf(), "reason": "Not agreed today."}
    )
    assert rejected.status_code == 303
    _propose_suspension(officer)
    withdrawn = officer.post("/console/releases/2/withdraw", {"csrf": officer.csrf()})
    assert withdrawn.status_code == 303
    page = officer.get("/console/releases").text
    assert "Not agreed today." in page and "Nothing waits for release." in page
    again = second.post("/console/releases/1/approve", {"csrf": second.csrf()})
    assert again.status_code == 409
    with console.served.node.database.engine.connect() as conn:
        assert LogStore(conn, "us").size() == 0


def test_a_form_sent_twice_sends_once(console):
    browser = console.browser("officer")
    page = browser.get("/console/compose?type=message").text
    nonce = re.search(r'name="nonce" value="([^"]+)"', page).group(1)
    form = [
        ("csrf", browser.csrf()),
        ("type", "message"),
        ("nonce", nonce),
        ("body.text", "Once only."),
        ("to", "ru"),
    ]
    first = browser.post("/console/compose", form)
    second = browser.post("/console/compose", form)
    assert (
        first.headers["location"] == second.headers["location"] == ("/console/messages/us/0?sent=1")
    )
    with console.served.node.database.engine.connect() as conn:
        assert LogStore(conn, "us").size() == 1
    assert 'id="sent-notice"' in browser.get(first.headers["location"]).text


def test_an_envelope_error_shows_beside_its_field(console):
    browser = console.browser("officer")
    response = browser.post(
        "/console/compose",
        [("csrf", browser.csrf()), ("type", "message"), ("body.text", "x"), ("to", "osce")],
    )
    assert response.status_code == 422
    assert 'id="to-error"' in response.text
    assert "Nothing was sent" in response.text


def test_nul_characters_are_refused(console):
    browser = console.browser("officer")
    response = browser.post(
        "/console/watch", {"csrf": browser.csrf(), "kind": "note", "text": "a\x00b"}
    )
    assert response.status_code == 422
    assert "NUL" in response.text
    assert watch_entries(console.served.node)[0].kind == "login"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/console/messages/us/abc", 422),
        ("/console/messages/us/7", 404),
        ("/console/evidence/0", 422),
        ("/console/no-such-page", 404),
    ],
)
def test_bad_paths_get_a_console_page_with_the_right_status(console, path, status):
    response = console.browser("viewer").get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in response.text


def test_a_post_after_the_session_ended_returns_to_the_overview(console):
    response = console.browser().post("/console/releases/1/approve", {"csrf": "x"})
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console/"


def test_a_server_failure_is_not_described_to_the_browser(console, monkeypatch):
    from detente.console import pages
    from detente.errors import StoreError

    def failing(node):
        raise StoreError("database error: secret connection details")

    monkeypatch.setattr(pages, "current_watch", failing)
    response = console.browser("viewer").get("/console/")
    assert response.status_code == 503
    assert "secret connection details" not in response.text
    assert "the reason is in the node" in response.text


def test_a_node_on_an_exercise_clock_says_so_on_every_page(console, node, tmp_path):
    officer = console.browser("officer")
    assert 'id="exercise"' not in officer.get("/console/").text
    path = tmp_path / "clock.json"
    start_clock(path)
    advance_clock(path, 33 * 3600)
    node.exercise = ExerciseClock(path)
    for page in ("/console/", "/console/inspections", "/console/hotline"):
        text = officer.get(page).text
        assert 'id="exercise"' in text and "EXERCISE · clock +33.0 h" in text, page
        # The page's clock and countdowns run on the exercise's time.
        assert 'data-clock-offset="118800000"' in text, page
