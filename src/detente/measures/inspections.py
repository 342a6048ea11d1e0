"""Inspections and transparency visits: the state of each, a fold over the logs.

A visit is a run of messages in the two parties' logs, each citing the
request in ``refs`` (docs/inspections.md):

1. the host's ``inventory-commitment`` for the site, in its log *before*
   the request (the order that keeps the host from fitting its inventory to
   a sample it already knows);
2. the ``inspection-request`` (type, site, planned arrival, team size),
   checked here against the inspection type: who may ask whom, the site,
   the team size, the notice, and the quota (the yearly quota of the type
   for the inspected party, the cap per requesting party, and rights opened
   by the other side's visits of the type named in ``opened_by``); a request
   that fails is ``rejected`` with the reason, the quota's state in it;
3. ``sample-commit`` from each side, then ``sample-reveal``: the host first,
   once both have committed, then the inspectors, once the host has
   revealed, each within ``reveal_hours``; a side that withholds its reveal
   past that forfeits the visit (``forfeited``, a refusal on its part), and
   the other's value is never used alone. The seed is
   :func:`~detente.measures.sampling.derive_seed` over the request and both
   values, and the sample the :func:`~detente.measures.sampling.select` of
   it over the committed inventory;
4. ``inspection-step`` ``arrived`` (at the point of entry, not before the
   planned arrival, which a host's ``inspection-delay`` may put off),
   ``at_site`` (within ``transit_hours``), ``finished``;
5. the host's ``inventory-opening`` of exactly the sampled records, the
   inspectors' ``inspection-findings`` of what they saw at each, the
   findings computed from both (:func:`~detente.record.inventory_findings.compare_sample`);
6. an ``inspection-report`` from each side carrying the SHA-256 of the
   report (:meth:`Inspection.report`): the visit is ``closed`` once both
   have signed the one the logs give; within ``max_duration_hours`` of
   reaching the site.

Refusals and cancellations are messages with reasons. A step not taken by
its deadline is an overdue obligation on the side that owes it
(:attr:`Inspection.overdue`). Quota: a request counts against the quota
unless it was rejected, refused or forfeited by the host, or called off by
the host, or by the inspectors before the host revealed (after that,
calling off and asking again would let the inspectors choose among
samples, so it counts). Years are calendar years for quotas by date,
treaty years from ``quota_start`` otherwise.

Example:
    >>> from detente.agreement import builtin_agreement
    >>> fold_inspections(builtin_agreement("missile-site-transparency-2022"), [],
    ...                  now=datetime(2026, 3, 1, tzinfo=UTC))
    ()
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from detente.agreement import Agreement, InspectionType
from detente.agreement.deadlines import AfterMessage
from detente.crypto.canonical import canonical_json
from detente.errors import DetenteError
from detente.measures.entry import Entry
from detente.measures.hotline import parse_body_time
from detente.measures.sampling import derive_seed, sample_size, select, verify_reveal
from detente.record.envelope import format_time
from detente.record.inventory import Opening, PublishedCommitment
from detente.record.inventory_findings import compare_sample

__all__ = [
    "COMMITMENT_TYPE",
    "AMBIGUITY_TYPES",
    "INSPECTION_MESSAGE_TYPES",
    "REQUEST_TYPE",
    "Inspection",
    "Overdue",
    "QuotaState",
    "all_quota_states",
    "fold_inspections",
    "quota_state",
    "sample_for",
]

COMMITMENT_TYPE = "inventory-commitment"
REQUEST_TYPE = "inspection-request"
REFUSAL_TYPE = "inspection-refusal"
DELAY_TYPE = "inspection-delay"
CANCEL_TYPE = "inspection-cancel"
COMMIT_TYPE = "sample-commit"
REVEAL_TYPE = "sample-reveal"
STEP_TYPE = "inspection-step"
OPENING_TYPE = "inventory-opening"
FINDINGS_TYPE = "inspection-findings"
REPORT_TYPE = "inspection-report"
AMBIGUITY_TYPE = "ambiguity"
AMBIGUITY_REPLY_TYPE = "ambiguity-reply"
#: Ambiguities and their replies: read by the fold, whatever the visit's state.
AMBIGUITY_TYPES = frozenset({AMBIGUITY_TYPE, AMBIGUITY_REPLY_TYPE})
# When the agreement gives the reply no deadline (inspection-messages: 7 days).
_REPLY_DAYS = 7
#: Every type the fold reads.
INSPECTION_MESSAGE_TYPES = frozenset(
    {
        COMMITMENT_TYPE,
        REQUEST_TYPE,
        REFUSAL_TYPE,
        DELAY_TYPE,
        CANCEL_TYPE,
        COMMIT_TYPE,
        REVEAL_TYPE,
        STEP_TYPE,
        OPENING_TYPE,
        FINDINGS_TYPE,
        REPORT_TYPE,
    }
)

_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class QuotaState:
    """Where a requesting party stands against a type's quota in one year."""

    inspection_type: str
    inspecting: str
    inspected: str
    year: int
    per_year: int
    used: int
    per_party_cap: int | None
    used_by_party: int
    rights_opened: int
    rights_used: int

    @property
    def left(self) -> int:
        """Visits still allowed this year (quota, then rights opened by the other side)."""
        by_quota = self.per_year - self.used
        if self.per_party_cap is not None:
            by_quota = min(by_quota, self.per_party_cap - self.used_by_party)
        return max(by_quota, 0) + max(self.rights_opened - self.rights_used, 0)

    def describe(self) -> str:
        """One line, for errors and pages."""
        text = (
            f"{self.inspection_type} by {self.inspecting} at {self.inspected} in {self.year}: "
            f"{self.used} of {self.per_year} used"
        )
        if self.per_party_cap is not None:
            text += f", {self.used_by_party} of {self.per_party_cap} from {self.inspecting}"
        if self.rights_opened:
            text += f", {self.rights_opened - self.rights_used} of {self.rights_opened} rights left"
        return text

    def to_json(self) -> dict[str, Any]:
        """As the API shows it."""
        return {
            "inspection_type": self.inspection_type,
            "inspecting": self.inspecting,
            "inspected": self.inspected,
            "year": self.year,
            "per_year": self.per_year,
            "used": self.used,
            "per_party_cap": self.per_party_cap,
            "used_by_party": self.used_by_party,
            "rights_opened": self.rights_opened,
            "rights_used": self.rights_used,
            "left": self.left,
        }


