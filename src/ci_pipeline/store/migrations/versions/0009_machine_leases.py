"""machine_leases: which stage attempt holds which provisioned machine, and until when

Revision ID: 0009
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "machine_leases",
        sa.Column("id", _ID, nullable=False),
        sa.Column("provisioner", sa.String(length=32), nullable=False),
        sa.Column("machine", sa.String(length=200), nullable=False),
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("machine_leases") as batch:
        batch.create_index("ux_machine_leases_machine", ["provisioner", "machine"], unique=True)
        batch.create_index("ix_machine_leases_run", ["run_id", "stage"], unique=False)
        batch.create_index("ix_machine_leases_holder", ["holder"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("machine_leases") as batch:
        batch.drop_index("ix_machine_leases_holder")
        batch.drop_index("ix_machine_leases_run")
        batch.drop_index("ux_machine_leases_machine")
    op.drop_table("machine_leases")
