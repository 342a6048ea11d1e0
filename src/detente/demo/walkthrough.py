"""The single-node walk-through that ``make demo`` runs until the multi-node demo exists.

It tells the first part of the story in ``shared/scenario.md`` on one node:
the United States' node under ``security-replies-2022`` signs a few
messages into its log, publishes a checkpoint, proves an entry's inclusion
and the log's consistency, has the checkpoint cosigned, and then shows that
a tampered copy of its data, and even a log rewritten and re-signed with its
own key, is caught by ``detente verify``.

Every step runs the real ``detente`` command or the public API and checks
its outcome; ``--headless`` skips the pauses and exits non-zero on the first
step that does not come out as it should.
"""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.panel import Panel
from sqlalchemy import delete

from detente.crypto.keys import SigningKey
from detente.demo.story import StepFailed, Story, console
from detente.errors import VerificationError
from detente.node import Node, open_node
from detente.node.cosignatures import record_cosignature, trust_cosigner
from detente.node.writer import Draft, LogWriter
from detente.record.checkpoint import SignedCheckpoint, cosign
from detente.record.envelope import Envelope
from detente.record.merkle import leaf_hash, verify_consistency, verify_inclusion
from detente.store.logs import LogStore
from detente.store.schema import bodies, checkpoints, entries, tree_nodes
from detente.store.tree import StoredTree

__all__ = ["rewrite_history", "run"]

_console = console


def run(*, headless: bool, keep: Path | None = None) -> int:
    """Tell the story; return 0 when every step came out as it should."""
    workdir = Path(tempfile.mkdtemp(prefix="detente-demo-")) if keep is None else keep
    if keep is not None and keep.exists() and any(keep.iterdir()):
        _console.print(f"[red]error:[/] {keep} is not empty")
        return 2
    story = Story(headless=headless)
    try:
        _tell(story, workdir)
    except StepFailed as e:
        _console.print(f"\n[bold red]demo step failed:[/] {e}")
        return 1
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    _console.print()
    _console.print(
        Panel(
            f"All {story.steps} steps held. Next: `make test` runs the whole suite.",
            title="Détente walk-through",
            expand=False,
        )
    )
    return 0


def _tell(story: Story, workdir: Path) -> None:
    us = workdir / "us"
    _console.print(
        Panel(
            "Détente keeps the record of an arms-control agreement that no side can quietly\n"
            "rewrite. This walk-through runs one node, the United States', under the\n"
            "package of the January 2022 US and NATO replies (security-replies-2022).",
            title="Détente: the record",
            expand=False,
        )
    )

    story.chapter(
        "Setting up",
        "The United States creates its node: configuration, an Ed25519 key readable only\n"
        "by its owner, and a SQLite database. The fingerprint is what its watch officer\n"
        "reads aloud to the other parties.",
    )
    story.run("init", str(us), "--party", "us", "--agreement", "security-replies-2022")
    story.check((us / "node.key").stat().st_mode & 0o777 == 0o600, "the key file is mode 0600")
    story.run("keys", "show", "--dir", str(us))

    story.chapter(
        "Signed messages",
        "Each message is an envelope: a header naming the agreement, sender, sequence\n"
        "number and the hash of the previous entry, signed, and appended to the log.",
    )
    texts = [
        ("ru", "Proposal: resume talks on a New START successor."),
        ("nato", "Copy of the written reply, for allies."),
        ("ru", "Offer: transparency visits at Deveselu and Redzikowo, reciprocated."),
        ("ru", "Request: establish an emergency contact line for incidents in air and at sea."),
    ]
    for recipient, text in texts:
        body = '{"text": "' + text + '"}'
        story.run(
            "log",
            "append",
            "--dir",
            str(us),
            "--type",
            "message",
            "--to",
            recipient,
            "--body",
            body,
            show=True,
        )
    story.run("log", "show", "--dir", str(us))
    refused = story.run(
        "log", "append", "--dir", str(us), "--type", "no_such_type", "--body", "{}", expect=1
    )
    story.check("no_such_type" in refused, "a type the agreement does not define is refused")

    story.chapter(
        "The checkpoint",
        "The log's state is a C2SP signed note: origin, size and RFC 9162 root hash.",
    )
    note = story.run("log", "checkpoint", "--dir", str(us))
    signed = SignedCheckpoint.from_text(note)
    story.check(signed.checkpoint.size == len(texts), f"the checkpoint covers {len(texts)} entries")

    node = open_node(us)
    try:
        _proofs(story, node, signed)
        _cosign(story, node, signed)
    finally:
        node.close()
    story.run("verify", "--dir", str(us))

    _tamper(story, workdir, us)