@dataclass(frozen=True)
class Overdue:
    """A step one side owes and has not taken by its deadline."""

    party: str
    step: str
    due: datetime

    def to_json(self) -> dict[str, Any]:
        """As the API shows it."""
        return {"party": self.party, "step": self.step, "due": format_time(self.due)}


@dataclass
class Inspection:
    """One visit as the logs give it (see the module docstring for the steps)."""

    ref: str
    inspection_type: str
    inspecting: str
    host: str
    site: str
    requested_at: datetime
    arrival: datetime | None
    team_size: int | None
    exercise: bool
    state: str = "notice"
    reason: str | None = None
    quota: QuotaState | None = None
    uses_right: bool = False
    commitment_ref: str | None = None
    commitment: PublishedCommitment | None = None
    commits: dict[str, str] = field(default_factory=dict)  # party -> commitment hex
    reveals: dict[str, str] = field(default_factory=dict)  # party -> value hex
    reveal_refs: dict[str, str] = field(default_factory=dict)
    seed: bytes | None = None
    sample: list[int] = field(default_factory=list)
    steps: dict[str, datetime] = field(default_factory=dict)
    opening_ref: str | None = None
    openings: list[Opening] = field(default_factory=list)
    observed_ref: str | None = None
    observed: dict[int, dict[str, str]] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    reports: dict[str, str] = field(default_factory=dict)  # party -> report_sha256 signed
    overdue: list[Overdue] = field(default_factory=list)
    ambiguities: list[dict[str, Any]] = field(default_factory=list)
    entries: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    cancelled_by: str | None = None
    forfeited_by: str | None = None

    @property
    def counts_against_quota(self) -> bool:
        """Whether this request uses up a visit (module docstring)."""
        if self.state in ("rejected", "refused"):
            return False
        if self.state == "forfeited":
            return self.forfeited_by == self.inspecting
        if self.state == "cancelled":
            return self.cancelled_by == self.inspecting and self.host in self.reveals
        return True

    def report(self) -> dict[str, Any] | None:
        """The report both sides sign, once the findings can be computed; else None."""
        if self.seed is None or self.commitment is None or self.opening_ref is None:
            return None
        if self.observed_ref is None:
            return None
        return {
            "v": 1,
            "inspection": self.ref,
            "inspection_type": self.inspection_type,
            "inspecting": self.inspecting,
            "host": self.host,
            "site": self.site,
            "commitment": {"ref": self.commitment_ref, **self.commitment.to_json()},
            "reveals": dict(sorted(self.reveal_refs.items())),
            "seed": self.seed.hex(),
            "sample": list(self.sample),
            "openings": self.opening_ref,
            "observed": self.observed_ref,
            "findings": self.findings,
        }

    def report_sha256(self) -> str | None:
        """The SHA-256 (hex) of the canonical report, or None before there is one."""
        report = self.report()
        return None if report is None else hashlib.sha256(canonical_json(report)).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """As the API shows it."""
        return {
            "ref": self.ref,
            "inspection_type": self.inspection_type,
            "inspecting": self.inspecting,
            "host": self.host,
            "site": self.site,
            "requested_at": format_time(self.requested_at),
            "arrival": None if self.arrival is None else format_time(self.arrival),
            "team_size": self.team_size,
            "exercise": self.exercise,
            "state": self.state,
            "reason": self.reason,
            "quota": None if self.quota is None else self.quota.to_json(),
            "uses_right": self.uses_right,
            "commitment_ref": self.commitment_ref,
            "commitment": None if self.commitment is None else self.commitment.to_json(),
            "committed": sorted(self.commits),
            "revealed": sorted(self.reveals),
            "seed": None if self.seed is None else self.seed.hex(),
            "sample": list(self.sample),
            "steps": {k: format_time(v) for k, v in self.steps.items()},
            "opening_ref": self.opening_ref,
            "observed_ref": self.observed_ref,
            "findings": self.findings,
            "reports": dict(self.reports),
            "report_sha256": self.report_sha256(),
            "overdue": [o.to_json() for o in self.overdue],
            "ambiguities": list(self.ambiguities),
            "cancelled_by": self.cancelled_by,
            "forfeited_by": self.forfeited_by,
            "entries": list(self.entries),
            "problems": list(self.problems),
        }


