"""``detente peer``: add the other parties' nodes, keyed out of band."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer

from detente.cli._node import DirOption, opened_node
from detente.cli._output import (
    FormatOption,
    OutputFormat,
    command_errors,
    fail,
    out,
    print_json,
    print_table,
)
from detente.crypto.keys import VerifierKey
from detente.errors import ConfigError
from detente.node.directory import Peer
from detente.record.checkpoint import origin_for

__all__ = ["peer_app"]

peer_app = typer.Typer(help="The other parties' nodes.", no_args_is_help=True)


@peer_app.command("add")
@command_errors
def add(
    party: Annotated[str, typer.Option("--party", "-p", help="The peer's party id.")],
    url: Annotated[str, typer.Option("--url", help="Where the peer's node answers.")],
    key: Annotated[str, typer.Option("--key", help="The peer's C2SP verifier key.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Skip the confirmation (scripts that checked it).")
    ] = False,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Add a peer. Read the fingerprint aloud with the peer's officer before confirming."""
    verifier = VerifierKey.from_text(key.strip())
    if not url.startswith(("http://", "https://")):
        fail(f"--url: {url!r} is not an http(s) URL")
    with opened_node(directory) as node:
        if party == node.party:
            fail(f"{party!r} is this node's own party")
        if party not in node.agreement.party_ids():
            fail(f"{party!r} is not a party of {node.agreement.name}")
        expected = origin_for(node.agreement.id, party)
        if verifier.name != expected:
            raise ConfigError(
                f"--key: the key is named {verifier.name!r}; {party}'s node key under "
                f"{node.agreement.name} must be named {expected!r} (other agreement or party?)"
            )
        if node.config.peer(party) is not None:
            fail(f"peer {party} is already configured; remove it from config.toml to re-key")
        if not yes:
            out.print(f"peer {party} at {url}")
            out.print(f"fingerprint [bold]{verifier.fingerprint()}[/]")
            if not typer.confirm("Does this fingerprint match the one read by the peer?"):
                fail("not added", code=1)
        peers = (*node.config.peers, Peer(party=party, url=url.rstrip("/"), key=verifier))
        node.save_config(replace(node.config, peers=peers))
    data = {"party": party, "url": url, "fingerprint": verifier.fingerprint()}
    if output is OutputFormat.json:
        print_json(data)
    else:
        out.print(f"added peer [bold]{party}[/] at {url}")


@peer_app.command("list")
@command_errors
def list_peers(directory: DirOption = None, output: FormatOption = OutputFormat.text) -> None:
    """The configured peers and their fingerprints."""
    with opened_node(directory) as node:
        rows = [
            {"party": p.party, "url": p.url, "fingerprint": p.key.fingerprint()}
            for p in node.config.peers
        ]
    if output is OutputFormat.json:
        print_json(rows)
        return
    print_table("peers", ["party", "url", "fingerprint"], [list(r.values()) for r in rows])
