"""indexes the dashboard's pages read by: a run's results, a package's runs and decisions, stage ends

Revision ID: 0010
Revises: 0007
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: (table, index, columns): each lets one dashboard query read a few rows instead of a whole table.
INDEXES = (
    ("results", "ix_results_run", ["run_id", "source"]),
    ("runs", "ix_runs_repo_id", ["repo", "id"]),
    ("decisions", "ix_decisions_repo_id", ["repo", "id"]),
    ("stage_runs", "ix_stage_runs_finished", ["finished_at"]),
    ("stage_runs", "ix_stage_runs_stage_finished", ["stage", "status", "finished_at"]),
)


def upgrade() -> None:
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for table, name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
