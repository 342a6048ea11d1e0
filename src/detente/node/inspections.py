"""Inspections over what a node stores: their state, and the checks on what it signs.

:func:`inspections_state` reads every inspection message from every log the
node holds and runs the pure fold (:mod:`detente.measures.inspections`).

:func:`check_inspection_drafts` refuses, before anything is signed, what
the fold would not accept, so that a party never signs a step that cannot
count: a request the fold would reject, an answer to a request this party
is not a side of, a step by the wrong side or out of its order (the
inspectors revealing before the host, a reveal that does not open the
commitment, an opening of other records than the sample, a report that is
not the one the logs give). Errors:

- :class:`~detente.errors.BodyError` (422): the draft itself is wrong; the
  message names the draft and the field.
- :class:`~detente.errors.ConflictError` (409): the draft conflicts with the
  visit's state: beyond the quota (with :meth:`QuotaState.describe`), the
  visit is over, or this side took that step already.

The actions that send these messages are in :mod:`detente.node.visits`.

Example:
    >>> import tempfile, pathlib
    >>> from detente.node import init_node
    >>> node = init_node(pathlib.Path(tempfile.mkdtemp()) / "ru", party="ru",
    ...                  agreement_ref="security-replies-2022")
    >>> inspections_state(node)
    ()
    >>> node.close()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from detente.errors import BodyError, ConflictError, DetenteError, NotFoundError
from detente.measures.entry import Entry
from detente.measures.hotline import parse_body_time
from detente.measures.inspections import (
    AMBIGUITY_TYPES,
    COMMITMENT_TYPE,
    INSPECTION_MESSAGE_TYPES,
    REQUEST_TYPE,
    Inspection,
    QuotaState,
    all_quota_states,
    fold_inspections,
)
from detente.measures.sampling import verify_reveal
from detente.node.directory import Node
from detente.node.measures import load_entries
from detente.record.envelope import Envelope
from detente.record.inventory import Opening

__all__ = [
    "ANSWER_TYPES",
    "check_inspection_drafts",
    "find_visit",
    "inspection_entries",
    "inspection_recipients",
    "inspections_state",
    "quota_states",
]

#: The types that answer a request (they cite it in ``refs``).
ANSWER_TYPES = INSPECTION_MESSAGE_TYPES - {COMMITMENT_TYPE, REQUEST_TYPE}
_OVER = ("rejected", "refused", "cancelled", "forfeited", "closed")
_HOST_ONLY = {"inspection-refusal", "inspection-delay", "inventory-opening"}
_STEP_BY = {"arrived": "inspecting", "at_site": "host"}
_STEP_AFTER = {"arrived": None, "at_site": "arrived", "finished": "at_site"}


def inspection_entries(conn: Connection, node: Node) -> list[Entry]:
    """Every inspection message (ambiguities and replies too) in every log the node holds."""
    wanted = (INSPECTION_MESSAGE_TYPES | AMBIGUITY_TYPES) & set(node.agreement.message_types)
    return load_entries(conn, node, wanted)


def inspections_state(node: Node, *, now: datetime | None = None) -> tuple[Inspection, ...]:
    """Every visit as this node's logs give it, at ``now`` (default: the node's clock)."""
    with node.database.engine.connect() as conn:
        entries = inspection_entries(conn, node)
    return fold_inspections(node.agreement, entries, now=now or node.clock())


def find_visit(node: Node, ref: str, *, now: datetime | None = None) -> Inspection:
    """The visit requested by ``ref`` (``party:seq``).

    Raises:
        NotFoundError: no inspection request ``ref`` is held here.
    """
    for visit in inspections_state(node, now=now):
        if visit.ref == ref:
            return visit
    raise NotFoundError(f"{ref}: no inspection request held here")


def quota_states(
    node: Node, visits: Sequence[Inspection], *, now: datetime | None = None
) -> list[QuotaState]:
    """Each inspection type's quota for each pair of parties it allows, this year."""
    return all_quota_states(node.agreement, visits, day=now or node.clock())


def inspection_recipients(
    conn: Connection, node: Node, draft_type: str, refs: Sequence[str], body: Mapping[str, Any]
) -> tuple[str, ...]:
    """Whom an inspection message goes to when its draft names nobody.

    A request goes to the party that declared the site (or, for a site
    declared only by an inventory, the party that committed it, else the one
    party its type inspects); an answer to the
    other side of the visit it cites; an inventory commitment to every
    other party.
    """
    others = node.agreement.party_ids() - {node.party}
    if draft_type == COMMITMENT_TYPE:
        return tuple(sorted(others))
    if draft_type == REQUEST_TYPE:
        site = node.agreement.sites.get(str(body.get("site", "")))
        if site is not None:
            return (site.party,) if site.party in others else ()
        # An undeclared site (a base declared by its inventory): whoever committed
        # an inventory for it, else the one party the type inspects.
        name = str(body.get("site", ""))
        committed = {
            e.party
            for e in inspection_entries(conn, node)
            if e.type == COMMITMENT_TYPE and (e.body or {}).get("site") == name
        } & others
        if len(committed) == 1:
            return tuple(committed)
        kind = node.agreement.inspection_types.get(str(body.get("inspection_type", "")))
        hosts = set(kind.inspected) & others if kind is not None else set()
        return tuple(hosts) if len(hosts) == 1 else ()
    requests = {e.ref: e for e in inspection_entries(conn, node) if e.type == REQUEST_TYPE}
    for ref in refs:
        request = requests.get(ref)
        if request is not None:
            return tuple(sorted(({request.party, *request.to} - {node.party}) & others))
    return ()


