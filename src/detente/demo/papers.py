"""The demo's chapter "The papers": a signed reply, copies traced, proposals compared.

The United States issues its written reply (an illustrative text in
``examples/documents``) to NATO and to Russia: each copy is its
recipient's own, signed into the United States' log. Russia saves its copy
with its proof; the copy checks out offline with the public keys alone,
and a doctored one is refused. The copy then turns up on a website; at the
United States' node, ``docs trace`` names Russia's copy, with NATO's as
the runner-up. Last, Russia's December 2021 drafts and the replies are
compared clause by clause (``agreement diff``).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING

from detente.demo.story import StepFailed, Story, console

if TYPE_CHECKING:
    from detente.demo.network import _Network

__all__ = ["the_papers"]

TITLE = "Reply of the United States to the proposals on security guarantees"


def _reply_text() -> Path:
    here = Path(__file__).resolve().parents[3] / "examples" / "documents" / "us-reply-2022.md"
    if here.exists():
        return here
    raise StepFailed(f"the demo's reply text is missing: {here}")


def the_papers(story: Story, network: _Network, workdir: Path) -> None:
    """Chapter: the reply issued, a copy checked offline and traced, the drafts compared."""
    story.chapter(
        "The papers",
        "The United States issues its written reply to NATO and to Russia. Each copy is\n"
        "its recipient's own: small changes that keep the meaning (a word, a comma, a\n"
        "space), chosen by a key only the United States holds, signed into its log with\n"
        "the copy's SHA-256. Russia's copy checks out offline with the public keys alone;\n"
        "a doctored one is refused. When a copy turns up on a website, the United States\n"
        "names whose it was. Then the December 2021 drafts and the replies, clause by\n"
        "clause.",
    )
    us, ru = network.nodes["us"], network.nodes["ru"]
    issued = story.run_json(
        "docs",
        "issue",
        str(_reply_text()),
        "--title",
        TITLE,
        "--marking",
        "CONFIDENTIAL",
        "--to",
        "nato,ru",
        "--dir",
        str(us.directory),
        "--format",
        "json",
        show=True,
    )
    refs = {c["recipient"]: c["ref"] for c in issued["copies"]}
    if not network.wait_delivered(("us", "ru"), timeout=30):
        raise StepFailed("the copies did not reach Russia")
    out_dir = workdir / "papers"
    saved = story.run(
        "docs",
        "save",
        refs["ru"],
        "--out",
        str(out_dir / "ru"),
        "--dir",
        str(ru.directory),
        show=True,
    ).split()
    copy, proof = Path(saved[0]), Path(saved[1])
    keys = out_dir / "keys.txt"
    keys.write_text("".join(f"{n.verifier}\n" for p, n in network.nodes.items() if p != "osce"))
    output = story.run("docs", "verify", str(copy), "--keys", str(keys), show=True)
    story.check(
        output.startswith("OK") and "us's copy for ru" in output,
        "Russia's copy verifies offline: issued by the United States, unaltered, and when "
        "Russia received it",
    )
    us_copies = {
        d["recipient"]: d
        for d in story.run_json("docs", "list", "--dir", str(us.directory), "--format", "json")
        if d["document_id"] == issued["document_id"]
    }
    story.check(
        us_copies["ru"]["sha256"] != us_copies["nato"]["sha256"],
        "NATO's and Russia's copies differ (their SHA-256s): "
        + ", ".join(f"{p} {d['sha256'][:12]}…" for p, d in sorted(us_copies.items())),
    )
    nato_dir = out_dir / "us-side"
    nato_copy = Path(
        story.run(
            "docs", "save", refs["nato"], "--out", str(nato_dir), "--dir", str(us.directory)
        ).split()[0]
    )
    changed = [
        line
        for line in difflib.unified_diff(
            nato_copy.read_text(encoding="utf-8").splitlines(),
            copy.read_text(encoding="utf-8").splitlines(),
            "nato",
            "ru",
            lineterm="",
            n=0,
        )
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    console.print("  where NATO's copy (-) and Russia's (+) differ, the first lines:")
    for line in changed[:6]:
        console.print(f"    {line}", markup=False)
    doctored = out_dir / "doctored.md"
    doctored.write_text(
        copy.read_text(encoding="utf-8").replace("two ground-launched", "three ground-launched")
    )
    refused = story.run(
        "docs",
        "verify",
        str(doctored),
        "--keys",
        str(keys),
        "--proof",
        str(proof),
        expect=1,
        show=True,
    )
    story.check(
        "NOT verified" in refused and "SHA-256" in refused,
        "a copy with one word changed is refused, with the reason",
    )
    # The copy turns up on a website: pasted from the page, its heading dropped.
    leak = out_dir / "leaked.txt"
    leak.write_text(copy.read_text(encoding="utf-8").split("\n", 2)[2], encoding="utf-8")
    traced = story.run_json(
        "docs", "trace", str(leak), "--dir", str(us.directory), "--format", "json"
    )
    story.run("docs", "trace", str(leak), "--dir", str(us.directory), show=True)
    best = traced["best"]
    named = best["candidates"][0] if best["candidates"] else {"agree": 0}
    story.check(
        best["verdict"] == "attributed" and best["recipient"] == "ru",
        f"the leaked copy is traced to Russia's ({named['agree']} of {best['observed']} "
        "places agree with it; NATO's copy is the runner-up)",
    )
    diff = story.run_json(
        "agreement", "diff", "russia-draft-2021", "security-replies-2022", "--format", "json"
    )
    story.run("agreement", "diff", "russia-draft-2021", "security-replies-2022", show=True)
    clauses = diff["clauses"]
    story.check(
        bool(clauses["zone_constraints"]["only_a"]) and bool(clauses["inspection_types"]["only_b"]),
        "the negotiation view: the drafts' zones and constraints only in the drafts, the "
        "transparency visits only in the replies",
    )
