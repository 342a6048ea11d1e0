"""The console inside the node's application: routes, static files, headers, errors.

:func:`install_console` adds the console to the FastAPI app that
:func:`detente.api.create_app` builds, under ``/console``. Its answers carry
the security headers of :mod:`.web`; a domain error on a console page is
rendered as a page in the operator's language with the status the API
would give (:func:`error_page`), and a missing session sends the browser to
the log-in page.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from detente.console import (
    compliance,
    compose,
    documents,
    hotline,
    incidents,
    inspections,
    live,
    login,
    pages,
    tracks,
    watch,
)
from detente.console.i18n import translations
from detente.console.web import SECURITY_HEADERS, LoginRequired, render

__all__ = ["error_page", "install_console"]


#: Log-ins checked at once: each is a 64 MiB argon2 computation, and a flood
#: of them must not take the memory and threads the peer API needs.
CONCURRENT_LOGINS = 4


def install_console(app: FastAPI) -> None:
    """Serve the console from ``app`` (whose ``state.node`` is the node)."""
    app.state.console_audit = threading.Lock()
    app.state.console_logins = asyncio.Semaphore(CONCURRENT_LOGINS)
    # Read once, when the node starts: live streams wake on the change bell.
    app.state.console_push = live.push_enabled()
    app.state.console_documents = documents.OneTimeKeys()
    modules = (
        login,
        pages,
        compose,
        hotline,
        incidents,
        inspections,
        compliance,
        tracks,
        documents,
        watch,
    )
    for module in (*modules, live):
        app.include_router(module.router)
    app.mount(
        "/console/static",
        StaticFiles(packages=[("detente.console", "static")]),
        name="console-static",
    )

    @app.middleware("http")
    async def _headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        if request.url.path.startswith("/console"):
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/console/") and not request.url.path.startswith(
            "/console/static/"
        ):
            return error_page(request, error.status_code, str(error.detail))
        return await http_exception_handler(request, error)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Response:
        if request.url.path.startswith("/console/"):
            first = error.errors()[0] if error.errors() else {}
            where = ".".join(str(p) for p in first.get("loc", ()))
            return error_page(request, 422, f"{where}: {first.get('msg', 'invalid')}")
        return await request_validation_exception_handler(request, error)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, error: LoginRequired) -> Response:
        if request.url.path == "/console/events":
            return Response(status_code=401)
        return RedirectResponse(f"/console/login?next={quote(error.next_path)}", status_code=303)


def error_page(request: Request, status: int, message: str) -> Response:
    """An error on a console page, as a page (the session's language if any).

    A server-side failure (5xx) is not described to the browser: its text
    may carry the database's own message; the node's log has it.
    """
    session = getattr(request.state, "session", None)
    if status >= 500:
        language = "en" if session is None else session.language
        message = translations(language).gettext(
            "The node could not do this; the reason is in the node's log."
        )
    return render(request, "error.html", session=session, status=status, message=message)
