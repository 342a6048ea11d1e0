"""``detente agreement``: list, show, validate and compare agreements.

Example (shell)::

    detente agreement list
    detente agreement show new-start --on 2025-01-01
    detente agreement validate my-treaty.toml --format json
    detente agreement diff russia-draft-2021 security-replies-2022
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from detente.agreement import (
    AfterEvent,
    AfterMessage,
    Agreement,
    AgreementDiff,
    AllSample,
    BeforeEvent,
    ClauseDiff,
    DetectionSample,
    FieldDiff,
    FixedSample,
    MessageType,
    Priority,
    builtin_agreement,
    builtin_names,
    diff_agreements,
    load_agreement,
    resolve_agreement,
)
from detente.cli._output import (
    FormatOption,
    OutputFormat,
    command_errors,
    out,
    print_json,
    print_table,
)
from detente.errors import AgreementError

__all__ = ["agreement_app"]

agreement_app = typer.Typer(
    help="Agreements: list the built-in ones, show one, validate a TOML file, compare two.",
    no_args_is_help=True,
)

_ID_PREFIX = 16
_HEX_PREFIX = re.compile(r"^[0-9a-f]{8,64}$")

AgreementArgument = Annotated[
    str,
    typer.Argument(
        metavar="ID_OR_PATH",
        help="A built-in name (e.g. new-start), a built-in's id or id prefix, or a TOML file.",
    ),
]
OnOption = Annotated[
    str | None,
    typer.Option("--on", metavar="YYYY-MM-DD", help="Day for limit status (default: today)."),
]


@agreement_app.command("list")
@command_errors
def list_agreements(fmt: FormatOption = OutputFormat.text) -> None:
    """List the built-in agreements with their parties and ids."""
    agreements = [builtin_agreement(name) for name in builtin_names()]
    if fmt is OutputFormat.json:
        print_json(
            [
                {
                    "name": a.name,
                    "title": a.title,
                    "version": a.version,
                    "parties": sorted(a.party_ids()),
                    "id": a.id,
                }
                for a in agreements
            ]
        )
        return
    print_table(
        "Built-in agreements",
        ["name", "title", "parties", "id"],
        [
            (a.name, a.title, ", ".join(p.id for p in a.parties), a.id[:_ID_PREFIX] + "…")
            for a in agreements
        ],
    )


@agreement_app.command("show")
@command_errors
def show(
    agreement: AgreementArgument,
    on: OnOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Show an agreement: parties, counts, limits, message types, sites, zones, id."""
    day = _day(on)
    a = _find(agreement)
    if fmt is OutputFormat.json:
        print_json(
            {
                "id": a.id,
                "status_on": day.isoformat(),
                "limit_status": {lid: lim.status_on(day) for lid, lim in a.limits.items()},
                "agreement": a.model_dump(mode="json"),
            }
        )
        return
    _show_text(a, day)


