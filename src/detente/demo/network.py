"""The main job of ``make demo``: three party nodes and a witness exchanging on loopback.

The United States, NATO and Russia each run a node (``detente serve``) as a
separate process with SQLite in a temporary directory, under
``security-replies-2022``, and a neutral witness (an OSCE office) runs a
fourth that mirrors their headers, cosigns and gossips. The story
(``shared/scenario.md``): setting up and reading fingerprints aloud; first
traffic with receipts and mirrors; the witness's cosignatures settling
each party's messages under a 2-of-3 policy; a node going dark and
catching up, nothing lost and nothing twice; a party caught telling two
histories; a FLASH message on the emergency line; a transparency visit to
Deveselu and the paired visit to Russia, on an exercise clock
(:mod:`detente.demo.visit`); then every record verified, a tampered copy
caught, and a summary. Without ``--headless`` the nodes keep running with their URLs and
operator tokens shown until Ctrl-C.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.panel import Panel
from rich.table import Table

from detente.demo.approach import close_approach, configure_feed
from detente.demo.compliance import data_and_compliance
from detente.demo.papers import the_papers
from detente.demo.ports import free_port
from detente.demo.story import StepFailed, Story, console
from detente.demo.visit import transparency_visit
from detente.record.envelope import format_time, parse_time

__all__ = ["run"]

PARTIES = ("us", "nato", "ru")
WITNESS = "osce"
NODES = (*PARTIES, WITNESS)
NAMES = {
    "us": "United States",
    "nato": "NATO",
    "ru": "Russian Federation",
    "osce": "OSCE (witness)",
}
AGREEMENT = "security-replies-2022"
# Routine messages queued ahead of the FLASH message in "Emergency line".
BACKLOG = 5000
POLICY = "settled"
# The demo's console log-ins, on every node: two operators, so that a
# two-person release can be shown. Shown on screen; a demo, not a secret.
CONSOLE_OPERATORS = ("officer", "second")
CONSOLE_PASSWORD = "demo-watch-2022"  # noqa: S105


@dataclass
class _Node:
    party: str
    directory: Path
    port: int
    token: str = ""
    verifier: str = ""
    fingerprint: str = ""
    agreement_id: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start ``detente serve`` for this node without waiting for it."""
        log = (self.directory / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "detente.cli.app",
                "serve",
                "--dir",
                str(self.directory),
                "--port",
                str(self.port),
                "--retry-interval",
                "0.2",
                "--gossip-interval",
                "1",
            ],
            stdout=log,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()

    def wait_ready(self) -> None:
        """Wait until the launched node answers its health check."""
        if self.process is None:
            raise StepFailed(f"{self.party}'s node was not launched")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StepFailed(f"{self.party}'s node exited; see {self.directory}/serve.log")
            try:
                httpx.get(f"{self.url}/v1/health", timeout=0.5)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise StepFailed(f"{self.party}'s node did not answer on {self.url}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


class _Network:
    def __init__(self, workdir: Path) -> None:
        self.nodes = {p: _Node(p, workdir / p, free_port()) for p in NODES}
        # The exercise clock all four nodes share (node/exercise.py): moved
        # forward to let a visit's 32 hours' notice pass in seconds.
        self.clock = workdir / "exercise-clock.json"
        self.client = httpx.Client(timeout=10)
        self.first_message = 0  # the seq of the United States' first message
        self.ais_port = 0  # where the United States' node listens for AIS (chapter 6)

    def api(self, party: str, method: str, path: str, **kwargs: Any) -> Any:
        node = self.nodes[party]
        headers = {"Authorization": f"Bearer {node.token}"}
        response = self.client.request(method, f"{node.url}{path}", headers=headers, **kwargs)
        if response.status_code >= 400:
            raise StepFailed(f"{party} {method} {path}: {response.status_code} {response.text}")
        return response.json()

    def send(self, party: str, text: str, to: list[str]) -> dict[str, Any]:
        body = {"type": "message", "body": {"text": text}, "to": to}
        result: dict[str, Any] = self.api(party, "POST", "/v1/messages", json=body)
        return result

    def wait_delivered(self, parties: tuple[str, ...] = NODES, timeout: float = 30) -> bool:
        """Wait until every running sender has no backlog to any running peer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(
                peer["backlog"] == 0
                for party in parties
                for peer in self.api(party, "GET", "/v1/peers")["peers"]
                if peer["party"] in parties
            ):
                return True
            time.sleep(0.1)
        return False

    def close(self) -> None:
        for node in self.nodes.values():
            node.stop()
        self.client.close()


def run(*, headless: bool, keep: Path | None = None) -> int:
    """Tell the story; return 0 when every check held."""
    workdir = Path(tempfile.mkdtemp(prefix="detente-demo-")) if keep is None else keep
    if keep is not None and keep.exists() and any(keep.iterdir()):
        console.print(f"[red]error:[/] {keep} is not empty")
        return 2
    story = Story(headless=headless)
    network = _Network(workdir)
    try:
        _tell(story, network, workdir)
        console.print(Panel(f"All {story.checks} checks held.", title="Détente demo", expand=False))
        if not headless:
            _stay_up(network)
    except StepFailed as e:
        console.print(f"\n[bold red]demo step failed:[/] {e}")
        return 1
    finally:
        network.close()
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _tell(story: Story, network: _Network, workdir: Path) -> None:
    console.print(
        Panel(
            "Détente runs the 2022 package between three party nodes: the United States,\n"
            "NATO and Russia, each its own process with its own key and database, and a\n"
            "neutral witness, an OSCE office, that mirrors and cosigns what they send.",
            title="Détente: the demo",
            expand=False,
        )
    )
    _setting_up(story, network)
    _first_traffic(story, network)
    _the_witness(story, network)
    _going_dark(story, network)
    _someone_cheats(story, network, workdir)
    _emergency_line(story, network)
    close_approach(story, network, network.ais_port)
    transparency_visit(story, network, workdir)
    data_and_compliance(story, network, workdir)
    the_papers(story, network, workdir)
    _verify_everything(story, network, workdir)


def _setting_up(story: Story, network: _Network) -> None:
    story.chapter(
        "Setting up",
        "Each party creates its node and reads its key fingerprint aloud to the others;\n"
        "each adds the others as peers after comparing what it heard. The OSCE office\n"
        "creates a witness node: no party, no log of its own; every node adds it too.\n"
        "All four run on one exercise clock, which the story moves forward when it must\n"
        "let hours pass (a visit's notice); on a real network they keep the real time.",
    )
    for party, node in network.nodes.items():
        role = "--witness" if party == WITNESS else "--party"
        args = ["init", str(node.directory), role, party, "--agreement", AGREEMENT]
        args += ["--exercise-clock", str(network.clock)]
        created = story.run_json(*args, "--format", "json", show=party in ("us", WITNESS))
        node.verifier, node.fingerprint = created["verifier_key"], created["fingerprint"]
        node.agreement_id = created["agreement_id"]
    table = Table(title="fingerprints read aloud", title_justify="left")
    for column in ("party", "fingerprint", "agreement id"):
        table.add_column(column)
    for party, node in network.nodes.items():
        table.add_row(NAMES[party], node.fingerprint, node.agreement_id[:16] + "…")
    console.print(table)
    story.check(
        len({n.agreement_id for n in network.nodes.values()}) == 1,
        f"every node runs {AGREEMENT} with the same agreement id",
    )
    # The United States' node first, with its commands shown; the others,
    # which show nothing, each in its own thread (their own directories).
    _join(story, network, "us")
    with ThreadPoolExecutor(max_workers=3) as pool:
        for done in [pool.submit(_join, story, network, p) for p in NODES if p != "us"]:
            done.result()
    network.ais_port = configure_feed(network.nodes["us"].directory)
    for node in network.nodes.values():
        node.launch()
    for node in network.nodes.values():
        node.wait_ready()
    story.check(True, "four nodes answer: " + ", ".join(n.url for n in network.nodes.values()))


def _join(story: Story, network: _Network, party: str) -> None:
    """Add every other node as ``party``'s peer, its settlement policy, its operators."""
    node = network.nodes[party]
    first = party == "us"
    for other, peer in network.nodes.items():
        if other == party:
            continue
        story.run(
            "peer",
            "add",
            "--dir",
            str(node.directory),
            "--witness" if other == WITNESS else "--party",
            other,
            "--url",
            peer.url,
            "--key",
            peer.verifier,
            "--yes",
            show=first or (party == "us" and other == WITNESS),
        )
        first = False
    if party != WITNESS:
        _add_policy(node, show=party == "us")
    for name in CONSOLE_OPERATORS:
        token = story.run_json(
            "operator",
            "add",
            name,
            "--role",
            "operator",
            "--password",
            "--dir",
            str(node.directory),
            "--format",
            "json",
            stdin=CONSOLE_PASSWORD + "\n",
        )["token"]
        if name == CONSOLE_OPERATORS[0]:
            node.token = token


def _add_policy(node: _Node, *, show: bool) -> None:
    """A party settles a checkpoint once two of the others, witness included, cosign it."""
    cosigners = ", ".join(f'"{p}"' for p in (*PARTIES, WITNESS) if p != node.party)
    text = f'\n[[policies]]\nname = "{POLICY}"\nk = 2\ncosigners = [{cosigners}]\n'
    with (node.directory / "config.toml").open("a", encoding="utf-8") as config:
        config.write(text)
    if show:
        console.print(f"[dim]$[/] [cyan]cat >> {node.directory}/config.toml[/]")
        console.print(text.strip(), markup=False)


def _first_traffic(story: Story, network: _Network) -> None:
    story.chapter(
        "First traffic",
        "A free-text message from each party. Each node delivers its log to both peers;\n"
        "the body goes only to the addressees, and each peer answers with a receipt:\n"
        "its cosignature on the sender's checkpoint.",
    )
    proposal = network.send(
        "us", "Proposal: resume talks on a New START successor.", ["ru", "nato"]
    )
    network.send("nato", "Allies endorse the written reply.", ["us"])
    answer = network.send("ru", "We will study the replies and answer in writing.", ["us", "nato"])
    network.first_message = proposal["seq"]
    story.check(network.wait_delivered(), "every message is receipted by every peer")
    for party in NODES:
        peers = network.api(party, "GET", "/v1/peers")
        for peer in peers["peers"]:
            owner = network.api(peer["party"], "GET", "/v1/peers")["log_size"]
            if peer["mirrored_size"] != owner:
                raise StepFailed(
                    f"{party} mirrors {peer['party']}'s log at {peer['mirrored_size']}"
                )
    story.check(True, "every node mirrors every party's log")
    inbox = network.api("nato", "GET", "/v1/inbox")["messages"]
    expected = sorted([proposal["position"], answer["position"]])
    story.check(
        sorted(m["position"] for m in inbox if m["header"]["type"] == "message") == expected,
        f"NATO holds the bodies addressed to it ({', '.join(expected)}) and only headers of "
        "the rest (each node's first entry is its link test on the emergency line)",
    )


def _the_witness(story: Story, network: _Network) -> None:
    story.chapter(
        "A neutral witness",
        "The OSCE office's node mirrors every party's log of headers and cosigns each\n"
        "checkpoint, like a peer; it gets no body. Each party settles a message once two\n"
        "of the other three (the witness among them) have cosigned a checkpoint holding it.",
    )
    witness = network.nodes[WITNESS]
    mirrored = {
        p["party"]: p["mirrored_size"] for p in network.api(WITNESS, "GET", "/v1/peers")["peers"]
    }
    sizes = {party: network.api(party, "GET", "/v1/peers")["log_size"] for party in PARTIES}
    story.check(mirrored == sizes, f"the witness mirrors every party's log: {mirrored}")
    story.check(
        _count(witness.directory, "bodies") == 0,
        "the witness holds no message body, only the headers that commit to them",
    )
    refused = story.run(
        "log",
        "append",
        "--dir",
        str(witness.directory),
        "--type",
        "message",
        "--body",
        '{"text": "hello"}',
        expect=1,
    )
    story.check("witness" in refused, "the witness has no log of its own: it sends nothing")
    story.run("log", "status", "--dir", str(network.nodes["us"].directory))
    for party in PARTIES:
        outbox = network.api(party, "GET", "/v1/outbox")
        states = [m["peers"][WITNESS]["state"] for m in outbox["messages"]]
        if states != ["receipted"] * len(states):
            raise StepFailed(f"the witness has not receipted {party}'s messages: {states}")
        if not all(m["settled"][POLICY] for m in outbox["messages"]):
            raise StepFailed(f"{party}'s messages are not all settled: {outbox['policies']}")
    story.check(True, "the witness receipted every message; every party's messages are settled")


def _going_dark(story: Story, network: _Network) -> None:
    story.chapter(
        "A node goes dark",
        "Russia's node stops. The United States and NATO keep sending; their messages\n"
        "wait in their logs. Russia comes back and the backlog arrives, in order.",
    )
    network.nodes["ru"].stop()
    console.print("  Russia's node is stopped")
    for i in range(3):
        network.send("us", f"Notification {i + 1} while Russia is offline.", ["ru"])
        network.send("nato", f"NATO notice {i + 1} while Russia is offline.", ["ru", "us"])
    time.sleep(0.5)
    backlog = {p["party"]: p["backlog"] for p in network.api("us", "GET", "/v1/peers")["peers"]}
    story.check(
        backlog["ru"] == 3, f"the United States' backlog for Russia: {backlog['ru']} messages"
    )
    network.nodes["ru"].start()
    console.print("  Russia's node is back")
    story.check(network.wait_delivered(timeout=60), "the backlog arrives and is receipted")
    ru_peers = {p["party"]: p for p in network.api("ru", "GET", "/v1/peers")["peers"]}
    sizes = {p: network.api(p, "GET", "/v1/peers")["log_size"] for p in ("us", "nato")}
    story.check(
        ru_peers["us"]["mirrored_size"] == sizes["us"]
        and ru_peers["nato"]["mirrored_size"] == sizes["nato"],
        f"Russia mirrors every entry of each log ({sizes['us']} and {sizes['nato']}): "
        "nothing lost, nothing twice",
    )
    texts = [m["body"]["text"] for m in network.api("ru", "GET", "/v1/inbox")["messages"]]
    story.check(
        [t for t in texts if t.startswith("Notification")]
        == [f"Notification {i} while Russia is offline." for i in (3, 2, 1)],
        "Russia's inbox holds the United States' notifications in order",
    )


def _someone_cheats(story: Story, network: _Network, workdir: Path) -> None:
    story.chapter(
        "Someone cheats",
        "Russia's node is copied, and the two copies, holding the same key, tell the\n"
        "United States one history and NATO and the witness another. Each history on its\n"
        "own is valid. The nodes compare checkpoints (gossip) and catch it, with evidence\n"
        "anyone can check with Russia's public key alone.",
    )
    ru = network.nodes["ru"]
    ru.stop()
    fork = _Node("ru", workdir / "ru-fork", free_port(), token=ru.token)
    shutil.copytree(ru.directory, fork.directory)
    _only_peer(ru.directory, "us")
    _only_peer(fork.directory, "nato", WITNESS)

    ru.start()
    fork.start()
    network.nodes["ru-fork"] = fork
    console.print(
        "  two copies of Russia's node run: one talks to the United States, "
        "the other to NATO and the witness"
    )
    network.send("ru", "To the United States: the exercise is cancelled.", ["us"])
    network.send("ru-fork", "To NATO: the exercise goes ahead.", ["nato"])
    caught: dict[str, list[dict[str, Any]]] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(caught) < 3:
        for party in ("us", "nato", WITNESS):
            found = [
                a
                for a in network.api(party, "GET", "/v1/alarms")["alarms"]
                if a["kind"] == "equivocation"
            ]
            if found:
                caught[party] = found
        time.sleep(0.2)
    story.check(
        len(caught) == 3,
        "gossip raises an equivocation alarm on both honest nodes and on the witness",
    )
    evidence_file = workdir / "equivocation.json"
    evidence_file.write_text(json.dumps(caught["us"][0]["evidence"], indent=2))
    verified = story.run("evidence", "verify", str(evidence_file), "--key", ru.verifier)
    story.check("signed two histories" in verified, "the evidence verifies offline")
    deadline = time.monotonic() + 15
    misused: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not misused:
        misused = [
            a
            for a in network.api("ru", "GET", "/v1/alarms")["alarms"]
            if a["kind"] == "own_key_misused"
        ]
        time.sleep(0.2)
    story.check(
        bool(misused),
        "Russia's own node sees a checkpoint of its log it did not write: its key is misused",
    )
    fork.stop()
    del network.nodes["ru-fork"]


def _emergency_line(story: Story, network: _Network) -> None:
    story.chapter(
        "Emergency line",
        f"The United States queues {BACKLOG:,} routine data messages for NATO; every peer\n"
        "mirrors their headers, so Russia's copy of the log has them queued too. Then a\n"
        "watch officer sends Russia a FLASH message on the emergency line about aircraft\n"
        "approaching a ship in the Baltic, a standard phrase of the Incidents at Sea\n"
        "agreement filled in. It goes ahead of the backlog, with proofs of its place in\n"
        "the log; Russia receipts it at once, its officer reads it in English and Russian\n"
        "and acknowledges it within five minutes; the routine data follow in order.",
    )
    _queue_routine(network.nodes["us"].directory, BACKLOG)
    queued = {p["party"]: p["backlog"] for p in network.api("us", "GET", "/v1/peers")["peers"]}
    console.print(f"  routine messages queued at the United States' node, per peer: {queued}")
    flash = network.api(
        "us",
        "POST",
        "/v1/messages",
        json={
            "type": "line-message",
            "priority": "FLASH",
            "to": ["ru"],
            "body": {
                "template": "incsea-keep-clear",
                "fields": {"unit": "pair of Su-24", "ship": "USS Donald Cook", "distance": "30 m"},
                "text": "FLASH. 70 nm off Kaliningrad, Baltic Sea. Request they alter course "
                "at once.",
            },
        },
    )
    seq = flash["seq"]
    ref = f"us:{seq}"
    deadline = time.monotonic() + 20
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        message = next(
            m
            for m in network.api("us", "GET", "/v1/outbox?limit=5")["messages"]
            if m["position"] == ref
        )
        state = message["peers"]["ru"]
        if state["state"] == "receipted":
            break
        time.sleep(0.005)
    ru = next(p for p in network.api("us", "GET", "/v1/peers")["peers"] if p["party"] == "ru")
    behind = seq - ru["receipted_size"]
    story.check(
        state.get("state") == "receipted" and behind > 0,
        f"Russia receipted the FLASH message {ref} while {behind:,} routine messages before "
        "it were still on their way",
    )
    inbox = network.api("ru", "GET", "/v1/inbox?limit=5")["messages"]
    shown = next((m for m in inbox if m["position"] == ref), None)
    story.check(
        shown is not None and shown["received_at"] == state["receipted_at"],
        "Russia's inbox shows it, with the receipt's time as the time it was received",
    )
    _acknowledged(story, network, ref)
    story.check(
        network.wait_delivered(("us", "ru"), timeout=120),
        "the routine backlog follows in order and is receipted",
    )
    mirrored = next(
        p["mirrored_size"]
        for p in network.api("ru", "GET", "/v1/peers")["peers"]
        if p["party"] == "us"
    )
    size = network.api("us", "GET", "/v1/peers")["log_size"]
    story.check(
        mirrored == size,
        f"Russia's mirror of the United States' log filled the gap: {mirrored:,} entries, "
        "the FLASH message among them, checked against the proofs it came with",
    )
    _link_down(story, network)


def _acknowledged(story: Story, network: _Network, ref: str) -> None:
    """Russia's watch officer reads the FLASH message in both languages and acknowledges it."""
    line = network.api("ru", "GET", "/v1/hotline")
    owed = next((a for a in line["acknowledgements"] if a["ref"] == ref), None)
    if owed is None:
        raise StepFailed(f"Russia's line does not show {ref}")
    console.print(f"  [bold]{ref}[/] FLASH, as Russia's watch officer reads it:")
    for language in ("en", "ru"):
        console.print(f"    {language}: {owed['text'].get(language)}", markup=False)
    console.print(f"    to acknowledge by {owed['deadline']} ({owed['contact']})", markup=False)
    story.check(
        owed["state"] == "due" and bool(owed["text"].get("ru")),
        "the message is shown in English and Russian, with its 5-minute acknowledgement "
        "deadline counting from the receipt",
    )
    network.api("ru", "POST", "/v1/hotline/acknowledge", json={"ref": ref})
    seen: dict[str, Any] = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = network.api("us", "GET", "/v1/hotline")
        seen = next(a for a in line["acknowledgements"] if a["ref"] == ref)
        if seen["state"] != "due":
            break
        time.sleep(0.05)
    story.check(
        seen.get("state") == "acknowledged",
        f"Russia's officer acknowledged it at {seen.get('acknowledged_at')}, within the "
        "deadline: a signed line-ack of its own, not the node's receipt, sent at FLASH too",
    )


def _link_down(story: Story, network: _Network) -> None:
    """Russia's node goes dark; the United States' line shows when the link counts as down."""
    console.print(
        "  Each node sends a link test every hour; its receipt is the answer. Russia's node "
        "stops again."
    )
    network.nodes["ru"].stop()
    link = next(x for x in network.api("us", "GET", "/v1/hotline")["links"] if x["party"] == "ru")
    expected = parse_time(link["expected_by"])
    later = format_time(expected + timedelta(seconds=1))
    ahead = network.api("us", "GET", f"/v1/hotline?at={later}")
    judged = next(x for x in ahead["links"] if x["party"] == "ru")
    story.check(
        judged["state"] in ("missed", "down"),
        f"if nothing comes from Russia by {link['expected_by']}, the United States' line "
        f"counts the link {judged['state']} and its watch raises a link_test alarm "
        "(the demo looks ahead rather than wait an hour; the tests run the clock)",
    )
    network.nodes["ru"].start()
    story.check(
        network.wait_delivered(("us", "ru"), timeout=120), "Russia's node is back and receipts"
    )


def _queue_routine(directory: Path, count: int) -> None:
    """Append ``count`` routine messages to NATO to a running node's log, in batches."""
    from detente.node import open_node
    from detente.node.writer import Draft, LogWriter

    node = open_node(directory)
    try:
        writer = LogWriter(node)
        for start in range(0, count, 1000):
            writer.append(
                [
                    Draft(
                        type="message",
                        body={"text": f"Routine data, item {i + 1} of {count}."},
                        to=("nato",),
                    )
                    for i in range(start, min(count, start + 1000))
                ]
            )
    finally:
        node.close()


def _only_peer(directory: Path, *parties: str) -> None:
    """Make a node talk only to ``parties``: the other peers' addresses lead nowhere.

    Their keys stay, so the node can still verify what it holds of their logs.
    """
    from dataclasses import replace

    from detente.node import open_node

    node = open_node(directory)
    try:
        peers = tuple(
            p if p.party in parties else replace(p, url="http://127.0.0.1:9")
            for p in node.config.peers
        )
        node.save_config(replace(node.config, peers=peers))
    finally:
        node.close()


def _verify_everything(story: Story, network: _Network, workdir: Path) -> None:
    story.chapter(
        "Verify everything",
        "`detente verify` recomputes every node's record from its stored bytes: own log,\n"
        "mirrors, tree nodes, checkpoints and the peers' cosignatures (the receipts).",
    )
    for party, node in network.nodes.items():
        story.run("verify", "--dir", str(node.directory), show=party == "us")
    story.check(True, "every node's record verifies")
    copy = workdir / "us-tampered"
    copy.mkdir()
    shutil.copy2(network.nodes["us"].directory / "config.toml", copy / "config.toml")
    shutil.copy2(network.nodes["us"].directory / "node.key", copy / "node.key")
    with (
        sqlite3.connect(network.nodes["us"].directory / "detente.db") as source,
        sqlite3.connect(copy / "detente.db") as target,
    ):
        source.backup(target)
    with sqlite3.connect(copy / "detente.db") as db:
        seq = network.first_message
        (body,) = db.execute(
            "select body from bodies where party = 'us' and seq = ?", (seq,)
        ).fetchone()
        changed = bytes(body).replace(b"New START", b"New STARS")
        db.execute("update bodies set body = ? where party = 'us' and seq = ?", (changed, seq))
    caught = story.run("verify", "--dir", str(copy), expect=1)
    story.check(
        f"us:{seq}" in caught, f"a copy with one altered message is caught, naming us:{seq}"
    )
    story.check(
        all(_console_logs_in(node) for node in network.nodes.values()),
        f"every node's console lets {CONSOLE_OPERATORS[0]} log in and shows the overview",
    )
    _summary(network)


def _console_logs_in(node: _Node) -> bool:
    """Log in to ``node``'s console as the demo officer, as a browser would."""
    with httpx.Client(base_url=node.url, timeout=10) as client:
        page = client.get("/console/login")
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        login_csrf = page.cookies.get("detente_login_csrf")
        if found is None or login_csrf is None:
            return False
        # httpx keeps Secure cookies for https only; browsers also for loopback.
        answer = client.post(
            "/console/login",
            data={
                "csrf": found.group(1),
                "name": CONSOLE_OPERATORS[0],
                "password": CONSOLE_PASSWORD,
            },
            headers={"Cookie": f"detente_login_csrf={login_csrf}"},
        )
        session = answer.cookies.get(f"detente_session_{node.party}")
        if answer.status_code != 303 or session is None:
            return False
        overview = client.get(
            "/console/", headers={"Cookie": f"detente_session_{node.party}={session}"}
        )
        return overview.status_code == 200 and 'id="alarms"' in overview.text


def _summary(network: _Network) -> None:
    table = Table(title="summary", title_justify="left")
    columns = (
        "node",
        "own log",
        "mirrors",
        "delivered to",
        "receipted by",
        "settled",
        "refused",
        "alarms",
    )
    for column in columns:
        table.add_column(column)
    for party in NODES:
        peers = network.api(party, "GET", "/v1/peers")
        own = network.api(party, "GET", "/v1/settlement")["logs"]
        settled = [
            p["settled_size"] for log in own if log["party"] == party for p in log["policies"]
        ]
        parties = [p for p in peers["peers"] if p["party"] != WITNESS]
        witness = party == WITNESS
        table.add_row(
            NAMES[party],
            "—" if witness else str(peers["log_size"]),
            ", ".join(f"{p['party']} {p['mirrored_size']}" for p in parties),
            "—"
            if witness
            else ", ".join(f"{p['party']} {p['delivered_size']}" for p in peers["peers"]),
            "—"
            if witness
            else ", ".join(f"{p['party']} {p['receipted_size']}" for p in peers["peers"]),
            "—" if witness else f"{settled[0] if settled else 0} of {peers['log_size']}",
            str(_count(network.nodes[party].directory, "audit_trail")),
            _kinds(network.api(party, "GET", "/v1/alarms")["alarms"]),
        )
    console.print(table)


def _kinds(alarms: list[dict[str, Any]]) -> str:
    counts = Counter(a["kind"] for a in alarms)
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "none"


def _count(directory: Path, table: str) -> int:
    with sqlite3.connect(directory / "detente.db") as db:
        (count,) = db.execute(f"select count(*) from {table}").fetchone()  # noqa: S608
    return int(count)


def _stay_up(network: _Network) -> None:
    lines = [f"{n.party:5} {n.url}/console/   API token {n.token}" for n in network.nodes.values()]
    console.print(
        Panel(
            "\n".join(lines)
            + f"\n\nConsole log-in: {' or '.join(CONSOLE_OPERATORS)}, password {CONSOLE_PASSWORD}"
            + "\nAPI: curl -H 'Authorization: Bearer TOKEN' URL/v1/peers"
            + "\nThe nodes stay up until Ctrl-C.",
            title="consoles running",
            expand=False,
        )
    )
    with _interrupt() as stopped:
        while not stopped():
            time.sleep(0.5)
    console.print("stopping the nodes…")


@contextmanager
def _interrupt() -> Iterator[Any]:
    flag = {"stop": False}

    def handler(_signum: int, _frame: object) -> None:
        flag["stop"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: flag["stop"]
    finally:
        signal.signal(signal.SIGINT, previous)
