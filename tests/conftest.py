"""Fixtures shared by the suite: databases (SQLite and PostgreSQL), nodes, clocks."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from detente.node import Node, init_node
from detente.store.database import sqlite_url

PG_URL = os.environ.get("DETENTE_TEST_DATABASE_URL", "")

# Rich sizes the CLI's tables to the terminal; test workers (pytest-xdist)
# have none, and a narrow default would wrap the names the tests look for.
os.environ.setdefault("COLUMNS", "160")


def pytest_report_header(config: pytest.Config) -> str:
    if PG_URL:
        from detente.store.database import redact_url

        return f"databases: SQLite and PostgreSQL ({redact_url(PG_URL)})"
    return "databases: SQLite only (set DETENTE_TEST_DATABASE_URL for PostgreSQL)"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind; PostgreSQL in a schema of its own."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "test.db")
        return
    if not PG_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but DETENTE_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL: DETENTE_TEST_DATABASE_URL is not set")
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def node(tmp_path: Path, database_url: str, clock: FakeClock) -> Iterator[Node]:
    """The United States' node under security-replies-2022, on each database."""
    created = init_node(
        tmp_path / "us",
        party="us",
        agreement_ref="security-replies-2022",
        database_url="" if database_url.startswith("sqlite") else database_url,
        clock=clock,
    )
    try:
        yield created
    finally:
        created.close()