def fold_inspections(
    agreement: Agreement, entries: Iterable[Entry], *, now: datetime
) -> tuple[Inspection, ...]:
    """Every visit requested in ``entries`` (with bodies), in request order, at ``now``."""
    ordered = sorted(entries, key=lambda e: (e.created, e.party, e.seq))
    commitments = [e for e in ordered if e.type == COMMITMENT_TYPE and e.body is not None]
    answers: dict[str, list[Entry]] = {}
    for entry in ordered:
        if entry.type in (REQUEST_TYPE, COMMITMENT_TYPE):
            continue
        for ref in entry.refs:
            answers.setdefault(ref, []).append(entry)
    out: list[Inspection] = []
    for request in (e for e in ordered if e.type == REQUEST_TYPE and e.body is not None):
        visit = _open(agreement, request, commitments, out)
        mine = answers.get(request.ref, [])
        if visit.state != "rejected":
            _run(agreement, visit, [e for e in mine if e.type not in AMBIGUITY_TYPES], now)
            _ambiguities(agreement, visit, mine, answers, now)
        out.append(visit)
    return tuple(out)


def quota_state(
    agreement: Agreement,
    visits: Sequence[Inspection],
    *,
    inspection_type: InspectionType,
    inspecting: str,
    inspected: str,
    day: datetime,
) -> QuotaState:
    """The quota of ``inspection_type`` for ``inspecting`` at ``inspected`` on ``day``,
    counting ``visits`` requested before."""
    year = _year(inspection_type, day)
    same = [
        v
        for v in visits
        if v.inspection_type == inspection_type.id
        and v.host == inspected
        and v.counts_against_quota
        and not v.uses_right
        and _year(inspection_type, v.requested_at) == year
    ]
    opener = inspection_type.opened_by
    opened = (
        sum(
            1
            for v in visits
            if opener is not None
            and v.inspection_type == opener
            and v.inspecting == inspected
            and v.host == inspecting
            and v.counts_against_quota
        )
        if opener
        else 0
    )
    used_rights = sum(
        1
        for v in visits
        if v.inspection_type == inspection_type.id
        and v.inspecting == inspecting
        and v.host == inspected
        and v.uses_right
        and v.counts_against_quota
    )
    return QuotaState(
        inspection_type=inspection_type.id,
        inspecting=inspecting,
        inspected=inspected,
        year=year,
        per_year=inspection_type.per_year_on(day.date()),
        used=len(same),
        per_party_cap=inspection_type.per_party_per_year,
        used_by_party=sum(1 for v in same if v.inspecting == inspecting),
        rights_opened=opened,
        rights_used=used_rights,
    )


