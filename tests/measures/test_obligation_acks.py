"""Acknowledgements on the emergency line as obligations: due from receipt, met by a line-ack."""

from datetime import UTC, date, datetime, timedelta

from detente.agreement import builtin_agreement
from detente.measures import Entry, State, fold_obligations

REPLIES = builtin_agreement("security-replies-2022")
T0 = datetime(2026, 11, 29, 12, tzinfo=UTC)


def flash(seq, received):
    return Entry(
        party="us",
        seq=seq,
        type="line-message",
        created=T0,
        to=("ru",),
        priority="FLASH",
        body={"text": "keep clear"},
        received={"ru": received},
    )


def ack(seq, ref, created, received):
    return Entry(
        party="ru",
        seq=seq,
        type="line-ack",
        created=created,
        to=("us",),
        refs=(ref,),
        priority="FLASH",
        body={"by": "duty officer"},
        received={"us": received},
    )


def acks(entries, now):
    report = fold_obligations(REPLIES, entries, now=now, since=date(2026, 11, 1))
    return {o.trigger: o for o in report.obligations if o.rule == "acknowledgement"}


def test_a_flash_message_is_owed_an_acknowledgement_within_its_deadline():
    span = REPLIES.hotline.ack_deadline("FLASH")
    received = T0 + timedelta(seconds=1)
    answered = flash(0, received)
    unanswered = flash(1, received)
    early = flash(2, received)
    entries = [
        answered,
        unanswered,
        early,
        ack(0, "us:0", received + timedelta(minutes=2), received + timedelta(minutes=2, seconds=1)),
        ack(1, "us:2", T0 - timedelta(minutes=1), T0),  # signed before the message: not one
    ]
    found = acks(entries, now=received + span + timedelta(seconds=1))
    met = found["us:0"]
    assert (met.party, met.type, met.state, met.met_by, met.late) == (
        "ru",
        "line-ack",
        State.MET,
        "ru:0",
        False,
    )
    assert met.due == received + span
    assert found["us:1"].state is State.OVERDUE
    assert found["us:2"].state is State.OVERDUE
    before = acks(entries, now=received + span - timedelta(seconds=1))
    assert before["us:1"].state is State.DUE


def test_an_acknowledgement_not_yet_received_is_pending():
    received = T0 + timedelta(seconds=1)
    entries = [flash(0, received), ack(0, "us:0", received + timedelta(minutes=1), None)]
    found = acks(entries, now=received + timedelta(minutes=2))
    assert (found["us:0"].state, found["us:0"].pending) == (State.DUE, "ru:0")
