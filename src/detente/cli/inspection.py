"""``detente inspection``: run a transparency visit from the server's shell.

Every command that sends signs one message into the node's log through the
actions of :mod:`detente.node.visits` (the same as the API), so the same
checks apply before signing. Secrets stay in the node directory (0600).
``report REF --out FILE`` writes the report file of a closed visit (JSON or
HTML); ``verify FILE --key KEY --key KEY`` checks one offline, with the two
sides' log keys alone (:mod:`detente.measures.inspection_report`).
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated

import typer

from detente.agreement import Agreement, builtin_agreement, builtin_names, resolve_agreement
from detente.cli._line_input import parse_ref, parse_time
from detente.cli._node import DirOption, opened_node
from detente.cli._output import (
    FormatOption,
    OutputFormat,
    command_errors,
    fail,
    out,
    print_json,
    print_table,
    read_capped,
)
from detente.crypto.keys import VerifierKey
from detente.errors import ConflictError, InputError
from detente.measures.inspection_report import load_report_file, render_html, verify_report
from detente.node import visits
from detente.node.inspection_report import build_report_file
from detente.node.inspections import find_visit, inspections_state, quota_states
from detente.node.writer import AppendResult
from detente.record.envelope import format_time
from detente.record.inventory import ItemRecord

__all__ = ["inspection_app"]

inspection_app = typer.Typer(help="Inspections and transparency visits.", no_args_is_help=True)

Ref = Annotated[str, typer.Argument(help="The inspection request, party:seq.")]


def _sent(result: AppendResult) -> None:
    envelope = result.envelopes[0]
    header = envelope.header
    typer.echo(f"sent {envelope.position} {header.type} to {', '.join(header.to)}")


def _ref(value: str) -> str:
    return parse_ref(value, option="REF")


@inspection_app.command("commit-inventory")
@command_errors
def commit_inventory(
    site: Annotated[str, typer.Option("--site", help="The site.")],
    file: Annotated[Path, typer.Option("--file", help="JSON list of item records.")],
    directory: DirOption = None,
) -> None:
    """Commit to a site's inventory: keep the records (0600), publish the root."""
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        fail(f"{file}: {e}")
    if not isinstance(raw, list):
        fail(f"{file}: a JSON list of records is expected")
    records = [ItemRecord.from_json(r, where=f"{file}[{i}]") for i, r in enumerate(raw)]
    with opened_node(directory) as node:
        _sent(visits.commit_inventory(node, site, records))


@inspection_app.command("request")
@command_errors
def request(
    inspection_type: Annotated[str, typer.Option("--type", help="The inspection type.")],
    site: Annotated[str, typer.Option("--site")],
    arrival: Annotated[str, typer.Option("--arrival", help="RFC 3339 UTC.")],
    team_size: Annotated[int, typer.Option("--team-size")],
    exercise: Annotated[bool, typer.Option("--exercise")] = False,
    directory: DirOption = None,
) -> None:
    """Ask for a visit (refused before signing if it does not fit or is beyond quota)."""
    when = parse_time(arrival, option="--arrival")
    with opened_node(directory) as node:
        _sent(visits.request_visit(node, inspection_type, site, when, team_size, exercise=exercise))


