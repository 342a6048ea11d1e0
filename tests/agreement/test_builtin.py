"""The built-in agreements: their numbers, their ids, their citations."""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from importlib.resources import files

import pytest

from detente.agreement import (
    AfterEvent,
    Priority,
    builtin_agreement,
    builtin_names,
    load_agreement_text,
)
from detente.errors import BodyError

NEW_START_CATEGORIES = {
    "deployed_icbms",
    "deployed_slbms",
    "deployed_heavy_bombers",
    "warheads_on_deployed_icbms_and_slbms",
    "nondeployed_icbm_launchers",
    "nondeployed_slbm_launchers",
    "nondeployed_heavy_bombers",
}


def _text(name: str) -> str:
    return files("detente.agreement").joinpath("builtin", f"{name}.toml").read_text("utf-8")


def test_builtin_names() -> None:
    names = builtin_names()
    assert {"new-start", "security-replies-2022"} <= set(names)
    assert names == sorted(names)


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_loads_and_is_named_after_its_file(name: str) -> None:
    a = builtin_agreement(name)
    assert a.name == name
    assert a.message_type("message").may_send(a.parties[0].id)


# --- New START ---------------------------------------------------------------------


def test_new_start_parties_and_categories() -> None:
    a = builtin_agreement("new-start")
    assert [(p.id, p.name) for p in a.parties] == [
        ("us", "United States"),
        ("ru", "Russian Federation"),
    ]
    assert set(a.categories) == NEW_START_CATEGORIES


def test_new_start_central_limits() -> None:
    a = builtin_agreement("new-start")
    limits = {lid: (lim.aggregate, lim.max) for lid, lim in a.limits.items()}
    assert limits == {
        "deployed_delivery_vehicles": ("deployed_delivery_vehicles", 700),
        "deployed_warheads": ("deployed_warheads", 1550),
        "launchers": ("launchers", 800),
    }
    for lim in a.limits.values():
        assert lim.effective == date(2018, 2, 5)
        assert lim.end == date(2026, 2, 5)
        assert lim.applies_to == ["*"]
        assert lim.status_on(date(2018, 2, 4)) == "not_in_force"
        assert lim.status_on(date(2018, 2, 5)) == "in_force"
        assert lim.status_on(date(2026, 2, 4)) == "in_force"
        assert lim.status_on(date(2026, 2, 5)) == "not_in_force"


def test_new_start_counting_rules() -> None:
    rules = builtin_agreement("new-start").counting_rules
    assert rules["deployed_delivery_vehicles"].terms == {
        "deployed_icbms": 1,
        "deployed_slbms": 1,
        "deployed_heavy_bombers": 1,
    }
    # each deployed heavy bomber counts as one warhead
    assert rules["deployed_warheads"].terms == {
        "warheads_on_deployed_icbms_and_slbms": 1,
        "deployed_heavy_bombers": 1,
    }
    assert set(rules["launchers"].terms) == NEW_START_CATEGORIES - {
        "warheads_on_deployed_icbms_and_slbms"
    }
    assert set(rules["launchers"].terms.values()) == {1}
    declared = {
        "deployed_icbms": 400,
        "deployed_slbms": 280,
        "deployed_heavy_bombers": 60,
        "warheads_on_deployed_icbms_and_slbms": 1400,
        "nondeployed_icbm_launchers": 50,
        "nondeployed_slbm_launchers": 50,
        "nondeployed_heavy_bombers": 10,
    }
    assert rules["deployed_delivery_vehicles"].evaluate(declared) == 740
    assert rules["deployed_warheads"].evaluate(declared) == 1460
    assert rules["launchers"].evaluate(declared) == 850


def test_new_start_data_exchanges() -> None:
    a = builtin_agreement("new-start")
    update = a.message_type("aggregate_data")
    assert update.periodic is not None
    assert update.periodic.as_of == ["03-01", "09-01"]
    assert update.periodic.due_days == 30
    assert update.periodic.schedule(2021)[0] == (date(2021, 3, 1), date(2021, 3, 31))
    change = a.message_type("change_notification")
    assert isinstance(change.deadline, AfterEvent)
    assert change.deadline.delta == timedelta(days=5)
    assert change.deadline.event_field == "event_date"
    for t in (update, change):
        assert t.may_send("us") and t.may_send("ru") and not t.may_send("nato")
        assert t.article is not None and "Part Four" in t.article


