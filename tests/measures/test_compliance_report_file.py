"""The compliance report's pure parts: logs carried in a file, the report compiled from
them as of an instant, verification, the first difference, the period, rendering."""

from datetime import UTC, date, datetime, timedelta

import pytest

from detente.errors import (
    BodyError,
    EncodingError,
    InputError,
    SignatureError,
    VerificationError,
)
from detente.measures.compliance_render import (
    ReportFormat,
    limit_chart_svg,
    load_compliance_file,
    render,
)
from detente.measures.compliance_report import (
    FORMAT,
    Period,
    compile_report,
    first_difference,
    report_types,
    ruled_types,
    verify_compliance_report,
)
from detente.measures.obligations import Obligation, State
from detente.record.envelope import format_time
from detente.record.log_bundle import verify_log_bundle
from tests.fakes.compliance import (
    KEYS,
    NEW_START,
    PERIOD,
    bundle,
    moment,
    report_file,
    sample_logs,
)


@pytest.fixture
def logs():
    return sample_logs()


def periodic(report, party):
    (found,) = [
        o
        for o in report["obligations"]
        if o["rule"] == "periodic" and o["party"] == party and o["as_of"] == "2021-03-01"
    ]
    return found


def test_the_report_judges_what_was_received_by_its_instant(logs):
    later = compile_report(NEW_START, logs, by="us", period=PERIOD, at=moment((4, 10)))
    assert periodic(later, "us")["state"] == "met"
    assert periodic(later, "us")["given"] == "2021-03-10T12:00:00Z"
    ru = periodic(later, "ru")
    assert (ru["state"], ru["late"], ru["given"]) == ("met", True, "2021-04-05T12:00:00Z")
    assert later["summary"]["ru"]["late"] == 1
    assert later["record"]["ru"] == {
        "entries": 2,
        "cosigned": [{"by": "us", "at": "2021-04-05T12:00:00Z"}],
    }
    (dispute,) = later["disputes"]
    assert (dispute["limit"], dispute["declared"]["value"], dispute["disputed"]["value"]) == (
        "launchers",
        800,
        856,
    )
    assert later["since"] == "2021-03-10"

    # Sent, not yet received: pending, and due while the deadline is ahead.
    before = compile_report(NEW_START, logs, by="us", period=PERIOD, at=moment((3, 25)))
    ru = periodic(before, "ru")
    assert (ru["state"], ru["pending"], ru["met_by"]) == ("due", "ru:0", None)
    # Not yet written: unknown to the report.
    earlier = compile_report(NEW_START, logs, by="us", period=PERIOD, at=moment((3, 15)))
    assert [d["party"] for d in earlier["limits"][0]["declarations"]] == ["us"]
    assert earlier["disputes"] == []


def test_a_report_verifies_and_any_difference_is_named(logs):
    built = report_file(logs, moment((4, 10)))
    checked = verify_compliance_report(
        built, keys=[k.verifier for k in KEYS.values()], agreement=NEW_START
    )
    assert (checked.declarations, checked.disputes, checked.violated) == (6, 1, 0)
    assert "ru: 2 entries, checkpoint cosigned by us at 2021-04-05T12:00:00Z" in checked.summary()

    built["report"]["obligations"][0]["late"] = True
    with pytest.raises(VerificationError, match=r"report\.obligations\[0\]\.late: true in"):
        verify_compliance_report(
            built, keys=[k.verifier for k in KEYS.values()], agreement=NEW_START
        )
    with pytest.raises(InputError, match="not a built-in agreement: give its file"):
        verify_compliance_report(built, keys=[], agreement=None)
    with pytest.raises(EncodingError, match="format is not"):
        verify_compliance_report({"v": 1, "format": "x"}, keys=[], agreement=NEW_START)


def check(value, **overrides):
    args = {
        "party": "ru",
        "agreement_id": NEW_START.id,
        "keys": [k.verifier for k in KEYS.values()],
        "cosigners": ["us"],
        "body_types": report_types(NEW_START),
        "holder": "us",
        "where": "logs.ru",
        "parties": sorted(NEW_START.party_ids()),
    }
    return verify_log_bundle(value, **(args | overrides))


def test_a_log_bundle_is_complete_signed_and_cosigned_or_refused(logs):
    good = logs["ru"].to_json()
    assert check(good).received("us", 1) == moment((4, 5))

    swapped = logs["ru"].to_json()
    swapped["entries"].reverse()
    with pytest.raises(VerificationError, match="leaves do not make the root"):
        check(swapped)

    no_body = logs["ru"].to_json()
    del no_body["entries"][1]["body"], no_body["entries"][1]["proof"]
    with pytest.raises(BodyError, match=r"entries\[1\] \(ru:1 declaration_dispute\): no body"):
        check(no_body)
    # A third party's node holds no body of what it was not sent: none is asked of it.
    assert check(no_body, holder="nato", cosigners=["us"]).bodies.keys() == {0}

    stray_proof = logs["ru"].to_json()
    del stray_proof["entries"][1]["body"]
    with pytest.raises(EncodingError, match=r"entries\[1\]\.proof: carried without a body"):
        check(stray_proof)

    bad_proof = logs["ru"].to_json()
    bad_proof["entries"][0]["proof"] = bad_proof["entries"][1]["proof"]
    with pytest.raises(VerificationError, match=r"entries\[0\]\.proof: not in ru's checkpoint"):
        check(bad_proof)

    note = logs["ru"].to_json()
    note["checkpoint"] = logs["us"].to_json()["checkpoint"]
    with pytest.raises(VerificationError, match=r"logs\.ru\.checkpoint"):
        check(note)

    with pytest.raises(VerificationError, match="not by a party whose receipts count here"):
        check(good, cosigners=["nato"])

    beyond = logs["ru"].to_json()
    beyond["cosignatures"][0]["size"] = 3
    with pytest.raises(EncodingError, match=r"cosignatures\[0\]\.size: not a size from 1 to 2"):
        check(beyond)

    wrong_size = logs["ru"].to_json()
    wrong_size["cosignatures"][0]["size"] = 1
    with pytest.raises(SignatureError, match=r"cosignatures\[0\]: cosignature by .* not verify"):
        check(wrong_size)


