"""KeyHistory: which key signs which position, through rotations and revocations."""

from __future__ import annotations

import pytest

from detente.agreement.system import REVOCATION_TYPE, ROTATION_TYPE
from detente.crypto.canonical import canonical_json
from detente.crypto.keys import SigningKey
from detente.errors import BodyError, SignatureError, VerificationError
from detente.record.envelope import ZERO_HASH, seal
from detente.record.keyhistory import KeyHistory, revocation_body, rotation_body

NAME = "detente.log/0123456789abcdef/us"


def _entry(key, seq, type_, body):
    return seal(
        key=key,
        agreement="0" * 64,
        sender="us",
        seq=seq,
        prev=ZERO_HASH,
        created="2026-01-01T00:00:00Z",
        type=type_,
        body=body,
        to=("ru",),
    )


def _rotate(history, key, seq, new):
    body = rotation_body(new.verifier, reason="scheduled")
    return history.apply(_entry(key, seq, ROTATION_TYPE, body), body)


def test_without_rotation_the_first_key_signs_everything():
    k0 = SigningKey.generate(NAME)
    history = KeyHistory.starting_with("us", k0.verifier)
    assert history.key_for(0) == history.key_for(10**6) == k0.verifier
    assert history.checkpoint_key(0) == history.checkpoint_key(5) == k0.verifier
    assert history.request_keys() == (k0.verifier,)
    assert history.last_rotation is None


def test_rotation_at_zero():
    k0, k1 = SigningKey.generate(NAME), SigningKey.generate(NAME)
    history = _rotate(KeyHistory.starting_with("us", k0.verifier), k0, 0, k1)
    assert history.key_for(0) == k0.verifier
    assert history.key_for(1) == k1.verifier
    # The checkpoint of the append holding the rotation is still the old key's.
    assert history.checkpoint_key(1) == k0.verifier
    assert history.checkpoint_key(2) == k1.verifier
    assert history.request_keys() == (k1.verifier, k0.verifier)


def test_multiple_rotations_in_the_middle():
    k0, k1, k2 = (SigningKey.generate(NAME) for _ in range(3))
    history = KeyHistory.starting_with("us", k0.verifier)
    history = history.apply(_entry(k0, 3, "message", b'{"text":"x"}'), b'{"text":"x"}')
    history = _rotate(history, k0, 5, k1)
    history = _rotate(history, k1, 9, k2)
    assert [history.key_for(s) for s in (0, 5, 6, 9, 10, 100)] == [
        k0.verifier,
        k0.verifier,
        k1.verifier,
        k1.verifier,
        k2.verifier,
        k2.verifier,
    ]
    assert history.keys() == (k0.verifier, k1.verifier, k2.verifier)
    assert history.last_rotation == 9
    assert history.find(k1.verifier.key_id) == k1.verifier
    assert history.find_cosigner(k2.verifier.cosignature_key_id) == k2.verifier


def test_a_rotation_signed_by_a_wrong_key_is_refused():
    k0, k1, intruder = (SigningKey.generate(NAME) for _ in range(3))
    history = _rotate(KeyHistory.starting_with("us", k0.verifier), k0, 2, k1)
    with pytest.raises(SignatureError, match="not signed by the key in force"):
        _rotate(history, intruder, 4, SigningKey.generate(NAME))
    # The old key no longer signs after the rotation either.
    with pytest.raises(SignatureError, match="us:4"):
        _rotate(history, k0, 4, SigningKey.generate(NAME))


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"not json", "not UTF-8 JSON"),
        (b"[]", "JSON object"),
        (canonical_json({"new_key": "nonsense", "reason": ""}), "new_key"),
        (canonical_json({"reason": "x"}), "exactly new_key, reason"),
        (canonical_json({"new_key": "a" * 600, "reason": "x"}), "at most 512"),
    ],
)
def test_a_malformed_rotation_is_refused(body, match):
    k0 = SigningKey.generate(NAME)
    history = KeyHistory.starting_with("us", k0.verifier)
    with pytest.raises(BodyError, match=match):
        history.apply(_entry(k0, 0, ROTATION_TYPE, body), body)


def test_a_rotation_to_another_name_or_an_old_key_is_refused():
    k0, k1 = SigningKey.generate(NAME), SigningKey.generate(NAME)
    history = KeyHistory.starting_with("us", k0.verifier)
    other = SigningKey.generate("detente.log/0123456789abcdef/ru")
    with pytest.raises(BodyError, match="is named"):
        _rotate(history, k0, 0, other)
    history = _rotate(history, k0, 0, k1)
    with pytest.raises(BodyError, match="already used"):
        _rotate(history, k1, 1, k0)


def test_a_rotation_without_body_or_out_of_order_is_refused():
    k0, k1 = SigningKey.generate(NAME), SigningKey.generate(NAME)
    history = KeyHistory.starting_with("us", k0.verifier)
    body = rotation_body(k1.verifier, reason="")
    with pytest.raises(BodyError, match="body .* is needed"):
        history.apply(_entry(k0, 0, ROTATION_TYPE, body), None)
    history = _rotate(history, k0, 4, k1)
    with pytest.raises(VerificationError, match="log order"):
        _rotate(history, k0, 2, SigningKey.generate(NAME))


def _revoke(history, key, seq, revoked, from_seq):
    body = revocation_body(revoked.verifier, from_seq=from_seq, reason="stolen")
    return history.apply(_entry(key, seq, REVOCATION_TYPE, body), body)


def test_revocation_marks_the_spans_signed_by_the_revoked_key():
    k0, k1 = SigningKey.generate(NAME), SigningKey.generate(NAME)
    history = _rotate(KeyHistory.starting_with("us", k0.verifier), k0, 6, k1)
    history = _revoke(history, k1, 8, k0, 4)
    assert history.revoked_from(k0.verifier) == 4
    assert history.is_revoked(k0.verifier, 4) and not history.is_revoked(k0.verifier, 3)
    assert history.revoked_spans(9) == [(k0.verifier, 4, 6)]
    assert history.revoked_spans(5) == [(k0.verifier, 4, 4)]
    # A revoked previous key is no longer accepted for requests.
    assert history.request_keys() == (k1.verifier,)
    # Entries keep their keys: the chain up to the revocation vouches for them.
    assert history.key_for(5) == k0.verifier


def test_a_revocation_the_history_does_not_allow_is_refused():
    k0, k1 = SigningKey.generate(NAME), SigningKey.generate(NAME)
    history = KeyHistory.starting_with("us", k0.verifier)
    with pytest.raises(BodyError, match="key in force"):
        _revoke(history, k0, 1, k0, 0)
    history = _rotate(history, k0, 2, k1)
    with pytest.raises(BodyError, match="not a key of"):
        _revoke(history, k1, 3, SigningKey.generate(NAME), 0)
    with pytest.raises(BodyError, match="outside"):
        _revoke(history, k1, 3, k0, 4)
    with pytest.raises(SignatureError):
        _revoke(history, k0, 3, k0, 1)
    body = canonical_json({"key": k0.verifier.to_text(), "from_seq": -1, "reason": ""})
    with pytest.raises(BodyError, match="from_seq"):
        history.apply(_entry(k1, 3, REVOCATION_TYPE, body), body)


def test_other_entries_leave_the_history_alone():
    k0 = SigningKey.generate(NAME)
    history = KeyHistory.starting_with("us", k0.verifier)
    entry = _entry(k0, 0, "message", b'{"text":"hi"}')
    assert history.apply(entry, None) is history
