"""Delivering this node's log to each peer until the peer receipts it.

The log is the outbox (ADR 0003): appending an envelope is already the
durable record that it must go to every peer, and a peer's backlog is every
entry from its send cursor (``deliveries.delivered_size``) on. The sender
delivers each backlog in order, in runs that end at one of this node's
signed checkpoints, and takes the peer's cosignature on that checkpoint as
the receipt. Failures back off exponentially per peer; nothing is dropped.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Connection, select

from detente.agreement.system import gets_body
from detente.errors import DetenteError, VerificationError
from detente.exchange.deliveries import (
    DeliveryState,
    delivery_states,
    error_kind,
    held_size,
    save_delivery,
)
from detente.exchange.gossip import gossip_round
from detente.exchange.parts import PART_BYTES, upload_parts
from detente.exchange.peerkeys import cosigner_key
from detente.exchange.priority import deliver_ahead, peers_waiting
from detente.exchange.receive import Receipt, wire_entry
from detente.node.directory import Node, Peer
from detente.record.checkpoint import Cosignature, SignedCheckpoint
from detente.record.envelope import LANE_PRIORITIES, Envelope, format_time, parse_time
from detente.store.logs import LogStore
from detente.store.schema import checkpoints

__all__ = ["DeliveryState", "Sender", "backoff", "deliver_once", "delivery_states"]

log = logging.getLogger("detente.exchange")

MAX_RUN = 500
# Well under the peer's 32 MiB request limit once base64 and JSON are added.
RUN_BYTES = 8 * 1024 * 1024
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 60.0
# A FLASH message waits at most this long between attempts on the lane.
_LANE_RETRY_CAP = 5.0
# How long the ordinary delivery holds back while a FLASH message is on the lane.
_LANE_PRECEDENCE = 1.0


def backoff(attempts: int, *, rng: random.Random | None = None) -> float:
    """Seconds to wait after ``attempts`` failures: exponential, capped, with jitter."""
    delay: float = min(_BACKOFF_CAP, _BACKOFF_BASE * (1 << min(max(0, attempts - 1), 16)))
    jitter: float = (rng or random).random()  # noqa: S311 - jitter, not secrecy
    return delay * (0.8 + 0.4 * jitter)


@dataclass(frozen=True)
class _Run:
    payload: dict[str, object]
    end: int
    checkpoint_size: int
    # Bodies above PART_BYTES, sent ahead in parts: (seq, body).
    staged: list[tuple[int, bytes]]

    @property
    def complete(self) -> bool:
        return self.end == self.checkpoint_size


def _plan_run(conn: Connection, node: Node, peer: Peer, start: int) -> _Run | None:
    """The next run from ``start``: at most MAX_RUN entries and RUN_BYTES bytes.

    A run ends at one of this node's signed checkpoints when one falls
    within it, so the peer can verify and receipt it at once; otherwise it
    stops short and names the next checkpoint, and the peer stores it and
    receipts when the rest arrives.
    """
    sizes = [
        int(s)
        for s in conn.execute(
            select(checkpoints.c.size)
            .where(checkpoints.c.party == node.party, checkpoints.c.size > start)
            .order_by(checkpoints.c.size)
        ).scalars()
    ]
    if not sizes:
        return None
    entries: list[dict[str, object]] = []
    staged: list[tuple[int, bytes]] = []
    budget = RUN_BYTES
    for batch in LogStore(conn, node.party).iter_entries(start, start + MAX_RUN, chunk=MAX_RUN):
        for row in batch:
            node.lane_gate.wait()  # a FLASH message on the lane goes first
            header = Envelope.from_leaf(row.leaf).header
            body = (
                row.body if gets_body(type_id=header.type, to=header.to, node=peer.party) else None
            )
            large = body is not None and len(body) > PART_BYTES
            cost = len(row.leaf) + (len(body) if body is not None and not large else 0)
            if entries and cost > budget:
                break
            budget -= cost
            if large and body is not None:
                staged.append((row.seq, body))
            entries.append(wire_entry(row.leaf, body, staged=large))
    if not entries:
        return None
    reach = start + len(entries)
    within = [size for size in sizes if size <= reach]
    checkpoint_size = within[-1] if within else next(s for s in sizes if s >= reach)
    end = checkpoint_size if within else reach
    held = LogStore(conn, node.party).checkpoint(checkpoint_size)
    if held is None:  # pragma: no cover - the size was read from the same table
        raise VerificationError(f"no checkpoint of size {checkpoint_size}")
    payload: dict[str, object] = {
        "sender": node.party,
        "checkpoint": held[1],
        "entries": entries[: end - start],
    }
    return _Run(
        payload=payload,
        end=end,
        checkpoint_size=checkpoint_size,
        staged=[(seq, body) for seq, body in staged if seq < end],
    )


def deliver_once(
    node: Node, peer: Peer, client: httpx.Client, *, in_flight: dict[str, int] | None = None
) -> int:
    """Send one run of the backlog to ``peer``; return how many entries it took.

    Never raises for the peer's or the network's failures: they are recorded
    in the peer's delivery state with the next attempt time. While the run
    is on its way its end is in ``in_flight``, for the priority lane: the
    peer may hold it before this node knows.
    """
    now = node.clock()
    with node.database.engine.connect() as conn:
        state = delivery_states(conn, node)[peer.party]
        start = state.delivered_size
        run = _plan_run(conn, node, peer, start)
        own_size = LogStore(conn, node.party).size()
    if run is None:
        return 0
    if in_flight is not None:
        in_flight[peer.party] = run.end
    try:
        return _deliver_run(node, peer, client, run, state=state, own_size=own_size, now=now)
    finally:
        if in_flight is not None:
            in_flight.pop(peer.party, None)


def _deliver_run(
    node: Node,
    peer: Peer,
    client: httpx.Client,
    run: _Run,
    *,
    state: DeliveryState,
    own_size: int,
    now: datetime,
) -> int:
    start = state.delivered_size
    try:
        response = _post_run(client, node, peer, run)
    except httpx.HTTPError as e:
        _failed(node, state, f"cannot reach {peer.url}: {type(e).__name__}: {e}", now)
        return 0
    if response.status_code == 409 and error_kind(response) == "SequenceError":
        held = held_size(response)
        if held is not None and held < start and held <= own_size:
            with node.database.engine.begin() as conn:
                save_delivery(
                    conn, peer.party, delivered_size=held, last_contact_at=format_time(now)
                )
            log.info("peer %s holds %s of our log; resuming from there", peer.party, held)
            return 0
    if response.status_code != 200:
        _failed(
            node, state, f"{peer.party} answered {response.status_code}: {response.text[:300]}", now
        )
        return 0
    try:
        receipt = _parse_receipt(response.json(), node.party)
        if receipt.size != run.checkpoint_size:
            raise VerificationError(
                f"receipt is for size {receipt.size}, not {run.checkpoint_size}"
            )
        if receipt.cosignature is None:
            if receipt.held != run.end or run.complete:
                raise VerificationError(f"peer holds {receipt.held} after a run to {run.end}")
        else:
            signed = SignedCheckpoint.from_text(str(run.payload["checkpoint"]))
            cosigner = cosigner_key(node, peer.party, receipt.cosignature)
            receipt.cosignature.verify(signed.checkpoint, cosigner)
    except (DetenteError, ValueError, KeyError, TypeError) as e:
        _failed(node, state, f"{peer.party} sent an invalid receipt: {e}", now)
        return 0
    stamp = receipt.cosignature
    with node.database.engine.begin() as conn:
        values: dict[str, object] = {
            "delivered_size": run.end,
            "attempts": 0,
            "next_attempt_at": None,
            "last_error": None,
            "last_contact_at": format_time(now),
        }
        if stamp is not None:
            own = LogStore(conn, node.party)
            size = run.checkpoint_size
            if own.cosignature(size, stamp.name) is None:
                own.add_cosignature(size, stamp.name, stamp.timestamp, stamp.to_line())
            values["receipted_size"] = max(state.receipted_size, size)
        save_delivery(conn, peer.party, **values)
    return run.end - start


def _post_run(client: httpx.Client, node: Node, peer: Peer, run: _Run) -> httpx.Response:
    """Send the run's large bodies in parts, then the run; the first refusal or the answer."""
    for seq, body in run.staged:
        refused = upload_parts(client, node, peer, seq=seq, body=body)
        if refused is not None:
            return refused
    return client.post(f"{peer.url.rstrip('/')}/v1/peer/envelopes", json=run.payload)


