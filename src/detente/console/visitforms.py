"""The inspections page's forms, read into the node's actions' arguments, and the next steps (pure).

:func:`next_steps` says which steps of a visit a party may take now, so the
page offers only those forms (the node checks them again before signing,
:func:`detente.node.inspections.check_inspection_drafts`).
:func:`request_from_form` and :func:`findings_from_form` read the posted
forms into the keyword arguments of :func:`detente.node.visits.request_visit`
and :func:`detente.node.visits.record_findings`, with what is wrong with
each field in the operator's language (``gettext``).

Example:
    >>> form = {"inspection_type": ["aegis-ashore-visit"], "site": ["deveselu"],
    ...         "arrival": ["2026-03-03T08:00"], "team_size": ["8"]}
    >>> arguments, errors = request_from_form(form, types=["aegis-ashore-visit"])
    >>> arguments["team_size"], errors
    (8, {})
    >>> findings_from_form({"status.3": ["loaded"], "contents.3": ["SM-3"]}, sample=[3])
    ([{'index': 3, 'status': 'loaded', 'contents': 'SM-3'}], {})
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from detente.console.lineforms import parse_utc
from detente.measures.inspections import Inspection

__all__ = [
    "OVER",
    "STEPS",
    "findings_from_form",
    "next_steps",
    "reason_from_form",
    "request_from_form",
]

Gettext = Callable[[str], str]
Form = Mapping[str, Sequence[str]]

#: The states in which a visit takes no more steps.
OVER = frozenset({"rejected", "refused", "cancelled", "forfeited", "closed"})
#: The steps recorded with ``inspection-step``, in order.
STEPS = ("arrived", "at_site", "finished")
_MAX_TEAM = 1000
_MAX_TEXT = 4000


def _same(message: str) -> str:
    return message


def _one(form: Form, key: str) -> str:
    values = form.get(key) or [""]
    return values[0].strip()


def next_steps(visit: Inspection, party: str) -> frozenset[str]:
    """The steps ``party`` may take on ``visit`` now, by the names of the page's forms.

    ``commit``, ``reveal``, ``arrived``, ``at_site``, ``finished``, ``open``,
    ``findings``, ``report``, ``refuse`` and ``cancel``; none once the visit
    is over or for a party that is not one of its sides.

    >>> from datetime import UTC, datetime
    >>> v = Inspection("ru:0", "t", "ru", "us", "s", datetime(2026, 3, 1, tzinfo=UTC),
    ...                None, 8, False, state="sampling")
    >>> sorted(next_steps(v, "us"))
    ['cancel', 'commit', 'refuse']
    """
    if visit.state in OVER or party not in (visit.host, visit.inspecting):
        return frozenset()
    host = party == visit.host
    steps = {"cancel"}
    if host and "arrived" not in visit.steps:
        steps.add("refuse")
    if party not in visit.commits and not visit.reveals:
        steps.add("commit")
    if (
        len(visit.commits) == 2
        and party not in visit.reveals
        and (host or visit.host in visit.reveals)
    ):
        steps.add("reveal")
    if visit.seed is not None:
        if not host and "arrived" not in visit.steps:
            steps.add("arrived")
        if host and "arrived" in visit.steps and "at_site" not in visit.steps:
            steps.add("at_site")
        if "at_site" in visit.steps and "finished" not in visit.steps:
            steps.add("finished")
        if host and visit.opening_ref is None:
            steps.add("open")
        if not host and "at_site" in visit.steps and visit.observed_ref is None:
            steps.add("findings")
    digest = visit.report_sha256()
    if digest is not None and visit.reports.get(party) != digest:
        steps.add("report")
    return frozenset(steps)


def request_from_form(
    form: Form, *, types: Collection[str], gettext: Gettext = _same
) -> tuple[dict[str, Any], dict[str, str]]:
    """The arguments of ``request_visit``, and the fields in error."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    kind = _one(form, "inspection_type")
    if kind not in types:
        errors["inspection_type"] = gettext("Choose an inspection type.")
    out["inspection_type"] = kind
    site = _one(form, "site")
    if not site:
        errors["site"] = gettext("Required.")
    out["site"] = site
    arrival = parse_utc(_one(form, "arrival"))
    if arrival is None:
        errors["arrival"] = gettext("A date and time in UTC, such as 2026-03-01T11:40.")
    out["arrival"] = arrival
    team = _one(form, "team_size")
    if not team.isdigit() or not 1 <= int(team) <= _MAX_TEAM:
        errors["team_size"] = gettext("A whole number of people, at least 1.")
        out["team_size"] = 0
    else:
        out["team_size"] = int(team)
    return out, errors


def findings_from_form(
    form: Form, *, sample: Sequence[int], gettext: Gettext = _same
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """What the inspectors saw at each sampled record (``status.<i>``, ``contents.<i>``)."""
    observed: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for index in sample:
        row: dict[str, Any] = {"index": index}
        for name in ("status", "contents"):
            value = _one(form, f"{name}.{index}")[:_MAX_TEXT]
            if value:
                row[name] = value
        if len(row) == 1:
            errors[f"status.{index}"] = gettext("Write what was seen at this record.")
        observed.append(row)
    return observed, errors


def reason_from_form(form: Form, gettext: Gettext = _same) -> tuple[str, dict[str, str]]:
    """The reason a refusal or cancellation gives, and the field in error."""
    reason = _one(form, "reason")[:_MAX_TEXT]
    return reason, ({} if reason else {"reason": gettext("Give the reason.")})
