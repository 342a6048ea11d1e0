"""The agreement model: one file as written, and the resolved agreement.

:class:`AgreementSource` is one TOML file as written: its shape is checked,
but names it uses may be defined in the agreements it ``includes``.
:class:`Agreement` is the resolved agreement: includes expanded, the
free-text ``message`` type added, every cross-reference checked. Its id is
the hex SHA-256 of its canonical JSON (RFC 8785), so two nodes that resolve
the same text hold the same id, and any change of any number changes it.

In a TOML file, keyed tables (``[limits.launchers]``) take their ``id``
from the key; writing ``id`` inside is allowed only if it equals the key.

``two_person_release`` lists the message types a second operator must
approve before the node sends them (:mod:`detente.node.releases`). It is a
top-level list rather than a flag on each message type because the types
that most need it, ``suspension`` and ``resumption``, are added by the
protocol and may not be defined (hence not flagged) in a file; a list can
name them, and reads as one policy in one place. The protocol's key entries
(``detente.key_*``) cannot be listed: they are appended on the node's host
with its key files (``detente keys rotate``), never through the API where a
second operator could approve them.

Example:
    >>> a = Agreement.model_validate({
    ...     "name": "demo", "title": "Demo", "version": "1",
    ...     "parties": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}]})
    >>> sorted(a.message_types), sorted(a.party_ids())
    (['message'], ['a', 'b'])
    >>> len(a.id)
    64
"""

from __future__ import annotations

import hashlib
from datetime import date
from functools import cached_property
from typing import Annotated, Any, NamedTuple

from pydantic import Field, field_validator, model_validator

from detente.agreement._base import ANY_PARTY, Day, Frozen, Positive, Slug, Text
from detente.agreement.counting import Category, CountingRule, Limit
from detente.agreement.deadlines import AfterMessage
from detente.agreement.geography import Site, Zone, ZoneConstraint
from detente.agreement.hotline import ACK_TYPE, Hotline, IncidentThresholds, Template
from detente.agreement.inspections import InspectionType
from detente.agreement.messages import FREE_TEXT_TYPE, MessageType, free_text_message_type
from detente.agreement.suspension import SUSPENSION_TYPES, suspension_message_types
from detente.agreement.system import SYSTEM_PREFIX, is_system_type, system_message_type
from detente.crypto.canonical import canonical_json
from detente.errors import EncodingError, TypeNotAllowedError

__all__ = [
    "DEFAULT_SKEW_SECONDS",
    "RELEASE_FIELD",
    "WIRE_MAX_BODY_BYTES",
    "KEYED_SECTIONS",
    "Agreement",
    "AgreementContent",
    "AgreementSource",
    "InForce",
    "Party",
    "FieldPath",
    "Problem",
    "dotted",
    "reference_problems",
    "hotline_problems",
    "release_problems",
]

#: Allowed clock skew for an envelope's ``created``, unless the agreement says otherwise.
DEFAULT_SKEW_SECONDS = 300
# The wire format's own cap on a body (record.envelope.MAX_BODY_BYTES): an
# agreement may state a lower limit, never a higher one.
WIRE_MAX_BODY_BYTES = 16 * 1024 * 1024

#: Tables keyed by id; included agreements contribute to each.
KEYED_SECTIONS = (
    "categories",
    "counting_rules",
    "limits",
    "zones",
    "zone_constraints",
    "sites",
    "message_types",
    "inspection_types",
    "templates",
)

FieldPath = tuple[str | int, ...]

#: The field listing the message types that need a second operator's approval.
RELEASE_FIELD = "two_person_release"
# Message type fields added later, left out of the canonical bytes when unset.
OPTIONAL_TYPE_FIELDS = ("declares", "notify_when")


class Problem(NamedTuple):
    """One broken reference: where (a field path) and what is wrong."""

    path: FieldPath
    message: str


class Party(Frozen):
    """A state or organisation that is party to the agreement (keys live in node config)."""

    id: Slug
    name: Text


class InForce(Frozen):
    """When the agreement binds: from ``effective`` until ``end`` (exclusive), if it ended."""

    effective: Day
    end: Day | None = None

    @model_validator(mode="after")
    def _ordered(self) -> InForce:
        if self.end is not None and self.end <= self.effective:
            raise ValueError(f"end ({self.end}) must be after effective ({self.effective})")
        return self

    def binds_on(self, day: date) -> bool:
        """Whether the agreement is in force on ``day``."""
        return self.effective <= day and (self.end is None or day < self.end)


