"""The emergency line across three real nodes (us, nato, ru) with an injected clock.

Every priority's acknowledgement deadline, escalation to the next contact
on both sides, acknowledgements that are not receipts, link tests that stop
arriving, an incident thread from first report to closed, notices given by
telephone while the link was down, and templates read in both languages.
"""

from datetime import timedelta

import pytest

from detente.node.alarms import list_alarms
from detente.node.hotline import watch_line
from detente.node.writer import Draft, LogWriter
from detente.record.envelope import format_time
from tests.fakes.network import make_network


@pytest.fixture
def network(tmp_path, clock, database_url):
    yield from make_network(tmp_path, clock, database_url)


def _auth(network, party):
    return {"Authorization": f"Bearer {network.tokens[party]}"}


def post(network, party, type_, body, **envelope):
    response = network.clients[party].post(
        "/v1/messages",
        json={"type": type_, "body": body, **envelope},
        headers=_auth(network, party),
    )
    return response


def sent(network, party, type_, body, **envelope):
    response = post(network, party, type_, body, **envelope)
    assert response.status_code == 201, response.text
    return response.json()["position"]


def ack(network, party, ref, note=None):
    payload = {"ref": ref} if note is None else {"ref": ref, "note": note}
    return network.clients[party].post(
        "/v1/hotline/acknowledge", json=payload, headers=_auth(network, party)
    )


def line(network, party):
    response = network.clients[party].get("/v1/hotline", headers=_auth(network, party))
    assert response.status_code == 200, response.text
    return response.json()


def deliver(network, *parties):
    for party in parties or tuple(network.senders):
        network.senders[party].run_lane()
        network.senders[party].run_once()


def watch_all(network):
    for node in network.nodes.values():
        watch_line(node)


def owed(view, ref, recipient):
    [found] = [
        a for a in view["acknowledgements"] if a["ref"] == ref and a["recipient"] == recipient
    ]
    return found


def alarms(network, party, kind):
    return [a.detail for a in list_alarms(network.nodes[party]) if a.kind == kind]


def test_every_priority_has_its_deadline_and_escalates_on_both_sides(network, clock):
    watch_all(network)  # each node opens its line with a link test
    deliver(network)
    spans = {"FLASH": 5, "IMMEDIATE": 30, "PRIORITY": 180, "ROUTINE": 24 * 60}  # minutes
    refs = {
        priority: sent(
            network,
            "us",
            "line-message",
            {"text": f"{priority}: test"},
            to=["ru"],
            priority=priority,
        )
        for priority in spans
    }
    received = clock.now
    deliver(network, "us")
    for party in ("us", "ru"):
        view = line(network, party)
        for priority, minutes in spans.items():
            item = owed(view, refs[priority], "ru")
            assert item["state"] == "due", (party, item)
            assert item["priority"] == priority
            assert item["received"] == format_time(received)
            assert item["deadline"] == format_time(received + timedelta(minutes=minutes))
            assert item["contact"] == "NNRRC duty officer"
    # NATO is neither sender nor recipient: it owes and is owed nothing.
    assert line(network, "nato")["acknowledgements"] == []

    clock.advance(minutes=5, seconds=1)
    watch_all(network)
    for party in ("us", "ru"):
        view = line(network, party)
        flash = owed(view, refs["FLASH"], "ru")
        assert (flash["state"], flash["level"], flash["contact"]) == (
            "overdue",
            1,
            "NNRRC duty chief",
        )
        assert owed(view, refs["IMMEDIATE"], "ru")["state"] == "due"
    [ru_alarm] = alarms(network, "ru", "ack_overdue")
    assert ru_alarm.startswith(f"FLASH {refs['FLASH']} from us not acknowledged")
    assert "escalated to NNRRC duty chief (level 1)" in ru_alarm
    [us_alarm] = alarms(network, "us", "ack_overdue")
    assert us_alarm.startswith(f"ru has not acknowledged FLASH {refs['FLASH']}")
    assert "escalated to ru's NNRRC duty chief (level 1)" in us_alarm

    # Another span without an acknowledgement: re-alerted, one contact up.
    clock.advance(minutes=5)
    watch_all(network)
    assert owed(line(network, "ru"), refs["FLASH"], "ru")["contact"] == "General Staff duty general"
    assert len(alarms(network, "ru", "ack_overdue")) == 2
    assert len(alarms(network, "us", "ack_overdue")) == 2
    # Past the last contact, each further span re-alerts the last.
    clock.advance(minutes=5)
    watch_all(network)
    assert len(alarms(network, "ru", "ack_overdue")) == 3
    assert alarms(network, "ru", "ack_overdue")[0].endswith(
        "escalated to General Staff duty general (level 3)"
    )
    watch_all(network)  # the same level again: no new alarm
    assert len(alarms(network, "ru", "ack_overdue")) == 3

    # Each other priority falls overdue exactly at its own deadline.
    for priority in ("IMMEDIATE", "PRIORITY", "ROUTINE"):
        deadline = received + timedelta(minutes=spans[priority])
        clock.now = deadline - timedelta(seconds=1)
        assert owed(line(network, "ru"), refs[priority], "ru")["state"] == "due"
        clock.now = deadline
        assert owed(line(network, "ru"), refs[priority], "ru")["state"] == "overdue"

    # Acknowledged late: late on both sides once the acknowledgement is delivered.
    answer = ack(network, "ru", refs["IMMEDIATE"], note="read by the duty chief")
    assert answer.status_code == 201, answer.text
    deliver(network, "ru")
    for party in ("us", "ru"):
        item = owed(line(network, party), refs["IMMEDIATE"], "ru")
        assert (item["state"], item["by"], item["ack_ref"]) == (
            "late",
            "officer",
            answer.json()["position"],
        )


