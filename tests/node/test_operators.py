"""Operators and API tokens, on SQLite and PostgreSQL."""

import logging

import pytest
from argon2 import PasswordHasher
from sqlalchemy import insert, select, update

from detente.errors import AuthenticationError, InputError, PermissionDeniedError, StoreError
from detente.node import operators as ops
from detente.node.operators import (
    Operator,
    Role,
    VerificationCache,
    add_operator,
    authenticate,
    list_operators,
    remove_operator,
    require,
    rotate_token,
)
from detente.store.schema import metadata
from detente.store.schema import operators as operators_table


def secret_of(token):
    return token[len("dto_") + 13 :]


def token_id_of(token):
    return token[len("dto_") : len("dto_") + 12]


@pytest.fixture
def verifications(monkeypatch):
    """Count the argon2 verifications made, and against which hashes."""
    seen = []
    real = ops._verify

    def counting(token_hash, secret):
        seen.append(token_hash)
        return real(token_hash, secret)

    monkeypatch.setattr(ops, "_verify", counting)
    return seen


@pytest.mark.parametrize("role", list(Role))
def test_add_then_authenticate_each_role(node, clock, role):
    operator, token = add_operator(node, "alice", role)
    assert operator == Operator(name="alice", role=role, created_at=clock.now)
    assert authenticate(node, token) == operator
    assert authenticate(node.database.engine, token) == operator


def test_token_format():
    token_id, token, token_hash = ops._new_token()
    assert token.startswith("dto_")
    assert token_id_of(token) == token_id
    assert len(token_id) == 12
    assert len(secret_of(token)) == 43  # 32 random bytes: 256 bits
    assert token[16] == "_"
    assert ops._TOKEN.fullmatch(token)
    assert token_hash.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert secret_of(token) not in token_hash


def test_tokens_differ(node):
    _, first = add_operator(node, "alice", Role.operator)
    _, second = add_operator(node, "bob", Role.operator)
    assert token_id_of(first) != token_id_of(second)
    assert secret_of(first) != secret_of(second)


def test_roles():
    assert [r.can_send for r in Role] == [False, True, True]
    assert [r.can_administer for r in Role] == [False, False, True]
    assert Role("viewer") is Role.viewer
    assert str(Role.admin) == "admin"


def test_wrong_secret_is_refused(node):
    _, token = add_operator(node, "alice", Role.admin)
    secret = secret_of(token)
    other = "A" if secret[0] != "A" else "B"
    with pytest.raises(AuthenticationError, match="^invalid token$"):
        authenticate(node, token[:-43] + other + secret[1:])


def test_another_operators_secret_is_refused(node):
    _, alice = add_operator(node, "alice", Role.viewer)
    _, bob = add_operator(node, "bob", Role.admin)
    with pytest.raises(AuthenticationError, match="^invalid token$"):
        authenticate(node, f"dto_{token_id_of(alice)}_{secret_of(bob)}")


def test_unknown_token_id_costs_one_verification(node, verifications):
    _, token = add_operator(node, "alice", Role.operator)
    unknown = "dto_" + ("x" if token[4] != "x" else "y") + token[5:]
    with pytest.raises(AuthenticationError, match="^invalid token$"):
        authenticate(node, unknown)
    assert verifications == [ops._DUMMY_HASH]


def test_dummy_hash_has_the_token_parameters():
    assert not ops._TOKEN_HASHER.check_needs_rehash(ops._DUMMY_HASH)
    assert ops._verify(ops._DUMMY_HASH, "x" * 43) is False


@pytest.mark.parametrize(
    "token",
    [
        "",
        "dto_",
        "dto_abc_def",
        "Bearer dto_AAAAAAAAAAAA_" + "B" * 43,
        "dto_AAAAAAAAAAAA_" + "B" * 42,
        "dto_AAAAAAAAAAAA_" + "B" * 43 + "\n",
        "dto_AAAAAAAAAAAA-" + "B" * 43,
        "dto_AAAAAAAAAAA_" + "B" * 44,
        "xto_AAAAAAAAAAAA_" + "B" * 43,
        "dto_AAAAAAAAAAAA_" + "B" * 42 + "é",
        "dto_AAAAAAAAAAAA_" + "B" * 129,
    ],
)
def test_malformed_tokens_are_refused_without_a_verification(node, verifications, token):
    with pytest.raises(AuthenticationError, match="^invalid token"):
        authenticate(node, token)
    assert verifications == []


