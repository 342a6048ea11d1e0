"""The suspension fold and the writer-side check, on plain entries."""

from datetime import UTC, datetime, timedelta

import pytest

from detente.agreement import builtin_agreement
from detente.errors import BodyError, SuspendedError
from detente.measures import Entry, fold_suspensions
from detente.measures.suspension import check_sending

NEW_START = builtin_agreement("new-start")
JUNE_1 = datetime(2023, 6, 1, tzinfo=UTC)


def at(days: float) -> datetime:
    return JUNE_1 + timedelta(days=days)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def suspend(seq, types, *, created, effective=None, party="us", exercise=False, **extra):
    body = {"types": types, "effective": stamp(effective or created), "reason": "countermeasure"}
    return Entry(
        party=party,
        seq=seq,
        type="suspension",
        created=created,
        exercise=exercise,
        body={**body, **extra},
    )


def resume(seq, types, *, created, effective=None, party="us"):
    body = {"types": types, "effective": stamp(effective or created)}
    return Entry(party=party, seq=seq, type="resumption", created=created, body=body)


def test_a_suspension_holds_from_its_effective_instant_for_its_types_only():
    state = fold_suspensions(
        [
            Entry(party="us", seq=11, type="message", created=at(-1)),
            suspend(12, ["aggregate_data"], created=at(0), article="countermeasures"),
        ]
    )
    (interval,) = state.intervals
    assert (interval.party, interval.type, interval.suspended_by) == (
        "us",
        "aggregate_data",
        "us:12",
    )
    assert interval.article == "countermeasures" and interval.reason == "countermeasure"
    assert state.at("us", "aggregate_data", at(0)) == interval
    assert state.at("us", "aggregate_data", at(100)) == interval
    assert state.at("us", "aggregate_data", at(-0.001)) is None
    assert state.at("us", "change_notification", at(1)) is None
    assert state.at("ru", "aggregate_data", at(1)) is None
    assert state.open("us", "aggregate_data") == interval


def test_resumption_ends_it_and_a_later_suspension_starts_another():
    state = fold_suspensions(
        [
            suspend(3, ["aggregate_data", "change_notification"], created=at(0)),
            resume(5, ["change_notification"], created=at(10)),
            suspend(9, ["change_notification"], created=at(20)),
        ]
    )
    first_cn = state.at("us", "change_notification", at(5))
    assert first_cn is not None and first_cn.suspended_by == "us:3"
    assert first_cn.end == at(10) and first_cn.resumed_by == "us:5"
    assert state.at("us", "change_notification", at(15)) is None
    again = state.at("us", "change_notification", at(25))
    assert again is not None and again.suspended_by == "us:9" and again.end is None
    assert state.at("us", "aggregate_data", at(15)).suspended_by == "us:3"
    assert [i.suspended_by for i in state.of("us")] == ["us:3", "us:3", "us:9"]


def test_no_suspension_backwards_in_time():
    # Effective a week before it was logged: it counts only from when it was made.
    state = fold_suspensions([suspend(0, ["aggregate_data"], created=at(7), effective=at(0))])
    assert state.at("us", "aggregate_data", at(3)) is None
    assert state.at("us", "aggregate_data", at(7)).start == at(7)


def test_a_suspension_announced_ahead_starts_on_its_day():
    state = fold_suspensions([suspend(0, ["aggregate_data"], created=at(0), effective=at(5))])
    assert state.at("us", "aggregate_data", at(4)) is None
    assert state.at("us", "aggregate_data", at(5)) is not None
    assert state.open("us", "aggregate_data") is not None


def test_repeats_resumptions_of_nothing_exercise_and_unreadable_bodies_change_nothing():
    state = fold_suspensions(
        [
            suspend(0, ["aggregate_data"], created=at(0)),
            suspend(1, ["aggregate_data"], created=at(1)),
            resume(2, ["change_notification"], created=at(2)),
            suspend(3, ["change_notification"], created=at(3), exercise=True),
            Entry(party="us", seq=4, type="suspension", created=at(4)),
            Entry(
                party="us",
                seq=5,
                type="suspension",
                created=at(5),
                body={"types": ["message"], "effective": "yesterday"},
            ),
        ]
    )
    assert [i.suspended_by for i in state.intervals] == ["us:0"]
    reasons = {i.ref: i.reason for i in state.ignored}
    assert reasons["us:1"] == "already suspended by us:0"
    assert reasons["us:2"] == "not suspended"
    assert reasons["us:3"] == "exercise traffic"
    assert reasons["us:4"] == "body not held by this node"
    assert "body.effective" in reasons["us:5"]
    assert [i.exercise for i in state.ignored] == [False, False, True, False, False]
    assert state.at("us", "change_notification", at(3.5)) is None