def test_new_start_bodies() -> None:
    a = builtin_agreement("new-start")
    counts = dict.fromkeys(NEW_START_CATEGORIES, 0)
    a.message_type("aggregate_data").validate_body({"as_of": "2021-03-01", "counts": counts})
    with pytest.raises(BodyError, match=r"^body\.counts: 'deployed_icbms' is a required"):
        a.message_type("aggregate_data").validate_body(
            {
                "as_of": "2021-03-01",
                "counts": {k: v for k, v in counts.items() if k != "deployed_icbms"},
            }
        )
    with pytest.raises(BodyError, match=r"^body\.counts\.deployed_slbms: -1 is less than"):
        a.message_type("aggregate_data").validate_body(
            {"as_of": "2021-03-01", "counts": counts | {"deployed_slbms": -1}}
        )
    change = a.message_type("change_notification")
    change.validate_body({"event_date": "2021-05-02", "category": "deployed_icbms", "change": -1})
    # warhead numbers change only through the six-monthly update
    with pytest.raises(BodyError, match=r"^body\.category: "):
        change.validate_body(
            {
                "event_date": "2021-05-02",
                "category": "warheads_on_deployed_icbms_and_slbms",
                "change": 4,
            }
        )
    with pytest.raises(BodyError, match=r"^body\.change: "):
        change.validate_body(
            {"event_date": "2021-05-02", "category": "deployed_icbms", "change": 0}
        )


# --- the 2022 replies ------------------------------------------------------------------


def test_security_replies_parties_and_types() -> None:
    a = builtin_agreement("security-replies-2022")
    assert [p.id for p in a.parties] == ["us", "nato", "ru"]
    assert a.party_ids() == frozenset({"us", "nato", "ru"})
    assert "new-start" not in a.includes
    free = a.message_type("message")
    assert all(free.may_send(p) for p in ("us", "nato", "ru"))
    free.validate_body({"text": "We propose to resume contacts."})


def test_security_replies_aegis_ashore_sites() -> None:
    sites = builtin_agreement("security-replies-2022").sites
    assert set(sites) == {"deveselu", "redzikowo"}
    assert (sites["deveselu"].country, sites["redzikowo"].country) == ("RO", "PL")
    for site in sites.values():
        assert site.party == "us"
        assert site.declared["mk41_cells"].count == 24
        assert site.declared["tomahawk_cruise_missiles"].count == 0
    assert sites["deveselu"].lat == pytest.approx(44.08, abs=0.1)
    assert sites["deveselu"].lon == pytest.approx(24.34, abs=0.1)
    assert sites["redzikowo"].lat == pytest.approx(54.48, abs=0.1)
    assert sites["redzikowo"].lon == pytest.approx(17.10, abs=0.1)


def test_security_replies_hotline() -> None:
    hotline = builtin_agreement("security-replies-2022").hotline
    assert hotline is not None
    deadlines = [hotline.ack_deadline(p) for p in Priority]
    assert all(d is not None for d in deadlines)
    assert deadlines == sorted(deadlines)  # type: ignore[type-var]  # higher priority, sooner
    assert hotline.link_test_interval.delta == timedelta(hours=1)


# --- ids ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_id_is_stable(name: str) -> None:
    a = builtin_agreement(name)
    again = load_agreement_text(_text(name), source=f"{name}.toml")
    assert again.id == a.id
    assert a.id == hashlib.sha256(a.canonical_bytes()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", a.id)


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("new-start", "max = 700 ", "max = 701 "),
        ("new-start", "max = 1550 ", "max = 1549 "),
        ("new-start", "max = 800 ", "max = 800000 "),
        ("new-start", "effective = 2018-02-05 ", "effective = 2018-02-06 "),
        ("new-start", "end = 2026-02-05 ", "end = 2026-02-06 "),
        ("new-start", "due_days = 30", "due_days = 31"),
        ("new-start", "days = 5,", "days = 6,"),
        ("new-start", "deployed_heavy_bombers = 1 }", "deployed_heavy_bombers = 2 }"),
        ("new-start", 'as_of = ["03-01", "09-01"]', 'as_of = ["03-01", "09-02"]'),
        ("missile-site-transparency-2022", "count = 24", "count = 23"),
        ("missile-site-transparency-2022", "lat = 44.0823", "lat = 44.0824"),
        ("security-replies-2022", "FLASH = { minutes = 5 }", "FLASH = { minutes = 6 }"),
        ("security-replies-2022", "{ hours = 1 }", "{ hours = 2 }"),
    ],
)
def test_id_changes_when_any_number_changes(name: str, old: str, new: str) -> None:
    text = _text(name)
    assert old in text
    changed = load_agreement_text(text.replace(old, new, 1), source=f"{name}.toml")
    assert changed.id != builtin_agreement(name).id


# --- every number is cited ------------------------------------------------------------

_NUMBER = re.compile(r"\d")
_STRING = re.compile(r""""(?:[^"\\]|\\.)*"|'[^']*'""")


@pytest.mark.parametrize("name", builtin_names())
def test_every_number_carries_a_comment(name: str) -> None:
    """Outside body schemas, a line that sets a number has a comment on it or just above."""
    uncited = []
    table = ""
    previous = ""
    for number, line in enumerate(_text(name).splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            table = stripped
        elif "=" in stripped and not stripped.startswith("#") and "body_schema" not in table:
            code = _STRING.sub('""', stripped).split("#", 1)[0]
            value = code.split("=", 1)[1]
            if _NUMBER.search(value) and "#" not in stripped and not previous.startswith("#"):
                uncited.append(f"{number}: {stripped}")
        if stripped:
            previous = stripped
    assert uncited == []
