"""Fixtures of the integration tests."""

import pytest

from tests.fakes.network import make_network


@pytest.fixture
def network(tmp_path, clock, database_url):
    """Three nodes that know each other, served on loopback, with operators and senders."""
    yield from make_network(tmp_path, clock, database_url)
