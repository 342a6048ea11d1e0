"""Console sessions: digests only, idle and absolute limits, removal; on both databases."""

import hashlib

import pytest
from sqlalchemy import select

from detente.node.operators import Role, add_operator, remove_operator, set_language
from detente.node.sessions import IDLE, LIFETIME, end_session, open_session, resume
from detente.node.watchlog import watch_entries
from detente.store.schema import console_sessions


@pytest.fixture
def alice(node):
    operator, _ = add_operator(node, "alice", Role.operator)
    return operator


def test_the_node_keeps_only_the_digest_of_the_cookie(node, alice):
    token, session = open_session(node, alice)
    with node.database.engine.connect() as conn:
        (digest,) = conn.execute(select(console_sessions.c.digest)).one()
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in digest
    assert resume(node, token) == session


def test_sessions_end_when_idle(node, alice, clock):
    token, _ = open_session(node, alice)
    clock.advance(seconds=IDLE.total_seconds() - 60)
    assert resume(node, token) is not None
    clock.advance(seconds=IDLE.total_seconds() - 60)
    assert resume(node, token) is not None, "each request keeps the session alive"
    clock.advance(seconds=IDLE.total_seconds() + 1)
    assert resume(node, token) is None


def test_no_session_outlives_its_lifetime(node, alice, clock):
    token, _ = open_session(node, alice)
    step = IDLE.total_seconds() / 2
    elapsed = 0.0
    while elapsed + step < LIFETIME.total_seconds():
        clock.advance(seconds=step)
        elapsed += step
        assert resume(node, token) is not None
    clock.advance(seconds=step)
    assert resume(node, token) is None


def test_logging_out_ends_the_session_and_is_on_the_watch_log(node, alice):
    token, _ = open_session(node, alice)
    end_session(node, token)
    assert resume(node, token) is None
    assert [e.kind for e in watch_entries(node)] == ["logout", "login"]


def test_removing_the_operator_ends_their_sessions(node, alice):
    token, _ = open_session(node, alice)
    remove_operator(node, "alice")
    assert resume(node, token) is None


def test_a_changed_role_and_language_take_effect_at_once(node, alice):
    token, _ = open_session(node, alice)
    set_language(node, "alice", "ru")
    assert resume(node, token).language == "ru"


@pytest.mark.parametrize("token", ["", "x" * 129, "not-a-session"])
def test_unknown_tokens_resume_nothing(node, alice, token):
    open_session(node, alice)
    assert resume(node, token) is None


def test_the_event_stream_does_not_keep_a_session_alive(node, alice, clock):
    token, _ = open_session(node, alice)
    for _ in range(3):
        clock.advance(seconds=IDLE.total_seconds() / 4)
        assert resume(node, token, touch=False) is not None
    clock.advance(seconds=IDLE.total_seconds() / 4)
    assert resume(node, token) is None