def _parse_receipt(data: object, party: str) -> Receipt:
    if not isinstance(data, dict):
        raise ValueError("receipt is not a JSON object")
    if data.get("party") != party:
        raise ValueError(f"receipt is for party {data.get('party')!r}")
    size = data.get("size")
    if not isinstance(size, int):
        raise ValueError("receipt size is not an integer")
    line = data.get("cosignature")
    held = data.get("held")
    if not isinstance(held, int):
        raise ValueError("receipt held is not an integer")
    return Receipt(
        party=party,
        size=size,
        cosignature=None if line is None else Cosignature.from_line(str(line)),
        held=held,
        repeat=bool(data.get("repeat")),
    )


def _failed(node: Node, state: DeliveryState, error: str, now: datetime) -> None:
    attempts = state.attempts + 1
    retry = now + timedelta(seconds=backoff(attempts))
    log.warning("delivery to %s failed (attempt %d): %s", state.peer, attempts, error)
    with node.database.engine.begin() as conn:
        save_delivery(
            conn,
            state.peer,
            attempts=attempts,
            next_attempt_at=format_time(retry),
            last_error=error[:1000],
        )


class Sender:
    """A background thread delivering every peer's backlog, woken on each submit.

    It rings the node's change bell when a peer took entries or a gossip
    round ended, so that open consoles show receipts and what gossip brought at once.
    """

    def __init__(
        self,
        node: Node,
        *,
        client: httpx.Client,
        interval: float = 1.0,
        gossip_every: float = 5.0,
    ) -> None:
        self._node = node
        self._client = client
        self._interval = interval
        self._gossip_every = gossip_every
        self._last_gossip = 0.0
        self._wake = threading.Event()
        self._lane_wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Per peer: lane failures in a row, and when to try again (monotonic).
        self._lane_retry: dict[str, tuple[int, float]] = {}
        # Set while no FLASH message waits for the lane.
        self._lane_clear = threading.Event()
        self._lane_clear.set()
        # Per peer, the end of the run on its way to it, if any.
        self._in_flight: dict[str, int] = {}

    def start(self) -> None:
        """Start delivering in the background: the backlog, and the priority lane beside it."""
        self._threads = [
            threading.Thread(target=self._loop, name="detente-sender", daemon=True),
            threading.Thread(target=self._lane_loop, name="detente-lane", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the deliveries in progress."""
        self._stop.set()
        self._wake.set()
        self._lane_wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def close(self) -> None:
        """Stop, and close the HTTP client."""
        self.stop()
        self._client.close()

    def wake(self, *, priority: str | None = None) -> None:
        """Deliver now (a message was just appended, at ``priority`` if known)."""
        if priority in LANE_PRIORITIES:
            self._lane_clear.clear()
        if priority is None or priority in LANE_PRIORITIES:
            self._lane_wake.set()
        self._wake.set()

    def run_lane(self) -> int:
        """Deliver every peer's pending FLASH entries ahead of its backlog; return how many."""
        total = 0
        with self._node.database.engine.connect() as conn:
            waiting = peers_waiting(conn)
        for peer in self._node.config.peers:
            failures, retry_at = self._lane_retry.get(peer.party, (0, 0.0))
            if peer.party not in waiting or time.monotonic() < retry_at:
                continue
            with self._node.lane_gate.closed():
                sent, failed = deliver_ahead(
                    self._node, peer, self._client, in_flight=self._in_flight.get(peer.party)
                )
            total += sent
            if failed:
                failures += 1
                wait = min(_LANE_RETRY_CAP, backoff(failures))
                self._lane_retry[peer.party] = (failures, time.monotonic() + wait)
            else:
                self._lane_retry.pop(peer.party, None)
            if sent:
                self._node.bell.ring()  # receipts: open consoles look
        return total

    def _lane_loop(self) -> None:
        while not self._stop.is_set():
            self._lane_wake.clear()
            try:
                self.run_lane()
            except Exception:  # noqa: BLE001 - the lane must outlive any one failure
                log.exception("priority lane failed; retrying")
            finally:
                self._lane_clear.set()
            self._lane_wake.wait(min(self._interval, _LANE_RETRY_CAP))

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
                # A FLASH message waiting for the lane goes first: no new run
                # competes with it for the peer or this process meanwhile.
                self._lane_clear.wait(_LANE_PRECEDENCE)
                done = deliver_once(node, peer, self._client, in_flight=self._in_flight)
                total += done
                if done == 0:
                    break
                node.bell.ring()  # the peer took entries: open consoles look
        return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            # Clear first: a wake() during the round below then starts another.
            self._wake.clear()
            try:
                self.run_once()
                if time.monotonic() - self._last_gossip >= self._gossip_every:
                    self._last_gossip = time.monotonic()
                    gossip_round(self._node, self._client)
                    # What it fetched (checkpoints, cosignatures, alarms): consoles look.
                    self._node.bell.ring()
            except Exception:  # noqa: BLE001 - the sender must outlive any one failure
                log.exception("sender loop failed; retrying")
            self._wake.wait(self._interval)
