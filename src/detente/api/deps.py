"""Dependencies of the API routes, as ``Annotated`` aliases in one place."""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from detente.errors import AuthenticationError, TooLargeError
from detente.exchange.httpsig import RequestVerifier
from detente.node.directory import Node
from detente.node.operators import Operator, authenticate

__all__ = ["CurrentNode", "OperatorAuth", "PeerRequest", "SignedPeerRequest"]

MAX_PEER_BODY = 32 * 1024 * 1024
MAX_OPERATOR_BODY = 1024 * 1024


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


CurrentNode = Annotated[Node, Depends(_node)]


async def read_limited(request: Request, limit: int) -> bytes:
    """Read the request body, refusing more than ``limit`` bytes (413)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise TooLargeError(f"request body larger than {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLargeError(f"request body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _signed_url(request: Request) -> str:
    """The URL the peer must have signed: this node's public URL, the raw path and query.

    The Host header is the caller's to choose, so the authority comes from
    configuration when it is known: a request signed for another node then
    fails here. Starlette's decoded path would break percent-encoded paths,
    so the raw path is used.
    """
    base = request.app.state.public_url or f"{request.url.scheme}://{request.url.netloc}"
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string") or b""
    url = base.rstrip("/") + raw_path.decode("latin-1")
    return url + ("?" + query.decode("latin-1") if query else "")


class PeerRequest:
    """A peer request whose signature verified: the peer's party and the raw body."""

    def __init__(self, party: str, body: bytes) -> None:
        self.party = party
        self.body = body


async def _signed_peer(request: Request) -> PeerRequest:
    body = await read_limited(request, MAX_PEER_BODY)
    verifier: RequestVerifier = request.app.state.verifier
    node: Node = request.app.state.node
    # Verification ends in a durable nonce write: off the event loop.
    party = await run_in_threadpool(
        functools.partial(
            verifier.verify,
            method=request.method,
            url=_signed_url(request),
            headers=request.headers,
            body=body,
            now=node.clock(),
        )
    )
    request.state.peer = party
    return PeerRequest(party, body)


SignedPeerRequest = Annotated[PeerRequest, Depends(_signed_peer)]


def _operator(request: Request, authorization: Annotated[str | None, Header()] = None) -> Operator:
    if not authorization or not authorization.startswith("Bearer "):
        raise AuthenticationError("operator endpoints need an 'Authorization: Bearer' token")
    node: Node = request.app.state.node
    token = authorization.removeprefix("Bearer ").strip()
    return authenticate(node, token, cache=request.app.state.token_cache)


OperatorAuth = Annotated[Operator, Depends(_operator)]
