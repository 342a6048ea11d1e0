"""Compliance reports: the state of an agreement's obligations over a period, checkable offline.

A report file (docs/compliance.md, "Reports") is one JSON object::

    {"v": 1, "format": "detente-compliance-report",
     "report": {"agreement": {"id", "name", "title"}, "by": party,
                "period": {"from": day, "to": day}, "at": instant, "since": day,
                "record": {...}, "summary": {...}, "limits": [...],
                "obligations": [...], "disputes": [...], "quotas": [...],
                "skipped": [...]},
     "logs": {party: log bundle | null, ...}}

``logs`` carries, for each party, its whole log up to a checkpoint another
party cosigned (:mod:`detente.record.log_bundle`), with the bodies of the
entries the report rests on (:func:`report_types`) that the builder ``by``
holds. ``report`` is :func:`compile_report` over those logs: everything in
it is computed from them, so :func:`verify_compliance_report` recomputes it
with the agreement and the parties' public keys alone, and names the first
value that differs.

What the report judges: the entries created at or before ``at``, each
received when its recipient first cosigned a checkpoint containing it, if
that was at or before ``at`` (as :mod:`detente.node.measures` reads
receipts: the builder's own entries by each other party's cosignatures,
the others' entries by the builder's). The obligations are
:func:`~detente.measures.obligations.fold_obligations` at ``at``; those of
the period are the ones whose day lies in it: the ``as_of`` day of a
periodic exchange or of a declaration judged against a limit, else the day
the deadline falls on. Inspection quotas are those of the year of ``at``.

Example:
    >>> verify_compliance_report({"v": 2}, keys=[], agreement=None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    detente.errors.EncodingError: report file: not a version 1 compliance report
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from detente.agreement import Agreement
from detente.agreement.hotline import ACK_TYPE
from detente.crypto.keys import VerifierKey
from detente.errors import EncodingError, InputError, VerificationError
from detente.measures.entry import Entry
from detente.measures.inspections import (
    AMBIGUITY_TYPES,
    INSPECTION_MESSAGE_TYPES,
    all_quota_states,
    fold_inspections,
)
from detente.measures.obligations import Obligation, State, fold_obligations, obligation_types
from detente.record.envelope import format_time, parse_time
from detente.record.log_bundle import LogBundle, verify_log_bundle
from detente.record.report_file import json_object, json_text

__all__ = [
    "FORMAT",
    "CheckedComplianceReport",
    "Period",
    "compile_report",
    "first_difference",
    "inspection_types",
    "report_types",
    "ruled_types",
    "verify_compliance_report",
]

FORMAT = "detente-compliance-report"
_LAST_INSTANT = timedelta(microseconds=1)


def ruled_types(agreement: Agreement) -> frozenset[str]:
    """The message types a report judges: those the obligations fold reads
    (:func:`~detente.measures.obligations.obligation_types`) but the emergency
    line's, whose bodies go to their recipients only and never into a report
    (the line's acknowledgements are judged by ``detente hotline``)."""
    line = agreement.hotline
    private = set(line.acknowledged) | {ACK_TYPE} if line is not None else set()
    return obligation_types(agreement) - private


def inspection_types(agreement: Agreement) -> frozenset[str]:
    """The message types the inspections fold reads (for the quotas)."""
    return (INSPECTION_MESSAGE_TYPES | AMBIGUITY_TYPES) & frozenset(agreement.message_types)


def report_types(agreement: Agreement) -> frozenset[str]:
    """The message types a report rests on, whose bodies it carries."""
    return ruled_types(agreement) | inspection_types(agreement)


@dataclass(frozen=True)
class Period:
    """The days ``start`` to ``end``, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InputError(f"the period ends ({self.end}) before it starts ({self.start})")

    def holds(self, obligation: Obligation) -> bool:
        """Whether the obligation's day lies in the period (module docstring)."""
        if obligation.as_of is not None:
            day = obligation.as_of
        else:
            day = (obligation.due - _LAST_INSTANT).astimezone(UTC).date()
        return self.start <= day <= self.end

    def to_json(self) -> dict[str, str]:
        """``{"from": day, "to": day}``."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def _entries(logs: Mapping[str, LogBundle | None], *, by: str, at: datetime) -> Iterable[Entry]:
    """Every entry created by ``at``, with the receipts ``by``'s node sees, as of ``at``."""
    parties = sorted(logs)
    for party, bundle in sorted(logs.items()):
        if bundle is None:
            continue
        receivers = [p for p in parties if p != by] if party == by else [by]
        for envelope in bundle.envelopes:
            header = envelope.header
            if header.created_at > at:
                continue
            received: dict[str, datetime | None] = {}
            for receiver in receivers:
                when = bundle.received(receiver, header.seq)
                received[receiver] = when if when is not None and when <= at else None
            body = _parsed(bundle.bodies.get(header.seq))
            yield Entry(
                party=party,
                seq=header.seq,
                type=header.type,
                created=header.created_at,
                to=header.to,
                refs=header.refs,
                exercise=header.exercise,
                priority=header.priority,
                body=body if isinstance(body, dict) else None,
                received=received,
            )


def _parsed(raw: bytes | None) -> object:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None  # a body that is not JSON tells the engines nothing


def compile_report(
    agreement: Agreement,
    logs: Mapping[str, LogBundle | None],
    *,
    by: str,
    period: Period,
    at: datetime,
) -> dict[str, Any]:
    """The report over ``logs`` (module docstring), as built by ``by``'s node.

    Args:
        agreement: the agreement the logs are kept under.
        logs: each party's log bundle, None for a log not carried (counted empty).
        by: the party whose node builds it, whose receipts it sees.
        period: the days it reports on.
        at: the instant it judges at (aware).
    """
    entries = list(_entries(logs, by=by, at=at))
    starts = [b.envelopes[0].header.created_at.date() for b in logs.values() if b and b.envelopes]
    since = min(starts, default=at.astimezone(UTC).date())
    ruled = ruled_types(agreement)
    folded = fold_obligations(
        agreement, [e for e in entries if e.type in ruled], now=at, since=since
    )
    visits = fold_inspections(
        agreement, [e for e in entries if e.type in inspection_types(agreement)], now=at
    )
    mine = [o for o in folded.obligations if period.holds(o)]
    parties = sorted(agreement.party_ids())
    return {
        "agreement": {"id": agreement.id, "name": agreement.name, "title": agreement.title},
        "by": by,
        "period": period.to_json(),
        "at": format_time(at),
        "since": since.isoformat(),
        "record": {party: _record(logs.get(party)) for party in parties},
        "summary": _summary(mine, parties),
        "limits": _limits(agreement, mine),
        "obligations": [o.to_json() for o in mine],
        "disputes": _disputes(mine),
        "quotas": [q.to_json() for q in all_quota_states(agreement, visits, day=at)],
        "skipped": [s.to_json() for s in folded.skipped],
    }


def _record(bundle: LogBundle | None) -> dict[str, Any] | None:
    if bundle is None:
        return None
    return {
        "entries": bundle.size,
        "cosigned": [
            {"by": party, "at": format_time(datetime.fromtimestamp(stamp, UTC))}
            for party, stamp in bundle.cosigned_by()
        ],
    }


def _summary(obligations: Sequence[Obligation], parties: Sequence[str]) -> dict[str, Any]:
    counts = {p: {s.value: 0 for s in State} | {"late": 0} for p in parties}
    for o in obligations:
        row = counts.setdefault(o.party, {s.value: 0 for s in State} | {"late": 0})
        row[o.state.value] += 1
        row["late"] += int(o.late)
    return counts


def _limits(agreement: Agreement, obligations: Sequence[Obligation]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for limit in agreement.limits.values():
        judged = [o for o in obligations if o.rule == "limit" and o.limit == limit.id]
        out.append(
            {
                "limit": limit.id,
                "description": limit.description,
                "aggregate": limit.aggregate,
                "max": limit.max,
                "applies_to": list(limit.applies_to),
                "effective": limit.effective.isoformat(),
                "end": None if limit.end is None else limit.end.isoformat(),
                "declarations": [
                    {
                        "ref": o.trigger,
                        "party": o.party,
                        "as_of": None if o.as_of is None else o.as_of.isoformat(),
                        "value": o.value,
                        "state": o.state.value,
                        "disputed": [dict(d) for d in o.disputed],
                    }
                    for o in judged
                ],
            }
        )
    return out


def _disputes(obligations: Sequence[Obligation]) -> list[dict[str, Any]]:
    return [
        {
            "declaration": o.trigger,
            "party": o.party,
            "as_of": None if o.as_of is None else o.as_of.isoformat(),
            "limit": o.limit,
            "max": o.max,
            "declared": {"value": o.value, "state": o.state.value},
            "disputed": dict(position),
        }
        for o in obligations
        if o.rule == "limit"
        for position in o.disputed
    ]


def first_difference(claimed: object, computed: object, where: str) -> str | None:
    """The first place, in document order, where ``claimed`` is not ``computed``, or None.

    Objects are compared key by key (the computed keys first, in order),
    lists by length and then item by item, anything else by type and value.
    """
    if isinstance(computed, dict):
        if not isinstance(claimed, dict):
            return f"{where}: {_short(claimed)} in the file, an object recomputed"
        for key in [*computed, *(k for k in claimed if k not in computed)]:
            place = f"{where}.{key}"
            if key not in claimed:
                return f"{place}: missing from the file (recomputed: {_short(computed[key])})"
            if key not in computed:
                return f"{place}: in the file, but not in the report recomputed"
            found = first_difference(claimed[key], computed[key], place)
            if found is not None:
                return found
        return None
    if isinstance(computed, list):
        if not isinstance(claimed, list):
            return f"{where}: {_short(claimed)} in the file, a list recomputed"
        if len(claimed) != len(computed):
            return f"{where}: {len(claimed)} items in the file, {len(computed)} recomputed"
        for i, (mine, theirs) in enumerate(zip(claimed, computed, strict=True)):
            found = first_difference(mine, theirs, f"{where}[{i}]")
            if found is not None:
                return found
        return None
    if type(claimed) is not type(computed) or claimed != computed:
        return f"{where}: {_short(claimed)} in the file, {_short(computed)} recomputed"
    return None


def _short(value: object) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class CheckedComplianceReport:
    """What a compliance report file proves once verified."""

    agreement: str
    agreement_id: str
    by: str
    period: Period
    at: str
    logs: Mapping[str, Mapping[str, Any] | None]
    obligations: int
    violated: int
    overdue: int
    declarations: int
    disputes: int
    quotas: int

    def summary(self) -> str:
        """One paragraph for people."""
        carried = []
        for party, record in sorted(self.logs.items()):
            if record is None:
                carried.append(f"{party}: not carried, counted empty (unproven)")
                continue
            by = ", ".join(f"{c['by']} at {c['at']}" for c in record["cosigned"])
            carried.append(f"{party}: {record['entries']} entries, checkpoint cosigned by {by}")
        return (
            f"compliance report of {self.agreement} ({self.agreement_id}) from "
            f"{self.period.start} to {self.period.end}, judged at {self.at}, built by "
            f"{self.by}: every number recomputed from the logs ({'; '.join(carried)}); "
            f"{self.obligations} obligation(s) in the period ({self.violated} violated, "
            f"{self.overdue} overdue), {self.declarations} declaration(s) against limits, "
            f"{self.disputes} dispute(s), {self.quotas} inspection quota(s)"
        )


def verify_compliance_report(
    report_file: object, *, keys: Sequence[VerifierKey], agreement: Agreement | None
) -> CheckedComplianceReport:
    """Check a report file with the agreement and the parties' public log keys alone.

    Each party's log is checked (:func:`~detente.record.log_bundle.verify_log_bundle`:
    its checkpoint signed by its key and cosigned by another party, every
    entry up to it present, signed and linked, the bodies the report rests
    on present and matching their signed hashes, each inclusion proof), then
    the whole report is recomputed from those logs and compared, value by
    value, with the file's.

    Args:
        report_file: the parsed JSON of the file.
        keys: the parties' log keys, each named after its log's origin.
        agreement: the agreement (its id must be the report's); None when
            the checker has none, which is refused.

    Raises:
        EncodingError: the file is malformed.
        UnknownKeyError: no key is given for a log or a cosigner.
        SignatureError: a checkpoint, entry or cosignature does not verify.
        BodyError: a body does not match its signed hash, or is missing.
        VerificationError: a log is incomplete or not cosigned, the
            agreement is another, or a value of the report differs from the
            one recomputed (the message names it).
    """
    version = report_file.get("v") if isinstance(report_file, dict) else None
    if not isinstance(report_file, dict) or type(version) is not int or version != 1:
        raise EncodingError("report file: not a version 1 compliance report")
    if report_file.get("format") != FORMAT:
        raise EncodingError(f"report file: format is not {FORMAT!r}")
    extra = sorted(set(report_file) - {"v", "format", "report", "logs"})
    if extra:
        # Nothing rides along unverified beside a verified report.
        raise EncodingError(f"report file: unknown member {extra[0]!r}")
    report = json_object(report_file.get("report"), "report")
    meta = json_object(report.get("agreement"), "report.agreement")
    agreement_id = json_text(meta.get("id"), "report.agreement.id")
    if agreement is None:
        raise InputError(
            f"report.agreement: {meta.get('name')!r} ({agreement_id}) is not a built-in "
            "agreement: give its file to check the report against"
        )
    if agreement.id != agreement_id:
        raise VerificationError(
            f"report.agreement.id: the report is under agreement {agreement_id}, "
            f"not {agreement.name} ({agreement.id})"
        )
    parties = sorted(agreement.party_ids())
    by = json_text(report.get("by"), "report.by")
    if by not in parties:
        raise VerificationError(f"report.by: {by!r} is not a party of {agreement.name}")
    period = _period(report.get("period"))
    at = parse_time(json_text(report.get("at"), "report.at"), field_name="report.at")
    logs = json_object(report_file.get("logs"), "logs")
    if sorted(logs) != parties:
        raise VerificationError(
            f"logs: carries {', '.join(sorted(logs)) or 'none'}, not every party's log "
            f"({', '.join(parties)}; null for one not carried)"
        )
    body_types = report_types(agreement)
    bundles: dict[str, LogBundle | None] = {}
    for party in parties:
        value = logs[party]
        bundles[party] = (
            None
            if value is None
            else verify_log_bundle(
                value,
                party=party,
                agreement_id=agreement_id,
                keys=keys,
                cosigners=[p for p in parties if p != by] if party == by else [by],
                body_types=body_types,
                holder=by,
                where=f"logs.{party}",
                parties=parties,
            )
        )
    computed = compile_report(agreement, bundles, by=by, period=period, at=at)
    difference = first_difference(report, computed, "report")
    if difference is not None:
        raise VerificationError(difference)
    obligations = computed["obligations"]
    return CheckedComplianceReport(
        agreement=agreement.name,
        agreement_id=agreement.id,
        by=by,
        period=period,
        at=computed["at"],
        logs=computed["record"],
        obligations=len(obligations),
        violated=sum(1 for o in obligations if o["state"] == State.VIOLATED.value),
        overdue=sum(1 for o in obligations if o["state"] == State.OVERDUE.value),
        declarations=sum(len(limit["declarations"]) for limit in computed["limits"]),
        disputes=len(computed["disputes"]),
        quotas=len(computed["quotas"]),
    )


def _period(value: object) -> Period:
    period = json_object(value, "report.period")
    days: list[date] = []
    for name in ("from", "to"):
        text = period.get(name)
        try:
            day = date.fromisoformat(str(text))
        except ValueError:
            day = None
        if day is None or day.isoformat() != text:
            raise EncodingError(f"report.period.{name}: {text!r} is not a day YYYY-MM-DD")
        days.append(day)
    try:
        return Period(days[0], days[1])
    except InputError as e:
        raise EncodingError(f"report.period: {e}") from e