class AgreementContent(Frozen):
    """Everything an agreement says, shared by a file and a resolved agreement."""

    name: Slug
    title: Text
    version: Annotated[str, Field(min_length=1, max_length=64)]
    description: Text = ""
    parties: Annotated[list[Party], Field(min_length=1)]
    categories: dict[Slug, Category] = Field(default_factory=dict)
    counting_rules: dict[Slug, CountingRule] = Field(default_factory=dict)
    limits: dict[Slug, Limit] = Field(default_factory=dict)
    zones: dict[Slug, Zone] = Field(default_factory=dict)
    zone_constraints: dict[Slug, ZoneConstraint] = Field(default_factory=dict)
    sites: dict[Slug, Site] = Field(default_factory=dict)
    message_types: dict[Slug, MessageType] = Field(default_factory=dict)
    inspection_types: dict[Slug, InspectionType] = Field(default_factory=dict)
    templates: dict[Slug, Template] = Field(default_factory=dict)
    hotline: Hotline | None = None
    incident_thresholds: IncidentThresholds | None = None
    in_force: InForce | None = None
    skew_seconds: Positive = DEFAULT_SKEW_SECONDS
    # The largest body either side sends or takes: both state it by running
    # the same agreement. Larger bodies travel in parts (exchange.parts).
    max_body_bytes: Annotated[int, Field(ge=1, le=WIRE_MAX_BODY_BYTES)] = WIRE_MAX_BODY_BYTES
    # Message types a second operator must approve before they are sent
    # (module docstring: why a list, not a flag per type).
    two_person_release: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        default_factory=list
    )

    @model_validator(mode="before")
    @classmethod
    def _ids_from_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for section in KEYED_SECTIONS:
            table = data.get(section)
            if isinstance(table, dict):
                data[section] = {
                    key: ({"id": key, **item} if isinstance(item, dict) else item)
                    for key, item in table.items()
                }
        return data

    @model_validator(mode="after")
    def _keys_match_ids(self) -> AgreementContent:
        for section in KEYED_SECTIONS:
            table: dict[str, Any] = getattr(self, section)
            for key, item in table.items():
                if item.id != key:
                    raise ValueError(f"{section}.{key}.id: {item.id!r} differs from its key")
        return self

    @field_validator(RELEASE_FIELD)
    @classmethod
    def _listed_once(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for type_id in value:
            if type_id in seen:
                raise ValueError(f"{type_id!r} is listed twice")
            seen.add(type_id)
        return value

    def party_ids(self) -> frozenset[str]:
        """The ids of the parties."""
        return frozenset(p.id for p in self.parties)


class AgreementSource(AgreementContent):
    """One agreement file as written; ``includes`` name built-ins or relative paths."""

    includes: list[Annotated[str, Field(min_length=1, max_length=1024)]] = Field(
        default_factory=list
    )


class Agreement(AgreementContent):
    """A resolved agreement: includes expanded, references checked, ``message`` present.

    ``includes`` keeps the *names* (not paths) of the agreements included
    directly, in the order written; their content is already merged in, so
    the id does not depend on where the included files lay on disk. Built
    directly (``Agreement.model_validate``), nothing is loaded: the data
    must already be resolved, as :meth:`model_dump` gives it.

    Treat an agreement as immutable: the models are frozen, and the dicts
    they hold must not be changed either (the id is computed once).
    """

    includes: list[Slug] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _release_sorted(cls, data: Any) -> Any:
        # A union over the includes has no order of its own: sorted, so that
        # the id does not depend on the order the types were listed in.
        if isinstance(data, dict) and isinstance(data.get(RELEASE_FIELD), list | tuple):
            listed = data[RELEASE_FIELD]
            if all(isinstance(t, str) for t in listed):
                data = {**data, RELEASE_FIELD: sorted(listed)}
        return data

    @model_validator(mode="before")
    @classmethod
    def _add_free_text(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        types = data.get("message_types")
        if types is None:
            types = {}
        if isinstance(types, dict) and FREE_TEXT_TYPE not in types:
            data = {**data, "message_types": {**types, FREE_TEXT_TYPE: free_text_message_type()}}
        return data

    @model_validator(mode="before")
    @classmethod
    def _add_suspension(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        types = data.get("message_types")
        if types is None:
            types = {}
        if not isinstance(types, dict):
            return data  # the field's own validation reports it
        # Validators may run in either order: `message` is always added.
        added = suspension_message_types({*types, FREE_TEXT_TYPE})
        for type_id in sorted(SUSPENSION_TYPES & types.keys()):
            given = types[type_id]
            try:
                same = MessageType.model_validate(given) == added[type_id]
            except ValueError:
                same = False
            if not same:
                raise ValueError(
                    f"message_types.{type_id}: reserved for the protocol type every agreement "
                    "has (see docs/agreement-format.md, Suspension); do not define it"
                )
        return {**data, "message_types": {**types, **added}}

    @model_validator(mode="after")
    def _references(self) -> Agreement:
        problems = reference_problems(self)
        if problems:
            raise ValueError("; ".join(f"{dotted(p.path)}: {p.message}" for p in problems))
        try:
            _ = self.id
        except EncodingError as e:
            raise ValueError(str(e)) from None
        return self

    def __hash__(self) -> int:
        # The generated frozen hash fails on the dicts inside; equal agreements have equal ids.
        return hash(self.id)

    @cached_property
    def id(self) -> str:
        """Hex SHA-256 of :meth:`canonical_bytes`: the agreement id every envelope names."""
        return hashlib.sha256(self.canonical_bytes()).hexdigest()

    def canonical_bytes(self) -> bytes:
        """RFC 8785 canonical JSON of the whole resolved agreement (dates as ISO strings).

        An empty ``two_person_release`` is left out, so that an agreement that
        asks for no two-person release keeps the id it had before the field
        existed; so are an unset ``in_force`` and a message type's unset
        ``declares`` and ``notify_when``.
        """
        data = self.model_dump(mode="json")
        if not data[RELEASE_FIELD]:
            del data[RELEASE_FIELD]
        if data.get("in_force") is None:
            data.pop("in_force", None)
        if not data.get("zone_constraints"):
            data.pop("zone_constraints", None)
        for message_type in data["message_types"].values():
            # Left out when unset, like two_person_release: ids stay as they were.
            for name in OPTIONAL_TYPE_FIELDS:
                if message_type.get(name) is None:
                    message_type.pop(name, None)
        return canonical_json(data)

    def needs_release(self, type_id: str) -> bool:
        """Whether the agreement asks a second operator to approve ``type_id`` before it is sent."""
        return type_id in self.two_person_release

    def message_type(self, type_id: str) -> MessageType:
        """The message type ``type_id``: the agreement's, or a protocol type (``detente.*``).

        Raises:
            TypeNotAllowedError: the agreement has no such message type.
        """
        if is_system_type(type_id):
            return system_message_type(type_id)
        try:
            return self.message_types[type_id]
        except KeyError:
            known = ", ".join(sorted(self.message_types))
            raise TypeNotAllowedError(
                f"agreement {self.name} has no message type {type_id!r} (it has: {known})"
            ) from None


def reference_problems(agreement: AgreementContent) -> list[Problem]:
    """Every name used in ``agreement`` that it does not define.

    Runs on a resolved agreement (includes merged), since a file may use a
    category or a party defined in what it includes.
    """
    problems: list[Problem] = []
    parties = agreement.party_ids()
    categories = agreement.categories
    seen: set[str] = set()
    for i, party in enumerate(agreement.parties):
        if party.id in seen:
            problems.append(Problem(("parties", i, "id"), f"party {party.id!r} is listed twice"))
        seen.add(party.id)

    def party_refs(path: FieldPath, refs: list[str]) -> None:
        for j, ref in enumerate(refs):
            if ref != ANY_PARTY and ref not in parties:
                problems.append(Problem((*path, j), f"unknown party {ref!r}"))

    for rule in agreement.counting_rules.values():
        for category in rule.terms:
            if category not in categories:
                problems.append(
                    Problem(
                        ("counting_rules", rule.id, "terms", category),
                        f"unknown category {category!r}",
                    )
                )
    for limit in agreement.limits.values():
        if limit.aggregate not in agreement.counting_rules:
            problems.append(
                Problem(
                    ("limits", limit.id, "aggregate"),
                    f"unknown counting rule {limit.aggregate!r}",
                )
            )
        party_refs(("limits", limit.id, "applies_to"), limit.applies_to)
    for constraint in agreement.zone_constraints.values():
        path: FieldPath = ("zone_constraints", constraint.id)
        if constraint.zone not in agreement.zones:
            problems.append(Problem((*path, "zone"), f"unknown zone {constraint.zone!r}"))
        for j, category in enumerate(constraint.categories):
            if category not in categories:
                problems.append(Problem((*path, "categories", j), f"unknown category {category!r}"))
        party_refs((*path, "applies_to"), constraint.applies_to)
    for site in agreement.sites.values():
        if site.party not in parties:
            problems.append(Problem(("sites", site.id, "party"), f"unknown party {site.party!r}"))
        for category in site.declared:
            if category not in categories:
                problems.append(
                    Problem(
                        ("sites", site.id, "declared", category), f"unknown category {category!r}"
                    )
                )
    for mt in agreement.message_types.values():
        party_refs(("message_types", mt.id, "senders"), mt.senders)
        party_refs(("message_types", mt.id, "recipients"), mt.recipients)
        if (
            isinstance(mt.deadline, AfterMessage)
            and mt.deadline.message_type not in agreement.message_types
        ):
            problems.append(
                Problem(
                    ("message_types", mt.id, "deadline", "message_type"),
                    f"unknown message type {mt.deadline.message_type!r}",
                )
            )
    for it in agreement.inspection_types.values():
        party_refs(("inspection_types", it.id, "inspecting"), it.inspecting)
        party_refs(("inspection_types", it.id, "inspected"), it.inspected)
        for j, site_id in enumerate(it.sites):
            if site_id not in agreement.sites:
                problems.append(
                    Problem(("inspection_types", it.id, "sites", j), f"unknown site {site_id!r}")
                )
        if it.opened_by is not None and it.opened_by not in agreement.inspection_types:
            problems.append(
                Problem(
                    ("inspection_types", it.id, "opened_by"),
                    f"unknown inspection type {it.opened_by!r}",
                )
            )
        if it.proportional is not None and it.proportional.category not in categories:
            problems.append(
                Problem(
                    ("inspection_types", it.id, "proportional", "category"),
                    f"unknown category {it.proportional.category!r}",
                )
            )
    problems.extend(hotline_problems(agreement))
    problems.extend(release_problems(agreement))
    return problems


def hotline_problems(agreement: AgreementContent) -> list[Problem]:
    """Names the hotline uses that the agreement does not define."""
    line = agreement.hotline
    if line is None:
        return []
    problems: list[Problem] = []
    for j, type_id in enumerate(line.acknowledged):
        if type_id not in agreement.message_types:
            problems.append(
                Problem(("hotline", "acknowledged", j), f"unknown message type {type_id!r}")
            )
    if line.acknowledged and ACK_TYPE not in agreement.message_types:
        problems.append(
            Problem(
                ("hotline", "acknowledged"),
                f"acknowledgements need the message type {ACK_TYPE!r} "
                "(include incsea-1972, which defines the line's types)",
            )
        )
    parties = agreement.party_ids()
    for party in line.escalation:
        if party not in parties:
            problems.append(Problem(("hotline", "escalation", party), f"unknown party {party!r}"))
    return problems


def release_problems(agreement: AgreementContent) -> list[Problem]:
    """Every id in ``two_person_release`` that is not a message type the API can send.

    The protocol's ``message``, ``suspension`` and ``resumption`` count as
    the agreement's: every resolved agreement has them. Key entries do not
    (module docstring).
    """
    known = {*agreement.message_types, FREE_TEXT_TYPE, *SUSPENSION_TYPES}
    problems: list[Problem] = []
    for j, type_id in enumerate(agreement.two_person_release):
        if type_id.startswith(SYSTEM_PREFIX):
            problems.append(
                Problem(
                    (RELEASE_FIELD, j),
                    f"{type_id!r} is a protocol key entry, appended only on the node's host by "
                    "`detente keys rotate` or `detente keys revoke`, to which two-person release "
                    "does not apply",
                )
            )
        elif type_id not in known:
            problems.append(
                Problem(
                    (RELEASE_FIELD, j),
                    f"unknown message type {type_id!r} (the agreement has: "
                    f"{', '.join(sorted(known))})",
                )
            )
    return problems


def dotted(path: FieldPath) -> str:
    """A field path as people write it: ``limits.launchers.max``, ``parties[1].name``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part and all(c.isalnum() or c in "_-" for c in part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out
