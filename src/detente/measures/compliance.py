"""Declared numbers against an agreement's limits, from a file, without a node.

``detente compliance check`` reads declarations in this shape::

    {"declarations": [
        {"party": "us", "as_of": "2020-09-01",
         "counts": {"deployed_icbms": 400, "deployed_slbms": 220, ...},
         "types": {"deployed_heavy_bombers": {"B-52H": 38, "B-2A": 12}},
         "aggregates": {"launchers": 800},
         "source": "US State Department fact sheet, 1 October 2020"}
    ]}

``counts`` are per category of the agreement; each counting rule turns
them into an aggregate (:class:`~detente.agreement.counting.CountingRule`),
so a total is never typed twice. Where a party published only its totals
(Russia's public statements gave no breakdown), ``aggregates`` carries them
by counting-rule id, and a total is taken as declared when the counts do not
cover every category of its rule; where they do, a declared total must agree
with the counted one. ``types`` breaks a category down by type (Minuteman
III, Trident II) and must add up to the category's count. ``party`` is an
agreement party's id, in any case.

For each party the declaration in force on a date is the latest with
``as_of`` on or before it, and each limit that applies to the party is
``within``, ``exceeded``, ``not_in_force`` (outside its dates), or
``no_declaration`` (in force, but nothing declared yet, or the declaration
in force gives neither the total nor any of its categories).

Example:
    >>> from datetime import date
    >>> from detente.agreement import builtin_agreement
    >>> start = builtin_agreement("new-start")
    >>> found = load_declarations({"declarations": [{"party": "US", "as_of": "2019-03-01",
    ...     "aggregates": {"deployed_delivery_vehicles": 656}}]}, start)
    >>> evaluate(start, found, date(2019, 6, 1))["parties"]["us"]["limits"][
    ...     "deployed_delivery_vehicles"]
    {'value': 656, 'limit': 700, 'basis': 'declared', 'status': 'within'}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from detente.agreement import Agreement
from detente.agreement._base import ANY_PARTY
from detente.errors import InputError

__all__ = [
    "Declaration",
    "DeclarationError",
    "DeclarationSet",
    "Dispute",
    "evaluate",
    "load_declarations",
]

# More than any real exchange holds; a larger file is not a declarations file.
MAX_DECLARATIONS = 100_000
MAX_COUNT = 10**12
_KEYS = frozenset({"party", "as_of", "counts", "types", "aggregates", "source"})
_DISPUTE_KEYS = frozenset({"by", "party", "as_of", "counts", "aggregates", "text", "source"})


class DeclarationError(InputError):
    """A declarations file breaks a rule; the message starts with the JSON path."""


@dataclass(frozen=True)
class Declaration:
    """One party's declared numbers as of a date."""

    party: str
    as_of: date
    counts: Mapping[str, int]
    aggregates: Mapping[str, int] = field(default_factory=dict)
    types: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    source: str | None = None
    index: int = 0

    def aggregate(self, agreement: Agreement, rule_id: str) -> tuple[int | None, str]:
        """The value of counting rule ``rule_id`` and its basis: ``counts`` or ``declared``.

        A category of the rule not in ``counts`` counts zero, unless the
        total is declared; a rule none of whose categories is counted and
        whose total is not declared has no value (``None``, ``missing``).
        """
        rule = agreement.counting_rules[rule_id]
        covered = all(category in self.counts for category in rule.terms)
        if not covered and rule_id in self.aggregates:
            return self.aggregates[rule_id], "declared"
        if not any(category in self.counts for category in rule.terms):
            return None, "missing"
        return rule.evaluate(self.counts), "counts"


@dataclass(frozen=True)
class Dispute:
    """Party ``by`` contests ``party``'s declaration as of ``as_of``; its own numbers."""

    by: str
    declaration: Declaration
    counts: Mapping[str, int]
    aggregates: Mapping[str, int]
    text: str
    source: str | None
    index: int

    def aggregate(self, agreement: Agreement, rule_id: str) -> tuple[int, str] | None:
        """The disputing side's value of ``rule_id``, if its position changes it."""
        rule = agreement.counting_rules[rule_id]
        if rule_id in self.aggregates:
            return self.aggregates[rule_id], "declared"
        if any(category in self.counts for category in rule.terms):
            merged = {**self.declaration.counts, **self.counts}
            return rule.evaluate(merged), "counts"
        return None


@dataclass(frozen=True)
class DeclarationSet:
    """What a declarations file holds: the declarations and the disputes of them."""

    declarations: Sequence[Declaration]
    disputes: Sequence[Dispute] = ()


