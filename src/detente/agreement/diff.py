"""Compare two resolved agreements clause by clause.

Negotiators hold two texts side by side (an offer and a counter-offer, a
draft and what was signed) and ask three things of each kind of clause:
what does A have that B lacks, what does B have that A lacks, and where do
the clauses both have say different things. :func:`diff_agreements` answers
them on the *resolved* agreements, includes merged, so that a clause counts
the same whether a file writes it or includes it.

Items of keyed clauses (categories, limits, zones, message types…) are
matched by id, parties by party id; the hotline, incident thresholds and
``in_force`` are single clauses, and ``settings`` holds the top-level
numbers (``skew_seconds``, ``max_body_bytes``, ``two_person_release``).
Fields of matched items are compared recursively on the agreements' JSON
form (defaults filled in, dates as ISO strings) and reported with dotted
paths, ``limits.launchers.max``. Two kinds of value are compared whole, with
a note: body schemas and zone geometries (a field-by-field walk through a
JSON Schema or a ring of coordinates says less than "they differ"), and
tables whose ``kind`` or ``type`` differs (a deadline of another kind).
Lists of plain values (party lists, site lists) are compared whole too;
lists of tables of the same length item by item (quota periods).

Not compared: names, titles, versions and descriptions of the agreements
themselves, the order of parties, and the protocol's ``suspension`` and
``resumption`` types, whose schemas are derived from the other types.

Example:
    >>> def demo(**extra):
    ...     return Agreement.model_validate({
    ...         "name": "demo", "title": "Demo", "version": "1",
    ...         "parties": [{"id": "a", "name": "A"}], **extra})
    >>> first = demo(skew_seconds=300)
    >>> second = demo(skew_seconds=600,
    ...               parties=[{"id": "a", "name": "A"}, {"id": "b", "name": "B"}])
    >>> d = diff_agreements(first, second)
    >>> d.clause("parties").only_b
    ('b',)
    >>> [(f.path, f.a, f.b) for item in d.clause("settings").differ for f in item.fields]
    [('skew_seconds', 300, 600)]
    >>> diff_agreements(first, first).is_empty()
    True
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from detente.agreement.model import KEYED_SECTIONS, Agreement, FieldPath, dotted
from detente.agreement.suspension import SUSPENSION_TYPES

__all__ = [
    "CLAUSE_KINDS",
    "AgreementDiff",
    "ClauseDiff",
    "FieldDiff",
    "ItemDiff",
    "diff_agreements",
]

#: Every clause kind a diff reports, in the order it reports them, with its title.
CLAUSE_KINDS: dict[str, str] = {
    "parties": "Parties",
    "categories": "Categories",
    "counting_rules": "Counting rules",
    "limits": "Limits",
    "zones": "Zones",
    "zone_constraints": "Zone constraints",
    "sites": "Sites",
    "message_types": "Message types",
    "inspection_types": "Inspection types",
    "templates": "Templates",
    "hotline": "Hotline",
    "incident_thresholds": "Incident thresholds",
    "in_force": "In force",
    "settings": "Settings",
}

_SINGLE = ("hotline", "incident_thresholds", "in_force")
_SETTINGS = ("skew_seconds", "max_body_bytes", "two_person_release")
# Values compared whole, with the note said when they differ.
_WHOLE = {
    "body_schema": "body schemas differ (compared as whole values)",
    "geometry": "geometries differ (compared as whole values)",
}
_LABEL_LENGTH = 80


@dataclass(frozen=True)
class FieldDiff:
    """One value that differs: where (``path`` from the agreement, ``field`` within
    the item), A's value and B's (``None`` when unset, or absent: see ``note``)."""

    path: str
    field: str
    a: Any
    b: Any
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form (docs/agreement-format.md, "Comparing agreements")."""
        return {"path": self.path, "field": self.field, "a": self.a, "b": self.b, "note": self.note}

    def swapped(self) -> FieldDiff:
        """The same difference seen from B."""
        note = self.note
        if note in (_ABSENT_IN_A, _ABSENT_IN_B):
            note = _ABSENT_IN_B if note == _ABSENT_IN_A else _ABSENT_IN_A
        return FieldDiff(self.path, self.field, self.b, self.a, note)


_ABSENT_IN_A = "not in A"
_ABSENT_IN_B = "not in B"


