"""``detente serve``: run a party's node (FastAPI on uvicorn)."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from detente.cli._node import DirOption, node_dir, passphrase_provider
from detente.cli._output import command_errors, out
from detente.node import open_node

__all__ = ["serve"]


@command_errors
def serve(
    directory: DirOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8700,
    interval: Annotated[
        float, typer.Option("--retry-interval", help="Seconds between delivery rounds.")
    ] = 1.0,
    gossip: Annotated[
        float, typer.Option("--gossip-interval", help="Seconds between gossip rounds.")
    ] = 5.0,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            help="The URL peers call this node at (default: http://HOST:PORT).",
        ),
    ] = None,
) -> None:
    """Run this node: peer and operator API, the console, and the background sender."""
    # Imported here: the web application (FastAPI, the console's templates
    # and catalogs) is not needed by the other commands, run many times a day.
    import uvicorn

    from detente.api import create_app

    node = open_node(node_dir(directory), passphrase=passphrase_provider)
    try:
        _ = node.key  # unlock before serving, not on the first request
        url = public_url or f"http://{host}:{port}"
        app = create_app(node, sender_interval=interval, gossip_interval=gossip, public_url=url)
        out.print(f"node [bold]{node.party}[/] ({node.agreement.name}) on http://{host}:{port}")
        # uvicorn re-raises SIGTERM after its graceful shutdown, which would end
        # the process before the database is closed; take SIGINT's path instead.
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            uvicorn.run(
                app,
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=3,
            )
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        node.close()
