"""waivers (WaiverDB-compatible) and decision_answers (the last gating answer published per subject)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "waivers",
        sa.Column("id", _ID, nullable=False),
        sa.Column("subject_type", sa.String(length=255), nullable=False),
        sa.Column("subject_identifier", sa.String(length=255), nullable=False),
        sa.Column("testcase", sa.String(length=255), nullable=False),
        sa.Column("scenario", sa.String(length=255), nullable=True),
        sa.Column("product_version", sa.String(length=200), nullable=False),
        sa.Column("waived", sa.Boolean(), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("proxied_by", sa.String(length=255), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("waivers") as batch:
        batch.create_index("ix_waivers_subject", ["subject_type", "subject_identifier"], unique=False)
        batch.create_index("ix_waivers_timestamp", ["timestamp"], unique=False)
    op.create_table(
        "decision_answers",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=255), nullable=False),
        sa.Column("subject_identifier", sa.String(length=255), nullable=False),
        sa.Column("decision_context", sa.String(length=100), nullable=False),
        sa.Column("product_version", sa.String(length=200), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("decision_answers")
    with op.batch_alter_table("waivers") as batch:
        batch.drop_index("ix_waivers_timestamp")
        batch.drop_index("ix_waivers_subject")
    op.drop_table("waivers")
