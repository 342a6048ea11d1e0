"""Tests of detente.record.inventory_file: the host's secret on disk."""

from __future__ import annotations

import doctest
import json
import os
import stat

import pytest

from detente.errors import EncodingError, KeyFileError
from detente.record import inventory_file as file_module
from detente.record.inventory import ItemRecord, commit
from detente.record.inventory_file import load_commitment, save_commitment


@pytest.fixture
def kept():
    items = [
        ItemRecord(f"RO-DEV-{i:04d}", f"cell {i:02d}", "deployed", "SM-3 interceptor")
        for i in range(5)
    ]
    return commit(items, site="deveselu")


def test_module_example_runs() -> None:
    result = doctest.testmod(file_module)
    assert result.attempted > 0
    assert result.failed == 0


def test_round_trip_with_mode_0600(tmp_path, kept) -> None:
    path = tmp_path / "deveselu.inventory.json"
    old = os.umask(0)
    try:
        save_commitment(path, kept)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_commitment(path)
    assert (again.site, again.root, again.records, again.salts) == (
        kept.site,
        kept.root,
        kept.records,
        kept.salts,
    )
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_never_overwrites_an_earlier_secret(tmp_path, kept) -> None:
    path = tmp_path / "deveselu.inventory.json"
    save_commitment(path, kept)
    before = path.read_bytes()
    newer = commit(kept.records, site="deveselu")
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        save_commitment(path, newer)
    assert path.read_bytes() == before


def test_unwritable_directory(tmp_path, kept) -> None:
    with pytest.raises(KeyFileError, match="cannot create the inventory secret"):
        save_commitment(tmp_path / "missing" / "x.json", kept)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(KeyFileError, match="cannot read the inventory secret"):
        load_commitment(tmp_path / "absent.json")


def test_not_json(tmp_path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(EncodingError, match="not JSON"):
        load_commitment(path)


def test_tampered_file_refused(tmp_path, kept) -> None:
    path = tmp_path / "x.json"
    save_commitment(path, kept)
    obj = json.loads(path.read_text(encoding="utf-8"))
    obj["items"][2]["record"]["contents"] = "none"
    path.write_text(json.dumps(obj), encoding="utf-8")
    with pytest.raises(EncodingError, match="do not give the size and root it names"):
        load_commitment(path)
