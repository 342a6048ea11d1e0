"""The ``detente`` command."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from detente import __version__
from detente.agreement import builtin_names
from detente.cli._node import DirOption, node_dir, opened_node
from detente.cli._output import (
    FormatOption,
    OutputFormat,
    command_errors,
    err,
    fail,
    out,
    print_json,
    print_table,
)
from detente.cli.agreement import agreement_app
from detente.cli.alarms import alarms_app
from detente.cli.compliance import compliance_app
from detente.cli.docs import docs_app
from detente.cli.evidence import evidence_app
from detente.cli.exercise import exercise_app
from detente.cli.hotline import hotline_app
from detente.cli.inspection import inspection_app
from detente.cli.keys import keys_app
from detente.cli.log import log_app
from detente.cli.measures import obligations, suspensions
from detente.cli.operator import operator_app
from detente.cli.peer import peer_app
from detente.cli.plan import plan_app
from detente.cli.receipt import receipt_app
from detente.cli.release import release_app
from detente.cli.report import report_app
from detente.cli.serve import serve
from detente.cli.sync import sync
from detente.cli.tracks import tracks_app
from detente.node import init_node
from detente.node.audit import audit_node
from detente.node.directory import PASSPHRASE_ENV
from detente.store.database import redact_url

__all__ = ["app", "main"]

app = typer.Typer(
    name="detente",
    help="Détente: operate an arms-control agreement over a tamper-evident record.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(agreement_app, name="agreement")
app.add_typer(alarms_app, name="alarms")
app.add_typer(compliance_app, name="compliance")
app.add_typer(docs_app, name="docs")
app.add_typer(evidence_app, name="evidence")
app.add_typer(exercise_app, name="exercise")
app.add_typer(hotline_app, name="hotline")
app.add_typer(inspection_app, name="inspection")
app.add_typer(keys_app, name="keys")
app.add_typer(log_app, name="log")
app.add_typer(operator_app, name="operator")
app.add_typer(peer_app, name="peer")
app.add_typer(plan_app, name="plan")
app.add_typer(receipt_app, name="receipt")
app.add_typer(release_app, name="release")
app.add_typer(report_app, name="report")
app.add_typer(tracks_app, name="tracks")
app.command("obligations")(obligations)
app.command("serve")(serve)
app.command("suspensions")(suspensions)
app.command("sync")(sync)


def _version(value: bool) -> None:
    if value:
        out.print(f"detente {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Détente: operate an arms-control agreement over a tamper-evident record."""