def test_removed_operator_is_refused(node):
    _, token = add_operator(node, "alice", Role.operator)
    remove_operator(node, "alice")
    with pytest.raises(AuthenticationError, match="^invalid token$"):
        authenticate(node, token)
    assert list_operators(node) == []
    with pytest.raises(InputError, match="no operator named 'alice'"):
        remove_operator(node, "alice")


def test_rotated_token_replaces_the_old(node):
    operator, old = add_operator(node, "alice", Role.operator)
    new = rotate_token(node, "alice")
    assert new != old
    assert token_id_of(new) != token_id_of(old)
    with pytest.raises(AuthenticationError, match="^invalid token$"):
        authenticate(node, old)
    assert authenticate(node, new) == operator
    with pytest.raises(InputError, match="no operator named 'bob'"):
        rotate_token(node, "bob")


def test_viewer_cannot_send(node):
    viewer, token = add_operator(node, "vera", Role.viewer)
    with pytest.raises(PermissionDeniedError, match="^viewer vera may not send$"):
        require(authenticate(node, token), send=True)
    require(viewer)
    with pytest.raises(PermissionDeniedError, match="viewer vera may not administer"):
        require(viewer, admin=True)


def test_operator_sends_but_does_not_administer(node):
    operator, _ = add_operator(node, "otto", Role.operator)
    require(operator, send=True)
    with pytest.raises(PermissionDeniedError, match="operator otto may not administer"):
        require(operator, admin=True)
    admin, _ = add_operator(node, "ada", Role.admin)
    require(admin, send=True, admin=True)


def test_duplicate_name_is_refused(node):
    _, token = add_operator(node, "alice", Role.viewer)
    with pytest.raises(InputError, match="operator 'alice' already exists"):
        add_operator(node, "alice", Role.admin)
    assert [o.role for o in list_operators(node)] == [Role.viewer]
    assert authenticate(node, token).role is Role.viewer


def test_duplicate_name_in_a_race_is_refused(node, monkeypatch):
    add_operator(node, "alice", Role.viewer)
    monkeypatch.setattr(ops, "_row_by_name", lambda conn, name: None)
    with pytest.raises(InputError, match="operator 'alice' already exists"):
        add_operator(node, "alice", Role.admin)


@pytest.mark.parametrize(
    "name", ["", "Alice", "-alice", ".x", "al ice", "a" * 65, "alice\n", "élise", "a/b"]
)
def test_bad_names_are_refused(node, name):
    with pytest.raises(InputError, match="operator name"):
        add_operator(node, name, Role.viewer)
    assert list_operators(node) == []


@pytest.mark.parametrize("name", ["a", "0", "alice.smith", "ops-1_b", "a" * 64])
def test_good_names_are_accepted(node, name):
    operator, _ = add_operator(node, name, Role.viewer)
    assert operator.name == name


def test_unknown_role_is_refused(node):
    with pytest.raises(InputError, match="role 'root'"):
        add_operator(node, "alice", "root")
    assert add_operator(node, "bob", "admin")[0].role is Role.admin


def test_list_operators_by_name(node, clock):
    add_operator(node, "zed", Role.viewer)
    clock.advance(seconds=1.5)
    add_operator(node, "amy", Role.admin)
    listed = list_operators(node)
    assert [(o.name, o.role) for o in listed] == [("amy", Role.admin), ("zed", Role.viewer)]
    assert listed[0].created_at == clock.now


def all_stored_text(node):
    """Every value of every column of every table, as text."""
    values = []
    with node.database.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        values.append(bytes(value).decode("latin-1"))
                    else:
                        values.append(str(value))
    return "\n".join(values)


def test_the_token_is_never_stored(node):
    _, token = add_operator(node, "alice", Role.operator)
    rotated = rotate_token(node, "alice")
    _, other = add_operator(node, "bob", Role.viewer)
    stored = all_stored_text(node)
    for secret_token in (token, rotated, other):
        assert secret_token not in stored
        assert secret_of(secret_token) not in stored
    assert token_id_of(rotated) in stored  # the public lookup key is stored in clear
    with node.database.engine.connect() as conn:
        hashes = conn.execute(select(operators_table.c.token_hash)).scalars().all()
    assert len(hashes) == 2
    assert all(h.startswith("$argon2id$") for h in hashes)


def test_the_token_is_never_logged(node, caplog):
    caplog.set_level(logging.DEBUG)
    _, token = add_operator(node, "alice", Role.operator)
    authenticate(node, token)
    rotated = rotate_token(node, "alice")
    with pytest.raises(AuthenticationError):
        authenticate(node, token)
    with pytest.raises(AuthenticationError):
        authenticate(node, "dto_" + "z" * 12 + token[16:])
    authenticate(node, rotated)
    remove_operator(node, "alice")
    assert "operator alice added as operator" in caplog.text
    assert "refused" in caplog.text
    for secret_token in (token, rotated):
        assert secret_of(secret_token) not in caplog.text
        for record in caplog.records:
            assert secret_of(secret_token) not in repr(record.args)


