"""The obligations fold on plain entries: met, due, overdue, suspended, not in force."""

from datetime import UTC, date, datetime, timedelta

import pytest

from detente.agreement import Agreement
from detente.measures import Entry, State, fold_obligations

AGREEMENT = Agreement.model_validate(
    {
        "name": "test",
        "title": "Test",
        "version": "1",
        "parties": [{"id": "us", "name": "US"}, {"id": "ru", "name": "RU"}],
        "message_types": {
            "data": {
                "senders": ["us", "ru"],
                "body_schema": {"type": "object"},
                "periodic": {"as_of": ["03-01", "09-01"], "due_days": 30},
            },
            "request": {"senders": ["*"], "body_schema": {"type": "object"}},
            "answer": {
                "senders": ["*"],
                "body_schema": {"type": "object"},
                "deadline": {"kind": "after_message", "hours": 48, "message_type": "request"},
            },
            "change": {
                "senders": ["us", "ru"],
                "body_schema": {
                    "type": "object",
                    "required": ["event_date"],
                    "properties": {"event_date": {"type": "string", "format": "date"}},
                },
                "deadline": {"kind": "after_event", "days": 5, "event_field": "event_date"},
            },
            "exercise_notice": {
                "senders": ["*"],
                "body_schema": {
                    "type": "object",
                    "required": ["start"],
                    "properties": {"start": {"type": "string", "format": "date-time"}},
                },
                "deadline": {"kind": "before_event", "days": 42, "event_field": "start"},
            },
        },
    }
)


def t(month, day, hour=12):
    return datetime(2026, month, day, hour, tzinfo=UTC)


def entry(party, seq, type_, created, *, received=None, exercise=False, refs=(), body=None):
    other = "ru" if party == "us" else "us"
    return Entry(
        party=party,
        seq=seq,
        type=type_,
        created=created,
        to=(other,),
        refs=tuple(refs),
        exercise=exercise,
        body=body if body is not None else {},
        received={other: created if received is None else received},
    )


def suspension(party, seq, types, created, *, exercise=False):
    return Entry(
        party=party,
        seq=seq,
        type="suspension",
        created=created,
        to=("ru" if party == "us" else "us",),
        exercise=exercise,
        body={
            "types": types,
            "effective": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "reason": "countermeasure",
        },
    )


