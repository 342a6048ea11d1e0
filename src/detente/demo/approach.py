"""The demo's chapter "Close approach": AIS in, an alert, the incident report drafted and sent.

The United States' node reads an AIS feed over UDP (``tracks.toml`` and a
unit registry in its directory, written before it starts). The demo plays
a receiver: NMEA 0183 sentences for USS Donald Cook and the Russian frigate
Neustrashimy converging in the Baltic, one sentence garbled on the way.
Screening predicts the approach within the agreement's sea thresholds, the
alert drafts an incident report with both tracks and the predicted
geometry, the watch officer sends it, Russia's node recomputes the call
from the message alone, gives its account, and both sides close the thread.

MMSIs are illustrative (MIDs 369 and 273, ITU-R M.585), not the ships' own.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyais

from detente.demo.ports import free_port
from detente.demo.story import StepFailed, Story, console

if TYPE_CHECKING:
    from detente.demo.network import _Network

__all__ = ["close_approach", "configure_feed"]

US_SHIP = {"mmsi": 369970120, "name": "USS Donald Cook"}
RU_SHIP = {"mmsi": 273350110, "name": "Neustrashimy"}
# 13 km apart on one parallel off Kaliningrad, closing at 9 m/s each (17.5 kn):
# nearest in about twelve minutes, well inside 2 NM and 20 minutes.
START = {"lat": 55.30, "us_lon": 19.00, "ru_lon": 19.205}
SPEED_KN = 17.5
_KNOT = 1852 / 3600


def configure_feed(directory: Path) -> int:
    """Write the United States' ``tracks.toml`` and registry; the UDP port it listens on."""
    port = free_port()
    (directory / "units.toml").write_text(
        "# Which party each MMSI belongs to (docs/tracks.md).\n"
        f'[[unit]]\nmmsi = "{US_SHIP["mmsi"]}"\nparty = "us"\nname = "{US_SHIP["name"]}"\n'
        'kind = "ship"\n\n'
        f'[[unit]]\nmmsi = "{RU_SHIP["mmsi"]}"\nparty = "ru"\nname = "{RU_SHIP["name"]}"\n'
        'kind = "ship"\n\n'
        '[[mid]]\nmid = "273"\nparty = "ru"\n',
        encoding="utf-8",
    )
    (directory / "tracks.toml").write_text(
        'registry = "units.toml"\n'
        "max_age_seconds = 360\n"
        "sweep_seconds = 5\n\n"
        "[[feeds]]\n"
        'name = "ais-baltic"\n'
        'format = "ais"\n'
        f'source = "udp://127.0.0.1:{port}"\n'
        "silent_after_seconds = 600\n",
        encoding="utf-8",
    )
    return port


def _sentences(ship: dict[str, Any], lat: float, lon: float, course: float) -> list[str]:
    sentences: list[str] = pyais.encode_dict(
        {
            "msg_type": 1,
            "mmsi": ship["mmsi"],
            "status": 0,
            "lat": lat,
            "lon": lon,
            "speed": SPEED_KN,
            "course": course,
            "heading": int(course),
            "accuracy": 1,
            "second": 60,
        },
        talker_id="AI",
    )
    return sentences


def _garble(sentence: str) -> str:
    """Change one payload character, so the checksum no longer holds."""
    fields = sentence.split(",")
    payload = fields[5]
    fields[5] = payload[:3] + ("1" if payload[3] != "1" else "2") + payload[4:]
    return ",".join(fields)


