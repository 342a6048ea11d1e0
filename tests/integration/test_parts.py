"""Large bodies travel in parts and are reassembled; the agreement's size limit holds."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import func, select

from detente.errors import BodyError, InputError, SequenceError, TooLargeError
from detente.exchange import parts, sender
from detente.exchange.parts import reassemble, split, store_part
from detente.node.writer import Draft, LogWriter
from detente.record.admission import check_rules
from detente.record.envelope import Envelope
from detente.store.logs import LogStore
from detente.store.schema import body_parts
from tests.fakes.network import signed_post, submit

PART = 1024


@pytest.fixture
def small_parts(monkeypatch):
    """Parts of 1 KiB, so a free-text body of a few KiB travels in several."""
    monkeypatch.setattr(parts, "PART_BYTES", PART)
    monkeypatch.setattr(sender, "PART_BYTES", PART)


def body_of(node, seq):
    with node.database.engine.connect() as conn:
        return LogStore(conn, node.party).body(seq)


def _staged(node):
    with node.database.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(body_parts)).scalar_one()


def test_split_covers_the_body_in_order():
    body = bytes(range(256)) * 9
    pieces = list(split(body, size=PART))
    assert [start for start, _ in pieces] == [0, 1024, 2048]
    assert b"".join(chunk for _, chunk in pieces) == body
    assert list(split(b"", size=PART)) == []


def test_a_large_body_is_sent_in_parts_and_reassembled(network, small_parts):
    nodes, clients, tokens, senders, router = network
    text = "Notification of a large-scale exercise. " * 250  # about 10 KiB
    assert submit(clients, tokens, "us", {"text": text}, to=["ru"]).status_code == 201
    assert submit(clients, tokens, "us", {"text": "small"}, to=["ru"]).status_code == 201
    senders["us"].run_once()
    with nodes["ru"].database.engine.connect() as conn:
        log = LogStore(conn, "us")
        assert log.size() == 2
        assert text in log.body(0).decode()
    with nodes["nato"].database.engine.connect() as conn:
        assert LogStore(conn, "us").body(0) is None  # headers only: no parts either
    # The parts went to ru only, and are gone once the entry is stored.
    assert _staged(nodes["ru"]) == 0 and _staged(nodes["nato"]) == 0
    # About 10 KiB in parts of 1 KiB, to ru only.
    assert router.paths.count("/v1/peer/parts") == -(-len(body_of(nodes["us"], 0)) // PART)


def test_a_missing_part_leaves_the_run_refused_and_nothing_stored(network, small_parts):
    nodes, clients, tokens, senders, _ = network
    text = "x" * 5000
    assert submit(clients, tokens, "us", {"text": text}, to=["ru"]).status_code == 201
    with nodes["us"].database.engine.connect() as conn:
        body = LogStore(conn, "us").body(0)
    # Only the first part arrives.
    store_part(nodes["ru"], sender="us", seq=0, start=0, total=len(body), data=body[:PART])
    with pytest.raises(BodyError, match=f"1024 contiguous bytes held of {len(body)}"):
        reassemble(nodes["ru"], sender="us", seq=0)
    # The sender sends all parts again and the run goes through.
    senders["us"].run_once()
    with nodes["ru"].database.engine.connect() as conn:
        assert LogStore(conn, "us").body(0) == body


def test_parts_are_checked_at_the_edge(network, small_parts, monkeypatch):
    nodes, *_ = network
    ru = nodes["ru"]
    limit = ru.agreement.max_body_bytes
    with pytest.raises(BodyError, match="exceeds max_body_bytes"):
        store_part(ru, sender="us", seq=0, start=0, total=limit + 1, data=b"x" * PART)
    with pytest.raises(InputError, match="at a multiple"):
        store_part(ru, sender="us", seq=0, start=5, total=3000, data=b"x" * PART)
    with pytest.raises(InputError, match="do not fit"):
        store_part(ru, sender="us", seq=0, start=0, total=3000, data=b"x" * 10)
    with pytest.raises(SequenceError, match="beyond"):
        store_part(ru, sender="us", seq=10_000, start=0, total=10, data=b"x" * 10)
    monkeypatch.setattr(parts, "MAX_STAGED_BYTES", 2 * PART)
    store_part(ru, sender="us", seq=0, start=0, total=3 * PART, data=b"x" * PART)
    store_part(ru, sender="us", seq=0, start=PART, total=3 * PART, data=b"x" * PART)
    with pytest.raises(TooLargeError, match="already has 2048 bytes of parts waiting"):
        store_part(ru, sender="us", seq=0, start=2 * PART, total=3 * PART, data=b"x" * PART)
    # A retry of the same part replaces it rather than counting twice.
    assert store_part(ru, sender="us", seq=0, start=0, total=3 * PART, data=b"y" * PART) == 2048


def test_parts_for_an_entry_already_held_are_refused(network):
    nodes, clients, tokens, senders, _ = network
    assert submit(clients, tokens, "us", {"text": "hello"}, to=["ru"]).status_code == 201
    senders["us"].run_once()
    with pytest.raises(SequenceError, match="already holds"):
        store_part(nodes["ru"], sender="us", seq=0, start=0, total=10, data=b"x" * 10)


def test_the_part_endpoint_accepts_only_the_callers_own_log(network, clock):
    nodes, *_ = network
    payload = json.dumps({"sender": "us", "seq": 0, "start": 0, "total": 4, "data": "AAAAAA=="})
    url = f"{network.served['ru'].url}/v1/peer/parts"
    with httpx.Client() as client:
        response = client.send(signed_post(nodes["nato"], "nato", url, payload.encode(), clock))
    assert response.status_code == 403, response.text
    assert _staged(nodes["ru"]) == 0


def test_the_agreement_limits_bodies_at_both_ends(node):
    small = node.agreement.model_copy(update={"max_body_bytes": 64})
    node.agreement = small
    with pytest.raises(InputError, match=r"exceeds the agreement's max_body_bytes \(64\)"):
        LogWriter(node).append([Draft(type="message", body={"text": "x" * 100}, to=("ru",))])
    result = LogWriter(node).append([Draft(type="message", body={"text": "short"}, to=("ru",))])
    envelope = Envelope.from_leaf(result.envelopes[0].leaf)
    tighter = small.model_copy(update={"max_body_bytes": 8})
    with pytest.raises(BodyError, match=r"body_len \d+ exceeds the agreement's max_body_bytes"):
        check_rules(envelope, None, agreement=tighter)
