"""engine control columns: a run's cancel request and a running stage's process group

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancel_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("stage_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pgid", sa.Integer(), nullable=True))
        batch_op.create_index("ix_stage_runs_state", ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stage_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_runs_state")
        batch_op.drop_column("pgid")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("cancel_reason")
