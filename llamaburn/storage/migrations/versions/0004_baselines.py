"""Baselines: the run a later one is checked against, one per host, backend, model, modality and tag.

A baseline goes with its run: deleting the run deletes it (``ON DELETE CASCADE`` where the database
enforces foreign keys; elsewhere ``Baselines`` ignores a baseline whose run is gone).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "baselines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sqlmodel.AutoString(), nullable=False),
        sa.Column("host", sqlmodel.AutoString(), nullable=False),
        sa.Column("backend", sqlmodel.AutoString(), nullable=False),
        sa.Column("model", sqlmodel.AutoString(), nullable=False),
        sa.Column("modality", sqlmodel.AutoString(), nullable=False),
        sa.Column("tag", sqlmodel.AutoString(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.UniqueConstraint("host", "backend", "model", "modality", "tag", name="uq_baselines_key"),
    )
    op.create_index("ix_baselines_run_id", "baselines", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_baselines_run_id", "baselines")
    op.drop_table("baselines")