def all_quota_states(
    agreement: Agreement, visits: Sequence[Inspection], *, day: datetime
) -> list[QuotaState]:
    """Each inspection type's quota for each pair of parties it allows, in the year of
    ``day``; exercise visits never count."""
    real = [v for v in visits if not v.exercise]
    parties = sorted(agreement.party_ids())
    out: list[QuotaState] = []
    for kind in agreement.inspection_types.values():
        inspecting = parties if "*" in kind.inspecting else sorted(kind.inspecting)
        inspected = parties if "*" in kind.inspected else sorted(kind.inspected)
        for by in inspecting:
            for at in inspected:
                if by != at:
                    out.append(
                        quota_state(
                            agreement,
                            real,
                            inspection_type=kind,
                            inspecting=by,
                            inspected=at,
                            day=day,
                        )
                    )
    return out


def _year(inspection_type: InspectionType, day: datetime) -> int:
    index = inspection_type.year_index(day.date()) if inspection_type.quota_start else None
    return index if index is not None else day.year


def _open(
    agreement: Agreement,
    request: Entry,
    commitments: Sequence[Entry],
    earlier: Sequence[Inspection],
) -> Inspection:
    """The visit a request asks for, checked against its type; ``rejected`` if it fails."""
    body = request.body or {}
    type_id = str(body.get("inspection_type", ""))
    site = str(body.get("site", ""))
    arrival = parse_body_time(body.get("arrival"))
    team = body.get("team_size")
    declared = agreement.sites.get(site)
    kind = agreement.inspection_types.get(type_id)
    hosts = [p for p in request.to if kind is None or "*" in kind.inspected or p in kind.inspected]
    # An undeclared site belongs to whoever committed an inventory for it.
    owners = [
        p
        for p in hosts
        if any(c.party == p and (c.body or {}).get("site") == site for c in commitments)
    ]
    host = declared.party if declared is not None else next(iter(owners or hosts), "")
    visit = Inspection(
        ref=request.ref,
        inspection_type=type_id,
        inspecting=request.party,
        host=host,
        site=site,
        requested_at=request.created,
        arrival=arrival,
        team_size=team if isinstance(team, int) else None,
        exercise=request.exercise,
        entries=[request.ref],
    )
    why = _request_problem(agreement, request, visit, commitments)
    if why is None:
        kind = agreement.inspection_types[type_id]
        quota = quota_state(
            agreement,
            [v for v in earlier if v.exercise == visit.exercise],
            inspection_type=kind,
            inspecting=visit.inspecting,
            inspected=host,
            day=request.created,
        )
        visit.quota = quota
        by_quota = quota.per_year - quota.used
        if quota.per_party_cap is not None:
            by_quota = min(by_quota, quota.per_party_cap - quota.used_by_party)
        if by_quota <= 0:
            if quota.rights_opened - quota.rights_used > 0:
                visit.uses_right = True
            else:
                why = f"beyond quota ({quota.describe()})"
    if why is not None:
        visit.state, visit.reason = "rejected", why
        return visit
    commitment = next(
        (
            c
            for c in reversed(commitments)
            if c.party == host
            and c.created < request.created
            and (c.body or {}).get("site") == site
        ),
        None,
    )
    if commitment is not None:
        try:
            visit.commitment = PublishedCommitment.from_json(commitment.body)
            visit.commitment_ref = commitment.ref
        except DetenteError as e:
            visit.state, visit.reason = (
                "rejected",
                f"the inventory commitment {commitment.ref}: {e}",
            )
    return visit


