"""The line's fold on hand-built entries: deadlines, escalation, links, threads, notices."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from detente.agreement import builtin_agreement, load_agreement_text
from detente.agreement.hotline import Hotline, Template
from detente.errors import AgreementError, BodyError
from detente.measures.entry import Entry
from detente.measures.hotline import AckState, LinkState, fold_line, line_text, parse_body_time

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AGREEMENT = builtin_agreement("security-replies-2022")


def message(seq, *, party="us", to=("ru",), priority="FLASH", at=T0, received=None, **kw):
    return Entry(
        party=party,
        seq=seq,
        type=kw.pop("type", "line-message"),
        created=at,
        to=to,
        priority=priority,
        body=kw.pop("body", {"text": f"message {seq}"}),
        received=received if received is not None else dict.fromkeys(to, at),
        **kw,
    )


def ack(seq, ref, *, party="ru", to=("us",), at):
    return Entry(
        party=party, seq=seq, type="line-ack", created=at, to=to, refs=(ref,), body={"by": "duty"}
    )


def fold(entries, *, me="ru", now, since=T0, parties=None):
    return fold_line(AGREEMENT, entries, me=me, now=now, since=since, parties=parties)


def test_deadline_runs_from_receipt_and_escalates_one_contact_per_span() -> None:
    received = T0 + timedelta(seconds=40)
    entry = message(0, received={"ru": received})
    states = []
    for minutes in (4, 5, 10, 15, 60):
        [owed] = fold([entry], now=received + timedelta(minutes=minutes)).acknowledgements
        states.append((owed.state, owed.level, owed.contact))
    assert owed.deadline == received + timedelta(minutes=5)
    assert states == [
        (AckState.DUE, 0, "NNRRC duty officer"),
        (AckState.OVERDUE, 1, "NNRRC duty chief"),
        (AckState.OVERDUE, 2, "General Staff duty general"),
        (AckState.OVERDUE, 3, "General Staff duty general"),  # the last contact, re-alerted
        (AckState.OVERDUE, 12, "General Staff duty general"),
    ]


def test_an_unreceived_message_runs_from_its_creation_on_the_senders_side() -> None:
    entry = message(0, received={"ru": None})
    [owed] = fold([entry], me="us", now=T0 + timedelta(minutes=6)).acknowledgements
    assert (owed.state, owed.received, owed.deadline) == (
        AckState.OVERDUE,
        None,
        T0 + timedelta(minutes=5),
    )


def test_acknowledged_in_time_late_and_by_the_wrong_party() -> None:
    a = message(0)
    b = message(1)
    entries = [
        a,
        b,
        ack(0, "us:0", at=T0 + timedelta(minutes=4)),
        ack(1, "us:1", at=T0 + timedelta(minutes=7)),
        ack(0, "us:0", party="nato", at=T0 + timedelta(minutes=1)),  # not a recipient
        ack(2, "us:0", at=T0 + timedelta(minutes=9)),  # a second one: the first counts
    ]
    line = fold(entries, now=T0 + timedelta(hours=1))
    states = {o.ref: (o.state, o.acknowledged_at, o.ack_ref) for o in line.acknowledgements}
    assert states == {
        "us:0": (AckState.ACKNOWLEDGED, T0 + timedelta(minutes=4), "ru:0"),
        "us:1": (AckState.LATE, T0 + timedelta(minutes=7), "ru:1"),
    }
    assert ("nato:0", "acknowledges us:0, which is not a line message to nato") in line.skipped
    assert line.owed_by_me() == []


def test_each_priority_its_span_and_a_priority_without_one_stays_open() -> None:
    spans = {"FLASH": 5, "IMMEDIATE": 30, "PRIORITY": 180, "ROUTINE": 1440}
    entries = [message(i, priority=p) for i, p in enumerate(spans)]
    line = fold(entries, now=T0)
    assert {o.priority: o.deadline - T0 for o in line.acknowledgements} == {
        p: timedelta(minutes=m) for p, m in spans.items()
    }
    assert [o.priority for o in line.owed_by_me()] == list(spans)  # most urgent first
    bare = AGREEMENT.model_copy(
        update={"hotline": AGREEMENT.hotline.model_copy(update={"ack": {}})}
    )
    [owed] = fold_line(
        bare, [message(0)], me="ru", now=T0 + timedelta(days=9), since=T0
    ).acknowledgements
    assert (owed.state, owed.deadline) == (AckState.OPEN, None)


def test_third_parties_see_nothing_owed_and_types_not_acknowledged_are_ignored() -> None:
    entries = [message(0), message(1, type="link-test", body={"text": "test"})]
    assert fold(entries, me="nato", now=T0).acknowledgements == ()
    assert [o.ref for o in fold(entries, now=T0).acknowledgements] == ["us:0"]


def link_test(seq, party, *, at, to, received):
    return Entry(
        party=party,
        seq=seq,
        type="link-test",
        created=at,
        to=to,
        body={"text": "test"},
        received=received,
    )


def test_links_are_judged_in_each_direction() -> None:
    hour = timedelta(hours=1)
    mine = link_test(0, "ru", at=T0, to=("us",), received={"us": None})
    theirs = link_test(0, "us", at=T0, to=("ru",), received={"ru": T0})
    [link] = fold([mine, theirs], now=T0 + timedelta(minutes=4), parties=["us"]).links
    assert link.state is LinkState.OK
    [link] = fold([mine, theirs], now=T0 + timedelta(minutes=6), parties=["us"]).links
    assert link.state is LinkState.UNANSWERED and link.unanswered and not link.missed
    answered = link_test(0, "ru", at=T0, to=("us",), received={"us": T0})
    [link] = fold([answered, theirs], now=T0 + hour + timedelta(minutes=6), parties=["us"]).links
    assert link.state is LinkState.MISSED
    assert link.expected_by == T0 + hour + timedelta(minutes=5)
    [link] = fold([mine, theirs], now=T0 + 2 * hour, parties=["us"]).links
    assert link.state is LinkState.DOWN
    # Never heard from: judged from `since`; the next own test is due an interval after the last.
    line = fold([answered], now=T0 + hour + timedelta(minutes=6), parties=["us", "nato"])
    assert {x.party: x.state for x in line.links}["nato"] is LinkState.MISSED
    assert line.next_link_test == T0 + hour
    assert fold([], now=T0, since=T0).next_link_test == T0


def test_an_incident_closes_only_when_every_side_closes_it() -> None:
    report = Entry(
        party="us",
        seq=0,
        type="incident-report",
        created=T0,
        to=("ru", "nato"),
        body={
            "kind": "laser",
            "at": "2026-03-01T13:40:00+01:00",
            "position": {"lat": 44.5, "lon": 33.2},
            "units": [{"party": "ru", "name": "Frigate"}],
            "account": "Laser pointed at the bridge.",
        },
    )

    def status(seq, party, value, minutes):
        return Entry(
            party=party,
            seq=seq,
            type="incident-status",
            created=T0 + timedelta(minutes=minutes),
            to=tuple(p for p in ("us", "ru", "nato") if p != party),
            refs=("us:0",),
            body={"status": value},
        )

    account = Entry(
        party="ru",
        seq=0,
        type="incident-account",
        created=T0 + timedelta(minutes=1),
        to=("us", "nato"),
        refs=("us:0",),
        body={"account": "A rangefinder, not a weapon."},
    )
    steps = [
        (status(1, "us", "explained", 2), ("explained", ())),
        (status(2, "us", "closed", 3), ("explained", ("us",))),
        (status(1, "ru", "closed", 4), ("explained", ("ru", "us"))),
        (status(3, "us", "open", 5), ("open", ())),  # reopened: the closing starts over
        (status(4, "us", "closed", 6), ("open", ("us",))),
        (status(2, "ru", "closed", 7), ("open", ("ru", "us"))),
        (status(0, "nato", "closed", 8), ("closed", ("nato", "ru", "us"))),
    ]
    entries = [report, account]
    for step, expected in steps:
        entries.append(step)
        [thread] = fold(entries, me="us", now=T0 + timedelta(hours=1)).incidents
        assert (thread.status, thread.closed_by) == expected
    assert thread.at == datetime(2026, 3, 1, 12, 40, tzinfo=UTC)
    assert thread.accounts() == {
        "us": ["Laser pointed at the bridge."],
        "ru": ["A rangefinder, not a weapon."],
    }
    assert len(thread.entries) == 2 + len(steps)
    outsider = Entry(
        party="fr",
        seq=0,
        type="incident-status",
        created=T0,
        refs=("us:0",),
        body={"status": "closed"},
    )
    line = fold([report, outsider], me="us", now=T0)
    assert ("fr:0", "fr is not a side of incident us:0") in line.skipped


def test_notice_verdicts_latest_reply_counts() -> None:
    notice = Entry(
        party="ru",
        seq=0,
        type="oob-notice",
        created=T0,
        to=("us",),
        body={
            "given_at": "2026-03-01T11:00:00Z",
            "means": "telephone",
            "given_by": "a",
            "given_to": "b",
            "summary": "c",
        },
    )

    def reply(seq, verdict, minutes, party="us"):
        return Entry(
            party=party,
            seq=seq,
            type="oob-reply",
            created=T0 + timedelta(minutes=minutes),
            to=("ru",),
            refs=("ru:0",),
            body={"verdict": verdict},
        )

    assert fold([notice], me="us", now=T0).notices[0].verdicts == {"us": "pending"}
    line = fold([notice, reply(0, "disputed", 1), reply(1, "confirmed", 2)], me="us", now=T0)
    assert line.notices[0].verdicts == {"us": "confirmed"}
    line = fold([notice, reply(0, "confirmed", 1, party="nato")], me="ru", now=T0)
    assert line.notices[0].verdicts == {"us": "pending"}
    assert ("nato:0", "nato was not given notice ru:0") in line.skipped


def test_templates_fill_both_languages_and_refuse_bad_blanks() -> None:
    body = {"template": "dma-caution-area", "fields": {"unit": "Su-30", "area": "SCA-3"}}
    text = line_text(AGREEMENT, body)
    assert (
        text["en"]
        == "Your Su-30 is hampering our forces in the special caution area SCA-3. Keep clear."
    )
    assert text["ru"].endswith("в районе особого внимания SCA-3. Держитесь в стороне.")
    assert line_text(AGREEMENT, {"template": "nope"}) == {"note": "unknown template 'nope'"}
    assert "needs it filled in" in line_text(AGREEMENT, {"template": "dma-laser"})["note"]
    with pytest.raises(BodyError, match="longer than 200"):
        AGREEMENT.templates["dma-contact"].fill({"station": "x" * 201, "channel": "16"})
    with pytest.raises(ValueError, match="uses unlisted"):
        Template(id="t", source="s", en="{a} {b}", ru="{a}", fields=["a"])
    with pytest.raises(ValueError, match="lacks"):
        Template(id="t", source="s", en="{a}", ru="нет", fields=["a"])
    with pytest.raises(ValueError, match="nothing more"):
        Template(id="t", source="s", en="{a!r}", ru="{a}", fields=["a"])


def test_body_times_accept_offsets_and_refuse_naive_ones() -> None:
    assert parse_body_time("2026-03-01T13:00:00+01:00") == T0
    assert parse_body_time("2026-03-01T12:00:00Z") == T0
    assert parse_body_time("2026-03-01T12:00:00") is None
    assert parse_body_time(12) is None


def test_every_provision_of_incsea_is_cited_and_every_template_bilingual() -> None:
    incsea = builtin_agreement("incsea-1972")
    assert incsea.hotline is None  # the line's timing belongs to the agreement that runs one
    assert {"line-message", "line-ack", "link-test", "incident-report", "oob-notice"} <= set(
        incsea.message_types
    )
    for template in incsea.templates.values():
        assert template.source and template.en and template.ru
    groups = {t.group for t in incsea.templates.values() if t.group}
    assert groups == {"K", "U", "D", "X", "UY", "ZL"}
    kinds = incsea.message_types["incident-report"].body_schema["properties"]["kind"]["enum"]
    assert {"air", "sea", "laser", "special_caution_area", "command_control_interference"} <= set(
        kinds
    )
    notice = incsea.message_types["dangerous-activity-notice"].deadline
    assert notice is not None and notice.delta == timedelta(days=3)  # INCSEA Art. VI(1)
    assert "incsea-1972" in AGREEMENT.includes
    assert AGREEMENT.hotline is not None and AGREEMENT.hotline.escalation["nato"]


def test_a_hotline_must_name_types_and_parties_the_agreement_has() -> None:
    text = """