@dataclass(frozen=True)
class ItemDiff:
    """An item both agreements have, and the fields in which they differ."""

    id: str
    fields: tuple[FieldDiff, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {"id": self.id, "fields": [f.to_json() for f in self.fields]}


@dataclass(frozen=True)
class ClauseDiff:
    """One clause kind: ids only in A, only in B (sorted), and items that differ.

    ``labels`` gives a short description (name or description) of each id
    in ``only_a`` and ``only_b``, and ``in_both`` counts the ids both have
    (alike or not), for people; neither is part of the JSON form.
    """

    kind: str
    only_a: tuple[str, ...] = ()
    only_b: tuple[str, ...] = ()
    differ: tuple[ItemDiff, ...] = ()
    labels: dict[str, str] = field(default_factory=dict, compare=False)
    in_both: int = field(default=0, compare=False)

    @property
    def title(self) -> str:
        """The kind as people read it: ``Zone constraints``."""
        return CLAUSE_KINDS[self.kind]

    def is_empty(self) -> bool:
        """Whether A and B say the same in this clause kind."""
        return not (self.only_a or self.only_b or self.differ)

    def to_json(self) -> dict[str, Any]:
        """The JSON form: ``only_a``, ``only_b`` (lists of ids) and ``differ``."""
        return {
            "only_a": list(self.only_a),
            "only_b": list(self.only_b),
            "differ": [item.to_json() for item in self.differ],
        }


@dataclass(frozen=True)
class AgreementDiff:
    """What two agreements say differently, clause kind by clause kind."""

    a_name: str
    a_id: str
    b_name: str
    b_id: str
    clauses: tuple[ClauseDiff, ...]

    def clause(self, kind: str) -> ClauseDiff:
        """The comparison of one clause kind (a key of :data:`CLAUSE_KINDS`).

        Raises:
            KeyError: no such clause kind.
        """
        for clause in self.clauses:
            if clause.kind == kind:
                return clause
        raise KeyError(kind)

    def is_empty(self) -> bool:
        """Whether every clause kind is the same in both (names and titles aside)."""
        return all(clause.is_empty() for clause in self.clauses)

    def to_json(self) -> dict[str, Any]:
        """The documented JSON form; every clause kind is present, empty or not."""
        return {
            "a": {"name": self.a_name, "id": self.a_id},
            "b": {"name": self.b_name, "id": self.b_id},
            "identical_clauses": self.is_empty(),
            "clauses": {clause.kind: clause.to_json() for clause in self.clauses},
        }


def diff_agreements(a: Agreement, b: Agreement) -> AgreementDiff:
    """Compare ``a`` with ``b`` clause by clause (module docstring: what and how).

    Symmetric: ``diff_agreements(b, a)`` swaps ``only_a`` with ``only_b``
    and each field's two values.
    """
    items_a, items_b = _items(a), _items(b)
    clauses = []
    for kind in CLAUSE_KINDS:
        left, right = items_a[kind], items_b[kind]
        only_a = tuple(sorted(left.keys() - right.keys()))
        only_b = tuple(sorted(right.keys() - left.keys()))
        labels = {key: _label(left[key]) for key in only_a}
        labels.update({key: _label(right[key]) for key in only_b})
        differ = []
        both = sorted(left.keys() & right.keys())
        for key in both:
            root = _root(kind, key)
            fields = tuple(_compare(root, len(root), left[key], right[key]))
            if fields:
                differ.append(ItemDiff(key, fields))
        clauses.append(ClauseDiff(kind, only_a, only_b, tuple(differ), labels, len(both)))
    return AgreementDiff(a.name, a.id, b.name, b.id, tuple(clauses))


def _items(agreement: Agreement) -> dict[str, dict[str, Any]]:
    """Each clause kind's items by id, in JSON form, without their own ``id``."""
    data = agreement.model_dump(mode="json")
    out: dict[str, dict[str, Any]] = {"parties": {p["id"]: p for p in data["parties"]}}
    for section in KEYED_SECTIONS:
        out[section] = dict(data[section])
    for type_id in SUSPENSION_TYPES:
        out["message_types"].pop(type_id, None)
    for section in _SINGLE:
        out[section] = {} if data[section] is None else {section: data[section]}
    out["settings"] = {"settings": {name: data[name] for name in _SETTINGS}}
    return {
        kind: {key: {k: v for k, v in item.items() if k != "id"} for key, item in items.items()}
        for kind, items in out.items()
    }


def _root(kind: str, key: str) -> FieldPath:
    if kind == "settings":
        return ()
    if kind in _SINGLE:
        return (kind,)
    return (kind, key)


def _compare(path: FieldPath, depth: int, a: Any, b: Any) -> Iterator[FieldDiff]:
    if a == b:
        return
    name = path[-1] if path else None
    if isinstance(name, str) and name in _WHOLE:
        yield _field(path, depth, a, b, _WHOLE[name])
    elif isinstance(a, dict) and isinstance(b, dict):
        for tag in ("kind", "type"):
            if tag in a and tag in b and a[tag] != b[tag]:
                yield _field(path, depth, a, b, f"different {tag} (compared as whole values)")
                return
        for key in [*a, *(k for k in b if k not in a)]:
            if key not in b:
                yield _field((*path, key), depth, a[key], None, _ABSENT_IN_B)
            elif key not in a:
                yield _field((*path, key), depth, None, b[key], _ABSENT_IN_A)
            else:
                yield from _compare((*path, key), depth, a[key], b[key])
    elif (
        isinstance(a, list)
        and isinstance(b, list)
        and len(a) == len(b)
        and any(isinstance(v, dict | list) for v in (*a, *b))
    ):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _compare((*path, i), depth, x, y)
    else:
        yield _field(path, depth, a, b, None)


def _field(path: FieldPath, depth: int, a: Any, b: Any, note: str | None) -> FieldDiff:
    inner = dotted(path[depth:])
    return FieldDiff(dotted(path), inner or dotted(path), a, b, note)


def _label(item: dict[str, Any]) -> str:
    for key in ("name", "description", "en"):
        text = item.get(key)
        if isinstance(text, str) and text.strip():
            line = " ".join(text.split())
            return line if len(line) <= _LABEL_LENGTH else line[: _LABEL_LENGTH - 1] + "…"
    return ""