def _request_problem(
    agreement: Agreement, request: Entry, visit: Inspection, commitments: Sequence[Entry]
) -> str | None:
    kind = agreement.inspection_types.get(visit.inspection_type)
    if kind is None:
        return f"no inspection type {visit.inspection_type!r}"
    if "*" not in kind.inspecting and visit.inspecting not in kind.inspecting:
        return f"{visit.inspecting} may not request a {kind.id}"
    if "*" not in kind.inspected and visit.host not in kind.inspected:
        return f"{visit.host} does not host a {kind.id}"
    if visit.host not in request.to or visit.host == visit.inspecting:
        return f"the request must be addressed to the host, {visit.host}"
    if kind.sites and visit.site not in kind.sites:
        return f"site {visit.site!r} is not one of {', '.join(kind.sites)}"
    committed = any(
        c.party == visit.host
        and c.created < request.created
        and (c.body or {}).get("site") == visit.site
        for c in commitments
    )
    if not committed:
        return f"{visit.host} has no inventory commitment for {visit.site!r} before the request"
    if visit.arrival is None:
        return "arrival is not a date-time"
    notice = timedelta(hours=kind.notice_hours)
    if visit.arrival < request.created + notice:
        return (
            f"arrival {format_time(visit.arrival)} gives less than {kind.notice_hours} hours' "
            "notice"
        )
    if kind.max_team_size is not None and (visit.team_size or 0) > kind.max_team_size:
        return f"team of {visit.team_size} is larger than {kind.max_team_size}"
    return None


def _run(agreement: Agreement, visit: Inspection, answers: Sequence[Entry], now: datetime) -> None:
    kind = agreement.inspection_types[visit.inspection_type]
    sides = {visit.inspecting, visit.host}
    reveal_within = timedelta(hours=kind.reveal_hours or 24)
    commit_times: dict[str, datetime] = {}
    reveal_times: dict[str, datetime] = {}
    for entry in answers:
        if entry.party not in sides or entry.exercise != visit.exercise:
            visit.problems.append(f"{entry.ref}: not from a side of this visit, or not alike")
            continue
        if visit.state in ("refused", "cancelled", "forfeited", "closed"):
            break
        forfeit = _forfeit(visit, commit_times, reveal_times, reveal_within, entry.created)
        if forfeit:
            break
        visit.entries.append(entry.ref)
        body = entry.body or {}
        if entry.type == REFUSAL_TYPE and entry.party == visit.host:
            visit.state, visit.reason = "refused", str(body.get("reason", ""))
        elif entry.type == DELAY_TYPE and entry.party == visit.host:
            until = parse_body_time(body.get("until"))
            if until is not None and visit.arrival is not None and until > visit.arrival:
                visit.arrival = until
                visit.reason = f"delayed: {body.get('reason', '')}"
        elif entry.type == CANCEL_TYPE:
            visit.state, visit.cancelled_by = "cancelled", entry.party
            visit.reason = str(body.get("reason", ""))
        elif entry.type == COMMIT_TYPE:
            if entry.party not in visit.commits and not visit.reveals:
                visit.commits[entry.party] = str(body.get("commitment", ""))
                commit_times[entry.party] = entry.created
        elif entry.type == REVEAL_TYPE:
            _reveal(visit, entry, body, reveal_times)
        elif entry.type == STEP_TYPE:
            _step(visit, entry, body)
        elif entry.type == OPENING_TYPE and entry.party == visit.host:
            _openings(visit, entry, body)
        elif entry.type == FINDINGS_TYPE and entry.party == visit.inspecting:
            _observed(visit, entry, body)
        elif entry.type == REPORT_TYPE:
            visit.reports[entry.party] = str(body.get("report_sha256", ""))
    if visit.state in ("refused", "cancelled", "forfeited"):
        return
    if _forfeit(visit, commit_times, reveal_times, reveal_within, now):
        return
    visit.sample = sample_for(agreement, visit)
    _findings(visit)
    signed = visit.report_sha256()
    if signed is not None and all(visit.reports.get(p) == signed for p in sides):
        visit.state = "closed"
        return
    visit.state = _phase(visit)
    _deadlines(kind, visit, commit_times, reveal_times, reveal_within, now)


# Who records each step, and the step it must follow.
_STEPS = {
    "arrived": ("inspecting", None),
    "at_site": ("host", "arrived"),
    "finished": (None, "at_site"),
}