def close_approach(story: Story, network: _Network, port: int) -> None:
    """Chapter 6: the feed, the alert, the draft sent, recomputed and closed by both."""
    us = network.nodes["us"]
    story.chapter(
        "Close approach",
        "The United States' node reads AIS from a receiver on the Baltic coast (NMEA 0183\n"
        "over UDP); a registry says which ship is whose. USS Donald Cook and the Russian\n"
        "frigate Neustrashimy steam towards each other; screening predicts they will pass\n"
        "within 2 NM inside 20 minutes (the agreement's sea thresholds), raises an alert\n"
        "and drafts an incident report with both tracks and the predicted geometry. The\n"
        "watch officer sends it; Russia's node recomputes the call from the message alone,\n"
        "gives its account, and both sides close the thread.",
    )
    console.print(f"[dim]$[/] [cyan]cat {us.directory}/tracks.toml[/]")
    console.print((us.directory / "tracks.toml").read_text(encoding="utf-8").strip(), markup=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        lon_step = 9.0 * 5 / (111_320 * 0.5693)  # 9 m/s for 5 s at 55.3° N, in degrees
        sent = 0
        for step in range(3):
            lines = _sentences(US_SHIP, START["lat"], START["us_lon"] + step * lon_step, 90.0)
            lines += _sentences(RU_SHIP, START["lat"], START["ru_lon"] - step * lon_step, 270.0)
            if step == 1:
                lines.append(_garble(lines[0]))
            for line in lines:
                sock.sendto((line + "\r\n").encode(), ("127.0.0.1", port))
                sent += 1
            time.sleep(0.3)
    finally:
        sock.close()
    console.print(f"  {sent} NMEA sentences sent to udp://127.0.0.1:{port}, one of them garbled")
    picture: dict[str, Any] = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        picture = network.api("us", "GET", "/v1/tracks")
        if picture["alerts"] and picture["quarantine"]["total"]:
            break
        time.sleep(0.2)
    units = {u["id"]: u for u in picture.get("units", [])}
    story.check(
        {str(US_SHIP["mmsi"]), str(RU_SHIP["mmsi"])} <= set(units),
        "both ships are on the United States' picture, from the AIS feed: "
        + ", ".join(
            f"{u['id']} ({u['party']}) {u['lat']:.4f} N {u['lon']:.4f} E, "
            f"{u['course_deg']:.0f}°, {u['speed_mps']:.1f} m/s"
            for u in units.values()
        ),
    )
    quarantine = picture.get("quarantine", {})
    story.check(
        quarantine.get("by_reason", {}).get("bad_checksum", 0) >= 1,
        f"the garbled sentence is quarantined as bad_checksum, counted, and the feed "
        f"goes on ({quarantine.get('total', 0)} quarantined in all)",
    )
    if not picture.get("alerts"):
        raise StepFailed("no close-approach alert was raised on the United States' node")
    alert = picture["alerts"][0]
    story.check(
        alert["state"] == "raised" and alert["dcpa_m"] < 3704 and 0 < alert["tcpa_s"] < 1200,
        f"alert {alert['id']}: {alert['a']} and {alert['b']} predicted to pass "
        f"{alert['dcpa_m']:.0f} m apart in {alert['tcpa_s'] / 60:.1f} minutes (under 2 NM "
        "within 20 minutes: raised)",
    )
    shown = network.api("us", "GET", f"/v1/tracks/alerts/{alert['id']}")
    incident = shown["incident"]
    console.print("  the drafted incident report, as it would be sent:")
    to = ", ".join(incident["to"])
    console.print(f"    to {to}: {incident['body']['account']}", markup=False)
    result = network.api("us", "POST", f"/v1/tracks/alerts/{alert['id']}/send", json={})
    ref = result["alert"]["draft"]["ref"]
    story.check(
        result["message"] is not None and ref.startswith("us:"),
        f"the watch officer sends it: incident report {ref}, with the screening attached",
    )
    if not network.wait_delivered(("us", "ru"), timeout=30):
        raise StepFailed("the incident report did not reach Russia")
    party, seq = ref.split(":")
    output = story.run("tracks", "recompute", ref, "--dir", str(network.nodes["ru"].directory))
    story.check(
        output.strip().endswith("agrees"),
        "Russia's node recomputes the call from the message alone: the same distance and time",
    )
    network.api(
        "ru",
        "POST",
        "/v1/messages",
        json={
            "type": "incident-account",
            "refs": [ref],
            "to": ["us"],
            "body": {
                "account": "Neustrashimy held course and speed as the give-way vessel's "
                "intentions were unclear; she altered to starboard at 4 NM.",
            },
        },
    )
    for side, other in (("us", "ru"), ("ru", "us")):
        network.api(
            side,
            "POST",
            "/v1/messages",
            json={
                "type": "incident-status",
                "refs": [ref],
                "to": [other],
                "body": {"status": "closed", "text": "Passed clear; no further action."},
            },
        )
    network.wait_delivered(("us", "ru"), timeout=30)
    states = {}
    for side in ("us", "ru"):
        line = network.api(side, "GET", "/v1/hotline")
        thread = next((i for i in line["incidents"] if i["ref"] == ref), None)
        states[side] = None if thread is None else thread["status"]
    story.check(
        states == {"us": "closed", "ru": "closed"},
        f"the thread {ref} holds both sides' accounts and is closed on both nodes",
    )
