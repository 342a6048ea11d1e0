"""``detente log``: append to the node's own log, show it, print its checkpoint, settlement."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

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
from detente.errors import InputError
from detente.node.releases import refuse_direct
from detente.node.settlement import settlement_report
from detente.node.writer import Draft, LogWriter
from detente.record.envelope import PRIORITIES, Envelope
from detente.store.logs import LogStore

__all__ = ["log_app"]

log_app = typer.Typer(help="The node's own log.", no_args_is_help=True)

_MAX_BODY_ARG = 1024 * 1024


def _parse_body(text: str) -> dict[str, Any]:
    if text == "-":
        text = sys.stdin.read(_MAX_BODY_ARG + 1)
    if len(text) > _MAX_BODY_ARG:
        raise InputError(f"--body: more than {_MAX_BODY_ARG} bytes")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"--body: not JSON: {e.msg} at line {e.lineno} column {e.colno}") from e
    if not isinstance(value, dict):
        raise InputError('--body: must be a JSON object, e.g. \'{"text": "..."}\'')
    return value


@log_app.command("append")
@command_errors
def append(
    type_: Annotated[str, typer.Option("--type", "-t", help="Message type of the agreement.")],
    body: Annotated[str, typer.Option("--body", "-b", help="Body as a JSON object; - for stdin.")],
    to: Annotated[list[str] | None, typer.Option("--to", help="Recipient party (repeat).")] = None,
    refs: Annotated[
        list[str] | None, typer.Option("--ref", help="Entry it answers or cites, party:seq.")
    ] = None,
    priority: Annotated[
        str | None, typer.Option("--priority", help=f"One of {', '.join(PRIORITIES)}.")
    ] = None,
    article: Annotated[str | None, typer.Option("--article", help="Treaty reference.")] = None,
    exercise: Annotated[bool, typer.Option("--exercise", help="Mark as exercise traffic.")] = False,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Sign a message and append it to this node's log, with a new checkpoint.

    A type the agreement holds for two-person release is refused: a second
    operator approves it through the API or the console.
    """
    if priority is not None and priority.upper() not in PRIORITIES:
        fail(f"--priority: {priority!r} is not one of {', '.join(PRIORITIES)}")
    draft = Draft(
        type=type_,
        body=_parse_body(body),
        to=tuple(to or ()),
        refs=tuple(refs or ()),
        article=article,
        priority=priority.upper() if priority else None,
        exercise=exercise,
    )
    with opened_node(directory) as node:
        refuse_direct(node, draft.type)
        result = LogWriter(node).append([draft])
    envelope = result.envelopes[0]
    if output is OutputFormat.json:
        print_json(
            {
                "position": envelope.position,
                "header": envelope.header.to_json(),
                "leaf_hash": envelope.leaf_hash.hex(),
                "checkpoint": result.checkpoint.to_text(),
            }
        )
        return
    out.print(
        f"appended [bold]{envelope.position}[/] {envelope.header.type} "
        f"leaf {envelope.leaf_hash.hex()[:16]}…; "
        f"checkpoint size {result.checkpoint.checkpoint.size}"
    )


@log_app.command("show")
@command_errors
def show(
    seq: Annotated[int | None, typer.Option("--seq", help="Show one entry with its body.")] = None,
    party: Annotated[str | None, typer.Option("--party", help="Whose log (default: own).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Newest N entries.", min=1)] = 50,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """List the entries of a log held by this node, or show one in full."""
    with opened_node(directory) as node, node.database.engine.connect() as conn:
        log = LogStore(conn, party or node.party)
        size = log.size()
        if seq is not None:
            leaf = log.leaf(seq)
            if leaf is None:
                fail(f"log {log.party} holds no entry {seq} (size {size})")
            envelope = Envelope.from_leaf(leaf)
            body = log.body(seq)
            data: Any = {
                "position": envelope.position,
                "header": envelope.header.to_json(),
                "sig": envelope.sig.hex(),
                "leaf_hash": envelope.leaf_hash.hex(),
                "body": None if body is None else json.loads(body),
            }
            if output is OutputFormat.json:
                print_json(data)
            else:
                out.print_json(json.dumps(data, ensure_ascii=False))
            return
        start = max(0, size - limit)
        rows = [Envelope.from_leaf(row.leaf) for batch in log.iter_entries(start) for row in batch]
    items = [
        {
            "seq": e.header.seq,
            "created": e.header.created,
            "type": e.header.type,
            "priority": e.header.priority,
            "to": list(e.header.to),
            "refs": list(e.header.refs),
            "exercise": e.header.exercise,
            "leaf_hash": e.leaf_hash.hex(),
        }
        for e in rows
    ]
    if output is OutputFormat.json:
        print_json({"party": log.party, "size": size, "entries": items})
        return
    print_table(
        f"log {log.party}: {size} entries" + (f" (newest {len(items)})" if start else ""),
        ["seq", "created", "type", "priority", "to", "refs", "leaf hash"],
        [
            [
                e.header.seq,
                e.header.created,
                e.header.type + (" (exercise)" if e.header.exercise else ""),
                e.header.priority,
                ", ".join(e.header.to),
                ", ".join(e.header.refs),
                e.leaf_hash.hex()[:16] + "…",
            ]
            for e in rows
        ],
    )


@log_app.command("checkpoint")
@command_errors
def checkpoint(
    party: Annotated[str | None, typer.Option("--party", help="Whose log (default: own).")] = None,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Print the newest checkpoint of a log, a C2SP signed note, on stdout."""
    with opened_node(directory) as node, node.database.engine.connect() as conn:
        log = LogStore(conn, party or node.party)
        latest = log.checkpoint()
    if latest is None:
        fail(f"log {log.party} has no checkpoint yet (append a message first)")
    size, note = latest
    if output is OutputFormat.json:
        print_json({"party": log.party, "size": size, "note": note})
        return
    sys.stdout.write(note)
    sys.stdout.flush()


@log_app.command("status")
@command_errors
def status(
    party: Annotated[str | None, typer.Option("--party", help="Only this log.")] = None,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """How far each log held is settled under the k-of-n policies of config.toml."""
    with opened_node(directory) as node:
        report = settlement_report(node)
        policies = node.config.policies
        with node.database.engine.connect() as conn:
            sizes = {p: LogStore(conn, p).size() for p in report}
    if party is not None:
        report = {p: found for p, found in report.items() if p == party}
    logs: list[dict[str, Any]] = [
        {"party": p, "size": sizes[p], "policies": [s.to_json() for s in found]}
        for p, found in report.items()
    ]
    if output is OutputFormat.json:
        print_json({"logs": logs})
        return
    if not policies:
        out.print("no policies: add [[policies]] to config.toml (see docs/operations.md)")
        return
    rows = []
    for item in logs:
        for policy in item["policies"]:
            latest = policy["latest"]
            rows.append(
                [
                    item["party"],
                    item["size"],
                    f"{policy['policy']} ({policy['k']} of {', '.join(policy['cosigners'])})",
                    policy["settled_size"],
                    ", ".join(policy["cosigned_by"]),
                    "" if latest is None else f"{latest['size']}: {len(latest['cosigned_by'])}",
                ]
            )
    print_table(
        "settlement",
        ["log", "entries", "policy", "settled up to", "cosigned by", "newest: cosigners"],
        rows,
    )
