"""Storage: the schema, Alembic migrations, and the rows of each party's log.

SQLite is the embedded default; PostgreSQL is selected by URL. Functions
here run inside the caller's transaction and never commit on their own.
"""

from detente.store.database import Database, open_database, redact_url, sqlite_url
from detente.store.logs import EntryRow, LogStore, StoredCosignature
from detente.store.tree import StoredTree

__all__ = [
    "Database",
    "EntryRow",
    "LogStore",
    "StoredCosignature",
    "StoredTree",
    "open_database",
    "redact_url",
    "sqlite_url",
]
