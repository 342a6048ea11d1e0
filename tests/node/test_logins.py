"""Console passwords: argon2, lockout, refusals that tell nothing; on both databases."""

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from detente.errors import AuthenticationError, InputError
from detente.node import logins
from detente.node.logins import LOCKOUT, MAX_FAILURES, log_in, set_password, unlock
from detente.node.operators import Role, add_operator, remove_operator
from detente.node.watchlog import watch_entries
from detente.store.schema import operators

PASSWORD = "correct horse battery"
REAL_HASHER = logins._HASHER


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    """Argon2 at its cheapest: the suite checks the logic, not the cost (checked below)."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(logins, "_HASHER", cheap)
    monkeypatch.setattr(logins, "_DUMMY_HASH", cheap.hash("a password nobody has"))


def test_passwords_are_hashed_at_rfc_9106_strength():
    assert REAL_HASHER.hash(PASSWORD).startswith("$argon2id$v=19$m=65536,t=3,p=4$")


@pytest.fixture
def alice(node):
    operator, _ = add_operator(node, "alice", Role.operator)
    set_password(node, "alice", PASSWORD)
    return operator


@pytest.fixture
def verifications(monkeypatch):
    """The hashes each log-in attempt was checked against."""
    seen = []
    real = logins._verify

    def counting(hashed, password):
        seen.append(hashed)
        return real(hashed, password)

    monkeypatch.setattr(logins, "_verify", counting)
    return seen


def test_the_right_password_logs_in(node, alice):
    assert log_in(node, "alice", PASSWORD) == alice


def test_the_password_is_stored_as_an_argon2id_hash(node, alice):
    with node.database.engine.connect() as conn:
        stored = conn.execute(select(operators.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


@pytest.mark.parametrize("name", ["alice", "nobody"])
def test_every_refusal_reads_the_same_and_costs_one_verification(node, alice, verifications, name):
    with pytest.raises(AuthenticationError, match="^wrong name or password$"):
        log_in(node, name, "not the password")
    assert len(verifications) == 1


def test_an_operator_without_a_password_cannot_log_in(node, verifications):
    add_operator(node, "bob", Role.viewer)
    with pytest.raises(AuthenticationError, match="wrong name or password"):
        log_in(node, "bob", "")
    assert verifications == [logins._DUMMY_HASH]


def test_repeated_failures_lock_the_account_even_for_the_right_password(node, alice, clock):
    for _ in range(MAX_FAILURES):
        with pytest.raises(AuthenticationError):
            log_in(node, "alice", "guess")
    with pytest.raises(AuthenticationError, match="wrong name or password"):
        log_in(node, "alice", PASSWORD)
    lockouts = [e for e in watch_entries(node) if e.kind == "lockout"]
    assert len(lockouts) == 1 and lockouts[0].operator == "alice"
    clock.advance(seconds=LOCKOUT.total_seconds() + 1)
    assert log_in(node, "alice", PASSWORD).name == "alice"


def test_a_locked_account_is_checked_against_the_dummy_hash(node, alice, verifications):
    for _ in range(MAX_FAILURES):
        with pytest.raises(AuthenticationError):
            log_in(node, "alice", "guess")
    verifications.clear()
    with pytest.raises(AuthenticationError):
        log_in(node, "alice", PASSWORD)
    assert verifications == [logins._DUMMY_HASH]


def test_a_success_clears_the_count_of_failures(node, alice):
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(AuthenticationError):
            log_in(node, "alice", "guess")
    log_in(node, "alice", PASSWORD)
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(AuthenticationError):
            log_in(node, "alice", "guess")
    assert log_in(node, "alice", PASSWORD).name == "alice"


def test_unlock_ends_a_lockout(node, alice):
    for _ in range(MAX_FAILURES):
        with pytest.raises(AuthenticationError):
            log_in(node, "alice", "guess")
    unlock(node, "alice")
    assert log_in(node, "alice", PASSWORD).name == "alice"


@pytest.mark.parametrize(
    ("password", "problem"), [("short", "at least 12"), ("x" * 1025, "at most 1024")]
)
def test_passwords_of_the_wrong_length_are_refused(node, alice, password, problem):
    with pytest.raises(InputError, match=problem):
        set_password(node, "alice", password)
    assert log_in(node, "alice", PASSWORD).name == "alice"


def test_unknown_operators_are_named(node):
    with pytest.raises(InputError, match="no operator named 'ghost'"):
        set_password(node, "ghost", PASSWORD)
    with pytest.raises(InputError, match="no operator named 'ghost'"):
        unlock(node, "ghost")


def test_a_removed_operator_cannot_log_in(node, alice):
    remove_operator(node, "alice")
    with pytest.raises(AuthenticationError):
        log_in(node, "alice", PASSWORD)


def test_parallel_guesses_each_count(node, alice):
    """Attempts made at the same time cannot overwrite each other's failure count."""
    from concurrent.futures import ThreadPoolExecutor

    def guess(i):
        with pytest.raises(AuthenticationError):
            log_in(node, "alice", f"guess {i}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(guess, range(3 * MAX_FAILURES)))
    with pytest.raises(AuthenticationError):
        log_in(node, "alice", PASSWORD)
    assert any(e.kind == "lockout" for e in watch_entries(node))


def test_an_overlong_name_is_refused_before_any_lookup(node, alice, verifications):
    for _ in range(MAX_FAILURES + 2):
        with pytest.raises(AuthenticationError):
            log_in(node, "alice" + "x" * 64, "guess")
    assert verifications == [logins._DUMMY_HASH] * (MAX_FAILURES + 2)


def test_a_new_password_ends_the_operators_sessions(node, alice):
    from detente.node.sessions import open_session, resume

    token, _ = open_session(node, alice)
    set_password(node, "alice", "a brand new passphrase")
    assert resume(node, token) is None
