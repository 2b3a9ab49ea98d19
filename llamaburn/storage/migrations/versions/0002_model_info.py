"""Model metadata: a snapshot on each run (``runs.model_info``) and the cache of fetched info.

Schema version 2 of the hand-written migrations it replaces: a database at that version is stamped here.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("model_info", sa.JSON(), nullable=True))
    op.create_table(
        "model_info",
        sa.Column("key", sqlmodel.AutoString(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("info", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("model_info")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("model_info")
