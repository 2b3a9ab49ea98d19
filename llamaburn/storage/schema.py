"""The history's schema: Alembic revisions (``storage/migrations``), applied at start-up under a lock.

Every process that opens the history checks and migrates it, so processes that start at once on a fresh
or old database must not both create a table or both stamp a version. The check and the migration run in
one transaction that first takes a lock every other opener waits for: ``pg_advisory_xact_lock`` on
PostgreSQL (its DDL is transactional, so a waiter then sees the whole schema), ``BEGIN IMMEDIATE`` on
SQLite (the write lock, taken before the first read). The lock ends with the transaction.

A database made before Alembic has a ``schema_version`` table holding the number of the last hand-written
migration applied; revision ``000N`` is that migration, so such a database is stamped at its revision and
upgraded in place, keeping every row. Its ``schema_version`` table is left as it was.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from llamaburn.errors import StoreError

# Any fixed 64-bit number: every LlamaBurn process takes the same one. Its bytes spell "lamab".
ADVISORY_LOCK_KEY = 0x6C616D6162
LEGACY_VERSIONS = 2  # the hand-written migrations ended at schema version 2


def _config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, made here: no ``alembic.ini`` ships or is read."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The revision this LlamaBurn's schema is at."""
    current = ScriptDirectory.from_config(_config()).get_current_head()
    assert current is not None, "the migrations directory has no revisions"
    return current


def revision(engine: Engine) -> str | None:
    """The revision the database is at, ``None`` before the first migration."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, url: str) -> None:
    """Bring the database to ``head()``, adopting a pre-Alembic one; refuse one newer than this LlamaBurn."""
    with engine.connect() as connection:
        _lock(connection)
        config = _config(connection)
        known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
        current = MigrationContext.configure(connection).get_current_revision()
        if current is None and inspect(connection).has_table("schema_version"):
            legacy = connection.execute(text("SELECT MAX(version) FROM schema_version")).scalar() or 0
            if legacy > LEGACY_VERSIONS:
                raise StoreError(
                    f"history database {url} has schema version {legacy}, newer than this "
                    f"LlamaBurn knows ({LEGACY_VERSIONS}): upgrade LlamaBurn"
                )
            if legacy:
                command.stamp(config, f"{legacy:04d}")
        elif current is not None and current not in known:
            raise StoreError(
                f"history database {url} has schema revision {current}, newer than this "
                f"LlamaBurn knows ({head()}): upgrade LlamaBurn"
            )
        command.upgrade(config, "head")
        connection.commit()


def _lock(connection: Connection) -> None:
    """Open the migration's transaction holding the lock that serialises it across processes."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