def load_declarations(data: object, agreement: Agreement) -> DeclarationSet:
    """Check parsed JSON against ``agreement`` and return its declarations and disputes.

    ``disputes`` (optional) lists positions of one party on another's
    declaration: ``{"by": "ru", "party": "us", "as_of": "2018-02-05",
    "aggregates": {"launchers": 901}, "text": "...", "source": "..."}``;
    ``counts`` there replace the declared ones for the categories given.

    Raises:
        DeclarationError: the first thing wrong, named by its JSON path
            (``declarations[2].counts.deployed_icbms: negative count -4``).
    """
    if not isinstance(data, dict) or "declarations" not in data:
        raise DeclarationError('$: an object with a member "declarations" is expected')
    extra = sorted(set(data) - {"declarations", "disputes"})
    if extra:
        raise DeclarationError(f"$.{extra[0]}: unknown member")
    items = data["declarations"]
    if not isinstance(items, list):
        raise DeclarationError("declarations: a list is expected")
    if len(items) > MAX_DECLARATIONS:
        raise DeclarationError(f"declarations: more than {MAX_DECLARATIONS} entries")
    parties = {p.lower(): p for p in agreement.party_ids()}
    found = [_declaration(item, i, agreement, parties) for i, item in enumerate(items)]
    seen: dict[tuple[str, date], int] = {}
    for d in found:
        earlier = seen.setdefault((d.party, d.as_of), d.index)
        if earlier != d.index:
            raise DeclarationError(
                f"declarations[{d.index}]: a second declaration by {d.party} as of "
                f"{d.as_of} (the first is declarations[{earlier}])"
            )
    disputes = data.get("disputes", [])
    if not isinstance(disputes, list) or len(disputes) > MAX_DECLARATIONS:
        raise DeclarationError(f"disputes: a list of at most {MAX_DECLARATIONS} is expected")
    by_key = {(d.party, d.as_of): d for d in found}
    return DeclarationSet(
        declarations=found,
        disputes=[_dispute(item, i, agreement, parties, by_key) for i, item in enumerate(disputes)],
    )


def _dispute(
    item: object,
    i: int,
    agreement: Agreement,
    parties: Mapping[str, str],
    declarations: Mapping[tuple[str, date], Declaration],
) -> Dispute:
    where = f"disputes[{i}]"
    if not isinstance(item, dict):
        raise DeclarationError(f"{where}: an object is expected")
    unknown = sorted(set(item) - _DISPUTE_KEYS)
    if unknown:
        raise DeclarationError(f"{where}.{unknown[0]}: unknown member")
    by = _party(item.get("by"), f"{where}.by", agreement, parties)
    party = _party(item.get("party"), f"{where}.party", agreement, parties)
    if by == party:
        raise DeclarationError(f"{where}.by: a party does not dispute its own declaration")
    as_of = _day(item.get("as_of"), f"{where}.as_of")
    declaration = declarations.get((party, as_of))
    if declaration is None:
        raise DeclarationError(f"{where}: no declaration by {party} as of {as_of} to dispute")
    counts = _numbers(item.get("counts", {}), f"{where}.counts", agreement.categories, "category")
    aggregates = _numbers(
        item.get("aggregates", {}), f"{where}.aggregates", agreement.counting_rules, "counting rule"
    )
    if not counts and not aggregates:
        raise DeclarationError(f"{where}: give the disputing side's counts or aggregates")
    text = item.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > 4000:
        raise DeclarationError(f"{where}.text: the position, 1 to 4000 characters")
    source = item.get("source")
    if source is not None and (not isinstance(source, str) or len(source) > 2000):
        raise DeclarationError(f"{where}.source: a string of at most 2000 characters")
    return Dispute(by, declaration, counts, aggregates, text, source, i)


def _party(value: object, where: str, agreement: Agreement, parties: Mapping[str, str]) -> str:
    if not isinstance(value, str) or value.lower() not in parties:
        raise DeclarationError(
            f"{where}: unknown party {value!r} "
            f"(parties of {agreement.name}: {', '.join(sorted(parties.values()))})"
        )
    return parties[value.lower()]


def _declaration(
    item: object, i: int, agreement: Agreement, parties: Mapping[str, str]
) -> Declaration:
    where = f"declarations[{i}]"
    if not isinstance(item, dict):
        raise DeclarationError(f"{where}: an object is expected")
    unknown = sorted(set(item) - _KEYS)
    if unknown:
        raise DeclarationError(f"{where}.{unknown[0]}: unknown member")
    party = _party(item.get("party"), f"{where}.party", agreement, parties)
    as_of = _day(item.get("as_of"), f"{where}.as_of")
    if "counts" not in item and "aggregates" not in item:
        raise DeclarationError(f"{where}: give counts, aggregates or both")
    categories = agreement.categories
    counts = _numbers(item.get("counts", {}), f"{where}.counts", categories, "category")
    aggregates = _numbers(
        item.get("aggregates", {}), f"{where}.aggregates", agreement.counting_rules, "counting rule"
    )
    types = _types(item.get("types", {}), f"{where}.types", counts, categories)
    source = item.get("source")
    if source is not None and (not isinstance(source, str) or len(source) > 2000):
        raise DeclarationError(f"{where}.source: a string of at most 2000 characters")
    found = Declaration(
        party=party,
        as_of=as_of,
        counts=counts,
        aggregates=aggregates,
        types=types,
        source=source,
        index=i,
    )
    for rule_id, declared in aggregates.items():
        value, basis = found.aggregate(agreement, rule_id)
        if basis == "counts" and value != declared:
            raise DeclarationError(
                f"{where}.aggregates.{rule_id}: declared {declared}, but the counts give "
                f"{value} under the counting rule"
            )
    return found


