"""Opening a node's database: SQLite by default, PostgreSQL by URL.

SQLite runs in WAL mode with ``synchronous=FULL`` so a committed append
survives a power cut; foreign keys and a busy timeout are set on every
connection. The schema is brought up to date with Alembic on open.

Example:
    >>> db = open_database("sqlite://")
    >>> with db.engine.begin() as conn:
    ...     _ = conn.exec_driver_sql("select 1")
    >>> db.dispose()
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from detente.errors import ConfigError, StoreError
from detente.store.schema import metadata

__all__ = ["Database", "migrate", "open_database", "redact_url", "sqlite_url"]


@dataclass
class Database:
    """An engine over a migrated schema; one per node process."""

    engine: Engine
    url: str

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite+pysqlite:///{path.resolve()}"


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe to print or log."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is shown as such
        return "<malformed database URL>"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Proofs read scattered tree nodes: a 64 MiB page cache and memory-mapped
    # reads keep them off the system-call path. Writes still go through WAL.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.close()


def _make_engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            memory = url in ("sqlite://", "sqlite+pysqlite://") or ":memory:" in url
            engine = create_engine(
                url,
                poolclass=StaticPool if memory else None,
                connect_args={"check_same_thread": False},
            )
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        if url.startswith("postgresql"):
            return create_engine(url, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError, ValueError) as e:
        raise ConfigError(f"database URL {redact_url(url)}: {e}") from e
    raise ConfigError(
        f"database URL {redact_url(url)}: only sqlite:/// and postgresql+psycopg:// are supported"
    )


def migrate(engine: Engine, *, build_empty: bool = True) -> None:
    """Bring the schema to the newest Alembic revision.

    An empty database (no table at all) is built from the declared schema
    in one step and stamped at the newest revision, as Alembic's cookbook
    advises for new databases: replaying every migration costs several
    times as long, for every node ever created (and every test).
    ``tests/store/test_migrations.py`` checks that replaying the migrations
    (``build_empty=False``) builds exactly the same schema. A database
    that holds tables is always upgraded migration by migration.

    Raises:
        StoreError: the database cannot be reached or migrated.
    """
    config = Config()
    location = resources.files("detente.store") / "migrations"
    config.set_main_option("script_location", str(location))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            if build_empty and not inspect(connection).get_table_names():
                metadata.create_all(connection)
                command.stamp(config, "head")
            else:
                command.upgrade(config, "head")
    except SQLAlchemyError as e:
        raise StoreError(f"cannot migrate the database: {e}") from e


def open_database(url: str, *, migrate_schema: bool = True) -> Database:
    """Open (and by default migrate) the database at ``url``.

    Raises:
        ConfigError: the URL is not one Détente supports.
        StoreError: the database cannot be reached or migrated.
    """
    engine = _make_engine(url)
    if migrate_schema:
        migrate(engine)
    return Database(engine=engine, url=url)