def test_an_acknowledgement_is_a_signed_message_of_its_own(network, clock):
    flash = sent(
        network,
        "us",
        "line-message",
        {"text": "Aircraft closing"},
        to=["ru", "nato"],
        priority="FLASH",
    )
    deliver(network, "us")
    # The receipt came back at once; nobody has read it yet.
    view = line(network, "us")
    assert owed(view, flash, "ru")["received"] is not None
    assert owed(view, flash, "ru")["state"] == "due"

    clock.advance(minutes=2)
    answer = ack(network, "ru", flash)
    assert answer.status_code == 201, answer.text
    header = answer.json()["header"]
    assert header["type"] == "line-ack"
    assert (header["refs"], header["to"], header["priority"]) == ([flash], ["us"], "FLASH")
    deliver(network, "ru")
    view = line(network, "us")
    assert owed(view, flash, "ru")["state"] == "acknowledged"
    assert owed(view, flash, "ru")["acknowledged_at"] == format_time(clock.now)
    assert owed(view, flash, "nato")["state"] == "due"  # each recipient acknowledges for itself

    again = ack(network, "ru", flash)
    assert again.status_code == 409
    assert f"{flash} was already acknowledged by officer" in again.json()["detail"]
    # Not addressed to the acknowledging party, not a line message, not held: refused.
    private = sent(network, "us", "line-message", {"text": "to ru only"}, to=["ru"])
    deliver(network, "us")
    refused = ack(network, "nato", private)
    assert refused.status_code == 422
    assert "not a line message to nato" in refused.json()["detail"]
    plain = sent(network, "us", "message", {"text": "free text"}, to=["ru"])
    deliver(network, "us")
    not_line = ack(network, "ru", plain)
    assert not_line.status_code == 422 and "not a message on the line" in not_line.text
    assert ack(network, "ru", "us:999").status_code == 404
    assert ack(network, "ru", "not a ref").status_code == 422
    # The generic path refuses an acknowledgement that cites nothing.
    bare = post(network, "ru", "line-ack", {"by": "someone"}, to=["us"])
    assert bare.status_code == 422 and "refs" in bare.json()["detail"]


