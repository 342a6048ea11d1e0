"""The priority lane: a FLASH message overtakes a backlog of routine traffic."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from detente.errors import ConsistencyError, ForkError, SequenceError, TypeNotAllowedError
from detente.exchange.priority import AheadDelivery, receive_ahead
from detente.exchange.receipts import verify_receipt
from detente.exchange.sender import deliver_once, delivery_states
from detente.node.alarms import list_alarms
from detente.node.receipts import receipt_for
from detente.node.writer import Draft, LogWriter
from detente.record.checkpoint import Checkpoint, origin_for
from detente.store.logs import LogStore
from detente.store.schema import deliveries, early_entries, evidence, priority_lane
from detente.store.tree import StoredTree

BACKLOG = 1000


def _queue_routine(node, count=BACKLOG):
    drafts = [
        Draft(type="message", body={"text": f"routine {i}"}, to=("ru",)) for i in range(count)
    ]
    LogWriter(node).append(drafts)


def _flash(clients, tokens, party="us", to=("ru",), text="FLASH: close approach"):
    response = clients[party].post(
        "/v1/messages",
        json={"type": "message", "body": {"text": text}, "to": list(to), "priority": "FLASH"},
        headers={"Authorization": f"Bearer {tokens[party]}"},
    )
    assert response.status_code == 201, response.text
    return response.json()["seq"]


def _get(clients, tokens, party, path):
    response = clients[party].get(path, headers={"Authorization": f"Bearer {tokens[party]}"})
    assert response.status_code == 200, response.text
    return response.json()


def test_flash_overtakes_a_thousand_queued_routine_messages(network):
    nodes, clients, tokens, senders, _ = network
    _queue_routine(nodes["us"])
    seq = _flash(clients, tokens)
    assert seq == BACKLOG

    # Only the lane runs: the backlog stays undelivered.
    assert senders["us"].run_lane() == 1
    with nodes["ru"].database.engine.connect() as conn:
        assert StoredTree(conn, "us").size() == 0
    inbox = _get(clients, tokens, "ru", "/v1/inbox")["messages"]
    assert [m["body"]["text"] for m in inbox] == ["FLASH: close approach"]
    assert inbox[0]["ahead_of_log"] is True
    assert inbox[0]["received_at"] is not None

    # The sender shows it receipted by ru, while the routine backlog is queued.
    outbox = _get(clients, tokens, "us", "/v1/outbox?limit=2")["messages"]
    assert outbox[0]["position"] == f"us:{seq}"
    assert outbox[0]["peers"]["ru"]["state"] == "receipted"
    assert outbox[1]["peers"]["ru"]["state"] == "queued"

    # The receipt checks offline with the two public keys alone.
    checked = verify_receipt(
        receipt_for(nodes["us"], seq=seq, peer="ru"),
        sender=nodes["us"].verifier,
        receiver=nodes["ru"].verifier,
    )
    assert checked.position == f"us:{seq}"
    assert checked.received_at == inbox[0]["received_at"]
    with pytest.raises(Exception, match="not receipted"):
        receipt_for(nodes["us"], seq=seq - 1, peer="ru")

    # The mirror fills the gap afterwards and checks the entry taken ahead.
    senders["us"].run_once()
    with nodes["ru"].database.engine.connect() as conn:
        assert StoredTree(conn, "us").size() == BACKLOG + 1
        assert conn.execute(select(early_entries.c.mirrored)).scalars().all() == [1]
    inbox = _get(clients, tokens, "ru", "/v1/inbox?limit=10")["messages"]
    flash = [m for m in inbox if m["position"] == f"us:{seq}"]
    assert len(flash) == 1 and "ahead_of_log" not in flash[0]
    # The time that counts stays the lane receipt's.
    assert flash[0]["received_at"] == checked.received_at
    assert list_alarms(nodes["ru"]) == []


def test_flash_goes_only_to_its_recipients_and_others_mirror_it_in_order(network):
    nodes, clients, tokens, senders, _ = network
    _queue_routine(nodes["us"], 10)
    _flash(clients, tokens, to=("ru",))
    senders["us"].run_lane()
    with nodes["nato"].database.engine.connect() as conn:
        assert conn.execute(select(early_entries)).first() is None
    with nodes["us"].database.engine.connect() as conn:
        assert conn.execute(select(priority_lane.c.peer)).scalars().all() == ["ru"]
    senders["us"].run_once()
    with nodes["nato"].database.engine.connect() as conn:
        assert LogStore(conn, "us").size() == 11


def test_the_lane_proves_consistency_with_a_partly_filled_mirror(network):
    nodes, clients, tokens, senders, _ = network
    _queue_routine(nodes["us"])
    # One run of the backlog arrives (500 entries, short of the checkpoint).
    assert deliver_once(nodes["us"], nodes["us"].config.peer("ru"), senders["us"]._client) == 500
    seq = _flash(clients, tokens)
    assert senders["us"].run_lane() == 1
    with nodes["ru"].database.engine.connect() as conn:
        assert StoredTree(conn, "us").size() == 500
        row = conn.execute(select(early_entries)).one()
    assert row.seq == seq and row.checkpoint_size == BACKLOG + 1


def test_a_stale_send_cursor_is_corrected_and_the_lane_goes_on(network):
    nodes, clients, tokens, senders, _ = network
    _queue_routine(nodes["us"], 20)
    senders["us"].run_once()
    # The sender lost track of what ru holds (say, a response that never came back).
    with nodes["us"].database.engine.begin() as conn:
        conn.execute(update(deliveries).where(deliveries.c.peer == "ru").values(delivered_size=5))
    _flash(clients, tokens)
    assert senders["us"].run_lane() == 1
    with nodes["us"].database.engine.connect() as conn:
        assert delivery_states(conn, nodes["us"])["ru"].delivered_size == 20


def test_only_flash_to_a_recipient_goes_ahead(network):
    nodes, clients, tokens, senders, _ = network
    _queue_routine(nodes["us"], 3)
    LogWriter(nodes["us"]).append(
        [Draft(type="message", body={"text": "x"}, to=("nato",), priority="FLASH")]
    )
    LogWriter(nodes["us"]).append(
        [Draft(type="message", body={"text": "y"}, to=("ru",), priority="IMMEDIATE")]
    )
    us = nodes["us"]
    with us.database.engine.connect() as conn:
        size, note = LogStore(conn, "us").checkpoint()
        tree = StoredTree(conn, "us")
        to_nato = (LogStore(conn, "us").leaf(3), LogStore(conn, "us").body(3))
        immediate = (LogStore(conn, "us").leaf(4), LogStore(conn, "us").body(4))
        proofs = {seq: tree.inclusion_proof(seq, size) for seq in (3, 4)}
    for seq, (leaf, body), match in (
        (3, to_nato, "not addressed to ru"),
        (4, immediate, "priority IMMEDIATE does not go ahead"),
    ):
        with pytest.raises(TypeNotAllowedError, match=match):
            receive_ahead(
                nodes["ru"],
                AheadDelivery(
                    sender="us",
                    checkpoint=note,
                    base_size=0,
                    consistency=[],
                    inclusion=proofs[seq],
                    leaf=leaf,
                    body=body,
                ),
            )


def _flash_delivery(nodes, seq, *, checkpoint=None, base_size=0, consistency=()):
    us = nodes["us"]
    with us.database.engine.connect() as conn:
        log = LogStore(conn, "us")
        size, note = log.checkpoint()
        proof = StoredTree(conn, "us").inclusion_proof(seq, size)
        leaf, body = log.leaf(seq), log.body(seq)
    return AheadDelivery(
        sender="us",
        checkpoint=checkpoint or note,
        base_size=base_size,
        consistency=list(consistency),
        inclusion=proof,
        leaf=leaf,
        body=body,
    )


def test_a_checkpoint_that_does_not_extend_the_mirror_is_kept_as_evidence(network):
    nodes, clients, tokens, senders, _ = network
    _queue_routine(nodes["us"], 4)
    senders["us"].run_once()
    seq = _flash(clients, tokens)
    us = nodes["us"]
    # us signs a checkpoint of another history at the new size.
    forged = Checkpoint(
        origin=origin_for(us.agreement.id, "us"), size=seq + 1, root=b"\x07" * 32
    ).sign(us.key)
    delivery = _flash_delivery(nodes, seq, checkpoint=forged.to_text(), base_size=4)
    with pytest.raises(ConsistencyError, match="does not extend"):
        receive_ahead(nodes["ru"], delivery)
    with nodes["ru"].database.engine.connect() as conn:
        kinds = conn.execute(select(evidence.c.kind)).scalars().all()
    assert kinds == ["inconsistent_checkpoint"]
    assert [a.kind for a in list_alarms(nodes["ru"])] == ["inconsistent_checkpoint"]


def test_a_wrong_base_size_is_refused_with_what_is_held(network):
    nodes, clients, tokens, senders, _ = network
    _queue_routine(nodes["us"], 4)
    senders["us"].run_once()
    seq = _flash(clients, tokens)
    with pytest.raises(SequenceError, match="holds us's log up to size 4"):
        receive_ahead(nodes["ru"], _flash_delivery(nodes, seq, base_size=2))
    senders["us"].run_once()
    with pytest.raises(SequenceError, match="already in the mirror"):
        receive_ahead(nodes["ru"], _flash_delivery(nodes, seq, base_size=4))


def test_a_repeat_is_answered_with_the_same_receipt(network):
    nodes, clients, tokens, senders, _ = network
    seq = _flash(clients, tokens)
    first = receive_ahead(nodes["ru"], _flash_delivery(nodes, seq))
    again = receive_ahead(nodes["ru"], _flash_delivery(nodes, seq))
    assert again.repeat and again.cosignature == first.cosignature


def test_the_log_delivering_other_bytes_than_the_entry_taken_ahead_is_a_fork(network):
    nodes, clients, tokens, senders, _ = network
    seq = _flash(clients, tokens)
    receive_ahead(nodes["ru"], _flash_delivery(nodes, seq))
    # Pretend ru was shown other bytes ahead at that seq.
    with nodes["ru"].database.engine.begin() as conn:
        conn.execute(update(early_entries).values(leaf=b"other bytes"))
    senders["us"].run_once()
    with nodes["ru"].database.engine.connect() as conn:
        assert LogStore(conn, "us").size() == 0
        assert conn.execute(select(evidence.c.kind)).scalars().all() == ["fork"]
    with pytest.raises(ForkError):
        receive_ahead(nodes["ru"], _flash_delivery(nodes, seq))


def test_a_run_in_flight_does_not_cost_the_lane_a_round_trip(network):
    from detente.exchange.priority import deliver_ahead

    nodes, clients, tokens, senders, _ = network
    us = nodes["us"]
    _queue_routine(us)
    client = senders["us"]._client
    assert deliver_once(us, us.config.peer("ru"), client) == 500
    # As if the run's answer had not come back yet: the cursor still says 0.
    with us.database.engine.begin() as conn:
        conn.execute(update(deliveries).where(deliveries.c.peer == "ru").values(delivered_size=0))
    _flash(clients, tokens)
    assert deliver_ahead(us, us.config.peer("ru"), client, in_flight=500) == (1, False)
    with us.database.engine.connect() as conn:
        # Taken with the proof from 500, at once: no refusal moved the cursor.
        assert delivery_states(conn, us)["ru"].delivered_size == 0
    with nodes["ru"].database.engine.connect() as conn:
        assert conn.execute(select(early_entries.c.seq)).scalars().all() == [BACKLOG]


def test_the_lane_looks_only_at_peers_with_a_flash_waiting(network):
    from detente.exchange.priority import peers_waiting

    nodes, clients, tokens, senders, _ = network
    us = nodes["us"]

    def waiting():
        with us.database.engine.connect() as conn:
            return peers_waiting(conn)

    _queue_routine(us, 5)
    assert waiting() == set()
    _flash(clients, tokens, to=("ru", "nato"))
    assert waiting() == {"ru", "nato"}
    assert deliver_once(us, us.config.peer("nato"), senders["us"]._client) == 6
    assert waiting() == {"ru"}  # nato got it in order: nothing left for the lane
    assert senders["us"].run_lane() == 1
    assert waiting() == set()
