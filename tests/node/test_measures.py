"""The writer refuses what the node's own suspensions forbid; the state read from the store."""

import pytest

from detente.errors import BodyError, SuspendedError
from detente.node.measures import load_entries, obligation_report, record_start, suspension_state
from detente.node.writer import Draft, LogWriter
from detente.store.logs import LogStore


def stamp(clock):
    return clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_batch_that_suspends_then_sends_is_refused_whole(node, clock):
    suspend = Draft(
        "suspension", {"types": ["message"], "effective": stamp(clock), "reason": "talks end"}
    )
    text = Draft("message", {"text": "hello"}, to=("ru",))
    with pytest.raises(SuspendedError, match="type message is suspended since us:0"):
        LogWriter(node).append([suspend, text])
    with node.database.engine.connect() as conn:
        assert LogStore(conn, "us").size() == 0
    result = LogWriter(node).append([suspend])
    assert result.envelopes[0].header.to == ("nato", "ru")  # told to every other party
    assert result.envelopes[0].header.priority == "IMMEDIATE"
    with pytest.raises(SuspendedError, match="send a resumption first"):
        LogWriter(node).append([text])
    LogWriter(node).append([Draft("message", {"text": "drill"}, to=("ru",), exercise=True)])
    clock.advance(days=1)
    resume = Draft("resumption", {"types": ["message"], "effective": stamp(clock)})
    LogWriter(node).append([resume, text])  # resumed, then sent, in one append
    (interval,) = suspension_state(node).intervals
    assert (interval.suspended_by, interval.resumed_by) == ("us:0", "us:2")


def test_a_suspension_must_reach_every_other_party(node, clock):
    body = {"types": ["message"], "effective": stamp(clock), "reason": "x"}
    with pytest.raises(
        BodyError, match=r"us:0: to: a suspension must be addressed .* missing nato"
    ):
        LogWriter(node).append([Draft("suspension", body, to=("ru",))])
    LogWriter(node).append([Draft("suspension", body, to=("ru",), exercise=True)])
    assert suspension_state(node).intervals == ()  # an exercise suspends nothing


def test_entries_read_from_the_store_carry_receipts_and_bodies(node, clock):
    LogWriter(node).append([Draft("message", {"text": "a"}, to=("ru",))])
    with node.database.engine.connect() as conn:
        assert load_entries(conn, node, {"suspension"}) == []
        (entry,) = load_entries(conn, node, {"message"})
        assert record_start(conn, node) == clock.now.date()
    assert entry.ref == "us:0" and entry.body == {"text": "a"} and entry.to == ("ru",)
    assert entry.created == clock.now and entry.received == {}  # no peers configured
    # Free text owes nothing (the yearly restraint declarations are owed regardless).
    report = obligation_report(node).obligations
    assert [o for o in report if o.trigger is not None or o.type == "message"] == []