def _step(visit: Inspection, entry: Entry, body: Mapping[str, Any]) -> None:
    step, at = str(body.get("step", "")), parse_body_time(body.get("at"))
    who, after = _STEPS.get(step, (None, None))
    owner = None if who is None else getattr(visit, who)
    if at is None or step in visit.steps or (owner is not None and entry.party != owner):
        visit.problems.append(f"{entry.ref}: {step} not recorded by the side that records it")
        return
    if after is not None and (after not in visit.steps or at < visit.steps[after]):
        visit.problems.append(f"{entry.ref}: {step} before {after}")
        return
    if step == "arrived" and visit.arrival is not None and at < visit.arrival:
        visit.problems.append(f"{entry.ref}: arrived before the planned arrival")
        return
    visit.steps[step] = at


def _reveal(
    visit: Inspection, entry: Entry, body: Mapping[str, Any], reveal_times: dict[str, datetime]
) -> None:
    party = entry.party
    if party in visit.reveals or party not in visit.commits:
        return
    if len(visit.commits) < 2:
        visit.problems.append(f"{entry.ref}: revealed before both sides committed")
        return
    if party == visit.inspecting and visit.host not in visit.reveals:
        visit.problems.append(f"{entry.ref}: the inspectors revealed before the host")
        return
    value = str(body.get("value", ""))
    try:
        verify_reveal(
            bytes.fromhex(visit.commits[party]),
            bytes.fromhex(value),
            inspection_id=visit.ref,
            party=party,
        )
    except (ValueError, DetenteError) as e:
        visit.problems.append(f"{entry.ref}: the reveal does not open {party}'s commitment: {e}")
        return
    visit.reveals[party] = value
    visit.reveal_refs[party] = entry.ref
    reveal_times[party] = entry.created
    if len(visit.reveals) == 2 and visit.commitment is not None:
        visit.seed = derive_seed(
            visit.ref,
            host_value=bytes.fromhex(visit.reveals[visit.host]),
            inspector_value=bytes.fromhex(visit.reveals[visit.inspecting]),
        )


def _forfeit(
    visit: Inspection,
    commit_times: Mapping[str, datetime],
    reveal_times: Mapping[str, datetime],
    within: timedelta,
    at: datetime,
) -> bool:
    """Mark the visit forfeited if a reveal was due before ``at`` and not given."""
    if len(commit_times) < 2:
        return False
    host_due = max(commit_times.values()) + within
    if visit.host not in reveal_times and at > host_due:
        visit.state, visit.forfeited_by = "forfeited", visit.host
        visit.reason = f"{visit.host} withheld its reveal past {format_time(host_due)}"
        return True
    if visit.host in reveal_times and visit.inspecting not in reveal_times:
        due = reveal_times[visit.host] + within
        if at > due:
            visit.state, visit.forfeited_by = "forfeited", visit.inspecting
            visit.reason = f"{visit.inspecting} withheld its reveal past {format_time(due)}"
            return True
    return False


def _openings(visit: Inspection, entry: Entry, body: Mapping[str, Any]) -> None:
    if visit.opening_ref is not None:
        return
    parsed: list[Opening] = []
    for i, item in enumerate(body.get("openings") or []):
        try:
            parsed.append(Opening.from_json(item))
        except DetenteError as e:
            visit.problems.append(f"{entry.ref}: openings[{i}]: {e}")
    visit.openings = parsed
    visit.opening_ref = entry.ref


def _observed(visit: Inspection, entry: Entry, body: Mapping[str, Any]) -> None:
    if visit.observed_ref is not None:
        return
    seen: dict[int, dict[str, str]] = {}
    for item in body.get("observed") or []:
        if isinstance(item, dict) and isinstance(item.get("index"), int):
            seen[item["index"]] = {
                k: str(item[k]) for k in ("status", "contents") if isinstance(item.get(k), str)
            }
    visit.observed = seen
    visit.observed_ref = entry.ref


def _findings(visit: Inspection) -> None:
    if visit.seed is None or visit.commitment is None:
        return
    if not visit.sample:
        return
    if visit.opening_ref is None or visit.observed_ref is None:
        return
    observed = {i: visit.observed.get(i, {}) for i in visit.sample}
    try:
        found = compare_sample(
            visit.commitment,
            visit.openings,
            sample=visit.sample,
            observed={i: o for i, o in observed.items() if o},
        )
    except DetenteError as e:
        visit.problems.append(f"{visit.observed_ref}: {e}")
        return
    visit.findings = [f.to_json() for f in found]


