"""Alembic's environment for the history: always run by ``llamaburn.storage.schema`` on its own connection.

The caller holds the migration lock and the transaction on that connection, so every process that starts at
once sees either no schema or the whole of it. SQLite alters tables in batch mode (copy and swap), the only
way it can change a column; PostgreSQL alters them natively.
"""

from alembic import context
from sqlmodel import SQLModel

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():  # a no-op: the caller's transaction is already open
    context.run_migrations()