def _proofs(story: Story, node: Node, signed: SignedCheckpoint) -> None:
    story.chapter(
        "Proofs anyone can check",
        "An inclusion proof shows an entry is in the log at the checkpoint; a consistency\n"
        "proof shows a newer checkpoint extends an older one, so history was not rewritten.",
    )
    size = signed.checkpoint.size
    with node.database.engine.connect() as conn:
        tree = StoredTree(conn, node.party)
        leaf = LogStore(conn, node.party).leaf(2) or b""
        proof = tree.inclusion_proof(2, size)
        old_root = tree.root(2)
        consistency = tree.consistency_proof(2, size)
    included = _holds(
        lambda: verify_inclusion(leaf_hash(leaf), 2, size, proof, signed.checkpoint.root)
    )
    _console.print(
        "  inclusion of us:2 in size "
        f"{size}: {[base64.b64encode(h).decode()[:12] + '…' for h in proof]}"
    )
    story.check(included, "entry us:2 is included in the signed checkpoint")
    consistent = _holds(
        lambda: verify_consistency(2, size, consistency, old_root, signed.checkpoint.root)
    )
    story.check(consistent, f"the log at size {size} is consistent with the log at size 2")


def _holds(check: Callable[[], None]) -> bool:
    try:
        check()
    except VerificationError:
        return False
    return True


def _cosign(story: Story, node: Node, signed: SignedCheckpoint) -> None:
    story.chapter(
        "A cosignature",
        "A neutral witness (an OSCE office, say) verifies the checkpoint and cosigns it\n"
        "(C2SP tlog-cosignature). The node keeps the cosignature beside its checkpoint.",
    )
    witness = SigningKey.generate("osce.witness")
    trust_cosigner(node, witness.verifier)
    cosignature = cosign(signed.checkpoint, witness, timestamp=int(datetime.now(UTC).timestamp()))
    record_cosignature(node, party=node.party, size=signed.checkpoint.size, cosignature=cosignature)
    _console.print(f"  {cosignature.to_line()}")
    with node.database.engine.connect() as conn:
        stored = LogStore(conn, node.party).cosignatures()
    story.check(
        [c.line for c in stored] == [cosignature.to_line()],
        "the witness's cosignature verifies and is stored",
    )


def _tamper(story: Story, workdir: Path, us: Path) -> None:
    story.chapter(
        "A tampered copy",
        "A copy of the node's data has one byte of a stored message body changed.\n"
        "`detente verify` recomputes everything from the stored bytes and names the place.",
    )
    copy = workdir / "us-tampered"
    shutil.copytree(us, copy)
    with sqlite3.connect(copy / "detente.db") as db:
        (body,) = db.execute("select body from bodies where party='us' and seq=1").fetchone()
        changed = bytes(body).replace(b"allies", b"alliez")
        db.execute("update bodies set body=? where party='us' and seq=1", (changed,))
    caught = story.run("verify", "--dir", str(copy), expect=1)
    story.check("us:1" in caught and "body" in caught, "the altered body of us:1 is caught")

    story.chapter(
        "A log rewritten with its own key",
        "Worse: someone holding the node's own key rewrites message us:1, re-signs the\n"
        "envelope, rebuilds the tree and re-signs every checkpoint. Every signature is\n"
        "valid, but the witness's cosignature was given to the old history.",
    )
    rewritten = workdir / "us-rewritten"
    shutil.copytree(us, rewritten)
    node = open_node(rewritten)
    try:
        rewrite_history(node)
    finally:
        node.close()
    caught = story.run("verify", "--dir", str(rewritten), expect=1)
    story.check(
        "cosignature by osce.witness" in caught,
        "the rewrite is caught by the cosignature others gave the log",
    )


def rewrite_history(node: Node) -> None:
    """Replace entry 1 with another message and re-sign everything from there on.

    This is what an insider holding the node key could do to its own store;
    the demo and the tests use it to show that cosignatures catch it.
    """
    with node.database.engine.begin() as conn:
        log = LogStore(conn, node.party)
        drafts = []
        for batch in log.iter_entries(1):
            for row in batch:
                header = Envelope.from_leaf(row.leaf).header
                body = json.loads(row.body or b"{}")
                if header.seq == 1:
                    body = {"text": "No copy was sent to allies."}
                drafts.append(Draft(type=header.type, body=body, to=header.to))
        first = log.leaf(0)
        if first is None:
            raise StepFailed("the log to rewrite is empty")
        for table in (entries, bodies):
            conn.execute(delete(table).where(table.c.party == node.party, table.c.seq >= 1))
        conn.execute(delete(tree_nodes).where(tree_nodes.c.party == node.party))
        conn.execute(delete(checkpoints).where(checkpoints.c.party == node.party))
        StoredTree(conn, node.party).append([leaf_hash(first)])
    LogWriter(node).append(drafts)
