"""results (ResultsDB-compatible), result data, test cases, groups, gating opt-ins, forward cursors

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "testcases",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("ref_url", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "result_groups",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("ref_url", sa.Text(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid"),
    )
    op.create_table(
        "results",
        sa.Column("id", _ID, nullable=False),
        sa.Column("testcase", sa.String(length=255), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("item", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("submit_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ref_url", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("group_uuid", sa.String(length=36), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("stage_run_id", sa.Integer(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.create_index("ix_results_item_testcase", ["item", "testcase", "submit_time"], unique=False)
        batch_op.create_index("ix_results_testcase_time", ["testcase", "submit_time"], unique=False)
        batch_op.create_index("ix_results_submit_time", ["submit_time"], unique=False)
        batch_op.create_index("ix_results_group", ["group_uuid"], unique=False)
        batch_op.create_index("ix_results_stage_run", ["stage_run_id", "attempt"], unique=False)
    op.create_table(
        "result_data",
        sa.Column("id", _ID, nullable=False),
        sa.Column("result_id", _ID, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["result_id"], ["results.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("result_data", schema=None) as batch_op:
        batch_op.create_index("ix_result_data_key_value", ["key", "value", "result_id"], unique=False)
        batch_op.create_index("ix_result_data_result", ["result_id"], unique=False)
    op.create_table(
        "gated_packages",
        sa.Column("package", sa.String(length=255), nullable=False),
        sa.Column("decision_context", sa.String(length=100), nullable=False),
        sa.Column("test_cases", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("package"),
    )
    op.create_table(
        "forward_cursors",
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("last_result_id", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("target"),
    )


def downgrade() -> None:
    op.drop_table("forward_cursors")
    op.drop_table("gated_packages")
    op.drop_table("result_data")
    op.drop_table("results")
    op.drop_table("result_groups")
    op.drop_table("testcases")
