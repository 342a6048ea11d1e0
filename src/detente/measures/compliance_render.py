"""A compliance report for people: charts of declared numbers against limits, HTML and PDF.

Everything is drawn from the report file's ``report`` object
(:mod:`detente.measures.compliance_report`). Each limit gets one chart: the
aggregate each party declared over the period, a line per party, the limit
as a dashed horizontal line, and each disputing party's value as a cross at
the declaration's day. Charts are drawn with matplotlib on its Agg canvas,
without pyplot, one drawing at a time (matplotlib's settings are global).

- :func:`render_html`: one page, no external assets (the charts are inline
  SVG), with the whole file embedded in a ``<script
  type="application/json">`` element, so the page verifies like the JSON
  (:func:`load_compliance_file`).
- :func:`render_pdf`: a page of summary text, then one page per chart.
  It carries no data to verify: check the JSON or the HTML.

matplotlib is imported when a chart is drawn, not when this module is, so
commands that draw nothing do not pay for it.

Example:
    >>> load_compliance_file(b"<!doctype html><p>no data</p>")
    Traceback (most recent call last):
    ...
    detente.errors.EncodingError: report file: an HTML file without the embedded report
"""

from __future__ import annotations

import enum
import html
import io
import json
import re
import textwrap
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

from detente.errors import TooLargeError
from detente.record.report_file import MAX_REPORT_FILE, embed_json, load_embedded_json

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ReportFormat",
    "limit_chart_svg",
    "load_compliance_file",
    "render",
    "render_html",
    "render_pdf",
]

_SCRIPT_ID = "detente-compliance-report"
_DRAWING = threading.Lock()
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
_PDF_LINES = 58
_STATES = ("met", "late", "due", "overdue", "violated", "suspended", "not_in_force")
_MISSED = ("overdue", "violated", "suspended")


class ReportFormat(enum.StrEnum):
    """A report file's form: JSON for tools, HTML (the JSON embedded) for people, PDF for paper."""

    json = "json"
    html = "html"
    pdf = "pdf"


def render(report_file: Mapping[str, Any], file_format: ReportFormat) -> bytes:
    """The report file in ``file_format``; JSON is indented, keys sorted.

    Raises:
        TooLargeError: the JSON is larger than a verifier reads (64 MiB).
    """
    data = (json.dumps(report_file, indent=1, sort_keys=True) + "\n").encode()
    if len(data) > MAX_REPORT_FILE:
        raise TooLargeError(
            f"the report is {len(data)} bytes, more than the {MAX_REPORT_FILE} a verifier reads"
        )
    if file_format is ReportFormat.html:
        return render_html(report_file).encode()
    if file_format is ReportFormat.pdf:
        return render_pdf(report_file)
    return data


def load_compliance_file(data: bytes, *, where: str = "report file") -> object:
    """The report JSON from a file's bytes: a JSON file, or the HTML that embeds it.

    Raises:
        EncodingError: neither JSON nor an HTML report with the JSON embedded.
    """
    return load_embedded_json(data, script_id=_SCRIPT_ID, where=where)


@contextmanager
def _matplotlib() -> Iterator[None]:
    """Draw under Détente's settings, one drawing at a time: matplotlib's settings are
    global, and a server draws in several threads."""
    import matplotlib  # heavy: imported only to draw

    # Fixed ids (hashsalt) and text as text: the same report draws the same SVG.
    with (
        _DRAWING,
        matplotlib.rc_context({"svg.hashsalt": "detente", "svg.fonttype": "none", "font.size": 9}),
    ):
        yield


