"""The emergency line: acknowledgement deadlines, escalation, link tests, phrases, thresholds.

The line carries messages between the parties' watch officers. Which
types a person must acknowledge, and how fast at each priority, is the
agreement's :class:`Hotline`; who is told next when nobody acknowledges is
its ``escalation``, per party; the standard phrases and signal groups an
operator fills in are :class:`Template` entries, each in English and
Russian.

The line's own message types have fixed ids (the engine in
:mod:`detente.measures.hotline` reads them by id); an agreement defines
them with their body schemas, as ``incsea-1972`` does:

========================  ===================================================
``line-message``          a message on the line: free text, or a template
``line-ack``              a person has read the message it ``refs``
``link-test``             sent by each node every ``link_test_interval``
``incident-report``       opens an incident thread
``incident-account``      a side's account, ``refs`` the report
``incident-status``       open, explained or closed, ``refs`` the report
``oob-notice``            a notice given by telephone or fax, recorded after
``oob-reply``             the other side confirms or disputes it
========================  ===================================================

Example:
    >>> from detente.agreement.messages import Priority
    >>> line = Hotline(ack={"FLASH": {"minutes": 3}}, link_test_interval={"hours": 1})
    >>> line.ack_deadline(Priority.FLASH)
    datetime.timedelta(seconds=180)
    >>> line.ack_deadline(Priority.ROUTINE) is None
    True
    >>> t = Template(id="ics-k", source="ICS", group="K",
    ...              en="I wish to communicate with you.", ru="Я хочу установить с вами связь.")
    >>> t.fill({})["en"]
    'K: I wish to communicate with you.'
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated

from pydantic import Field, Strict, field_validator, model_validator

from detente.agreement._base import Frozen, Positive, Slug, Span, Text
from detente.agreement.messages import Priority
from detente.errors import BodyError

__all__ = [
    "ACK_TYPE",
    "DEFAULT_LINK_TEST_ANSWER",
    "FIELD_MAX_LENGTH",
    "INCIDENT_ACCOUNT_TYPE",
    "INCIDENT_REPORT_TYPE",
    "INCIDENT_STATUS_TYPE",
    "LANGUAGES",
    "LINE_ANSWERS",
    "LINE_MESSAGE_TYPE",
    "LINE_OPENERS",
    "LINE_TYPES",
    "LINK_TEST_TYPE",
    "NOTICE_REPLY_TYPE",
    "NOTICE_TYPE",
    "ApproachThresholds",
    "Hotline",
    "IncidentThresholds",
    "Template",
]

LINE_MESSAGE_TYPE = "line-message"
ACK_TYPE = "line-ack"
LINK_TEST_TYPE = "link-test"
INCIDENT_REPORT_TYPE = "incident-report"
INCIDENT_ACCOUNT_TYPE = "incident-account"
INCIDENT_STATUS_TYPE = "incident-status"
NOTICE_TYPE = "oob-notice"
NOTICE_REPLY_TYPE = "oob-reply"
#: Every type the line's engine reads.
LINE_TYPES = frozenset(
    {
        LINE_MESSAGE_TYPE,
        ACK_TYPE,
        LINK_TEST_TYPE,
        INCIDENT_REPORT_TYPE,
        INCIDENT_ACCOUNT_TYPE,
        INCIDENT_STATUS_TYPE,
        NOTICE_TYPE,
        NOTICE_REPLY_TYPE,
    }
)
#: Line types that open something: sent to every other party unless addressed.
LINE_OPENERS = frozenset({LINE_MESSAGE_TYPE, LINK_TEST_TYPE, INCIDENT_REPORT_TYPE, NOTICE_TYPE})
#: Line types that answer an entry cited in refs: sent to its party unless addressed.
LINE_ANSWERS = frozenset({ACK_TYPE, INCIDENT_ACCOUNT_TYPE, INCIDENT_STATUS_TYPE, NOTICE_REPLY_TYPE})
#: The languages every template is written in.
LANGUAGES = ("en", "ru")
#: How long a link test may go unreceipted when the agreement does not say.
DEFAULT_LINK_TEST_ANSWER = timedelta(minutes=5)
#: Longest value an operator may put in a template's blank.
FIELD_MAX_LENGTH = 200

_FIELD = r"^[a-z][a-z0-9_]{0,31}$"


class Template(Frozen):
    """A standard phrase or signal group, in English and Russian, with blanks.

    Blanks are written ``{name}`` in both texts and listed in ``fields``;
    the operator fills them in, and the recipient sees both languages
    (:meth:`fill`). ``group`` is the International Code of Signals group a
    signal template stands for, shown before the text. ``source`` cites the
    provision or publication the phrase comes from.
    """

    id: Slug
    source: Text
    group: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,4}$")] | None = None
    en: Annotated[str, Field(min_length=1, max_length=1000)]
    ru: Annotated[str, Field(min_length=1, max_length=1000)]
    fields: list[Annotated[str, Field(pattern=_FIELD)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _blanks_match(self) -> Template:
        listed = set(self.fields)
        if len(listed) != len(self.fields):
            raise ValueError("fields: a blank is listed twice")
        for language in LANGUAGES:
            text: str = getattr(self, language)
            try:
                parsed = list(string.Formatter().parse(text))
            except ValueError as e:
                raise ValueError(f"{language}: {e} (a literal brace is written twice)") from None
            used = {name for _, name, _, _ in parsed if name is not None}
            if used != listed:
                missing, extra = sorted(listed - used), sorted(used - listed)
                what = "; ".join(
                    part
                    for part in (
                        f"lacks {', '.join('{' + n + '}' for n in missing)}" if missing else "",
                        f"uses unlisted {', '.join('{' + n + '}' for n in extra)}" if extra else "",
                    )
                    if part
                )
                raise ValueError(f"{language}: {what} (fields are {sorted(listed)})")
            if any(spec or conversion for _, name, spec, conversion in parsed if name):
                raise ValueError(f"{language}: a blank is written {{name}}, nothing more")
        return self

    def fill(self, values: Mapping[str, object]) -> dict[str, str]:
        """Both texts with the blanks filled in, keyed by language.

        Raises:
            BodyError: a blank is not filled, a value is not a short string,
                or a value names no blank of this template.
        """
        extra = sorted(set(values) - set(self.fields))
        if extra:
            raise BodyError(
                f"body.fields: template {self.id} has no blank {extra[0]!r} "
                f"(its blanks: {', '.join(self.fields) or 'none'})"
            )
        for name in self.fields:
            value = values.get(name)
            if not isinstance(value, str) or not value.strip():
                raise BodyError(f"body.fields.{name}: template {self.id} needs it filled in")
            if len(value) > FIELD_MAX_LENGTH:
                raise BodyError(f"body.fields.{name}: longer than {FIELD_MAX_LENGTH} characters")
        prefix = f"{self.group}: " if self.group else ""
        filled = {}
        for language in LANGUAGES:
            # One pass: literal text (with {{ and }} undoubled) and each blank's value as typed.
            parts = string.Formatter().parse(getattr(self, language))
            filled[language] = prefix + "".join(
                literal + ("" if name is None else str(values[name]))
                for literal, name, _, _ in parts
            )
        return filled


class Hotline(Frozen):
    """How the line works: deadlines to acknowledge, escalation, link tests.

    Attributes:
        ack: time allowed to acknowledge, per priority, from the message's
            receipt; a priority missing has no deadline.
        link_test_interval: each party's node sends a ``link-test`` this often.
        link_test_answer: a link test not receipted within this is missed
            (default :data:`DEFAULT_LINK_TEST_ANSWER`).
        acknowledged: the message types a person must acknowledge
            (``line-ack``); the acknowledgement itself never is.
        escalation: per party, the contacts in order: the first takes the
            message, each next one is told when a further ``ack`` span passes
            without an acknowledgement.
    """

    ack: dict[Annotated[Priority, Strict(False)], Span]
    link_test_interval: Span
    link_test_answer: Span | None = None
    acknowledged: list[Slug] = Field(default_factory=list)
    escalation: dict[Slug, Annotated[list[Text], Field(min_length=1, max_length=16)]] = Field(
        default_factory=dict
    )

    @field_validator("acknowledged")
    @classmethod
    def _not_the_lines_own(cls, value: list[str]) -> list[str]:
        for type_id in value:
            if type_id in (ACK_TYPE, LINK_TEST_TYPE):
                raise ValueError(
                    f"{type_id!r} is never acknowledged by a person (an acknowledgement would "
                    "need one of its own; a link test is answered by its receipt)"
                )
        if len(set(value)) != len(value):
            raise ValueError("a type is listed twice")
        return value

    def ack_deadline(self, priority: Priority) -> timedelta | None:
        """Time allowed to acknowledge a message of ``priority``, or None."""
        span = self.ack.get(priority)
        return None if span is None else span.delta

    @property
    def answer_within(self) -> timedelta:
        """How long a link test may go unreceipted."""
        span = self.link_test_answer
        return DEFAULT_LINK_TEST_ANSWER if span is None else span.delta

    def contact(self, party: str, level: int) -> str:
        """Who at ``party`` is told at escalation ``level`` (0: who takes the message).

        Past the last contact named, the last; a party that names none has
        its watch officer at every level.
        """
        contacts = self.escalation.get(party)
        if not contacts:
            return f"{party} watch officer"
        return contacts[min(level, len(contacts) - 1)]


class ApproachThresholds(Frozen):
    """When a predicted close approach of one kind of pair is worth a message.

    Two units whose closest approach, within ``horizon_seconds`` from now, is
    nearer than ``horizontal_metres`` across and, where both report
    altitudes and ``vertical_metres`` is set, nearer than that in height.
    """

    horizontal_metres: Annotated[float, Field(gt=0, le=1_000_000)]
    vertical_metres: Annotated[float, Field(gt=0, le=100_000)] | None = None
    horizon_seconds: Annotated[float, Field(ge=0, le=86_400)]


class IncidentThresholds(Frozen):
    """When a predicted close approach becomes an incident worth a message.

    The three numbers apply to every pair; ``sea`` (two ships, or units that
    are not aircraft) and ``air`` (a pair with an aircraft in it) replace
    them for those pairs when given, since an aircraft closes on a ship
    twenty times faster than another ship does.
    """

    horizontal_metres: Positive
    vertical_metres: Positive
    horizon_seconds: Positive
    sea: ApproachThresholds | None = None
    air: ApproachThresholds | None = None

    def for_pair(self, *, aircraft: bool) -> ApproachThresholds:
        """The thresholds for a pair with (``aircraft``) or without an aircraft in it."""
        chosen = self.air if aircraft else self.sea
        if chosen is not None:
            return chosen
        return ApproachThresholds(
            horizontal_metres=float(self.horizontal_metres),
            vertical_metres=self.vertical_metres,
            horizon_seconds=self.horizon_seconds,
        )
