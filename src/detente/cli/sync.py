"""``detente sync``: pull a peer's log by hand, to catch up or to audit."""

from __future__ import annotations

from typing import Annotated

import httpx
import typer

from detente.cli._node import DirOption, opened_node
from detente.cli._output import FormatOption, OutputFormat, command_errors, fail, out, print_json
from detente.exchange.httpsig import PeerAuth
from detente.exchange.peerkeys import RequestKeys
from detente.exchange.sync import sync_from_peer

__all__ = ["sync"]


@command_errors
def sync(
    peer: Annotated[str, typer.Option("--peer", help="The peer whose log to pull.")],
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Pull a peer's log (entries and proofs) up to its newest checkpoint, and receipt it."""
    with opened_node(directory) as node:
        configured = node.config.peer(peer)
        if configured is None:
            fail(f"{peer!r} is not a peer of this node (see `detente peer list`)")
        auth = PeerAuth(RequestKeys(node), node.party, node.clock)
        with httpx.Client(auth=auth, timeout=60) as client:
            result = sync_from_peer(node, configured, client)
    data = {
        "party": result.party,
        "held_before": result.held_before,
        "checkpoint_size": result.checkpoint_size,
        "fetched": result.fetched,
        "consistency_checked_from": result.consistency_checked_from,
        "receipt": None if result.receipt is None else result.receipt.to_json(),
    }
    if output is OutputFormat.json:
        print_json(data)
        return
    proof = (
        f"; consistent with checkpoint {result.consistency_checked_from}"
        if result.consistency_checked_from
        else ""
    )
    out.print(
        f"{peer}: held {result.held_before}, checkpoint {result.checkpoint_size}, "
        f"fetched {result.fetched}{proof}"
    )
