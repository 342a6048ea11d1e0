"""Close-approach screening on a node: reports in, alerts out, incident reports drafted.

A :class:`TrackService` runs in the serving process. Reports arrive from
the feeds ``tracks.toml`` names (:mod:`detente.node.feeds`) or from
``POST /v1/tracks/reports``; each is screened at once against every other
party's units (:class:`~detente.tracks.incremental.Screener`), and every
pair again every ``sweep_seconds``, for approaches that enter the horizon
as time passes. Ships are screened under the agreement's ``sea``
thresholds, pairs with an aircraft under ``air``
(:meth:`~detente.agreement.IncidentThresholds.for_pair`).

Alerts (:class:`~detente.tracks.alerts.AlertBook`) are written as they
change: a ``track_alerts`` row per raising of a pair, and a
``track_alert_events`` row per event with the two reports that caused it,
so the call can be recomputed from what the node had. A raised alert holds
a draft incident report, prefilled with the units, the predicted geometry
and the ``screening`` object (:mod:`detente.tracks.recompute`), which an
operator sends (:func:`send_alert`) or dismisses (:func:`dismiss_alert`).

Tracks live in memory: a node that restarts starts with an empty picture
and clears the alerts left raised (reason ``restart``); the alert rows and
their events stay.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
from sqlalchemy import Connection, insert, select, update

from detente.agreement import ApproachThresholds
from detente.agreement.hotline import INCIDENT_REPORT_TYPE
from detente.errors import BodyError, ConfigError, ConflictError, InputError, NotFoundError
from detente.node.alarms import raise_alarm
from detente.node.directory import Node
from detente.node.feeds import TracksConfig, load_registry, load_tracks_config, open_source
from detente.node.operators import Operator
from detente.node.releases import needs_release, propose
from detente.node.writer import AppendResult, Draft, LogWriter
from detente.record.envelope import Envelope, format_time
from detente.store.logs import LogStore
from detente.store.schema import track_alert_events, track_alerts
from detente.tracks import geodesy
from detente.tracks.alerts import AlertBook, AlertEvent, EventKind
from detente.tracks.incremental import Geometry, Screener
from detente.tracks.quarantine import Quarantine, Rejection
from detente.tracks.recompute import predicted_positions, recompute, track_from_json
from detente.tracks.report import ReportError, TrackReport
from detente.tracks.screen import Thresholds
from detente.tracks.sources import Feed

__all__ = [
    "DOMAINS",
    "TrackService",
    "alert_json",
    "dismiss_alert",
    "draft_incident",
    "get_alert",
    "list_alerts",
    "recompute_incident",
    "send_alert",
]

log = logging.getLogger("detente.tracks")

#: The two kinds of pair screened apart: ships (and units that are not aircraft), and
#: pairs with an aircraft in them.
DOMAINS: Final = ("sea", "air")
#: How far ahead of the node's clock a report's time may be (a feed's clock is not ours).
FUTURE_SKEW: Final = timedelta(seconds=60)
#: Most units held at once; more is refused as ``too_many_units``.
MAX_UNITS: Final = 500_000


@dataclass
class _Domain:
    name: str
    thresholds: ApproachThresholds
    screener: Screener
    book: AlertBook


def _screen_thresholds(t: ApproachThresholds) -> Thresholds:
    return Thresholds(
        horizontal_m=float(t.horizontal_metres),
        horizon_s=float(t.horizon_seconds),
        vertical_m=None if t.vertical_metres is None else float(t.vertical_metres),
    )


class TrackService:
    """The node's picture of ships and aircraft, its alerts, and its feeds.

    Raises:
        ConfigError: the agreement sets no ``incident_thresholds``, or
            ``tracks.toml`` or the registry is invalid.
    """

    def __init__(self, node: Node, *, config: TracksConfig | None = None) -> None:
        thresholds = node.agreement.incident_thresholds
        if thresholds is None:
            raise ConfigError(f"{node.agreement.name} sets no incident_thresholds to screen by")
        self.node = node
        self.config = config if config is not None else load_tracks_config(node.directory)
        self.registry = load_registry(node.directory, self.config)
        self.quarantine = Quarantine()
        self._lock = threading.RLock()
        self._latest: dict[str, TrackReport] = {}
        self._domains: dict[str, _Domain] = {}
        for name in DOMAINS:
            t = thresholds.for_pair(aircraft=name == "air")
            screen = _screen_thresholds(t)
            book = AlertBook(screen)
            screener = Screener(
                screen,
                watch_m=book.watch_m,
                watch_vertical_m=book.watch_vertical_m,
                max_age_s=self.config.max_age_seconds,
            )
            self._domains[name] = _Domain(name, t, screener, book)
        self._open: dict[tuple[str, str, str], int] = {}
        self.feeds: list[Feed] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_sweep = 0.0
        self._silent: dict[str, bool] = {}
        #: Grows with every report taken and every alert event: what a console watches.
        self.version = 0
        self._clear_left_raised()

    # --- reports ---------------------------------------------------------------

    def submit(self, report: TrackReport) -> list[AlertEvent]:
        """Screen one report; the alert events it caused, already written.

        Raises:
            ReportError: ``future_time`` or ``stale`` for a report whose time is
                too far ahead of the node's clock or older than
                ``max_age_seconds``, ``too_many_units`` past :data:`MAX_UNITS`.
        """
        now = self.node.clock()
        if report.time > now + FUTURE_SKEW:
            raise ReportError(
                "future_time",
                f"{report.id}: time {format_time(report.time)} is ahead of this node's clock "
                f"({format_time(now)}) by more than {FUTURE_SKEW.total_seconds():g} s",
            )
        age = (now - report.time).total_seconds()
        if age > self.config.max_age_seconds:
            raise ReportError(
                "stale",
                f"{report.id}: time {format_time(report.time)} is {age:.0f} s old "
                f"(stale after {self.config.max_age_seconds:g} s)",
            )
        with self._lock:
            held = self._latest.get(report.id)
            if held is not None and held.time > report.time:
                return []  # an older report arriving late: the newer one stands
            if held is None and len(self._latest) >= MAX_UNITS:
                raise ReportError("too_many_units", f"more than {MAX_UNITS} units held")
            if report.received is None:
                report = _with_received(report, now)
            self._latest[report.id] = report
            self.version += 1
            # Screened from now, as the sweep is: a late report's unit is moved on to now.
            at = max(now, report.time).timestamp()
            events: list[tuple[str, AlertEvent]] = []
            for domain in self._domains.values():
                if domain.name == "sea" and report.kind == "aircraft":
                    if domain.screener.remove(report.id):
                        events += [
                            ("sea", e)
                            for e in domain.book.drop([report.id], at=at, reason="domain")
                        ]
                    continue
                pairs = domain.screener.update(
                    report.id,
                    party=report.party,
                    lat=report.lat,
                    lon=report.lon,
                    course_deg=report.course_deg,
                    speed_mps=report.speed_mps,
                    time=report.time.timestamp(),
                    alt_m=report.alt_m,
                    now=at,
                )
                if domain.name == "air":
                    pairs = [g for g in pairs if self._has_aircraft(g)]
                events += [(domain.name, e) for e in domain.book.observe(report.id, pairs, at=at)]
            self._record(events)
        if events:
            self.node.bell.ring()
        return [e for _, e in events]

    def submit_rejected(self, rejection: Rejection) -> None:
        """Count a report refused before it reached :meth:`submit` (an API body, say)."""
        self.quarantine.add(rejection)

    def _has_aircraft(self, g: Geometry) -> bool:
        a, b = self._latest.get(g.a), self._latest.get(g.b)
        return any(r is not None and r.kind == "aircraft" for r in (a, b))

    # --- time passing ------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> list[AlertEvent]:
        """Drop stale units, screen every pair if a sweep is due, watch the feeds."""
        now = now or self.node.clock()
        at = now.timestamp()
        events: list[tuple[str, AlertEvent]] = []
        with self._lock:
            for domain in self._domains.values():
                stale = domain.screener.expire(at)
                events += [(domain.name, e) for e in domain.book.drop(stale, at=at)]
            if at - self._last_sweep >= self.config.sweep_seconds:
                self._last_sweep = at
                for domain in self._domains.values():
                    pairs = list(domain.screener.screen_all(at))
                    if domain.name == "air":
                        pairs = [g for g in pairs if self._has_aircraft(g)]
                    events += [(domain.name, e) for e in domain.book.sweep(pairs, at=at)]
            # Written while the stale units' reports are still held: each event keeps them.
            self._record(events)
            held = {u for d in self._domains.values() for u in d.screener.parties()}
            for unit in [u for u in self._latest if u not in held]:
                del self._latest[unit]
            if events:
                self.version += 1
        self._watch_feeds(now)
        if events:
            self.node.bell.ring()
        return [e for _, e in events]

    def _watch_feeds(self, now: datetime) -> None:
        for feed, cfg in zip(self.feeds, self.config.feeds, strict=True):
            silent = feed.silent_for(now)
            if silent.total_seconds() >= cfg.silent_after_seconds:
                if not self._silent.get(cfg.name):
                    self._silent[cfg.name] = True
                    stats = feed.stats()
                    since = format_time(stats.last_report) if stats.last_report else "its start"
                    raise_alarm(
                        self.node,
                        kind="feed_silent",
                        party=self.node.party,
                        detail=f"feed {cfg.name} ({cfg.source}): no good report since {since} "
                        f"({stats.quarantined} lines quarantined)",
                    )
            else:
                self._silent[cfg.name] = False

    # --- the picture ---------------------------------------------------------------

    def units(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Every unit held: its latest report and where it is now, moved on from it."""
        now = now or self.node.clock()
        with self._lock:
            reports = sorted(self._latest.values(), key=lambda r: r.id)
        if not reports:
            return []
        here = predicted_positions(reports, now)
        out = []
        for report, (lat, lon) in zip(reports, here, strict=True):
            item = report.to_json()
            item["now"] = {"lat": lat, "lon": lon}
            item["age_s"] = max((now - report.time).total_seconds(), 0.0)
            out.append(item)
        return out

    def feed_status(self) -> list[dict[str, Any]]:
        """Each feed's counts, how long it has been silent, and the quarantine."""
        now = self.node.clock()
        out = []
        for feed, cfg in zip(self.feeds, self.config.feeds, strict=True):
            stats = feed.stats()
            out.append(
                {
                    "name": cfg.name,
                    "format": cfg.format,
                    "source": cfg.source,
                    "running": feed.running,
                    "lines": stats.lines,
                    "reports": stats.reports,
                    "quarantined": stats.quarantined,
                    "last_report": None
                    if stats.last_report is None
                    else format_time(stats.last_report),
                    "silent_s": feed.silent_for(now).total_seconds(),
                    "silent_after_s": cfg.silent_after_seconds,
                }
            )
        return out

    def quarantine_json(self, limit: int = 100) -> dict[str, Any]:
        """What was refused: counts by reason and the newest refusals."""
        return {
            "total": self.quarantine.total,
            "by_reason": self.quarantine.counts,
            "recent": [
                {
                    "source": r.source,
                    "line": r.line,
                    "reason": r.reason,
                    "detail": r.detail,
                    "raw": r.raw,
                    "received": None if r.received is None else format_time(r.received),
                }
                for r in self.quarantine.recent(limit)
            ],
        }

    # --- running ------------------------------------------------------------------

    def start(self, *, interval: float = 1.0) -> None:
        """Start the feeds and the ticking thread; on a failure, stop what was started.

        Raises:
            ConfigError: a feed's source cannot be opened (a UDP port taken, say).
        """
        sources = []
        try:
            for cfg in self.config.feeds:
                sources.append(open_source(cfg, self.node.directory, clock=self.node.clock))
        except BaseException:
            for source in sources:
                source.close()
            raise
        for cfg, source in zip(self.config.feeds, sources, strict=True):
            feed = Feed(
                cfg.name,
                source,
                format=cfg.format,
                registry=self.registry,
                quarantine=self.quarantine,
                on_report=self._from_feed,
                clock=self.node.clock,
            )
            self.feeds.append(feed)
            feed.start()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(interval,), name="detente-tracks", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the feeds and the thread."""
        self._stop.set()
        for feed in self.feeds:
            feed.stop(timeout)
        if self._thread is not None:
            self._thread.join(timeout)

    def _from_feed(self, report: TrackReport) -> bool:
        """Screen a feed's report; False if refused (a feed of refused reports is silent)."""
        try:
            self.submit(report)
            return True
        except ReportError as e:
            self.quarantine.add(
                Rejection.of(
                    source=report.source or "feed",
                    line=0,
                    reason=e.reason,
                    detail=e.detail,
                    raw=json.dumps(report.to_json()),
                    received=report.received,
                )
            )
            return False

    def _loop(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - screening must outlive any one failure
                log.exception("track screening failed; retrying")
            self._stop.wait(interval)

    # --- the record of alerts ---------------------------------------------------------

    def _clear_left_raised(self) -> None:
        now = format_time(self.node.clock())
        with self.node.database.engine.begin() as conn:
            left = conn.execute(
                select(track_alerts.c.id).where(track_alerts.c.state == "raised")
            ).all()
            for (alert_id,) in left:
                conn.execute(
                    update(track_alerts)
                    .where(track_alerts.c.id == alert_id)
                    .values(state="cleared", cleared_at=now, clear_reason="restart")
                )
                conn.execute(
                    insert(track_alert_events).values(
                        alert_id=alert_id, kind="cleared", at=now, reason="restart", tracks="[]"
                    )
                )

    def _tracks(self, g_a: str, g_b: str) -> list[dict[str, Any]]:
        return [self._latest[u].to_json() for u in (g_a, g_b) if u in self._latest]

    def _record(self, events: Sequence[tuple[str, AlertEvent]]) -> None:
        if not events:
            return
        with self.node.database.engine.begin() as conn:
            for domain, event in events:
                self._record_one(conn, domain, event)

    def _record_one(self, conn: Connection, domain: str, e: AlertEvent) -> None:
        key = (domain, e.a, e.b)
        at = format_time(datetime.fromtimestamp(e.at, UTC))
        tracks = self._tracks(e.a, e.b)
        if e.kind is EventKind.raised:
            t = self._domains[domain].thresholds
            parties = [self._latest[u].party if u in self._latest else "" for u in (e.a, e.b)]
            result = conn.execute(
                insert(track_alerts).values(
                    a=e.a,
                    b=e.b,
                    party_a=parties[0],
                    party_b=parties[1],
                    domain=domain,
                    state="raised",
                    raised_at=at,
                    updated_at=at,
                    tcpa_s=e.tcpa_s,
                    dcpa_m=e.dcpa_m,
                    dalt_m=e.dalt_m,
                    thresholds=json.dumps(_thresholds_json(t)),
                    tracks=json.dumps(tracks),
                    draft_state="open",
                )
            )
            primary = result.inserted_primary_key
            alert_id = int(primary[0]) if primary is not None else 0
            self._open[key] = alert_id
            log.warning(
                "close approach: %s (%s) and %s (%s), %.0f m in %.0f s (alert %d)",
                e.a,
                parties[0],
                e.b,
                parties[1],
                e.dcpa_m or 0,
                e.tcpa_s or 0,
                alert_id,
            )
        else:
            found = self._open.get(key)
            if found is None:
                return
            alert_id = found
            values: dict[str, Any] = {"updated_at": at}
            if e.kind is EventKind.updated:
                values.update(tcpa_s=e.tcpa_s, dcpa_m=e.dcpa_m, dalt_m=e.dalt_m)
                values["tracks"] = json.dumps(tracks)
            else:
                # updated_at stays the instant of the last call: the draft is built from it.
                del values["updated_at"]
                values.update(state="cleared", cleared_at=at, clear_reason=e.reason or "clear")
                del self._open[key]
            conn.execute(update(track_alerts).where(track_alerts.c.id == alert_id).values(**values))
        conn.execute(
            insert(track_alert_events).values(
                alert_id=alert_id,
                kind=e.kind.value,
                at=at,
                tcpa_s=e.tcpa_s,
                dcpa_m=e.dcpa_m,
                dalt_m=e.dalt_m,
                reason=e.reason or None,
                tracks=json.dumps(tracks),
            )
        )


def _with_received(report: TrackReport, now: datetime) -> TrackReport:
    return TrackReport(
        id=report.id,
        party=report.party,
        time=report.time,
        lat=report.lat,
        lon=report.lon,
        course_deg=report.course_deg,
        speed_mps=report.speed_mps,
        alt_m=report.alt_m,
        kind=report.kind,
        received=now,
        source=report.source or "api",
        name=report.name,
    )


def _thresholds_json(t: ApproachThresholds) -> dict[str, float]:
    out = {"horizontal_m": float(t.horizontal_metres), "horizon_s": float(t.horizon_seconds)}
    if t.vertical_metres is not None:
        out["vertical_m"] = float(t.vertical_metres)
    return out


# --- alerts as stored: listing, drafting, sending, dismissing ------------------------------


def alert_json(row: Any) -> dict[str, Any]:
    """One ``track_alerts`` row as the API shows it."""
    return {
        "id": row.id,
        "a": row.a,
        "b": row.b,
        "parties": [row.party_a, row.party_b],
        "domain": row.domain,
        "state": row.state,
        "raised_at": row.raised_at,
        "updated_at": row.updated_at,
        "cleared_at": row.cleared_at,
        "clear_reason": row.clear_reason,
        "tcpa_s": row.tcpa_s,
        "dcpa_m": row.dcpa_m,
        "dalt_m": row.dalt_m,
        "thresholds": json.loads(row.thresholds),
        "tracks": json.loads(row.tracks),
        "draft": {
            "state": row.draft_state,
            "ref": row.draft_ref,
            "by": row.decided_by,
            "at": row.decided_at,
        },
    }


def list_alerts(node: Node, *, state: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """The newest alerts first; ``state`` is ``raised`` or ``cleared``."""
    query = select(track_alerts).order_by(track_alerts.c.id.desc()).limit(limit)
    if state is not None:
        if state not in ("raised", "cleared"):
            raise InputError(f"state {state!r}: use raised or cleared")
        query = query.where(track_alerts.c.state == state)
    with node.database.engine.connect() as conn:
        return [alert_json(r) for r in conn.execute(query)]


def get_alert(node: Node, alert_id: int, *, events: bool = True) -> dict[str, Any]:
    """One alert with its events (each with the reports that caused it).

    Raises:
        NotFoundError: no such alert.
    """
    with node.database.engine.connect() as conn:
        row = conn.execute(select(track_alerts).where(track_alerts.c.id == alert_id)).first()
        if row is None:
            raise NotFoundError(f"alert {alert_id}: no such alert")
        out = alert_json(row)
        if events:
            out["events"] = [
                {
                    "kind": ev.kind,
                    "at": ev.at,
                    "tcpa_s": ev.tcpa_s,
                    "dcpa_m": ev.dcpa_m,
                    "dalt_m": ev.dalt_m,
                    "reason": ev.reason,
                    "tracks": json.loads(ev.tracks),
                }
                for ev in conn.execute(
                    select(track_alert_events)
                    .where(track_alert_events.c.alert_id == alert_id)
                    .order_by(track_alert_events.c.id)
                )
            ]
    return out


def draft_incident(node: Node, alert: dict[str, Any]) -> dict[str, Any]:
    """The incident report an alert drafts: body, recipients, priority.

    The body is the ``incident-report`` of ``incsea-1972`` with its
    ``screening`` object, the position the midpoint of the two units at the
    predicted closest approach.
    """
    tracks = alert["tracks"]
    if len(tracks) != 2:
        raise ConflictError(f"alert {alert['id']}: the reports behind it are not both held")
    reports = [track_from_json(t, f"alert.tracks[{i}]") for i, t in enumerate(tracks)]
    at = datetime.fromisoformat(alert["updated_at"].replace("Z", "+00:00"))
    cpa = at + timedelta(seconds=float(alert["tcpa_s"]))
    where = predicted_positions(reports, cpa)
    mid = geodesy.ecef(np.array([p[0] for p in where]), np.array([p[1] for p in where])).mean(
        axis=0
    )
    lat, lon = geodesy.to_latlon(mid[None, :])
    units = [
        {
            "party": r.party,
            "name": r.name or r.id,
            "id": r.id,
            "kind": "aircraft" if r.kind == "aircraft" else "ship" if r.kind == "ship" else "other",
        }
        for r in reports
    ]
    dalt = alert["dalt_m"]
    a, b = (f"{r.name} ({r.id}, {r.party})" if r.name else f"{r.id} ({r.party})" for r in reports)
    account = (
        f"Predicted close approach: {a} and {b} to {alert['dcpa_m']:.0f} m at {format_time(cpa)}"
        + (f", {dalt:.0f} m apart in height" if dalt is not None else "")
        + f"; screened at {alert['updated_at']} against {alert['thresholds']['horizontal_m']:g} m "
        f"within {alert['thresholds']['horizon_s']:g} s. The positions and the geometry are "
        "attached (screening)."
    )
    screening: dict[str, Any] = {
        "at": alert["updated_at"],
        "tcpa_s": float(alert["tcpa_s"]),
        "dcpa_m": float(alert["dcpa_m"]),
        "thresholds": alert["thresholds"],
        "tracks": tracks,
    }
    if dalt is not None:
        screening["dalt_m"] = float(dalt)
    body = {
        "kind": "air" if alert["domain"] == "air" else "sea",
        "at": format_time(cpa),
        "position": {"lat": round(float(lat[0]), 6), "lon": round(float(lon[0]), 6)},
        "units": units,
        "account": account,
        "screening": screening,
    }
    others = {p for p in alert["parties"] if p and p != node.party}
    return {"type": INCIDENT_REPORT_TYPE, "body": body, "to": sorted(others)}


def _claim(node: Node, alert_id: int, *, state: str, by: str, ref: str | None = None) -> None:
    """Move an open draft to ``state`` (only an open one: two operators cannot both)."""
    with node.database.engine.begin() as conn:
        row = conn.execute(select(track_alerts).where(track_alerts.c.id == alert_id)).first()
        if row is None:
            raise NotFoundError(f"alert {alert_id}: no such alert")
        done = conn.execute(
            update(track_alerts)
            .where(track_alerts.c.id == alert_id, track_alerts.c.draft_state == "open")
            .values(
                draft_state=state,
                draft_ref=ref,
                decided_by=by,
                decided_at=format_time(node.clock()),
            )
        )
        if done.rowcount != 1:
            raise ConflictError(
                f"alert {alert_id}: its draft was {row.draft_state} already"
                + (f" ({row.draft_ref})" if row.draft_ref else "")
            )


def _settle(node: Node, alert_id: int, *, state: str, ref: str | None) -> None:
    with node.database.engine.begin() as conn:
        values: dict[str, Any] = {"draft_state": state, "draft_ref": ref}
        if state == "open":
            values.update(decided_by=None, decided_at=None)
        conn.execute(update(track_alerts).where(track_alerts.c.id == alert_id).values(**values))


def dismiss_alert(node: Node, alert_id: int, *, by: str) -> dict[str, Any]:
    """Dismiss an alert's draft: no incident report is sent for it.

    Raises:
        NotFoundError: no such alert.
        ConflictError: its draft was sent or dismissed already.
    """
    _claim(node, alert_id, state="dismissed", by=by)
    return get_alert(node, alert_id, events=False)


def send_alert(
    node: Node,
    alert_id: int,
    *,
    by: Operator,
    account: str | None = None,
    exercise: bool = False,
) -> tuple[dict[str, Any], AppendResult | None]:
    """Send the alert's drafted incident report, or propose it under two-person release.

    ``account`` replaces the drafted account. Returns the alert and what was
    appended (None when proposed for release).

    Raises:
        NotFoundError: no such alert.
        ConflictError: its draft was sent, proposed or dismissed already.
    """
    alert = get_alert(node, alert_id, events=False)
    drafted = draft_incident(node, alert)
    body = drafted["body"]
    if account:
        body["account"] = account
    to = tuple(drafted["to"]) or tuple(sorted(p.party for p in node.config.peers if not p.witness))
    draft = Draft(type=INCIDENT_REPORT_TYPE, body=body, to=to, exercise=exercise)
    _claim(node, alert_id, state="sending", by=by.name)
    try:
        if needs_release(node, INCIDENT_REPORT_TYPE):
            release = propose(node, draft, by=by)
            _settle(node, alert_id, state="proposed", ref=f"release:{release.id}")
            return get_alert(node, alert_id, events=False), None
        result = LogWriter(node).append([draft])
    except BaseException:
        _settle(node, alert_id, state="open", ref=None)
        raise
    seq = result.envelopes[0].header.seq
    _settle(node, alert_id, state="sent", ref=f"{node.party}:{seq}")
    return get_alert(node, alert_id, events=False), result


def recompute_incident(node: Node, ref: str) -> dict[str, Any]:
    """Recompute the close approach an incident report held here carries (``party:seq``).

    Raises:
        NotFoundError: the node holds no such entry or not its body.
        BodyError: it is not an incident report with a ``screening`` object,
            or that object lacks what a recomputation needs.
    """
    party, _, seq_text = ref.partition(":")
    if not seq_text.isdigit():
        raise InputError(f"{ref!r}: a message is named party:seq")
    seq = int(seq_text)
    with node.database.engine.connect() as conn:
        log_store = LogStore(conn, party)
        leaf = log_store.leaf(seq)
        raw = log_store.body(seq)
    if leaf is None:
        raise NotFoundError(f"{ref}: no such message held here")
    header = Envelope.from_leaf(leaf).header
    if header.type != INCIDENT_REPORT_TYPE:
        raise BodyError(f"{ref}: a {header.type}, not an incident report")
    if raw is None:
        raise NotFoundError(f"{ref}: its body is not held here (it was not addressed to us)")
    body = json.loads(raw)
    screening = body.get("screening")
    if not isinstance(screening, dict):
        raise BodyError(f"{ref}: the incident report carries no screening to recompute")
    again = recompute(screening)
    return {
        "ref": ref,
        "reported": {"tcpa_s": screening.get("tcpa_s"), "dcpa_m": screening.get("dcpa_m")},
        "recomputed": again.to_json(),
        "thresholds": screening.get("thresholds"),
        "at": screening.get("at"),
    }