def check_inspection_drafts(
    conn: Connection,
    node: Node,
    envelopes: Sequence[Envelope],
    *,
    bodies: Sequence[Mapping[str, Any]],
) -> None:
    """Refuse sealed drafts the inspections fold would not accept (module docstring).

    Raises:
        BodyError: naming the draft, the field and what is wrong.
        ConflictError: beyond the quota (its state in the message), the
            visit is over, or this side took the step already.
    """
    if not {e.header.type for e in envelopes} & INSPECTION_MESSAGE_TYPES:
        return
    held = inspection_entries(conn, node)
    for envelope, body in zip(envelopes, bodies, strict=True):
        header = envelope.header
        draft = Entry(
            party=node.party,
            seq=header.seq,
            type=header.type,
            created=header.created_at,
            to=header.to,
            refs=header.refs,
            exercise=header.exercise,
            priority=header.priority,
            body=dict(body),
        )
        where = envelope.position
        if header.type == COMMITMENT_TYPE:
            site = node.agreement.sites.get(str(body.get("site", "")))
            if site is not None and site.party != node.party:
                raise BodyError(
                    f"{where}: body.site: {body['site']} is declared by {site.party}, "
                    f"not {node.party}"
                )
        elif header.type == REQUEST_TYPE:
            _check_request(node, where, held, draft)
        elif header.type in ANSWER_TYPES:
            _check_answer(node, where, held, draft)
        held.append(draft)


_REASON_FIELDS = (
    ("beyond quota", "body.inspection_type"),
    ("no inspection type", "body.inspection_type"),
    ("may not request", "body.inspection_type"),
    ("does not host", "body.site"),
    ("must be addressed", "to"),
    ("is not one of", "body.site"),
    ("no inventory commitment", "body.site"),
    ("the inventory commitment", "body.site"),
    ("arrival", "body.arrival"),
    ("team of", "body.team_size"),
)


def _check_request(node: Node, where: str, held: Sequence[Entry], draft: Entry) -> None:
    visits = fold_inspections(node.agreement, [*held, draft], now=draft.created)
    visit = next(v for v in visits if v.ref == draft.ref)
    if visit.state != "rejected" or visit.reason is None:
        return
    reason = visit.reason
    name = next((f for key, f in _REASON_FIELDS if key in reason), "body")
    if reason.startswith("beyond quota"):
        raise ConflictError(f"{where}: {name}: {reason}")
    raise BodyError(f"{where}: {name}: {reason}")


def _check_answer(node: Node, where: str, held: Sequence[Entry], draft: Entry) -> None:
    if not draft.refs:
        raise BodyError(f"{where}: refs: a {draft.type} must cite the inspection request")
    visits = {v.ref: v for v in fold_inspections(node.agreement, held, now=draft.created)}
    ref = draft.refs[0]
    visit = visits.get(ref)
    if visit is None:
        raise BodyError(f"{where}: refs: {ref} is not an inspection request held here")
    me = node.party
    if me not in (visit.inspecting, visit.host):
        raise BodyError(f"{where}: refs: {me} is not a side of inspection {ref}")
    other = visit.host if me == visit.inspecting else visit.inspecting
    if other not in draft.to:
        raise BodyError(f"{where}: to: a {draft.type} of {ref} must go to {other}")
    if visit.exercise != draft.exercise:
        drill = "an exercise" if visit.exercise else "a real"
        raise BodyError(f"{where}: exercise: {ref} is {drill} request; mark its answers alike")
    if visit.state in _OVER:
        why = f" ({visit.reason})" if visit.reason else ""
        raise ConflictError(f"{where}: refs: inspection {ref} is {visit.state}{why}")
    role = "host" if me == visit.host else "inspecting"
    if draft.type in _HOST_ONLY and role != "host":
        raise BodyError(f"{where}: type: only the host, {visit.host}, sends a {draft.type}")
    body = draft.body or {}
    check = _CHECKS.get(draft.type)
    if check is not None:
        check(visit, where, me, role, body, draft)


def _check_delay(
    visit: Inspection, where: str, me: str, role: str, body: Mapping[str, Any], draft: Entry
) -> None:
    if "arrived" in visit.steps:
        raise ConflictError(f"{where}: type: the team of {visit.ref} has arrived already")


