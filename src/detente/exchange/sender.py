"""Delivering this node's log to each peer until the peer receipts it.

The log is the outbox (ADR 0003): appending an envelope is already the
durable record that it must go to every peer, and a peer's backlog is every
entry from its send cursor (``deliveries.delivered_size``) on. The sender
delivers each backlog in order, in runs that end at one of this node's
signed checkpoints, and takes the peer's cosignature on that checkpoint as
the receipt. Failures back off exponentially per peer; nothing is dropped.
"""

from __future__ import annotations

import base64
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Connection, insert, select, update

from detente.errors import DetenteError, VerificationError
from detente.exchange.receive import Receipt
from detente.node.directory import Node, Peer
from detente.record.checkpoint import Cosignature, SignedCheckpoint
from detente.record.envelope import Envelope, format_time, parse_time
from detente.store.logs import LogStore
from detente.store.schema import checkpoints, deliveries

__all__ = ["DeliveryState", "Sender", "backoff", "deliver_once", "delivery_states"]

log = logging.getLogger("detente.exchange")

MAX_RUN = 500
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 60.0


@dataclass(frozen=True)
class DeliveryState:
    """Where a peer stands with this node's log."""

    peer: str
    delivered_size: int
    receipted_size: int
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    last_contact_at: str | None


def backoff(attempts: int, *, rng: random.Random | None = None) -> float:
    """Seconds to wait after ``attempts`` failures: exponential, capped, with jitter."""
    delay: float = min(_BACKOFF_CAP, _BACKOFF_BASE * (1 << min(max(0, attempts - 1), 16)))
    jitter: float = (rng or random).random()  # noqa: S311 - jitter, not secrecy
    return delay * (0.8 + 0.4 * jitter)


def delivery_states(conn: Connection, node: Node) -> dict[str, DeliveryState]:
    """Every configured peer's delivery state (peers never tried start at zero)."""
    rows = {row.peer: row for row in conn.execute(select(deliveries))}
    states = {}
    for peer in node.config.peers:
        row = rows.get(peer.party)
        states[peer.party] = DeliveryState(
            peer=peer.party,
            delivered_size=int(row.delivered_size) if row else 0,
            receipted_size=int(row.receipted_size) if row else 0,
            attempts=int(row.attempts) if row else 0,
            next_attempt_at=row.next_attempt_at if row else None,
            last_error=row.last_error if row else None,
            last_contact_at=row.last_contact_at if row else None,
        )
    return states


def _save(conn: Connection, peer: str, **values: object) -> None:
    done = conn.execute(update(deliveries).where(deliveries.c.peer == peer).values(**values))
    if done.rowcount == 0:
        row = {
            "peer": peer,
            "delivered_size": 0,
            "receipted_size": 0,
            "attempts": 0,
            "next_attempt_at": None,
            "last_error": None,
            "last_contact_at": None,
        }
        row.update(values)
        conn.execute(insert(deliveries).values(**row))


def _run_end(conn: Connection, party: str, start: int) -> int | None:
    """The checkpoint size a run from ``start`` ends at, or None if nothing to send."""
    sizes = [
        int(s)
        for s in conn.execute(
            select(checkpoints.c.size)
            .where(checkpoints.c.party == party, checkpoints.c.size > start)
            .order_by(checkpoints.c.size)
        ).scalars()
    ]
    if not sizes:
        return None
    within = [s for s in sizes if s <= start + MAX_RUN]
    return within[-1] if within else sizes[0]


def _payload(conn: Connection, node: Node, peer: Peer, start: int, end: int) -> dict[str, object]:
    log_store = LogStore(conn, node.party)
    entries = []
    for batch in log_store.iter_entries(start, end):
        for row in batch:
            header = Envelope.from_leaf(row.leaf).header
            body = row.body if peer.party in header.to else None
            entries.append(
                {
                    "leaf": base64.b64encode(row.leaf).decode(),
                    "body": None if body is None else base64.b64encode(body).decode(),
                }
            )
    held = log_store.checkpoint(end)
    if held is None:  # pragma: no cover - _run_end picked a stored size
        raise VerificationError(f"no checkpoint of size {end}")
    return {"sender": node.party, "checkpoint": held[1], "entries": entries}