@agreement_app.command("validate")
@command_errors
def validate(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The agreement TOML file.")],
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Check an agreement file; print its name and id, or what is wrong (exit 1)."""
    try:
        a = load_agreement(file)
    except AgreementError as e:
        if fmt is OutputFormat.json:
            print_json({"ok": False, "file": str(file), "error": str(e)})
            raise typer.Exit(1) from e
        raise
    if fmt is OutputFormat.json:
        print_json({"ok": True, "file": str(file), "name": a.name, "id": a.id})
        return
    out.print(f"OK {a.name} {a.id}", markup=False)


@agreement_app.command("diff")
@command_errors
def diff(
    first: Annotated[
        str,
        typer.Argument(
            metavar="A", help="A built-in name, a built-in's id prefix, or a TOML file."
        ),
    ],
    second: Annotated[
        str,
        typer.Argument(metavar="B", help="The agreement to compare A with, given the same way."),
    ],
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Compare two agreements clause by clause: what each lacks, and what differs.

    Exits 0 whatever the differences; 1 when either agreement does not load.
    """
    result = diff_agreements(_side("A", first), _side("B", second))
    if fmt is OutputFormat.json:
        print_json(result.to_json())
        return
    _diff_text(result)


# --- helpers ------------------------------------------------------------------


def _day(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date (YYYY-MM-DD)", param_hint="--on"
        ) from None


def _find(name_or_path: str) -> Agreement:
    """A built-in by name or id prefix, else a file."""
    if name_or_path not in builtin_names() and _HEX_PREFIX.match(name_or_path):
        matches = [
            builtin_agreement(n)
            for n in builtin_names()
            if builtin_agreement(n).id.startswith(name_or_path)
        ]
        if len(matches) == 1:
            return matches[0]
    return resolve_agreement(name_or_path)


def _side(side: str, name_or_path: str) -> Agreement:
    try:
        return _find(name_or_path)
    except AgreementError as e:
        raise AgreementError(f"agreement {side} ({name_or_path}) did not load: {e}") from e


_VALUE_WIDTH = 60


def _diff_text(result: AgreementDiff) -> None:
    columns = ("id", "what", f"A: {result.a_name}", f"B: {result.b_name}")
    out.print(f"A  {result.a_name}  {result.a_id[:_ID_PREFIX]}…", markup=False)
    out.print(f"B  {result.b_name}  {result.b_id[:_ID_PREFIX]}…", markup=False)
    same, neither = [], []
    for clause in result.clauses:
        if not clause.is_empty():
            table = Table(title=clause.title, title_justify="left")
            for column in columns:
                table.add_column(column, overflow="fold")
            for row in _diff_rows(clause):
                table.add_row(*row)
            out.print(table)
        elif clause.in_both:
            same.append(clause.title.lower())
        else:
            neither.append(clause.title.lower())
    if result.is_empty():
        out.print("No differences in any clause.", markup=False)
    if same:
        out.print(f"The same in both: {', '.join(same)}.", markup=False)
    if neither:
        out.print(f"In neither: {', '.join(neither)}.", markup=False)


def _diff_rows(clause: ClauseDiff) -> list[tuple[str, ...]]:
    rows = [(i, "only in A", clause.labels.get(i, ""), "") for i in clause.only_a]
    rows += [(i, "only in B", "", clause.labels.get(i, "")) for i in clause.only_b]
    for item in clause.differ:
        rows += [(item.id, *_field_cells(f)) for f in item.fields]
    return [tuple(escape(cell) for cell in row) for row in rows]


def _field_cells(f: FieldDiff) -> tuple[str, str, str]:
    what = f.field if f.note is None else f"{f.field} ({f.note})"
    if f.note is not None and f.note.endswith("(compared as whole values)"):
        return what, _value(f.a, short=True), _value(f.b, short=True)
    return what, _value(f.a), _value(f.b)


def _value(value: Any, *, short: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    if short and isinstance(value, dict | list):
        return "(see --format json)" if len(text) > _VALUE_WIDTH else text
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"


def _show_text(a: Agreement, day: date) -> None:
    out.print(f"{a.name}: {a.title} (version {a.version})", markup=False)
    out.print(f"id {a.id}", markup=False)
    if a.includes:
        out.print(f"includes {', '.join(a.includes)}", markup=False)
    out.print(f"clock skew allowed {a.skew_seconds} s", markup=False)
    if a.two_person_release:
        out.print(f"two-person release {', '.join(a.two_person_release)}", markup=False)
    print_table("Parties", ["id", "name"], [(p.id, p.name) for p in a.parties])
    if a.categories:
        print_table(
            "Categories",
            ["id", "name", "unit"],
            [(c.id, c.name, c.unit) for c in a.categories.values()],
        )
    if a.counting_rules:
        print_table(
            "Counting rules",
            ["id", "sum of", "article"],
            [
                (r.id, " + ".join(_term(c, w) for c, w in r.terms.items()), r.article)
                for r in a.counting_rules.values()
            ],
        )
    if a.limits:
        print_table(
            f"Limits (status on {day.isoformat()})",
            ["id", "aggregate", "max", "from", "until (excl.)", "status", "applies to"],
            [
                (
                    lim.id,
                    lim.aggregate,
                    lim.max,
                    lim.effective.isoformat(),
                    lim.end.isoformat() if lim.end else "",
                    lim.status_on(day).replace("_", " "),
                    ", ".join(lim.applies_to),
                )
                for lim in a.limits.values()
            ],
        )
    print_table(
        "Message types",
        ["id", "senders", "priority", "due", "article"],
        [
            (m.id, ", ".join(m.senders), m.priority.value, _due(m), m.article)
            for m in a.message_types.values()
        ],
    )
    if a.inspection_types:
        print_table(
            "Inspection types",
            ["id", "name", "quota now", "notice", "sites", "sample"],
            [
                (
                    i.id,
                    i.name,
                    f"{i.per_year_on(day)} a year",
                    f"{i.notice_hours} h",
                    ", ".join(i.sites) or "any",
                    _sample(i.sample),
                )
                for i in a.inspection_types.values()
            ],
        )
    if a.sites:
        print_table(
            "Sites",
            ["id", "name", "country", "party", "lat, lon", "declared"],
            [
                (
                    s.id,
                    s.name,
                    s.country,
                    s.party,
                    f"{s.lat}, {s.lon}",
                    ", ".join(f"{h.count} {c}" for c, h in s.declared.items()),
                )
                for s in a.sites.values()
            ],
        )
    if a.zones:
        print_table(
            "Zones",
            ["id", "name", "geometry"],
            [(z.id, z.name, z.geometry.type) for z in a.zones.values()],
        )
    if a.hotline is not None:
        hotline = a.hotline
        rows: list[tuple[Any, ...]] = [
            (p.value, _span(hotline.ack_deadline(p))) for p in Priority if p in hotline.ack
        ]
        rows.append(("link test every", _span(hotline.link_test_interval.delta)))
        print_table("Hotline", ["priority", "acknowledge within"], rows)
    if a.incident_thresholds is not None:
        t = a.incident_thresholds
        rows = [("every pair", t.horizontal_metres, t.vertical_metres, t.horizon_seconds)]
        rows += [
            (name, x.horizontal_metres, x.vertical_metres, x.horizon_seconds)
            for name, x in (("ships (sea)", t.sea), ("with an aircraft (air)", t.air))
            if x is not None
        ]
        print_table(
            "Incident thresholds",
            ["pairs", "horizontal", "vertical", "horizon"],
            [(w, f"{h} m", "-" if v is None else f"{v} m", f"{s} s") for w, h, v, s in rows],
        )


def _term(category: str, weight: int) -> str:
    return category if weight == 1 else f"{weight} x {category}"


def _due(m: MessageType) -> str:
    parts = []
    rule = m.deadline
    if isinstance(rule, AfterEvent):
        parts.append(f"{_span(rule.delta)} after {rule.event_field}")
    elif isinstance(rule, BeforeEvent):
        parts.append(f"{_span(rule.delta)} before {rule.event_field}")
    elif isinstance(rule, AfterMessage):
        parts.append(f"{_span(rule.delta)} after {rule.message_type}")
    if m.periodic is not None:
        as_of = " and ".join(m.periodic.as_of)
        parts.append(f"data as of {as_of}, due {m.periodic.due_days} days later")
    return "; ".join(parts)


def _sample(plan: AllSample | FixedSample | DetectionSample) -> str:
    if isinstance(plan, FixedSample):
        return f"{plan.size} at random"
    if isinstance(plan, DetectionSample):
        return f"{plan.probability:.0%} to find {plan.assumed_bad}"
    return "all"


def _span(delta: timedelta | None) -> str:
    if delta is None:
        return ""
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"