def test_the_state_at_a_log_position():
    entries = [
        suspend(0, ["aggregate_data"], created=at(0)),
        resume(1, ["aggregate_data"], created=at(1)),
    ]
    before = fold_suspensions(entries, before={"us": 1})
    assert before.open("us", "aggregate_data") is not None
    assert fold_suspensions(entries).open("us", "aggregate_data") is None
    assert fold_suspensions(entries, before={"us": 0}).intervals == ()


def test_each_party_folds_its_own_log_in_order_whatever_the_input_order():
    state = fold_suspensions(
        [
            resume(1, ["aggregate_data"], created=at(3), party="ru"),
            suspend(0, ["aggregate_data"], created=at(0), party="ru"),
            suspend(0, ["aggregate_data"], created=at(2), party="us"),
        ]
    )
    assert state.at("ru", "aggregate_data", at(1)).suspended_by == "ru:0"
    assert state.at("ru", "aggregate_data", at(4)) is None
    assert state.at("us", "aggregate_data", at(4)).suspended_by == "us:0"


def test_a_withdrawn_announcement_leaves_an_empty_interval():
    state = fold_suspensions(
        [
            suspend(0, ["aggregate_data"], created=at(0), effective=at(10)),
            resume(1, ["aggregate_data"], created=at(2)),
        ]
    )
    assert state.at("us", "aggregate_data", at(10)) is None
    (interval,) = state.intervals
    assert interval.start == interval.end == at(10)


def test_json_shows_whether_it_holds_now():
    state = fold_suspensions([suspend(0, ["aggregate_data"], created=at(0))])
    shown = state.intervals[0].to_json(now=at(1))
    assert shown["active"] is True and shown["start"] == "2023-06-01T00:00:00Z"
    assert shown["end"] is None and shown["suspended_by"] == "us:0"
    assert state.intervals[0].to_json(now=at(-1))["active"] is False


# --- what the sender's own node refuses -------------------------------------------


def check(state, type_id, body=None, *, exercise=False, created=None, party="us"):
    check_sending(
        NEW_START,
        state,
        party=party,
        type_id=type_id,
        body=body or {},
        exercise=exercise,
        created=created or at(1),
    )


def test_a_suspended_type_is_refused_naming_the_suspension():
    state = fold_suspensions([suspend(12, ["aggregate_data"], created=at(0))])
    with pytest.raises(
        SuspendedError,
        match=r"type aggregate_data is suspended since us:12; send a resumption first",
    ):
        check(state, "aggregate_data")
    check(state, "change_notification")  # other types go on
    check(state, "aggregate_data", exercise=True)  # exercise traffic is never refused
    check(state, "aggregate_data", created=at(-1))  # not yet in effect
    check(state, "aggregate_data", party="ru")  # only the suspending party's own


def test_suspension_and_resumption_bodies_are_checked_against_the_state():
    state = fold_suspensions([suspend(12, ["aggregate_data"], created=at(0))])
    body = {"types": ["change_notification", "aggregate_data"], "effective": stamp(at(1))}
    with pytest.raises(
        SuspendedError, match=r"body\.types\[1\]: type aggregate_data is already suspended by us:12"
    ):
        check(state, "suspension", body)
    with pytest.raises(
        SuspendedError, match=r"body\.types\[0\]: type change_notification is not suspended"
    ):
        check(state, "resumption", body)
    check(state, "resumption", {"types": ["aggregate_data"], "effective": stamp(at(1))})
    check(state, "suspension", {"types": ["change_notification"], "effective": stamp(at(2))})


def test_a_party_suspends_only_what_it_may_send_and_never_backwards():
    agreement = builtin_agreement("security-replies-2022")
    empty = fold_suspensions([])
    with pytest.raises(
        BodyError, match=r"body\.types\[0\]: party nato may not send 'aggregate_data'"
    ):
        check_sending(
            NEW_START,
            empty,
            party="nato",
            type_id="suspension",
            body={"types": ["aggregate_data"], "effective": stamp(at(1))},
            exercise=False,
            created=at(1),
        )
    with pytest.raises(BodyError, match=r"body\.effective: .* cannot take effect in the past"):
        check(empty, "suspension", {"types": ["aggregate_data"], "effective": stamp(at(0))})
    # Within the agreement's clock skew is not "the past".
    check(
        empty,
        "suspension",
        {"types": ["aggregate_data"], "effective": stamp(at(1) - timedelta(seconds=10))},
    )
    assert agreement.message_type("suspension").may_send("nato")
