"""Running a visit from a node: each step a signed message appended to its log.

The CLI and the API share these actions, and every message they send is
checked before it is signed (:func:`detente.node.inspections.check_inspection_drafts`).

Two kinds of secret stay on the node, in files readable by their owner
only, never in the log:

- ``inventories/<site>-<root>.json``: a committed inventory, every record
  with its salt (:func:`~detente.record.inventory_file.save_commitment`);
  the host opens the sampled records from it.
- ``samples/<party>-<seq>.value``: this side's random value for the
  request ``party:seq``, written *before* its commitment is sent, so that
  a crash between the two never leaves a commitment nobody can open.

Example:
    >>> import tempfile, pathlib
    >>> from detente.node import init_node
    >>> from detente.record.inventory import ItemRecord
    >>> node = init_node(pathlib.Path(tempfile.mkdtemp()) / "us", party="us",
    ...                  agreement_ref="security-replies-2022")
    >>> result = commit_inventory(node, "deveselu",
    ...     [ItemRecord("dev-01", "cell 01", "loaded", "SM-3 Block IIA")])
    >>> result.envelopes[0].header.type
    'inventory-commitment'
    >>> node.close()
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from detente.crypto.files import create_private_file
from detente.errors import BodyError, ConflictError, KeyFileError, NotFoundError
from detente.measures.inspections import Inspection
from detente.measures.sampling import commit_value
from detente.node.directory import Node
from detente.node.inspections import find_visit
from detente.node.writer import AppendResult, Draft, LogWriter
from detente.record.envelope import format_time
from detente.record.inventory import Commitment, ItemRecord, commit
from detente.record.inventory_file import load_commitment, save_commitment

__all__ = [
    "cancel_visit",
    "commit_inventory",
    "commit_sample",
    "delay_visit",
    "inventory_path",
    "open_sample",
    "record_findings",
    "record_step",
    "refuse_visit",
    "request_visit",
    "reveal_sample",
    "sample_value_path",
    "sign_report",
]

Idempotency = tuple[str, str] | None


def inventory_path(node: Node, site: str, root: bytes) -> Path:
    """Where the secret of the inventory committed for ``site`` under ``root`` is kept."""
    return node.directory / "inventories" / f"{site}-{root.hex()}.json"


def sample_value_path(node: Node, ref: str) -> Path:
    """Where this side's random value for the request ``ref`` is kept."""
    party, _, seq = ref.partition(":")
    return node.directory / "samples" / f"{party}-{seq}.value"


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def _append(node: Node, draft: Draft, idempotency: Idempotency = None) -> AppendResult:
    return LogWriter(node).append([draft], idempotency=idempotency)


def _answer(
    node: Node,
    visit: Inspection,
    type_: str,
    body: Mapping[str, Any],
    idempotency: Idempotency,
) -> AppendResult:
    other = visit.host if node.party == visit.inspecting else visit.inspecting
    draft = Draft(type=type_, body=body, to=(other,), refs=(visit.ref,), exercise=visit.exercise)
    return _append(node, draft, idempotency)


def commit_inventory(
    node: Node,
    site: str,
    records: Sequence[ItemRecord],
    *,
    idempotency: Idempotency = None,
) -> AppendResult:
    """Commit to ``site``'s inventory: keep the secret (0600), publish the root.

    Raises:
        InputError: no records, or a record that is not valid.
        KeyFileError: the secret cannot be written; nothing is published.
    """
    kept: Commitment = commit(records, site=site)
    path = inventory_path(node, site, kept.root)
    _private_dir(path.parent)
    if not path.exists():
        save_commitment(path, kept)
    others = tuple(sorted(node.agreement.party_ids() - {node.party}))
    draft = Draft(type="inventory-commitment", body=kept.published.to_json(), to=others)
    return _append(node, draft, idempotency)


def request_visit(
    node: Node,
    inspection_type: str,
    site: str,
    arrival: datetime,
    team_size: int,
    *,
    exercise: bool = False,
    idempotency: Idempotency = None,
) -> AppendResult:
    """Ask for a visit; refused before signing if the fold would reject it.

    Raises:
        BodyError: the request does not fit its type (the field named).
        ConflictError: beyond the quota, with its state.
    """
    body = {
        "inspection_type": inspection_type,
        "site": site,
        "arrival": format_time(arrival),
        "team_size": team_size,
    }
    draft = Draft(type="inspection-request", body=body, exercise=exercise)
    return _append(node, draft, idempotency)


def commit_sample(node: Node, ref: str, *, idempotency: Idempotency = None) -> AppendResult:
    """Draw this side's random value for ``ref``, keep it (0600), send its commitment."""
    visit = find_visit(node, ref)
    path = sample_value_path(node, ref)
    if path.exists():
        # Kept by an attempt whose append failed: never revealed, so still good.
        value = _read_value(path)
    else:
        value = secrets.token_bytes(32)
        _write_secret(path, value.hex())
    digest = commit_value(value, inspection_id=ref, party=node.party)
    return _answer(node, visit, "sample-commit", {"commitment": digest.hex()}, idempotency)


