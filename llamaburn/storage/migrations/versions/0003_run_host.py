"""The host a run was measured on, as its own indexed column, so history filters and groups by host.

Each run has always recorded its host in its system snapshot (``system.hostname``); this copies it into
``runs.host`` for every run already stored, so a fleet's history is filterable without reading JSON.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("host", sqlmodel.AutoString(), nullable=True))
        batch.create_index("ix_runs_host", ["host"])
    runs = sa.table(
        "runs", sa.column("id", sa.String()), sa.column("system", sa.JSON()), sa.column("host", sa.String())
    )
    connection = op.get_bind()
    for run_id, system in connection.execute(sa.select(runs.c.id, runs.c.system)).all():
        host = system.get("hostname") if isinstance(system, dict) else None
        if isinstance(host, str):
            connection.execute(sa.update(runs).where(runs.c.id == run_id).values(host=host))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_host")
        batch.drop_column("host")
