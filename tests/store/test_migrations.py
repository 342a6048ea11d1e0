"""The Alembic migrations build exactly the schema the code declares, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from detente.store.database import open_database
from detente.store.schema import metadata


def test_migrated_schema_matches_the_metadata(database_url):
    database = open_database(database_url)
    try:
        with database.engine.connect() as conn:
            context = MigrationContext.configure(conn)
            assert context.get_current_revision() == "0007"
            assert compare_metadata(context, metadata) == []
    finally:
        database.dispose()


def test_opening_twice_is_idempotent(database_url):
    open_database(database_url).dispose()
    open_database(database_url).dispose()