def _limit_figure(limit: Mapping[str, Any], period: Mapping[str, Any]) -> Figure:
    """The chart of one limit over the period: a line per party, the limit, disputed
    values as crosses."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import DateFormatter, date2num
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    declarations = list(limit.get("declarations") or [])
    highest = int(limit["max"])
    for party in sorted({str(d["party"]) for d in declarations}):
        points = sorted(
            (date.fromisoformat(str(d["as_of"])), int(d["value"]))
            for d in declarations
            if d["party"] == party and d.get("value") is not None
        )
        if points:
            days, values = zip(*points, strict=True)
            axes.plot(days, values, marker="o", label=f"declared by {party}")
            highest = max(highest, *(v for _, v in points))
    disputed: dict[str, list[tuple[date, int]]] = {}
    for d in declarations:
        for position in d.get("disputed") or []:
            point = (date.fromisoformat(str(d["as_of"])), int(position["value"]))
            disputed.setdefault(str(position["by"]), []).append(point)
    for marker, (by, points) in zip("XPD*", sorted(disputed.items()), strict=False):
        days, values = zip(*sorted(points), strict=True)
        axes.scatter(
            days,
            values,
            marker=marker,
            s=70,
            color="black",
            zorder=3,
            label=f"disputed by {by}",
        )
        highest = max(highest, *(v for _, v in points))
    most = int(limit["max"])
    axes.axhline(most, color="#b00020", linestyle="--", label=f"limit {most:,}")
    axes.set_ylim(0, highest * 1.15 or 1)
    start = date2num(date.fromisoformat(str(period["from"])))  # type: ignore[no-untyped-call]
    end = date2num(date.fromisoformat(str(period["to"])))  # type: ignore[no-untyped-call]
    axes.set_xlim(start, max(end, start + 1))
    axes.set_ylabel(str(limit["aggregate"]))
    axes.set_title(f"{limit['limit']}: declared against the limit")
    axes.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))  # type: ignore[no-untyped-call]
    if not declarations:
        axes.text(0.5, 0.5, "no declaration in the period", ha="center", transform=axes.transAxes)
    axes.legend(loc="lower left", fontsize="small")
    axes.grid(alpha=0.3)
    figure.autofmt_xdate()
    return figure


def limit_chart_svg(limit: Mapping[str, Any], period: Mapping[str, Any]) -> str:
    """One limit's chart over the period as an inline ``<svg>`` element (no XML prolog,
    no metadata)."""
    with _matplotlib():
        buffer = io.StringIO()
        _limit_figure(limit, period).savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return _METADATA.sub("", text[text.index("<svg") :])


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _table(headings: Sequence[str], rows: Sequence[Sequence[object]], empty: str) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headings)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    if not rows:
        body = f'<tr><td colspan="{len(headings)}">{_esc(empty)}</td></tr>'
    return f"<table><tr>{head}</tr>{body}</table>"


def _state(item: Mapping[str, Any]) -> str:
    return str(item.get("state", "")).replace("_", " ") + (" (late)" if item.get("late") else "")


def _headline(report: Mapping[str, Any]) -> list[str]:
    agreement = report.get("agreement") or {}
    period = report.get("period") or {}
    record = []
    for party, held in sorted((report.get("record") or {}).items()):
        if held is None:
            record.append(f"{party}: not carried (counted empty)")
            continue
        cosigned = ", ".join(f"{c['by']} at {c['at']}" for c in held.get("cosigned") or [])
        record.append(f"{party}: {held['entries']} entries, checkpoint cosigned by {cosigned}")
    return [
        f"Agreement {agreement.get('name')} ({agreement.get('id')})",
        f"Period {period.get('from')} to {period.get('to')}, judged at {report.get('at')}, "
        f"built on {report.get('by')}'s node; record since {report.get('since')}",
        "Logs: " + "; ".join(record),
    ]


def _summary_rows(report: Mapping[str, Any]) -> list[list[object]]:
    return [
        [party, *(counts.get(s, 0) for s in _STATES)]
        for party, counts in sorted((report.get("summary") or {}).items())
    ]


def _obligation_rows(report: Mapping[str, Any]) -> list[list[object]]:
    return [
        [
            o["party"],
            o["type"],
            o["rule"],
            o.get("as_of") or o.get("trigger") or "",
            o["due"],
            _state(o),
            o.get("met_by") or o.get("suspended_by") or o.get("pending") or "",
        ]
        for o in report.get("obligations") or []
        if o.get("rule") != "limit"
    ]


def _dispute_rows(report: Mapping[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = []
    for d in report.get("disputes") or []:
        declared, disputed = d["declared"], d["disputed"]
        rows.append(
            [
                f"{d['party']} {d['declaration']} as of {d['as_of']}",
                d["limit"],
                d["max"],
                f"{declared['value']} ({declared['state']})",
                f"{disputed['by']} {disputed['ref']}",
                f"{disputed['value']} ({disputed['state']})",
                disputed.get("text", ""),
            ]
        )
    return rows


def _quota_rows(report: Mapping[str, Any]) -> list[list[object]]:
    return [
        [
            q["inspection_type"],
            q["inspecting"],
            q["inspected"],
            q["year"],
            f"{q['used']} of {q['per_year']}",
            q["left"],
        ]
        for q in report.get("quotas") or []
    ]


def render_html(report_file: Mapping[str, Any]) -> str:
    """The report for people: one HTML page, no external assets, the JSON embedded."""
    report: Mapping[str, Any] = report_file.get("report") or {}
    agreement = report.get("agreement") or {}
    title = f"Compliance report: {agreement.get('title', '')}"
    limits = []
    for limit in report.get("limits") or []:
        rows = [
            [
                d["as_of"],
                d["party"],
                d["ref"],
                d["value"],
                _state(d),
                "; ".join(
                    f"{p['by']} ({p['ref']}): {p['value']} ({p['state']})"
                    for p in d.get("disputed") or []
                ),
            ]
            for d in limit.get("declarations") or []
        ]
        limits.append(
            f"<h3>{_esc(limit['limit'])}: at most {_esc(limit['max'])} "
            f"({_esc(limit['aggregate'])})</h3>"
            f"<p>{_esc(limit.get('description'))} In force from {_esc(limit['effective'])}"
            f"{' until ' + _esc(limit['end']) + ' (exclusive)' if limit.get('end') else ''}"
            f".</p><figure>{limit_chart_svg(limit, report.get('period') or {})}</figure>"
            + _table(
                ["as of", "party", "declaration", "value", "state", "disputed"],
                rows,
                "No declaration in the period.",
            )
        )
    headline = "".join(f"<p>{_esc(line)}</p>" for line in _headline(report))
    summary = _table(
        ["party", *(s.replace("_", " ") for s in _STATES)], _summary_rows(report), "None."
    )
    obligations = _table(
        ["party", "type", "rule", "for", "due", "state", "decided by"],
        _obligation_rows(report),
        "No obligation in the period.",
    )
    disputes = _table(
        ["declaration", "limit", "max", "declared", "disputed by", "their value", "reasons"],
        _dispute_rows(report),
        "No dispute in the period.",
    )
    quotas = _table(
        ["type", "inspecting", "inspected", "year", "used", "left"],
        _quota_rows(report),
        "The agreement sets no inspection quota.",
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{_esc(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;color:#111}}
table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #999;padding:.3rem .6rem;
text-align:left;vertical-align:top}}figure{{margin:1rem 0}}svg{{max-width:100%;height:auto}}
</style></head><body>
<h1>{_esc(title)}</h1>
{headline}
<h2>Summary: obligations of the period by state</h2>
{summary}
<h2>Declared numbers against limits</h2>
{"".join(limits) or "<p>The agreement sets no limit.</p>"}
<h2>Obligations met and missed in the period</h2>
{obligations}
<h2>Disputes</h2>
{disputes}
<h2>Inspection quotas used</h2>
{quotas}
<p>Check this file offline: <code>detente report verify FILE --key KEY …</code> with every
party's log key (and <code>--agreement FILE</code> unless it is a built-in). The data is
embedded below.</p>
{embed_json(report_file, script_id=_SCRIPT_ID)}
</body></html>
"""


