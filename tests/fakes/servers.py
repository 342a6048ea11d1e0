"""Nodes served over real HTTP on loopback, each by uvicorn in a thread of the test."""

from __future__ import annotations

import secrets
import socket
import threading
import time

import httpx
import uvicorn

from detente.api import create_app
from detente.node import Node

# Ports handed out to this test process, never handed out twice.
_GIVEN: set[int] = set()
_GIVEN_LOCK = threading.Lock()


def free_port() -> int:
    """A loopback port nothing listens on, below Linux's ephemeral range.

    A port the kernel picks for ``bind(0)`` comes from the ephemeral range
    (32768-60999), the same range outgoing connections take their local
    ports from: between this call and the server's own bind, a client of
    another test could take it ("address already in use"). Ports from
    20000-32767 are never taken that way, and none is given out twice.
    """
    with _GIVEN_LOCK:
        for _ in range(1000):
            port = secrets.SystemRandom().randrange(20000, 32768)
            if port in _GIVEN:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _GIVEN.add(port)
            return port
    raise RuntimeError("no free loopback port in 20000-32767")


class ServedNode:
    """A node's API on a loopback port; stop() shuts the server down."""

    def __init__(self, node: Node, port: int, **app_options: object) -> None:
        self.node = node
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        app = create_app(node, public_url=self.url, **app_options)  # type: ignore[arg-type]
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ServedNode:
        self.thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/v1/health", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"node {self.node.party} did not start on {self.url}")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class Router(httpx.BaseTransport):
    """Real HTTP, except to hosts the test has marked as down."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.down: set[int] = set()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.port in self.down:
            raise httpx.ConnectError(f"port {request.url.port} is down", request=request)
        self.paths.append(request.url.path)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
