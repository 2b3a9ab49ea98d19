"""The sweep a run belongs to, as its own indexed column, so a sweep's cells are one query away.

A sweep's runs record the sweep in their config (``config.sweep.id``, with the cell's coordinates and the
stream's number); this copies the id into ``runs.sweep_id`` for runs already stored. Runs outside a sweep
keep ``NULL``.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("sweep_id", sqlmodel.AutoString(), nullable=True))
        batch.create_index("ix_runs_sweep_id", ["sweep_id"])
    runs = sa.table(
        "runs", sa.column("id", sa.String()), sa.column("config", sa.JSON()), sa.column("sweep_id", sa.String())
    )
    connection = op.get_bind()
    for run_id, config in connection.execute(sa.select(runs.c.id, runs.c.config)).all():
        sweep = config.get("sweep") if isinstance(config, dict) else None
        if isinstance(sweep, dict) and isinstance(sweep.get("id"), str):
            connection.execute(sa.update(runs).where(runs.c.id == run_id).values(sweep_id=sweep["id"]))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_sweep_id")
        batch.drop_column("sweep_id")