@inspection_app.command("status")
@command_errors
def status(
    ref: Annotated[str | None, typer.Argument(help="One visit, party:seq.")] = None,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Every visit and the quotas, or one visit (tables, or JSON with --format json)."""
    with opened_node(directory) as node:
        found = inspections_state(node) if ref is None else (find_visit(node, _ref(ref)),)
        quotas = quota_states(node, found) if ref is None else []
    if output is OutputFormat.json:
        if ref is not None:
            print_json(found[0].to_json())
            return
        print_json(
            {
                "inspections": [v.to_json() for v in found],
                "quotas": [q.to_json() for q in quotas],
            }
        )
        return
    print_table(
        "visits",
        ("ref", "type", "by → at", "site", "arrival", "state", "sample", "findings", "overdue"),
        [
            (
                v.ref,
                v.inspection_type,
                f"{v.inspecting} → {v.host}",
                v.site,
                "" if v.arrival is None else format_time(v.arrival),
                v.state if v.reason is None else f"{v.state}: {v.reason}",
                f"{len(v.sample)} of {v.commitment.size}" if v.commitment and v.sample else "",
                len(v.findings) if v.report() is not None else "",
                ", ".join(f"{o.step} ({o.party})" for o in v.overdue),
            )
            for v in found
        ],
    )
    if ref is not None:
        visit = found[0]
        out.print(f"sample (record indices): {visit.sample or '—'}", markup=False)
        for finding in visit.findings:
            out.print(f"finding: {json.dumps(finding, ensure_ascii=False)}", markup=False)
        for problem in visit.problems:
            out.print(f"problem: {problem}", markup=False)
    if quotas:
        print_table(
            "quotas",
            ("type", "by → at", "year", "used", "per year", "rights opened", "left"),
            [
                (
                    q.inspection_type,
                    f"{q.inspecting} → {q.inspected}",
                    q.year,
                    q.used,
                    q.per_year,
                    q.rights_opened or "",
                    q.left,
                )
                for q in quotas
            ],
        )


@inspection_app.command("commit")
@command_errors
def commit(ref: Ref, directory: DirOption = None) -> None:
    """Draw and keep this side's random value, send its commitment."""
    with opened_node(directory) as node:
        _sent(visits.commit_sample(node, _ref(ref)))


@inspection_app.command("reveal")
@command_errors
def reveal(ref: Ref, directory: DirOption = None) -> None:
    """Send this side's random value (the host first)."""
    with opened_node(directory) as node:
        _sent(visits.reveal_sample(node, _ref(ref)))


@inspection_app.command("step")
@command_errors
def step(
    ref: Ref,
    name: Annotated[str, typer.Argument(help="arrived, at_site or finished")],
    at: Annotated[str, typer.Option("--at", help="RFC 3339 UTC.")],
    directory: DirOption = None,
) -> None:
    """Record a step of the visit."""
    when = parse_time(at, option="--at")
    with opened_node(directory) as node:
        _sent(visits.record_step(node, _ref(ref), name, when))


@inspection_app.command("open")
@command_errors
def open_(ref: Ref, directory: DirOption = None) -> None:
    """As host, open exactly the sampled records."""
    with opened_node(directory) as node:
        _sent(visits.open_sample(node, _ref(ref)))


@inspection_app.command("finding")
@command_errors
def finding(
    ref: Ref,
    file: Annotated[Path, typer.Option("--file", help="JSON list of {index,status,contents}.")],
    directory: DirOption = None,
) -> None:
    """As inspectors, record what was seen at each sampled record."""
    try:
        observed = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        fail(f"{file}: {e}")
    if not isinstance(observed, list):
        fail(f"{file}: a JSON list is expected")
    with opened_node(directory) as node:
        _sent(visits.record_findings(node, _ref(ref), observed))


class ReportFormat(enum.StrEnum):
    """The report file's form: JSON for tools, HTML (the JSON embedded) for people."""

    json = "json"
    html = "html"


_MAX_REPORT_FILE = 16 * 1024 * 1024


@inspection_app.command("report")
@command_errors
def report(
    ref: Ref,
    sign: Annotated[bool, typer.Option("--sign", help="Sign it (send its SHA-256).")] = False,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write the report file, with its entries and proofs."),
    ] = None,
    file_format: Annotated[
        ReportFormat, typer.Option("--format", help="json, or html (the JSON embedded).")
    ] = ReportFormat.json,
    directory: DirOption = None,
) -> None:
    """Show the report the logs give (JSON), sign it with --sign, or write its file with --out."""
    with opened_node(directory) as node:
        if sign:
            _sent(visits.sign_report(node, _ref(ref)))
            return
        if out_file is not None:
            built = build_report_file(node, _ref(ref))
            text = (
                render_html(built)
                if file_format is ReportFormat.html
                else json.dumps(built, indent=2, sort_keys=True) + "\n"
            )
            try:
                out_file.write_text(text, encoding="utf-8")
            except OSError as e:
                raise InputError(f"{out_file}: cannot write: {e.strerror}") from e
            typer.echo(f"wrote the report of {built['report']['inspection']} to {out_file}")
            return
        visit = find_visit(node, _ref(ref))
        value = visit.report()
        if value is None:
            raise ConflictError(f"{visit.ref}: no report yet (state {visit.state})")
        print_json(
            {
                "report": value,
                "report_sha256": visit.report_sha256(),
                "entries": list(visit.entries),
            }
        )


@inspection_app.command("cancel")
@command_errors
def cancel(
    ref: Ref, reason: Annotated[str, typer.Option("--reason")], directory: DirOption = None
) -> None:
    """Call the visit off (either side)."""
    with opened_node(directory) as node:
        _sent(visits.cancel_visit(node, _ref(ref), reason=reason))


@inspection_app.command("refuse")
@command_errors
def refuse(
    ref: Ref, reason: Annotated[str, typer.Option("--reason")], directory: DirOption = None
) -> None:
    """As host, refuse the visit."""
    with opened_node(directory) as node:
        _sent(visits.refuse_visit(node, _ref(ref), reason=reason))


@inspection_app.command("delay")
@command_errors
def delay(
    ref: Ref,
    until: Annotated[str, typer.Option("--until", help="The new arrival, RFC 3339 UTC.")],
    reason: Annotated[str, typer.Option("--reason")],
    directory: DirOption = None,
) -> None:
    """As host, put the team's arrival off to a later time."""
    when = parse_time(until, option="--until")
    with opened_node(directory) as node:
        _sent(visits.delay_visit(node, _ref(ref), until=when, reason=reason))


@inspection_app.command("verify")
@command_errors
def verify(
    file: Annotated[Path, typer.Argument(help="A report file (JSON or HTML).")],
    key: Annotated[list[str], typer.Option("--key", help="A side's log verifier key (give both).")],
    agreement: Annotated[
        str | None,
        typer.Option(
            "--agreement",
            help="The agreement (built-in name or file) to take the sample plan from; "
            "default: the built-in the file names, else the plan in the file.",
        ),
    ] = None,
) -> None:
    """Check a report file offline with the two sides' public keys; exit 0 only if it holds."""
    value = load_report_file(read_capped(file, _MAX_REPORT_FILE), where=str(file))
    checked = verify_report(
        value,
        keys=[VerifierKey.from_text(k.strip()) for k in key],
        agreement=_agreement_for(value, agreement),
    )
    out.print(f"[bold green]OK[/]: {checked.summary()}")


def _agreement_for(value: object, given: str | None) -> Agreement | None:
    if given is not None:
        return resolve_agreement(given)
    meta = value.get("agreement") if isinstance(value, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    if isinstance(name, str) and name in builtin_names():
        return builtin_agreement(name)
    return None
