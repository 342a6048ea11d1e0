import base64
import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from detente.crypto.canonical import canonical_json
from detente.crypto.keys import SigningKey
from detente.errors import EncodingError, SignatureError
from detente.record.envelope import (
    ZERO_HASH,
    Envelope,
    Header,
    format_time,
    parse_time,
    seal,
)
from detente.record.merkle import leaf_hash

AGREEMENT = "ab" * 32
KEY = SigningKey.generate("detente.log/abababababababab/us")


def make(**overrides):
    args = {
        "key": KEY,
        "agreement": AGREEMENT,
        "sender": "us",
        "seq": 0,
        "prev": ZERO_HASH,
        "created": "2026-03-01T12:00:00Z",
        "type": "message",
        "to": ("ru",),
        "body": b'{"text":"hello"}',
    }
    args.update(overrides)
    return seal(**args)


def test_round_trip_keeps_the_signed_bytes():
    env = make(refs=("ru:3",), article="Art. VII", priority="FLASH", exercise=True)
    parsed = Envelope.from_leaf(env.leaf)
    assert parsed == env
    assert parsed.leaf == env.leaf
    assert parsed.leaf_hash == leaf_hash(env.leaf)
    parsed.verify_signature(KEY.verifier)


def test_leaf_is_the_canonical_json_of_header_and_sig():
    env = make()
    obj = json.loads(env.leaf)
    assert set(obj) == {"header", "sig"}
    assert canonical_json(obj) == env.leaf
    header = obj["header"]
    assert header["v"] == 1 and header["seq"] == 0 and header["prev"] == ZERO_HASH
    assert header["body_len"] == len(b'{"text":"hello"}')
    assert "article" not in header
    assert base64.b64decode(obj["sig"]) == env.sig


def test_signature_has_its_own_context():
    env = make()
    assert env.header.signing_input().startswith(b"detente/envelope/v1\n")
    KEY.verifier.verify(env.header.signing_input(), env.sig)
    with pytest.raises(SignatureError):
        KEY.verifier.verify(canonical_json(env.header.to_json()), env.sig)


def test_other_key_fails():
    env = make()
    other = SigningKey.generate("detente.log/abababababababab/us")
    with pytest.raises(SignatureError):
        env.verify_signature(other.verifier)


def test_non_canonical_leaf_is_refused():
    env = make()
    pretty = json.dumps(json.loads(env.leaf), indent=1).encode()
    with pytest.raises(EncodingError, match="canonical"):
        Envelope.from_leaf(pretty)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("v", 2, "header.v"),
        ("agreement", "XY", "header.agreement"),
        ("seq", -1, "header.seq"),
        ("seq", 1.5, "header.seq"),
        ("prev", "0" * 63, "header.prev"),
        ("created", "2026-03-01 12:00:00", "header.created"),
        ("created", "2026-02-30T12:00:00Z", "header.created"),
        ("priority", "URGENT", "header.priority"),
        ("exercise", "no", "header.exercise"),
        ("to", ["ru", "ru"], "header.to"),
        ("to", "ru", "header.to"),
        ("refs", ["ru-3"], r"header.refs\[0\]"),
        ("body_len", 10**12, "header.body_len"),
        ("article", "", "header.article"),
    ],
)
def test_header_fields_are_checked(field, value, message):
    obj = make().header.to_json()
    obj[field] = value
    with pytest.raises(EncodingError, match=message):
        Header.from_json(obj)


def test_missing_and_unknown_fields_are_named():
    obj = make().header.to_json()
    del obj["refs"]
    with pytest.raises(EncodingError, match="missing field.*refs"):
        Header.from_json(obj)
    obj = make().header.to_json()
    obj["extra"] = 1
    with pytest.raises(EncodingError, match="unknown field.*extra"):
        Header.from_json(obj)


@pytest.mark.parametrize(
    "leaf",
    [b"", b"[]", b"not json", b'{"header":{}}', b'{"header":{},"sig":"!!"}', b"x" * 70_000],
)
def test_garbage_leaf_is_an_encoding_error(leaf):
    with pytest.raises(EncodingError):
        Envelope.from_leaf(leaf)


def test_bad_signature_encoding():
    obj = json.loads(make().leaf)
    obj["sig"] = base64.b64encode(b"short").decode()
    with pytest.raises(EncodingError, match="64"):
        Envelope.from_leaf(canonical_json(obj))


def test_sealing_a_bad_header_is_refused():
    with pytest.raises(EncodingError, match="header.sender"):
        make(sender="U S")


def test_times():
    moment = parse_time("2026-03-01T12:00:00.123456Z")
    assert format_time(moment) == "2026-03-01T12:00:00.123456Z"
    assert format_time(parse_time("2026-03-01T12:00:00Z")) == "2026-03-01T12:00:00Z"
    with pytest.raises(EncodingError):
        parse_time("2026-03-01T12:00:00+01:00")


_party = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,20}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(
    sender=_party,
    to=st.lists(_party, max_size=5, unique=True),
    refs=st.lists(st.builds(lambda p, n: f"{p}:{n}", _party, st.integers(0, 2**53 - 1))),
    seq=st.integers(0, 2**53 - 1),
    article=st.none()
    | st.text(min_size=1, max_size=40).filter(
        lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t)
    ),
    exercise=st.booleans(),
    body_len=st.integers(0, 16 * 1024 * 1024),
)
def test_header_fast_encoding_is_rfc8785(sender, to, refs, seq, article, exercise, body_len):
    header = Header.from_json(
        {
            "v": 1,
            "agreement": AGREEMENT,
            "sender": sender,
            "seq": seq,
            "prev": ZERO_HASH,
            "created": "2026-03-01T12:00:00.5Z",
            "type": "message",
            "to": to,
            "refs": refs,
            "priority": "FLASH",
            "exercise": exercise,
            "body_sha256": "f" * 64,
            "body_len": body_len,
            **({} if article is None else {"article": article}),
        }
    )
    assert header.canonical() == rfc8785.dumps(header.to_json())
