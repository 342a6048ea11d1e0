"""`detente hotline`: send, acknowledge, watch, incidents and notices between real nodes.

The nodes of ``make_network`` are served in the test process with a fake
clock; the CLI opens the same directories (the way an officer's shell
opens the server's node directory) with that clock too, so that what it
signs is on the network's time.
"""

import functools
import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import detente.cli._node as cli_node
import detente.cli._output as cli_output
from detente.cli.app import app
from detente.node import init_node, open_node
from detente.node.operators import Role, add_operator
from detente.store.logs import LogStore
from detente.store.schema import priority_lane
from tests.fakes.network import make_network

runner = CliRunner()


@pytest.fixture
def network(tmp_path, clock, database_url, monkeypatch):
    monkeypatch.setattr(cli_node, "open_node", functools.partial(open_node, clock=clock))
    yield from make_network(tmp_path, clock, database_url)


@pytest.fixture
def line(tmp_path, network, monkeypatch):
    # Wide enough that no table cell wraps what the tests look for.
    monkeypatch.setattr(cli_output.out, "width", 400)

    def run(party, *args, env=None):
        return runner.invoke(app, ["hotline", *args, "--dir", str(tmp_path / party)], env=env)

    return run


def deliver(network):
    for sender in network.senders.values():
        sender.run_once()


