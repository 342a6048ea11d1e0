"""Admission: every check a receiver makes, each with its own error class."""

from datetime import UTC, datetime, timedelta

import pytest

from detente.agreement import builtin_agreement, load_agreement_text
from detente.crypto.canonical import canonical_json
from detente.crypto.keys import SigningKey
from detente.errors import (
    BodyError,
    ChainError,
    ClockSkewError,
    ForkError,
    SequenceError,
    SignatureError,
    TypeNotAllowedError,
    UnknownKeyError,
    WrongAgreementError,
)
from detente.record.admission import Admission, LogTip, admit, check_body
from detente.record.envelope import ZERO_HASH, seal

AGREEMENT = load_agreement_text(
    """
name = "test-pact"
title = "Test pact"
version = "1"
skew_seconds = 60

[[parties]]
id = "a"
name = "Alpha"

[[parties]]
id = "b"
name = "Bravo"

[message_types.report]
description = "Only Alpha reports."
senders = ["a"]

[message_types.report.body_schema]
type = "object"
required = ["count"]
additionalProperties = false
properties = { count = { type = "integer", minimum = 0 } }
""",
    source="test-pact.toml",
)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEY_A = SigningKey.generate("a-node")
KEY_B = SigningKey.generate("b-node")


def envelope(
    *,
    key=KEY_A,
    sender="a",
    seq=0,
    prev=ZERO_HASH,
    type="report",
    body=None,
    to=("b",),
    created="2026-03-01T12:00:00Z",
    agreement=None,
):
    body = canonical_json(body if body is not None else {"count": 3})
    env = seal(
        key=key,
        agreement=agreement or AGREEMENT.id,
        sender=sender,
        seq=seq,
        prev=prev,
        created=created,
        type=type,
        to=to,
        body=body,
    )
    return env, body


def check(env, body, *, key=KEY_A.verifier, tip=None, held=None, now=NOW):
    return admit(
        env, body, agreement=AGREEMENT, key=key, tip=tip or LogTip.empty(), held=held, now=now
    )


def test_a_good_first_and_second_entry():
    first, body = envelope()
    assert check(first, body) is Admission.NEW
    second, body2 = envelope(seq=1, prev=first.leaf_hash.hex())
    tip = LogTip(size=1, last_leaf_hash=first.leaf_hash.hex())
    assert check(second, body2, tip=tip) is Admission.NEW
    assert check(second, None, tip=tip) is Admission.NEW  # not a recipient: header only


def test_bad_signature():
    env, body = envelope()
    with pytest.raises(SignatureError):
        check(env, body, key=KEY_B.verifier)


def test_unknown_key():
    env, body = envelope()
    with pytest.raises(UnknownKeyError, match="'a'"):
        check(env, body, key=None)


def test_other_agreement():
    env, body = envelope(agreement=builtin_agreement("new-start").id)
    with pytest.raises(WrongAgreementError, match="test-pact"):
        check(env, body)


def test_type_the_sender_may_not_send():
    env, body = envelope(key=KEY_B, sender="b", to=("a",))
    with pytest.raises(TypeNotAllowedError, match="'b' may not send type 'report'"):
        check(env, body, key=KEY_B.verifier)


def test_unknown_type_and_unknown_sender_and_recipient():
    env, body = envelope(type="launch")
    with pytest.raises(TypeNotAllowedError, match="launch"):
        check(env, body)
    env, body = envelope(sender="c")
    with pytest.raises(TypeNotAllowedError, match="'c' is not a party"):
        check(env, body)
    env, body = envelope(to=("b", "zz"))
    with pytest.raises(TypeNotAllowedError, match="zz"):
        check(env, body)


def test_body_failing_its_schema_names_the_field():
    env, body = envelope(body={"count": -1})
    with pytest.raises(BodyError, match="count"):
        check(env, body)
    env, body = envelope(body={"count": 1, "extra": True})
    with pytest.raises(BodyError, match="extra"):
        check(env, body)


def test_body_failing_its_hash_or_length():
    env, body = envelope()
    with pytest.raises(BodyError, match="SHA-256"):
        check(env, body.replace(b"3", b"4"))
    with pytest.raises(BodyError, match="bytes"):
        check(env, body + b" ")
    raw = b"\xffnot json"
    garbled = seal(
        key=KEY_A,
        agreement=AGREEMENT.id,
        sender="a",
        seq=0,
        prev=ZERO_HASH,
        created="2026-03-01T12:00:00Z",
        type="report",
        to=("b",),
        body=raw,
    )
    with pytest.raises(BodyError, match="JSON"):
        check_body(garbled, raw, agreement=AGREEMENT)


def test_seq_that_does_not_follow():
    env, body = envelope(seq=2)
    with pytest.raises(SequenceError, match="expected 0"):
        check(env, body)


def test_broken_prev_chain():
    first, _ = envelope()
    env, body = envelope(seq=1, prev="ab" * 32)
    with pytest.raises(ChainError, match="a:0"):
        check(env, body, tip=LogTip(size=1, last_leaf_hash=first.leaf_hash.hex()))


def test_created_in_the_future_beyond_the_skew():
    within, body = envelope(created="2026-03-01T12:00:59Z")
    assert check(within, body) is Admission.NEW
    beyond, body = envelope(created="2026-03-01T12:01:01Z")
    with pytest.raises(ClockSkewError, match="60 s"):
        check(beyond, body)
    assert check(beyond, body, now=NOW + timedelta(seconds=2)) is Admission.NEW


def test_identical_repeat_and_fork():
    first, body = envelope()
    tip = LogTip(size=1, last_leaf_hash=first.leaf_hash.hex())
    assert check(first, body, tip=tip, held=first.leaf) is Admission.REPEAT
    other, body2 = envelope(body={"count": 4})
    with pytest.raises(ForkError, match="a:0"):
        check(other, body2, tip=tip, held=first.leaf)