def resumption(party, seq, types, created):
    body = {"types": types, "effective": created.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return Entry(party=party, seq=seq, type="resumption", created=created, body=body)


def fold(entries, *, now, since=date(2026, 3, 1)):
    return fold_obligations(AGREEMENT, entries, now=now, since=since).obligations


def periodic(obligations, party, as_of):
    (found,) = [
        o
        for o in obligations
        if o.rule == "periodic" and o.party == party and o.as_of == date.fromisoformat(as_of)
    ]
    return found


# --- periodic exchanges -----------------------------------------------------------


def test_periodic_met_due_overdue_and_next_not_in_force():
    entries = [entry("ru", 0, "data", t(3, 10))]
    during = fold(entries, now=t(3, 20))
    assert periodic(during, "ru", "2026-03-01").state is State.MET
    assert periodic(during, "ru", "2026-03-01").met_by == "ru:0"
    assert periodic(during, "us", "2026-03-01").state is State.DUE
    assert periodic(during, "us", "2026-09-01").state is State.NOT_IN_FORCE
    # Due 30 days after 1 March, the whole day counts: before 1 April 00:00.
    assert periodic(during, "us", "2026-03-01").due == datetime(2026, 4, 1, tzinfo=UTC)
    last_minute = fold(entries, now=datetime(2026, 3, 31, 23, 59, tzinfo=UTC))
    assert periodic(last_minute, "us", "2026-03-01").state is State.DUE
    after = fold(entries, now=t(4, 1))
    assert periodic(after, "us", "2026-03-01").state is State.OVERDUE
    assert periodic(after, "us", "2026-03-01").to == ("ru",)


def test_periodic_met_late_and_judged_by_receipt_time():
    # Created on time, received by the other party only after the deadline.
    late = entry("us", 0, "data", t(3, 30), received=t(4, 2))
    (o,) = [o for o in fold([late], now=t(4, 5)) if o.party == "us" and o.as_of == date(2026, 3, 1)]
    assert o.state is State.MET and o.late and o.given == t(4, 2) and o.clock == "receipt"


def test_a_message_sent_but_not_received_is_pending_not_met():
    sent = Entry(party="us", seq=0, type="data", created=t(3, 5), to=("ru",), received={"ru": None})
    o = periodic(fold([sent], now=t(4, 2)), "us", "2026-03-01")
    assert o.state is State.OVERDUE and o.pending == "us:0" and o.met_by is None


def test_a_third_partys_receipt_unseen_falls_back_to_created():
    seen_by_nobody = Entry(party="us", seq=0, type="data", created=t(3, 5), to=("ru",))
    o = periodic(fold([seen_by_nobody], now=t(4, 2)), "us", "2026-03-01")
    assert o.state is State.MET and o.clock == "created" and o.given == t(3, 5)


def test_periods_closed_before_the_record_are_not_judged():
    obligations = fold([], now=t(11, 1), since=date(2026, 4, 15))
    assert {o.as_of for o in obligations} == {date(2026, 9, 1), date(2027, 3, 1)}
    assert periodic(obligations, "us", "2026-09-01").state is State.OVERDUE
    assert periodic(obligations, "us", "2027-03-01").state is State.NOT_IN_FORCE


def test_suspended_periodic_shows_suspended_not_overdue_and_resumption_ends_it():
    entries = [
        suspension("us", 0, ["data"], t(3, 2)),
        resumption("us", 1, ["data"], t(5, 1)),
    ]
    in_april = fold(entries, now=t(4, 10))
    march = periodic(in_april, "us", "2026-03-01")
    assert march.state is State.SUSPENDED and march.suspended_by == "us:0"
    assert periodic(in_april, "ru", "2026-03-01").state is State.OVERDUE  # ru did not suspend
    # Resumed in May: the March period stays suspended, September is owed again.
    in_october = fold(entries, now=t(10, 5))
    assert periodic(in_october, "us", "2026-03-01").state is State.SUSPENDED
    assert periodic(in_october, "us", "2026-09-01").state is State.OVERDUE
    # While suspended, an obligation still ahead shows suspended too.
    ahead = fold([suspension("us", 0, ["data"], t(3, 2))], now=t(3, 10))
    assert periodic(ahead, "us", "2026-03-01").state is State.SUSPENDED


def test_a_suspension_after_the_deadline_excuses_nothing():
    late = fold([suspension("us", 0, ["data"], t(4, 5))], now=t(4, 10))
    o = periodic(late, "us", "2026-03-01")
    assert o.state is State.OVERDUE and o.suspended_by is None


def test_exercise_traffic_never_meets_or_suspends_a_real_obligation():
    entries = [
        entry("us", 0, "data", t(3, 5), exercise=True),
        suspension("ru", 0, ["data"], t(3, 2), exercise=True),
    ]
    report = fold_obligations(AGREEMENT, entries, now=t(4, 2), since=date(2026, 3, 1))
    assert periodic(report.obligations, "us", "2026-03-01").state is State.OVERDUE
    assert periodic(report.obligations, "ru", "2026-03-01").state is State.OVERDUE
    assert [(s.ref, s.exercise) for s in report.skipped] == [("us:0", True)]


# --- replies within a span of a request -------------------------------------------


def test_after_message_due_from_receipt_and_met_by_a_reply_citing_it():
    request = entry("us", 0, "request", t(3, 1), received=t(3, 2))
    within = entry("ru", 0, "answer", t(3, 3), refs=["us:0"], received=t(3, 3, 13))
    (pending,) = [o for o in fold([request], now=t(3, 3)) if o.rule == "after_message"]
    assert pending.party == "ru" and pending.trigger == "us:0" and pending.to == ("us",)
    assert pending.due == t(3, 4) and pending.state is State.DUE
    (overdue,) = [o for o in fold([request], now=t(3, 5)) if o.rule == "after_message"]
    assert overdue.state is State.OVERDUE
    (met,) = [o for o in fold([request, within], now=t(3, 5)) if o.rule == "after_message"]
    assert met.state is State.MET and met.met_by == "ru:0" and not met.late


def test_after_message_reply_must_cite_the_request_and_come_from_the_obligated():
    request = entry("us", 0, "request", t(3, 1))
    uncited = entry("ru", 0, "answer", t(3, 2))
    (o,) = [o for o in fold([request, uncited], now=t(3, 5)) if o.rule == "after_message"]
    assert o.state is State.OVERDUE


def test_after_message_suspended_and_exercise_requests_owe_nothing():
    request = entry("us", 0, "request", t(3, 1))
    suspended = [request, suspension("ru", 0, ["answer"], t(3, 2))]
    (o,) = [o for o in fold(suspended, now=t(3, 5)) if o.rule == "after_message"]
    assert o.state is State.SUSPENDED and o.suspended_by == "ru:0"
    drill = entry("us", 1, "request", t(3, 1), exercise=True)
    assert [o for o in fold([drill], now=t(3, 5)) if o.rule == "after_message"] == []
    drill_answer = entry("ru", 1, "answer", t(3, 2), refs=["us:0"], exercise=True)
    (o,) = [o for o in fold([request, drill_answer], now=t(3, 5)) if o.rule == "after_message"]
    assert o.state is State.OVERDUE


def test_a_request_not_yet_received_owes_nothing_yet():
    request = Entry(
        party="us", seq=0, type="request", created=t(3, 1), to=("ru",), received={"ru": None}
    )
    assert [o for o in fold([request], now=t(3, 5)) if o.rule == "after_message"] == []


# --- notices of events ------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_date", "received", "late"),
    [("2026-03-01", t(3, 6, 23), False), ("2026-03-01", t(3, 7, 0), True)],
)
def test_after_event_days_count_whole(event_date, received, late):
    notice = entry("us", 0, "change", t(3, 2), received=received, body={"event_date": event_date})
    (o,) = [o for o in fold([notice], now=t(3, 10)) if o.rule == "after_event"]
    assert o.state is State.MET and o.late is late and o.trigger == "us:0"
    assert o.due == datetime(2026, 3, 7, tzinfo=UTC)


