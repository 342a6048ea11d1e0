"""Files given on the command line are read no further than their limit."""

import pytest

from detente.cli._output import read_capped
from detente.errors import InputError, TooLargeError


def test_a_file_within_the_limit_is_read_whole(tmp_path):
    path = tmp_path / "report.json"
    path.write_bytes(b"x" * 10)
    assert read_capped(path, 10) == b"x" * 10


def test_a_larger_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "report.json"
    path.write_bytes(b"x" * 11)
    with pytest.raises(TooLargeError, match=r"report.json: larger than 10 bytes"):
        read_capped(path, 10)


def test_an_unreadable_file_is_named(tmp_path):
    with pytest.raises(InputError, match=r"missing.json: cannot read"):
        read_capped(tmp_path / "missing.json", 10)
