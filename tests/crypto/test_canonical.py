"""Differential test: ``canonical_json`` against the reference ``rfc8785`` package.

The design (Wire format) allows a faster encoder than ``rfc8785`` only if
both give the same bytes on random input; and where ``rfc8785`` refuses a
value, ``canonical_json`` must refuse it with ``EncodingError``.
"""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st

from detente.crypto.canonical import canonical_json
from detente.errors import EncodingError

# Characters where encoders tend to differ: controls and their short escapes,
# quote and backslash, DEL, line and paragraph separators, BOM, the last BMP
# characters, astral characters (two UTF-16 units: they sort differently by
# code point and by UTF-16) and lone surrogates (not encodable).
_tricky = st.sampled_from(
    [
        "\x00",
        "\x01",
        "\x08",
        "\t",
        "\n",
        "\x0c",
        "\r",
        "\x1f",
        '"',
        "\\",
        "/",
        "\x7f",
        "\u0080",
        "\u2028",
        "\u2029",
        "\ufeff",
        "\ue000",
        "\uffff",
        "\U00010000",
        "\U0001f600",
        "\U0010ffff",
        "\ud800",
        "\udfff",
        "é",
    ]
)
_valid_chars = st.characters(exclude_categories=["Cs"])
_any_chars = st.characters(codec=None, exclude_categories=())
_strings = st.one_of(
    st.text(_valid_chars, max_size=12),
    st.lists(_tricky | _valid_chars, max_size=8).map("".join),
    st.text(_any_chars, max_size=6),
)
_ints = st.one_of(
    st.integers(-(2**53) + 1, 2**53 - 1),
    st.sampled_from([2**53 - 1, 2**53, -(2**53) + 1, -(2**53), 2**64, -(2**64), 10**30]),
    st.integers(),
)
_floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 0.1, 1e20, 123456789.125]
)
_scalars = st.none() | st.booleans() | _ints | _strings | _floats
_json: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(_strings, children, max_size=5)
    ),
    max_leaves=25,
)
# Values with no float, big int or lone surrogate: the fast path, which must
# never need to refuse them.
_safe_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.lists(_tricky.filter(lambda c: not 0xD800 <= ord(c) <= 0xDFFF) | _valid_chars).map("".join)
)
_safe_json: st.SearchStrategy[Any] = st.recursive(
    _safe_scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.lists(_tricky.filter(lambda c: not 0xD800 <= ord(c) <= 0xDFFF) | _valid_chars).map(
                "".join
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


def _check(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError, TypeError):
        with pytest.raises(EncodingError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


@settings(max_examples=1000)
@given(_json)
@example({"\U0001f600": 1, "\ufb33": 2, "\ue000": 3})  # UTF-16 order differs from code points
@example({"a": 2**53})
@example({"\ud800": 1})
@example(["\ud800"])
@example({"\ud800": 1.5})
@example({"a": [1, 2.5, "x"], "b": None})
@example({1: 2})
@example(("a", ("b",)))
def test_matches_rfc8785(value: Any) -> None:
    _check(value)


@settings(max_examples=500)
@given(_safe_json)
def test_values_without_floats_always_encode_and_match(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        -float("inf"),
        2**53,
        -(2**53),
        {"k": {1, 2}},
        {b"k": 1},
        b"bytes",
        object(),
        "\udc00",
    ],
)
def test_refusals_are_encoding_errors(value: Any) -> None:
    with pytest.raises(EncodingError):
        canonical_json(value)


def test_rfc8785_key_order_example() -> None:
    # RFC 8785, section 3.2.3: sorting by UTF-16 code units.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = [
        "\r",
        "1",
        "\u0080",
        "\u00f6",
        "\u20ac",
        "\U0001f600",
        "\ufb33",
    ]
    encoded = canonical_json(value).decode()
    positions = [encoded.index(rfc8785.dumps(k).decode() + ":") for k in keys]
    assert positions == sorted(positions)