def test_before_event_with_a_date_time():
    start = datetime(2026, 6, 1, 6, tzinfo=UTC)
    body = {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ")}
    on_time = entry("us", 0, "exercise_notice", t(4, 1), body=body)
    too_late = entry("ru", 0, "exercise_notice", t(5, 1), body=body)
    found = {o.party: o for o in fold([on_time, too_late], now=t(5, 2)) if o.rule == "before_event"}
    assert found["us"].due == start - timedelta(days=42) and not found["us"].late
    # An advance notice given after its deadline: the activity went ahead unnotified.
    assert found["ru"].late and found["ru"].state is State.VIOLATED


def test_event_notice_without_its_body_is_skipped_with_the_reason():
    hidden = Entry(party="us", seq=0, type="change", created=t(3, 2), to=("ru",))
    report = fold_obligations(AGREEMENT, [hidden], now=t(3, 3), since=date(2026, 3, 1))
    assert [o for o in report.obligations if o.rule == "after_event"] == []
    assert [s.reason for s in report.skipped] == ["body not held: event date unknown"]


def test_json_form():
    (o,) = [o for o in fold([], now=t(4, 2)) if o.party == "us" and o.as_of == date(2026, 3, 1)]
    assert o.to_json() == {
        "party": "us",
        "type": "data",
        "rule": "periodic",
        "due": "2026-04-01T00:00:00Z",
        "state": "overdue",
        "to": ["ru"],
        "trigger": None,
        "as_of": "2026-03-01",
        "met_by": None,
        "given": None,
        "late": False,
        "pending": None,
        "suspended_by": None,
        "clock": "receipt",
    }
