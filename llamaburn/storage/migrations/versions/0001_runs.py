"""Runs and their iterations: schema version 1 of the hand-written migrations it replaces.

A database at that version (a ``schema_version`` table holding 1) is stamped at this revision.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sqlmodel.AutoString(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modality", sqlmodel.AutoString(), nullable=False),
        sa.Column("backend", sqlmodel.AutoString(), nullable=False),
        sa.Column("model", sqlmodel.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.AutoString(), nullable=False),
        sa.Column("error", sqlmodel.AutoString(), nullable=True),
        sa.Column("config", sa.JSON(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("system", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_runs_created_at", "runs", ["created_at"])
    op.create_index("ix_runs_model", "runs", ["model"])
    op.create_table(
        "iterations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sqlmodel.AutoString(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("warmup", sa.Boolean(), nullable=False),
        sa.Column("prompt", sqlmodel.AutoString(), nullable=False),
        sa.Column("output", sqlmodel.AutoString(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_iterations_run_id", "iterations", ["run_id"])


def downgrade() -> None:
    op.drop_table("iterations")
    op.drop_table("runs")
