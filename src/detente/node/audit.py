"""``detente verify``: recompute everything a node holds from its stored bytes.

For every log held it recomputes each leaf hash, envelope signature, chain
link and body hash; every stored tree node from the level below; every
checkpoint's signature and root; every stored cosignature. It stops at the
first inconsistency and names where it is. Signature checks, the costly
part, run in worker processes for large logs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

from sqlalchemy import Connection, func, select

from detente.crypto.keys import VerifierKey
from detente.errors import DetenteError, UnknownKeyError
from detente.node.directory import Node
from detente.record.audit import ChunkJob, ChunkResult, check_chunk, check_tree_level
from detente.record.checkpoint import Cosignature, SignedCheckpoint, origin_for
from detente.record.envelope import ZERO_HASH
from detente.store.database import open_database
from detente.store.logs import LogStore
from detente.store.schema import checkpoints, entries, tree_nodes
from detente.store.tree import StoredTree

__all__ = ["AuditReport", "LogAudit", "audit_node"]

_CHUNK = 2000
_PARALLEL_FROM = 20_000


@dataclass
class LogAudit:
    """What was checked in one party's log."""

    party: str
    entries: int = 0
    bodies: int = 0
    tree_nodes: int = 0
    checkpoints: int = 0
    cosignatures: int = 0


@dataclass
class AuditReport:
    """The outcome of ``detente verify``."""

    logs: list[LogAudit] = field(default_factory=list)
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """True when everything held was recomputed and holds."""
        return self.problem is None


class _Stop(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


Progress = Callable[[str, int, int], None]


def audit_node(
    node: Node,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    parallel_from: int = _PARALLEL_FROM,
) -> AuditReport:
    """Recompute and check everything ``node`` stores.

    Args:
        node: an open node.
        workers: processes for signature checks (default: all cores; 1 for
            none). Logs under 20,000 entries are checked in this process.
        progress: called with ``(party, done, total)`` as entries are checked.
        parallel_from: the log size from which worker processes are used.
    """
    report = AuditReport()
    try:
        with node.database.engine.connect() as conn:
            for party in _parties(conn):
                audit = LogAudit(party=party)
                report.logs.append(audit)
                key = _key_for(node, party)
                _audit_entries(
                    conn,
                    node,
                    party,
                    key,
                    audit,
                    workers=workers,
                    progress=progress,
                    parallel_from=parallel_from,
                )
                _audit_checkpoints(conn, node, party, key, audit)
    except _Stop as stop:
        report.problem = stop.message
    except DetenteError as e:
        report.problem = str(e)
    return report


def _parties(conn: Connection) -> list[str]:
    found: set[str] = set()
    for table in (entries, tree_nodes, checkpoints):
        found.update(str(p) for p in conn.execute(select(table.c.party).distinct()).scalars())
    return sorted(found)


def _key_for(node: Node, party: str) -> VerifierKey:
    if party == node.party:
        return node.verifier
    raise UnknownKeyError(f"log {party}: no key is known for this party")


def _jobs(conn: Connection, node: Node, party: str, key: VerifierKey) -> Iterator[ChunkJob]:
    text = key.to_text()
    for batch in LogStore(conn, party).iter_entries(chunk=_CHUNK):
        yield ChunkJob(
            party=party,
            agreement_id=node.agreement.id,
            verifier=text,
            rows=[(row.seq, row.leaf, row.body) for row in batch],
        )


def _audit_entries(
    conn: Connection,
    node: Node,
    party: str,
    key: VerifierKey,
    audit: LogAudit,
    *,
    workers: int | None,
    progress: Progress | None,
    parallel_from: int,
) -> None:
    log = LogStore(conn, party)
    total = log.size()
    tree = StoredTree(conn, party)
    workers = workers or os.cpu_count() or 1
    jobs = _jobs(conn, node, party, key)
    expected_prev = ZERO_HASH
    position = 0
    if workers > 1 and total >= parallel_from:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            # The upper tree levels need only stored nodes: check them in a
            # worker while the others check signatures.
            upper = pool.submit(_tree_in_worker, node.database.url, party, total)
            for job, result in _pipelined(pool, jobs, workers):
                expected_prev, position = _link(
                    tree, party, job, result, expected_prev, position, audit
                )
                if progress:
                    progress(party, position, total)
            nodes, problem = upper.result()
    else:
        for job in jobs:
            expected_prev, position = _link(
                tree, party, job, check_chunk(job), expected_prev, position, audit
            )
            if progress:
                progress(party, position, total)
        nodes, problem = _tree_levels(conn, party, total)
    if position != total:
        raise _Stop(f"log {party}: entries stop at seq {position}, expected {total}")
    if problem is not None:
        raise _Stop(problem)
    audit.tree_nodes = total + nodes


def _pipelined(
    pool: ProcessPoolExecutor, jobs: Iterator[ChunkJob], depth: int
) -> Iterator[tuple[ChunkJob, ChunkResult]]:
    """Submit chunks ahead, yield them back in order, keeping memory bounded."""
    pending = []
    for job in jobs:
        pending.append((job, pool.submit(check_chunk, job)))
        if len(pending) >= 2 * depth:
            first, future = pending.pop(0)
            yield first, future.result()
    for job, future in pending:
        yield job, future.result()


def _link(
    tree: StoredTree,
    party: str,
    job: ChunkJob,
    result: ChunkResult,
    expected_prev: str,
    position: int,
    audit: LogAudit,
) -> tuple[str, int]:
    if result.problem is not None:
        raise _Stop(result.problem[1])
    stored = tree.leaf_hashes(job.rows[0][0], job.rows[-1][0] + 1)
    for (seq, _leaf, body), digest, prev in zip(
        job.rows, result.leaf_hashes, result.prevs, strict=True
    ):
        if seq != position:
            raise _Stop(f"log {party}: entry {party}:{position} is missing (next held: {seq})")
        if prev != expected_prev:
            raise _Stop(
                f"{party}:{seq}: prev {prev[:16]}… is not the leaf hash of "
                f"{party}:{seq - 1} ({expected_prev[:16]}…)"
            )
        if stored.get(seq) != digest:
            raise _Stop(f"{party}:{seq}: tree node level 0 does not equal the entry's leaf hash")
        expected_prev = digest.hex()
        position += 1
        audit.entries += 1
        audit.bodies += body is not None
    return expected_prev, position


def _tree_in_worker(url: str, party: str, size: int) -> tuple[int, str | None]:
    """:func:`_tree_levels` in a worker process, over a connection of its own."""
    database = open_database(url, migrate_schema=False)
    try:
        with database.engine.connect() as conn:
            return _tree_levels(conn, party, size)
    finally:
        database.dispose()


def _tree_levels(conn: Connection, party: str, size: int) -> tuple[int, str | None]:
    """Check every stored node above the leaves from the level below it.

    Level 0 is checked against the recomputed leaf hashes in :func:`_link`.

    Returns:
        The number of nodes checked above level 0, and the first problem
        found (or None).
    """
    checked = 0
    level = 1
    try:
        while (size >> level) > 0 or _count_level(conn, party, level) > 0:
            count = size >> level
            stored = _count_level(conn, party, level)
            if stored != count:
                return checked, (
                    f"log {party}: tree level {level} holds {stored} nodes, "
                    f"a tree of {size} leaves has {count}"
                )
            for start in range(0, count, _CHUNK):
                stop = min(start + _CHUNK, count)
                children = _level_slice(conn, party, level - 1, 2 * start, 2 * stop)
                parents = _level_slice(conn, party, level, start, stop)
                bad = check_tree_level(children, parents)
                if bad >= 0:
                    return checked, (
                        f"log {party}: tree node level {level} index {start + bad} "
                        "does not hash from its children"
                    )
            checked += count
            level += 1
    except _Stop as stop:
        return checked, stop.message
    return checked, None


def _count_level(conn: Connection, party: str, level: int) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(tree_nodes)
            .where(tree_nodes.c.party == party, tree_nodes.c.level == level)
        ).scalar_one()
    )


