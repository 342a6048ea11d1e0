"""The node's FastAPI application, built by a factory: nothing is built at import.

Domain errors map to HTTP status in one place (:func:`_status_for`); every
refused peer request is written to the audit trail with its reason. Every
request that may change state (any method but GET, HEAD and OPTIONS) rings
the node's change bell once it has been handled, so open consoles look at
once (:class:`_RingAfterChanges`).

Example:
    >>> import tempfile, pathlib
    >>> from detente.node import init_node
    >>> node = init_node(pathlib.Path(tempfile.mkdtemp()) / "us", party="us",
    ...                  agreement_ref="security-replies-2022")
    >>> app = create_app(node, start_sender=False)
    >>> sorted(r.path for r in app.routes if r.path.startswith("/v1/peer/envelopes"))
    ['/v1/peer/envelopes']
    >>> node.close()
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import insert
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from detente import __version__
from detente.api import (
    alarms,
    documents,
    hotline,
    inspections,
    measures,
    messages,
    peer,
    releases,
    report,
    settlement,
    tracks,
)
from detente.console.app import error_page, install_console
from detente.crypto.keys import VerifierKey
from detente.errors import (
    AuthenticationError,
    ConflictError,
    ConsistencyError,
    DetenteError,
    ForkError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    SequenceError,
    StoreError,
    SuspendedError,
    TooLargeError,
    UnknownKeyError,
    VerificationError,
)
from detente.exchange.httpsig import DatabaseReplayGuard, PeerAuth, RequestVerifier
from detente.exchange.peerkeys import RequestKeys, request_keys
from detente.exchange.sender import Sender
from detente.node.bell import ChangeBell
from detente.node.directory import Node
from detente.node.hotline import LineWatch
from detente.node.operators import VerificationCache
from detente.node.tracks import TrackService
from detente.record.envelope import format_time
from detente.store.logs import LogStore
from detente.store.schema import audit_trail

__all__ = ["create_app"]

log = logging.getLogger("detente.api")


def _status_for(error: DetenteError) -> int:
    if isinstance(error, AuthenticationError | UnknownKeyError):
        return 401
    if isinstance(error, PermissionDeniedError):
        return 403
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(
        error, ForkError | ConsistencyError | SequenceError | SuspendedError | ConflictError
    ):
        return 409
    if isinstance(error, TooLargeError):
        return 413
    if isinstance(error, VerificationError | InputError):
        return 422
    if isinstance(error, StoreError):
        return 503
    return 500


_READS = frozenset({"GET", "HEAD", "OPTIONS"})


class _RingAfterChanges:
    """Rings the change bell after each request that may have changed the node's state.

    A pure ASGI middleware. It rings as the answer starts: the endpoint has
    returned by then and its transaction has committed (no route answers
    before its work is done: no background tasks, no dependencies that
    commit on exit), so a console woken by the ring reads the change, and
    whoever gets the answer knows the bell has rung. A request that fails
    before answering rings when the application returns. Peer deliveries
    (``/v1/peer/*``, the priority lane among them), operator submits and
    console forms all pass here; one that changed nothing costs each open
    console one look.
    """

    def __init__(self, app: ASGIApp, *, bell: ChangeBell) -> None:
        self.app = app
        self.bell = bell

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _READS:
            await self.app(scope, receive, send)
            return
        rung = False

        async def answer(message: Message) -> None:
            nonlocal rung
            if message["type"] == "http.response.start" and not rung:
                rung = True
                self.bell.ring()
            await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            if not rung:
                self.bell.ring()


def _held(node: Node, party: str) -> int:
    with node.database.engine.connect() as conn:
        return LogStore(conn, party).size()


def create_app(
    node: Node,
    *,
    start_sender: bool = True,
    peer_client: httpx.Client | None = None,
    sender_interval: float = 1.0,
    gossip_interval: float = 5.0,
    public_url: str | None = None,
) -> FastAPI:
    """Build the API of ``node``; with ``start_sender``, deliver in the background.

    ``public_url`` is the URL peers call this node at (their config's
    ``url``); signed peer requests must name its authority. Without it the
    request's own Host header is used, which suits tests only.
    """

    def peer_key(party: str) -> tuple[VerifierKey, ...] | None:
        return request_keys(node, party)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sender = None
        watch = None
        client = peer_client
        if start_sender:
            client = client or httpx.Client(
                auth=PeerAuth(RequestKeys(node), node.party, node.clock), timeout=30.0
            )
            sender = Sender(
                node, client=client, interval=sender_interval, gossip_every=gossip_interval
            )
            app.state.sender = sender
            sender.start()
            if node.agreement.hotline is not None and not node.is_witness:
                watch = LineWatch(node, on_sent=sender.wake)
                watch.start()
        screening = app.state.tracks
        try:
            if screening is not None and start_sender:
                screening.start()
            yield
        finally:
            if screening is not None and start_sender:
                screening.stop()
            if watch is not None:
                watch.stop()
            if sender is not None:
                sender.stop()
            if client is not None and peer_client is None:
                client.close()

    app = FastAPI(
        title=f"Détente node: {node.party}",
        version=__version__,
        description=(
            f"Party {node.party} under {node.agreement.name} ({node.agreement.id}). "
            "Peer endpoints need RFC 9421 signed requests; operator endpoints a bearer token."
        ),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.node = node
    app.state.sender = None
    app.state.public_url = public_url
    app.state.tracks = (
        TrackService(node)
        if node.agreement.incident_thresholds is not None and not node.is_witness
        else None
    )
    app.state.token_cache = VerificationCache()
    app.state.verifier = RequestVerifier(
        keys=peer_key, replay=DatabaseReplayGuard(node.database.engine)
    )
    app.include_router(peer.router)
    app.include_router(messages.router)
    app.include_router(releases.router)
    app.include_router(alarms.router)
    app.include_router(hotline.router)
    app.include_router(inspections.router)
    app.include_router(measures.router)
    app.include_router(report.router)
    app.include_router(settlement.router)
    app.include_router(tracks.router)
    app.include_router(documents.router)

    install_console(app)
    app.add_middleware(_RingAfterChanges, bell=node.bell)

    @app.get("/v1/health", tags=["health"])
    def health() -> dict[str, object]:
        """Liveness, which party and agreement this node serves, and any exercise clock."""
        body: dict[str, object] = {
            "party": node.party,
            "agreement": node.agreement.id,
            "version": __version__,
        }
        if node.exercise is not None:
            body["exercise"] = {
                "offset_seconds": int(node.exercise.offset.total_seconds()),
                "time": format_time(node.clock()),
            }
        return body

    @app.exception_handler(DetenteError)
    async def _detente_error(request: Request, error: DetenteError) -> Response:
        status = _status_for(error)
        body: dict[str, object] = {"error": type(error).__name__, "detail": str(error)}
        if isinstance(error, SequenceError | ForkError | ConsistencyError):
            sender = getattr(request.state, "peer", None)
            if sender:
                body["held"] = _held(node, sender)
        if request.url.path.startswith("/v1/peer/"):
            _audit(node, request, status, str(error))
        if status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, error)
        if request.url.path.startswith("/console/"):
            return error_page(request, status, str(error))
        return JSONResponse(status_code=status, content=body)

    return app


def _audit(node: Node, request: Request, status: int, reason: str) -> None:
    try:
        with node.database.engine.begin() as conn:
            conn.execute(
                insert(audit_trail).values(
                    at=format_time(node.clock()),
                    peer=getattr(request.state, "peer", None)
                    or request.headers.get("signature-input", "")[:200]
                    or None,
                    method=request.method,
                    path=request.url.path[:512],
                    status=status,
                    reason=reason[:2000],
                )
            )
    except Exception:  # noqa: BLE001 - the audit trail must not turn a 4xx into a 500
        log.exception("cannot write the audit trail")
    log.warning("refused %s %s (%s): %s", request.method, request.url.path, status, reason)