def sent(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def flat(result):
    return " ".join(result.output.split())


def test_templates_in_both_languages(tmp_path):
    init_node(tmp_path / "us", party="us", agreement_ref="security-replies-2022").close()
    home = str(tmp_path / "us")
    text = runner.invoke(app, ["hotline", "templates", "--dir", home])
    assert text.exit_code == 0, text.output
    assert "ics-uy" in text.output and "UY" in text.output and "station, channel" in text.output
    assert "Я провожу учения" in text.output
    listed = sent(runner.invoke(app, ["hotline", "templates", "--dir", home, "--format", "json"]))
    contact = next(t for t in listed if t["id"] == "dma-contact")
    assert contact["fields"] == ["station", "channel"] and contact["group"] is None
    assert {t["group"] for t in listed} >= {"K", "U", "D", "X", "UY", "ZL"}


def test_a_flash_template_is_read_in_both_languages_and_acknowledged_at_flash(
    tmp_path, network, line
):
    message = sent(
        line(
            "us",
            "send",
            "--to",
            "ru",
            "--template",
            "dma-contact",
            "--field",
            "station=Washington",
            "--field",
            "channel=channel 2",
            "--priority",
            "flash",
            "--format",
            "json",
        )
    )
    ref = message["position"]
    assert message["priority"] == "FLASH" and message["to"] == ["ru"]
    assert message["text"] == {
        "en": "This is Washington. I request contact on channel 2.",
        "ru": "Говорит Washington. Прошу установить связь на channel 2.",
    }
    shown = line("us", "send", "--to", "ru", "--template", "ics-k", "--text", "Please answer")
    assert shown.exit_code == 0, shown.output
    assert "line-message IMMEDIATE to ru" in shown.output
    assert "EN: K: I wish to communicate with you." in shown.output
    assert "RU: K: Я хочу установить с вами связь." in shown.output
    assert "Please answer" in shown.output
    deliver(network)

    watched = line("ru", "watch", "--once")
    assert watched.exit_code == 0, watched.output
    text = flat(watched)
    assert "ru owes an acknowledgement" in text and ref in text
    assert "EN: This is Washington." in text and "RU: Говорит Washington." in text
    assert "4m 59s" in text or "5m 00s" in text
    assert "NNRRC duty officer" in text and "owed to ru: nothing" in text
    state = json.loads(line("ru", "watch", "--format", "json").output)
    owed = [a for a in state["acknowledgements"] if a["recipient"] == "ru"]
    assert len(owed) == 2 and owed[0]["ref"] == ref
    assert owed[0]["state"] == "due" and owed[0]["priority"] == "FLASH"

    ack = sent(line("ru", "ack", ref, "--by", "officer", "--note", "on it", "--format", "json"))
    assert ack["type"] == "line-ack" and ack["refs"] == [ref] and ack["to"] == ["us"]
    assert ack["priority"] == "FLASH" and ack["by"] == "officer"
    ru = network.nodes["ru"]
    seq = int(ack["position"].split(":")[1])
    with ru.database.engine.connect() as conn:
        lane = conn.execute(select(priority_lane.c.peer).where(priority_lane.c.seq == seq)).all()
    assert [row.peer for row in lane] == ["us"]  # ahead of the backlog, to the sender

    again = line("ru", "ack", ref, "--by", "officer")
    assert again.exit_code == 1 and f"{ref} was already acknowledged by officer" in flat(again)
    deliver(network)
    state = json.loads(line("us", "watch", "--format", "json").output)
    theirs = next(a for a in state["acknowledgements"] if a["ref"] == ref)
    assert theirs["state"] == "acknowledged" and theirs["by"] == "officer"


def test_ack_by_comes_from_the_environment_and_must_be_an_operator(network, line):
    ref = sent(line("us", "send", "--to", "ru", "--text", "Hello", "--format", "json"))["position"]
    deliver(network)
    nobody = line("ru", "ack", ref, "--by", "mallory")
    assert nobody.exit_code == 1
    assert "--by: 'mallory' is not an operator of this node who may send" in flat(nobody)
    assert "officer" in nobody.output
    missing = line("ru", "ack", ref)
    assert missing.exit_code == 2 and "--by" in missing.output
    by_env = line("ru", "ack", ref, env={"DETENTE_OPERATOR": "officer"})
    assert by_env.exit_code == 0, by_env.output
    assert f"{ref} acknowledged by officer as ru:" in by_env.output


def test_send_and_ack_refuse_bad_input_with_a_clear_message(network, line):
    cases = [
        (("send", "--template", "nope"), "--template: no template 'nope'"),
        (("send", "--template", "dma-contact", "--field", "station=x"), "blank channel"),
        (("send", "--template", "ics-k", "--field", "unit=x"), "has no blank 'unit'"),
        (("send", "--template", "dma-contact", "--field", "station"), "--field 'station'"),
        (("send", "--template", "dma-contact", "--field", "a=1", "--field", "a=2"), "twice"),
        (("send", "--text", "hi", "--field", "a=1"), "--field: given without --template"),
        (("send",), "give --text, --template, or both"),
        (("send", "--text", "hi", "--ref", "us-12"), "--ref: 'us-12' is not an entry"),
        (("send", "--text", "hi", "--to", "zz"), "recipient(s) zz not allowed"),
        (("ack", "ru:99", "--by", "officer"), "ru:99: no such message held here"),
        (("ack", "nonsense", "--by", "officer"), "REF: 'nonsense' is not an entry"),
    ]
    for args, message in cases:
        result = line("us", *args)
        assert result.exit_code == 1, (args, result.output)
        assert message in flat(result), (args, result.output)
    unknown = flat(line("us", "send", "--template", "nope"))
    assert "known: dma-caution-area, dma-contact" in unknown and "ics-zl" in unknown
    bad_priority = line("us", "send", "--text", "hi", "--priority", "URGENT")
    assert bad_priority.exit_code == 2 and "--priority" in bad_priority.output
    with network.nodes["us"].database.engine.connect() as conn:
        assert LogStore(conn, "us").size() == 0  # nothing was signed


def test_watch_shows_overdue_both_ways_and_exits_1(network, line, clock):
    ref = sent(line("us", "send", "--to", "ru", "--text", "Aircraft closing", "--format", "json"))[
        "position"
    ]
    deliver(network)
    clock.advance(minutes=31)
    ru = line("ru", "watch", "--once")
    assert ru.exit_code == 1
    text = flat(ru)
    assert ref in text and "Aircraft closing" in text and "OVERDUE by 1m 00s" in text
    assert "NNRRC duty chief (level 1)" in text
    us = line("us", "watch", "--once")
    assert us.exit_code == 1
    text = flat(us)
    assert "us owes an acknowledgement: nothing" in text and "owed to us" in text
    assert "OVERDUE by 1m 00s" in text
    assert "links" in text and "nato" in text


def test_watch_refreshes_until_interrupted(network, line, monkeypatch):
    rounds = []

    def sleep(seconds):
        rounds.append(seconds)
        if len(rounds) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("detente.cli.hotline.time.sleep", sleep)
    watched = line("us", "watch", "--interval", "2")
    assert watched.exit_code == 0, watched.output
    assert rounds == [2.0, 2.0]
    assert watched.output.count("emergency line of us") == 2


def test_an_incident_thread_from_report_to_closed(network, line):
    report = sent(
        line(
            "us",
            "incident",
            "report",
            "--kind",
            "air",
            "--at",
            "2026-03-01T14:40:00+03:00",
            "--lat",
            "43.5",
            "--lon",
            "34.2",
            "--unit",
            "us:USS Porter:ship:DDG-78",
            "--unit",
            "ru:Su-24",
            "--account",
            "Two Su-24 passed within 30 m of USS Porter.",
            "--to",
            "ru",
            "--area",
            "Black Sea",
            "--format",
            "json",
        )
    )
    ref = report["position"]
    assert report["type"] == "incident-report" and report["to"] == ["ru"]
    deliver(network)
    owed = flat(line("ru", "watch", "--once"))
    assert "air incident at 2026-03-01T11:40:00Z: Two Su-24 passed within 30 m" in owed
    question = line("ru", "send", "--to", "us", "--ref", ref, "--template", "ics-zl")
    assert question.exit_code == 0, question.output
    account = line("ru", "incident", "account", ref, "--text", "A routine flight, 500 m off.")
    assert account.exit_code == 0, account.output
    assert f"account of {ref} sent as ru:" in account.output
    closing = line("ru", "incident", "status", ref, "closed", "--text", "Nothing more to add")
    assert closing.exit_code == 0, closing.output
    assert f"incident {ref} is now open (closed by ru)" in flat(closing)
    deliver(network)

    listed = json.loads(line("us", "incident", "list", "--format", "json").output)
    (incident,) = listed
    assert incident["at"] == "2026-03-01T11:40:00Z" and incident["status"] == "open"
    assert incident["accounts"]["ru"] == ["A routine flight, 500 m off."]
    assert incident["units"][0] == {
        "party": "us",
        "name": "USS Porter",
        "kind": "ship",
        "id": "DDG-78",
    }
    done = sent(line("us", "incident", "status", ref, "closed", "--format", "json"))
    assert done["incident_status"] == "closed" and done["closed_by"] == ["ru", "us"]
    assert "no incidents" in line("us", "incident", "list", "--open").output
    table = line("us", "incident", "list")
    assert table.exit_code == 0 and ref in table.output and "closed" in table.output

    shown = line("us", "incident", "show", ref)
    assert shown.exit_code == 0, shown.output
    text = flat(shown)
    assert "Two Su-24 passed within 30 m of USS Porter." in text
    assert "A routine flight, 500 m off." in text
    assert "status closed: Nothing more to add" in text and "Black Sea" in text
    assert "closed by ru, us" in text and "us:USS Porter:ship:DDG-78" in text
    assert "us: due" in text  # us has not acknowledged ru's account yet
    assert "EN: ZL: Your signal has been received but not understood." in text
    detail = json.loads(line("us", "incident", "show", ref, "--format", "json").output)
    assert [e["type"] for e in detail["entries"]] == [
        "incident-report",
        "line-message",
        "incident-account",
        "incident-status",
        "incident-status",
    ]
    assert {a["ref"] for a in detail["acknowledgements"]} >= {ref}


def test_incident_commands_refuse_bad_input(network, line):
    base = ["incident", "report", "--kind", "air", "--lat", "1", "--lon", "2"]
    base += ["--account", "x", "--unit", "ru:Su-24"]
    cases = [
        ((*base, "--at", "2026-03-01"), "--at: '2026-03-01' is not an RFC 3339 time"),
        ((*base, "--at", "2026-03-01T12:00:00"), "with an offset"),
        ((*base, "--at", "2026-02-30T12:00:00Z"), "not a valid date and time"),
        ((*base, "--at", "2026-03-01T12:00:00Z", "--unit", "ru"), "--unit 'ru': write PARTY:NAME"),
        ((*base, "--at", "2026-03-01T12:00:00Z", "--unit", "ru:x:boat"), "kind 'boat'"),
        (("incident", "account", "us:42", "--text", "x"), "us:42: no incident report held here"),
        (("incident", "status", "us:42", "closed"), "us:42: no incident report held here"),
        (("incident", "show", "us:42"), "us:42: no incident report held here"),
    ]
    kind = [*base, "--at", "2026-03-01T12:00:00Z"]
    kind[kind.index("air")] = "boat"
    cases.append((tuple(kind), "body.kind: 'boat' is not one of"))
    for args, message in cases:
        result = line("us", *args)
        assert result.exit_code == 1, (args, result.output)
        assert message in flat(result), (args, result.output)
    status = line("us", "incident", "status", "us:0", "shut")
    assert status.exit_code == 2


def test_out_of_band_notices_recorded_and_confirmed(network, line):
    notice = sent(
        line(
            "us",
            "notice",
            "record",
            "--given-at",
            "2026-03-01T11:50:00Z",
            "--means",
            "telephone",
            "--given-by",
            "NRRC watch officer",
            "--given-to",
            "NNRRC duty officer",
            "--summary",
            "Link down; exercise in area B from 14:00",
            "--format",
            "json",
        )
    )
    ref = notice["position"]
    assert notice["type"] == "oob-notice" and notice["to"] == ["nato", "ru"]
    future = line(
        "us",
        "notice",
        "record",
        "--given-at",
        "2026-03-02T00:00:00Z",
        "--means",
        "fax",
        "--given-by",
        "a",
        "--given-to",
        "b",
        "--summary",
        "s",
    )
    assert future.exit_code == 1 and "is in the future" in flat(future)
    deliver(network)
    pending = line("ru", "watch", "--once")
    assert "notices awaiting a verdict" in pending.output and ref in pending.output
    assert "given by telephone at 2026-03-01T11:50:00Z: Link down" in flat(pending)
    reply = line("ru", "notice", "reply", ref, "confirmed", "--text", "Taken at 11:50")
    assert reply.exit_code == 0, reply.output
    assert f"{ref} confirmed as ru:" in reply.output
    unknown = line("ru", "notice", "reply", "us:77", "disputed")
    assert unknown.exit_code == 1 and "us:77: no out-of-band notice held here" in flat(unknown)
    deliver(network)
    (listed,) = json.loads(line("us", "notice", "list", "--format", "json").output)
    assert listed["verdicts"] == {"nato": "pending", "ru": "confirmed"}
    table = line("us", "notice", "list")
    assert table.exit_code == 0 and "ru: confirmed" in flat(table) and "telephone" in table.output


def test_empty_lists(tmp_path):
    home = tmp_path / "us"
    node = init_node(home, party="us", agreement_ref="security-replies-2022")
    add_operator(node, "officer", Role.operator)
    node.close()
    for args, expected in [
        (["incident", "list"], "no incidents"),
        (["notice", "list"], "no notices"),
        (["watch", "--once"], "links: none judged"),
    ]:
        result = runner.invoke(app, ["hotline", *args, "--dir", str(home)])
        assert result.exit_code == 0, result.output
        assert expected in result.output


def test_times_spans_and_texts_as_shown():
    from datetime import UTC, datetime, timedelta

    from detente.cli._line_input import parse_time
    from detente.cli._line_view import message_text, time_left

    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_time("2026-03-01 15:00:00.123456789+03:00", option="--at") == now.replace(
        microsecond=123456
    )
    assert parse_time("2026-03-01t12:00:00z", option="--at") == now
    assert time_left(None, now) == "no deadline"
    assert time_left(now + timedelta(days=1, hours=3, minutes=5), now) == "1d 3h"
    assert time_left(now + timedelta(hours=2, minutes=5), now) == "2h 05m"
    assert time_left(now - timedelta(seconds=45), now) == "OVERDUE by 45s"
    assert message_text({"note": "unknown template 'x'", "text": "hi"}) == (
        "hi\n(unknown template 'x')"
    )
