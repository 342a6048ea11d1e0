"""Two-person release: propose checks the draft, a second operator approves, once."""

import logging
import threading

import pytest

from detente.errors import (
    BodyError,
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    SuspendedError,
    TypeNotAllowedError,
)
from detente.node import open_node
from detente.node.operators import Role, add_operator
from detente.node.releases import (
    MAX_REASON,
    ReleaseState,
    approve,
    get_release,
    list_releases,
    needs_release,
    propose,
    reject,
    withdraw,
)
from detente.node.writer import Draft, LogWriter
from detente.store.logs import LogStore


@pytest.fixture
def people(node):
    return {
        name: add_operator(node, name, role)[0]
        for name, role in [
            ("ann", Role.operator),
            ("bob", Role.operator),
            ("ada", Role.admin),
            ("vic", Role.viewer),
        ]
    }


def stamp(clock):
    return clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")


def suspension(clock, **kwargs):
    body = {"types": ["message"], "effective": stamp(clock), "reason": "countermeasure"}
    return Draft("suspension", body, **kwargs)


def log_size(node):
    with node.database.engine.connect() as conn:
        return LogStore(conn, node.party).size()


def test_the_demo_agreement_asks_for_release_of_suspensions_only(node):
    assert needs_release(node, "suspension") and needs_release(node, "resumption")
    assert not needs_release(node, "message")


def test_a_proposal_is_held_unsigned_and_shown(node, people, clock, caplog):
    with caplog.at_level(logging.INFO, logger="detente.node.releases"):
        release = propose(node, suspension(clock, article="Art. 1"), by=people["ann"])
    assert release.state is ReleaseState.pending and release.type == "suspension"
    assert release.proposed_by == "ann" and release.proposed_at == clock.now
    assert (release.decided_by, release.decided_at, release.seq) == (None, None, None)
    assert log_size(node) == 0  # nothing signed yet
    shown = release.to_json()
    assert shown["draft"] == {
        "type": "suspension",
        "body": {"types": ["message"], "effective": stamp(clock), "reason": "countermeasure"},
        "to": [],
        "refs": [],
        "article": "Art. 1",
        "priority": None,
        "exercise": False,
    }
    assert shown["state"] == "pending" and shown["proposed_at"] == "2026-03-01T12:00:00Z"
    assert get_release(node, release.id) == release
    assert "release 1 (suspension) proposed by ann" in caplog.text
    assert "countermeasure" not in caplog.text  # bodies are not logged


@pytest.mark.parametrize(
    ("draft", "error", "match"),
    [
        (Draft("message", {"text": "hi"}, to=("ru",)), InputError, "needs no two-person release"),
        (
            Draft(
                "suspension",
                {"types": ["nope"], "effective": "2026-03-01T12:00:00Z", "reason": "x"},
            ),
            BodyError,
            r"body.types\[0\]: 'nope' is not one of",
        ),
        (
            Draft(
                "suspension",
                {"types": ["message"], "effective": "2026-03-01T12:00:00Z", "reason": "x"},
                to=("ru",),
            ),
            BodyError,
            "must be addressed to every other party",
        ),
        (
            Draft(
                "suspension",
                {"types": ["message"], "effective": "2026-03-01T12:00:00Z", "reason": "x"},
                to=("osce",),
            ),
            TypeNotAllowedError,
            "recipient",
        ),
        (
            Draft("resumption", {"types": ["message"], "effective": "2026-03-01T12:00:00Z"}),
            SuspendedError,
            "not suspended",
        ),
        (
            Draft(
                "suspension",
                {"types": ["message"], "effective": "2026-02-01T00:00:00Z", "reason": "x"},
            ),
            BodyError,
            "cannot take effect in the past",
        ),
    ],
)
def test_a_proposal_is_checked_as_the_writer_checks_it(node, people, draft, error, match):
    with pytest.raises(error, match=match):
        propose(node, draft, by=people["ann"])
    assert list_releases(node) == []


def test_a_viewer_may_neither_propose_nor_decide(node, people, clock):
    with pytest.raises(PermissionDeniedError, match="viewer vic may not send"):
        propose(node, suspension(clock), by=people["vic"])
    release = propose(node, suspension(clock), by=people["ann"])
    for decide in (
        lambda: approve(node, release.id, by=people["vic"]),
        lambda: reject(node, release.id, by=people["vic"], reason="no"),
        lambda: withdraw(node, release.id, by=people["vic"]),
    ):
        with pytest.raises(PermissionDeniedError, match="viewer vic may not send"):
            decide()
    assert get_release(node, release.id).state is ReleaseState.pending


def test_the_proposer_cannot_approve_a_second_operator_does(node, people, clock, caplog):
    release = propose(node, suspension(clock), by=people["ann"])
    with pytest.raises(PermissionDeniedError, match="a second operator must approve"):
        approve(node, release.id, by=people["ann"])
    assert log_size(node) == 0
    clock.advance(minutes=5)
    with caplog.at_level(logging.INFO, logger="detente.node.releases"):
        released, result = approve(node, release.id, by=people["bob"])
    (envelope,) = result.envelopes
    assert envelope.header.type == "suspension" and envelope.header.to == ("nato", "ru")
    assert released.state is ReleaseState.released and released.seq == envelope.header.seq == 0
    assert released.decided_by == "bob" and released.decided_at == clock.now
    assert log_size(node) == 1
    assert "release 1 (suspension) approved by bob: sent as us:0" in caplog.text
    with pytest.raises(SuspendedError, match="send a resumption first"):
        LogWriter(node).append([Draft("message", {"text": "hi"}, to=("ru",))])


