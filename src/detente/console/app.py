"""The console inside the node's application: routes, static files, headers, errors.

:func:`install_console` adds the console to the FastAPI app that
:func:`detente.api.create_app` builds, under ``/console``. Its answers carry
the security headers of :mod:`.web`; a domain error on a console page is
rendered as a page in the operator's language with the status the API
would give (:func:`error_page`), and a missing session sends the browser to
the log-in page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from detente.console import compose, live, login, pages, watch
from detente.console.web import SECURITY_HEADERS, LoginRequired, render

__all__ = ["error_page", "install_console"]


def install_console(app: FastAPI) -> None:
    """Serve the console from ``app`` (whose ``state.node`` is the node)."""
    for module in (login, pages, compose, watch, live):
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

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, error: LoginRequired) -> Response:
        if request.url.path == "/console/events":
            return Response(status_code=401)
        return RedirectResponse(f"/console/login?next={quote(error.next_path)}", status_code=303)


def error_page(request: Request, status: int, message: str) -> Response:
    """A domain error on a console page, as a page (the session's language if any)."""
    session = getattr(request.state, "session", None)
    return render(request, "error.html", session=session, status=status, message=message)
