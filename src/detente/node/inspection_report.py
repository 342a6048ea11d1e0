"""The inspection report file of a visit, from what a node stores.

:func:`build_report_file` gathers the report the logs give
(:meth:`~detente.measures.inspections.Inspection.report`) and every entry it
rests on, each with its leaf, its body and an RFC 9162 inclusion proof
against the newest signed checkpoint this node holds of its party's log, in
the format :func:`~detente.measures.inspection_report.verify_report` checks
offline.

Example:
    >>> import tempfile, pathlib
    >>> from detente.node import init_node
    >>> node = init_node(pathlib.Path(tempfile.mkdtemp()) / "ru", party="ru",
    ...                  agreement_ref="security-replies-2022")
    >>> build_report_file(node, "ru:9")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    detente.errors.NotFoundError: ru:9: no inspection request held here
    >>> node.close()
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from detente.agreement import builtin_names
from detente.crypto.canonical import canonical_json
from detente.errors import ConflictError, InputError
from detente.measures.inspection_report import FORMAT, report_roles
from detente.measures.inspections import Inspection
from detente.node.directory import Node
from detente.node.inspections import find_visit
from detente.record.envelope import Envelope
from detente.store.logs import LogStore
from detente.store.tree import StoredTree

__all__ = ["build_report_file"]


def build_report_file(node: Node, ref: str) -> dict[str, Any]:
    """The self-contained report file of the visit requested by ``ref``.

    Raises:
        NotFoundError: no request ``ref`` is held here.
        ConflictError: the visit has no report signed by both sides yet.
        InputError: an entry it rests on is not yet in a checkpoint held here.
    """
    visit = find_visit(node, ref)
    report = visit.report()
    digest = visit.report_sha256()
    if report is None or digest is None or visit.state != "closed":
        raise ConflictError(
            f"{visit.ref}: no report signed by both sides yet (state {visit.state})"
        )
    positions = _positions(node, visit, digest)
    kind = node.agreement.inspection_types[visit.inspection_type]
    reference = node.config.agreement
    out: dict[str, Any] = {
        "v": 1,
        "format": FORMAT,
        "agreement": {
            "id": node.agreement.id,
            "name": reference if reference in builtin_names() else None,
            "title": node.agreement.title,
            "sample_plan": kind.sample.model_dump(mode="json"),
        },
        "report": report,
        "report_sha256": hashlib.sha256(canonical_json(report)).hexdigest(),
        "checkpoints": {},
        "entries": [],
    }
    sizes: dict[str, int] = {}
    with node.database.engine.connect() as conn:
        for party in (visit.host, visit.inspecting):
            held = LogStore(conn, party).checkpoint()
            if held is None:
                raise InputError(f"no checkpoint of {party}'s log is held here")
            sizes[party], out["checkpoints"][party] = held
        for role, position in positions.items():
            party, seq_text = position.split(":")
            seq = int(seq_text)
            log = LogStore(conn, party)
            size = sizes[party]
            leaf, body = log.leaf(seq), log.body(seq)
            if leaf is None or body is None:
                raise InputError(f"{position} ({role}): its leaf or body is not held here")
            if seq >= size:
                raise InputError(
                    f"{position} ({role}): not yet in {party}'s newest checkpoint held here"
                )
            out["entries"].append(
                {
                    "role": role,
                    "position": position,
                    "type": Envelope.from_leaf(leaf).header.type,
                    "leaf": base64.b64encode(leaf).decode(),
                    "body": base64.b64encode(body).decode(),
                    "proof": [
                        base64.b64encode(h).decode()
                        for h in StoredTree(conn, party).inclusion_proof(seq, size)
                    ],
                }
            )
    return out


def _positions(node: Node, visit: Inspection, digest: str) -> dict[str, str]:
    """Which entry plays each role: the ones the fold counted."""
    roles = report_roles(visit.host, visit.inspecting)
    found: dict[str, str] = {"commitment": str(visit.commitment_ref), "request": visit.ref}
    for party, ref in visit.reveal_refs.items():
        found[f"reveal:{party}"] = ref
    found["opening"] = str(visit.opening_ref)
    found["findings"] = str(visit.observed_ref)
    with node.database.engine.connect() as conn:
        for ref in visit.entries:
            party, seq = ref.split(":")
            leaf = LogStore(conn, party).leaf(int(seq))
            if leaf is None:
                continue
            header = Envelope.from_leaf(leaf).header
            if header.type == "sample-commit":
                found.setdefault(f"commit:{party}", ref)
            elif header.type == "inspection-report":
                body = LogStore(conn, party).body(int(seq)) or b""
                if digest.encode() in body:
                    found[f"report:{party}"] = ref
    missing = [r for r in roles if r not in found]
    if missing:
        raise InputError(f"{visit.ref}: no entry held for {', '.join(missing)}")
    return {role: found[role] for role in roles}
