"""The snapshot's FLASH check: one alert per FLASH message, however it arrives."""

from __future__ import annotations

from detente.console.snapshot import flash_arrived, snapshot


def _submit(clients, tokens, text, priority="FLASH"):
    response = clients["us"].post(
        "/v1/messages",
        json={"type": "message", "body": {"text": text}, "to": ["ru"], "priority": priority},
        headers={"Authorization": f"Bearer {tokens['us']}"},
    )
    assert response.status_code == 201, response.text


def test_a_flash_taken_ahead_alerts_once_not_again_when_mirrored(network):
    nodes, clients, tokens, senders, _ = network
    ru = nodes["ru"]
    start = snapshot(ru)
    _submit(clients, tokens, "unsafe close approach")
    assert senders["us"].run_lane() == 1
    ahead = snapshot(ru)
    assert flash_arrived(ru, start, ahead)
    senders["us"].run_once()
    mirrored = snapshot(ru)
    assert dict(mirrored[0])["us"] > dict(ahead[0]).get("us", 0)
    assert not flash_arrived(ru, ahead, mirrored), "announced when taken ahead already"
    assert flash_arrived(ru, start, mirrored), "both in one look: announced once"


def test_a_flash_delivered_in_order_alerts_and_routine_traffic_does_not(network):
    nodes, clients, tokens, senders, _ = network
    ru = nodes["ru"]
    start = snapshot(ru)
    _submit(clients, tokens, "routine notice", priority="ROUTINE")
    senders["us"].run_once()
    routine = snapshot(ru)
    assert not flash_arrived(ru, start, routine)
    _submit(clients, tokens, "unsafe close approach")
    senders["us"].run_once()  # in order, without the lane
    flash = snapshot(ru)
    assert flash_arrived(ru, routine, flash)


def test_the_acknowledgement_of_a_flash_message_sounds_no_alert() -> None:
    from detente.console.snapshot import _alerts
    from detente.record.envelope import Header

    base = {
        "agreement": "0" * 64,
        "sender": "ru",
        "seq": 3,
        "prev": "0" * 64,
        "created": "2026-03-01T12:00:00Z",
        "to": ("us",),
        "refs": ("us:1",),
        "article": None,
        "priority": "FLASH",
        "exercise": False,
        "body_sha256": "0" * 64,
        "body_len": 2,
    }
    assert _alerts(Header(type="line-message", **base), "us")
    assert not _alerts(Header(type="line-ack", **base), "us")
    assert not _alerts(Header(type="line-message", **base), "nato")
