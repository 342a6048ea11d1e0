"""The probe the Makefile uses to decide whether PostgreSQL tests run."""

import os
import subprocess
import sys

import pytest

from detente.store.probe import answers


def test_sqlite_in_memory_answers():
    assert answers("sqlite://")


def test_nothing_listening_does_not_answer():
    assert not answers("postgresql+psycopg://postgres@127.0.0.1:1/none")


def test_the_module_exits_non_zero_without_a_server():
    result = subprocess.run(
        [sys.executable, "-m", "detente.store.probe", "postgresql+psycopg://x@127.0.0.1:1/none"],
        check=False,
    )
    assert result.returncode == 1


@pytest.mark.skipif(not os.environ.get("DETENTE_TEST_DATABASE_URL"), reason="no PostgreSQL")
def test_the_test_server_answers():
    assert answers(os.environ["DETENTE_TEST_DATABASE_URL"])
