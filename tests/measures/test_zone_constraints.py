"""Zone constraints: declared item positions against the areas they must stay out of."""

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from detente.agreement import builtin_agreement
from detente.agreement.geography import Zone, ZoneConstraint
from detente.agreement.loader import load_agreement_text
from detente.errors import AgreementError
from detente.measures import Entry, State, fold_obligations

SQUARE = [[20.0, 50.0], [30.0, 50.0], [30.0, 60.0], [20.0, 60.0], [20.0, 50.0]]
HOLE = [[24.0, 54.0], [26.0, 54.0], [26.0, 56.0], [24.0, 56.0], [24.0, 54.0]]
SUCCESSOR = builtin_agreement("new-start-successor")


def zone(geometry):
    return Zone(id="z", name="Z", geometry=geometry)


@pytest.mark.parametrize(
    ("lon", "lat", "inside"),
    [
        (21.0, 51.0, True),
        (25.0, 55.0, False),  # in the hole
        (24.0, 55.0, True),  # on the hole's edge: the zone's
        (20.0, 55.0, True),  # on the outer edge
        (19.9, 55.0, False),
        (31.0, 55.0, False),
        (25.0, 60.0001, False),
    ],
)
def test_points_in_a_polygon_with_a_hole(lon, lat, inside):
    assert zone({"type": "Polygon", "coordinates": [SQUARE, HOLE]}).contains(lon, lat) is inside


def test_points_in_a_multipolygon_and_a_concave_one():
    east = [[170.0, -10.0], [180.0, -10.0], [180.0, 10.0], [170.0, 10.0], [170.0, -10.0]]
    west = [[-180.0, -10.0], [-170.0, -10.0], [-170.0, 10.0], [-180.0, 10.0], [-180.0, -10.0]]
    across = zone({"type": "MultiPolygon", "coordinates": [[east], [west]]})
    assert across.contains(179.5, 0.0) and across.contains(-179.5, 0.0)
    assert not across.contains(0.0, 0.0)
    notch = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [5.0, 5.0], [0.0, 10.0], [0.0, 0.0]]
    concave = zone({"type": "Polygon", "coordinates": [notch]})
    assert concave.contains(2.0, 6.0) and not concave.contains(5.0, 8.0)


def test_a_constraint_names_a_known_zone_and_categories_and_ends_after_it_starts():
    with pytest.raises(ValidationError, match="must be after effective"):
        ZoneConstraint(id="c", zone="z", categories=["x"], effective="2030-01-01", end="2029-01-01")
    text = """
name = "t"
title = "T"
version = "1"
[[parties]]
id = "us"
name = "US"
[zone_constraints.c]
zone = "nowhere"
categories = ["missiles"]
effective = 2030-01-01
"""
    with pytest.raises(AgreementError) as caught:
        load_agreement_text(text, source="t.toml")
    assert "zone_constraints.c.zone: unknown zone 'nowhere'" in str(caught.value)
    assert "zone_constraints.c.categories[0]: unknown category 'missiles'" in str(caught.value)


def located(party, seq, as_of, *items):
    return Entry(
        party=party,
        seq=seq,
        type="item_locations",
        created=datetime(2030, 3, 2, tzinfo=UTC),
        to=("ru" if party == "us" else "us",),
        body={"as_of": as_of, "items": list(items)},
    )


def missile(item_id, lon, lat, category="gl_intermediate_range_missiles"):
    return {"item_id": item_id, "category": category, "lat": lat, "lon": lon}


def test_items_inside_the_zone_violate_it_and_are_named():
    entries = [
        located("ru", 0, "2030-03-01", missile("R-1", 44.5, 48.7), missile("R-2", 104.0, 52.3)),
        located("us", 0, "2030-03-01", missile("U-1", -149.9, 61.2)),  # Alaska
        located("us", 1, "2028-09-01", missile("U-2", 13.4, 52.5)),  # before it binds
        located("ru", 1, "2030-09-01", missile("R-3", 44.5, 48.7, "deployed_glide_vehicles_other")),
    ]
    report = fold_obligations(
        SUCCESSOR, entries, now=datetime(2030, 12, 1, tzinfo=UTC), since=date(2030, 1, 1)
    )
    zones = {(o.party, o.as_of.isoformat()): o for o in report.obligations if o.rule == "zone"}
    violated = zones[("ru", "2030-03-01")]
    assert (violated.state, violated.value, violated.inside) == (State.VIOLATED, 1, ("R-1",))
    assert violated.to_json()["inside"] == ["R-1"] and violated.limit == "no_glirm_in_europe"
    assert zones[("us", "2030-03-01")].state is State.MET
    assert zones[("us", "2028-09-01")].state is State.NOT_IN_FORCE
    assert zones[("ru", "2030-09-01")].state is State.MET  # not a constrained category


def test_a_position_that_is_not_a_number_refuses_the_declaration():
    hidden = missile("R-9", float("nan"), float("nan"))
    report = fold_obligations(
        SUCCESSOR,
        [located("ru", 0, "2030-03-01", hidden)],
        now=datetime(2030, 12, 1, tzinfo=UTC),
        since=date(2030, 1, 1),
    )
    assert [o for o in report.obligations if o.rule == "zone"] == []
    assert [s.reason for s in report.skipped] == ["body not held or not a declaration of items"]