def test_a_missed_link_test_raises_an_alarm_on_both_sides(network, clock):
    watch_all(network)
    deliver(network)
    for party in network.nodes:
        assert all(link["state"] == "ok" for link in line(network, party)["links"])
    assert {link["party"] for link in line(network, "us")["links"]} == {"nato", "ru"}

    # The link to ru goes down: nothing reaches it, and nothing leaves it.
    network.router.down.add(network.ports["ru"])
    clock.advance(hours=1)
    watch_all(network)  # a test is due from each node
    deliver(network, "us", "nato")
    clock.advance(minutes=5, seconds=1)
    watch_all(network)
    us_side = alarms(network, "us", "link_test")
    assert sorted(d.split(" (")[0].split(" within")[0] for d in us_side) == [
        "link test us:1 to ru not receipted",
        "no link test from ru",
    ]
    ru_side = alarms(network, "ru", "link_test")
    assert sorted(d.split(" (")[0].split(" within")[0] for d in ru_side) == [
        "link test ru:1 to nato not receipted",
        "link test ru:1 to us not receipted",
        "no link test from nato",
        "no link test from us",
    ]
    assert {link["party"]: link["state"] for link in line(network, "ru")["links"]} == {
        "nato": "down",
        "us": "down",
    }
    # NATO and the United States still hear each other.
    assert {link["party"]: link["state"] for link in line(network, "nato")["links"]}["us"] == "ok"

    # The link comes back: the backlog flows, the tests are answered, no new alarm.
    network.router.down.clear()
    deliver(network)
    deliver(network)
    watch_all(network)
    for party in network.nodes:
        states = {link["party"]: link["state"] for link in line(network, party)["links"]}
        assert set(states.values()) == {"ok"}, (party, states)
    assert len(alarms(network, "us", "link_test")) == 2


def test_an_incident_thread_from_first_report_to_closed(network, clock):
    report = sent(
        network,
        "us",
        "incident-report",
        {
            "kind": "air",
            "at": "2026-03-01T11:40:00Z",
            "position": {"lat": 55.3, "lon": 19.8},
            "units": [
                {"party": "us", "name": "USS Donald Cook", "kind": "ship"},
                {"party": "ru", "name": "Su-24 (two aircraft)", "kind": "aircraft"},
            ],
            "account": "Two Su-24 made eleven low passes within 30 m of the ship.",
        },
        to=["ru"],
        priority="FLASH",
    )
    deliver(network, "us")
    assert ack(network, "ru", report).status_code == 201
    account = post(
        network,
        "ru",
        "incident-account",
        {"account": "A routine training flight in international airspace, within the rules."},
        refs=[report],
    )
    assert account.status_code == 201, account.text
    assert account.json()["header"]["to"] == ["us"]  # the sides of the thread
    deliver(network, "ru")
    # NATO was not told of it: it cannot add to a thread it is not a side of.
    refused = post(network, "nato", "incident-account", {"account": "x"}, refs=[report])
    assert refused.status_code == 422
    # Statuses: explained, then closed by one side (still explained), then by both.
    assert (
        post(network, "us", "incident-status", {"status": "explained"}, refs=[report]).status_code
        == 201
    )
    assert (
        post(network, "us", "incident-status", {"status": "closed"}, refs=[report]).status_code
        == 201
    )
    deliver(network, "us")
    for party in ("us", "ru"):
        [thread] = line(network, party)["incidents"]
        assert (thread["status"], thread["closed_by"]) == ("explained", ["us"])
    clock.advance(minutes=1)  # threads are in order of creation
    closing = post(
        network, "ru", "incident-status", {"status": "closed", "text": "Agreed."}, refs=[report]
    )
    assert closing.status_code == 201
    deliver(network, "ru")
    for party in ("us", "ru"):
        [thread] = line(network, party)["incidents"]
        assert thread["status"] == "closed" and thread["closed_by"] == ["ru", "us"]
        assert thread["kind"] == "air" and thread["position"] == {"lat": 55.3, "lon": 19.8}
        assert thread["parties"] == ["ru", "us"]
        assert set(thread["accounts"]) == {"us", "ru"}
        assert [e["type"] for e in thread["entries"]] == [
            "incident-report",
            "line-ack",
            "incident-account",
            "incident-status",
            "incident-status",
            "incident-status",
        ]
    assert line(network, "nato")["incidents"] == []
    # A status that is not one of the three is refused at the edge.
    bad = post(network, "us", "incident-status", {"status": "resolved"}, refs=[report])
    assert bad.status_code == 422 and "body.status" in bad.json()["detail"]