def _check_commit(
    visit: Inspection, where: str, me: str, role: str, body: Mapping[str, Any], draft: Entry
) -> None:
    if me in visit.commits:
        raise ConflictError(f"{where}: type: {me} has committed to its value for {visit.ref}")
    if visit.reveals:
        raise BodyError(f"{where}: type: a value was revealed for {visit.ref}; too late to commit")


def _check_reveal(
    visit: Inspection, where: str, me: str, role: str, body: Mapping[str, Any], draft: Entry
) -> None:
    if me in visit.reveals:
        raise ConflictError(f"{where}: type: {me} has revealed its value for {visit.ref}")
    if len(visit.commits) < 2:
        raise BodyError(f"{where}: type: reveal only once both sides have committed")
    if role == "inspecting" and visit.host not in visit.reveals:
        raise BodyError(f"{where}: type: the host, {visit.host}, reveals first")
    try:
        verify_reveal(
            bytes.fromhex(visit.commits[me]),
            bytes.fromhex(str(body.get("value", ""))),
            inspection_id=visit.ref,
            party=me,
        )
    except (ValueError, DetenteError) as e:
        raise BodyError(f"{where}: body.value: does not open {me}'s commitment: {e}") from e


def _check_step(
    visit: Inspection, where: str, me: str, role: str, body: Mapping[str, Any], draft: Entry
) -> None:
    step = str(body.get("step", ""))
    by = _STEP_BY.get(step)
    if by is not None and role != by:
        side = visit.host if by == "host" else visit.inspecting
        raise BodyError(f"{where}: body.step: {step} is recorded by {side}")
    if step in visit.steps:
        raise ConflictError(f"{where}: body.step: {step} is recorded for {visit.ref} already")
    if visit.seed is None:
        raise BodyError(f"{where}: body.step: the sample of {visit.ref} is not drawn yet")
    before = _STEP_AFTER.get(step)
    if before is not None and before not in visit.steps:
        raise BodyError(f"{where}: body.step: {step} comes after {before}")
    at = parse_body_time(body.get("at"))
    if at is not None and at > draft.created:
        raise BodyError(f"{where}: body.at: a step is recorded once taken, not ahead")
    if step == "arrived" and at is not None and visit.arrival is not None and at < visit.arrival:
        raise BodyError(f"{where}: body.at: before the planned arrival")


def _check_opening(
    visit: Inspection, where: str, me: str, role: str, body: Mapping[str, Any], draft: Entry
) -> None:
    if visit.opening_ref is not None:
        raise ConflictError(f"{where}: type: {visit.ref} was opened already ({visit.opening_ref})")
    if visit.seed is None:
        raise BodyError(f"{where}: type: the sample of {visit.ref} is not drawn yet")
    indices: list[int] = []
    for i, item in enumerate(body.get("openings") or []):
        try:
            indices.append(Opening.from_json(item).index)
        except DetenteError as e:
            raise BodyError(f"{where}: body.openings[{i}]: {e}") from e
    if sorted(indices) != sorted(visit.sample):
        raise BodyError(
            f"{where}: body.openings: open exactly the sample {sorted(visit.sample)}, "
            f"not {sorted(indices)}"
        )


def _check_findings(
    visit: Inspection, where: str, me: str, role: str, body: Mapping[str, Any], draft: Entry
) -> None:
    if role != "inspecting":
        raise BodyError(f"{where}: type: only the inspectors, {visit.inspecting}, send findings")
    if visit.observed_ref is not None:
        raise ConflictError(f"{where}: type: findings for {visit.ref} were sent already")
    if "at_site" not in visit.steps:
        raise BodyError(f"{where}: type: the team of {visit.ref} has not reached the site")
    sample = set(visit.sample)
    for i, item in enumerate(body.get("observed") or []):
        index = item.get("index") if isinstance(item, dict) else None
        if index not in sample:
            raise BodyError(f"{where}: body.observed[{i}].index: {index} is not in the sample")


def _check_report(
    visit: Inspection, where: str, me: str, role: str, body: Mapping[str, Any], draft: Entry
) -> None:
    digest = visit.report_sha256()
    if digest is None:
        raise BodyError(f"{where}: type: {visit.ref} has no report yet (openings and findings)")
    if visit.reports.get(me) == digest:
        raise ConflictError(f"{where}: type: {me} has signed the report of {visit.ref} already")
    if body.get("report_sha256") != digest:
        raise BodyError(f"{where}: body.report_sha256: not the report the logs give ({digest})")


_CHECKS = {
    "inspection-delay": _check_delay,
    "sample-commit": _check_commit,
    "sample-reveal": _check_reveal,
    "inspection-step": _check_step,
    "inventory-opening": _check_opening,
    "inspection-findings": _check_findings,
    "inspection-report": _check_report,
}
