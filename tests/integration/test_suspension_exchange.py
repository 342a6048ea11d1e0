"""Suspension across real nodes: the United States withholds its data while launch
notices go on (New START from June 2023); Russia's node shows the obligation
suspended, not overdue, and its own overdue, with exercise traffic not counting."""

import pytest

from tests.fakes.network import make_network

AGREEMENT = """
name = "data-and-launches"
title = "Six-monthly data and launch notices"
version = "1"

[[parties]]
id = "us"
name = "United States"

[[parties]]
id = "nato"
name = "NATO"

[[parties]]
id = "ru"
name = "Russian Federation"

# Owed by each of the two to the other; NATO mirrors the record.
[message_types.aggregate_data]
senders = ["us", "ru"]
recipients = ["us", "ru"]
periodic = { as_of = ["03-01", "09-01"], due_days = 30 }
body_schema.type = "object"
body_schema.required = ["as_of"]
body_schema.properties.as_of = { type = "string", format = "date" }

[message_types.launch_notification]
senders = ["us", "ru"]
body_schema.type = "object"
body_schema.required = ["launch"]
body_schema.properties.launch = { type = "string" }
"""


@pytest.fixture
def network(tmp_path, clock, database_url):
    path = tmp_path / "data-and-launches.toml"
    path.write_text(AGREEMENT)
    yield from make_network(tmp_path, clock, database_url, agreement_ref=str(path))


def post(network, party, type_, body, *, exercise=False, to=None):
    message = {"type": type_, "body": body, "exercise": exercise}
    if to is not None:
        message["to"] = to
    return network.clients[party].post(
        "/v1/messages",
        json=message,
        headers={"Authorization": f"Bearer {network.tokens[party]}"},
    )


def get(network, party, path):
    return network.clients[party].get(
        path, headers={"Authorization": f"Bearer {network.tokens[party]}"}
    )


def run_senders(network):
    for sender in network.senders.values():
        sender.run_once()


def test_a_suspended_type_shows_suspended_on_the_peer_while_other_types_go_on(network, clock):
    now = "2026-03-01T12:00:00Z"
    assert clock.now.strftime("%Y-%m-%dT%H:%M:%SZ") == now
    suspended = post(
        network,
        "us",
        "suspension",
        {
            "types": ["aggregate_data"],
            "effective": now,
            "reason": "countermeasure",
            "article": "countermeasures under international law",
        },
    )
    assert suspended.status_code == 201, suspended.text
    assert suspended.json()["header"]["to"] == ["nato", "ru"]
    refused = post(network, "us", "aggregate_data", {"as_of": "2026-03-01"}, to=["ru"])
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "type aggregate_data is suspended since us:0; send a resumption first"
    )
    launch = post(network, "us", "launch_notification", {"launch": "Minuteman III"}, to=["ru"])
    assert launch.status_code == 201, launch.text
    unknown = post(
        network, "ru", "suspension", {"types": ["inspections"], "effective": now, "reason": "x"}
    )
    assert unknown.status_code == 422 and "body.types[0]" in unknown.json()["detail"]
    drill = post(network, "ru", "aggregate_data", {"as_of": "2026-03-01"}, exercise=True)
    assert drill.status_code == 201, drill.text
    run_senders(network)

    clock.advance(days=45)
    seen = get(network, "ru", "/v1/obligations")
    assert seen.status_code == 200, seen.text
    march = {
        o["party"]: o
        for o in seen.json()["obligations"]
        if o["type"] == "aggregate_data" and o["as_of"] == "2026-03-01"
    }
    assert march["us"]["state"] == "suspended" and march["us"]["suspended_by"] == "us:0"
    assert march["ru"]["state"] == "overdue"  # the exercise message does not count
    assert [(s["ref"], s["exercise"]) for s in seen.json()["skipped"]] == [("ru:0", True)]
    suspensions = get(network, "ru", "/v1/suspensions").json()["suspensions"]
    assert [(s["party"], s["type"], s["suspended_by"], s["active"]) for s in suspensions] == [
        ("us", "aggregate_data", "us:0", True)
    ]
    assert suspensions[0]["start"] == now
    # NATO, which owes nothing here, sees the same suspension from its mirror.
    nato = get(network, "nato", "/v1/suspensions").json()["suspensions"]
    assert [s["suspended_by"] for s in nato] == ["us:0"]

    # The United States resumes and sends March's data late.
    resumed = post(
        network,
        "us",
        "resumption",
        {"types": ["aggregate_data"], "effective": clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")},
    )
    assert resumed.status_code == 201, resumed.text
    late = post(network, "us", "aggregate_data", {"as_of": "2026-03-01"}, to=["ru"])
    assert late.status_code == 201, late.text
    run_senders(network)
    clock.advance(days=200)
    later = get(network, "ru", "/v1/obligations").json()["obligations"]
    found = {(o["party"], o["as_of"]): o for o in later if o["type"] == "aggregate_data"}
    # Given at last, after the deadline: met, late; September is owed again and missed.
    march = found[("us", "2026-03-01")]
    assert (march["state"], march["late"], march["met_by"]) == ("met", True, "us:3")
    assert march["given"] == "2026-04-15T12:00:00Z" and march["clock"] == "receipt"
    assert found[("us", "2026-09-01")]["state"] == "overdue"
    (ended,) = get(network, "ru", "/v1/suspensions").json()["suspensions"]
    assert ended["resumed_by"] == "us:2" and ended["active"] is False


def test_the_state_endpoints_need_an_operator(network):
    assert network.clients["ru"].get("/v1/obligations").status_code == 401
    assert network.clients["ru"].get("/v1/suspensions").status_code == 401
    bad = network.clients["ru"].get(
        "/v1/obligations?since=yesterday",
        headers={"Authorization": f"Bearer {network.tokens['ru']}"},
    )
    assert bad.status_code == 422