def _ambiguities(
    agreement: Agreement,
    visit: Inspection,
    mine: Sequence[Entry],
    answers: Mapping[str, Sequence[Entry]],
    now: datetime,
) -> None:
    """Each ambiguity a side raised about the visit, its reply, and the reply owed late.

    The other side answers with an ``ambiguity-reply`` citing it, within the
    agreement's deadline for that type (counted here from the ambiguity's
    ``created``); one not answered by then is overdue on that side, whatever
    the state of the visit (an ambiguity may come after the report).
    """
    reply_type = agreement.message_types.get(AMBIGUITY_REPLY_TYPE)
    rule = None if reply_type is None else reply_type.deadline
    span = rule.delta if isinstance(rule, AfterMessage) else timedelta(days=_REPLY_DAYS)
    sides = {visit.inspecting, visit.host}
    for entry in mine:
        if entry.type != AMBIGUITY_TYPE or entry.party not in sides:
            continue
        other = visit.host if entry.party == visit.inspecting else visit.inspecting
        due = entry.created + span
        reply = next(
            (
                r
                for r in answers.get(entry.ref, [])
                if r.type == AMBIGUITY_REPLY_TYPE and r.party == other
            ),
            None,
        )
        visit.ambiguities.append(
            {
                "ref": entry.ref,
                "by": entry.party,
                "text": str((entry.body or {}).get("text", "")),
                "raised_at": format_time(entry.created),
                "due": format_time(due),
                "reply": None if reply is None else reply.ref,
                "reply_text": None if reply is None else str((reply.body or {}).get("text", "")),
            }
        )
        if entry.ref not in visit.entries:
            visit.entries.append(entry.ref)
        # Deadlines are exclusive: due means given before ``due``.
        late = reply is not None and reply.created >= due
        visit.ambiguities[-1]["late"] = late
        if reply is None and now >= due:
            visit.overdue.append(Overdue(other, AMBIGUITY_REPLY_TYPE, due))


def _phase(visit: Inspection) -> str:
    if visit.seed is None:
        return "sampling"
    if "arrived" not in visit.steps:
        return "notice"
    if "at_site" not in visit.steps:
        return "transit"
    if visit.opening_ref is None or visit.observed_ref is None:
        return "inspecting"
    return "reporting"


def _deadlines(
    kind: InspectionType,
    visit: Inspection,
    commit_times: Mapping[str, datetime],
    reveal_times: Mapping[str, datetime],
    within: timedelta,
    now: datetime,
) -> None:
    owed: list[Overdue] = []
    arrival = visit.arrival
    if arrival is not None:
        for party in (visit.host, visit.inspecting):
            if party not in commit_times:
                owed.append(Overdue(party, "sample-commit", arrival))
    if len(commit_times) == 2 and visit.host not in reveal_times:
        owed.append(Overdue(visit.host, "sample-reveal", max(commit_times.values()) + within))
    arrived = visit.steps.get("arrived")
    if arrived is not None and "at_site" not in visit.steps and kind.transit_hours:
        owed.append(Overdue(visit.host, "at_site", arrived + kind.transit_hours * _HOUR))
    at_site = visit.steps.get("at_site")
    if at_site is not None and kind.max_duration_hours:
        end = at_site + kind.max_duration_hours * _HOUR
        if visit.seed is not None and visit.opening_ref is None:
            owed.append(Overdue(visit.host, "inventory-opening", end))
        if visit.observed_ref is None:
            owed.append(Overdue(visit.inspecting, "inspection-findings", end))
        signed = visit.report_sha256()
        for party in (visit.inspecting, visit.host):
            if signed is not None and visit.reports.get(party) != signed:
                owed.append(Overdue(party, "inspection-report", end))
    visit.overdue = [o for o in owed if now > o.due]


def sample_for(agreement: Agreement, visit: Inspection) -> list[int]:
    """The sample a visit's seed selects from its committed inventory (empty before)."""
    if visit.seed is None or visit.commitment is None:
        return []
    kind = agreement.inspection_types[visit.inspection_type]
    size = visit.commitment.size
    return select(visit.seed, size, sample_size(kind.sample, size))