def test_a_decided_release_cannot_be_decided_again(node, people, clock):
    first = propose(node, suspension(clock), by=people["ann"])
    approve(node, first.id, by=people["ada"])  # an admin may send, so may approve
    with pytest.raises(ConflictError, match="release 1 was released by ada at 2026-03-01"):
        approve(node, first.id, by=people["bob"])
    with pytest.raises(ConflictError, match="was released"):
        reject(node, first.id, by=people["bob"], reason="too late")
    with pytest.raises(ConflictError, match="was released"):
        withdraw(node, first.id, by=people["ann"])
    assert log_size(node) == 1


def test_reject_needs_another_operator_and_a_reason(node, people, clock):
    release = propose(node, suspension(clock), by=people["ann"])
    with pytest.raises(PermissionDeniedError, match="ann proposed release 1: withdraw it"):
        reject(node, release.id, by=people["ann"], reason="changed my mind")
    with pytest.raises(InputError, match="say why"):
        reject(node, release.id, by=people["bob"], reason="  ")
    with pytest.raises(InputError, match=f"more than {MAX_REASON}"):
        reject(node, release.id, by=people["bob"], reason="x" * (MAX_REASON + 1))
    rejected = reject(node, release.id, by=people["bob"], reason=" not yet: talks resume ")
    assert rejected.state is ReleaseState.rejected and rejected.reason == "not yet: talks resume"
    assert rejected.decided_by == "bob" and rejected.seq is None
    with pytest.raises(ConflictError, match="release 1 was rejected by bob"):
        approve(node, release.id, by=people["ada"])
    assert log_size(node) == 0


def test_only_the_proposer_withdraws(node, people, clock):
    release = propose(node, suspension(clock), by=people["ann"])
    with pytest.raises(PermissionDeniedError, match="only ann, who proposed release 1"):
        withdraw(node, release.id, by=people["bob"])
    withdrawn = withdraw(node, release.id, by=people["ann"])
    assert withdrawn.state is ReleaseState.withdrawn and withdrawn.reason is None
    with pytest.raises(ConflictError, match="was withdrawn by ann"):
        approve(node, release.id, by=people["bob"])
    assert log_size(node) == 0


def test_an_unknown_release_is_not_found(node, people):
    for call in (
        lambda: get_release(node, 7),
        lambda: approve(node, 7, by=people["bob"]),
        lambda: reject(node, 7, by=people["bob"], reason="x"),
        lambda: withdraw(node, 7, by=people["ann"]),
    ):
        with pytest.raises(NotFoundError, match="no release 7"):
            call()


def test_a_draft_refused_at_approval_stays_pending(node, people, clock):
    release = propose(node, suspension(clock), by=people["ann"])
    other = propose(node, suspension(clock), by=people["bob"])  # the same suspension again
    approve(node, release.id, by=people["bob"])
    with pytest.raises(SuspendedError, match="already suspended"):
        approve(node, other.id, by=people["ann"])
    assert get_release(node, other.id).state is ReleaseState.pending
    assert withdraw(node, other.id, by=people["bob"]).state is ReleaseState.withdrawn
    assert log_size(node) == 1


def test_a_retried_proposal_can_reuse_the_pending_one(node, people, clock):
    first = propose(node, suspension(clock), by=people["ann"], reuse_pending=True)
    again = propose(node, suspension(clock), by=people["ann"], reuse_pending=True)
    other = propose(node, suspension(clock), by=people["bob"], reuse_pending=True)
    fresh = propose(node, suspension(clock), by=people["ann"])
    assert again == first and other.id != first.id and fresh.id != first.id


def test_releases_are_listed_newest_first_and_by_state(node, people, clock):
    ids = [propose(node, suspension(clock), by=people["ann"]).id for _ in range(3)]
    reject(node, ids[0], by=people["bob"], reason="no")
    assert [r.id for r in list_releases(node)] == ids[::-1]
    assert [r.id for r in list_releases(node, state=ReleaseState.pending)] == ids[:0:-1]
    assert [r.id for r in list_releases(node, state=ReleaseState.rejected)] == ids[:1]
    assert [r.id for r in list_releases(node, limit=1)] == ids[2:]


def test_two_approvals_at_once_append_once(node, people, clock):
    """Two approvers race, each through its own Node (as two API processes would be)."""
    twin = open_node(node.directory, clock=clock)
    try:
        outcomes: list[object] = []
        rounds = 3
        for i in range(rounds):
            body = {"types": ["message"], "effective": stamp(clock), "reason": f"round {i}"}
            kind = "suspension" if i % 2 == 0 else "resumption"
            if kind == "resumption":
                body.pop("reason")
            release = propose(node, Draft(kind, body), by=people["ann"])
            barrier = threading.Barrier(2)

            def race(on, who, release_id=release.id, barrier=barrier):
                barrier.wait()
                try:
                    approve(on, release_id, by=people[who])
                    outcomes.append("approved")
                except ConflictError:
                    outcomes.append("refused")

            threads = [
                threading.Thread(target=race, args=(node, "bob")),
                threading.Thread(target=race, args=(twin, "ada")),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert get_release(node, release.id).state is ReleaseState.released
            clock.advance(minutes=1)
        assert sorted(outcomes) == ["approved"] * rounds + ["refused"] * rounds
        assert log_size(node) == rounds
    finally:
        twin.close()