def test_notices_given_by_telephone_are_confirmed_or_disputed(network, clock):
    network.router.down.add(network.ports["us"])
    clock.advance(minutes=20)
    network.router.down.clear()
    given = format_time(clock.now - timedelta(minutes=15))
    notice = sent(
        network,
        "ru",
        "oob-notice",
        {
            "given_at": given,
            "means": "telephone",
            "given_by": "NNRRC duty officer",
            "given_to": "NRRC watch officer",
            "summary": "Live firing exercise south of Kaliningrad from 14:00Z.",
        },
        to=["us"],
    )
    other = sent(
        network,
        "ru",
        "oob-notice",
        {
            "given_at": given,
            "means": "fax",
            "given_by": "NNRRC duty officer",
            "given_to": "NRRC watch officer",
            "summary": "Submarine surfacing in the Norwegian Sea.",
        },
        to=["us"],
    )
    deliver(network, "ru")
    view = line(network, "us")
    assert {n["ref"]: n["verdicts"] for n in view["notices"]} == {
        notice: {"us": "pending"},
        other: {"us": "pending"},
    }
    assert view["notices"][0]["notice"]["given_at"] == given
    confirmed = post(network, "us", "oob-reply", {"verdict": "confirmed"}, refs=[notice])
    assert confirmed.status_code == 201, confirmed.text
    disputed = post(
        network,
        "us",
        "oob-reply",
        {"verdict": "disputed", "text": "No fax was received at the NRRC."},
        refs=[other],
    )
    assert disputed.status_code == 201
    deliver(network, "us")
    view = line(network, "ru")
    assert {n["ref"]: n["verdicts"]["us"] for n in view["notices"]} == {
        notice: "confirmed",
        other: "disputed",
    }
    # Only the party given the notice answers it.
    refused = post(network, "nato", "oob-reply", {"verdict": "confirmed"}, refs=[notice])
    assert refused.status_code == 422
    # An unanswered notice is an obligation with a deadline (24 hours).
    late = sent(
        network,
        "ru",
        "oob-notice",
        {"given_at": given, "means": "radio", "given_by": "a", "given_to": "b", "summary": "c"},
        to=["us"],
    )
    deliver(network, "ru")
    clock.advance(hours=25)
    obligations = network.clients["ru"].get("/v1/obligations", headers=_auth(network, "ru"))
    states = {
        o["trigger"]: o["state"]
        for o in obligations.json()["obligations"]
        if o["type"] == "oob-reply"
    }
    assert states[late] == "overdue"