def _pdf_text(report: Mapping[str, Any]) -> list[str]:
    agreement = report.get("agreement") or {}
    lines = [f"Compliance report: {agreement.get('title', '')}", "", *_headline(report), ""]
    lines.append("Obligations of the period by state")
    lines.append(f"{'party':<10}" + "".join(f"{s:>13}" for s in _STATES))
    for row in _summary_rows(report):
        lines.append(f"{row[0]!s:<10}" + "".join(f"{c!s:>13}" for c in row[1:]))
    lines += ["", "Declarations against limits"]
    for limit in report.get("limits") or []:
        for d in limit.get("declarations") or []:
            text = f"  {limit['limit']} {d['party']} {d['as_of']}: {d['value']} of {limit['max']}"
            text += f" ({d['state']})" + "".join(
                f"; {p['by']} counts {p['value']} ({p['state']})" for p in d.get("disputed") or []
            )
            lines.append(text)
    missed = [
        o
        for o in report.get("obligations") or []
        if o.get("rule") != "limit" and (o["state"] in _MISSED or o.get("late"))
    ]
    lines += ["", "Obligations missed or late"]
    lines += [
        f"  {o['party']} {o['type']} for {o.get('as_of') or o.get('trigger')} due {o['due']}: "
        f"{_state(o)}"
        for o in missed
    ] or ["  none"]
    lines += ["", "Inspection quotas used"]
    lines += [
        f"  {q[0]} by {q[1]} at {q[2]}, year {q[3]}: {q[4]} used, {q[5]} left"
        for q in _quota_rows(report)
    ] or ["  none"]
    lines += [
        "",
        "This PDF carries no data to verify: check the JSON or HTML report with",
        "detente report verify FILE --key KEY ...",
    ]
    lines = [part for line in lines for part in _wrapped(line)]
    if len(lines) > _PDF_LINES:
        more = len(lines) - _PDF_LINES + 1
        lines = lines[: _PDF_LINES - 1]
        lines.append(f"... and {more} more lines: see the JSON or HTML report")
    return lines


def _wrapped(line: str) -> list[str]:
    return textwrap.wrap(line, 110, subsequent_indent="    ") or [""]


def render_pdf(report_file: Mapping[str, Any]) -> bytes:
    """The report on paper: a page of summary text, then one page per limit's chart."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    report: Mapping[str, Any] = report_file.get("report") or {}
    buffer = io.BytesIO()
    with _matplotlib(), PdfPages(buffer, metadata={"CreationDate": None}) as pages:
        page = Figure(figsize=(8.27, 11.69))
        FigureCanvasAgg(page)
        page.text(
            0.06,
            0.96,
            "\n".join(_pdf_text(report)),
            family="monospace",
            fontsize=7,
            va="top",
            linespacing=1.5,
        )
        pages.savefig(page)
        for limit in report.get("limits") or []:
            pages.savefig(_limit_figure(limit, report.get("period") or {}))
    return buffer.getvalue()
