"""The demo's chapter "A transparency visit": Deveselu, then the paired visit to Russia.

Russia asks to visit the Aegis Ashore site at Deveselu, whose inventory of
24 Mk 41 cells the United States committed before; both sides commit to
random values and reveal them, the host first; the sample follows from
both; the exercise clock lets the 32 hours' notice pass; the team arrives,
the host opens the sampled cells against its commitment, the team records
what it saw, both sign the report, and the report file verifies offline
with nothing but the two public keys. The visit opens the United States'
right to a visit to a Russian site, which is run the same way.

The writes go through each node's API (the serving process is the one
writer of its log); the commands a person would type to look and check
(``detente exercise``, ``inspection status``, ``report --out``, ``verify``)
are run and shown.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detente.demo.story import Story, console
from detente.record.envelope import format_time, parse_time

if TYPE_CHECKING:
    from detente.demo.network import _Network

__all__ = ["transparency_visit"]

# The notice the visit types ask for (missile-site-transparency-2022:
# notice_hours = 32) and an hour's margin; the exercise clock is moved by it.
NOTICE = timedelta(hours=33)
TEAM = 8
# Deveselu's 24 Mk 41 cells (the agreement's declared count): three launchers
# of eight, interceptors in most, some empty. Illustrative contents, not data.
DEVESELU = [
    {
        "item_id": f"DEV-MK41-{launcher}{cell}",
        "location": f"launcher {launcher} cell {cell}",
        "status": "empty" if (launcher, cell) in (("B", 7), ("C", 8)) else "loaded",
        "contents": "none" if (launcher, cell) in (("B", 7), ("C", 8)) else "SM-3 interceptor",
    }
    for launcher in "ABC"
    for cell in range(1, 9)
]
# The Russian site the United States chose: twelve launchers, illustrative.
RU_SITE = "ru-glm-site-1"
RU_LAUNCHERS = [
    {
        "item_id": f"RU-LAUNCHER-{n:02d}",
        "location": f"launcher bay {n:02d}",
        "status": "present",
        "contents": "ballistic missile",
    }
    for n in range(1, 13)
]


def transparency_visit(story: Story, network: _Network, workdir: Path) -> None:
    """Tell chapter "A transparency visit" (shared/scenario.md, 7)."""
    story.chapter(
        "A transparency visit",
        "Russia asks to visit the Aegis Ashore site at Deveselu. The United States\n"
        "committed its 24 Mk 41 cells there beforehand: a Merkle root over salted\n"
        "records in its log, the records kept at home. Both sides commit to random\n"
        "values and reveal them, the host first; the sample follows from both, so\n"
        "neither chose it. The exercise clock moves past the 32 hours' notice; the\n"
        "team arrives, the host opens the sampled cells against its commitment, the\n"
        "team records what it sees, and both sign the report.",
    )
    committed = network.api(
        "us", "POST", "/v1/inspections/inventories", json={"site": "deveselu", "records": DEVESELU}
    )
    network.api(
        "ru", "POST", "/v1/inspections/inventories", json={"site": RU_SITE, "records": RU_LAUNCHERS}
    )
    story.check(
        network.wait_delivered(("us", "ru")),
        f"the United States committed Deveselu's {len(DEVESELU)} cells ({committed['position']}, "
        "the root only) and Russia its chosen site's 12 launchers, before any request",
    )
    console.print("  Russia asks; the request is checked against the quota and the notice.")
    ref = _request(network, "ru", "aegis-ashore-visit", "deveselu")
    seen = _visit(network, "us", ref)
    quota = _quota(network, "us", "aegis-ashore-visit")
    story.check(
        seen["state"] == "sampling" and quota["used"] == 1,
        f"the United States holds the request {ref}: {TEAM} inspectors, arrival "
        f"{seen['arrival']}; {quota['used']} of {quota['per_year']} visits this year used; "
        "the sample is drawn next",
    )
    _draw(story, network, ref, host="us", team="ru", records=DEVESELU)
    story.run("exercise", "advance", str(network.clock), "--by", "33h")
    _arrive_and_inspect(network, ref, host="us", team="ru", contents=DEVESELU)
    console.print(
        "  (Moving the clock 33 hours leaves the hourly link tests unheard for that span:\n"
        "  each node's watch raises link_test alarms until the next tests arrive.)"
    )
    closed = {p: _visit(network, p, ref) for p in ("us", "ru")}
    ours = closed["ru"]
    story.check(
        all(v["state"] == "closed" for v in closed.values())
        and not ours["findings"]
        and closed["us"]["report_sha256"] == ours["report_sha256"],
        f"cells {_items(DEVESELU, ours['sample'])} opened against the commitment and "
        f"found as declared, no cruise missile; both signed report "
        f"{ours['report_sha256'][:16]}…; visit closed",
    )
    _report_verifies(story, network, workdir, ref)
    _paired_visit(story, network)


def _request(network: _Network, team: str, kind: str, site: str) -> str:
    now = parse_time(network.api(team, "GET", "/v1/health")["exercise"]["time"])
    body = {
        "inspection_type": kind,
        "site": site,
        "arrival": format_time((now + NOTICE).replace(microsecond=0)),
        "team_size": TEAM,
    }
    sent = network.api(team, "POST", "/v1/inspections", json=body)
    network.wait_delivered((team, "us" if team == "ru" else "ru"))
    return str(sent["position"])


def _quota(network: _Network, party: str, kind: str) -> dict[str, Any]:
    quotas = network.api(party, "GET", "/v1/inspections")["quotas"]
    found: dict[str, Any] = next(q for q in quotas if q["inspection_type"] == kind)
    return found


def _visit(network: _Network, party: str, ref: str) -> dict[str, Any]:
    sender, seq = ref.split(":")
    visit: dict[str, Any] = network.api(party, "GET", f"/v1/inspections/{sender}/{seq}")
    return visit


def _step(network: _Network, party: str, ref: str, action: str, **body: Any) -> None:
    sender, seq = ref.split(":")
    network.api(party, "POST", f"/v1/inspections/{sender}/{seq}/{action}", json=body)
    network.wait_delivered(("us", "ru"))


def _draw(
    story: Story,
    network: _Network,
    ref: str,
    *,
    host: str,
    team: str,
    records: list[dict[str, str]],
) -> None:
    """Both commit, the host reveals, then the team; the sample is the same on both sides."""
    _step(network, host, ref, "commit")
    _step(network, team, ref, "commit")
    sender, seq = ref.split(":")
    early = network.client.post(
        f"{network.nodes[team].url}/v1/inspections/{sender}/{seq}/reveal",
        headers={"Authorization": f"Bearer {network.nodes[team].token}"},
        json={},
    )
    story.check(
        early.status_code == 422 and "reveals first" in early.text,
        "the inspectors may not reveal before the host: their node refuses before signing",
    )
    _step(network, host, ref, "reveal")
    _step(network, team, ref, "reveal")
    views = [_visit(network, p, ref) for p in (host, team)]
    story.check(
        views[0]["seed"] == views[1]["seed"] and views[0]["sample"] == views[1]["sample"],
        f"seed {views[0]['seed'][:16]}… = SHAKE-256(request, both values); both nodes draw "
        f"the same {len(views[0]['sample'])} of {views[0]['commitment']['size']} items: "
        f"{_items(records, views[0]['sample'])}",
    )


def _arrive_and_inspect(
    network: _Network, ref: str, *, host: str, team: str, contents: list[dict[str, str]]
) -> None:
    now = format_time(parse_time(network.api(team, "GET", "/v1/health")["exercise"]["time"]))
    _step(network, team, ref, "step", step="arrived", at=now)
    _step(network, host, ref, "step", step="at_site", at=now)
    _step(network, host, ref, "open")
    sample = _visit(network, team, ref)["sample"]
    observed = [
        {"index": i, "status": contents[i]["status"], "contents": contents[i]["contents"]}
        for i in sample
    ]
    _step(network, team, ref, "findings", observed=observed)
    _step(network, team, ref, "report")
    _step(network, host, ref, "report")


def _report_verifies(story: Story, network: _Network, workdir: Path, ref: str) -> None:
    """Russia writes the report file; it verifies offline, and an edited copy does not."""
    ru = network.nodes["ru"]
    report = workdir / "deveselu-visit.json"
    story.run(
        "inspection", "report", ref, "--out", str(report), "--dir", str(ru.directory), show=True
    )
    story.run(
        "inspection",
        "report",
        ref,
        "--out",
        str(workdir / "deveselu-visit.html"),
        "--format",
        "html",
        "--dir",
        str(ru.directory),
        show=False,
    )
    keys = ("--key", network.nodes["us"].verifier, "--key", ru.verifier)
    story.run("inspection", "verify", str(report), *keys)
    story.check(True, f"the report file verifies offline with the two public keys: {report}")
    edited = json.loads(report.read_text(encoding="utf-8"))
    edited["report"]["sample"] = list(reversed(edited["report"]["sample"]))
    forged = workdir / "deveselu-visit-edited.json"
    forged.write_text(json.dumps(edited), encoding="utf-8")
    refused = story.run("inspection", "verify", str(forged), *keys, expect=1, show=False)
    story.check(
        "error" in refused,
        "a copy with the sample reordered is refused: " + refused.strip().splitlines()[-1][:90],
    )


def _paired_visit(story: Story, network: _Network) -> None:
    """The Deveselu visit opened one US visit to a Russian site; it runs the same way."""
    console.print(
        "  The visit to Deveselu opened the United States' right to one visit to a Russian\n"
        "  ground-launched missile site of its choosing (the replies' reciprocity)."
    )
    ref = _request(network, "us", "missile-base-visit", RU_SITE)
    requested = _visit(network, "ru", ref)
    story.check(
        requested["uses_right"] and requested["state"] == "sampling",
        f"Russia holds the United States' request {ref}, using the right the Deveselu visit opened",
    )
    _draw(story, network, ref, host="ru", team="us", records=RU_LAUNCHERS)
    story.run("exercise", "advance", str(network.clock), "--by", "33h", show=False)
    _arrive_and_inspect(network, ref, host="ru", team="us", contents=RU_LAUNCHERS)
    story.run("inspection", "status", "--dir", str(network.nodes["us"].directory))
    listing = network.api("us", "GET", "/v1/inspections")["inspections"]
    states = {v["ref"]: v["state"] for v in listing}
    rights = _quota(network, "us", "missile-base-visit")
    story.check(
        states.get(ref) == "closed" and rights["left"] == 0,
        f"the paired visit {ref} is closed too; the right it used is spent "
        f"({rights['rights_used']} of {rights['rights_opened']} used)",
    )


def _items(records: list[dict[str, str]], sample: list[int]) -> str:
    """The first few sampled records by where they are."""
    shown = ", ".join(records[i]["location"] for i in sample[:5])
    return shown + (f" and {len(sample) - 5} more" if len(sample) > 5 else "")
