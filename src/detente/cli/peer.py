"""``detente peer``: add the other parties' nodes and neutral witnesses, keyed out of band."""

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
from detente.record.checkpoint import origin_for, witness_key_name

__all__ = ["peer_app"]

peer_app = typer.Typer(help="The other parties' nodes and witnesses.", no_args_is_help=True)


@peer_app.command("add")
@command_errors
def add(
    url: Annotated[str, typer.Option("--url", help="Where the peer's node answers.")],
    key: Annotated[str, typer.Option("--key", help="The peer's C2SP verifier key.")],
    party: Annotated[str | None, typer.Option("--party", "-p", help="The peer's party id.")] = None,
    witness: Annotated[
        str | None, typer.Option("--witness", help="A neutral witness's name, instead of --party.")
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Skip the confirmation (scripts that checked it).")
    ] = False,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Add a peer: another party's node (--party) or a neutral witness (--witness).

    Read the fingerprint aloud with the peer's officer before confirming.
    """
    if (party is None) == (witness is None):
        fail("give exactly one of --party ID and --witness NAME")
    name = party or witness or ""
    verifier = VerifierKey.from_text(key.strip())
    if not url.startswith(("http://", "https://")):
        fail(f"--url: {url!r} is not an http(s) URL")
    with opened_node(directory) as node:
        if name == node.party:
            fail(f"{name!r} is this node's own party (or witness name)")
        if party is not None and party not in node.agreement.party_ids():
            fail(f"{party!r} is not a party of {node.agreement.name}")
        if witness is not None and witness in node.agreement.party_ids():
            fail(f"{witness!r} is a party of {node.agreement.name}, not a witness; use --party")
        if witness is not None:
            expected = witness_key_name(node.agreement.id, witness)
        else:
            expected = origin_for(node.agreement.id, name)
        if verifier.name != expected:
            raise ConfigError(
                f"--key: the key is named {verifier.name!r}; {name}'s node key under "
                f"{node.agreement.name} must be named {expected!r} (other agreement or party?)"
            )
        if node.config.peer(name) is not None:
            fail(f"peer {name} is already configured; remove it from config.toml to re-key")
        if not yes:
            out.print(f"{'witness' if witness else 'peer'} {name} at {url}")
            out.print(f"fingerprint [bold]{verifier.fingerprint()}[/]")
            if not typer.confirm("Does this fingerprint match the one read by the peer?"):
                fail("not added", code=1)
        peer = Peer(party=name, url=url.rstrip("/"), key=verifier, witness=witness is not None)
        node.save_config(replace(node.config, peers=(*node.config.peers, peer)))
    data = {
        "party": name,
        "url": url,
        "fingerprint": verifier.fingerprint(),
        "witness": witness is not None,
    }
    if output is OutputFormat.json:
        print_json(data)
    else:
        out.print(f"added {'witness' if witness else 'peer'} [bold]{name}[/] at {url}")


@peer_app.command("list")
@command_errors
def list_peers(directory: DirOption = None, output: FormatOption = OutputFormat.text) -> None:
    """The configured peers and their fingerprints."""
    with opened_node(directory) as node:
        rows = [
            {
                "party": p.party,
                "url": p.url,
                "fingerprint": p.key.fingerprint(),
                "witness": p.witness,
            }
            for p in node.config.peers
        ]
    if output is OutputFormat.json:
        print_json(rows)
        return
    print_table(
        "peers",
        ["party", "url", "fingerprint", "witness"],
        [[r["party"], r["url"], r["fingerprint"], "yes" if r["witness"] else ""] for r in rows],
    )