def test_an_unreadable_hash_refuses_the_token(node, caplog):
    _, token = add_operator(node, "alice", Role.operator)
    with node.database.engine.begin() as conn:
        conn.execute(update(operators_table).values(token_hash="not a hash"))
    with pytest.raises(AuthenticationError, match="^invalid token$"):
        authenticate(node, token)
    assert "unreadable" in caplog.text


def test_an_unreadable_row_is_a_store_error(node):
    with node.database.engine.begin() as conn:
        conn.execute(
            insert(operators_table).values(
                name="ghost",
                role="root",
                token_id="AAAAAAAAAAAA",
                token_hash=ops._DUMMY_HASH,
                created_at="2026-03-01T12:00:00Z",
            )
        )
    with pytest.raises(StoreError, match="operator ghost: unreadable row"):
        list_operators(node)


def test_a_token_hashed_with_other_parameters_still_verifies(node):
    # A token hashed with heavier parameters still verifies: the parameters
    # are read from the stored hash.
    _, token = add_operator(node, "alice", Role.operator)
    heavy = PasswordHasher(time_cost=2, memory_cost=16384, parallelism=1).hash(secret_of(token))
    with node.database.engine.begin() as conn:
        conn.execute(update(operators_table).values(token_hash=heavy))
    assert authenticate(node, token).name == "alice"


class FakeMonotonic:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_cache_spares_argon2_for_a_verified_token(node, verifications):
    clock = FakeMonotonic()
    cache = VerificationCache(ttl=30, monotonic=clock)
    _, token = add_operator(node, "alice", Role.operator)
    for _ in range(3):
        assert authenticate(node, token, cache=cache).name == "alice"
    assert len(verifications) == 1
    assert len(cache) == 1
    clock.now += 31
    authenticate(node, token, cache=cache)
    assert len(verifications) == 2


def test_cache_never_holds_the_token(node):
    cache = VerificationCache()
    _, token = add_operator(node, "alice", Role.operator)
    authenticate(node, token, cache=cache)
    held = repr(cache._entries)
    assert secret_of(token) not in held
    assert token not in held


def test_cache_does_not_outlive_removal_rotation_or_role_change(node):
    cache = VerificationCache(ttl=3600)
    _, token = add_operator(node, "alice", Role.admin)
    authenticate(node, token, cache=cache)
    with node.database.engine.begin() as conn:
        conn.execute(update(operators_table).values(role="viewer"))
    assert authenticate(node, token, cache=cache).role is Role.viewer
    new = rotate_token(node, "alice")
    with pytest.raises(AuthenticationError):
        authenticate(node, token, cache=cache)
    authenticate(node, new, cache=cache)
    remove_operator(node, "alice")
    with pytest.raises(AuthenticationError):
        authenticate(node, new, cache=cache)


def test_cache_does_not_admit_a_wrong_secret(node):
    cache = VerificationCache()
    _, token = add_operator(node, "alice", Role.admin)
    authenticate(node, token, cache=cache)
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(AuthenticationError):
        authenticate(node, wrong, cache=cache)


def test_cache_is_bounded():
    clock = FakeMonotonic()
    cache = VerificationCache(ttl=10, max_entries=2, monotonic=clock)
    cache.add(b"a", "h")
    clock.now += 11
    cache.add(b"b", "h")
    cache.add(b"c", "h")  # drops the expired a
    assert (cache.hit(b"b", "h"), cache.hit(b"c", "h")) == (True, True)
    cache.add(b"d", "h")  # none expired: drops the oldest, b
    assert (cache.hit(b"b", "h"), cache.hit(b"d", "h")) == (False, True)
    assert not cache.hit(b"d", "other hash")
    assert len(cache) == 1


def test_database_failures_are_store_errors(node):
    _, token = add_operator(node, "alice", Role.admin)
    with node.database.engine.begin() as conn:
        operators_table.drop(conn)
    calls = [
        lambda: add_operator(node, "bob", Role.viewer),
        lambda: authenticate(node, token),
        lambda: list_operators(node),
        lambda: remove_operator(node, "alice"),
        lambda: rotate_token(node, "alice"),
    ]
    for call in calls:
        with pytest.raises(StoreError, match="database error"):
            call()