def test_a_body_the_report_does_not_rest_on_is_refused():
    chat = [("message", {"text": "hello"}, ("us",), (), moment((3, 20)))]
    cosigned = [("us", 1, moment((3, 20)))]
    with pytest.raises(BodyError, match="carries a body the report does not rest on"):
        check(bundle("ru", chat, cosigned).to_json())
    assert check(bundle("ru", chat, cosigned, bodies=()).to_json()).bodies == {}


def test_first_difference_names_the_first_place_in_document_order():
    computed = {"a": 1, "b": [{"c": 2}, {"c": 3}], "d": {"e": True}}
    assert first_difference(computed, computed, "r") is None
    assert (
        first_difference({**computed, "a": 2}, computed, "r") == "r.a: 2 in the file, 1 recomputed"
    )
    changed = {**computed, "b": [{"c": 2}, {"c": 4}]}
    assert first_difference(changed, computed, "r") == "r.b[1].c: 4 in the file, 3 recomputed"
    assert first_difference({**computed, "b": [{"c": 2}]}, computed, "r") == (
        "r.b: 1 items in the file, 2 recomputed"
    )
    assert first_difference({**computed, "d": {"e": 1}}, computed, "r") == (
        "r.d.e: 1 in the file, true recomputed"
    )
    assert first_difference({"b": [], "d": {}}, computed, "r") == (
        "r.a: missing from the file (recomputed: 1)"
    )
    assert first_difference({**computed, "z": 0}, computed, "r") == (
        "r.z: in the file, but not in the report recomputed"
    )


def obligation(**fields):
    base = {
        "party": "us",
        "type": "t",
        "rule": "after_message",
        "due": datetime(2021, 7, 1, tzinfo=UTC),
        "state": State.MET,
        "to": ("ru",),
    }
    return Obligation(**(base | fields))


def test_an_obligation_belongs_to_the_period_of_its_day():
    # A deadline at midnight falls on the day before.
    assert PERIOD.holds(obligation())
    assert not PERIOD.holds(obligation(due=datetime(2021, 7, 1, 0, 0, 1, tzinfo=UTC)))
    assert not PERIOD.holds(obligation(due=datetime(2021, 1, 1, tzinfo=UTC)))
    # A periodic exchange or a declaration: its as-of day.
    assert PERIOD.holds(obligation(as_of=date(2021, 6, 30), due=datetime(2021, 8, 1, tzinfo=UTC)))
    assert not PERIOD.holds(obligation(as_of=date(2020, 12, 31)))
    with pytest.raises(InputError, match=r"ends \(2021-01-01\) before it starts"):
        Period(date(2021, 2, 1), date(2021, 1, 1))


def test_the_types_a_report_rests_on():
    assert {"aggregate_data", "declaration_dispute", "change_notification", "suspension"} <= (
        ruled_types(NEW_START)
    )
    assert "message" not in report_types(NEW_START)
    assert {"inspection-request", "ambiguity"} <= report_types(NEW_START)


def test_charts_and_pages_are_drawn_from_the_report(logs):
    built = report_file(logs, moment((4, 10)))
    launchers = built["report"]["limits"][2]
    svg = limit_chart_svg(launchers, built["report"]["period"])
    assert svg.startswith("<svg") and "<metadata>" not in svg
    assert "disputed by ru" in svg and "limit 800" in svg
    assert svg == limit_chart_svg(launchers, built["report"]["period"])  # the same drawing
    empty = {**launchers, "declarations": []}
    assert "no declaration in the period" in limit_chart_svg(
        empty, {"from": "2021-01-01", "to": "2021-01-01"}
    )
    page = render(built, ReportFormat.html)
    assert load_compliance_file(page) == built
    assert render(built, ReportFormat.pdf).startswith(b"%PDF")
    assert load_compliance_file(render(built, ReportFormat.json)) == built
    later = moment((4, 10)) + timedelta(days=1)
    assert report_file(logs, later)["report"]["at"] == format_time(later)


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"v": True}, "not a version 1"), ({"v": 1.0}, "not a version 1"), ({"note": "x"}, "'note'")],
)
def test_nothing_rides_along_beside_a_report(changes, message):
    with pytest.raises(EncodingError, match=message):
        verify_compliance_report(
            {"v": 1, "format": FORMAT, "report": {}, "logs": {}, **changes},
            keys=[],
            agreement=NEW_START,
        )
