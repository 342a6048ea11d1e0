"""Log in, log out, and the interface language.

A failed log-in answers 401 with the same words whatever went wrong (see
:mod:`detente.node.logins`); ``next`` only ever sends the browser to a path
of this console, never to another site.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from detente.console.i18n import best_language
from detente.console.web import cookie_name, current_session, read_form, render
from detente.errors import AuthenticationError
from detente.node.directory import Node
from detente.node.logins import LOCKOUT, MAX_FAILURES, log_in
from detente.node.operators import LANGUAGES, set_language
from detente.node.sessions import LIFETIME, Session, end_session, open_session

__all__ = ["router", "safe_next"]

router = APIRouter(prefix="/console", include_in_schema=False)

_LOGIN_CSRF = "detente_login_csrf"


def safe_next(target: str | None) -> str:
    """``target`` if it is a path of the console, else the overview."""
    if (
        target
        and target.startswith("/console/")
        and not target.startswith("//")
        and "\\" not in target
        and "\n" not in target
        and "\r" not in target
    ):
        return target
    return "/console/"


def _login_page(
    request: Request, *, error: str | None, status: int, language: str, next_path: str
) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        session=None,
        status=status,
        language=language,
        error=error,
        login_csrf=token,
        next_path=next_path,
        max_failures=MAX_FAILURES,
        lockout_minutes=int(LOCKOUT.total_seconds() // 60),
    )
    response.set_cookie(
        _LOGIN_CSRF, token, secure=True, httponly=True, samesite="strict", path="/console"
    )
    return response


def _language(request: Request) -> str:
    asked = request.query_params.get("lang", "")
    return asked if asked in LANGUAGES else best_language(request.headers.get("accept-language"))


@router.get("/login")
def login_form(request: Request) -> Response:
    """The log-in page, in the browser's language (or ``?lang=ru``)."""
    return _login_page(
        request,
        error=None,
        status=200,
        language=_language(request),
        next_path=safe_next(request.query_params.get("next")),
    )


@router.post("/login")
async def login(request: Request) -> Response:
    """Check name and password; on success open a session and go where asked."""
    form = await read_form(request, None)
    name = (form.get("name") or [""])[0].strip()
    password = (form.get("password") or [""])[0]
    language = (form.get("lang") or ["en"])[0]
    next_path = safe_next((form.get("next") or [""])[0])
    node: Node = request.app.state.node
    try:
        async with request.app.state.console_logins:
            operator = await run_in_threadpool(log_in, node, name, password)
    except AuthenticationError:
        return _login_page(
            request,
            error="wrong",
            status=401,
            language=language if language in LANGUAGES else "en",
            next_path=next_path,
        )
    token, _ = await run_in_threadpool(open_session, node, operator)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        cookie_name(node),
        token,
        max_age=int(LIFETIME.total_seconds()),
        secure=True,
        httponly=True,
        samesite="strict",
        path="/",
    )
    response.delete_cookie(_LOGIN_CSRF, path="/console")
    return response


SessionDep = Annotated[Session, Depends(current_session)]


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    """End the session here and on the node."""
    await read_form(request, session)
    node: Node = request.app.state.node
    end_session(node, request.cookies.get(cookie_name(node), ""))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(cookie_name(node), path="/", secure=True, httponly=True)
    return response


@router.post("/language")
async def language(request: Request, session: SessionDep) -> Response:
    """Switch this operator's interface language (kept for their next log-in)."""
    form = await read_form(request, session)
    node: Node = request.app.state.node
    set_language(node, session.operator.name, (form.get("lang") or [""])[0])
    return RedirectResponse(safe_next((form.get("next") or [""])[0]), status_code=303)
