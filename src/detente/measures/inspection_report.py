"""Inspection report files anyone can check offline, with the parties' public keys alone.

A report file (docs/inspections.md, "The report and verifying it offline")
is one JSON object::

    {"v": 1, "format": "detente-inspection-report",
     "agreement": {"id": ..., "name": ... | null, "sample_plan": {...}},
     "report": {...}, "report_sha256": "...",
     "checkpoints": {party: signed checkpoint note, ...},
     "entries": [{"role": ..., "position": "party:seq", "leaf": base64,
                  "body": base64, "proof": [base64, ...]}, ...]}

``report`` is :meth:`~detente.measures.inspections.Inspection.report`, the
dict both sides sign the SHA-256 of. Each entry the report rests on (the
``commitment``, the ``request``, ``commit:<party>`` and ``reveal:<party>``
of both sides, the ``opening``, the ``findings``, ``report:<party>`` of
both sides) is carried as its leaf bytes and body, with an RFC 9162
(section 2.1.3) inclusion proof against the signed checkpoint of its
party's log. :func:`verify_report` checks all of it and recomputes the seed,
the sample, the findings and the report hash from the entries; the first
thing that does not hold is raised, naming the entry or the field.

The HTML rendering (:func:`render_html`) embeds the same JSON, so the HTML
file verifies as well (:func:`load_report_file`).

Example:
    >>> verify_report({"v": 2}, keys=[])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    detente.errors.EncodingError: report file: not a version 1 inspection report
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from detente.agreement import Agreement
from detente.agreement.inspections import SamplePlan
from detente.crypto.canonical import canonical_json
from detente.crypto.encoding import b64decode
from detente.crypto.keys import VerifierKey
from detente.errors import (
    BodyError,
    EncodingError,
    VerificationError,
)
from detente.measures.sampling import derive_seed, sample_size, select, verify_reveal
from detente.record.checkpoint import SignedCheckpoint, origin_for
from detente.record.envelope import Envelope
from detente.record.inventory import Opening, PublishedCommitment, verify_opening
from detente.record.inventory_findings import compare_sample
from detente.record.merkle import verify_inclusion
from detente.record.report_file import (
    embed_json,
    json_object,
    json_text,
    key_that_verifies,
    load_embedded_json,
    located,
)

__all__ = [
    "FORMAT",
    "CheckedReport",
    "load_report_file",
    "render_html",
    "report_roles",
    "verify_report",
]

FORMAT = "detente-inspection-report"
MAX_PROOF = 64
_SCRIPT_ID = "detente-inspection-report"
_PLAN = TypeAdapter(SamplePlan)


def report_roles(host: str, inspecting: str) -> dict[str, tuple[str, str]]:
    """Each role an entry plays in a report, with the type it must be and who sends it."""
    sides = (host, inspecting)
    roles = {"commitment": ("inventory-commitment", host)}
    roles["request"] = ("inspection-request", inspecting)
    for party in sides:
        roles[f"commit:{party}"] = ("sample-commit", party)
    for party in sides:
        roles[f"reveal:{party}"] = ("sample-reveal", party)
    roles["opening"] = ("inventory-opening", host)
    roles["findings"] = ("inspection-findings", inspecting)
    for party in sides:
        roles[f"report:{party}"] = ("inspection-report", party)
    return roles


@dataclass(frozen=True)
class CheckedReport:
    """What a report file proves once verified."""

    inspection: str
    inspection_type: str
    inspecting: str
    host: str
    site: str
    report_sha256: str
    sample: tuple[int, ...]
    findings: int
    openings_verified: int
    entries: int
    checkpoint_sizes: Mapping[str, int]
    plan_source: str

    def summary(self) -> str:
        """One paragraph for people."""
        sizes = ", ".join(f"{p} at size {n}" for p, n in sorted(self.checkpoint_sizes.items()))
        return (
            f"inspection {self.inspection} ({self.inspection_type} by {self.inspecting} at "
            f"{self.host}, site {self.site}): report {self.report_sha256} signed by both sides; "
            f"{self.entries} entries in their logs ({sizes}); sample of {len(self.sample)} "
            f"recomputed from both reveals ({self.plan_source}); "
            f"{self.openings_verified} of {len(self.sample)} openings verify against the "
            f"committed root; {self.findings} finding(s)"
        )


@dataclass(frozen=True)
class _Held:
    envelope: Envelope
    body: dict[str, Any]


def verify_report(
    report_file: object, *, keys: Sequence[VerifierKey], agreement: Agreement | None = None
) -> CheckedReport:
    """Check a report file with the two sides' log keys alone (module docstring).

    Args:
        report_file: The parsed JSON of the file.
        keys: Verifier keys; each side's log key is the one named after its
            log's origin (``detente.log/<id[:16]>/<party>``).
        agreement: The agreement, if known to the checker: its id must be the
            file's and the inspection type's sample plan is taken from it.
            Without it the plan is taken from the file, and the summary says so.

    Raises:
        EncodingError: the file is malformed.
        UnknownKeyError: no key is given for a side's log.
        SignatureError: a checkpoint or an entry's signature does not verify.
        BodyError: an entry's body does not match its signed hash.
        VerificationError: an inclusion proof fails, an entry is of the
            wrong type, side or visit, a reveal does not open its
            commitment, or the seed, sample, findings or report hash differ
            from those recomputed. The message names the entry or the field.
    """
    if not isinstance(report_file, dict) or report_file.get("v") != 1:
        raise EncodingError("report file: not a version 1 inspection report")
    if report_file.get("format") != FORMAT:
        raise EncodingError(f"report file: format is not {FORMAT!r}")
    report = json_object(report_file.get("report"), "report")
    claimed = report_file.get("report_sha256")
    if not isinstance(claimed, str):
        raise EncodingError("report_sha256: not a string")
    meta = json_object(report_file.get("agreement"), "agreement")
    agreement_id = json_text(meta.get("id"), "agreement.id")
    host = json_text(report.get("host"), "report.host")
    inspecting = json_text(report.get("inspecting"), "report.inspecting")
    ref = json_text(report.get("inspection"), "report.inspection")
    type_id = json_text(report.get("inspection_type"), "report.inspection_type")
    plan, plan_source = _sample_plan(meta, type_id, agreement_id, agreement)

    checkpoints = _checkpoints(report_file, agreement_id, (host, inspecting), keys)
    held = _entries(report_file, agreement_id, checkpoints, report_roles(host, inspecting), keys)
    _check_sides(held, report, ref)

    request = held["request"]
    commitment = _commitment(held, report, request)
    seed = _seed(held, report, ref, host, inspecting)
    with located("report.sample"):
        sample = select(seed, commitment.size, sample_size(plan, commitment.size))
    if report.get("sample") != sample:
        raise VerificationError(
            f"report.sample: {report.get('sample')} is not the sample {sample} drawn from the "
            f"seed over the {commitment.size} committed records ({plan_source})"
        )
    openings, verified = _openings(held, report, commitment, sample)
    findings = _findings(held, report, commitment, openings, sample)

    digest = hashlib.sha256(canonical_json(report)).hexdigest()
    if claimed != digest:
        raise VerificationError(
            f"report_sha256: {claimed} is not the SHA-256 of the report ({digest})"
        )
    for party in (host, inspecting):
        entry = held[f"report:{party}"]
        if entry.body.get("report_sha256") != digest:
            raise VerificationError(
                f"{entry.envelope.position} (report:{party}): {party} signed "
                f"{entry.body.get('report_sha256')}, not the report's SHA-256 {digest}"
            )
    return CheckedReport(
        inspection=ref,
        inspection_type=type_id,
        inspecting=inspecting,
        host=host,
        site=str(report.get("site")),
        report_sha256=digest,
        sample=tuple(sample),
        findings=len(findings),
        openings_verified=verified,
        entries=len(held),
        checkpoint_sizes={p: c.checkpoint.size for p, (c, _) in checkpoints.items()},
        plan_source=plan_source,
    )


def _sample_plan(
    meta: Mapping[str, Any], type_id: str, agreement_id: str, agreement: Agreement | None
) -> tuple[Any, str]:
    try:
        from_file = _PLAN.validate_python(meta.get("sample_plan"))
    except ValidationError as e:
        raise EncodingError(f"agreement.sample_plan: {str(e).splitlines()[0]}") from e
    if agreement is None:
        return from_file, "sample plan taken from the file; the agreement was not checked"
    if agreement.id != agreement_id:
        raise VerificationError(
            f"agreement.id: the report is under agreement {agreement_id}, "
            f"not {agreement.name} ({agreement.id})"
        )
    kind = agreement.inspection_types.get(type_id)
    if kind is None:
        raise VerificationError(f"report.inspection_type: {agreement.name} has no {type_id!r}")
    if kind.sample != from_file:
        raise VerificationError(
            f"agreement.sample_plan: not the sample plan of {type_id} in {agreement.name}"
        )
    return kind.sample, f"sample plan of {type_id} in agreement {agreement.name}"


def _checkpoints(
    report_file: Mapping[str, Any],
    agreement_id: str,
    sides: Sequence[str],
    keys: Sequence[VerifierKey],
) -> dict[str, tuple[SignedCheckpoint, VerifierKey]]:
    notes = json_object(report_file.get("checkpoints"), "checkpoints")
    out: dict[str, tuple[SignedCheckpoint, VerifierKey]] = {}
    for party in sides:
        where = f"checkpoints.{party}"
        with located(where):
            origin = origin_for(agreement_id, party)
        text = notes.get(party)
        if not isinstance(text, str):
            raise EncodingError(f"{where}: not a signed checkpoint note")
        with located(where):
            signed = SignedCheckpoint.from_text(text)
        out[party] = (signed, key_that_verifies(keys, origin, party, signed.verify, where))
    return out


def _entries(
    report_file: Mapping[str, Any],
    agreement_id: str,
    checkpoints: Mapping[str, tuple[SignedCheckpoint, VerifierKey]],
    roles: Mapping[str, tuple[str, str]],
    keys: Sequence[VerifierKey],
) -> dict[str, _Held]:
    items = report_file.get("entries")
    if not isinstance(items, list):
        raise EncodingError("entries: not a list")
    held: dict[str, _Held] = {}
    for i, item in enumerate(items):
        entry = json_object(item, f"entries[{i}]")
        role = entry.get("role")
        if not isinstance(role, str) or role not in roles:
            raise VerificationError(f"entries[{i}].role: {role!r} is not a role in this report")
        if role in held:
            raise VerificationError(f"entries[{i}].role: {role} given twice")
        held[role] = _entry(
            entry, (f"entries[{i}]", role), agreement_id, checkpoints, roles[role], keys
        )
    missing = [r for r in roles if r not in held]
    if missing:
        raise VerificationError(f"entries: missing {', '.join(missing)}")
    return held


def _entry(
    entry: Mapping[str, Any],
    place: tuple[str, str],
    agreement_id: str,
    checkpoints: Mapping[str, tuple[SignedCheckpoint, VerifierKey]],
    expected: tuple[str, str],
    keys: Sequence[VerifierKey],
) -> _Held:
    with located(f"{place[0]} ({place[1]})"):
        envelope = Envelope.from_leaf(b64decode(entry.get("leaf"), where="leaf"))
    header = envelope.header
    where = f"{place[0]} ({place[1]} {envelope.position})"
    if entry.get("position") != envelope.position:
        raise VerificationError(f"{where}: position {entry.get('position')!r} is not the leaf's")
    kind, sender = expected
    if header.type != kind or header.sender != sender:
        raise VerificationError(
            f"{where}: is {header.type} from {header.sender}, not {kind} from {sender}"
        )
    if header.agreement != agreement_id:
        raise VerificationError(f"{where}: made under another agreement ({header.agreement})")
    signed, key = checkpoints[sender]
    key_that_verifies([key, *keys], key.name, sender, envelope.verify_signature, where)
    body = b64decode(entry.get("body"), where=f"{where}: body")
    if hashlib.sha256(body).hexdigest() != header.body_sha256 or len(body) != header.body_len:
        raise BodyError(f"{where}: the body does not match the signed body_sha256")
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise EncodingError(f"{where}: body: not JSON") from e
    proof_items = entry.get("proof")
    if not isinstance(proof_items, list) or len(proof_items) > MAX_PROOF:
        raise EncodingError(f"{where}: proof: not a list of hashes")
    proof = [b64decode(h, where=f"{where}: proof[{j}]") for j, h in enumerate(proof_items)]
    checkpoint = signed.checkpoint
    with located(f"{where}: not in {sender}'s checkpoint of size {checkpoint.size}"):
        verify_inclusion(envelope.leaf_hash, header.seq, checkpoint.size, proof, checkpoint.root)
    return _Held(envelope=envelope, body=json_object(parsed, f"{where}: body"))


def _check_sides(held: Mapping[str, _Held], report: Mapping[str, Any], ref: str) -> None:
    request = held["request"].envelope
    if request.position != ref:
        raise VerificationError(
            f"report.inspection: {ref} is not the request carried ({request.position})"
        )
    for role, entry in held.items():
        if role in ("commitment", "request"):
            continue
        if entry.envelope.header.refs[:1] != (ref,):
            raise VerificationError(
                f"{entry.envelope.position} ({role}): does not cite the request {ref}"
            )
    body = held["request"].body
    for name in ("inspection_type", "site"):
        if body.get(name) != report.get(name):
            raise VerificationError(
                f"report.{name}: {report.get(name)!r} is not the request's {body.get(name)!r}"
            )
    host = str(report.get("host"))
    if host not in request.header.to:
        raise VerificationError(f"report.host: the request {ref} is not addressed to {host}")


def _commitment(
    held: Mapping[str, _Held], report: Mapping[str, Any], request: _Held
) -> PublishedCommitment:
    entry = held["commitment"]
    where = f"{entry.envelope.position} (commitment)"
    with located(where):
        published = PublishedCommitment.from_json(entry.body)
    if entry.body.get("site") != report.get("site"):
        raise VerificationError(f"{where}: is for site {entry.body.get('site')!r}")
    if entry.envelope.header.created_at >= request.envelope.header.created_at:
        raise VerificationError(f"{where}: not in the host's log before the request")
    expected = {"ref": entry.envelope.position, **published.to_json()}
    if report.get("commitment") != expected:
        raise VerificationError(f"report.commitment: not the commitment {where} carries")
    return published


def _seed(
    held: Mapping[str, _Held], report: Mapping[str, Any], ref: str, host: str, inspecting: str
) -> bytes:
    values: dict[str, bytes] = {}
    for party in (host, inspecting):
        commit, reveal = held[f"commit:{party}"], held[f"reveal:{party}"]
        where = f"{reveal.envelope.position} (reveal:{party})"
        try:
            committed = bytes.fromhex(str(commit.body.get("commitment", "")))
            value = bytes.fromhex(str(reveal.body.get("value", "")))
        except ValueError as e:
            raise EncodingError(f"{where}: not hex") from e
        with located(f"{where}: does not open {commit.envelope.position}"):
            verify_reveal(committed, value, inspection_id=ref, party=party)
        values[party] = value
    reveals = {p: held[f"reveal:{p}"].envelope.position for p in (host, inspecting)}
    if report.get("reveals") != dict(sorted(reveals.items())):
        raise VerificationError(f"report.reveals: not the reveals carried {reveals}")
    seed = derive_seed(ref, host_value=values[host], inspector_value=values[inspecting])
    if report.get("seed") != seed.hex():
        raise VerificationError(
            f"report.seed: {report.get('seed')} is not the seed derived from both reveals "
            f"({seed.hex()})"
        )
    return seed


def _openings(
    held: Mapping[str, _Held],
    report: Mapping[str, Any],
    commitment: PublishedCommitment,
    sample: Sequence[int],
) -> tuple[list[Opening], int]:
    entry = held["opening"]
    where = f"{entry.envelope.position} (opening)"
    if report.get("openings") != entry.envelope.position:
        raise VerificationError(f"report.openings: not the opening carried ({where})")
    items = entry.body.get("openings")
    if not isinstance(items, list):
        raise EncodingError(f"{where}: body.openings: not a list")
    openings: list[Opening] = []
    for i, item in enumerate(items):
        with located(f"{where}: body.openings[{i}]"):
            openings.append(Opening.from_json(item))
    verified = 0
    for opening in openings:
        if opening.index in sample:
            try:
                verify_opening(commitment, opening, index=opening.index)
                verified += 1
            except VerificationError:
                pass  # a finding ("unverified"), recomputed below
    return openings, verified


def _findings(
    held: Mapping[str, _Held],
    report: Mapping[str, Any],
    commitment: PublishedCommitment,
    openings: Sequence[Opening],
    sample: Sequence[int],
) -> list[dict[str, Any]]:
    entry = held["findings"]
    where = f"{entry.envelope.position} (findings)"
    if report.get("observed") != entry.envelope.position:
        raise VerificationError(f"report.observed: not the findings carried ({where})")
    seen: dict[int, dict[str, str]] = {}
    for item in entry.body.get("observed") or []:
        if isinstance(item, dict) and isinstance(item.get("index"), int):
            seen[item["index"]] = {
                k: str(item[k]) for k in ("status", "contents") if isinstance(item.get(k), str)
            }
    observed = {i: seen[i] for i in sample if seen.get(i)}
    with located(where):
        found = [
            f.to_json()
            for f in compare_sample(commitment, openings, sample=sample, observed=observed)
        ]
    if report.get("findings") != found:
        raise VerificationError(
            f"report.findings: not the findings computed from the openings "
            f"({held['opening'].envelope.position}) and the observations ({where}): {found}"
        )
    return found


def load_report_file(data: bytes, *, where: str = "report file") -> object:
    """The report JSON from a file's bytes: a JSON file, or the HTML that embeds it.

    Raises:
        EncodingError: neither JSON nor an HTML report with the JSON embedded.
    """
    return load_embedded_json(data, script_id=_SCRIPT_ID, where=where)


def render_html(report_file: Mapping[str, Any]) -> str:
    """The report for people: one HTML page, no external assets, the JSON embedded."""
    report = report_file.get("report") or {}
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(str(e.get('role')))}</td><td><code>{esc(str(e.get('position')))}"
        f"</code></td><td>{len(e.get('proof') or [])} hashes</td></tr>"
        for e in report_file.get("entries") or []
    )
    findings = report.get("findings") or []
    finding_rows = (
        "".join(
            f"<tr><td>{esc(str(f.get('index')))}</td><td>{esc(str(f.get('kind')))}</td>"
            f"<td>{esc(str(f.get('detail')))}</td></tr>"
            for f in findings
        )
        or '<tr><td colspan="3">None: every sampled record is as declared.</td></tr>'
    )
    plan = report_file.get("agreement") or {}
    title = f"Inspection report {report.get('inspection', '')}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{esc(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}}
table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #999;padding:.3rem .6rem;
text-align:left}}code{{word-break:break-all}}
</style></head><body>
<h1>{esc(title)}</h1>
<p>{esc(str(report.get("inspection_type")))} by <b>{esc(str(report.get("inspecting")))}</b> at
<b>{esc(str(report.get("host")))}</b>, site <b>{esc(str(report.get("site")))}</b>.</p>
<p>Report SHA-256 (signed by both sides):
<code>{esc(str(report_file.get("report_sha256")))}</code></p>
<h2>Seed and sample</h2>
<p>Seed <code>{esc(str(report.get("seed")))}</code>, derived from the reveals
{esc(json.dumps(report.get("reveals"), sort_keys=True))}; sample plan
<code>{esc(json.dumps(plan.get("sample_plan"), sort_keys=True))}</code> over
{esc(str((report.get("commitment") or {}).get("size")))} committed records
(root <code>{esc(str((report.get("commitment") or {}).get("root")))}</code>).</p>
<p>Sample: {esc(", ".join(str(i) for i in report.get("sample") or []))}</p>
<h2>Findings</h2>
<table><tr><th>Record</th><th>Kind</th><th>Detail</th></tr>{finding_rows}</table>
<h2>Log entries and their proofs</h2>
<table><tr><th>Role</th><th>Entry</th><th>Inclusion proof</th></tr>{rows}</table>
<p>Check this file offline: <code>detente inspection verify FILE --key KEY --key KEY</code>
with both sides' log keys. The data is embedded below.</p>
{embed_json(report_file, script_id=_SCRIPT_ID)}
</body></html>
"""
