"""The inspections fold on hand-built entries: order, quota, reciprocity, sampling, findings."""

from datetime import UTC, datetime, timedelta

from detente.agreement import builtin_agreement
from detente.measures.entry import Entry
from detente.measures.inspections import fold_inspections, quota_state
from detente.measures.sampling import commit_value
from detente.record.envelope import format_time
from detente.record.inventory import ItemRecord, commit

AGREEMENT = builtin_agreement("security-replies-2022")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOST_VALUE = bytes(range(32))
TEAM_VALUE = bytes(range(32, 64))


class Logs:
    """Entries of us and ru, numbered per party, created one minute apart."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.seqs = {"us": 0, "ru": 0}
        self.now = T0

    def add(self, party, type_, body, *, to=None, refs=(), minutes=1, exercise=False):
        self.now += timedelta(minutes=minutes)
        entry = Entry(
            party=party,
            seq=self.seqs[party],
            type=type_,
            created=self.now,
            to=to if to is not None else tuple(p for p in ("us", "ru") if p != party),
            refs=tuple(refs),
            exercise=exercise,
            body=body,
        )
        self.seqs[party] += 1
        self.entries.append(entry)
        return entry.ref

    def fold(self, *, now=None):
        return fold_inspections(AGREEMENT, self.entries, now=now or self.now)


def cells(site="deveselu", *, tamper=None):
    records = [
        ItemRecord(f"{site}-cell-{i:02d}", f"cell {i:02d}", "loaded", "SM-3 Block IIA")
        for i in range(24)
    ]
    salts = [bytes([i]) * 32 for i in range(24)]
    honest = commit(records, salts, site=site)
    if tamper is None:
        return honest, honest
    records[tamper] = ItemRecord(
        f"{site}-cell-{tamper:02d}", f"cell {tamper:02d}", "loaded", "Tomahawk"
    )
    return honest, commit(records, salts, site=site)


def request(logs, party="ru", site="deveselu", kind="aegis-ashore-visit", hours=33, **body):
    arrival = format_time(logs.now + timedelta(hours=hours))
    return logs.add(
        party,
        "inspection-request",
        {"inspection_type": kind, "site": site, "arrival": arrival, "team_size": 8, **body},
    )


def sample(logs, ref, host="us", team="ru", *, reveal=("host", "team")):
    logs.add(
        host,
        "sample-commit",
        {"commitment": commit_value(HOST_VALUE, inspection_id=ref, party=host).hex()},
        refs=[ref],
    )
    logs.add(
        team,
        "sample-commit",
        {"commitment": commit_value(TEAM_VALUE, inspection_id=ref, party=team).hex()},
        refs=[ref],
    )
    if "host" in reveal:
        logs.add(host, "sample-reveal", {"value": HOST_VALUE.hex()}, refs=[ref])
    if "team" in reveal:
        logs.add(team, "sample-reveal", {"value": TEAM_VALUE.hex()}, refs=[ref])


def test_a_whole_visit_from_commitment_to_a_report_signed_by_both() -> None:
    logs = Logs()
    inventory, _ = cells()
    logs.add("us", "inventory-commitment", inventory.published.to_json())
    ref = request(logs)
    sample(logs, ref)
    [visit] = logs.fold()
    assert visit.state == "notice" and visit.seed is not None
    assert len(visit.sample) == len(set(visit.sample)) and 0 < len(visit.sample) <= 24
    logs.add(
        "ru",
        "inspection-step",
        {"step": "arrived", "at": format_time(logs.now + timedelta(hours=33))},
        refs=[ref],
        minutes=33 * 60,
    )
    logs.add(
        "us",
        "inspection-step",
        {"step": "at_site", "at": format_time(logs.now)},
        refs=[ref],
        minutes=120,
    )
    openings = [o.to_json() for o in inventory.open(visit.sample)]
    logs.add("us", "inventory-opening", {"openings": openings}, refs=[ref])
    observed = [
        {"index": i, "status": "loaded", "contents": "SM-3 Block IIA"} for i in visit.sample
    ]
    logs.add("ru", "inspection-findings", {"observed": observed}, refs=[ref])
    [visit] = logs.fold()
    assert visit.state == "reporting" and visit.findings == []
    digest = visit.report_sha256()
    assert digest is not None and visit.report()["sample"] == visit.sample
    logs.add("ru", "inspection-report", {"report_sha256": digest}, refs=[ref])
    [visit] = logs.fold()
    assert visit.state == "reporting"
    logs.add("us", "inspection-report", {"report_sha256": digest}, refs=[ref])
    [visit] = logs.fold()
    assert visit.state == "closed" and visit.overdue == []


def test_an_opening_that_does_not_match_the_commitment_is_a_finding() -> None:
    logs = Logs()
    committed, altered = cells(tamper=None)
    logs.add("us", "inventory-commitment", committed.published.to_json())
    ref = request(logs)
    sample(logs, ref)
    [visit] = logs.fold()
    # The host opens the first sampled cell from another inventory than it committed to.
    _, swapped = cells(tamper=visit.sample[0])
    openings = [o.to_json() for o in committed.open(visit.sample[1:])]
    openings += [o.to_json() for o in swapped.open(visit.sample[:1])]
    logs.add("us", "inventory-opening", {"openings": openings}, refs=[ref])
    observed = [
        {"index": i, "status": "loaded", "contents": "SM-3 Block IIA"} for i in visit.sample
    ]
    logs.add("ru", "inspection-findings", {"observed": observed}, refs=[ref])
    [visit] = logs.fold()
    assert [(f["index"], f["kind"]) for f in visit.findings] == [(visit.sample[0], "unverified")]


def test_the_commitment_must_come_first_and_the_request_fit_its_type() -> None:
    logs = Logs()
    early = request(logs)
    inventory, _ = cells()
    logs.add("us", "inventory-commitment", inventory.published.to_json())
    short = request(logs, hours=10)
    big = logs.add(
        "ru",
        "inspection-request",
        {
            "inspection_type": "aegis-ashore-visit",
            "site": "deveselu",
            "arrival": format_time(logs.now + timedelta(hours=40)),
            "team_size": 30,
        },
    )
    wrong_side = request(logs, party="us", site="deveselu")
    reasons = {v.ref: v.reason for v in logs.fold()}
    assert reasons[early] == "us has no inventory commitment for 'deveselu' before the request"
    assert "less than 32 hours' notice" in reasons[short]
    assert reasons[big] == "team of 30 is larger than 10"
    assert reasons[wrong_side] == "us may not request a aegis-ashore-visit"


def test_quota_and_reciprocity_and_a_reveal_withheld() -> None:
    logs = Logs()
    for site in ("deveselu", "redzikowo"):
        logs.add("us", "inventory-commitment", cells(site)[0].published.to_json())
    logs.add("ru", "inventory-commitment", cells("ru-base-1")[0].published.to_json())
    first = request(logs)
    sample(logs, first)
    # The inspectors saw the host's value, dislike the sample, call it off: it still counts.
    second = request(logs, site="redzikowo")
    sample(logs, second, reveal=("host",))
    logs.add("ru", "inspection-cancel", {"reason": "weather"}, refs=[second])
    third = request(logs)
    visits = {v.ref: v for v in logs.fold()}
    assert visits[second].state == "cancelled" and visits[second].counts_against_quota
    assert visits[third].state == "rejected"
    assert visits[third].reason == (
        "beyond quota (aegis-ashore-visit by ru at us in 2026: 2 of 2 used)"
    )
    # Each counted Russian visit opens the right to one US visit to a Russian base.
    mine = request(logs, party="us", site="ru-base-1", kind="missile-base-visit")
    again = [
        request(logs, party="us", site="ru-base-1", kind="missile-base-visit") for _ in range(2)
    ]
    visits = {v.ref: v for v in logs.fold()}
    assert visits[mine].uses_right and visits[mine].state == "sampling"
    assert visits[again[0]].uses_right
    assert visits[again[1]].state == "rejected" and "0 of 2 rights left" in visits[again[1]].reason
    # The host withholds its reveal past the deadline: forfeited by the host, not counted.
    sample(logs, mine, host="ru", team="us", reveal=())
    [state] = [
        v
        for v in fold_inspections(AGREEMENT, logs.entries, now=logs.now + timedelta(hours=3))
        if v.ref == mine
    ]
    assert (state.state, state.forfeited_by) == ("forfeited", "ru")
    assert not state.counts_against_quota and state.seed is None


def test_a_late_step_is_overdue_on_the_side_that_owes_it() -> None:
    logs = Logs()
    inventory, _ = cells()
    logs.add("us", "inventory-commitment", inventory.published.to_json())
    ref = request(logs)
    sample(logs, ref)
    arrived = logs.now + timedelta(hours=33)
    logs.add(
        "ru",
        "inspection-step",
        {"step": "arrived", "at": format_time(arrived)},
        refs=[ref],
        minutes=33 * 60,
    )
    [visit] = logs.fold(now=arrived + timedelta(hours=8))
    assert visit.state == "transit" and visit.overdue == []
    [visit] = logs.fold(now=arrived + timedelta(hours=9, minutes=1))
    assert [(o.party, o.step) for o in visit.overdue] == [("us", "at_site")]


def test_quota_state_counts_by_year() -> None:
    kind = AGREEMENT.inspection_types["aegis-ashore-visit"]
    state = quota_state(
        AGREEMENT, [], inspection_type=kind, inspecting="ru", inspected="us", day=T0
    )
    assert (state.year, state.per_year, state.left) == (2026, 2, 2)


def test_steps_count_only_from_their_side_in_order() -> None:
    logs = Logs()
    inventory, _ = cells()
    logs.add("us", "inventory-commitment", inventory.published.to_json())
    ref = request(logs)
    planned = logs.now + timedelta(hours=33)
    early = logs.add(
        "ru",
        "inspection-step",
        {"step": "arrived", "at": format_time(planned - timedelta(hours=1))},
        refs=[ref],
    )
    by_host = logs.add(
        "us", "inspection-step", {"step": "arrived", "at": format_time(planned)}, refs=[ref]
    )
    site_first = logs.add(
        "us", "inspection-step", {"step": "at_site", "at": format_time(planned)}, refs=[ref]
    )
    [visit] = logs.fold()
    assert visit.steps == {}
    assert [p.split(":")[0] + ":" + p.split(":")[1] for p in visit.problems] == [
        early,
        by_host,
        site_first,
    ]


def replies_owed(visit):
    return [(o.party, o.step) for o in visit.overdue if o.step == "ambiguity-reply"]


def test_an_ambiguity_is_owed_a_reply_within_seven_days() -> None:
    logs = Logs()
    inventory, _ = cells()
    logs.add("us", "inventory-commitment", inventory.published.to_json())
    ref = request(logs)
    raised = logs.add("ru", "ambiguity", {"text": "cell 07 hatch was sealed"}, refs=[ref])
    raised_at = logs.now
    [visit] = logs.fold(now=raised_at + timedelta(days=7, seconds=-1))
    assert replies_owed(visit) == []
    (ambiguity,) = visit.ambiguities
    assert (ambiguity["ref"], ambiguity["by"], ambiguity["reply"]) == (raised, "ru", None)
    assert ambiguity["due"] == format_time(raised_at + timedelta(days=7))
    [visit] = logs.fold(now=raised_at + timedelta(days=7))  # deadlines are exclusive
    assert replies_owed(visit) == [("us", "ambiguity-reply")]
    # A reply from the side that raised it does not answer it; the host's does.
    logs.add("ru", "ambiguity-reply", {"text": "still sealed"}, refs=[raised])
    [visit] = logs.fold(now=raised_at + timedelta(days=8))
    assert replies_owed(visit) == [("us", "ambiguity-reply")]
    answer = logs.add("us", "ambiguity-reply", {"text": "maintenance seal"}, refs=[raised])
    [visit] = logs.fold(now=raised_at + timedelta(days=8))
    assert replies_owed(visit) == [] and visit.ambiguities[0]["reply"] == answer
    assert visit.ambiguities[0]["late"] is False  # signed minutes after it was raised
    assert visit.ambiguities[0]["reply_text"] == "maintenance seal"
