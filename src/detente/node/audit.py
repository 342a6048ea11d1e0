"""``detente verify``: recompute everything a node holds from its stored bytes.

For every log held it recomputes each leaf hash, envelope signature, chain
link and body hash; every stored tree node from the level below; every
checkpoint's signature and root; every stored cosignature. It stops at the
first inconsistency and names where it is. Signature checks, the costly
part, run in worker processes for large logs.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

from sqlalchemy import Connection, func, select, text

from detente.crypto.keys import VerifierKey
from detente.errors import DetenteError, UnknownKeyError
from detente.node.directory import Node
from detente.record.audit import Row, RunResult, check_run, check_tree_level
from detente.record.checkpoint import Cosignature, SignedCheckpoint, origin_for
from detente.record.envelope import ZERO_HASH
from detente.record.keyhistory import KeyHistory
from detente.store.database import Database, open_database
from detente.store.logs import LogStore, as_bytes
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
    keys: int = 1
    revoked: list[str] = field(default_factory=list)


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
                key = _key_for(node, party, conn)
                audit.keys = len(key.epochs)
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
                audit.revoked = [
                    f"{party}:{first}..{party}:{last} signed by revoked key {k.key_id.hex()}"
                    for k, first, last in key.revoked_spans(audit.entries)
                ]
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


def _key_for(node: Node, party: str, conn: Connection) -> KeyHistory:
    try:
        history = node.key_history(party, conn)
    except DetenteError as e:
        raise _Stop(f"log {party}: key history: {e}") from e
    if history is None:
        raise UnknownKeyError(f"log {party}: no key is known for this party")
    return history


_ROWS = text(
    "SELECT e.seq, e.leaf, b.body, t.hash FROM entries e "
    "LEFT JOIN bodies b ON b.party = e.party AND b.seq = e.seq "
    "LEFT JOIN tree_nodes t ON t.party = e.party AND t.level = 0 AND t.idx = e.seq "
    "WHERE e.party = :party AND e.seq >= :start AND e.seq < :stop ORDER BY e.seq"
)


@dataclass(frozen=True)
class _Run:
    """A run of one log for a worker: where to read it and how to check it."""

    url: str
    party: str
    agreement_id: str
    verifiers: tuple[tuple[int, str], ...]
    start: int
    stop: int
    holder: str = ""


def _read_run(conn: Connection, run: _Run) -> list[Row]:
    rows = conn.execute(_ROWS, {"party": run.party, "start": run.start, "stop": run.stop})
    return [
        (
            int(seq),
            as_bytes(leaf),
            None if body is None else as_bytes(body),
            None if node is None else as_bytes(node),
        )
        for seq, leaf, body, node in rows
    ]


def _check(conn: Connection, run: _Run) -> RunResult:
    return check_run(
        _read_run(conn, run),
        party=run.party,
        agreement_id=run.agreement_id,
        key=_schedule(run.verifiers),
        start=run.start,
        stop=run.stop,
        holder=run.holder or None,
    )


@functools.lru_cache(maxsize=16)
def _verifier(text: str) -> VerifierKey:
    return VerifierKey.from_text(text)


def _schedule(verifiers: tuple[tuple[int, str], ...]) -> Callable[[int], VerifierKey]:
    """The key in force per seq, from ``(from_seq, key text)`` pairs (picklable for workers)."""
    epochs = [(start, _verifier(text)) for start, text in verifiers]

    def key_for(seq: int) -> VerifierKey:
        found = epochs[0][1]
        for start, key in epochs:
            if start > seq:
                break
            found = key
        return found

    return key_for


_worker_db: dict[str, Database] = {}


def _check_in_worker(run: _Run) -> RunResult:
    """Check a run in a worker process, reading its rows over its own connection."""
    database = _worker_db.get(run.url)
    if database is None:
        database = _worker_db[run.url] = open_database(run.url, migrate_schema=False)
    with database.engine.connect() as conn:
        return _check(conn, run)


def _audit_entries(
    conn: Connection,
    node: Node,
    party: str,
    key: KeyHistory,
    audit: LogAudit,
    *,
    workers: int | None,
    progress: Progress | None,
    parallel_from: int,
) -> None:
    total = LogStore(conn, party).size()
    workers = workers or os.cpu_count() or 1
    runs = [
        _Run(
            url=node.database.url,
            party=party,
            agreement_id=node.agreement.id,
            verifiers=tuple((e.from_seq, e.key.to_text()) for e in key.epochs),
            start=start,
            stop=min(start + _CHUNK, total),
            holder=node.party,
        )
        for start in range(0, total, _CHUNK)
    ]
    link = _Linker(party, total, audit, progress)
    if workers > 1 and total >= parallel_from:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            # Upper tree levels need only stored nodes: one worker checks
            # them while the others check entries, each reading its own rows.
            upper = pool.submit(_tree_in_worker, node.database.url, party, total)
            for result in pool.map(_check_in_worker, runs):
                link.add(result)
            nodes, problem = upper.result()
    else:
        for run in runs:
            link.add(_check(conn, run))
        nodes, problem = _tree_levels(conn, party, total)
    if problem is not None:
        raise _Stop(problem)
    audit.tree_nodes = total + nodes


class _Linker:
    """Joins checked runs in order: each must start where the last one ended."""

    def __init__(self, party: str, total: int, audit: LogAudit, progress: Progress | None) -> None:
        self.party = party
        self.total = total
        self.audit = audit
        self.progress = progress
        self.position = 0
        self.last_hash = ZERO_HASH

    def add(self, result: RunResult) -> None:
        party = self.party
        if result.count and result.first_prev != self.last_hash:
            raise _Stop(
                f"{party}:{result.start}: prev {str(result.first_prev)[:16]}… is not the leaf "
                f"hash of {party}:{result.start - 1} ({self.last_hash[:16]}…)"
            )
        self.audit.entries += result.count
        self.audit.bodies += result.bodies
        if result.problem is not None:
            raise _Stop(result.problem)
        self.position = result.start + result.count
        self.last_hash = result.last_hash or self.last_hash
        if self.progress:
            self.progress(party, self.position, self.total)


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
        out.append(as_bytes(digest))
    return out


def _audit_checkpoints(
    conn: Connection, node: Node, party: str, key: KeyHistory, audit: LogAudit
) -> None:
    log = LogStore(conn, party)
    tree = StoredTree(conn, party)
    origin = origin_for(node.agreement.id, party)
    held: dict[int, SignedCheckpoint] = {}
    for size, note in log.checkpoints():
        where = f"log {party}: checkpoint {size}"
        try:
            signed = SignedCheckpoint.from_text(note)
            signed.verify(key.checkpoint_key(size))
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
        cosigner = _cosigner(conn, node, stored.cosigner, stored.line)
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


def _cosigner(conn: Connection, node: Node, name: str, line: str) -> VerifierKey | None:
    """The key that made a stored cosignature: a party's key of its time, or a trusted one.

    A party cosigns with the key in force in its own log when it cosigns, so
    the key of a party's cosignature is found among its log's keys by key ID.
    """
    party = next(
        (p for p in (node.party, *(q.party for q in node.config.peers)) if _named(node, p, name)),
        None,
    )
    if party is None:
        return node.trusted_key(name)
    history = node.key_history(party, conn)
    try:
        key_id = Cosignature.from_line(line).key_id
    except DetenteError:
        return None if history is None else history.current
    return None if history is None else history.find_cosigner(key_id)


def _named(node: Node, party: str, name: str) -> bool:
    first = node.first_key(party)
    return first is not None and first.name == name
