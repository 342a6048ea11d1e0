"""Nodes served over real HTTP on loopback, each by uvicorn in a thread of the test."""

from __future__ import annotations

import threading
import time

import httpx
import uvicorn

from detente.api import create_app
from detente.demo.ports import free_port
from detente.node import Node

__all__ = ["Router", "ServedNode", "free_port"]


class ServedNode:
    """A node's API on a loopback port; stop() shuts the server down."""

    def __init__(self, node: Node, port: int, **app_options: object) -> None:
        self.node = node
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        app = create_app(node, public_url=self.url, **app_options)  # type: ignore[arg-type]
        self.app = app
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
