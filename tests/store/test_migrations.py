"""The Alembic migrations build exactly the schema the code declares, on both databases.

A new database is built from the declared schema and stamped; one that
holds tables is upgraded migration by migration. Both must end the same.
"""

from importlib import resources

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from detente.store.database import _make_engine, migrate, open_database
from detente.store.schema import metadata

HEAD = "0008"


def _check(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert context.get_current_revision() == HEAD
        assert compare_metadata(context, metadata) == []


def test_a_new_database_is_built_at_the_newest_revision(database_url):
    database = open_database(database_url)
    try:
        _check(database.engine)
    finally:
        database.dispose()


def test_replaying_every_migration_builds_the_same_schema(database_url):
    engine = _make_engine(database_url)
    try:
        migrate(engine, build_empty=False)
        _check(engine)
    finally:
        engine.dispose()


def test_a_database_at_an_older_revision_is_upgraded_step_by_step(database_url):
    engine = _make_engine(database_url)
    try:
        config = Config()
        config.set_main_option(
            "script_location", str(resources.files("detente.store") / "migrations")
        )
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0006")
        with engine.connect() as conn:
            assert "console_sessions" not in inspect(conn).get_table_names()
        migrate(engine)
        _check(engine)
    finally:
        engine.dispose()


def test_opening_twice_is_idempotent(database_url):
    open_database(database_url).dispose()
    open_database(database_url).dispose()
