"""The demo's chapter "Data and compliance": declarations, a dispute, a missed deadline.

Under ``intermediate-range-restraint-2022`` (part of the 2022 package) the
United States and Russia each declare their ground-launched
intermediate-range missiles and launchers: none. Russia disputes the United
States' count (the Mk 41 cells at the Aegis Ashore sites can launch Tomahawk
cruise missiles, it says: 48 launchers), and every node shows both positions
against the limit (on the United States' node: since "Someone cheats" NATO
no longer takes Russia's later entries). NATO asks Russia to explain an activity; nobody answers;
the exercise clock moves past the 48 hours and the request shows overdue.
The compliance report of the period is written on the United States' node
and verified offline with nothing but the agreement and the public keys;
a copy with one number changed is refused.
"""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detente.demo.story import Story, console
from detente.record.envelope import parse_time

if TYPE_CHECKING:
    from detente.demo.network import _Network

__all__ = ["data_and_compliance"]

NONE_DECLARED = {"gl_intermediate_range_missiles": 0, "gl_intermediate_range_launchers": 0}
DISPUTE = (
    "The Mk 41 vertical launching systems at Deveselu and Redzikowo can launch Tomahawk "
    "cruise missiles; Russia counts their 48 cells as launchers of ground-launched "
    "intermediate-range missiles."
)


def data_and_compliance(story: Story, network: _Network, workdir: Path) -> dict[str, Any]:
    """Tell chapter "Data and compliance" (shared/scenario.md, 8); the facts it showed."""
    story.chapter(
        "Data and compliance",
        "Under the replies' restraint on ground-launched intermediate-range missiles, the\n"
        "United States and Russia each declare none. Russia disputes the United States'\n"
        "count: the Mk 41 cells at the Aegis Ashore sites could launch Tomahawks. NATO asks\n"
        "Russia to explain an activity near the border; the answer is due in 48 hours.",
    )
    today = parse_time(network.api("us", "GET", "/v1/health")["exercise"]["time"]).date()
    declared = {}
    for party in ("us", "ru"):
        sent = network.api(
            party,
            "POST",
            "/v1/messages",
            json={
                "type": "restraint_declaration",
                "to": [p for p in ("us", "nato", "ru") if p != party],
                "body": {"as_of": today.isoformat(), "counts": NONE_DECLARED},
            },
        )
        declared[party] = f"{party}:{sent['seq']}"
    dispute = network.api(
        "ru",
        "POST",
        "/v1/messages",
        json={
            "type": "restraint_dispute",
            "to": ["us", "nato"],
            "refs": [declared["us"]],
            "body": {"text": DISPUTE, "counts": {"gl_intermediate_range_launchers": 48}},
        },
    )
    asked = network.api(
        "nato",
        "POST",
        "/v1/messages",
        json={
            "type": "explanation_request",
            "to": ["ru"],
            "body": {"activity": "Concentration of forces and missile launchers near the border"},
        },
    )
    story.check(
        network.wait_delivered(("us", "ru")) and _delivered(network, "nato", "ru"),
        f"declarations {declared['us']} and {declared['ru']}, Russia's dispute ru:{dispute['seq']} "
        f"and NATO's request nato:{asked['seq']} are delivered and receipted",
    )
    limits = _limits(network, "us", declared["us"])
    launchers = limits["gl_intermediate_range_launchers"]
    (position,) = launchers["disputed"]
    story.check(
        launchers["state"] == "met" and position["state"] == "violated",
        f"on the United States' node its launchers read {launchers['value']} against a "
        f"limit of {launchers['max']} ({launchers['state']}), and beside it Russia's count, "
        f"{position['value']} ({position['state']}): both positions, side by side",
    )
    story.run("exercise", "advance", str(network.clock), "--by", "49h", show=False)
    console.print("  The exercise clock moves 49 hours; Russia has not answered.")
    overdue = story.run("obligations", "--dir", str(network.nodes["nato"].directory), expect=1)
    request = f"nato:{asked['seq']}"
    story.check(
        request in overdue and "overdue" in overdue,
        f"NATO's node lists Russia's explanation of {request} overdue, and `detente "
        "obligations` exits 1",
    )
    _report(story, network, workdir, today)
    return {"declared": declared, "request": request}


def _report(story: Story, network: _Network, workdir: Path, first: date) -> None:
    """The United States' node writes the period's report; it verifies offline."""
    us = network.nodes["us"]
    now = parse_time(network.api("us", "GET", "/v1/health")["exercise"]["time"]).date()
    period = ("--from", (first - timedelta(days=7)).isoformat(), "--to", now.isoformat())
    report = workdir / "compliance-report.json"
    story.run("report", "build", *period, "--out", str(report), "--dir", str(us.directory))
    story.run(
        "report",
        "build",
        *period,
        "--out",
        str(workdir / "compliance-report.html"),
        "--format",
        "html",
        "--dir",
        str(us.directory),
        show=False,
    )
    keys = [a for party in ("us", "nato", "ru") for a in ("--key", network.nodes[party].verifier)]
    story.run("report", "verify", str(report), *keys)
    story.check(
        True,
        f"the compliance report verifies offline: every number recomputed from the three logs "
        f"it carries, up to checkpoints another party cosigned ({report.name}, and an HTML "
        "copy with the charts)",
    )
    edited = json.loads(report.read_text(encoding="utf-8"))
    summary = edited["report"]["summary"]
    party = next(iter(summary))
    state = next(iter(summary[party]))
    summary[party][state] += 1
    forged = workdir / "compliance-report-edited.json"
    forged.write_text(json.dumps(edited), encoding="utf-8")
    refused = story.run("report", "verify", str(forged), *keys, expect=1, show=False)
    story.check(
        "summary" in refused,
        "a copy with one number changed is refused: " + refused.strip().splitlines()[-1][:80],
    )


def _delivered(network: _Network, sender: str, peer: str, timeout: float = 30) -> bool:
    """Whether ``sender`` has delivered everything to ``peer`` within ``timeout`` seconds.

    (Russia's forked log since "Someone cheats" keeps NATO from taking its
    later entries, so the network as a whole never drains.)
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        peers = network.api(sender, "GET", "/v1/peers")["peers"]
        if all(p["backlog"] == 0 for p in peers if p["party"] == peer):
            return True
        time.sleep(0.1)
    return False


def _limits(network: _Network, party: str, declaration: str) -> dict[str, dict[str, Any]]:
    """The limit obligations of ``declaration`` as ``party``'s node judges them."""
    found = network.api(party, "GET", "/v1/obligations")["obligations"]
    return {o["limit"]: o for o in found if o["rule"] == "limit" and o["trigger"] == declaration}