@app.command("init")
@command_errors
def init(
    directory: Annotated[Path, typer.Argument(help="Directory to create the node in.")],
    agreement: Annotated[
        str,
        typer.Option(
            "--agreement",
            "-a",
            help=f"Built-in agreement ({', '.join(builtin_names())}) or a TOML file.",
        ),
    ],
    party: Annotated[
        str | None, typer.Option("--party", "-p", help="The party this node serves.")
    ] = None,
    witness: Annotated[
        str | None,
        typer.Option(
            "--witness",
            help="Make a neutral witness with this name (an office, not a party) instead.",
        ),
    ] = None,
    encrypt_key: Annotated[
        bool,
        typer.Option(
            "--encrypt-key",
            help=f"Encrypt the key with a passphrase (from ${PASSPHRASE_ENV}, else asked).",
        ),
    ] = False,
    database_url: Annotated[
        str,
        typer.Option(
            "--database-url",
            help="PostgreSQL URL (postgresql+psycopg://…); default: SQLite in the directory.",
        ),
    ] = "",
    exercise_clock: Annotated[
        Path | None,
        typer.Option(
            "--exercise-clock",
            help="For an exercise: run on the clock kept in this file, shared by its nodes "
            "(created if missing; moved by `detente exercise advance`).",
        ),
    ] = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Create a node directory: configuration, key (mode 0600) and database.

    A node serves one party (--party), or is a neutral witness (--witness
    NAME) that mirrors the parties' logs of headers, cosigns and gossips.
    """
    if (party is None) == (witness is None):
        fail("give exactly one of --party ID and --witness NAME")
    passphrase: bytes | None = None
    if encrypt_key:
        value = os.environ.get(PASSPHRASE_ENV)
        if not value:
            value = typer.prompt("New key passphrase", hide_input=True, confirmation_prompt=True)
        if len(value) < 8:
            fail("the passphrase must have at least 8 characters")
        passphrase = value.encode()
    node = init_node(
        directory,
        party=party or witness or "",
        agreement_ref=agreement,
        passphrase=passphrase,
        database_url=database_url,
        witness=witness is not None,
        exercise_clock=exercise_clock,
    )
    try:
        data = {
            "directory": str(directory),
            "party": node.party,
            "role": node.config.role,
            "agreement": node.agreement.name,
            "agreement_id": node.agreement.id,
            "verifier_key": node.verifier.to_text(),
            "fingerprint": node.verifier.fingerprint(),
            "database": redact_url(node.database.url),
            "key_encrypted": passphrase is not None,
            "exercise_clock": node.config.exercise_clock or None,
        }
    finally:
        node.close()
    if output is OutputFormat.json:
        print_json(data)
        return
    kind = "witness" if node.is_witness else "node"
    out.print(f"created {kind} [bold]{data['party']}[/] in {directory}")
    out.print(f"agreement    {data['agreement']} ({data['agreement_id']})")
    out.print(f"verifier key {data['verifier_key']}")
    out.print(f"fingerprint  [bold]{data['fingerprint']}[/]")
    out.print(f"database     {data['database']}")
    if node.config.exercise_clock:
        out.print(f"[yellow]exercise[/]     on the clock in {node.config.exercise_clock}")


@app.command("verify")
@command_errors
def verify(
    directory: DirOption = None,
    workers: Annotated[
        int, typer.Option("--workers", help="Processes for signature checks (0: all cores).")
    ] = 0,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Recompute every leaf, signature, link, body hash, tree node, checkpoint
    and cosignature from the stored bytes. Exit 0 only if all holds."""
    with opened_node(directory) as node:
        report = audit_node(node, workers=workers or None)
    logs = [
        {
            "party": log.party,
            "entries": log.entries,
            "bodies": log.bodies,
            "tree_nodes": log.tree_nodes,
            "checkpoints": log.checkpoints,
            "cosignatures": log.cosignatures,
            "keys": log.keys,
        }
        for log in report.logs
    ]
    revoked = [span for log in report.logs for span in log.revoked]
    if output is OutputFormat.json:
        print_json({"ok": report.ok, "problem": report.problem, "logs": logs, "revoked": revoked})
    else:
        print_table(
            f"verify {node_dir(directory)}",
            ["log", "entries", "bodies", "tree nodes", "checkpoints", "cosignatures", "keys"],
            [list(log.values()) for log in logs],
        )
        for span in revoked:
            out.print(f"[bold yellow]revoked[/]: {span} (see operations.md, Key compromise)")
        if report.ok:
            out.print("[bold green]OK[/]: everything stored was recomputed and holds")
        else:
            err.print(f"[bold red]FAILED[/]: {report.problem}", markup=True)
    if not report.ok:
        raise typer.Exit(1)


@app.command("demo")
@command_errors
def demo(
    headless: Annotated[
        bool, typer.Option("--headless", help="No pauses; check every step and exit non-zero.")
    ] = False,
    keep: Annotated[
        Path | None, typer.Option("--keep", help="Keep the demo's nodes in this directory.")
    ] = None,
    single_node: Annotated[
        bool,
        typer.Option("--single-node", help="The record walk-through on one node instead."),
    ] = False,
) -> None:
    """Three party nodes exchange on loopback, narrated (the story of the 2022 replies)."""
    if single_node:
        from detente.demo.walkthrough import run
    else:
        from detente.demo.network import run

    raise typer.Exit(run(headless=headless, keep=keep))


def main() -> None:
    """Entry point of the ``detente`` console script."""
    app()


# Keep the module importable for `python -m detente.cli.app`.
if __name__ == "__main__":  # pragma: no cover
    main()