def _level_slice(conn: Connection, party: str, level: int, start: int, stop: int) -> list[bytes]:
    rows = conn.execute(
        select(tree_nodes.c.idx, tree_nodes.c.hash)
        .where(
            tree_nodes.c.party == party,
            tree_nodes.c.level == level,
            tree_nodes.c.idx >= start,
            tree_nodes.c.idx < stop,
        )
        .order_by(tree_nodes.c.idx)
    )
    out: list[bytes] = []
    for expected, (idx, digest) in enumerate(rows, start=start):
        if int(idx) != expected:
            raise _Stop(f"log {party}: tree node level {level} index {expected} is missing")
        out.append(bytes(digest))
    return out


def _audit_checkpoints(
    conn: Connection, node: Node, party: str, key: VerifierKey, audit: LogAudit
) -> None:
    log = LogStore(conn, party)
    tree = StoredTree(conn, party)
    origin = origin_for(node.agreement.id, party)
    held: dict[int, SignedCheckpoint] = {}
    for size, note in log.checkpoints():
        where = f"log {party}: checkpoint {size}"
        try:
            signed = SignedCheckpoint.from_text(note)
            signed.verify(key)
        except DetenteError as e:
            raise _Stop(f"{where}: {e}") from e
        checkpoint = signed.checkpoint
        if checkpoint.origin != origin or checkpoint.size != size:
            raise _Stop(f"{where}: note says {checkpoint.origin} size {checkpoint.size}")
        if size > audit.entries:
            raise _Stop(f"{where}: signs {size} entries but {audit.entries} are held")
        if tree.root(size) != checkpoint.root:
            raise _Stop(f"{where}: root does not equal the tree recomputed at that size")
        held[size] = signed
        audit.checkpoints += 1
    for stored in log.cosignatures():
        where = f"log {party}: cosignature by {stored.cosigner} on checkpoint {stored.size}"
        cosigner = node.trusted_key(stored.cosigner)
        if cosigner is None:
            raise _Stop(f"{where}: no trusted key is configured for this cosigner")
        if stored.size not in held:
            raise _Stop(f"{where}: no checkpoint of that size is held")
        try:
            cosignature = Cosignature.from_line(stored.line)
            cosignature.verify(held[stored.size].checkpoint, cosigner)
        except DetenteError as e:
            raise _Stop(
                f"{where}: {e} — the log no longer matches what was cosigned (rewritten since?)"
            ) from e
        if cosignature.timestamp != stored.timestamp:
            raise _Stop(f"{where}: stored timestamp differs from the signed one")
        audit.cosignatures += 1