def test_templates_are_read_in_both_languages(network, clock):
    position = sent(
        network,
        "ru",
        "line-message",
        {"template": "dma-laser", "fields": {"unit": "USS Porter", "position": "44.5N 33.2E"}},
        to=["us"],
        priority="FLASH",
    )
    signal = sent(network, "us", "line-message", {"template": "ics-u", "fields": {}}, to=["ru"])
    deliver(network)
    view = line(network, "us")
    text = owed(view, position, "us")["text"]
    assert text["en"] == (
        "Laser radiation from your USS Porter near 44.5N 33.2E endangers our personnel "
        "and equipment. Stop using the laser."
    )
    assert text["ru"].startswith("Лазерное излучение с вашего USS Porter в районе 44.5N 33.2E")
    assert owed(line(network, "ru"), signal, "ru")["text"] == {
        "en": "U: You are running into danger.",
        "ru": "U: Вы идёте к опасности.",
    }
    unknown = post(network, "us", "line-message", {"template": "no-such"}, to=["ru"])
    assert unknown.status_code == 422
    assert "no template 'no-such' (known: dma-caution-area" in unknown.json()["detail"]
    missing = post(
        network, "us", "line-message", {"template": "dma-laser", "fields": {"unit": "x"}}, to=["ru"]
    )
    assert missing.status_code == 422 and "body.fields.position" in missing.json()["detail"]
    extra = post(
        network, "us", "line-message", {"template": "ics-u", "fields": {"unit": "x"}}, to=["ru"]
    )
    assert extra.status_code == 422 and "has no blank 'unit'" in extra.json()["detail"]
    empty = post(network, "us", "line-message", {}, to=["ru"])
    assert empty.status_code == 422


def test_a_suspended_link_test_does_not_silence_the_alarms(network, clock):
    # Appended on the node itself (through the API it needs a second operator).
    LogWriter(network.nodes["ru"]).append(
        [
            Draft(
                type="suspension",
                body={"types": ["link-test"], "effective": format_time(clock.now), "reason": "x"},
            )
        ]
    )
    flash = sent(network, "us", "line-message", {"text": "closing"}, to=["ru"], priority="FLASH")
    deliver(network)
    clock.advance(minutes=6)
    result = watch_line(network.nodes["ru"])  # its link test is refused; the watch goes on
    assert result.link_test is None and "suspended" in (result.link_test_error or "")
    assert any(flash in a for a in alarms(network, "ru", "ack_overdue"))


def test_answers_reach_everyone_they_concern_at_the_right_priority(network, clock):
    notice = sent(
        network,
        "us",
        "oob-notice",
        {
            "given_at": format_time(clock.now),
            "means": "telephone",
            "given_by": "NRRC",
            "given_to": "NNRRC and SHAPE",
            "summary": "Link down; exercise cancelled.",
        },
    )
    deliver(network, "us")
    reply = post(network, "ru", "oob-reply", {"verdict": "confirmed"}, refs=[notice])
    assert reply.status_code == 201 and reply.json()["header"]["to"] == ["nato", "us"]
    aside = post(network, "ru", "oob-reply", {"verdict": "confirmed"}, refs=[notice], to=["nato"])
    assert aside.status_code == 422 and "must go to us" in aside.json()["detail"]
    deliver(network, "ru")
    assert line(network, "nato")["notices"][0]["verdicts"] == {"nato": "pending", "ru": "confirmed"}
    flash = sent(network, "us", "line-message", {"text": "x"}, to=["ru"], priority="FLASH")
    deliver(network, "us")
    generic = post(network, "ru", "line-ack", {"by": "duty officer"}, refs=[flash])
    assert generic.status_code == 201
    assert (generic.json()["header"]["priority"], generic.json()["header"]["to"]) == (
        "FLASH",
        ["us"],
    )
    drill = post(network, "us", "line-ack", {}, refs=[notice], exercise=True)
    assert drill.status_code == 422
    warning = post(
        network,
        "us",
        "dangerous-activity-notice",
        {
            "start": "2026-03-05T00:00:00Z",
            "end": "2026-03-06T00:00:00Z",
            "area": "Baltic, 55N 18E radius 20 nm",
            "activity": "Live missile firing",
        },
    )
    assert warning.status_code == 201 and warning.json()["header"]["to"] == ["nato", "ru"]
    past = network.clients["us"].get(
        "/v1/hotline", params={"at": "2026-01-01T00:00:00Z"}, headers=_auth(network, "us")
    )
    assert past.status_code == 422 and "look ahead only" in past.json()["detail"]