name = "x"
title = "X"
version = "1"
[[parties]]
id = "a"
name = "A"
[hotline]
link_test_interval = { hours = 1 }
acknowledged = ["nothing"]
escalation = { b = ["someone"] }
[hotline.ack]
FLASH = { minutes = 5 }
"""
    with pytest.raises(AgreementError) as caught:
        load_agreement_text(text, source="x.toml")
    message = str(caught.value)
    assert "hotline.acknowledged[0]: unknown message type 'nothing'" in message
    assert "need the message type 'line-ack'" in message
    assert "hotline.escalation.b: unknown party 'b'" in message
    line = Hotline.model_validate({"ack": {}, "link_test_interval": {"hours": 1}})
    assert line.contact("a", 0) == "a watch officer" and line.answer_within == timedelta(minutes=5)


def test_a_peers_odd_body_never_breaks_the_fold() -> None:
    odd = Entry(
        party="us",
        seq=0,
        type="incident-report",
        created=T0,
        to=("ru",),
        body={"kind": 7, "at": "0001-01-01T00:00:00+05:00", "position": [1], "units": "x"},
    )
    notice = Entry(party="us", seq=1, type="oob-notice", created=T0, to=("ru",), body={})
    text = message(2, body={"template": "dma-laser", "fields": ["not", "a", "dict"]})
    line = fold([odd, notice, text], now=T0)
    [incident] = line.incidents
    assert (incident.at, incident.position, incident.units) == (None, {}, ())
    texts = {a.ref: a.text for a in line.acknowledgements}
    assert "needs it filled in" in texts["us:2"]["note"]


def test_an_acknowledgement_counts_when_the_sender_receives_it_and_never_before_the_message() -> (
    None
):
    flash = message(0)
    predated = ack(0, "us:0", at=T0 - timedelta(hours=1))
    line = fold([flash, predated], now=T0 + timedelta(minutes=1))
    assert line.acknowledgements[0].state is AckState.DUE
    assert ("ru:0", "acknowledges us:0 before it was sent") in line.skipped
    # Signed a minute after the receipt, received by us two hours later: late.
    backdated = replace(
        ack(1, "us:0", at=T0 + timedelta(minutes=1)), received={"us": T0 + timedelta(hours=2)}
    )
    [owed] = fold([flash, backdated], me="us", now=T0 + timedelta(hours=3)).acknowledgements
    assert (owed.state, owed.acknowledged_at) == (AckState.LATE, T0 + timedelta(hours=2))
    drill = replace(ack(2, "us:0", at=T0 + timedelta(minutes=1)), exercise=True)
    line = fold([flash, drill], now=T0 + timedelta(minutes=2))
    assert line.acknowledgements[0].state is AckState.DUE
    assert ("ru:2", "an exercise entry acknowledges a real entry us:0") in line.skipped


def test_a_newer_test_does_not_hide_a_dead_link() -> None:
    tests = [
        link_test(i, "ru", at=T0 + timedelta(hours=i), to=("us",), received={"us": None})
        for i in range(4)
    ]
    theirs = link_test(0, "us", at=T0 + timedelta(hours=3), to=("ru",), received={"ru": T0})
    # Just after the fourth test: it is still within its answer time, the third is not.
    now = T0 + timedelta(hours=3, minutes=1)
    [link] = fold([*tests, theirs], now=now, since=now, parties=["us"]).links
    assert link.unanswered


def test_a_status_not_sent_to_every_side_and_one_citing_two_reports() -> None:
    def report(seq):
        return Entry(
            party="us",
            seq=seq,
            type="incident-report",
            created=T0,
            to=("ru", "nato"),
            body={
                "kind": "sea",
                "at": "2026-03-01T11:00:00Z",
                "position": {"lat": 0, "lon": 0},
                "units": [],
                "account": "a",
            },
        )

    partial = Entry(
        party="ru",
        seq=0,
        type="incident-status",
        created=T0 + timedelta(minutes=1),
        to=("us",),
        refs=("us:0",),
        body={"status": "explained"},
    )
    both = Entry(
        party="ru",
        seq=1,
        type="incident-status",
        created=T0 + timedelta(minutes=2),
        to=("us", "nato"),
        refs=("us:0", "us:1"),
        body={"status": "explained"},
    )
    line = fold([report(0), report(1), partial], me="us", now=T0)
    assert [i.status for i in line.incidents] == ["open", "open"]
    assert ("ru:0", "not sent to every side of incident us:0 (missing nato)") in line.skipped
    line = fold([report(0), report(1), both], me="nato", now=T0)
    assert [i.status for i in line.incidents] == ["explained", "explained"]


def test_a_reply_that_does_not_reach_the_notices_sender_counts_for_nothing() -> None:
    notice = Entry(
        party="us",
        seq=0,
        type="oob-notice",
        created=T0,
        to=("ru", "nato"),
        body={
            "given_at": "2026-03-01T11:00:00Z",
            "means": "fax",
            "given_by": "a",
            "given_to": "b",
            "summary": "c",
        },
    )
    aside = Entry(
        party="ru",
        seq=0,
        type="oob-reply",
        created=T0,
        to=("nato",),
        refs=("us:0",),
        body={"verdict": "disputed"},
    )
    header_only = Entry(
        party="ru", seq=1, type="oob-reply", created=T0, to=("us",), refs=("us:0",), body=None
    )
    line = fold([notice, aside], me="nato", now=T0)
    assert line.notices[0].verdicts == {"ru": "pending", "nato": "pending"}
    line = fold([notice, header_only], me="nato", now=T0)
    assert line.notices[0].verdicts == {"ru": "answered", "nato": "pending"}


def test_the_lines_own_types_are_never_acknowledged_and_braces_stay_as_typed() -> None:
    with pytest.raises(ValueError, match="never acknowledged by a person"):
        Hotline.model_validate(
            {"ack": {}, "link_test_interval": {"hours": 1}, "acknowledged": ["line-ack"]}
        )
    t = Template(id="t", source="s", en="Write {{x}} for {x}.", ru="{x}", fields=["x"])
    assert t.fill({"x": "a{{b}}c"})["en"] == "Write {x} for a{{b}}c."
