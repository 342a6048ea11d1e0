"""The compliance page: declarations against the limits, every other obligation, a summary.

``GET /console/compliance`` shows what ``detente obligations`` lists
(:func:`detente.node.measures.obligation_report`), judged at the node's
clock, in three parts:

- **Summary**: for each party, how many of its obligations stand in each
  state (limit judgements included).
- **Limits**: for each party and each limit on it, every declaration
  judged against it, newest first, with each other party's disputing
  position beside the declared value.
- **Obligations**: every other obligation (periodic exchanges, answers,
  notices), filtered on the server by state and party with a plain GET
  form, so the page works without JavaScript; overdue and violated rows
  are marked.

Each part is a ``data-live`` region: a declaration, a dispute or a receipt
that arrives changes the page without a reload. The page only reads;
every role may see it.

The arrangement is pure (:func:`limit_tables`, :func:`summary`,
:func:`select`): plain obligations in, plain lists out.

Example:
    >>> from datetime import UTC, datetime
    >>> from detente.measures.obligations import Obligation, State
    >>> due = datetime(2021, 4, 1, tzinfo=UTC)
    >>> owed = [Obligation("ru", "aggregate_data", "periodic", due, State.OVERDUE, ("us",)),
    ...         Obligation("us", "aggregate_data", "periodic", due, State.MET, ("ru",))]
    >>> summary(owed, ["ru", "us"])["ru"]["overdue"]
    1
    >>> [o.party for o in select(owed, state="met", party="")]
    ['us']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from detente.agreement import Agreement
from detente.agreement._base import ANY_PARTY
from detente.agreement.counting import Limit
from detente.console.web import current_session, render
from detente.console.words import N_
from detente.measures.obligations import Obligation, State
from detente.node.directory import Node
from detente.node.measures import obligation_report
from detente.node.sessions import Session

__all__ = [
    "CLOCKS",
    "FILTER_STATES",
    "RULES",
    "STATES",
    "limit_tables",
    "router",
    "select",
    "summary",
]

router = APIRouter(prefix="/console/compliance", include_in_schema=False)

SessionDep = Annotated[Session, Depends(current_session)]

#: The states in the order the summary shows them, and how each is worded.
STATES: dict[str, str] = {
    State.OVERDUE.value: N_("overdue"),
    State.VIOLATED.value: N_("violated"),
    State.DUE.value: N_("due"),
    State.SUSPENDED.value: N_("suspended"),
    State.MET.value: N_("met"),
    State.NOT_IN_FORCE.value: N_("not in force"),
}
#: The states the obligations list can be narrowed to.
FILTER_STATES = ("overdue", "violated", "due", "met", "suspended")
#: How each rule of an obligation is worded.
RULES: dict[str, str] = {
    "periodic": N_("periodic"),
    "after_message": N_("after a message"),
    "after_event": N_("after an event"),
    "before_event": N_("before an event"),
    "limit": N_("limit"),
}
#: Whose clock an obligation's times come from.
CLOCKS: dict[str, str] = {"receipt": N_("receipt"), "created": N_("sender's clock")}
#: States an operator must act on: their rows are marked.
MARKED = frozenset({State.OVERDUE.value, State.VIOLATED.value})


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def summary(obligations: Iterable[Obligation], parties: Sequence[str]) -> dict[str, dict[str, int]]:
    """For each of ``parties``, how many of its obligations stand in each state (and in all)."""
    counts = {party: dict.fromkeys([*STATES, "total"], 0) for party in parties}
    for obligation in obligations:
        row = counts.get(obligation.party)
        if row is not None:
            row[obligation.state.value] += 1
            row["total"] += 1
    return counts


def select(obligations: Iterable[Obligation], *, state: str, party: str) -> list[Obligation]:
    """The obligations other than limits, in ``state`` and of ``party`` (empty: any), newest due
    first."""
    chosen = [
        o
        for o in obligations
        if o.rule != "limit"
        and (not state or o.state.value == state)
        and (not party or o.party == party)
    ]
    return sorted(chosen, key=lambda o: o.due, reverse=True)


def limit_tables(
    agreement: Agreement, obligations: Iterable[Obligation], parties: Sequence[str]
) -> list[tuple[str, list[tuple[Limit, list[Obligation]]]]]:
    """For each party, each limit on it with the declarations judged against it, newest first.

    Newest is by the declaration's ``as_of`` day, then by its position in
    the declaring party's log.
    """
    judged: dict[tuple[str, str], list[Obligation]] = {}
    for obligation in obligations:
        if obligation.rule == "limit" and obligation.limit is not None:
            judged.setdefault((obligation.party, obligation.limit), []).append(obligation)
    out: list[tuple[str, list[tuple[Limit, list[Obligation]]]]] = []
    for party in parties:
        limits = [
            (limit, sorted(judged.get((party, limit.id), []), key=_newest, reverse=True))
            for limit in agreement.limits.values()
            if ANY_PARTY in limit.applies_to or party in limit.applies_to
        ]
        if limits:
            out.append((party, limits))
    return out


def _newest(obligation: Obligation) -> tuple[str, int]:
    _, _, seq = (obligation.trigger or "").rpartition(":")
    day = obligation.as_of.isoformat() if obligation.as_of else ""
    return day, int(seq) if seq.isdigit() else -1


def _choice(request: Request, name: str, allowed: Iterable[str]) -> str:
    """A filter's value from the query, or "" (all) when it is not one of ``allowed``."""
    value = request.query_params.get(name, "")
    return value if value in allowed else ""


@router.get("")
def compliance(request: Request, session: SessionDep) -> Response:
    """The summary, the declarations against the limits, and the obligations filtered."""
    node = _node(request)
    report = obligation_report(node)
    parties = sorted(node.agreement.party_ids())
    state = _choice(request, "state", FILTER_STATES)
    party = _choice(request, "party", parties)
    others = [o for o in report.obligations if o.rule != "limit"]
    return render(
        request,
        "compliance.html",
        session=session,
        now=node.clock(),
        parties=parties,
        names={p.id: p.name for p in node.agreement.parties},
        counts=summary(report.obligations, parties),
        limits=limit_tables(node.agreement, report.obligations, parties),
        obligations=select(others, state=state, party=party),
        total=len(others),
        filters={"state": state, "party": party},
        filter_states=FILTER_STATES,
        states=STATES,
        rules=RULES,
        clocks=CLOCKS,
        marked=MARKED,
        types=node.agreement.message_types,
    )