def deliver_once(node: Node, peer: Peer, client: httpx.Client) -> int:
    """Send one run of the backlog to ``peer``; return how many entries it receipted.

    Never raises for the peer's or the network's failures: they are recorded
    in the peer's delivery state with the next attempt time.
    """
    now = node.clock()
    with node.database.engine.connect() as conn:
        state = delivery_states(conn, node)[peer.party]
        start = state.delivered_size
        end = _run_end(conn, node.party, start)
        if end is None:
            return 0
        payload = _payload(conn, node, peer, start, end)
    try:
        response = client.post(f"{peer.url.rstrip('/')}/v1/peer/envelopes", json=payload)
    except httpx.HTTPError as e:
        _failed(node, state, f"cannot reach {peer.url}: {type(e).__name__}: {e}", now)
        return 0
    if response.status_code == 409:
        held = _held_size(response)
        if held is not None and held != start:
            with node.database.engine.begin() as conn:
                _save(conn, peer.party, delivered_size=held, last_contact_at=format_time(now))
            log.info("peer %s holds %s of our log; resuming from there", peer.party, held)
            return 0
    if response.status_code != 200:
        _failed(
            node, state, f"{peer.party} answered {response.status_code}: {response.text[:300]}", now
        )
        return 0
    try:
        receipt = _parse_receipt(response.json(), node.party)
        signed = SignedCheckpoint.from_text(str(payload["checkpoint"]))
        if receipt.size != end:
            raise VerificationError(f"receipt is for size {receipt.size}, not {end}")
        receipt.cosignature.verify(signed.checkpoint, peer.key)
    except (DetenteError, ValueError, KeyError, TypeError) as e:
        _failed(node, state, f"{peer.party} sent an invalid receipt: {e}", now)
        return 0
    stamp = receipt.cosignature
    with node.database.engine.begin() as conn:
        existing = [c for c in LogStore(conn, node.party).cosignatures() if c.size == end]
        if not any(c.cosigner == stamp.name for c in existing):
            LogStore(conn, node.party).add_cosignature(
                end, stamp.name, stamp.timestamp, stamp.to_line()
            )
        _save(
            conn,
            peer.party,
            delivered_size=end,
            receipted_size=max(state.receipted_size, end),
            attempts=0,
            next_attempt_at=None,
            last_error=None,
            last_contact_at=format_time(now),
        )
    return end - start


def _held_size(response: httpx.Response) -> int | None:
    try:
        held = response.json().get("held")
    except ValueError:
        return None
    return held if isinstance(held, int) and held >= 0 else None


def _parse_receipt(data: object, party: str) -> Receipt:
    if not isinstance(data, dict):
        raise ValueError("receipt is not a JSON object")
    if data.get("party") != party:
        raise ValueError(f"receipt is for party {data.get('party')!r}")
    size = data.get("size")
    if not isinstance(size, int):
        raise ValueError("receipt size is not an integer")
    return Receipt(
        party=party,
        size=size,
        cosignature=Cosignature.from_line(str(data.get("cosignature"))),
        repeat=bool(data.get("repeat")),
    )


def _failed(node: Node, state: DeliveryState, error: str, now: datetime) -> None:
    attempts = state.attempts + 1
    retry = now + timedelta(seconds=backoff(attempts))
    log.warning("delivery to %s failed (attempt %d): %s", state.peer, attempts, error)
    with node.database.engine.begin() as conn:
        _save(
            conn,
            state.peer,
            attempts=attempts,
            next_attempt_at=format_time(retry),
            last_error=error[:1000],
        )


class Sender:
    """A background thread delivering every peer's backlog, woken on each submit."""

    def __init__(
        self,
        node: Node,
        *,
        client: httpx.Client,
        interval: float = 1.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._node = node
        self._client = client
        self._interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start delivering in the background."""
        self._thread = threading.Thread(target=self._loop, name="detente-sender", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the delivery in progress."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def close(self) -> None:
        """Stop, and close the HTTP client."""
        self.stop()
        self._client.close()

    def wake(self) -> None:
        """Deliver now (a message was just appended)."""
        self._wake.set()

    def run_once(self) -> int:
        """Deliver whatever is due to every peer; return entries receipted."""
        node = self._node
        now = node.clock()
        with node.database.engine.connect() as conn:
            states = delivery_states(conn, node)
        total = 0
        for peer in node.config.peers:
            state = states[peer.party]
            if state.next_attempt_at and parse_time(state.next_attempt_at) > now:
                continue
            while not self._stop.is_set():
                done = deliver_once(node, peer, self._client)
                total += done
                if done == 0:
                    break
        return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - the sender must outlive any one failure
                log.exception("sender loop failed; retrying")
            self._wake.wait(self._interval)
            self._wake.clear()
