"""Parties' logs made without a node, for the compliance report's tests: signed entries,
checkpoints and cosignatures, as :class:`~detente.record.log_bundle.LogBundle`."""

from datetime import UTC, date, datetime

from detente.agreement import builtin_agreement
from detente.crypto.canonical import canonical_json
from detente.crypto.keys import SigningKey
from detente.measures.compliance_report import FORMAT, Period, compile_report
from detente.record.checkpoint import Checkpoint, cosign, origin_for
from detente.record.envelope import ZERO_HASH, format_time, seal
from detente.record.log_bundle import LogBundle
from detente.record.merkle import MerkleTree

PERIOD = Period(date(2021, 1, 1), date(2021, 6, 30))
NEW_START = builtin_agreement("new-start")
KEYS = {p: SigningKey.generate(origin_for(NEW_START.id, p)) for p in ("us", "ru")}
COUNTS = {
    "deployed_icbms": 400,
    "deployed_slbms": 220,
    "deployed_heavy_bombers": 31,
    "warheads_on_deployed_icbms_and_slbms": 1320,
    "nondeployed_icbm_launchers": 54,
    "nondeployed_slbm_launchers": 60,
    "nondeployed_heavy_bombers": 35,
}


def moment(day, hour=12):
    return datetime(2021, *day, hour, tzinfo=UTC)


def bundle(party, drafts, cosigned, *, bodies=None):
    """``party``'s log of ``drafts`` ``(type, body, to, refs, created)``, cosigned
    ``(cosigner, size, when)``; every body carried unless ``bodies`` says which."""
    envelopes, prev = [], ZERO_HASH
    for seq, (type_, body, to, refs, created) in enumerate(drafts):
        envelope = seal(
            key=KEYS[party],
            agreement=NEW_START.id,
            sender=party,
            seq=seq,
            prev=prev,
            created=format_time(created),
            type=type_,
            body=canonical_json(body),
            to=to,
            refs=refs,
        )
        envelopes.append(envelope)
        prev = envelope.leaf_hash.hex()
    tree = MerkleTree.from_leaf_hashes([e.leaf_hash for e in envelopes])
    origin = origin_for(NEW_START.id, party)
    signed = Checkpoint(origin, len(envelopes), tree.root()).sign(KEYS[party])
    stamps = tuple(
        (
            cosigner,
            size,
            cosign(
                Checkpoint(origin, size, tree.root(size)),
                KEYS[cosigner],
                timestamp=int(when.timestamp()),
            ),
        )
        for cosigner, size, when in cosigned
    )
    carried = range(len(drafts)) if bodies is None else bodies
    return LogBundle(
        party=party,
        checkpoint=signed,
        envelopes=tuple(envelopes),
        bodies={i: canonical_json(drafts[i][1]) for i in carried},
        cosignatures=stamps,
    )


def declaration(as_of, to, created, counts=COUNTS):
    return ("aggregate_data", {"as_of": as_of, "counts": counts}, to, (), created)


def sample_logs():
    """New START logs: the United States declares on time and Russia receives it at once;
    Russia declares on 20 March and the United States receives it only on 5 April, after
    the deadline; Russia disputes the US launchers."""
    us = bundle(
        "us",
        [declaration("2021-03-01", ("ru",), moment((3, 10)))],
        [("ru", 1, moment((3, 10)))],
    )
    dispute = (
        "declaration_dispute",
        {"text": "converted launchers still count", "counts": {"nondeployed_slbm_launchers": 116}},
        ("us",),
        ("us:0",),
        moment((3, 21)),
    )
    ru = bundle(
        "ru",
        [declaration("2021-03-01", ("us",), moment((3, 20))), dispute],
        [("us", 2, moment((4, 5)))],
    )
    return {"us": us, "ru": ru}


def report_file(logs, at, period=PERIOD):
    """The report file ``us``'s node builds from ``logs`` at ``at``."""
    report = compile_report(NEW_START, logs, by="us", period=period, at=at)
    return {
        "v": 1,
        "format": FORMAT,
        "report": report,
        "logs": {p: None if b is None else b.to_json() for p, b in logs.items()},
    }
