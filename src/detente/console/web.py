"""What every console page shares: templates, the session, CSRF, security headers.

- **Session.** A cookie named for the node's party (``detente_session_us``):
  several nodes on one host (the demo) do not log each other out, as
  browsers do not keep cookies apart by port. It is ``Secure``,
  ``HttpOnly`` and ``SameSite=Strict``; Chromium and Firefox keep Secure
  cookies from ``http://localhost`` and ``127.0.0.1``, and a node reached
  over anything else should sit behind TLS (docs/operations.md).
- **CSRF.** Every form carries the session's token, compared in constant
  time; the log-in form, before there is a session, a token of its own in a
  cookie (double submit). SameSite=Strict already keeps other sites' forms
  from carrying the session; the token does not rely on it.
- **Content-Security-Policy.** Nothing inline, nothing from elsewhere:
  scripts, styles, images and connections only from the node itself.
- **Live scope.** The pages that show the track picture (the map, an
  alert's page: :func:`shows_tracks`) count its version in their snapshot
  and ask the event stream to (``?tracks=1``); the others do not, so a
  busy feed of positions does not keep every console refetching its page.

Example:
    >>> SECURITY_HEADERS["Content-Security-Policy"].split(";")[0]
    "default-src 'none'"
"""

from __future__ import annotations

import functools
import hmac
import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from detente.api.deps import read_limited
from detente.console.i18n import translations
from detente.console.snapshot import Snapshot, encode, snapshot
from detente.errors import InputError, PermissionDeniedError
from detente.node.alarms import list_alarms
from detente.node.directory import Node
from detente.node.sessions import Session, resume
from detente.record.envelope import format_time, parse_time

__all__ = [
    "MAX_FORM_BYTES",
    "SECURITY_HEADERS",
    "LoginRequired",
    "cookie_name",
    "current_session",
    "page_snapshot",
    "read_form",
    "render",
    "shows_tracks",
]

MAX_FORM_BYTES = 1024 * 1024

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; media-src 'self'; font-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class LoginRequired(Exception):  # noqa: N818 - a control-flow signal, answered with a redirect
    """No live session: the browser is sent to the log-in page, then back to ``next``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


#: The pages that show the track picture: the map and the alerts' pages.
_TRACK_PAGES = ("/console/map", "/console/tracks/")


def shows_tracks(path: str) -> bool:
    """Whether the page at ``path`` shows tracks, and refreshes when they change.

    >>> shows_tracks("/console/map"), shows_tracks("/console/tracks/alerts/3")
    (True, True)
    >>> shows_tracks("/console/inbox")
    False
    """
    return path == _TRACK_PAGES[0] or path.startswith(_TRACK_PAGES[1])


def page_snapshot(request: Request, *, tracks: bool) -> Snapshot:
    """The node's snapshot as a page sees it; with ``tracks``, the track picture's version too."""
    node: Node = request.app.state.node
    service = getattr(request.app.state, "tracks", None)
    version = int(getattr(service, "version", 0)) if tracks and service is not None else 0
    return snapshot(node, tracks_version=version)


def cookie_name(node: Node) -> str:
    """The session cookie of this node's console."""
    return f"detente_session_{node.party}"


def current_session(request: Request) -> Session:
    """The request's live session.

    Raises:
        LoginRequired: there is none (no cookie, expired, logged out, removed).
    """
    node: Node = request.app.state.node
    token = request.cookies.get(cookie_name(node), "")
    # The event stream reconnects by itself: it is not the officer's activity.
    session = resume(node, token, touch=request.url.path != "/console/events")
    if session is None:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        # After log-in the browser GETs ``next``: a form's action is no page.
        raise LoginRequired(target if request.method == "GET" else "/console/")
    request.state.session = session
    if request.method == "GET" and request.url.path != "/console/events":
        # Read before the page reads its data: a change that lands meanwhile
        # makes the stream's first event differ, and the page refreshes.
        request.state.version = encode(
            page_snapshot(request, tracks=shows_tracks(request.url.path))
        )
    return session


async def read_form(request: Request, session: Session | None) -> dict[str, list[str]]:
    """The urlencoded form of a POST, after its CSRF token is checked.

    Raises:
        TooLargeError: the form is over :data:`MAX_FORM_BYTES`.
        InputError: a value holds a NUL character (no database stores it).
        PermissionDeniedError: the CSRF token is missing or wrong.
    """
    raw = await read_limited(request, MAX_FORM_BYTES)
    form = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
    sent = (form.get("csrf") or [""])[0]
    if session is not None:
        expected = session.csrf
    else:
        expected = request.cookies.get("detente_login_csrf", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise PermissionDeniedError(
            "the form's security token is missing or stale: reload the page"
        )
    if any("\x00" in value for values in form.values() for value in values):
        raise InputError("the form holds a NUL character, which no field may contain")
    return form


@functools.cache
def _environment(language: str) -> Environment:
    root = resources.files("detente.console").joinpath("templates")
    env = Environment(
        loader=FileSystemLoader(str(root)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = _when
    env.filters["pretty"] = _pretty
    env.filters["short"] = lambda text, n=12: text if len(text) <= n else text[:n] + "…"
    return env


def _when(value: datetime | str | int | None) -> Markup:
    """A time in UTC, marked up for console.js to add the local time beside it."""
    if value is None or value == "":
        return Markup("—")
    if isinstance(value, int):  # cosignature timestamps: seconds since the epoch
        value = datetime.fromtimestamp(value, tz=UTC)
    moment = parse_time(value) if isinstance(value, str) else value
    iso = format_time(moment)
    shown = moment.strftime("%Y-%m-%d %H:%M:%S") + " UTC"
    return Markup('<time datetime="{}" class="when">{}</time>').format(iso, shown)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def render(
    request: Request,
    template: str,
    *,
    session: Session | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page in the operator's language (the browser's before log-in)."""
    node: Node = request.app.state.node
    language = session.language if session is not None else context.pop("language", "en")
    version = getattr(request.state, "version", "")
    env = _environment(language)
    page = env.get_template(template).render(
        node=node,
        session=session,
        operator=None if session is None else session.operator,
        csrf="" if session is None else session.csrf,
        language=language,
        path=request.url.path,
        quote=quote,
        banner_alarms=[] if session is None else list_alarms(node),
        version=version if session is not None else "",
        live_tracks=shows_tracks(request.url.path),
        **context,
    )
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})