def reveal_sample(node: Node, ref: str, *, idempotency: Idempotency = None) -> AppendResult:
    """Send this side's value for ``ref`` (the host first; checked before signing).

    Raises:
        NotFoundError: this node keeps no value for ``ref``.
    """
    visit = find_visit(node, ref)
    path = sample_value_path(node, ref)
    if not path.exists():
        raise NotFoundError(f"{ref}: no sample value kept here (was it committed from here?)")
    body = {"value": _read_value(path).hex()}
    return _answer(node, visit, "sample-reveal", body, idempotency)


def record_step(
    node: Node, ref: str, step: str, at: datetime, *, idempotency: Idempotency = None
) -> AppendResult:
    """Record that the team ``arrived``, is ``at_site`` or ``finished``, at ``at``."""
    visit = find_visit(node, ref)
    body = {"step": step, "at": format_time(at)}
    return _answer(node, visit, "inspection-step", body, idempotency)


def open_sample(node: Node, ref: str, *, idempotency: Idempotency = None) -> AppendResult:
    """As host, open exactly the sampled records of ``ref`` from the kept inventory.

    Raises:
        BodyError: this party is not the host, or the sample is not drawn.
        NotFoundError: the inventory's secret is not kept here.
    """
    visit = find_visit(node, ref)
    if visit.host != node.party:
        raise BodyError(f"{ref}: only the host, {visit.host}, opens the sample")
    if visit.commitment is None or visit.seed is None:
        raise BodyError(f"{ref}: the sample is not drawn yet (state {visit.state})")
    path = inventory_path(node, visit.site, visit.commitment.root)
    if not path.exists():
        raise NotFoundError(f"{ref}: the inventory committed for {visit.site} is not kept here")
    kept = load_commitment(path)
    openings = [o.to_json() for o in kept.open(visit.sample)]
    return _answer(node, visit, "inventory-opening", {"openings": openings}, idempotency)


def record_findings(
    node: Node,
    ref: str,
    observed: Sequence[Mapping[str, Any]],
    *,
    idempotency: Idempotency = None,
) -> AppendResult:
    """As inspectors, record what was seen at each sampled record
    (``{"index", "status", "contents"[, "remark"]}``)."""
    visit = find_visit(node, ref)
    body = {"observed": [dict(item) for item in observed]}
    return _answer(node, visit, "inspection-findings", body, idempotency)


def sign_report(
    node: Node, ref: str, *, remarks: str | None = None, idempotency: Idempotency = None
) -> AppendResult:
    """Sign the report the logs give for ``ref``: send its SHA-256.

    Raises:
        ConflictError: there is no report yet.
    """
    visit = find_visit(node, ref)
    digest = visit.report_sha256()
    if digest is None:
        raise ConflictError(f"{ref}: no report yet (state {visit.state})")
    body: dict[str, Any] = {"report_sha256": digest}
    if remarks:
        body["remarks"] = remarks
    return _answer(node, visit, "inspection-report", body, idempotency)


def refuse_visit(
    node: Node, ref: str, *, reason: str, idempotency: Idempotency = None
) -> AppendResult:
    """As host, refuse the visit ``ref``, with the reason."""
    visit = find_visit(node, ref)
    return _answer(node, visit, "inspection-refusal", {"reason": reason}, idempotency)


def delay_visit(
    node: Node, ref: str, *, until: datetime, reason: str, idempotency: Idempotency = None
) -> AppendResult:
    """As host, put the arrival for ``ref`` off to ``until``."""
    visit = find_visit(node, ref)
    body = {"until": format_time(until), "reason": reason}
    return _answer(node, visit, "inspection-delay", body, idempotency)


def cancel_visit(
    node: Node, ref: str, *, reason: str, idempotency: Idempotency = None
) -> AppendResult:
    """Call the visit ``ref`` off (either side), with the reason."""
    visit = find_visit(node, ref)
    return _answer(node, visit, "inspection-cancel", {"reason": reason}, idempotency)


def _write_secret(path: Path, text: str) -> None:
    _private_dir(path.parent)
    try:
        create_private_file(path, text.encode("ascii"))
    except OSError as e:
        raise KeyFileError(f"cannot create the secret {path}: {e}") from e


def _read_value(path: Path) -> bytes:
    try:
        value = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError) as e:
        raise KeyFileError(f"cannot read the sample value {path}: {e}") from e
    if len(value) != 32:
        raise KeyFileError(f"the sample value {path} is not 32 bytes")
    return value
