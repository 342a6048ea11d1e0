"""The shipped New START dataset (examples/new-start) under the compliance check."""

import json
from datetime import date
from pathlib import Path

import pytest

from detente.agreement import builtin_agreement
from detente.measures.compliance import evaluate, load_declarations

DATASET = Path(__file__).parents[2] / "examples" / "new-start" / "declarations.json"
START = builtin_agreement("new-start")
RAW = json.loads(DATASET.read_text(encoding="utf-8"))
FOUND = load_declarations(RAW, START)  # checks every total its counts cover, and every type sum
LIMITS = ("deployed_delivery_vehicles", "deployed_warheads", "launchers")


def test_every_exchange_for_both_parties_is_there():
    dates = sorted({d.as_of for d in FOUND.declarations})
    assert len(dates) == 23
    assert dates[0] == date(2011, 2, 5) and dates[-1] == date(2022, 3, 1)
    for day in dates:
        assert {d.party for d in FOUND.declarations if d.as_of == day} == {"us", "ru"}
    assert all(d.source for d in FOUND.declarations)


@pytest.mark.parametrize("item", RAW["declarations"], ids=lambda d: f"{d['party']}-{d['as_of']}")
def test_the_engine_gives_the_published_aggregates_on_each_date(item):
    day = date.fromisoformat(item["as_of"])
    limits = evaluate(START, FOUND, day)["parties"][item["party"]]["limits"]
    for rule, published in item["aggregates"].items():
        assert limits[rule]["value"] == published, rule


@pytest.mark.parametrize(
    ("day", "rule", "value"),
    [
        ("2013-03-01", "deployed_delivery_vehicles", 792),
        ("2017-03-01", "deployed_delivery_vehicles", 673),
        ("2020-09-01", "deployed_delivery_vehicles", 675),
        ("2020-09-01", "launchers", 800),
    ],
)
def test_published_categories_add_up_to_the_aggregates_through_the_counting_rules(day, rule, value):
    row = evaluate(START, FOUND, date.fromisoformat(day))["parties"]["us"]["limits"][rule]
    assert (row["value"], row["basis"]) == (value, "counts")


def test_published_types_add_up_to_their_categories():
    typed = [d for d in FOUND.declarations if d.types]
    assert len(typed) >= 5
    for declaration in typed:
        for category, by_type in declaration.types.items():
            assert sum(by_type.values()) == declaration.counts[category]
    september_2020 = next(d for d in typed if d.as_of == date(2020, 9, 1))
    assert september_2020.types["deployed_heavy_bombers"] == {"B-2A": 12, "B-52H": 36}


@pytest.mark.parametrize(
    ("day", "status"),
    [
        ("2011-02-05", "not_in_force"),
        ("2018-02-04", "not_in_force"),
        ("2018-02-05", "within"),
        ("2022-03-01", "within"),
        ("2026-02-04", "within"),
        ("2026-02-05", "not_in_force"),
        ("2030-01-01", "not_in_force"),
    ],
)
def test_limits_are_in_force_only_from_2018_to_the_treaty_s_end(day, status):
    parties = evaluate(START, FOUND, date.fromisoformat(day))["parties"]
    for party in ("us", "ru"):
        for rule in LIMITS:
            assert parties[party]["limits"][rule]["status"] == status, (party, rule)


def test_russia_s_count_of_converted_launchers_shows_as_a_dispute():
    on_the_day = evaluate(START, FOUND, date(2018, 2, 5))["parties"]["us"]["limits"]
    launchers = on_the_day["launchers"]
    assert (launchers["value"], launchers["status"]) == (800, "within")
    (position,) = launchers["disputed"]
    assert position["by"] == "ru" and position["value"] == 901
    assert position["status"] == "exceeded"
    assert "56 Trident II" in position["text"] and "41 B-52H" in position["text"]
    assert "disputed" not in on_the_day["deployed_warheads"]
    # Disputes follow the declaration they contest: none read for 2019.
    later = evaluate(START, FOUND, date(2019, 3, 1))["parties"]["us"]["limits"]["launchers"]
    assert "disputed" not in later
    assert len(FOUND.disputes) == 4