def _day(value: object, where: str) -> date:
    if not isinstance(value, str) or len(value) != 10:
        raise DeclarationError(f"{where}: {value!r} is not a date YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError as e:
        raise DeclarationError(f"{where}: {value!r} is not a date YYYY-MM-DD ({e})") from e
    if day.isoformat() != value:  # fromisoformat also takes week dates (2020-W36-2)
        raise DeclarationError(f"{where}: {value!r} is not a date YYYY-MM-DD")
    return day


def _numbers(value: object, where: str, known: Mapping[str, Any], what: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise DeclarationError(f"{where}: an object of {what} ids to counts is expected")
    out: dict[str, int] = {}
    for key, count in value.items():
        if key not in known:
            raise DeclarationError(
                f"{where}.{key}: unknown {what} (known: {', '.join(sorted(known))})"
            )
        out[key] = _count(count, f"{where}.{key}")
    return out


def _count(value: object, where: str) -> int:
    if type(value) is not int:
        raise DeclarationError(f"{where}: a whole number is expected, not {value!r}")
    if value < 0:
        raise DeclarationError(f"{where}: negative count {value}")
    if value > MAX_COUNT:
        raise DeclarationError(f"{where}: {value} is beyond any real count")
    return value


def _types(
    value: object, where: str, counts: Mapping[str, int], categories: Mapping[str, Any]
) -> dict[str, dict[str, int]]:
    if not isinstance(value, dict):
        raise DeclarationError(f"{where}: an object of categories to types is expected")
    out: dict[str, dict[str, int]] = {}
    for category, by_type in value.items():
        here = f"{where}.{category}"
        if category not in categories:
            raise DeclarationError(f"{here}: unknown category")
        if not isinstance(by_type, dict) or not by_type:
            raise DeclarationError(f"{here}: an object of type names to counts is expected")
        out[category] = {str(name): _count(n, f"{here}.{name}") for name, n in by_type.items()}
        total = sum(out[category].values())
        if category not in counts:
            raise DeclarationError(f"{here}: types given for a category not in counts")
        if total != counts[category]:
            raise DeclarationError(
                f"{here}: the types add up to {total}, but counts.{category} is {counts[category]}"
            )
    return out


def in_force(declarations: Sequence[Declaration], party: str, at: date) -> Declaration | None:
    """The party's latest declaration as of ``at`` or before, if any."""
    mine = [d for d in declarations if d.party == party and d.as_of <= at]
    return max(mine, key=lambda d: d.as_of, default=None)


def evaluate(agreement: Agreement, found: DeclarationSet, at: date) -> dict[str, Any]:
    """Every party's limits on ``at`` under the declarations in force then (module docstring).

    A limit of a disputed declaration carries ``disputed``: each other
    party's position beside the declared one (value, status, text).
    """
    parties: dict[str, Any] = {}
    for party in sorted(agreement.party_ids()):
        declared = in_force(found.declarations, party, at)
        disputes = [d for d in found.disputes if d.declaration is declared]
        limits: dict[str, Any] = {}
        for limit in agreement.limits.values():
            if ANY_PARTY not in limit.applies_to and party not in limit.applies_to:
                continue
            row: dict[str, Any] = {"value": None, "limit": limit.max}
            if declared is not None:
                value, basis = declared.aggregate(agreement, limit.aggregate)
                row["value"] = value
                row["basis"] = basis
            if limit.status_on(at) == "not_in_force":
                row["status"] = "not_in_force"
            elif row["value"] is None:
                row["status"] = "no_declaration"
            else:
                row["status"] = "within" if row["value"] <= limit.max else "exceeded"
            positions = _positions(agreement, disputes, limit.aggregate, limit.max, row["status"])
            if positions:
                row["disputed"] = positions
            limits[limit.id] = row
        parties[party] = {
            "declaration": None
            if declared is None
            else {
                "as_of": declared.as_of.isoformat(),
                "index": declared.index,
                "source": declared.source,
            },
            "limits": limits,
        }
    return {
        "agreement": {"name": agreement.name, "id": agreement.id},
        "at": at.isoformat(),
        "parties": parties,
    }


def _positions(
    agreement: Agreement, disputes: Sequence[Dispute], rule_id: str, most: int, status: str
) -> list[dict[str, Any]]:
    out = []
    for dispute in disputes:
        found = dispute.aggregate(agreement, rule_id)
        if found is None:
            continue
        value, basis = found
        judged = status if status == "not_in_force" else ("within" if value <= most else "exceeded")
        out.append(
            {
                "by": dispute.by,
                "value": value,
                "basis": basis,
                "status": judged,
                "text": dispute.text,
                "source": dispute.source,
            }
        )
    return out
