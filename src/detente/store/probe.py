"""``python -m detente.store.probe URL``: exit 0 if a database answers at URL.

The Makefile uses it to decide whether the PostgreSQL tests run.
"""

from __future__ import annotations

import sys

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError


def answers(url: str) -> bool:
    """True when a connection to ``url`` can run ``select 1``."""
    try:
        timeout = {"connect_timeout": 3} if url.startswith("postgresql") else {}
        engine = create_engine(url, connect_args=timeout)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except (SQLAlchemyError, ImportError):
        return False
    return True


if __name__ == "__main__":  # pragma: no cover - exercised by the Makefile
    sys.exit(0 if len(sys.argv) == 2 and answers(sys.argv[1]) else 1)
