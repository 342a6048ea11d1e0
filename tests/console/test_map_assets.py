"""The map's stylesheet and script: contrast, and what they may not contain."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from detente.agreement import builtin_agreement
from detente.console.basemap import render_map

STATIC = files("detente.console").joinpath("static")
CSS = STATIC.joinpath("map.css").read_text(encoding="utf-8")
JS = STATIC.joinpath("map.js").read_text(encoding="utf-8")


def colour(name: str) -> str:
    (value,) = re.findall(rf"--map-{name}:\s*(#[0-9a-fA-F]{{6}})\s*;", CSS)
    return value


def luminance(hex_colour: str) -> float:
    """Relative luminance, WCAG 2.1 (its definition of the term)."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted([luminance(a), luminance(b)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_is_computed_as_wcag_says() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize("party", ["us", "nato", "ru", "other"])
@pytest.mark.parametrize("ground", ["sea", "land", "halo"])
def test_site_labels_meet_wcag_aa_on_sea_and_land(party: str, ground: str) -> None:
    assert contrast(colour(f"party-{party}"), colour(ground)) >= 4.5


@pytest.mark.parametrize("ground", ["sea", "land"])
def test_the_focus_ring_and_zone_edges_stand_out(ground: str) -> None:
    # WCAG 2.1 1.4.11: graphical objects and focus indicators, 3:1.
    assert contrast(colour("focus"), colour(ground)) >= 3.0
    assert contrast(colour("zone-edge"), colour(ground)) >= 3.0


def test_the_svg_is_styled_by_class_only() -> None:
    svg = str(render_map(builtin_agreement("security-replies-2022")))
    assert " style=" not in svg
    assert "<style" not in svg
    assert "<script" not in svg
    classes = set(re.findall(r'class="([^"]+)"', svg))
    for css_class in {c for value in classes for c in value.split()} - {
        "world",
        "glyph",
        "sites",
        "zones",
    }:
        assert f".{css_class}" in CSS, css_class
    assert ".map:focus-visible" in CSS


def test_the_script_is_small_strict_and_reads_what_the_svg_provides() -> None:
    assert JS.count("\n") < 200
    assert '"use strict";' in JS
    for banned in ("eval(", "innerHTML", "new Function", ".style", "import(", "fetch("):
        assert banned not in JS, banned
    svg = str(render_map(builtin_agreement("security-replies-2022")))
    for name in set(re.findall(r"svg\.dataset\.(\w+)", JS)):
        attribute = "data-" + re.sub(r"[A-Z]", lambda m: "-" + m.group().lower(), name)
        assert f" {attribute}=" in svg, attribute
    assert "window.DetenteMap" in JS
