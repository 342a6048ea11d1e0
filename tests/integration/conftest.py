"""Fixtures of the integration tests."""

import pytest

from tests.fakes.network import make_network


@pytest.fixture
def network(tmp_path, clock, database_url):
    """Three nodes that know each other, served on loopback, with operators and senders."""
    yield from make_network(tmp_path, clock, database_url)


@pytest.fixture
def witnessed(tmp_path, clock, database_url):
    """The three nodes of ``network`` and a neutral witness, ``osce``, that all know."""
    yield from make_network(tmp_path, clock, database_url, witness="osce")
